"""The registered studies (``suite report NAME``)."""

from suite.reports import (
    adversarial,  # noqa: F401  (registers `suite report adversarial`)
    chemistry,  # noqa: F401  (registers `suite report chemistry`)
    graphmask,  # noqa: F401  (registers `suite report graphmask`)
    nlp,  # noqa: F401  (registers `suite report nlp`)
)
from suite.reports.base import REPORTS, ReportRequest

__all__ = ["REPORTS", "ReportRequest"]

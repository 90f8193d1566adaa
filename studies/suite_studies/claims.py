"""Claims tables: each claim of a seed paper, the test that checks it, the measured effect
with its interval, and a verdict worded to that evidence.

The verdict reads only the interval and the claimed direction: **supported** when the
whole interval lies on the claimed side of the null value, **not supported** when it
covers the null value or lies on the other side, **inconclusive** when the claim could
not be tested (an excluded model, a method that changed nothing, fewer than two seeds).
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import Sequence


class Verdict(str, enum.Enum):
    SUPPORTED = "supported"
    NOT_SUPPORTED = "not supported"
    INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True)
class Claim:
    """One claim and what was measured for it.

    Attributes:
        claim: the paper's claim, in a sentence.
        test: how it is tested (the comparison, the data, the seeds).
        estimate, low, high: the effect and its 95% interval (same units).
        direction: +1 when the claim says the effect is above ``null``, -1 below.
        null: the value of no effect (0 for a difference).
        excluded: why the claim could not be tested here ('' when it was).
    """

    claim: str
    test: str
    estimate: float
    low: float
    high: float
    direction: int = 1
    null: float = 0.0
    excluded: str = ""

    def __post_init__(self) -> None:
        if self.direction not in (1, -1):
            raise ValueError(f"direction: expected +1 or -1 (got {self.direction!r})")
        finite = [v for v in (self.low, self.high) if not math.isnan(v)]
        if len(finite) == 2 and self.low > self.high:
            raise ValueError(f"interval: low {self.low} is above high {self.high}")

    @property
    def verdict(self) -> Verdict:
        if self.excluded or math.isnan(self.low) or math.isnan(self.high):
            return Verdict.INCONCLUSIVE
        lower, upper = (self.low - self.null, self.high - self.null) if self.direction > 0 \
            else (self.null - self.high, self.null - self.low)
        return Verdict.SUPPORTED if lower > 0 else Verdict.NOT_SUPPORTED


def _number(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:+.3f}"


def claims_markdown(claims: Sequence[Claim]) -> str:
    """The claims table (Markdown): claim, test, result with its interval, verdict."""
    lines = ["| claim | test | result [95% interval] | verdict |", "|---|---|---|---|"]
    for c in claims:
        result = (f"{_number(c.estimate)} [{_number(c.low)}, {_number(c.high)}]"
                  if not c.excluded else f"not tested: {c.excluded}")
        cells = [c.claim, c.test, result, c.verdict.value]
        lines.append("| " + " | ".join(str(x).replace("|", "\\|") for x in cells) + " |")
    return "\n".join(lines) + "\n"

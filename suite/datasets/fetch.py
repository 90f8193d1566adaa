"""Generic download helpers shared by every dataset family that reads public files.

Nothing here prompts or waits without a timeout: ``fetch_url`` bounds every socket
operation, and callers turn any failure into ``DatasetUnavailable`` with a
one-line reason (:func:`first_line`).
"""

from __future__ import annotations

import urllib.parse
import urllib.request
from pathlib import Path

from suite.core.paths import Paths

#: Seconds a download may wait for the server (per socket operation).
DOWNLOAD_TIMEOUT = 30.0


#: The only URL schemes a download may use (no ``file:`` or custom handlers).
ALLOWED_SCHEMES: tuple[str, ...] = ("https", "http")


def fetch_url(url: str, timeout: float = DOWNLOAD_TIMEOUT) -> bytes:
    """The body of ``url`` (raises ``OSError``/``URLError`` on any failure, never waits
    forever; ``ValueError`` for a scheme other than https/http)."""
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        raise ValueError(f"{url}: only {', '.join(ALLOWED_SCHEMES)} URLs are downloaded")
    # the scheme is checked above; the URLs are the loaders' fixed official ones
    with urllib.request.urlopen(url, timeout=timeout) as response:  # nosec B310
        return response.read()


def first_line(exc: BaseException) -> str:
    """``"Type: first line of the message"`` of an exception, for one-line reasons."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def download_dir() -> Path:
    """Where downloaded source files are kept: ``<dataset cache>/downloads``."""
    return Paths.from_env().dataset_cache / "downloads"

"""HTTP GET for the manifest channel and `manifest check`: HTTPS only (loopback excepted), one deadline, a size cap.

requests is imported only when a request is made, so `detect` and `plan` without a channel never load it.
Redirects are followed by hand so that every hop is checked with _download.require_secure_url.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping, Optional
from urllib.parse import urljoin, urlparse

from pybootstrap._download import advice_for, describe_exception, exc_text, require_secure_url
from pybootstrap.errors import NetworkError
from pybootstrap.redact import redact

if TYPE_CHECKING:  # pragma: no cover
    import requests

MAX_BYTES = 64 * 1024 * 1024  # a PyTorch index listing is a few MB; a manifest about 40 kB
MAX_REDIRECTS = 5


@dataclass(frozen=True)
class Response:
    """What came back: the final URL, the status, the headers (lower-case names) and the body."""

    url: str
    status: int
    headers: Mapping[str, str]
    body: bytes


def session() -> "requests.Session":
    """A requests session (proxies and CA settings from the environment, as pip uses them)."""
    import requests

    return requests.Session()


def get(url: str, *, what: str, timeout_s: float, headers: Optional[Mapping[str, str]] = None,
        http: Optional["requests.Session"] = None, max_bytes: int = MAX_BYTES) -> Response:
    """GET url within timeout_s in all; NetworkError says which host and what went wrong. 4xx/5xx are returned."""
    import requests

    client: Any = http or requests
    deadline = time.monotonic() + timeout_s
    for _ in range(MAX_REDIRECTS + 1):
        require_secure_url(url, what=what)
        host = urlparse(url).hostname or "the server"
        try:
            with client.get(url, headers=dict(headers or {}), timeout=max(0.1, deadline - time.monotonic()),
                            stream=True, allow_redirects=False) as response:
                if response.is_redirect and response.headers.get("location"):
                    url = urljoin(url, response.headers["location"])
                    continue
                body = _read(response, deadline, max_bytes, url, timeout_s)
                return Response(url, response.status_code, {k.lower(): v for k, v in response.headers.items()}, body)
        except requests.RequestException as exc:
            if not isinstance(exc, requests.Timeout) and "timed out" not in str(exc).lower():
                raise NetworkError(f"could not reach {host} ({describe_exception(exc, url)})",
                                   advice_for(exc_text(exc))) from None
            raise NetworkError(f"{host} did not answer within {timeout_s:g} s ({redact(url)})",
                               "Check the network and proxy settings (HTTPS_PROXY), or run again later.") from None
    raise NetworkError(f"too many redirects from {redact(url)}", "Check the URL.")


def _read(response: Any, deadline: float, max_bytes: int, url: str, timeout_s: float) -> bytes:
    chunks = []
    size = 0
    for chunk in response.iter_content(64 * 1024):
        size += len(chunk)
        if size > max_bytes:
            raise NetworkError(f"{redact(url)} is larger than {max_bytes // (1024 * 1024)} MB",
                               "This is not a manifest or an index listing.")
        if time.monotonic() > deadline:
            raise NetworkError(f"{urlparse(url).hostname} did not send {redact(url)} within {timeout_s:g} s",
                               "Check the network and proxy settings (HTTPS_PROXY), or run again later.")
        chunks.append(chunk)
    return b"".join(chunks)

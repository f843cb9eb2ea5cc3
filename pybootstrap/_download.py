"""The one HTTP helper: HTTPS only (loopback excepted), timeouts, retries, proxies from the environment."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Optional
from urllib.parse import urlparse

from pybootstrap.errors import IntegrityError, NetworkError, UsageError
from pybootstrap.redact import redact

RETRIES = 3
BACKOFF_S = 1.0


def require_secure_url(url: str, *, what: str) -> None:
    """Only https:// (http:// to this machine's loopback is allowed, for local mirrors and tests)."""
    parsed = urlparse(url)
    if parsed.scheme == "https" or (parsed.scheme == "http" and is_loopback(parsed.hostname or "")):
        return
    raise UsageError(f"{what}: {redact(url)} is not an https:// URL",
                     "Use https:// (or a local file path); plain http is accepted only for this machine's loopback.")


def is_loopback(host: str) -> bool:
    """localhost, or a literal loopback address (127.0.0.0/8, ::1); never a name that merely starts with 127."""
    import ipaddress

    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def fetch_bytes(url: str, *, timeout: float = 20.0, retries: int = RETRIES, sha256: Optional[str] = None) -> bytes:
    """GET a URL with retries on connection errors and 5xx; 4xx fails at once. Proxies come from the environment."""
    import requests  # heavy: imported only when something is downloaded

    last = ""
    for attempt in range(1, retries + 1):
        try:
            response = requests.get(url, timeout=timeout)
        except requests.RequestException as exc:
            last = f"{type(exc).__name__}: {exc}"
        else:
            if response.status_code < 400:
                data = response.content
                if sha256 and hashlib.sha256(data).hexdigest().lower() != sha256.lower():
                    raise IntegrityError(f"checksum mismatch for {redact(url)}",
                                         "The file differs from the one published; check the mirror or proxy.")
                return data
            last = f"HTTP {response.status_code} {response.reason}"
            if response.status_code < 500 and response.status_code != 429:
                break
        if attempt < retries:
            time.sleep(BACKOFF_S * attempt)
    raise NetworkError(f"could not download {redact(url)}: {redact(last)}",
                       "Check the URL, the network and proxy settings (HTTPS_PROXY), then run again.")


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, streamed."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()

"""The one HTTP helper: HTTPS only (loopback excepted), timeouts, retries by urllib3's Retry, proxies from the
environment, and one-line explanations of network failures (also used for pip's output)."""

from __future__ import annotations

import functools
import hashlib
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, Optional
from urllib.parse import urlparse

from pybootstrap.errors import NetworkError, UsageError
from pybootstrap.redact import redact

if TYPE_CHECKING:  # pragma: no cover
    import requests

ATTEMPTS = 3  # tries of one request in all (connection errors, 429 and 5xx); a DNS failure is never tried twice
BACKOFF_S = 1.0  # urllib3's backoff factor: no wait before the second try, then 2 s, 4 s, ...
RETRY_STATUS = (429, 500, 502, 503, 504)


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


def session(attempts: int = ATTEMPTS) -> "requests.Session":
    """A requests session whose adapters retry connection errors, 429 and 5xx (never a DNS failure).

    Proxies, NO_PROXY and REQUESTS_CA_BUNDLE come from the environment (requests' trust_env)."""
    import requests  # heavy: imported only when something is downloaded
    from requests.adapters import HTTPAdapter

    http = requests.Session()
    adapter = HTTPAdapter(max_retries=_retry_class()(
        total=max(0, attempts - 1), connect=max(0, attempts - 1), read=max(0, attempts - 1),
        status=max(0, attempts - 1), status_forcelist=RETRY_STATUS, backoff_factor=BACKOFF_S,
        raise_on_status=False, respect_retry_after_header=False))  # a Retry-After of an hour must not hang a run
    http.mount("https://", adapter)
    http.mount("http://", adapter)
    return http


@functools.lru_cache(maxsize=None)
def _retry_class() -> Any:
    """urllib3's Retry, except that a name that does not resolve fails at once (it will not resolve a second
    later, and each try can take the resolver's full timeout)."""
    from urllib3.exceptions import MaxRetryError
    from urllib3.util.retry import Retry

    class NoDnsRetry(Retry):
        def increment(self, method: Any = None, url: Any = None, response: Any = None, error: Any = None,
                      _pool: Any = None, _stacktrace: Any = None) -> Any:
            cause = network_cause(str(error)) if error is not None else None
            if cause is not None and cause.kind == "dns":
                raise MaxRetryError(_pool, url, error) from error
            return super().increment(method, url, response, error, _pool, _stacktrace)

    return NoDnsRetry


def fetch_bytes(url: str, *, timeout: float = 20.0, retries: int = ATTEMPTS) -> bytes:
    """GET a URL (``retries`` tries in all for connection errors, 429 and 5xx; other 4xx fail at once)."""
    import requests

    try:
        with session(retries) as http:
            response = http.get(url, timeout=timeout)
            data = response.content
    except requests.RequestException as exc:
        raise NetworkError(f"could not download {redact(url)}: {describe_exception(exc, url, timeout)}",
                           advice_for(exc_text(exc))) from None
    if response.status_code >= 400:
        raise NetworkError(f"could not download {redact(url)}: HTTP {response.status_code} {response.reason}",
                           advice_for(f"HTTP {response.status_code}"))
    return data


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, streamed."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# --- what went wrong, in one line ----------------------------------------------------------------
# The texts below are what urllib3 / requests / the OS put into an exception (and pip prints them in its
# "Retrying ... after connection broken by ..." warnings), on Linux, macOS and Windows.

class NetworkCause(NamedTuple):
    """Why a connection failed: kind is dns | refused | tls | proxy-auth | proxy | timeout | unreachable | reset."""

    kind: str
    host: Optional[str]  # for dns: the name that did not resolve (the server's or the proxy's), when the text says


_CAUSES = (
    ("proxy-auth", r"\b407 Proxy|Proxy Authentication Required|HTTP 407"),
    ("dns", r"NameResolutionError|Name or service not known|getaddrinfo failed|nodename nor servname|"
            r"Temporary failure in name resolution|No address associated with hostname|Failed to resolve|"
            r"\[Errno -[235]\]|\[Errno 11001\]|\[Errno 11004\]"),
    ("tls", r"SSLError|CERTIFICATE_VERIFY_FAILED|certificate verify failed|SSL: |TLSV1_ALERT|WRONG_VERSION_NUMBER"),
    ("proxy", r"ProxyError|Cannot connect to proxy|Unable to connect to proxy"),
    ("refused", r"Connection refused|ECONNREFUSED|\[WinError 10061\]|\[Errno 111\]|\[Errno 61\]"),
    ("timeout", r"timed out|ConnectTimeout|ReadTimeout|\[WinError 10060\]"),
    ("unreachable", r"Network is unreachable|No route to host|\[WinError 10051\]|\[WinError 10065\]"),
    ("reset", r"Connection reset|Connection aborted|RemoteDisconnected|Remote end closed connection|"
              r"ConnectionResetError|\[WinError 10054\]|IncompleteRead|ChunkedEncodingError"),
)
_UNRESOLVED = re.compile(r"Failed to resolve '([^']+)'")  # urllib3 2 names the host that did not resolve


def network_cause(text: str) -> Optional[NetworkCause]:
    """The cause of a network failure from its text (an exception, pip's output); None when not recognised."""
    for kind, pattern in _CAUSES:
        if re.search(pattern, text, re.I):
            named = _UNRESOLVED.search(text) if kind == "dns" else None
            return NetworkCause(kind, named.group(1) if named else None)
    return None


def cause_pattern(kind: str) -> "re.Pattern[str]":
    """The pattern that recognises one kind of network failure in a text."""
    return re.compile(dict(_CAUSES)[kind], re.I)


def host_of(url: str) -> str:
    """host[:port] of a URL, credentials left out."""
    parsed = urlparse(url)
    host = parsed.hostname or url
    return f"{host}:{parsed.port}" if parsed.port else host


def explain(text: str, url: str, *, proxy: Optional[str] = None, timeout: Optional[float] = None) -> Optional[str]:
    """One sentence naming the host and the cause (name did not resolve, refused, TLS, proxy wants
    authentication, ...); None when the text is not recognised."""
    cause = network_cause(text)
    if cause is None:
        return None
    host = host_of(url)
    via = f" {host_of(proxy)}" if proxy else ""
    if cause.kind == "proxy-auth":
        return f"the proxy{via} wants authentication (HTTP 407 Proxy Authentication Required) to reach {host}"
    if cause.kind == "dns":
        name = cause.host or urlparse(url).hostname or host
        return f"the name {name} did not resolve (DNS)"
    if cause.kind == "tls":
        reason = re.search(r"certificate verify failed: ([^(')\]]+)", text)
        return f"the TLS connection to {host} failed" + (f" ({reason.group(1).strip()})" if reason else "")
    if cause.kind == "proxy":
        return f"the proxy{via} could not be reached or refused to connect to {host}"
    if cause.kind == "refused":
        return f"{host} refused the connection"
    if cause.kind == "timeout":
        within = f" within {timeout:g} s" if timeout else ""
        which = "ConnectTimeout" if re.search(r"ConnectTimeout|connect timeout", text, re.I) else "ReadTimeout"
        return f"{host} did not answer{within} ({which})"
    if cause.kind == "unreachable":
        return f"{host} is not reachable from this machine (no route)"
    return f"the connection to {host} was cut off"


_ADVICE = {
    "dns": "Check the host name in the URL and this machine's DNS; behind a proxy, set HTTPS_PROXY.",
    "proxy-auth": "Give the proxy's credentials in HTTPS_PROXY (http://user:password@proxy:port), or ask for "
                  "access to the index through the proxy.",
    "tls": "If a proxy or antivirus inspects HTTPS, make its root certificate trusted (REQUESTS_CA_BUNDLE, "
           "PIP_CERT); otherwise check the URL.",
    "proxy": "Check the proxy address in HTTPS_PROXY / HTTP_PROXY (and NO_PROXY).",
    "refused": "Check the URL and its port, and that the server (or mirror) is running.",
}


def advice_for(text: str) -> str:
    """What to do about a network failure whose text is given."""
    cause = network_cause(text)
    return _ADVICE.get(cause.kind if cause else "", "Check the URL, the network and the proxy settings "
                                                     "(HTTPS_PROXY), then run again.")


def exc_text(exc: BaseException) -> str:
    """An exception's text with its causes (requests wraps urllib3's errors, which wrap the OS's)."""
    parts = []
    seen = 0
    current: Optional[BaseException] = exc
    while current is not None and seen < 5:
        parts.append(f"{type(current).__name__}: {current}")
        current = current.__cause__ or current.__context__
        seen += 1
    return " <- ".join(parts)


def describe_exception(exc: BaseException, url: str, timeout: Optional[float] = None) -> str:
    """'<ExceptionType>: <one-line explanation>' for a failed request, secrets redacted."""
    text = exc_text(exc)
    line = explain(text, url, proxy=proxy_for(url), timeout=timeout)
    return redact(f"{type(exc).__name__}: {line}" if line else f"{type(exc).__name__}: {exc}")


def proxy_for(url: str) -> Optional[str]:
    """The proxy requests would use for url (HTTPS_PROXY / HTTP_PROXY / ALL_PROXY, NO_PROXY honoured)."""
    from requests.utils import get_environ_proxies, select_proxy

    proxy: Optional[str] = select_proxy(url, get_environ_proxies(url))
    return proxy

"""The up-front index check: one quick request for the torch page of the index, before anything is created.

A dead index, a name that does not resolve, a refused connection, a TLS failure or a proxy that wants
authentication is then one line naming the host and the cause, after one attempt, instead of minutes of pip
retries. The page it reads also tells whether the index publishes the planned build, and how big its wheels are.
"""

from __future__ import annotations

from typing import Any, Dict, FrozenSet, List, NamedTuple, Optional, Tuple

from packaging.specifiers import SpecifierSet
from packaging.tags import Tag

from pybootstrap import _download
from pybootstrap.errors import NetworkError
from pybootstrap.index_listing import ACCEPT, IndexFile, parse_listing
from pybootstrap.redact import redact

CONNECT_TIMEOUT_S = 5.0  # a few seconds to connect: the index either answers quickly or not at all
READ_TIMEOUT_S = 15.0  # between two bytes of the page (the torch page of a variant index is a few hundred kB)


class IndexPage(NamedTuple):
    """A project page of a simple index."""

    url: str
    files: Tuple[IndexFile, ...]

    def has_version(self, version: str) -> bool:
        """True when some file matches ==version as pip reads it (PEP 440: 2.5.1+cu124 only matches itself;
        2.5.1 also matches 2.5.1+cu124)."""
        return bool(self._matching(version))

    def _matching(self, version: str) -> List[IndexFile]:
        spec = SpecifierSet(f"=={version}")
        return [f for f in self.files if f.version is not None and spec.contains(f.version, prereleases=True)]

    def versions(self) -> List[str]:
        """Every version the page lists, newest first."""
        return [str(v) for v in sorted({f.version for f in self.files if f.version is not None}, reverse=True)]

    def size_of(self, version: str, tags: FrozenSet[Tag] = frozenset()) -> Optional[int]:
        """The size of this version's wheel for these tags (the largest when none or several match); None when
        the index gives no size."""
        files = self._matching(version)
        fitting = [f for f in files if f.tags & tags] or files
        sizes = [f.size for f in fitting if f.size is not None]
        return max(sizes) if sizes else None


def page_url(index_url: str, project: str) -> str:
    """<index>/<project>/ (PEP 503 normalised name)."""
    return f"{index_url.rstrip('/')}/{project.lower().replace('_', '-')}/"


def check_index(index_url: str, project: str = "torch", *, attempts: int = 1,
                proxy: Optional[str] = None) -> IndexPage:
    """GET the project page once (no retries by default); NetworkError with a one-line explanation if it fails.
    proxy: the one pip is configured with (else requests takes HTTPS_PROXY etc. from the environment)."""
    import requests

    url = page_url(index_url, project)
    where = f"the package index {redact(index_url)}"
    try:
        with _download.session(attempts) as http:
            if proxy:
                http.proxies.update({"http": proxy, "https": proxy})
            response = http.get(url, timeout=(CONNECT_TIMEOUT_S, READ_TIMEOUT_S), headers={"Accept": ACCEPT})
            body = response.content
    except requests.RequestException as exc:
        text = _download.exc_text(exc)
        line = _download.explain(text, url, proxy=proxy or _download.proxy_for(url), timeout=CONNECT_TIMEOUT_S)
        raise NetworkError(f"cannot reach {where}: {redact(line or f'{type(exc).__name__}: {exc}')}",
                           _download.advice_for(text)) from None
    if response.status_code >= 400:
        raise NetworkError(f"cannot use {where}: {_status_line(response.status_code, response.reason, url)}",
                           _status_advice(response.status_code))
    try:  # PEP 691 JSON (PEP 700 adds file sizes to it) or PEP 503 HTML, which download.pytorch.org serves
        files = parse_listing(body, response.headers.get("Content-Type", ""), response.url or url)
    except ValueError:  # an answer that is no project page lists nothing (missing_pins then says so)
        files = []
    return IndexPage(url, tuple(files))


def _status_line(code: int, reason: str, url: str) -> str:
    if code == 407:
        return _download.explain("HTTP 407", url, proxy=_download.proxy_for(url)) or "HTTP 407"
    if code == 404:
        return f"it has no {redact(url)} page (HTTP 404 {reason})"
    return f"{_download.host_of(url)} answered HTTP {code} {reason}"


def _status_advice(code: int) -> str:
    if code == 407:
        return _download.advice_for("HTTP 407")
    if code == 404:
        return ("Check --index-url / --mirror: a PyTorch index is https://download.pytorch.org/whl/<variant> "
                "(or a mirror of it).")
    if code in (401, 403):
        return "The index wants credentials: put them in the URL (https://user:token@host/...) or ask for access."
    return "The index has a problem right now; run again later, or use --mirror / --index-url."


def missing_pins(page: IndexPage, project: str, pins: List[str]) -> Optional[str]:
    """A one-line problem when the page does not list the exact version pinned for project ('torch==2.5.1+cu124'),
    naming what it does list; None when it does (or no pin names the project)."""
    for pin in pins:
        name, _, version = pin.partition("==")
        if name != project or not version:
            continue
        if not page.has_version(version):
            listed = ", ".join(page.versions()[:6]) or "nothing"
            return f"{redact(page.url)} does not list {project} {version} (newest listed: {listed})"
    return None


def describe(page: IndexPage) -> Dict[str, Any]:
    """What the check found, for the log."""
    return {"url": redact(page.url), "files": len(page.files), "versions": page.versions()[:10]}

"""Reading package indexes (pure): PEP 691 JSON and PEP 503 HTML listings, wheel names, PEP 658 metadata, PyPI JSON.

The one reader of simple-index project pages: `manifest check` uses it to see which wheels an index really serves,
the install's up-front index check (index_check) to see what the index lists and how big it is. Nothing here
touches the network.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from email.parser import HeaderParser
from functools import cached_property
from html.parser import HTMLParser
from typing import Any, Dict, FrozenSet, List, Optional, Set, Tuple
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

from packaging.requirements import InvalidRequirement, Requirement
from packaging.tags import Tag
from packaging.utils import InvalidSdistFilename, InvalidWheelFilename, parse_sdist_filename, parse_wheel_filename
from packaging.version import InvalidVersion, Version

#: Ask for PEP 691 JSON, accept PEP 503 HTML (what pip sends, in spirit).
ACCEPT = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.1"

Platform = Tuple[str, str]  # (os, arch) as the manifest names them: ("linux", "x86_64")


@dataclass(frozen=True)
class IndexFile:
    """One file of a listing: its name, absolute URL (without the #hash fragment), the URL of its PEP 658 metadata
    if served, whether it is yanked, its size where the index says (PEP 700) and its SHA-256 where given."""

    filename: str
    url: str
    metadata_url: Optional[str]
    yanked: bool = False
    size: Optional[int] = None  # bytes
    sha256: Optional[str] = None

    @cached_property
    def _name(self) -> Tuple[Optional[Version], FrozenSet[Tag]]:
        # the one place a file's version and tags are read from its name (wheel, else sdist)
        try:
            if self.filename.endswith(".whl"):
                _, version, _, tags = parse_wheel_filename(self.filename)
                return version, tags
            if self.filename.endswith((".tar.gz", ".zip")):
                return parse_sdist_filename(self.filename)[1], frozenset()
        except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
            pass
        return None, frozenset()

    @property
    def version(self) -> Optional[Version]:
        """The version its name gives (wheel or sdist); None for other names."""
        return self._name[0]

    @property
    def tags(self) -> FrozenSet[Tag]:
        """The tags of a wheel; empty for an sdist or another file."""
        return self._name[1]


@dataclass(frozen=True)
class WheelInfo:
    """What a wheel's name says: version (with its +local label), Pythons and platforms; None = any."""

    file: IndexFile
    version: Version
    pythons: Optional[FrozenSet[str]]  # {"3.12"}; None for py3 wheels
    platforms: Optional[FrozenSet[Platform]]  # None for "any"

    @property
    def label(self) -> Optional[str]:
        """The local version label: 'cu126' of 2.14.1+cu126; None when there is none."""
        return self.version.local

    @property
    def release(self) -> Version:
        """The version without its label: 2.14.1 of 2.14.1+cu126."""
        return Version(self.version.public)

    def of(self, version: Version, variant: str) -> bool:
        """True for a wheel of this release built for this variant (labelled so, or not labelled at all)."""
        return self.release == version and self.label in (variant, None)

    def serves(self, python: str, platform: Platform) -> bool:
        """True when the wheel installs on this Python X.Y and (os, arch)."""
        return ((self.pythons is None or python in self.pythons)
                and (self.platforms is None or platform in self.platforms))


def parse_listing(body: bytes, content_type: str, url: str) -> List[IndexFile]:
    """A project page of a simple index, JSON (PEP 691) or HTML (PEP 503); ValueError when it is neither."""
    if "json" in content_type.lower():
        return _parse_json(body, url)
    return _parse_html(body.decode("utf-8", errors="replace"), url)


def _parse_json(body: bytes, url: str) -> List[IndexFile]:
    doc = json.loads(body.decode("utf-8"))
    if not isinstance(doc, dict) or not isinstance(doc.get("files"), list):
        raise ValueError(f"{url}: not a PEP 691 project page (no 'files' list)")
    out = []
    for item in doc["files"]:
        if not isinstance(item, dict) or not isinstance(item.get("filename"), str):
            continue
        file_url, fragment_hash = _split_hash(urljoin(url, str(item.get("url") or item["filename"])))
        metadata = item.get("core-metadata", item.get("dist-info-metadata"))
        hashes = item.get("hashes")
        sha256 = hashes.get("sha256") if isinstance(hashes, dict) else None
        size = item.get("size")  # PEP 700
        out.append(IndexFile(item["filename"], file_url, _metadata_url(file_url) if metadata else None,
                             bool(item.get("yanked")),
                             size if isinstance(size, int) and not isinstance(size, bool) else None,
                             sha256 if isinstance(sha256, str) else fragment_hash))
    return out


class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.anchors: List[Tuple[Dict[str, Optional[str]], str]] = []
        self._open: Optional[Dict[str, Optional[str]]] = None
        self._text: List[str] = []

    def handle_starttag(self, tag: str, attrs: List[Tuple[str, Optional[str]]]) -> None:
        if tag == "a":
            self._open, self._text = dict(attrs), []

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._open is not None:
            self.anchors.append((self._open, "".join(self._text).strip()))
            self._open = None


def _parse_html(text: str, url: str) -> List[IndexFile]:
    parser = _Anchors()
    parser.feed(text)
    out = []
    for attrs, label in parser.anchors:
        href = attrs.get("href")
        if not href:
            continue
        file_url, sha256 = _split_hash(urljoin(url, href))
        filename = label or unquote(urlsplit(file_url).path.rsplit("/", 1)[-1])
        metadata = attrs.get("data-core-metadata", attrs.get("data-dist-info-metadata"))
        served = metadata is not None and metadata.lower() != "false"
        out.append(IndexFile(filename, file_url, _metadata_url(file_url) if served else None,
                             "data-yanked" in attrs, None, sha256))
    return out


def _split_hash(link: str) -> Tuple[str, Optional[str]]:
    """PEP 503: a file's link may end in #<hash name>=<value>; the URL without it, and the value for sha256."""
    bare, _, fragment = link.partition("#")
    name, _, value = fragment.partition("=")
    return bare, (value if name == "sha256" and value else None)


def _metadata_url(file_url: str) -> str:
    """PEP 658: the metadata of a file is at the file's URL plus '.metadata' (without any #hash fragment)."""
    scheme, netloc, path, query, _ = urlsplit(file_url)
    return urlunsplit((scheme, netloc, path + ".metadata", query, ""))


def wheel_info(file: IndexFile) -> Optional[WheelInfo]:
    """The wheel's version, Pythons and platforms from its name; None for sdists and odd names.

    Free-threaded builds (abi cp313t) do not count for their Python: the manifest lists the default builds.
    """
    if file.version is None or not file.tags:  # not a wheel, or a name that does not parse
        return None
    version, tags = file.version, file.tags
    pythons: Set[str] = set()
    platforms: Set[Platform] = set()
    any_python = any_platform = False
    for tag in tags:
        if tag.abi.startswith("cp") and tag.abi.endswith("t"):
            continue
        if tag.interpreter.startswith("py"):
            any_python = True
        elif tag.interpreter.startswith("cp") and tag.interpreter[2:].isdigit():
            pythons.add(f"{tag.interpreter[2]}.{tag.interpreter[3:]}")
        if tag.platform == "any":
            any_platform = True
        else:
            platforms.update(p for p in (platform_of(tag.platform),) if p is not None)
    if not any_python and not pythons:
        return None
    return WheelInfo(file, version, None if any_python else frozenset(pythons),
                     None if any_platform else frozenset(platforms))


def platform_of(tag: str) -> Optional[Platform]:
    """win_amd64 -> (windows, x86_64); manylinux_2_28_aarch64 -> (linux, arm64); macOS and others -> None."""
    if tag == "win_amd64":
        return "windows", "x86_64"
    if tag == "win_arm64":
        return "windows", "arm64"
    if "linux" in tag and tag.endswith("x86_64"):
        return "linux", "x86_64"
    if "linux" in tag and tag.endswith("aarch64"):
        return "linux", "arm64"
    return None


def torch_requirement(metadata: bytes) -> Optional[Requirement]:
    """The Requires-Dist on torch in a wheel's METADATA (PEP 658 file), or None when it has none."""
    headers = HeaderParser().parsestr(metadata.decode("utf-8", errors="replace"), headersonly=True)
    for line in headers.get_all("Requires-Dist") or []:
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            continue
        if requirement.name.lower() == "torch" and (requirement.marker is None or
                                                    requirement.marker.evaluate({"extra": ""})):
            return requirement
    return None


def pypi_versions(body: bytes) -> Dict[Version, bool]:
    """PyPI JSON API (/pypi/<name>/json): {version: has a file that is not yanked}; odd version strings skipped."""
    doc: Any = json.loads(body.decode("utf-8"))
    releases = doc.get("releases") if isinstance(doc, dict) else None
    out: Dict[Version, bool] = {}
    for text, files in (releases or {}).items():
        try:
            version = Version(text)
        except InvalidVersion:
            continue
        out[version] = any(isinstance(f, dict) and not f.get("yanked") for f in (files or []))
    return out

"""`pybootstrap manifest check`: compare the manifest with the indexes that serve the wheels.

Reads `<index_base>/<variant>/<package>/` for every variant the manifest names (and the CUDA variants its toolkit
table says could come next), PEP 658 metadata where the index serves it, and PyPI's JSON API. Reports:
- missing: what the manifest promises with no wheel behind it (a variant, a release, a Python, a platform, a
  companion that pip could not find on the variant's index);
- mismatch: a companion whose wheel requires another torch than the one the manifest pairs it with;
- addition: releases and variants on the index that the manifest lacks (what to add);
- note: what could not be checked.
The manifest and the index agree when there is nothing but notes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Set, Tuple

from packaging.version import Version

from pybootstrap import manifest_http
from pybootstrap._download import require_secure_url
from pybootstrap.errors import NetworkError
from pybootstrap.index_listing import (
    ACCEPT,
    Platform,
    WheelInfo,
    parse_listing,
    pypi_versions,
    torch_requirement,
    wheel_info,
)
from pybootstrap.manifest_model import Manifest, Release, Variant, cuda_variant_name
from pybootstrap.plan_reasons import os_name, platforms_text, span

if TYPE_CHECKING:  # pragma: no cover
    import requests

DEFAULT_PYPI_BASE = "https://pypi.org"
TIMEOUT_S = 60.0
COMPANIONS = ("torchvision", "torchaudio")
KINDS = ("missing", "mismatch", "addition", "note")


@dataclass(frozen=True)
class Finding:
    """One difference between the manifest and the indexes (or a check that was skipped)."""

    kind: str  # one of KINDS
    message: str
    torch: Optional[str] = None
    variant: Optional[str] = None

    def to_dict(self) -> Dict[str, Optional[str]]:
        """The findings[] entry of the manifest-check document."""
        return {"kind": self.kind, "message": self.message, "torch": self.torch, "variant": self.variant}


@dataclass(frozen=True)
class CheckReport:
    """Everything `manifest check` found."""

    index_base: str
    pypi_base: str
    findings: Tuple[Finding, ...]
    listings_read: int

    @property
    def agree(self) -> bool:
        """True when the manifest and the indexes differ in nothing (notes aside)."""
        return all(f.kind == "note" for f in self.findings)

    def of_kind(self, kind: str) -> List[Finding]:
        """The findings of one kind, in the order found."""
        return [f for f in self.findings if f.kind == kind]

    def to_dict(self) -> Dict[str, Any]:
        """The manifest-check document without its schema key."""
        return {"agree": self.agree, "index_base": self.index_base, "pypi_base": self.pypi_base,
                "listings_read": self.listings_read, "findings": [f.to_dict() for f in self.findings]}


class _Reader:
    """Fetches listings, metadata and PyPI pages once each (one HTTP session)."""

    def __init__(self, index_base: str, pypi_base: str, timeout_s: float) -> None:
        self.index_base, self.pypi_base, self.timeout_s = index_base.rstrip("/"), pypi_base.rstrip("/"), timeout_s
        self.http: Optional["requests.Session"] = None
        self.listings: Dict[Tuple[str, str], Optional[List[WheelInfo]]] = {}
        self.pypi_pages: Dict[str, Optional[Dict[Version, bool]]] = {}

    def _get(self, url: str, what: str, accept: str) -> manifest_http.Response:
        if self.http is None:
            self.http = manifest_http.session()
        response = manifest_http.get(url, what=what, timeout_s=self.timeout_s, headers={"Accept": accept},
                                     http=self.http)
        if response.status >= 400 and response.status != 404:
            raise NetworkError(f"{url}: HTTP {response.status}", "Check the index URL, or run again later.")
        return response

    def listing_url(self, variant: str, package: str) -> str:
        """<index_base>/<variant>/<package>/."""
        return f"{self.index_base}/{variant}/{package}/"

    def listing(self, variant: str, package: str) -> Optional[List[WheelInfo]]:
        """The wheels of a package on a variant's index (yanked ones left out); None when the page is 404."""
        key = (variant, package)
        if key not in self.listings:
            response = self._get(self.listing_url(variant, package), "--index-base", ACCEPT)
            if response.status == 404:
                self.listings[key] = None
            else:
                try:
                    files = parse_listing(response.body, response.headers.get("content-type", ""), response.url)
                except (ValueError, UnicodeDecodeError) as exc:
                    raise NetworkError(f"{response.url}: not an index page ({exc})", "Check --index-base.") from None
                wheels = [wheel_info(f) for f in files if not f.yanked]
                self.listings[key] = [w for w in wheels if w is not None]
        return self.listings[key]

    def metadata(self, url: str) -> Optional[bytes]:
        """A PEP 658 metadata file; None when it is 404."""
        response = self._get(url, "--index-base", "*/*")
        return None if response.status == 404 else response.body

    def pypi(self, package: str) -> Optional[Dict[Version, bool]]:
        """{version: has files} from PyPI's JSON API; None when PyPI does not know the package."""
        if package not in self.pypi_pages:
            response = self._get(f"{self.pypi_base}/pypi/{package}/json", "--pypi-base", "application/json")
            try:
                self.pypi_pages[package] = None if response.status == 404 else pypi_versions(response.body)
            except (ValueError, UnicodeDecodeError) as exc:
                raise NetworkError(f"{response.url}: not a PyPI JSON page ({exc})", "Check --pypi-base.") from None
        return self.pypi_pages[package]


def check_manifest(manifest: Manifest, *, index_base: Optional[str] = None, pypi_base: str = DEFAULT_PYPI_BASE,
                   timeout_s: float = TIMEOUT_S) -> CheckReport:
    """Compare the manifest with the PyTorch index (default: the manifest's index_base) and PyPI."""
    require_secure_url(index_base or manifest.index_base, what="--index-base")
    require_secure_url(pypi_base, what="--pypi-base")
    reader = _Reader(index_base or manifest.index_base, pypi_base, timeout_s)
    findings = _promises(manifest, reader) + _companions(manifest, reader) + _additions(manifest, reader)
    return CheckReport(reader.index_base, reader.pypi_base, tuple(findings), len(reader.listings))


def _summary(wheels: List[WheelInfo]) -> str:
    """'Python 3.11-3.15; Linux x86_64/arm64, Windows x86_64' for some wheels."""
    pythons: Set[str] = set()
    platforms: Dict[str, List[str]] = {}
    for wheel in wheels:
        pythons |= set(wheel.pythons or ())
        for os_id, arch in sorted(wheel.platforms or ()):
            platforms.setdefault(os_id, [])
            if arch not in platforms[os_id]:
                platforms[os_id].append(arch)
    where = platforms_text(dict(sorted(platforms.items()))) or "any platform"
    return f"Python {span(pythons)}; {where}" if pythons else where


def _promises(manifest: Manifest, reader: _Reader) -> List[Finding]:
    """Every variant, release, Python and platform the manifest lists has a wheel on the variant's index."""
    out: List[Finding] = []
    names = sorted({v.name for r in manifest.releases for v in r.variants})
    for name in names:
        listing = reader.listing(name, "torch")
        promised = [(r, v) for r in manifest.releases for v in r.variants if v.name == name]
        url = reader.listing_url(name, "torch")
        if listing is None:
            versions = ", ".join(str(r.torch) for r, _ in promised)
            out.append(Finding("missing", f"{url} does not exist (HTTP 404), but the manifest lists {name} for torch "
                                          f"{versions}", variant=name))
            continue
        for release, variant in promised:
            wheels = [w for w in listing if w.of(release.torch, name)]
            if not wheels:
                out.append(Finding("missing", f"torch {release.torch} {name}: no wheels on {url}", str(release.torch),
                                   name))
                continue
            for (os_id, arch), pythons in _gaps(release, variant, wheels).items():
                out.append(Finding("missing", f"torch {release.torch} {name}: no wheel for {os_name(os_id)} {arch} "
                                              f"Python {', '.join(pythons)}", str(release.torch), name))
    return out


def _gaps(release: Release, variant: Variant, wheels: List[WheelInfo]) -> Dict[Platform, List[str]]:
    """(os, arch) -> the Pythons the manifest promises there with no wheel among these."""
    gaps: Dict[Platform, List[str]] = {}
    for os_id, arches in variant.platforms.items():
        for arch in arches:
            for python in release.python_for(variant, os_id):
                if not any(w.serves(python, (os_id, arch)) for w in wheels):
                    gaps.setdefault((os_id, arch), []).append(python)
    return gaps


def _companions(manifest: Manifest, reader: _Reader) -> List[Finding]:
    """Each companion is on every variant's index of its release, and its Requires-Dist accepts that torch."""
    out: List[Finding] = []
    for release in manifest.releases:
        for package in COMPANIONS:
            version = release.torchvision if package == "torchvision" else release.torchaudio
            if version is None:
                continue
            missing: List[str] = []
            checked = False
            for variant in release.variants:
                wheels = [w for w in reader.listing(variant.name, package) or [] if w.of(version, variant.name)]
                if not wheels:
                    missing.append(variant.name)
                elif not checked:
                    checked, finding = _requirement(reader, release, package, version, wheels)
                    out += [finding] if finding else []
            on_pypi = bool((reader.pypi(package) or {}).get(version))
            if missing and not (release.pip_style == "extra-index-url" and on_pypi):
                out.append(Finding("missing", f"{package} {version} (paired with torch {release.torch}) is not on the "
                                              f"index of {', '.join(missing)}: `pip install --index-url "
                                              f"{reader.index_base}/<variant>` cannot find it", str(release.torch)))
            if not checked and len(missing) < len(release.variants):
                out.append(Finding("note", f"{package} {version}: the index serves no PEP 658 metadata for it, so its "
                                           f"Requires-Dist on torch {release.torch} was not checked",
                                   str(release.torch)))
    return out


def _requirement(reader: _Reader, release: Release, package: str, version: Version,
                 wheels: List[WheelInfo]) -> Tuple[bool, Optional[Finding]]:
    """(checked, a mismatch) from the Requires-Dist of the first wheel with PEP 658 metadata."""
    wheel = next((w for w in wheels if w.file.metadata_url), None)
    metadata = reader.metadata(wheel.file.metadata_url) if wheel and wheel.file.metadata_url else None
    if wheel is None or metadata is None:
        return False, None
    requirement = torch_requirement(metadata)
    if requirement is None:
        return True, None  # no requirement on torch (torchaudio 2.11.0): nothing to disagree with
    candidates = [release.torch] + ([Version(f"{release.torch}+{wheel.label}")] if wheel.label else [])
    if any(requirement.specifier.contains(c, prereleases=True) for c in candidates):
        return True, None
    return True, Finding("mismatch", f"{package} {version} requires {requirement} (Requires-Dist of "
                                     f"{wheel.file.filename}), but the manifest pairs it with torch {release.torch}",
                         str(release.torch))


def _next_cuda_variants(manifest: Manifest) -> List[str]:
    """cuXYZ of the toolkits newer than the manifest's newest CUDA variant: where a new CUDA build would appear."""
    newest = max((v.cuda for r in manifest.releases for v in r.variants if v.cuda is not None), default=None)
    return [cuda_variant_name(t.cuda) for t in manifest.toolkits if newest is not None and t.cuda > newest]


def _additions(manifest: Manifest, reader: _Reader) -> List[Finding]:
    """Releases on the index or PyPI that the manifest lacks, and variants of known releases it does not list."""
    known = {r.torch for r in manifest.releases}
    oldest = min(known)
    new: Dict[Version, Dict[str, List[WheelInfo]]] = {}
    out: List[Finding] = []
    for name in sorted({v.name for r in manifest.releases for v in r.variants}) + _next_cuda_variants(manifest):
        extra: Dict[Version, List[WheelInfo]] = {}
        for wheel in reader.listing(name, "torch") or []:
            version = wheel.release
            if wheel.label not in (name, None) or version.is_prerelease or version < oldest:
                continue
            release = manifest.release(version)
            if release is None:
                new.setdefault(version, {}).setdefault(name, []).append(wheel)
            elif release.variant(name) is None:
                extra.setdefault(version, []).append(wheel)
        for version, wheels in sorted(extra.items(), reverse=True):
            out.append(Finding("addition", f"torch {version} has {name} wheels on the index ({_summary(wheels)}); the "
                                           f"manifest does not list {name} for it", str(version), name))
    on_pypi = {v for v, has_files in (reader.pypi("torch") or {}).items()
               if has_files and not v.is_prerelease and v >= oldest and v not in known}
    for version in sorted(set(new) | on_pypi, reverse=True):
        variants = new.get(version, {})
        where = "; ".join(f"{name}: {_summary(wheels)}" for name, wheels in sorted(variants.items()))
        pypi = "on PyPI" if version in on_pypi else "not on PyPI"
        out.append(Finding("addition", f"torch {version} is not in the manifest: add a release"
                                       + (f" (index: {where}; {pypi})" if where else " (on PyPI only)"), str(version)))
    for package in COMPANIONS:
        named = {v for r in manifest.releases for v in (r.torchvision if package == "torchvision" else r.torchaudio,)
                 if v is not None}
        newer = sorted(v for v, has_files in (reader.pypi(package) or {}).items()
                       if has_files and not v.is_prerelease and named and v > max(named))
        if newer:
            out.append(Finding("note", f"{package} {', '.join(map(str, newer))} on PyPI is newer than any the "
                                       "manifest pairs with a torch release"))
    return out

"""The manifest: frozen value objects, strict validation with dotted-path errors, loading."""

from __future__ import annotations

import datetime
import functools
import json
import os
import re
from pathlib import Path
from typing import Any, Dict, FrozenSet, List, Mapping, NamedTuple, Optional, Tuple

from packaging.version import InvalidVersion, Version

from pybootstrap.errors import ManifestError

SCHEMA_VERSION = 1
OSES = ("linux", "windows")
ARCHES = ("x86_64", "arm64")
VARIANT_KINDS = ("cpu", "cuda", "rocm", "xpu")
MANIFEST_NAME = "pytorch.json"

Capability = Tuple[int, int]


@functools.total_ordering
class DriverVersion:
    """An NVIDIA driver version: compared as a version, printed exactly as written ("576.02")."""

    __slots__ = ("text", "key")

    def __init__(self, text: str) -> None:
        if not re.fullmatch(r"\d{2,4}(\.\d{1,3}){0,2}", text.strip()):
            raise InvalidVersion(f"not a driver version: {text!r}")
        self.text = text.strip()
        self.key = Version(self.text)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DriverVersion) and self.key == other.key

    def __lt__(self, other: "DriverVersion") -> bool:
        return self.key < other.key

    def __hash__(self) -> int:
        return hash(self.key)

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"DriverVersion({self.text!r})"

    @property
    def major(self) -> int:
        """The driver branch, e.g. 576."""
        return self.key.major


class ArchList(NamedTuple):
    """GPU code in a build: SASS (cubins) and PTX, as compute capabilities."""

    sass: FrozenSet[Capability]
    ptx: FrozenSet[Capability]
    text: str

    def serves(self, cc: Capability) -> bool:
        """True when this code runs on a GPU of capability cc.

        A cubin runs on the same major revision at an equal or higher minor revision (NVIDIA CUDA C++
        Programming Guide, "Binary Compatibility"). PTX only counts within the same major revision too:
        torch's own check (torch.cuda._check_cubins) ignores PTX and calls a GPU unsupported without an
        sm_ of its major, and a 3.7+PTX wheel on an RTX 5080 fails that way (tests/data/errors/
        arch-unsupported-3.txt), although the driver could JIT the PTX.
        """
        if any(major == cc[0] and minor <= cc[1] for major, minor in self.sass):
            return True
        return any(p[0] == cc[0] and p <= cc for p in self.ptx)

    def names(self) -> List[str]:
        """sm_XY names, like torch.cuda.get_arch_list()."""
        out = [f"sm_{a}{b}" for a, b in sorted(self.sass)]
        return out + [f"compute_{a}{b}" for a, b in sorted(self.ptx)]


class CondaSelector(NamedTuple):
    """The conda package that selects the variant, and the channels it needs."""

    package: str
    channels: Tuple[str, ...]


class Variant(NamedTuple):
    """One published wheel index of a release (cpu, cu118, rocm6.1, xpu, ...)."""

    name: str
    kind: str
    cuda: Optional[Version]
    platforms: Mapping[str, Tuple[str, ...]]
    archs: Mapping[str, ArchList]
    conda: Optional[CondaSelector]
    python: Optional[Mapping[str, Tuple[str, ...]]]
    note: Optional[str]

    def available_on(self, os_name: str, arch: str) -> bool:
        """True when wheels of this variant exist for the OS and architecture."""
        return arch in self.platforms.get(os_name, ())


class Release(NamedTuple):
    """One PyTorch release with its companion packages and variants."""

    torch: Version
    date: Optional[str]
    torchvision: Optional[Version]
    torchaudio: Optional[Version]
    conda_torchvision: Optional[Version]
    conda_torchaudio: Optional[Version]
    on_conda: bool
    python: Mapping[str, Tuple[str, ...]]
    pip_style: str  # "index-url" or "extra-index-url" (1.x: +cuXXX local versions)
    variants: Tuple[Variant, ...]
    source: str
    notes: Tuple[str, ...]

    def variant(self, name: str) -> Optional[Variant]:
        """The variant with this name, or None."""
        return next((v for v in self.variants if v.name == name), None)

    def python_for(self, variant: Variant, os_name: str) -> Tuple[str, ...]:
        """Python versions (X.Y) with wheels of this variant on this OS."""
        if variant.python and os_name in variant.python:
            return variant.python[os_name]
        return self.python.get(os_name, ())


class CudaFamily(NamedTuple):
    """Minor-version-compatibility driver floor of a CUDA major version, per OS."""

    major: int
    min_driver: Mapping[str, DriverVersion]
    source: str


class ToolkitDriver(NamedTuple):
    """The driver that shipped with a CUDA toolkit (NVIDIA release notes, Table 3)."""

    cuda: Version
    min_driver: Mapping[str, Optional[DriverVersion]]


class ArchDriver(NamedTuple):
    """The first driver that supports a GPU architecture; older drivers cannot run CUDA on such a GPU."""

    compute_capability: Capability
    min_driver: Mapping[str, DriverVersion]
    source: str


class GpuEntry(NamedTuple):
    """A GPU name fragment and its compute capability."""

    match: str
    compute_capability: Capability


class Manifest(NamedTuple):
    """The validated manifest."""

    schema_version: int
    updated: Optional[str]
    index_base: str
    releases: Tuple[Release, ...]  # newest first
    cuda_families: Mapping[int, CudaFamily]
    toolkits: Tuple[ToolkitDriver, ...]  # newest first
    gpus: Tuple[GpuEntry, ...]  # longest match first
    sources: Mapping[str, str]
    origin: str
    arch_drivers: Tuple[ArchDriver, ...] = ()

    def arch_driver_floor(self, cc: Capability, os_name: str) -> Optional[DriverVersion]:
        """The first driver for this architecture on this OS (same major, nearest minor at or below)."""
        best = None
        for entry in self.arch_drivers:
            major, minor = entry.compute_capability
            if major == cc[0] and minor <= cc[1] and os_name in entry.min_driver:
                if best is None or entry.compute_capability > best.compute_capability:
                    best = entry
        return best.min_driver[os_name] if best else None

    def release(self, version: Version) -> Optional[Release]:
        """The release with exactly this torch version."""
        return next((r for r in self.releases if r.torch == version), None)


# --- validation helpers -----------------------------------------------------------------------
# The patterns match manifests/schema.json (tests/test_manifest.py checks that every manifest this
# loader accepts also passes the schema, so the loader is never laxer than the schema editors use).

_VERSION_RE = re.compile(r"[0-9]+(\.[0-9]+){1,3}((a|b|rc)[0-9]+)?(\.post[0-9]+)?(\.dev[0-9]+)?")
_CUDA_RE = re.compile(r"[0-9]{1,2}\.[0-9]{1,2}")
_DRIVER_RE = re.compile(r"[0-9]{2,4}(\.[0-9]{1,3}){0,2}")
_PYTHON_RE = re.compile(r"3\.[0-9]{1,2}")
_ARCH_RE = r"[0-9]{1,2}\.[0-9](\+PTX)?"
_ARCH_LIST_RE = re.compile(rf"{_ARCH_RE}(;{_ARCH_RE})*")
_CC_RE = re.compile(r"([0-9]{1,2})\.([0-9])")
_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_INDEX_RE = re.compile(r"https://[^\s/?#]+(/\S*)?|http://(localhost|127(\.[0-9]{1,3}){3}|\[::1\])(:[0-9]{1,5})?(/\S*)?")
_CONDA_PACKAGE_RE = re.compile(r"cpuonly|[a-z][a-z0-9_.-]*=[0-9]+(\.[0-9]+)*")
_KEY_RE = re.compile(r"[A-Za-z0-9_$]+")
_TEXT_RE = re.compile(r"\S(.*\S)?", re.S)  # non-empty, no surrounding white space
_VARIANT_NAMES = {"cpu": (r"cpu", "cpu"), "cuda": (r"cu[0-9]{2,4}", "cu118"),
                  "rocm": (r"rocm[0-9]+(\.[0-9]+)*", "rocm6.1"), "xpu": (r"xpu", "xpu")}

_TOP_KEYS = ("$schema", "schema_version", "updated", "index_base", "sources", "cuda_families", "cuda_toolkits",
             "gpus", "gpus_source", "arch_drivers", "releases")
_FAMILY_KEYS = ("major", "min_driver", "source")
_TOOLKIT_KEYS = ("cuda", "min_driver", "source")
_GPU_KEYS = ("match", "compute_capability")
_ARCH_DRIVER_KEYS = ("compute_capability", "min_driver", "source")
_RELEASE_KEYS = ("torch", "date", "torchvision", "torchaudio", "python", "pip_style", "conda", "variants", "source",
                 "notes")
_RELEASE_CONDA_KEYS = ("torchvision", "torchaudio")
_VARIANT_KEYS = ("name", "kind", "cuda", "platforms", "archs", "conda", "python", "note")
_SELECTOR_KEYS = ("package", "channels")


def _fail(path: str, message: str) -> ManifestError:
    return ManifestError(f"{path}: {message}",
                         "Fix the manifest (manifests/schema.json describes it; see README, 'Adding a PyTorch "
                         "release'), or run without --manifest to use the one shipped with pybootstrap.")


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    try:
        text = f'"{value}"' if isinstance(value, str) else json.dumps(value)
    except (TypeError, ValueError, RecursionError):
        text = type(value).__name__
    text = text.replace("\n", "\\n")
    return text if len(text) < 60 else text[:57] + "..."


def _join(path: str, key: str) -> str:
    """releases[0] + torch -> releases[0].torch; odd keys are quoted: a["b c"]."""
    if _KEY_RE.fullmatch(key):
        return f"{path}.{key}" if path else key
    return f"{path}[{json.dumps(key)}]"


def _type_name(types: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", int: "an integer", bool: "a boolean"}
    types = types if isinstance(types, tuple) else (types,)
    return " or ".join(names.get(t, t.__name__) for t in types)


def _object(value: Any, path: str, keys: Tuple[str, ...]) -> Dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(path, f"expected an object, got {_describe(value)}")
    for key in value:
        if key not in keys:
            raise _fail(_join(path, key), f"unknown key (expected one of {', '.join(keys)})")
    return value


def _get(obj: Mapping[str, Any], key: str, path: str, types: Any, *, required: bool = True,
         nullable: bool = False) -> Any:
    if key not in obj:
        if required:
            raise _fail(_join(path, key), "missing")
        return None
    value = obj[key]
    if value is None:
        if nullable:
            return None
        raise _fail(_join(path, key), f"expected {_type_name(types)}, got null")
    kinds = types if isinstance(types, tuple) else (types,)
    if (isinstance(value, bool) and bool not in kinds) or not isinstance(value, kinds):
        raise _fail(_join(path, key), f"expected {_type_name(types)}, got {_describe(value)}")
    return value


def _text(obj: Mapping[str, Any], key: str, path: str, pattern: "re.Pattern[str]", what: str, *,
          required: bool = True, nullable: bool = False) -> Optional[str]:
    value = _get(obj, key, path, str, required=required, nullable=nullable)
    if value is not None and not pattern.fullmatch(value):
        raise _fail(_join(path, key), f"expected {what}, got {_describe(value)}")
    return value


_VERSION_CACHE: Dict[str, Version] = {}


def _version(value: Any, path: str) -> Version:
    if isinstance(value, str) and value in _VERSION_CACHE:
        return _VERSION_CACHE[value]
    if not isinstance(value, str) or not _VERSION_RE.fullmatch(value):
        raise _fail(path, f'expected a version like "2.5.1", got {_describe(value)}')
    version = _VERSION_CACHE[value] = Version(value)
    return version


def _driver(value: Any, path: str) -> DriverVersion:
    if not isinstance(value, str) or not _DRIVER_RE.fullmatch(value):
        raise _fail(path, f'expected a driver version like "528.33", got {_describe(value)}')
    return DriverVersion(value)


def _opt_version(obj: Mapping[str, Any], key: str, path: str) -> Optional[Version]:
    if key not in obj:
        raise _fail(_join(path, key), "missing (use null when no such release exists)")
    return None if obj[key] is None else _version(obj[key], _join(path, key))


def _date(obj: Mapping[str, Any], key: str, path: str) -> Optional[str]:
    value = _text(obj, key, path, _DATE_RE, 'a date like "2024-10-29"', required=False, nullable=True)
    if value is not None:
        try:
            datetime.date.fromisoformat(value)
        except ValueError:
            raise _fail(_join(path, key), f"not a calendar date: {_describe(value)}") from None
    return value


def _python_list(value: Any, path: str) -> Tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise _fail(path, f"expected a non-empty list of Python versions, got {_describe(value)}")
    for i, item in enumerate(value):
        if not isinstance(item, str) or not _PYTHON_RE.fullmatch(item):
            raise _fail(f"{path}[{i}]", f'expected a Python version like "3.12", got {_describe(item)}')
        if value.index(item) != i:
            raise _fail(f"{path}[{i}]", f"duplicate Python version {item}")
    return tuple(value)


def _per_os(value: Any, path: str) -> Dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(path, f"expected an object keyed by OS ({', '.join(OSES)}), got {_describe(value)}")
    for key in value:
        if key not in OSES:
            raise _fail(_join(path, key), f"unknown OS (expected one of {', '.join(OSES)})")
    return value


def _strings(obj: Mapping[str, Any], key: str, path: str) -> Tuple[str, ...]:
    items = _get(obj, key, path, list, required=False) or []
    for i, item in enumerate(items):
        if not isinstance(item, str):
            raise _fail(f"{_join(path, key)}[{i}]", f"expected a string, got {_describe(item)}")
    return tuple(items)


_ARCH_CACHE: Dict[str, ArchList] = {}  # a manifest repeats a dozen arch lists in hundreds of variants


def parse_arch_list(text: Any, path: str) -> ArchList:
    """Parse a TORCH_CUDA_ARCH_LIST string such as '5.0;6.0;8.6;9.0+PTX'."""
    if isinstance(text, str) and text in _ARCH_CACHE:
        return _ARCH_CACHE[text]
    if not isinstance(text, str) or not text.strip():
        raise _fail(path, f"expected an arch list like \"7.5;8.0;8.6\", got {_describe(text)}")
    sass, ptx = set(), set()
    for item in re.split(r"[;\s]+", text.strip()):
        match = re.fullmatch(r"(\d{1,2})\.(\d)(\+PTX)?", item)
        if not match:
            raise _fail(path, f"bad architecture {_describe(item)} (expected like \"8.6\" or \"9.0+PTX\")")
        cc = (int(match.group(1)), int(match.group(2)))
        sass.add(cc)
        if match.group(3):
            ptx.add(cc)
    archs = ArchList(frozenset(sass), frozenset(ptx), text.strip())
    _ARCH_CACHE[text] = archs
    return archs


def _manifest_arch_list(value: Any, path: str) -> ArchList:
    """The manifest's stricter form: items joined by ';' only, each capability once."""
    if isinstance(value, str) and not _ARCH_LIST_RE.fullmatch(value):
        bad = next((item for item in value.split(";") if not re.fullmatch(_ARCH_RE, item)), value)
        raise _fail(path, f"bad architecture {_describe(bad)} in {_describe(value)} "
                          "(expected a TORCH_CUDA_ARCH_LIST like \"7.5;8.0;8.6;9.0+PTX\")")
    archs = parse_arch_list(value, path)
    if len(value.split(";")) != len(archs.sass):
        raise _fail(path, f"an architecture is listed twice in {_describe(value)}")
    return archs


# --- the loader -------------------------------------------------------------------------------

def parse_manifest(data: Any, origin: str = "<memory>") -> Manifest:
    """Validate a decoded manifest document and build the Manifest; raise ManifestError."""
    if not isinstance(data, dict):
        raise _fail("(top level)", f"expected an object, got {_describe(data)}")
    version = _get(data, "schema_version", "", int)
    if version != SCHEMA_VERSION:
        raise ManifestError(f"schema_version: unsupported version {version} (this pybootstrap reads "
                            f"version {SCHEMA_VERSION})",
                            "Upgrade pybootstrap, or use a manifest written for this version.")
    _object(data, "", _TOP_KEYS)
    _get(data, "$schema", "", str, required=False)
    updated = _date(data, "updated", "")
    index_base = _text(data, "index_base", "", _INDEX_RE, "an https:// URL (http:// only for loopback)")
    sources = _get(data, "sources", "", dict, required=False) or {}
    for key, value in sources.items():
        if not isinstance(value, str):
            raise _fail(_join("sources", key), f"expected a string, got {_describe(value)}")
    _get(data, "gpus_source", "", str, required=False)
    families = _parse_families(_get(data, "cuda_families", "", list))
    toolkits = _parse_toolkits(_get(data, "cuda_toolkits", "", list))
    gpus = _parse_gpus(_get(data, "gpus", "", list))
    arch_drivers = _parse_arch_drivers(_get(data, "arch_drivers", "", list, required=False) or [])
    raw_releases = _get(data, "releases", "", list)
    if not raw_releases:
        raise _fail("releases", "must list at least one release")
    releases = [_parse_release(r, f"releases[{i}]", families) for i, r in enumerate(raw_releases)]
    seen: Dict[Version, int] = {}
    for i, release in enumerate(releases):
        if release.torch in seen:
            raise _fail(f"releases[{i}].torch",
                        f"duplicate release {release.torch} (also releases[{seen[release.torch]}])")
        seen[release.torch] = i
    releases.sort(key=lambda r: r.torch, reverse=True)
    return Manifest(schema_version=version, updated=updated, index_base=str(index_base).rstrip("/"),
                    releases=tuple(releases), cuda_families=families, toolkits=toolkits, gpus=gpus,
                    sources=dict(sources), origin=origin, arch_drivers=arch_drivers)


def _parse_families(items: List[Any]) -> Dict[int, CudaFamily]:
    families: Dict[int, CudaFamily] = {}
    for i, item in enumerate(items):
        path = f"cuda_families[{i}]"
        item = _object(item, path, _FAMILY_KEYS)
        major = _get(item, "major", path, int)
        if major < 1:
            raise _fail(f"{path}.major", f"expected a CUDA major version like 12, got {major}")
        floors = _per_os(_get(item, "min_driver", path, dict), f"{path}.min_driver")
        if not floors:
            raise _fail(f"{path}.min_driver", "must give the driver floor for at least one OS")
        parsed = {os_name: _driver(v, f"{path}.min_driver.{os_name}") for os_name, v in floors.items()}
        if major in families:
            raise _fail(f"{path}.major", f"duplicate CUDA family {major}")
        families[major] = CudaFamily(major, parsed, _get(item, "source", path, str, required=False) or "")
    return families


def _parse_toolkits(items: List[Any]) -> Tuple[ToolkitDriver, ...]:
    out: List[ToolkitDriver] = []
    for i, item in enumerate(items):
        path = f"cuda_toolkits[{i}]"
        item = _object(item, path, _TOOLKIT_KEYS)
        cuda = Version(str(_text(item, "cuda", path, _CUDA_RE, 'a CUDA version like "12.8"')))
        if any(t.cuda == cuda for t in out):
            raise _fail(f"{path}.cuda", f"duplicate CUDA toolkit {cuda}")
        floors = _per_os(_get(item, "min_driver", path, dict), f"{path}.min_driver")
        _get(item, "source", path, str, required=False)
        out.append(ToolkitDriver(cuda, {k: (None if v is None else _driver(v, f"{path}.min_driver.{k}"))
                                        for k, v in floors.items()}))
    return tuple(sorted(out, key=lambda t: t.cuda, reverse=True))


def _parse_arch_drivers(items: List[Any]) -> Tuple[ArchDriver, ...]:
    out: List[ArchDriver] = []
    for i, item in enumerate(items):
        path = f"arch_drivers[{i}]"
        item = _object(item, path, _ARCH_DRIVER_KEYS)
        cc_text = str(_text(item, "compute_capability", path, _CC_RE, 'a compute capability like "12.0"'))
        major, minor = cc_text.split(".")
        cc = (int(major), int(minor))
        if any(a.compute_capability == cc for a in out):
            raise _fail(f"{path}.compute_capability", f"duplicate architecture {cc_text}")
        floors = _per_os(_get(item, "min_driver", path, dict), f"{path}.min_driver")
        if not floors:
            raise _fail(f"{path}.min_driver", "must give the driver floor for at least one OS")
        parsed = {os_name: _driver(v, f"{path}.min_driver.{os_name}") for os_name, v in floors.items()}
        out.append(ArchDriver(cc, parsed, _get(item, "source", path, str, required=False) or ""))
    return tuple(out)


def _parse_gpus(items: List[Any]) -> Tuple[GpuEntry, ...]:
    out: List[GpuEntry] = []
    seen = set()
    for i, item in enumerate(items):
        path = f"gpus[{i}]"
        item = _object(item, path, _GPU_KEYS)
        match = str(_text(item, "match", path, _TEXT_RE, 'a GPU name fragment like "RTX 3060"')).lower()
        if match in seen:
            raise _fail(f"{path}.match", f"duplicate GPU name {_describe(item['match'])}")
        seen.add(match)
        cc_text = str(_text(item, "compute_capability", path, _CC_RE, 'a compute capability like "8.6"'))
        major, minor = cc_text.split(".")
        out.append(GpuEntry(match, (int(major), int(minor))))
    return tuple(sorted(out, key=lambda g: len(g.match), reverse=True))


def _parse_release(item: Any, path: str, families: Mapping[int, CudaFamily]) -> Release:
    item = _object(item, path, _RELEASE_KEYS)
    torch = _version(_get(item, "torch", path, str), f"{path}.torch")
    python = {k: _python_list(v, f"{path}.python.{k}")
              for k, v in _per_os(_get(item, "python", path, dict), f"{path}.python").items()}
    conda = _get(item, "conda", path, dict, required=False, nullable=True)
    conda_tv = conda_ta = None
    if conda is not None:
        _object(conda, f"{path}.conda", _RELEASE_CONDA_KEYS)
        conda_tv = _opt_version(conda, "torchvision", f"{path}.conda")
        conda_ta = _opt_version(conda, "torchaudio", f"{path}.conda")
    pip_style = _get(item, "pip_style", path, str, required=False) or "index-url"
    if pip_style not in ("index-url", "extra-index-url"):
        raise _fail(f"{path}.pip_style", f'expected "index-url" or "extra-index-url", got {_describe(pip_style)}')
    raw_variants = _get(item, "variants", path, list)
    if not raw_variants:
        raise _fail(f"{path}.variants", "must list at least one variant")
    variants = [_parse_variant(v, f"{path}.variants[{j}]", families, conda is not None)
                for j, v in enumerate(raw_variants)]
    names = [v.name for v in variants]
    for j, variant in enumerate(variants):
        if names.index(variant.name) != j:
            raise _fail(f"{path}.variants[{j}].name",
                        f"duplicate variant {variant.name} (also variants[{names.index(variant.name)}])")
        for os_name in variant.platforms:
            if os_name not in python and not (variant.python and os_name in variant.python):
                raise _fail(f"{path}.python.{os_name}", f"missing: variants[{j}] ({variant.name}) is published for "
                                                        f"{os_name}, so its Python versions there must be listed")
    return Release(torch=torch, date=_date(item, "date", path),
                   torchvision=_opt_version(item, "torchvision", path),
                   torchaudio=_opt_version(item, "torchaudio", path),
                   conda_torchvision=conda_tv, conda_torchaudio=conda_ta, on_conda=conda is not None,
                   python=python, pip_style=pip_style, variants=tuple(variants),
                   source=_get(item, "source", path, str, required=False) or "",
                   notes=_strings(item, "notes", path))


def _parse_platforms(item: Mapping[str, Any], path: str) -> Dict[str, Tuple[str, ...]]:
    raw = _per_os(_get(item, "platforms", path, dict), f"{path}.platforms")
    if not raw:
        raise _fail(f"{path}.platforms", "must name at least one OS")
    platforms: Dict[str, Tuple[str, ...]] = {}
    for os_name, arches in raw.items():
        where = f"{path}.platforms.{os_name}"
        if (not isinstance(arches, list) or not arches or any(a not in ARCHES for a in arches)
                or len(set(arches)) != len(arches)):
            raise _fail(where, f"expected a non-empty list of {', '.join(ARCHES)} (each once), "
                               f"got {_describe(arches)}")
        platforms[os_name] = tuple(arches)
    return platforms


def _parse_variant(item: Any, path: str, families: Mapping[int, CudaFamily], on_conda: bool) -> Variant:
    item = _object(item, path, _VARIANT_KEYS)
    name = _get(item, "name", path, str)
    kind = _get(item, "kind", path, str)
    if kind not in VARIANT_KINDS:
        raise _fail(f"{path}.kind", f"expected one of {', '.join(VARIANT_KINDS)}, got {_describe(kind)}")
    pattern, example = _VARIANT_NAMES[kind]
    if not re.fullmatch(pattern, name):
        raise _fail(f"{path}.name", f'a {kind} variant is named like "{example}", got {_describe(name)}')
    platforms = _parse_platforms(item, path)
    cuda = None
    archs: Dict[str, ArchList] = {}
    if kind == "cuda":
        cuda = Version(str(_text(item, "cuda", path, _CUDA_RE, 'a CUDA version like "12.8"')))
        if name != f"cu{cuda.major}{cuda.minor}":
            raise _fail(f"{path}.name", f"{name} does not match cuda {cuda} (expected cu{cuda.major}{cuda.minor})")
        family = families.get(cuda.major)
        for os_name in platforms:
            if family is None or os_name not in family.min_driver:
                raise _fail(f"{path}.cuda", f"no {os_name} driver floor for CUDA {cuda.major}.x in cuda_families "
                                            "(every CUDA variant needs one per OS it is published for)")
        raw_archs = _per_os(_get(item, "archs", path, dict), f"{path}.archs")
        for os_name in platforms:
            if os_name not in raw_archs:
                raise _fail(f"{path}.archs.{os_name}", "missing (every CUDA variant needs an arch list per OS)")
        for os_name in raw_archs:
            if os_name not in platforms:
                raise _fail(f"{path}.archs.{os_name}", f"the variant is not published for {os_name} (see platforms)")
        archs = {k: _manifest_arch_list(v, f"{path}.archs.{k}") for k, v in raw_archs.items()}
    else:
        if item.get("cuda") is not None:
            raise _fail(f"{path}.cuda", f"only CUDA variants have a cuda version (kind is {kind})")
        if "archs" in item:
            raise _fail(f"{path}.archs", f"only CUDA variants have arch lists (kind is {kind})")
    conda = _parse_selector(item, path, kind, cuda, on_conda)
    python_raw = _get(item, "python", path, dict, required=False, nullable=True)
    python = None
    if python_raw is not None:
        python = {k: _python_list(v, f"{path}.python.{k}") for k, v in _per_os(python_raw, f"{path}.python").items()}
    return Variant(name=name, kind=kind, cuda=cuda, platforms=platforms, archs=archs, conda=conda,
                   python=python, note=_get(item, "note", path, str, required=False))


def _parse_selector(item: Mapping[str, Any], path: str, kind: str, cuda: Optional[Version],
                    on_conda: bool) -> Optional[CondaSelector]:
    raw = _get(item, "conda", path, dict, required=False, nullable=True)
    if raw is None:
        return None
    where = f"{path}.conda"
    if not on_conda:
        raise _fail(where, "the release has no conda entry, so its variants cannot have one")
    _object(raw, where, _SELECTOR_KEYS)
    package = str(_text(raw, "package", where, _CONDA_PACKAGE_RE,
                        'a conda package like "pytorch-cuda=12.4" or "cpuonly"'))
    if kind == "cuda" and not package.endswith(f"={cuda}"):
        raise _fail(f"{where}.package", f"{_describe(package)} does not select CUDA {cuda}")
    if kind == "cpu" and package != "cpuonly":
        raise _fail(f"{where}.package", f'the cpu variant is selected by "cpuonly", got {_describe(package)}')
    channels = _get(raw, "channels", where, list)
    if not channels:
        raise _fail(f"{where}.channels", "expected a non-empty list of channel names, got []")
    for k, channel in enumerate(channels):
        if not isinstance(channel, str) or not re.fullmatch(r"\S+", channel):
            raise _fail(f"{where}.channels[{k}]", f"expected a channel name like \"pytorch\", got {_describe(channel)}")
    return CondaSelector(package, tuple(channels))


def default_manifest_path() -> Path:
    """The manifest shipped with the package (installed wheel) or beside it (source checkout)."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "manifests" / MANIFEST_NAME, here.parent / "manifests" / MANIFEST_NAME):
        if candidate.is_file():
            return candidate
    return here / "manifests" / MANIFEST_NAME


def load_manifest(source: Optional[str] = None, *, timeout: float = 20.0) -> Manifest:
    """Load and validate a manifest from the package, a file path, a file:// URL or an https:// URL."""
    if not source:
        path = default_manifest_path()
        return parse_manifest(_decode(_read_file(path), str(path)), str(path))
    source = os.fspath(source)
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]+://", source) and not source.lower().startswith("file://"):
        from pybootstrap._download import fetch_bytes, require_secure_url

        require_secure_url(source, what="--manifest")
        return parse_manifest(_decode(fetch_bytes(source, timeout=timeout), source), source)
    path = file_url_path(source) if source.lower().startswith("file://") else Path(source).expanduser()
    return parse_manifest(_decode(_read_file(path), str(path)), str(path))


def file_url_path(url: str) -> Path:
    """file:///C:/x/m.json -> C:\\x\\m.json on Windows, /x/m.json elsewhere; %20 decoded; file://host/... is UNC."""
    from urllib.parse import urlparse
    from urllib.request import url2pathname

    parsed = urlparse(url)
    path = url2pathname(parsed.path)
    if parsed.netloc and parsed.netloc.lower() != "localhost":
        path = "//" + parsed.netloc + path.replace("\\", "/")
    return Path(path)


def _read_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ManifestError(f"manifest not found: {path}",
                            "Check the --manifest path (or PYBOOTSTRAP_MANIFEST).") from None
    except OSError as exc:
        raise ManifestError(f"cannot read manifest {path}: {exc.strerror or exc}",
                            "Check the path and the file's permissions.") from None


class _StrictJsonError(ValueError):
    """Valid for Python's json module but not for a manifest: a repeated key, NaN or Infinity."""


def _unique_keys(pairs: List[Tuple[str, Any]]) -> Dict[str, Any]:
    obj: Dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise _StrictJsonError(f"the key {_describe(key)} appears twice in one object")
        obj[key] = value
    return obj


def _no_constant(name: str) -> Any:
    raise _StrictJsonError(f"{name} is not a JSON number")


def _decode(data: bytes, origin: str) -> Any:
    try:
        text = data[3:].decode("utf-8") if data[:3] == b"\xef\xbb\xbf" else data.decode("utf-8")  # a BOM is fine
        return json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except UnicodeDecodeError as exc:
        raise ManifestError(f"{origin}: not UTF-8 text ({exc.reason} at byte {exc.start})",
                            "A manifest is a UTF-8 JSON file.") from None
    except json.JSONDecodeError as exc:
        raise ManifestError(f"{origin}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}",
                            "Fix the JSON syntax (a validator such as `python -m json.tool` shows where).") from None
    except _StrictJsonError as exc:
        raise ManifestError(f"{origin}: invalid JSON: {exc}", "Fix the JSON (each key once, numbers only).") from None
    except RecursionError:
        raise ManifestError(f"{origin}: JSON nested too deeply", "This is not a pybootstrap manifest.") from None

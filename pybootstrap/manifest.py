"""The manifest: frozen value objects, strict validation with dotted-path errors, loading."""

from __future__ import annotations

import functools
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, FrozenSet, List, Mapping, Optional, Tuple

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


@dataclass(frozen=True)
class ArchList:
    """GPU code in a build: SASS (cubins) and PTX, as compute capabilities."""

    sass: FrozenSet[Capability]
    ptx: FrozenSet[Capability]
    text: str

    def serves(self, cc: Capability) -> bool:
        """True when this code runs on a GPU of capability cc.

        A cubin runs on the same major revision at an equal or higher minor revision; PTX is
        JIT-compiled for any equal or newer capability (NVIDIA CUDA C++ Programming Guide,
        "Binary Compatibility" and "PTX Compatibility").
        """
        if any(major == cc[0] and minor <= cc[1] for major, minor in self.sass):
            return True
        return any(p <= cc for p in self.ptx)

    def names(self) -> List[str]:
        """sm_XY names, like torch.cuda.get_arch_list()."""
        out = [f"sm_{a}{b}" for a, b in sorted(self.sass)]
        return out + [f"compute_{a}{b}" for a, b in sorted(self.ptx)]


@dataclass(frozen=True)
class CondaSelector:
    """The conda package that selects the variant, and the channels it needs."""

    package: str
    channels: Tuple[str, ...]


@dataclass(frozen=True)
class Variant:
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


@dataclass(frozen=True)
class Release:
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


@dataclass(frozen=True)
class CudaFamily:
    """Minor-version-compatibility driver floor of a CUDA major version, per OS."""

    major: int
    min_driver: Mapping[str, DriverVersion]
    source: str


@dataclass(frozen=True)
class ToolkitDriver:
    """The driver that shipped with a CUDA toolkit (NVIDIA release notes, Table 3)."""

    cuda: Version
    min_driver: Mapping[str, Optional[DriverVersion]]


@dataclass(frozen=True)
class GpuEntry:
    """A GPU name fragment and its compute capability."""

    match: str
    compute_capability: Capability


@dataclass(frozen=True)
class Manifest:
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

    def release(self, version: Version) -> Optional[Release]:
        """The release with exactly this torch version."""
        return next((r for r in self.releases if r.torch == version), None)


# --- validation helpers -----------------------------------------------------------------------

def _fail(path: str, message: str) -> ManifestError:
    return ManifestError(f"{path}: {message}",
                         "Fix the manifest (see README, 'Adding a PyTorch release'), or run without "
                         "--manifest to use the one shipped with pybootstrap.")


def _describe(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, str) else f'"{value}"'
    return text if len(text) < 60 else text[:57] + "..."


def _get(obj: Mapping[str, Any], key: str, path: str, types: Any, *, required: bool = True,
         nullable: bool = False) -> Any:
    if key not in obj:
        if required:
            raise _fail(f"{path}.{key}" if path else key, "missing")
        return None
    value = obj[key]
    where = f"{path}.{key}" if path else key
    if value is None:
        if nullable or not required:
            return None
        raise _fail(where, "must not be null")
    if isinstance(value, bool) and bool not in (types if isinstance(types, tuple) else (types,)):
        raise _fail(where, f"expected {_type_name(types)}, got {_describe(value)}")
    if not isinstance(value, types):
        raise _fail(where, f"expected {_type_name(types)}, got {_describe(value)}")
    return value


def _type_name(types: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", int: "an integer", bool: "a boolean"}
    types = types if isinstance(types, tuple) else (types,)
    return " or ".join(names.get(t, t.__name__) for t in types)


def _version(value: Any, path: str) -> Version:
    if not isinstance(value, str):
        raise _fail(path, f"expected a version, got {_describe(value)}")
    try:
        return Version(value)
    except InvalidVersion:
        raise _fail(path, f"expected a version, got {_describe(value)}") from None


def _driver(value: Any, path: str) -> DriverVersion:
    if not isinstance(value, str):
        raise _fail(path, f"expected a driver version, got {_describe(value)}")
    try:
        return DriverVersion(value)
    except InvalidVersion:
        raise _fail(path, f"expected a driver version like \"528.33\", got {_describe(value)}") from None


def _opt_version(obj: Mapping[str, Any], key: str, path: str) -> Optional[Version]:
    if key not in obj:
        raise _fail(f"{path}.{key}", "missing (use null when no such release exists)")
    return None if obj[key] is None else _version(obj[key], f"{path}.{key}")


def _python_list(value: Any, path: str) -> Tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise _fail(path, f"expected a non-empty list of Python versions, got {_describe(value)}")
    for i, item in enumerate(value):
        if not isinstance(item, str) or not re.fullmatch(r"3\.\d{1,2}", item):
            raise _fail(f"{path}[{i}]", f'expected a Python version like "3.12", got {_describe(item)}')
    return tuple(value)


def _per_os(value: Any, path: str) -> Dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(path, f"expected an object keyed by OS, got {_describe(value)}")
    for key in value:
        if key not in OSES:
            raise _fail(f"{path}.{key}", f"unknown OS (expected one of {', '.join(OSES)})")
    return value


def parse_arch_list(text: Any, path: str) -> ArchList:
    """Parse a TORCH_CUDA_ARCH_LIST string such as '5.0;6.0;8.6;9.0+PTX'."""
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
    return ArchList(frozenset(sass), frozenset(ptx), text.strip())


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
    index_base = _get(data, "index_base", "", str)
    families = _parse_families(_get(data, "cuda_families", "", list))
    toolkits = _parse_toolkits(_get(data, "cuda_toolkits", "", list))
    gpus = _parse_gpus(_get(data, "gpus", "", list))
    sources = _get(data, "sources", "", dict, required=False) or {}
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
    return Manifest(schema_version=version, updated=data.get("updated"), index_base=index_base.rstrip("/"),
                    releases=tuple(releases), cuda_families=families, toolkits=toolkits, gpus=gpus,
                    sources=sources, origin=origin)


def _parse_families(items: List[Any]) -> Dict[int, CudaFamily]:
    families: Dict[int, CudaFamily] = {}
    for i, item in enumerate(items):
        path = f"cuda_families[{i}]"
        if not isinstance(item, dict):
            raise _fail(path, f"expected an object, got {_describe(item)}")
        major = _get(item, "major", path, int)
        floors = _per_os(_get(item, "min_driver", path, dict), f"{path}.min_driver")
        parsed = {os_name: _driver(v, f"{path}.min_driver.{os_name}") for os_name, v in floors.items()}
        if major in families:
            raise _fail(f"{path}.major", f"duplicate CUDA family {major}")
        families[major] = CudaFamily(major, parsed, str(item.get("source", "")))
    return families


def _parse_toolkits(items: List[Any]) -> Tuple[ToolkitDriver, ...]:
    out = []
    for i, item in enumerate(items):
        path = f"cuda_toolkits[{i}]"
        if not isinstance(item, dict):
            raise _fail(path, f"expected an object, got {_describe(item)}")
        cuda = _version(_get(item, "cuda", path, str), f"{path}.cuda")
        floors = _per_os(_get(item, "min_driver", path, dict), f"{path}.min_driver")
        out.append(ToolkitDriver(cuda, {k: (None if v is None else _driver(v, f"{path}.min_driver.{k}"))
                                        for k, v in floors.items()}))
    return tuple(sorted(out, key=lambda t: t.cuda, reverse=True))


def _parse_gpus(items: List[Any]) -> Tuple[GpuEntry, ...]:
    out = []
    for i, item in enumerate(items):
        path = f"gpus[{i}]"
        if not isinstance(item, dict):
            raise _fail(path, f"expected an object, got {_describe(item)}")
        match = _get(item, "match", path, str)
        cc_text = _get(item, "compute_capability", path, str)
        cc = re.fullmatch(r"(\d{1,2})\.(\d)", cc_text)
        if not cc:
            raise _fail(f"{path}.compute_capability", f"expected like \"8.6\", got {_describe(cc_text)}")
        out.append(GpuEntry(match.lower(), (int(cc.group(1)), int(cc.group(2)))))
    return tuple(sorted(out, key=lambda g: len(g.match), reverse=True))


def _parse_release(item: Any, path: str, families: Mapping[int, CudaFamily]) -> Release:
    if not isinstance(item, dict):
        raise _fail(path, f"expected an object, got {_describe(item)}")
    torch = _version(_get(item, "torch", path, str), f"{path}.torch")
    python = {k: _python_list(v, f"{path}.python.{k}")
              for k, v in _per_os(_get(item, "python", path, dict), f"{path}.python").items()}
    conda = _get(item, "conda", path, dict, required=False, nullable=True)
    conda_tv = conda_ta = None
    if conda is not None:
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
    for j, name in enumerate(names):
        if names.index(name) != j:
            raise _fail(f"{path}.variants[{j}].name", f"duplicate variant {name}")
    notes = _get(item, "notes", path, list, required=False) or []
    return Release(torch=torch, date=_get(item, "date", path, str, required=False, nullable=True),
                   torchvision=_opt_version(item, "torchvision", path),
                   torchaudio=_opt_version(item, "torchaudio", path),
                   conda_torchvision=conda_tv, conda_torchaudio=conda_ta, on_conda=conda is not None,
                   python=python, pip_style=pip_style, variants=tuple(variants),
                   source=str(item.get("source", "")), notes=tuple(str(n) for n in notes))


def _parse_variant(item: Any, path: str, families: Mapping[int, CudaFamily], on_conda: bool) -> Variant:
    if not isinstance(item, dict):
        raise _fail(path, f"expected an object, got {_describe(item)}")
    name = _get(item, "name", path, str)
    kind = _get(item, "kind", path, str)
    if kind not in VARIANT_KINDS:
        raise _fail(f"{path}.kind", f"expected one of {', '.join(VARIANT_KINDS)}, got {_describe(kind)}")
    platforms_raw = _per_os(_get(item, "platforms", path, dict), f"{path}.platforms")
    platforms: Dict[str, Tuple[str, ...]] = {}
    for os_name, arches in platforms_raw.items():
        where = f"{path}.platforms.{os_name}"
        if not isinstance(arches, list) or any(a not in ARCHES for a in arches):
            raise _fail(where, f"expected a list of {', '.join(ARCHES)}, got {_describe(arches)}")
        platforms[os_name] = tuple(arches)
    cuda = None
    archs: Dict[str, ArchList] = {}
    if kind == "cuda":
        cuda = _version(_get(item, "cuda", path, str), f"{path}.cuda")
        if cuda.major not in families:
            raise _fail(f"{path}.cuda", f"no driver floor for CUDA {cuda.major}.x in cuda_families")
        for os_name in platforms:
            if os_name not in families[cuda.major].min_driver:
                raise _fail(f"{path}.cuda", f"no {os_name} driver floor for CUDA {cuda.major}.x in cuda_families")
        raw_archs = _per_os(_get(item, "archs", path, dict), f"{path}.archs")
        for os_name in platforms:
            if os_name not in raw_archs:
                raise _fail(f"{path}.archs.{os_name}", "missing (every CUDA variant needs an arch list per OS)")
        archs = {k: parse_arch_list(v, f"{path}.archs.{k}") for k, v in raw_archs.items()}
        if not re.fullmatch(r"cu\d{2,3}", name):
            raise _fail(f"{path}.name", f'a CUDA variant is named like "cu118", got {_describe(name)}')
        if name != "cu" + f"{cuda.major}{cuda.minor}":
            raise _fail(f"{path}.name", f"{name} does not match cuda {cuda}")
    elif "cuda" in item and item["cuda"] is not None:
        raise _fail(f"{path}.cuda", f"only CUDA variants have a cuda version (kind is {kind})")
    conda_raw = _get(item, "conda", path, dict, required=False, nullable=True)
    conda = None
    if conda_raw is not None:
        if not on_conda:
            raise _fail(f"{path}.conda", "the release has no conda entry, so its variants cannot have one")
        package = _get(conda_raw, "package", f"{path}.conda", str)
        channels = _get(conda_raw, "channels", f"{path}.conda", list)
        if not channels or any(not isinstance(c, str) or not c for c in channels):
            raise _fail(f"{path}.conda.channels", f"expected a list of channel names, got {_describe(channels)}")
        conda = CondaSelector(package, tuple(channels))
    python_raw = _get(item, "python", path, dict, required=False, nullable=True)
    python = None
    if python_raw is not None:
        python = {k: _python_list(v, f"{path}.python.{k}") for k, v in _per_os(python_raw, f"{path}.python").items()}
    return Variant(name=name, kind=kind, cuda=cuda, platforms=platforms, archs=archs, conda=conda,
                   python=python, note=item.get("note"))


def default_manifest_path() -> Path:
    """The manifest shipped with the package (installed wheel) or beside it (source checkout)."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "manifests" / MANIFEST_NAME, here.parent / "manifests" / MANIFEST_NAME):
        if candidate.is_file():
            return candidate
    return here / "manifests" / MANIFEST_NAME


def load_manifest(source: Optional[str] = None, *, timeout: float = 20.0) -> Manifest:
    """Load and validate a manifest from the package, a file path, or an https:// URL."""
    if not source:
        path = default_manifest_path()
        return parse_manifest(_decode(_read_file(path), str(path)), str(path))
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]+://", source) and not source.lower().startswith("file://"):
        from pybootstrap._download import fetch_bytes, require_secure_url

        require_secure_url(source, what="--manifest")
        return parse_manifest(_decode(fetch_bytes(source, timeout=timeout), source), source)
    path = Path(source[7:] if source.lower().startswith("file://") else source).expanduser()
    return parse_manifest(_decode(_read_file(path), str(path)), str(path))


def _read_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ManifestError(f"manifest not found: {path}",
                            "Check the --manifest path (or PYBOOTSTRAP_MANIFEST).") from None
    except OSError as exc:
        raise ManifestError(f"cannot read manifest {path}: {exc.strerror or exc}",
                            "Check the file's permissions.") from None


def _decode(data: bytes, origin: str) -> Any:
    try:
        return json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise ManifestError(f"{origin}: not UTF-8 text ({exc.reason} at byte {exc.start})",
                            "A manifest is a UTF-8 JSON file.") from None
    except json.JSONDecodeError as exc:
        raise ManifestError(f"{origin}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}",
                            "Fix the JSON syntax (a validator such as `python -m json.tool` shows where).") from None
    except RecursionError:
        raise ManifestError(f"{origin}: JSON nested too deeply", "This is not a pybootstrap manifest.") from None


def manifest_env_source() -> Optional[str]:
    """The manifest named by PYBOOTSTRAP_MANIFEST, if any."""
    return os.environ.get("PYBOOTSTRAP_MANIFEST") or None

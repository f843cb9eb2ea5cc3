"""The manifest's value objects, and the pure rules about their names (variants, arch lists, versions).

Every value object here is a frozen dataclass (the one style of value object in pybootstrap). Nothing in this
module reads files, runs processes or touches the network, so the planner can use it freely.
"""

from __future__ import annotations

import datetime
import functools
import re
from dataclasses import dataclass, field, replace
from typing import Dict, FrozenSet, Iterable, List, Mapping, Optional, Set, Tuple

from packaging.version import InvalidVersion, Version

SCHEMA_VERSION = 2
OSES = ("linux", "windows")
ARCHES = ("x86_64", "arm64")
VARIANT_KINDS = ("cpu", "cuda", "rocm", "xpu")

Capability = Tuple[int, int]

# --- names ------------------------------------------------------------------------------------

#: What a variant name is: the folder of its wheel index, <index_base>/<variant> (facts: pytorch-cuda.md,
#: section 2): cpu, xpu, cuXY / cuXYZ (CUDA X.Y / XY.Z), rocmX.Y[.Z]. manifests/schema.json repeats this
#: pattern for editors; tests/test_manifest.py checks that the two are the same.
VARIANT_NAME_PATTERN = r"cpu|xpu|cu[0-9]{2,4}|rocm[0-9]+(\.[0-9]+){1,2}"
_VARIANT_NAME_RE = re.compile(VARIANT_NAME_PATTERN)
_DRIVER_RE = re.compile(r"[0-9]{2,4}(\.[0-9]{1,3}){0,2}")
_ARCH_RE = re.compile(r"([0-9]{1,2})\.([0-9])(\+PTX)?")
_TORCH_ARCH_NAME_RE = re.compile(r"(sm|compute)_([0-9]{1,2})([0-9])a?")


@dataclass(frozen=True)
class VariantName:
    """A parsed variant name: its kind and, for CUDA and ROCm, the version it names."""

    name: str
    kind: str  # one of VARIANT_KINDS
    cuda: Optional[Version] = None
    rocm: Optional[Version] = None


def parse_variant_name(name: str) -> Optional[VariantName]:
    """'cu126' -> cuda 12.6, 'cu92' -> 9.2, 'rocm6.2.4' -> rocm 6.2.4, 'cpu', 'xpu'; None when it is no variant name."""
    if not isinstance(name, str) or not _VARIANT_NAME_RE.fullmatch(name):
        return None
    if name in ("cpu", "xpu"):
        return VariantName(name, name)
    if name.startswith("rocm"):
        return VariantName(name, "rocm", rocm=Version(name[4:]))
    digits = name[2:]  # cuXY = X.Y (cu92); cuXYZ = XY.Z (cu118, cu126); cuXYZW = XY.ZW
    major, minor = (digits[0], digits[1]) if len(digits) == 2 else (digits[:2], digits[2:])
    return VariantName(name, "cuda", cuda=Version(f"{int(major)}.{int(minor)}"))


def cuda_variant_name(cuda: Version) -> str:
    """CUDA 12.6 -> 'cu126' (the inverse of parse_variant_name for CUDA variants)."""
    return f"cu{cuda.major}{cuda.minor}"


def python_xy(version: str) -> str:
    """'3.11.7' -> '3.11': the part of a Python version that wheels are built for."""
    return ".".join(version.split(".")[:2])


def python_key(version: str) -> Tuple[int, ...]:
    """Sort key for Python versions: '3.9' < '3.10'."""
    return tuple(int(p) for p in version.split(".") if p.isdigit())


# --- driver versions and GPU code ------------------------------------------------------------------

@functools.total_ordering
@dataclass(frozen=True, eq=False)
class DriverVersion:
    """An NVIDIA driver version: compared as a version, printed exactly as written ("576.02")."""

    text: str
    key: Version = field(init=False, repr=False)

    def __post_init__(self) -> None:
        text = self.text.strip() if isinstance(self.text, str) else ""
        if not _DRIVER_RE.fullmatch(text):
            raise InvalidVersion(f"not a driver version: {self.text!r}")
        object.__setattr__(self, "text", text)
        object.__setattr__(self, "key", Version(text))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DriverVersion) and self.key == other.key

    def __lt__(self, other: "DriverVersion") -> bool:
        return self.key < other.key

    def __hash__(self) -> int:
        return hash(self.key)

    def __str__(self) -> str:
        return self.text

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
        """True when this code runs on a GPU of capability cc: THE rule, for the planner and for verification.

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

    @classmethod
    def parse(cls, text: str) -> "ArchList":
        """A TORCH_CUDA_ARCH_LIST such as '5.0;6.0;8.6;9.0+PTX'; ValueError names the bad item."""
        return _parse_arch_list(text)

    @classmethod
    def from_names(cls, names: Iterable[str]) -> "ArchList":
        """torch.cuda.get_arch_list() form: ['sm_50', 'sm_90', 'compute_90']; unknown names are skipped."""
        sass: Set[Capability] = set()
        ptx: Set[Capability] = set()
        for name in names:
            match = _TORCH_ARCH_NAME_RE.fullmatch(str(name).strip())
            if match:
                cc = (int(match.group(2)), int(match.group(3)))
                (sass if match.group(1) == "sm" else ptx).add(cc)
        return cls(frozenset(sass), frozenset(ptx), ";".join(str(n) for n in names))


@functools.lru_cache(maxsize=64)  # a manifest names a dozen arch lists, used by hundreds of variants
def _parse_arch_list(text: str) -> ArchList:
    if not isinstance(text, str) or not text:
        raise ValueError('expected a TORCH_CUDA_ARCH_LIST like "7.5;8.0;8.6;9.0+PTX"')
    sass: Set[Capability] = set()
    ptx: Set[Capability] = set()
    for item in text.split(";"):
        match = _ARCH_RE.fullmatch(item)
        if not match:
            raise ValueError(f'bad architecture "{item}" in "{text}" (expected a TORCH_CUDA_ARCH_LIST like '
                             '"7.5;8.0;8.6;9.0+PTX")')
        cc = (int(match.group(1)), int(match.group(2)))
        if cc in sass:
            raise ValueError(f'an architecture is listed twice in "{text}"')
        sass.add(cc)
        if match.group(3):
            ptx.add(cc)
    return ArchList(frozenset(sass), frozenset(ptx), text)


# --- the model ------------------------------------------------------------------------------------

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
    conda: Optional[CondaSelector] = None
    python: Optional[Mapping[str, Tuple[str, ...]]] = None
    note: Optional[str] = None

    def available_on(self, os_name: str, arch: str) -> bool:
        """True when wheels of this variant exist for the OS and architecture."""
        return arch in self.platforms.get(os_name, ())


@dataclass(frozen=True)
class Release:
    """One PyTorch release with its companion packages and variants."""

    torch: Version
    date: Optional[datetime.date]
    torchvision: Optional[Version]
    torchaudio: Optional[Version]
    conda_torchvision: Optional[Version]
    conda_torchaudio: Optional[Version]
    on_conda: bool
    python: Mapping[str, Tuple[str, ...]]
    pip_style: str  # "index-url" or "extra-index-url" (1.x: +cuXXX local versions)
    variants: Tuple[Variant, ...]
    source: str = ""
    notes: Tuple[str, ...] = ()
    matrix: str = ""

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
    source: str = ""


@dataclass(frozen=True)
class ToolkitDriver:
    """The driver that shipped with a CUDA toolkit (NVIDIA release notes, Table 3)."""

    cuda: Version
    min_driver: Mapping[str, Optional[DriverVersion]]
    source: str = ""


@dataclass(frozen=True)
class ArchDriver:
    """The first driver that supports a GPU architecture; older drivers cannot run CUDA on such a GPU."""

    compute_capability: Capability
    min_driver: Mapping[str, DriverVersion]
    source: str = ""


@dataclass(frozen=True)
class GpuEntry:
    """A GPU name fragment (lower case) and its compute capability."""

    match: str
    compute_capability: Capability


#: Where a manifest came from: the manifest shipped in the package, a channel (fresh or its cached copy), or a
#: file or URL given with --manifest.
PROVENANCE_KINDS = ("embedded", "channel", "cached", "file")


@dataclass(frozen=True)
class Provenance:
    """Which manifest a run used, and why (the plan document's "manifest" object)."""

    source: str  # one of PROVENANCE_KINDS
    detail: str
    location: str

    def to_dict(self) -> Dict[str, str]:
        """{"source": ..., "detail": ..., "location": ...}."""
        return {"source": self.source, "detail": self.detail, "location": self.location}


@dataclass(frozen=True)
class Manifest:
    """The validated, expanded manifest."""

    schema_version: int
    updated: Optional[datetime.date]
    index_base: str
    releases: Tuple[Release, ...]  # newest first
    cuda_families: Mapping[int, CudaFamily]
    toolkits: Tuple[ToolkitDriver, ...]  # newest first
    gpus: Tuple[GpuEntry, ...]  # longest match first
    sources: Mapping[str, str]
    origin: str
    arch_drivers: Tuple[ArchDriver, ...] = ()
    provenance: Optional[Provenance] = None

    def arch_driver_floor(self, cc: Capability, os_name: str) -> Optional[DriverVersion]:
        """The first driver for this architecture on this OS (same major, nearest minor at or below)."""
        best: Optional[ArchDriver] = None
        for entry in self.arch_drivers:
            major, minor = entry.compute_capability
            if major == cc[0] and minor <= cc[1] and os_name in entry.min_driver:
                if best is None or entry.compute_capability > best.compute_capability:
                    best = entry
        return best.min_driver[os_name] if best else None

    def release(self, version: Version) -> Optional[Release]:
        """The release with exactly this torch version."""
        return next((r for r in self.releases if r.torch == version), None)

    def with_provenance(self, provenance: Provenance) -> "Manifest":
        """The same manifest, saying where it came from."""
        return replace(self, provenance=provenance)

    def describe(self) -> Dict[str, Optional[str]]:
        """The plan document's "manifest" object: source, detail, location, and the manifest's date."""
        provenance = self.provenance or Provenance("file", f"read from {self.origin}", self.origin)
        doc: Dict[str, Optional[str]] = dict(provenance.to_dict())
        doc["updated"] = self.updated.isoformat() if self.updated else None
        return doc

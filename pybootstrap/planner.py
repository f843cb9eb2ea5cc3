"""The planner: a pure function from (manifest, hardware, request) to a plan, and the rules a build must pass.

The rules, in order (the first one a candidate breaks is its rejection): published for the OS and architecture;
wheels for the Python; the companions asked for exist; for CUDA builds an NVIDIA GPU, a driver at or above the
CUDA family's floor and the GPUs' own first driver, and code for every GPU (ArchList.serves). The choice: the
newest release, within it the highest CUDA variant; the CPU build only when no GPU build passes. How the choice
is explained lives in pybootstrap.plan_reasons.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, List, Optional, Tuple

from packaging.version import Version

from pybootstrap import plan_reasons as wording
from pybootstrap.manifest_model import DriverVersion, Manifest, Release, Variant, python_key, python_xy
from pybootstrap.plan_model import (
    PACKAGES,
    Build,
    Chosen,
    CommandBuilder,
    NoBuild,
    Outcome,
    Plan,
    Rejection,
    Request,
)
from pybootstrap.plan_reasons import cc_name, os_name, summarize_rejections
from pybootstrap.versions import matches

if TYPE_CHECKING:  # pragma: no cover - annotations only: the planner never runs detection
    from pybootstrap.machine import Gpu, Hardware

__all__ = ["PACKAGES", "Build", "Chosen", "NoBuild", "Outcome", "Plan", "Rejection", "Request", "evaluate",
           "index_url_for", "matches_torch", "os_name", "plan", "python_key", "python_xy", "summarize_rejections",
           "variant_order"]

Failure = Tuple[str, str]  # (rule, reason)


def matches_torch(release: Release, wanted: Optional[str]) -> bool:
    """--torch 2.5.1 matches exactly; --torch 2.5 matches any 2.5.x; no --torch matches every release."""
    return not wanted or matches(release.torch, wanted)


def variant_order(variant: Variant) -> Tuple[int, Version]:
    """Sort key: CUDA variants by CUDA version, above ROCm/XPU, above CPU."""
    rank = {"cuda": 2, "rocm": 1, "xpu": 1, "cpu": 0}[variant.kind]
    return rank, variant.cuda or Version("0")


def index_url_for(manifest: Manifest, variant: str, request: Request) -> Optional[str]:
    """Where pip gets the PyTorch packages: --index-url, else --mirror/<variant>, else the manifest's base."""
    if request.offline:
        return None
    if request.index_url:
        return request.index_url
    if request.mirror:
        return f"{request.mirror.rstrip('/')}/{variant}"
    return f"{manifest.index_base}/{variant}"


# --- the rules --------------------------------------------------------------------------------

def evaluate(manifest: Manifest, hw: "Hardware", request: Request, release: Release, variant: Variant) -> Outcome:
    """Check one candidate against every rule; the first failing rule is the rejection."""
    failure = (_check_platform(hw, release, variant) or _check_python(hw, release, variant)
               or _check_packages(request, release))
    if failure is None and variant.kind == "cuda":
        return _check_cuda(manifest, hw, request, release, variant)
    return Outcome(release, variant, _rejection(release, variant, failure))


def _rejection(release: Release, variant: Variant, failure: Optional[Failure]) -> Optional[Rejection]:
    return Rejection(f"{release.torch}+{variant.name}", failure[1], failure[0]) if failure else None


def _check_platform(hw: "Hardware", release: Release, variant: Variant) -> Optional[Failure]:
    if variant.available_on(hw.os, hw.arch):
        return None
    return "platform", (f"{variant.name} of torch {release.torch} has no wheels for {os_name(hw.os)} {hw.arch} "
                        f"(published for {wording.platforms_text(variant.platforms)})")


def _check_python(hw: "Hardware", release: Release, variant: Variant) -> Optional[Failure]:
    python = python_xy(hw.python_version)
    supported = release.python_for(variant, hw.os)
    if python in supported:
        return None
    return "python", (f"torch {release.torch} has no {os_name(hw.os)} wheels for Python {python} "
                      f"(it supports {wording.span(supported)})")


def _check_packages(request: Request, release: Release) -> Optional[Failure]:
    if not request.packages_explicit:
        return None
    for pkg in request.packages:
        if (pkg == "torchvision" and release.torchvision is None) or (pkg == "torchaudio" and
                                                                      release.torchaudio is None):
            return "packages", f"no {pkg} release is paired with torch {release.torch}"
    return None


def _check_cuda(manifest: Manifest, hw: "Hardware", request: Request, release: Release, variant: Variant) -> Outcome:
    """GPU present, driver at or above the floors, code for every GPU; notes for what is unknown."""
    explicit = request.variant == variant.name
    if not hw.nvidia_gpus and not explicit:
        return Outcome(release, variant, _rejection(release, variant, (
            "gpu", "no NVIDIA GPU was found, so a CUDA build cannot be used")))
    notes: List[str] = []
    if not hw.nvidia_gpus:
        notes.append(f"no NVIDIA GPU was found here; {variant.name} is planned only because "
                     f"{request.variant_from} asked for it (e.g. for a container image); on this machine torch "
                     "will run on the CPU")
    arch = _check_archs(hw, release, variant, notes)
    driver, floor = _check_driver(manifest, hw, variant, explicit, notes)
    return Outcome(release, variant, _rejection(release, variant, arch or driver),
                   driver_only=driver is not None and arch is None, floor=floor, notes=tuple(notes))


def gpu_driver_floor(manifest: Manifest, hw: "Hardware") -> Optional[Tuple[DriverVersion, "Gpu"]]:
    """The highest 'first driver for this architecture' among the GPUs (an older driver cannot use them)."""
    best: Optional[Tuple[DriverVersion, "Gpu"]] = None
    for gpu in hw.nvidia_gpus:
        if gpu.compute_capability is None:
            continue
        floor = manifest.arch_driver_floor(gpu.compute_capability, hw.os)
        if floor is not None and (best is None or floor > best[0]):
            best = (floor, gpu)
    return best


def _check_driver(manifest: Manifest, hw: "Hardware", variant: Variant, explicit: bool,
                  notes: List[str]) -> Tuple[Optional[Failure], DriverVersion]:
    assert variant.cuda is not None  # a CUDA variant (checked by the caller)
    floor = manifest.cuda_families[variant.cuda.major].min_driver[hw.os]
    gpu_floor = gpu_driver_floor(manifest, hw)
    needed = max(floor, gpu_floor[0]) if gpu_floor else floor
    family = f"CUDA {variant.cuda.major}.x on {os_name(hw.os)}"
    if hw.driver_version is None:
        if not explicit:
            return ("driver", f"the NVIDIA driver version is unknown; {family} needs driver {floor} or newer"), needed
        notes.append(f"the driver version is unknown; {variant.name} needs driver {floor} or newer ({family})")
        return None, needed
    if hw.driver_version < floor:
        return ("driver", f"driver {hw.driver_version} is older than {floor}, needed for {family}"), needed
    if gpu_floor is not None and hw.driver_version < gpu_floor[0]:
        gpu = gpu_floor[1]
        return ("driver", f"driver {hw.driver_version} is older than {gpu_floor[0]}, the first {os_name(hw.os)} "
                          f"driver for {cc_name(gpu)} GPUs ({gpu.name})"), needed
    return None, needed


def _check_archs(hw: "Hardware", release: Release, variant: Variant, notes: List[str]) -> Optional[Failure]:
    archs = variant.archs[hw.os]
    for gpu in hw.nvidia_gpus:
        if gpu.compute_capability is None:
            notes.append(f"compute capability of GPU {gpu.index} ({gpu.name}) is unknown, so {variant.name}'s "
                         "architectures could not be checked for it")
        elif not archs.serves(gpu.compute_capability):
            return "arch", (f"{variant.name} has no code for {cc_name(gpu)} ({gpu.name}); torch {release.torch} "
                            f"{variant.name} has {' '.join(archs.names())}")
    return None


def _candidates(manifest: Manifest, request: Request) -> List[Tuple[Release, Variant]]:
    """Releases newest first, variants highest first; ROCm/XPU only on request (AMD/Intel GPUs are not detected)."""
    return [(r, v) for r in manifest.releases if matches_torch(r, request.torch)
            for v in sorted(r.variants, key=variant_order, reverse=True)
            if (v.name == request.variant if request.variant else v.kind not in ("rocm", "xpu"))]


# --- the choice -----------------------------------------------------------------------------------

def plan(manifest: Manifest, hw: "Hardware", request: Request, *, commands: CommandBuilder) -> Plan:
    """Choose the newest build that will run here; explain the choice and every rejection.

    `commands` turns the build into its install commands (pybootstrap.installers.build_commands).
    """
    outcomes = [evaluate(manifest, hw, request, r, v) for r, v in _candidates(manifest, request)]
    passing = [o for o in outcomes if o.failure is None]
    # a GPU build (newest release, then highest variant) before the CPU build
    chosen = next((o for o in passing if o.variant.kind != "cpu"), None) or next(iter(passing), None)
    if chosen is None:
        reasons, advice = wording.no_build(manifest, hw, request, outcomes)
        return NoBuild(reasons=tuple(reasons), rejected=tuple(o.failure for o in outcomes if o.failure),
                       hardware=hw, request=request, manifest=manifest.describe(), advice=advice)
    build = _build(manifest, hw, request, chosen.release, chosen.variant)
    reasons, warnings = wording.choice_reasons(manifest, hw, request, outcomes, chosen, build)
    # every candidate preferred to the choice: newer releases, and for a CPU choice every GPU build
    rejected = tuple(o.failure for o in outcomes if o.failure and (
        o.release.torch >= chosen.release.torch or (chosen.variant.kind == "cpu" and o.variant.kind != "cpu")))
    return Chosen(build=build, commands=commands(build, request, hw.arch), reasons=tuple(reasons),
                  rejected=rejected, hardware=hw, request=request, manifest=manifest.describe(),
                  warnings=tuple(warnings))


def uses_conda(request: Request, release: Release, variant: Variant) -> bool:
    """conda installs the build only when asked for and the pytorch channel has it (up to 2.5); else pip does."""
    return request.installer == "conda" and release.on_conda and variant.conda is not None


def _build(manifest: Manifest, hw: "Hardware", request: Request, release: Release, variant: Variant) -> Build:
    use_conda = uses_conda(request, release, variant)
    vision = release.conda_torchvision if use_conda else release.torchvision
    audio = release.conda_torchaudio if use_conda else release.torchaudio
    return Build(
        torch=str(release.torch),
        torchvision=str(vision) if vision and "torchvision" in request.packages else None,
        torchaudio=str(audio) if audio and "torchaudio" in request.packages else None,
        variant=variant.name, cuda=str(variant.cuda) if variant.cuda else None,
        installer="conda" if use_conda else "pip",
        index_url=None if use_conda else index_url_for(manifest, variant.name, request),
        conda_channels=variant.conda.channels if use_conda and variant.conda else None,
        conda_cuda_package=variant.conda.package if use_conda and variant.conda else None,
        environment="conda" if request.installer == "conda" else "venv",
        pip_style=release.pip_style,
        archs=tuple(variant.archs[hw.os].names()) if variant.kind == "cuda" and hw.os in variant.archs else ())

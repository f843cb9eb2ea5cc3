"""The planner: a pure function from (manifest, hardware, request) to a plan with its reasons."""

from __future__ import annotations

import re
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

from packaging.version import Version

from pybootstrap.machine import Gpu, Hardware
from pybootstrap.manifest import DriverVersion, Manifest, Release, Variant

PACKAGES = ("torch", "torchvision", "torchaudio")
_OS_NAMES = {"windows": "Windows", "linux": "Linux", "macos": "macOS"}


class Request(NamedTuple):
    """What the user asked for; None means "choose automatically"."""

    torch: Optional[str] = None  # "2.5.1" exact, or "2.5" = the newest 2.5.x
    variant: Optional[str] = None
    installer: Optional[str] = None  # "pip" | "conda"
    packages: Tuple[str, ...] = PACKAGES
    packages_explicit: bool = False
    index_url: Optional[str] = None
    mirror: Optional[str] = None
    find_links: Tuple[str, ...] = ()
    offline: bool = False
    variant_from: str = "--variant"  # where `variant` came from, named in reasons (a flag, a variable, a folder)


class Build(NamedTuple):
    """The chosen build and where it comes from."""

    torch: str
    torchvision: Optional[str]
    torchaudio: Optional[str]
    variant: str
    cuda: Optional[str]
    installer: str  # "pip" | "conda"
    index_url: Optional[str]
    conda_channels: Optional[Tuple[str, ...]]
    conda_cuda_package: Optional[str]
    environment: str  # "venv" | "conda": where pip runs; conda-only for installer conda
    pip_style: str = "index-url"
    archs: Tuple[str, ...] = ()

    def to_dict(self) -> dict:
        """The build object of the plan document."""
        return {"torch": self.torch, "torchvision": self.torchvision, "torchaudio": self.torchaudio,
                "variant": self.variant, "cuda": self.cuda, "installer": self.installer,
                "index_url": self.index_url,
                "conda_channels": list(self.conda_channels) if self.conda_channels else None,
                "conda_cuda_package": self.conda_cuda_package, "environment": self.environment,
                "arch_list": list(self.archs)}


class Rejection(NamedTuple):
    """A candidate that failed a rule, and the rule with its numbers."""

    build: str
    reason: str
    rule: str

    def to_dict(self) -> dict:
        """The rejected[] entry of the plan document."""
        return {"build": self.build, "reason": self.reason, "rule": self.rule}


class Plan(NamedTuple):
    """The plan document: the build, the exact commands, and why."""

    status: str  # "ok" | "no-compatible-build"
    build: Optional[Build]
    reasons: Tuple[str, ...]
    rejected: Tuple[Rejection, ...]
    hardware: Hardware
    request: Request
    advice: Optional[str] = None
    warnings: Tuple[str, ...] = ()
    commands: Tuple[Tuple[str, ...], ...] = ()  # filled by the flow (installers.build_commands), not the planner

    def to_dict(self) -> dict:
        """The plan document without its schema key."""
        return {"status": self.status, "build": self.build.to_dict() if self.build else None,
                "commands": [list(c) for c in self.commands], "reasons": list(self.reasons),
                "rejected": [r.to_dict() for r in self.rejected], "warnings": list(self.warnings),
                "advice": self.advice, "hardware": self.hardware.to_dict()}


class _Outcome:
    """One candidate's result while planning (mutable scratch state, never returned)."""

    __slots__ = ("release", "variant", "failure", "driver_only", "notes")

    def __init__(self, release: Release, variant: Variant) -> None:
        self.release = release
        self.variant = variant
        self.failure: Optional[Rejection] = None
        self.driver_only = False  # failed on the driver floor alone
        self.notes: List[str] = []


# --- helpers ----------------------------------------------------------------------------------

def python_xy(version: str) -> str:
    """'3.11.7' -> '3.11': the part of a Python version that wheels are built for."""
    return ".".join(version.split(".")[:2])


def python_key(version: str) -> Tuple[int, ...]:
    """Sort key for Python versions: '3.9' < '3.10'."""
    return tuple(int(p) for p in version.split(".") if p.isdigit())


def _span(versions: Sequence[str]) -> str:
    ordered = sorted(set(versions), key=python_key)
    return "none" if not ordered else ordered[0] if len(ordered) == 1 else f"{ordered[0]}-{ordered[-1]}"


def _cc(gpu: Gpu) -> str:
    return f"sm_{gpu.compute_capability[0]}{gpu.compute_capability[1]}" if gpu.compute_capability else "sm_?"


def matches_torch(release: Release, wanted: Optional[str]) -> bool:
    """--torch 2.5.1 matches exactly; --torch 2.5 matches any 2.5.x."""
    if not wanted:
        return True
    if re.fullmatch(r"\d+\.\d+", wanted):
        return release.torch.release[:2] == Version(wanted).release[:2]
    return release.torch == Version(wanted)


def variant_order(variant: Variant) -> Tuple[int, Version]:
    """Sort key: CUDA variants by CUDA version, above CPU."""
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

def os_name(os_id: str) -> str:
    """'windows' -> 'Windows', as users write it in reasons."""
    return _OS_NAMES.get(os_id, os_id)


def evaluate(manifest: Manifest, hw: Hardware, request: Request, release: Release, variant: Variant) -> _Outcome:
    """Check one candidate against every rule; the first failing rule is the rejection."""
    out = _Outcome(release, variant)
    failure = (_check_platform(hw, release, variant) or _check_python(hw, release, variant)
               or _check_packages(request, release))
    if failure is None and variant.kind == "cuda":
        failure = _check_cuda(manifest, hw, request, out)
    if failure is not None:
        out.failure = Rejection(f"{release.torch}+{variant.name}", failure[1], failure[0])
    return out


def _check_platform(hw: Hardware, release: Release, variant: Variant) -> Optional[Tuple[str, str]]:
    if variant.available_on(hw.os, hw.arch):
        return None
    where = ", ".join(f"{os_name(o)} {'/'.join(a)}" for o, a in variant.platforms.items())
    return "platform", (f"{variant.name} of torch {release.torch} has no wheels for {os_name(hw.os)} {hw.arch} "
                        f"(published for {where})")


def _check_python(hw: Hardware, release: Release, variant: Variant) -> Optional[Tuple[str, str]]:
    python = python_xy(hw.python_version)
    supported = release.python_for(variant, hw.os)
    if python in supported:
        return None
    return "python", (f"torch {release.torch} has no {os_name(hw.os)} wheels for Python {python} "
                      f"(it supports {_span(supported)})")


def _check_packages(request: Request, release: Release) -> Optional[Tuple[str, str]]:
    if not request.packages_explicit:
        return None
    for pkg in request.packages:
        if pkg != "torch" and getattr(release, pkg) is None:
            return "packages", f"no {pkg} release is paired with torch {release.torch}"
    return None


def _check_cuda(manifest: Manifest, hw: Hardware, request: Request, out: _Outcome) -> Optional[Tuple[str, str]]:
    """GPU present, driver at or above the family floor, code for every GPU; notes for what is unknown."""
    variant = out.variant
    explicit = request.variant == variant.name
    if not hw.nvidia_gpus and not explicit:
        return "gpu", "no NVIDIA GPU was found, so a CUDA build cannot be used"
    if not hw.nvidia_gpus:
        out.notes.append(f"no NVIDIA GPU was found here; {variant.name} is planned only because "
                         f"{request.variant_from} asked for it (e.g. for a container image); on this machine torch "
                         "will run on the CPU")
    arch = _check_archs(hw, out)
    driver = _check_driver(manifest, hw, variant, explicit, out)
    out.driver_only = driver is not None and arch is None
    return arch or driver


def _gpu_floor(manifest: Manifest, hw: Hardware) -> Optional[Tuple[DriverVersion, Gpu]]:
    """The highest 'first driver for this architecture' among the GPUs (an older driver cannot use them)."""
    best: Optional[Tuple[DriverVersion, Gpu]] = None
    for gpu in hw.nvidia_gpus:
        if gpu.compute_capability is None:
            continue
        floor = manifest.arch_driver_floor(gpu.compute_capability, hw.os)
        if floor is not None and (best is None or floor > best[0]):
            best = (floor, gpu)
    return best


def _check_driver(manifest: Manifest, hw: Hardware, variant: Variant, explicit: bool,
                  out: _Outcome) -> Optional[Tuple[str, str]]:
    floor = manifest.cuda_families[variant.cuda.major].min_driver[hw.os]
    family = f"CUDA {variant.cuda.major}.x on {os_name(hw.os)}"
    if hw.driver_version is None:
        if not explicit:
            return "driver", f"the NVIDIA driver version is unknown; {family} needs driver {floor} or newer"
        out.notes.append(f"the driver version is unknown; {variant.name} needs driver {floor} or newer "
                         f"({family})")
        return None
    if hw.driver_version < floor:
        return "driver", f"driver {hw.driver_version} is older than {floor}, needed for {family}"
    gpu_floor = _gpu_floor(manifest, hw)
    if gpu_floor is not None and hw.driver_version < gpu_floor[0]:
        gpu = gpu_floor[1]
        return "driver", (f"driver {hw.driver_version} is older than {gpu_floor[0]}, the first {os_name(hw.os)} "
                          f"driver for {_cc(gpu)} GPUs ({gpu.name})")
    return None


def _check_archs(hw: Hardware, out: _Outcome) -> Optional[Tuple[str, str]]:
    variant = out.variant
    archs = variant.archs[hw.os]
    for gpu in hw.nvidia_gpus:
        if gpu.compute_capability is None:
            out.notes.append(f"compute capability of GPU {gpu.index} ({gpu.name}) is unknown, so {variant.name}'s "
                             "architectures could not be checked for it")
        elif not archs.serves(gpu.compute_capability):
            return "arch", (f"{variant.name} has no code for {_cc(gpu)} ({gpu.name}); torch {out.release.torch} "
                            f"{variant.name} has {' '.join(archs.names())}")
    return None


def _candidates(manifest: Manifest, request: Request) -> List[Tuple[Release, Variant]]:
    """Releases newest first, variants highest first; ROCm/XPU only on request (AMD/Intel GPUs are not detected)."""
    return [(r, v) for r in manifest.releases if matches_torch(r, request.torch)
            for v in sorted(r.variants, key=variant_order, reverse=True)
            if (v.name == request.variant if request.variant else v.kind not in ("rocm", "xpu"))]


def plan(manifest: Manifest, hw: Hardware, request: Request) -> Plan:
    """Choose the newest build that will run here; explain the choice and every rejection."""
    outcomes = [evaluate(manifest, hw, request, r, v) for r, v in _candidates(manifest, request)]
    passing = [o for o in outcomes if o.failure is None]
    # a GPU build (newest release, then highest variant) before the CPU build
    chosen = next((o for o in passing if o.variant.kind != "cpu"), None) or next(iter(passing), None)
    if chosen is None:
        return _no_build(manifest, hw, request, outcomes)
    reasons, warnings = _choice_reasons(manifest, hw, request, outcomes, chosen)
    build, more = _build(manifest, hw, request, chosen.release, chosen.variant)
    # every candidate preferred to the choice: newer releases, and for a CPU choice every GPU build
    rejected = tuple(o.failure for o in outcomes if o.failure and (
        o.release.torch >= chosen.release.torch or (chosen.variant.kind == "cpu" and o.variant.kind != "cpu")))
    return Plan(status="ok", build=build, reasons=tuple(reasons + more),
                rejected=rejected, hardware=hw, request=request, warnings=tuple(warnings))


def _choice_reasons(manifest: Manifest, hw: Hardware, request: Request, outcomes: List[_Outcome],
                    chosen: _Outcome) -> Tuple[List[str], List[str]]:
    release, variant = chosen.release, chosen.variant
    reasons, warnings = _hardware_reasons(hw), list(chosen.notes)
    if variant.kind == "cuda":
        reasons.append(_cuda_reason(manifest, hw, release, variant, request))
    elif variant.kind == "cpu":
        reasons.extend(_cpu_reasons(manifest, hw, request, outcomes))
        if hw.nvidia_gpus and not request.variant:
            warnings.insert(0, reasons[-1])
        elif hw.error and not request.variant:
            warnings.insert(0, f"{hw.error.message}: {hw.error.advice}")
    else:
        reasons.append(f"{variant.name} was requested with {request.variant_from}")
    newer = {o.release.torch for o in outcomes if o.release.torch > release.torch and o.variant.kind != "cpu"}
    if newer and variant.kind != "cpu":
        reasons.append(f"torch {release.torch} is the newest release with a {variant.kind.upper()} build that passes "
                       f"every rule; the {variant.kind.upper()} builds of {len(newer)} newer release(s) were "
                       "rejected (see 'rejected')")
    elif not any(o.release.torch > release.torch for o in outcomes):
        reasons.append(f"torch {release.torch} is the newest release in the manifest that fits"
                       + (f" --torch {request.torch}" if request.torch else ""))
    return reasons + chosen.notes, warnings


def _hardware_reasons(hw: Hardware) -> List[str]:
    out = []
    gpus = hw.nvidia_gpus
    if gpus:
        names = "; ".join(f"{g.name or f'GPU {g.index}'} ({_cc(g)}"
                          + (f", from the {g.cc_source}" if g.cc_source and g.cc_source != "nvidia-smi" else "")
                          + ")" for g in gpus)
        out.append(f"NVIDIA GPU(s): {names}; driver {hw.driver_version or 'unknown'}"
                   + (f" (supports CUDA up to {hw.cuda_version})" if hw.cuda_version else ""))
    others = [g for g in hw.gpus + hw.other_adapters if g.vendor != "nvidia"]
    if others:
        out.append("other display adapters (" + ", ".join(g.name for g in others) + ") do not count for CUDA")
    out.extend(f"what-if: {o}" for o in hw.overrides)
    return out


def _cuda_reason(manifest: Manifest, hw: Hardware, release: Release, variant: Variant, request: Request) -> str:
    floor = manifest.cuda_families[variant.cuda.major].min_driver[hw.os]
    family = f"CUDA {variant.cuda.major}.x"
    source = f" (from {request.variant_from})" if request.variant else ""
    driver = (f"driver {hw.driver_version} meets the {family} floor {floor} on {os_name(hw.os)}"
              if hw.driver_version else f"the driver version is unknown ({family} needs {floor} or newer)")
    ccs = sorted({_cc(g) for g in hw.nvidia_gpus if g.compute_capability}, key=lambda s: int(s[3:]))
    code = f", and the build has code for {', '.join(ccs)}" if ccs else ""
    runtime = ("the pytorch-cuda package brings the CUDA runtime" if request.installer == "conda"
               and release.on_conda and variant.conda is not None else "the wheel bundles the CUDA runtime")
    return (f"{variant.name}{source}: the highest CUDA variant of torch {release.torch} that this machine can run: "
            f"{driver}{code}. {runtime[0].upper()}{runtime[1:]}: no CUDA toolkit is needed")


def _cpu_reasons(manifest: Manifest, hw: Hardware, request: Request, outcomes: List[_Outcome]) -> List[str]:
    if request.variant == "cpu":
        return [f"{request.variant_from} asked for the CPU build"]
    if not hw.nvidia_gpus:
        why = hw.error.message if hw.error else "no NVIDIA GPU was found"
        return [f"CPU build: {why}, so CUDA cannot be used"
                + (" (on Linux from the cpu index, not PyPI's default CUDA wheel)"
                   if hw.os == "linux" and request.installer != "conda" else "")]
    loud = "CPU BUILD, ALTHOUGH AN NVIDIA GPU IS PRESENT: "
    unlock = [o for o in outcomes if o.driver_only]
    if unlock:
        return [loud + _unlock_reason(manifest, hw, unlock)]
    if any(o.failure and o.failure.rule == "arch" for o in outcomes):
        return [loud + _arch_reason(hw, outcomes)]
    failure = next((o.failure for o in outcomes if o.failure and o.variant.kind == "cuda"), None)
    return [loud + "no CUDA build fits" + (f" ({failure.reason})" if failure else "")]


def _floor(manifest: Manifest, hw: Hardware, outcome: _Outcome) -> DriverVersion:
    floor = manifest.cuda_families[outcome.variant.cuda.major].min_driver[hw.os]
    gpu_floor = _gpu_floor(manifest, hw)
    return max(floor, gpu_floor[0]) if gpu_floor else floor


def _unlock_reason(manifest: Manifest, hw: Hardware, unlock: List[_Outcome]) -> str:
    """Which driver would unlock which build: the newest build, and the one with the lowest floor."""
    newest = unlock[0]
    cheapest = min(unlock, key=lambda o: _floor(manifest, hw, o))
    what = (f"driver {hw.driver_version} is too old for every CUDA build that has code for this GPU"
            if hw.driver_version else "the NVIDIA driver version is unknown (is the driver installed?)")
    text = (f"{what}. Installing NVIDIA driver "
            f"{_floor(manifest, hw, newest)} or newer would unlock torch {newest.release.torch} {newest.variant.name}")
    if _floor(manifest, hw, cheapest) < _floor(manifest, hw, newest):
        text += (f"; driver {_floor(manifest, hw, cheapest)} or newer would unlock torch "
                 f"{cheapest.release.torch} {cheapest.variant.name}")
    return text


def _arch_reason(hw: Hardware, outcomes: List[_Outcome]) -> str:
    """No CUDA build has code for every GPU: say which build each GPU alone could use."""
    alone = []
    for gpu in hw.nvidia_gpus:
        if gpu.compute_capability is None:
            continue
        fit = next((o for o in outcomes if o.variant.kind == "cuda" and (o.failure is None or o.failure.rule == "arch")
                    and o.variant.archs[hw.os].serves(gpu.compute_capability)), None)
        alone.append(f"{gpu.name} ({_cc(gpu)}): "
                     + (f"torch {fit.release.torch} {fit.variant.name}" if fit else "none"))
    text = "no CUDA build that fits the other rules has code for every GPU"
    if len(hw.nvidia_gpus) > 1:
        text += ("; builds each GPU could use alone: " + ", ".join(alone)
                 + " (hide the others with CUDA_VISIBLE_DEVICES and plan with --variant to use one)")
    else:
        first = next(o.failure for o in outcomes if o.failure and o.failure.rule == "arch")
        text += f" ({first.reason})"
    return text


def _build(manifest: Manifest, hw: Hardware, request: Request, release: Release,
           variant: Variant) -> Tuple[Build, List[str]]:
    use_conda = request.installer == "conda" and release.on_conda and variant.conda is not None
    reasons: List[str] = []
    if request.installer == "conda" and not use_conda:
        why = "the channel ended with 2.5" if not release.on_conda else "the channel has no package of this variant"
        reasons.append(f"torch {release.torch} {variant.name} is not on the pytorch conda channel ({why}), "
                       "so pip installs it from the PyTorch index inside the conda environment")
    vision = release.conda_torchvision if use_conda else release.torchvision
    audio = release.conda_torchaudio if use_conda else release.torchaudio
    for name, version in (("torchvision", vision), ("torchaudio", audio)):
        if name in request.packages and version is None:
            reasons.append(f"{name} is skipped: no release is paired with torch {release.torch}")
    build = Build(
        torch=str(release.torch),
        torchvision=str(vision) if vision and "torchvision" in request.packages else None,
        torchaudio=str(audio) if audio and "torchaudio" in request.packages else None,
        variant=variant.name, cuda=str(variant.cuda) if variant.cuda else None,
        installer="conda" if use_conda else "pip",
        index_url=None if use_conda else index_url_for(manifest, variant.name, request),
        conda_channels=variant.conda.channels if use_conda else None,
        conda_cuda_package=variant.conda.package if use_conda else None,
        environment="conda" if request.installer == "conda" else "venv",
        pip_style=release.pip_style,
        archs=tuple(variant.archs[hw.os].names()) if variant.kind == "cuda" and hw.os in variant.archs else ())
    return build, reasons + _source_reasons(build, request)


def _source_reasons(build: Build, request: Request) -> List[str]:
    if build.installer == "conda":
        ignored = [flag for flag, value in (("--index-url", request.index_url), ("--mirror", request.mirror),
                                            ("--find-links", request.find_links)) if value]
        return ([f"conda installs from the channels {', '.join(build.conda_channels or ())}"]
                + ([f"{' and '.join(ignored)} apply to pip only, not to conda"] if ignored else [])
                + (["offline: conda uses only its package cache (--offline)"] if request.offline else []))
    if request.offline:
        return ["offline: pip reads only the --find-links folders (" + ", ".join(request.find_links) + ")"]
    if request.index_url:
        return [f"index {request.index_url} (from --index-url)"]
    if request.mirror:
        return [f"index {build.index_url} (from --mirror)"]
    return []


def _no_build(manifest: Manifest, hw: Hardware, request: Request, outcomes: List[_Outcome]) -> Plan:
    constraints = [f"--{flag} {value}" for flag, value in (("torch", request.torch), ("variant", request.variant))
                   if value]
    if request.packages_explicit:
        constraints.append("--packages " + ",".join(request.packages))
    where = f"{os_name(hw.os)} {hw.arch}"
    if not outcomes:
        reason = f"no build in the manifest matches {' and '.join(constraints) or 'the request'}"
        advice = ("Check the version and variant names: `pybootstrap manifest show` lists every release and "
                  "variant in the manifest.")
    elif all(o.failure and o.failure.rule in ("python", "platform") for o in outcomes):
        reason, advice = _python_advice(hw, outcomes, where, constraints)
    else:
        reason = "no build satisfies every rule" + (f" with {' and '.join(constraints)}" if constraints else "")
        first = next(o.failure for o in outcomes if o.failure)
        advice = (f"Relax the constraints ({' / '.join(constraints) or 'none given'}), or see 'rejected' for the "
                  f"rule each build broke, e.g.: {first.reason}.")
    return Plan(status="no-compatible-build", build=None, reasons=tuple(_hardware_reasons(hw) + [reason]),
                rejected=tuple(o.failure for o in outcomes if o.failure), hardware=hw, request=request, advice=advice)


def _python_advice(hw: Hardware, outcomes: List[_Outcome], where: str, constraints: List[str]) -> Tuple[str, str]:
    """No build for this Python (or platform): name the Python versions that would work."""
    pythons = sorted({p for o in outcomes if o.variant.available_on(hw.os, hw.arch)
                      for p in o.release.python_for(o.variant, hw.os)}, key=python_key)
    if not pythons:
        return (f"no build is published for {where}",
                "PyTorch publishes wheels for Windows x86_64 and Linux x86_64/arm64.")
    scope = f" with {' and '.join(constraints)}" if constraints else ""
    return (f"no build supports Python {python_xy(hw.python_version)} on {where}{scope}",
            f"Use a Python that has PyTorch wheels{scope}: {', '.join(pythons)} "
            f"(e.g. --python-version {pythons[-1]}, or --python PATH / --conda-env with one of them).")


def summarize_rejections(plan_: Plan, limit: int = 8) -> List[str]:
    """A few rejections for the human output, most relevant first."""
    seen: Dict[str, str] = {}
    for r in plan_.rejected:  # one line per distinct reason, ignoring which release it was
        seen.setdefault(r.rule + re.sub(r"\btorch \d\S*", "", r.reason), f"{r.build}: {r.reason}")
    return list(seen.values())[:limit]

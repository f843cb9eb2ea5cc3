"""The planner: a pure function from (manifest, hardware, request) to a plan with its reasons."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

from packaging.version import Version

from pybootstrap.hardware import Gpu, Hardware
from pybootstrap.manifest import Manifest, Release, Variant

PACKAGES = ("torch", "torchvision", "torchaudio")


@dataclass(frozen=True)
class Request:
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


@dataclass(frozen=True)
class Build:
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


@dataclass(frozen=True)
class Rejection:
    """A candidate that failed a rule, and the rule with its numbers."""

    build: str
    reason: str
    rule: str

    def to_dict(self) -> dict:
        """The rejected[] entry of the plan document."""
        return {"build": self.build, "reason": self.reason, "rule": self.rule}


@dataclass(frozen=True)
class Plan:
    """The plan document: the build, the exact commands, and why."""

    status: str  # "ok" | "no-compatible-build"
    build: Optional[Build]
    commands: Tuple[Tuple[str, ...], ...]
    reasons: Tuple[str, ...]
    rejected: Tuple[Rejection, ...]
    hardware: Hardware
    request: Request
    advice: Optional[str] = None
    warnings: Tuple[str, ...] = ()

    def to_dict(self) -> dict:
        """The plan document without its schema key."""
        return {"status": self.status, "build": self.build.to_dict() if self.build else None,
                "commands": [list(c) for c in self.commands], "reasons": list(self.reasons),
                "rejected": [r.to_dict() for r in self.rejected], "warnings": list(self.warnings),
                "advice": self.advice, "hardware": self.hardware.to_dict()}


@dataclass
class _Outcome:
    release: Release
    variant: Variant
    failure: Optional[Rejection] = None
    driver_only: bool = False  # failed on the driver floor alone
    notes: List[str] = field(default_factory=list)


# --- helpers ----------------------------------------------------------------------------------

def _label(release: Release, variant: Variant) -> str:
    return f"{release.torch}+{variant.name}"


def _py_xy(version: str) -> str:
    parts = version.split(".")
    return ".".join(parts[:2])


def _span(versions: Sequence[str]) -> str:
    ordered = sorted(set(versions), key=lambda v: tuple(int(p) for p in v.split(".")))
    if not ordered:
        return "none"
    return ordered[0] if len(ordered) == 1 else f"{ordered[0]}-{ordered[-1]}"


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

def evaluate(manifest: Manifest, hw: Hardware, request: Request, release: Release, variant: Variant) -> _Outcome:
    """Check one candidate against every rule; the first failing rule is the rejection."""
    out = _Outcome(release, variant)
    label = _label(release, variant)

    def reject(rule: str, reason: str, driver_only: bool = False) -> _Outcome:
        out.failure = Rejection(label, reason, rule)
        out.driver_only = driver_only
        return out

    if not variant.available_on(hw.os, hw.arch):
        where = ", ".join(f"{o} {'/'.join(a)}" for o, a in variant.platforms.items())
        return reject("platform", f"{variant.name} of torch {release.torch} has no wheels for {hw.os} {hw.arch} "
                                  f"(published for {where})")
    python = _py_xy(hw.python_version)
    supported = release.python_for(variant, hw.os)
    if python not in supported:
        return reject("python", f"torch {release.torch} has no {hw.os} wheels for Python {python} "
                                f"(it supports {_span(supported)})")
    for pkg in request.packages:
        if pkg != "torch" and request.packages_explicit and getattr(release, pkg) is None:
            return reject("packages", f"no {pkg} release is paired with torch {release.torch}")
    if variant.kind != "cuda":
        return out
    gpus = hw.nvidia_gpus
    explicit = request.variant == variant.name
    if not gpus and not explicit:
        return reject("gpu", "no NVIDIA GPU was found, so a CUDA build cannot be used")
    family = manifest.cuda_families[variant.cuda.major]
    floor = family.min_driver[hw.os]
    if hw.driver_version is None:
        if not explicit:
            return reject("driver", f"the NVIDIA driver version is unknown; CUDA {variant.cuda.major}.x needs "
                                    f"driver {floor} or newer on {hw.os}")
        out.notes.append(f"the driver version is unknown; {variant.name} needs driver {floor} or newer on {hw.os}")
    elif hw.driver_version < floor:
        return reject("driver", f"driver {hw.driver_version} is older than {floor}, needed for CUDA "
                                f"{variant.cuda.major}.x on {hw.os}", driver_only=True)
    archs = variant.archs[hw.os]
    for gpu in gpus:
        if gpu.compute_capability is None:
            out.notes.append(f"compute capability of GPU {gpu.index} ({gpu.name}) is unknown, so {variant.name}'s "
                             "architectures could not be checked for it")
            continue
        if not archs.serves(gpu.compute_capability):
            result = reject("arch", f"{variant.name} of torch {release.torch} has no code for {_cc(gpu)} "
                                    f"({gpu.name}); it has {' '.join(archs.names())}")
            return result
    return out


def _candidates(manifest: Manifest, request: Request) -> List[Tuple[Release, Variant]]:
    wanted_variant = request.variant
    out = []
    for release in manifest.releases:
        if not matches_torch(release, request.torch):
            continue
        for variant in sorted(release.variants, key=variant_order, reverse=True):
            if wanted_variant and variant.name != wanted_variant:
                continue
            if not wanted_variant and variant.kind in ("rocm", "xpu"):
                continue  # chosen only on request: pybootstrap does not detect AMD or Intel GPUs
            out.append((release, variant))
    return out


def plan(manifest: Manifest, hw: Hardware, request: Request) -> Plan:
    """Choose the newest build that will run here; explain the choice and every rejection."""
    outcomes = [evaluate(manifest, hw, request, r, v) for r, v in _candidates(manifest, request)]
    passing = [o for o in outcomes if o.failure is None]
    reasons: List[str] = []
    warnings: List[str] = []
    gpus = hw.nvidia_gpus
    chosen = next((o for o in passing if o.variant.kind != "cpu"), None)
    if chosen is None:
        chosen = next((o for o in passing), None)
    if chosen is None:
        return _no_build(manifest, hw, request, outcomes)
    release, variant = chosen.release, chosen.variant
    reasons.extend(_hardware_reasons(hw))
    if variant.kind == "cuda":
        reasons.append(_cuda_reason(manifest, hw, release, variant, request))
    elif variant.kind == "cpu":
        reasons.extend(_cpu_reasons(manifest, hw, request, outcomes, release))
        if gpus and not request.variant:
            warnings.append(reasons[-1])
    else:
        reasons.append(f"{variant.name} was requested with --variant")
    newer = [o for o in outcomes if o.release.torch > release.torch and o.failure]
    if newer and variant.kind != "cpu":
        reasons.append(f"torch {release.torch} is the newest release that passes every rule; "
                       f"{len({o.release.torch for o in newer})} newer release(s) were rejected (see 'rejected')")
    elif not newer:
        reasons.append(f"torch {release.torch} is the newest release in the manifest that fits"
                       + (f" --torch {request.torch}" if request.torch else ""))
    reasons.extend(chosen.notes)
    warnings.extend(chosen.notes)
    build, more = _build(manifest, hw, request, release, variant)
    reasons.extend(more)
    from pybootstrap.installers import build_commands

    rejected = tuple(o.failure for o in outcomes if o.failure and o.release.torch >= release.torch)
    return Plan(status="ok", build=build, commands=build_commands(build, request), reasons=tuple(reasons),
                rejected=rejected, hardware=hw, request=request, warnings=tuple(warnings))


def _hardware_reasons(hw: Hardware) -> List[str]:
    out = []
    gpus = hw.nvidia_gpus
    if gpus:
        names = "; ".join(f"{g.name} ({_cc(g)}"
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
    family = manifest.cuda_families[variant.cuda.major]
    source = " (from --variant)" if request.variant else ""
    return (f"{variant.name}{source}: the highest CUDA variant of torch {release.torch} that this machine can run: "
            f"driver {hw.driver_version or 'unknown'} meets the CUDA {variant.cuda.major}.x floor "
            f"{family.min_driver[hw.os]} on {hw.os}, and the build has code for "
            + (", ".join(sorted({_cc(g) for g in hw.nvidia_gpus})) or "the GPU")
            + ". The wheel bundles the CUDA runtime: no CUDA toolkit is needed")


def _cpu_reasons(manifest: Manifest, hw: Hardware, request: Request, outcomes: List[_Outcome],
                 release: Release) -> List[str]:
    if request.variant == "cpu":
        return ["the CPU build was requested with --variant cpu"]
    gpus = hw.nvidia_gpus
    if not gpus:
        why = hw.error.message if hw.error else "no NVIDIA GPU was found"
        return [f"CPU build: {why}, so CUDA cannot be used"
                + (" (on Linux from the cpu index, not PyPI's default CUDA wheel)" if hw.os == "linux" else "")]
    unlock = next((o for o in outcomes if o.driver_only), None)
    if unlock is not None:
        floor = manifest.cuda_families[unlock.variant.cuda.major].min_driver[hw.os]
        return [f"CPU BUILD, ALTHOUGH AN NVIDIA GPU IS PRESENT: driver {hw.driver_version or 'unknown'} is too old "
                f"for every CUDA build that has code for this GPU. Installing NVIDIA driver {floor} or newer would "
                f"unlock torch {unlock.release.torch} {unlock.variant.name}"]
    arch_fail = next((o for o in outcomes if o.failure and o.failure.rule == "arch"), None)
    if arch_fail is not None:
        return ["CPU BUILD, ALTHOUGH AN NVIDIA GPU IS PRESENT: no CUDA build in the manifest that fits the other "
                f"constraints has code for every GPU ({arch_fail.failure.reason})"]
    failure = next((o.failure for o in outcomes if o.failure and o.variant.kind == "cuda"), None)
    return ["CPU BUILD, ALTHOUGH AN NVIDIA GPU IS PRESENT: no CUDA build fits"
            + (f" ({failure.reason})" if failure else "")]


def _build(manifest: Manifest, hw: Hardware, request: Request, release: Release,
           variant: Variant) -> Tuple[Build, List[str]]:
    reasons: List[str] = []
    use_conda = request.installer == "conda" and release.on_conda and variant.conda is not None
    if request.installer == "conda" and not use_conda:
        reasons.append(f"torch {release.torch} {variant.name} is not on the pytorch conda channel (it ended with 2.5), "
                       "so pip installs it from the PyTorch index inside the conda environment")
    vision = release.conda_torchvision if use_conda else release.torchvision
    audio = release.conda_torchaudio if use_conda else release.torchaudio
    packages = set(request.packages)
    if "torchvision" in packages and vision is None:
        reasons.append(f"torchvision is skipped: no release is paired with torch {release.torch}")
    if "torchaudio" in packages and audio is None:
        reasons.append(f"torchaudio is skipped: no release is paired with torch {release.torch}")
    build = Build(
        torch=str(release.torch),
        torchvision=str(vision) if vision and "torchvision" in packages else None,
        torchaudio=str(audio) if audio and "torchaudio" in packages else None,
        variant=variant.name, cuda=str(variant.cuda) if variant.cuda else None,
        installer="conda" if use_conda else "pip",
        index_url=None if use_conda else index_url_for(manifest, variant.name, request),
        conda_channels=variant.conda.channels if use_conda else None,
        conda_cuda_package=variant.conda.package if use_conda else None,
        environment="conda" if request.installer == "conda" else "venv",
        pip_style=release.pip_style,
        archs=tuple(variant.archs[hw.os].names()) if variant.kind == "cuda" and hw.os in variant.archs else ())
    if request.offline:
        reasons.append("offline: pip reads only the --find-links folders (" + ", ".join(request.find_links) + ")")
    elif request.index_url:
        reasons.append(f"index {request.index_url} (from --index-url)")
    elif request.mirror:
        reasons.append(f"index {build.index_url} (from --mirror)")
    return build, reasons


def _no_build(manifest: Manifest, hw: Hardware, request: Request, outcomes: List[_Outcome]) -> Plan:
    python = _py_xy(hw.python_version)
    rejected = tuple(o.failure for o in outcomes if o.failure)
    constraints = []
    if request.torch:
        constraints.append(f"--torch {request.torch}")
    if request.variant:
        constraints.append(f"--variant {request.variant}")
    if not outcomes:
        what = " and ".join(constraints) or "the request"
        advice = ("Check the version and variant names: `pybootstrap manifest show` lists every release and "
                  "variant in the manifest.")
        reason = f"no build in the manifest matches {what}"
    elif all(o.failure and o.failure.rule in ("python", "platform") for o in outcomes):
        pythons = sorted({p for o in outcomes if o.variant.available_on(hw.os, hw.arch)
                          for p in o.release.python_for(o.variant, hw.os)},
                         key=lambda v: tuple(int(x) for x in v.split(".")))
        if pythons:
            reason = f"no build supports Python {python} on {hw.os} {hw.arch}"
            advice = (f"Use a Python that has PyTorch wheels: {', '.join(pythons)} "
                      f"(e.g. --python-version {pythons[-1]}, or --python PATH / --conda-env with one of them).")
        else:
            reason = f"no build is published for {hw.os} {hw.arch}"
            advice = "PyTorch publishes wheels for Windows x86_64 and Linux x86_64/arm64."
    else:
        reason = "no build satisfies every rule" + (f" with {' and '.join(constraints)}" if constraints else "")
        first = next((o.failure for o in outcomes if o.failure), None)
        advice = ("Relax the constraints (drop --torch/--variant), or see 'rejected' for the rule each build broke"
                  + (f", e.g.: {first.reason}" if first else "") + ".")
    return Plan(status="no-compatible-build", build=None, commands=(), reasons=tuple(_hardware_reasons(hw) + [reason]),
                rejected=rejected, hardware=hw, request=request, advice=advice)


def summarize_rejections(plan_: Plan, limit: int = 8) -> List[str]:
    """A few rejections for the human output, most relevant first."""
    seen: Dict[str, int] = {}
    out = []
    for r in plan_.rejected:
        key = r.rule + r.reason.split(" of torch")[0]
        if seen.get(key):
            continue
        seen[key] = 1
        out.append(f"{r.build}: {r.reason}")
        if len(out) >= limit:
            break
    return out

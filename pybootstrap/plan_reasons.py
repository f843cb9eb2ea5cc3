"""The wording of a plan: why this build, why no build, what to do. Reads the planner's verdicts, decides nothing."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

from pybootstrap.manifest_model import Capability, Manifest, python_key, python_xy
from pybootstrap.plan_model import Build, Chosen, NoBuild, Outcome, Request

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from pybootstrap.machine import Gpu, Hardware

_OS_NAMES = {"windows": "Windows", "linux": "Linux", "macos": "macOS"}

#: Architecture names by compute capability (NVIDIA, https://developer.nvidia.com/cuda-gpus and the legacy page;
#: facts: pytorch-cuda.md 4c). Looked up by (major, minor), then by major.
ARCH_FAMILIES: Dict[Union[Tuple[int, int], int], str] = {
    3: "Kepler", 5: "Maxwell", 6: "Pascal", (7, 0): "Volta", (7, 2): "Volta", (7, 5): "Turing", 8: "Ampere",
    (8, 9): "Ada Lovelace", 9: "Hopper", 10: "Blackwell", 11: "Blackwell", 12: "Blackwell"}


def os_name(os_id: str) -> str:
    """'windows' -> 'Windows', as users write it in reasons."""
    return _OS_NAMES.get(os_id, os_id)


def cc_name(gpu: "Gpu") -> str:
    """'sm_61' for a GPU of compute capability 6.1; 'sm_?' when unknown."""
    return f"sm_{gpu.compute_capability[0]}{gpu.compute_capability[1]}" if gpu.compute_capability else "sm_?"


def arch_family(cc: Capability) -> Optional[str]:
    """(6, 1) -> 'Pascal'; None for a capability NVIDIA has not named here."""
    return ARCH_FAMILIES.get(cc) or ARCH_FAMILIES.get(cc[0])


def span(versions: Iterable[str]) -> str:
    """['3.10', '3.9', '3.11'] -> '3.9-3.11'."""
    ordered = sorted(set(versions), key=python_key)
    return "none" if not ordered else ordered[0] if len(ordered) == 1 else f"{ordered[0]}-{ordered[-1]}"


def platforms_text(platforms: Mapping[str, Sequence[str]]) -> str:
    """{'linux': ('x86_64', 'arm64'), 'windows': ('x86_64',)} -> 'Linux x86_64/arm64, Windows x86_64'."""
    return ", ".join(f"{os_name(o)} {'/'.join(a)}" for o, a in platforms.items())


# --- a build was chosen -----------------------------------------------------------------------------

def choice_reasons(manifest: Manifest, hw: "Hardware", request: Request, outcomes: Sequence[Outcome],
                   chosen: Outcome, build: Build) -> Tuple[List[str], List[str]]:
    """(reasons, warnings) for the chosen build."""
    release, variant = chosen.release, chosen.variant
    reasons, warnings = hardware_reasons(hw), list(chosen.notes)
    if variant.kind == "cuda":
        reasons.append(_cuda_reason(manifest, hw, chosen, request, build))
    elif variant.kind == "cpu":
        reasons.extend(_cpu_reasons(hw, request, outcomes))
        if hw.nvidia_gpus and not request.variant:
            warnings.insert(0, reasons[-1])
        elif hw.error and not request.variant:
            warnings.insert(0, f"{hw.error.message}: {hw.error.advice}")
    else:
        reasons.append(f"{variant.name} was requested with {request.variant_from}")
    newer = {o.release.torch for o in outcomes if o.release.torch > release.torch and o.variant.kind != "cpu"}
    if newer and variant.kind != "cpu":
        kind = variant.kind.upper()
        reasons.append(dropped_arch_reason(hw, outcomes, chosen)
                       or f"torch {release.torch} is the newest release with a {kind} build that passes every rule; "
                          f"the {kind} builds of {len(newer)} newer release(s) were rejected (see 'rejected')")
    elif not any(o.release.torch > release.torch for o in outcomes):
        reasons.append(f"torch {release.torch} is the newest release in the manifest that fits"
                       + (f" --torch {request.torch}" if request.torch else ""))
    return reasons + list(chosen.notes) + build_reasons(request, chosen, build), warnings


def dropped_arch_reason(hw: "Hardware", outcomes: Sequence[Outcome], chosen: Outcome) -> Optional[str]:
    """'torch 2.15 has no build with kernels for sm_61 (Pascal); 2.14.x cu126 is the last' when every CUDA build
    of the newer releases lacks code for a GPU here, else None."""
    if chosen.variant.kind != "cuda":
        return None
    newer = [o for o in outcomes if o.release.torch > chosen.release.torch and o.variant.kind == "cuda"]
    if not newer or any(o.failure is None or o.failure.rule != "arch" for o in newer):
        return None
    lacking: Dict[Capability, str] = {}
    for gpu in hw.nvidia_gpus:
        cc = gpu.compute_capability
        if cc is not None and not any(o.variant.archs[hw.os].serves(cc) for o in newer):
            family = arch_family(cc)
            lacking[cc] = cc_name(gpu) + (f" ({family})" if family else "")
    if not lacking:
        return None
    series = sorted({o.release.torch.release[:2] for o in newer})
    names = [".".join(str(p) for p in s) for s in series]
    which = f"torch {names[0]} has" if len(names) == 1 else f"torch {names[0]} to {names[-1]} have"
    same_series_newer = any(o.release.torch.release[:2] == chosen.release.torch.release[:2]
                            and o.release.torch > chosen.release.torch for o in outcomes)
    minor = ".".join(str(p) for p in chosen.release.torch.release[:2])
    last = f"{chosen.release.torch}" if same_series_newer else f"{minor}.x"
    return (f"{which} no build with kernels for {', '.join(lacking[cc] for cc in sorted(lacking))}; "
            f"{last} {chosen.variant.name} is the last")


def hardware_reasons(hw: "Hardware") -> List[str]:
    """The GPUs and driver the plan is for, other adapters, and the what-if flags."""
    out = []
    gpus = hw.nvidia_gpus
    if gpus:
        names = "; ".join(f"{g.name or f'GPU {g.index}'} ({cc_name(g)}"
                          + (f", from the {g.cc_source}" if g.cc_source and g.cc_source != "nvidia-smi" else "")
                          + ")" for g in gpus)
        out.append(f"NVIDIA GPU(s): {names}; driver {hw.driver_version or 'unknown'}"
                   + (f" (supports CUDA up to {hw.cuda_version})" if hw.cuda_version else ""))
    others = [g for g in hw.gpus + hw.other_adapters if g.vendor != "nvidia"]
    if others:
        out.append("other display adapters (" + ", ".join(g.name or "?" for g in others) + ") do not count for CUDA")
    out.extend(f"what-if: {o}" for o in hw.overrides)
    return out


def _cuda_reason(manifest: Manifest, hw: "Hardware", chosen: Outcome, request: Request, build: Build) -> str:
    release, variant = chosen.release, chosen.variant
    assert variant.cuda is not None
    floor = manifest.cuda_families[variant.cuda.major].min_driver[hw.os]
    family = f"CUDA {variant.cuda.major}.x"
    source = f" (from {request.variant_from})" if request.variant else ""
    driver = (f"driver {hw.driver_version} meets the {family} floor {floor} on {os_name(hw.os)}"
              if hw.driver_version else f"the driver version is unknown ({family} needs {floor} or newer)")
    ccs = sorted({cc_name(g) for g in hw.nvidia_gpus if g.compute_capability}, key=lambda s: int(s[3:]))
    code = f", and the build has code for {', '.join(ccs)}" if ccs else ""
    runtime = ("The pytorch-cuda package brings the CUDA runtime" if build.installer == "conda"
               else "The wheel bundles the CUDA runtime")
    return (f"{variant.name}{source}: the highest CUDA variant of torch {release.torch} that this machine can run: "
            f"{driver}{code}. {runtime}: no CUDA toolkit is needed")


def _cpu_reasons(hw: "Hardware", request: Request, outcomes: Sequence[Outcome]) -> List[str]:
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
        return [loud + _unlock_reason(hw, unlock)]
    if any(o.failure and o.failure.rule == "arch" for o in outcomes):
        return [loud + _arch_reason(hw, outcomes)]
    failure = next((o.failure for o in outcomes if o.failure and o.variant.kind == "cuda"), None)
    return [loud + "no CUDA build fits" + (f" ({failure.reason})" if failure else "")]


def _unlock_reason(hw: "Hardware", unlock: Sequence[Outcome]) -> str:
    """Which driver would unlock which build: the newest build, and the one with the lowest floor."""
    floors = [(o.floor, o) for o in unlock if o.floor is not None]  # every driver-only failure has its floor
    (newest_floor, newest), (cheapest_floor, cheapest) = floors[0], min(floors, key=lambda f: f[0])
    what = (f"driver {hw.driver_version} is too old for every CUDA build that has code for this GPU"
            if hw.driver_version else "the NVIDIA driver version is unknown (is the driver installed?)")
    text = (f"{what}. Installing NVIDIA driver {newest_floor} or newer would unlock torch {newest.release.torch} "
            f"{newest.variant.name}")
    if cheapest_floor < newest_floor:
        text += (f"; driver {cheapest_floor} or newer would unlock torch {cheapest.release.torch} "
                 f"{cheapest.variant.name}")
    return text


def _arch_reason(hw: "Hardware", outcomes: Sequence[Outcome]) -> str:
    """No CUDA build has code for every GPU: say which build each GPU alone could use."""
    alone = []
    for gpu in hw.nvidia_gpus:
        cc = gpu.compute_capability
        if cc is None:
            continue
        fit = next((o for o in outcomes if o.variant.kind == "cuda" and (o.failure is None or o.failure.rule == "arch")
                    and o.variant.archs[hw.os].serves(cc)), None)
        alone.append(f"{gpu.name} ({cc_name(gpu)}): " + (f"torch {fit.release.torch} {fit.variant.name}" if fit
                                                          else "none"))
    text = "no CUDA build that fits the other rules has code for every GPU"
    if len(hw.nvidia_gpus) > 1:
        return (text + "; builds each GPU could use alone: " + ", ".join(alone)
                + " (hide the others with CUDA_VISIBLE_DEVICES and plan with --variant to use one)")
    first = next(o.failure for o in outcomes if o.failure and o.failure.rule == "arch")
    return text + f" ({first.reason})"


def build_reasons(request: Request, chosen: Outcome, build: Build) -> List[str]:
    """What the installer and the sources of the build mean: conda or pip, skipped companions, the index."""
    release, variant = chosen.release, chosen.variant
    reasons: List[str] = []
    if request.installer == "conda" and build.installer != "conda":
        why = "the channel ended with 2.5" if not release.on_conda else "the channel has no package of this variant"
        reasons.append(f"torch {release.torch} {variant.name} is not on the pytorch conda channel ({why}), "
                       "so pip installs it from the PyTorch index inside the conda environment")
    for name, version in (("torchvision", build.torchvision), ("torchaudio", build.torchaudio)):
        if name in request.packages and version is None:
            reasons.append(f"{name} is skipped: no release is paired with torch {release.torch}")
    return reasons + _source_reasons(build, request)


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


# --- no build -----------------------------------------------------------------------------------

def no_build(manifest: Manifest, hw: "Hardware", request: Request,
             outcomes: Sequence[Outcome]) -> Tuple[List[str], str]:
    """(reasons, advice) when no build passes."""
    constraints = [f"--{flag} {value}" for flag, value in (("torch", request.torch), ("variant", request.variant))
                   if value]
    if request.packages_explicit:
        constraints.append("--packages " + ",".join(request.packages))
    if not outcomes:
        reason = f"no build in the manifest matches {' and '.join(constraints) or 'the request'}"
        advice = ("Check the version and variant names: `pybootstrap manifest show` lists every release and "
                  "variant in the manifest.")
    elif not any(o.variant.available_on(hw.os, hw.arch) for o in outcomes):
        reason, advice = _platform_advice(manifest, hw, request, outcomes)
    elif all(o.failure and o.failure.rule in ("python", "platform") for o in outcomes):
        reason, advice = _python_advice(hw, outcomes, constraints)
    else:
        reason = "no build satisfies every rule" + (f" with {' and '.join(constraints)}" if constraints else "")
        first = next(o.failure for o in outcomes if o.failure)
        advice = (f"Relax the constraints ({' / '.join(constraints) or 'none given'}), or see 'rejected' for the "
                  f"rule each build broke, e.g.: {first.reason}.")
    return hardware_reasons(hw) + [reason], advice


def _platform_advice(manifest: Manifest, hw: "Hardware", request: Request,
                     outcomes: Sequence[Outcome]) -> Tuple[str, str]:
    """Nothing asked for is published for this OS and architecture: say where it is, and what is here."""
    where = f"{os_name(hw.os)} {hw.arch}"
    here = next(((r, [v.name for v in r.variants if v.available_on(hw.os, hw.arch)]) for r in manifest.releases
                 if any(v.available_on(hw.os, hw.arch) for v in r.variants)), None)
    if request.variant:
        elsewhere: Dict[str, List[str]] = {}
        for o in outcomes:
            for os_id, arches in o.variant.platforms.items():
                elsewhere.setdefault(os_id, [])
                elsewhere[os_id] += [a for a in arches if a not in elsewhere[os_id]]
        reason = (f"no {request.variant} build is published for {where}: {request.variant} is published for "
                  f"{platforms_text(elsewhere)} only")
        if here is None:
            return reason, f"The manifest has no build at all for {where}."
        return reason, (f"Choose a variant that is published for {where}, e.g. --variant {here[1][-1]} (torch "
                        f"{here[0].torch} has {', '.join(here[1])} there; `pybootstrap manifest show` lists every "
                        f"build), or plan for {platforms_text(elsewhere)}.")
    published: Dict[str, List[str]] = {}
    for release in manifest.releases:
        for variant in release.variants:
            for os_id, arches in variant.platforms.items():
                published.setdefault(os_id, [])
                published[os_id] += [a for a in arches if a not in published[os_id]]
    return (f"no build is published for {where}",
            f"The manifest's builds are published for {platforms_text(dict(sorted(published.items())))}.")


def _python_advice(hw: "Hardware", outcomes: Sequence[Outcome], constraints: List[str]) -> Tuple[str, str]:
    """No build for this Python: name the Python versions that would work."""
    where = f"{os_name(hw.os)} {hw.arch}"
    pythons = sorted({p for o in outcomes if o.variant.available_on(hw.os, hw.arch)
                      for p in o.release.python_for(o.variant, hw.os)}, key=python_key)
    scope = f" with {' and '.join(constraints)}" if constraints else ""
    return (f"no build supports Python {python_xy(hw.python_version)} on {where}{scope}",
            f"Use a Python that has PyTorch wheels{scope}: {', '.join(pythons)} "
            f"(e.g. --python-version {pythons[-1]}, or --python PATH / --conda-env with one of them).")


def summarize_rejections(plan_: Union[Chosen, NoBuild], limit: int = 8) -> List[str]:
    """A few rejections for the human output, most relevant first."""
    seen: Dict[str, str] = {}
    for r in plan_.rejected:  # one line per distinct reason, ignoring which release it was
        seen.setdefault(r.rule + re.sub(r"\btorch \d\S*", "", r.reason), f"{r.build}: {r.reason}")
    return list(seen.values())[:limit]


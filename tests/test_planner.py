"""The planner: its rules and wording on a small hand-built manifest (TOY), a property test against an independent
statement of the rules, and facts that stay true on the shipped manifest and on a copy with a synthetic release.

Rules (from the planner issue): published for the OS/arch; wheels for the Python; the companions asked for exist;
for CUDA builds an NVIDIA GPU, a driver at or above the CUDA family's floor and the GPU's first driver, and code for
every GPU (code of the same major at or below its capability; PTX counts within its major only). Preference: newest
release, then highest CUDA variant; the CPU build only when no GPU build passes. Expected values in the TOY cases
were worked out by hand from TOY and these rules.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from packaging.version import Version

from pybootstrap.hardware_rules import capability_from_name
from pybootstrap.installers import build_commands
from pybootstrap.machine import DetectIssue, Gpu, Hardware
from pybootstrap.manifest import default_manifest_path, load_manifest, parse_manifest
from pybootstrap.manifest_model import DriverVersion, Manifest, Release, Variant
from pybootstrap.planner import PACKAGES, Chosen, NoBuild, Plan, Request, plan, summarize_rejections

INDEX = "https://example.org/whl"


def toy_doc() -> Dict[str, Any]:
    """Five releases over four matrices: 'next' (5.0) has no cu126, so Pascal stays on 4.1.x."""
    return {
        "schema_version": 2, "index_base": INDEX, "updated": "2026-12-01",
        "cuda_families": [{"major": 13, "min_driver": {"linux": "580.65.06", "windows": "580.88"}},
                          {"major": 12, "min_driver": {"linux": "525.60.13", "windows": "528.33"}},
                          {"major": 11, "min_driver": {"linux": "450.80.02", "windows": "452.39"}}],
        "cuda_toolkits": [{"cuda": "13.0", "min_driver": {"linux": "580.65.06", "windows": "580.88"}},
                          {"cuda": "12.6", "min_driver": {"linux": "560.28.03", "windows": "560.76"}}],
        "arch_drivers": [{"compute_capability": "12.0", "min_driver": {"linux": "570.26", "windows": "570.65"}},
                         {"compute_capability": "9.0", "min_driver": {"linux": "520.61.05", "windows": "520.06"}}],
        "gpus": {"12.0": ["RTX 5090"], "9.0": ["H100"], "8.6": ["RTX 3060"], "6.1": ["GTX 1080"], "3.7": ["K80"]},
        "platforms": {"all": {"linux": ["x86_64", "arm64"], "windows": ["x86_64"]},
                      "x86": {"linux": ["x86_64"], "windows": ["x86_64"]}, "linux": {"linux": ["x86_64"]}},
        "arch_lists": {
            "kepler": {"linux": "3.7;5.0;6.0;7.0;7.5;8.0;8.6", "windows": "3.7+PTX;5.0;6.0;6.1;7.0;7.5;8.0;8.6"},
            "pascal": {"linux": "5.0;6.0;7.0;7.5;8.0;8.6;9.0", "windows": "5.0;6.0;6.1;7.0;7.5;8.0;8.6;9.0"},
            "blackwell": {"linux": "7.5;8.0;8.6;9.0;10.0;12.0+PTX", "windows": "7.5;8.0;8.6;9.0;10.0;12.0"}},
        "matrices": {
            "next": {"variants": {"cpu": {"platforms": "all"}, "cu130": {"platforms": "all", "archs": "blackwell"},
                                  "cu132": {"platforms": "all", "archs": "blackwell"}}},
            "new": {"variants": {"cpu": {"platforms": "all"}, "cu126": {"platforms": "x86", "archs": "pascal"},
                                 "cu130": {"platforms": "all", "archs": "blackwell"},
                                 "rocm7.2": {"platforms": "linux"}}},
            "mid": {"variants": {"cpu": {"platforms": "all"}, "cu118": {"platforms": "x86", "archs": "kepler"},
                                 "cu126": {"platforms": "x86", "archs": "pascal"},
                                 "cu128": {"platforms": "all", "archs": "blackwell"},
                                 "rocm6.4": {"platforms": "linux"}, "xpu": {"platforms": "x86"}}},
            "old": {"pip_style": "extra-index-url", "variants": {
                "cpu": {"platforms": "all", "conda": {"package": "cpuonly", "channels": ["pytorch"]}},
                "cu118": {"platforms": "x86", "archs": "kepler",
                          "conda": {"package": "pytorch-cuda=11.8", "channels": ["pytorch", "nvidia"]}}}}},
        "releases": [
            {"torch": "5.0.0", "matrix": "next", "torchvision": "0.50.0", "torchaudio": "5.0.0", "python": "3.11-3.13"},
            {"torch": "4.1.0", "matrix": "new", "torchvision": "0.41.0", "torchaudio": None, "python": "3.10-3.13"},
            {"torch": "4.0.0", "matrix": "new", "torchvision": "0.40.0", "torchaudio": "4.0.0", "python": "3.10-3.12"},
            {"torch": "3.0.0", "matrix": "mid", "torchvision": "0.30.0", "torchaudio": "3.0.0",
             "python": {"linux": "3.9-3.12", "windows": "3.9-3.11"}},
            {"torch": "2.0.0", "matrix": "old", "torchvision": "0.20.0", "torchaudio": "2.0.0", "python": "3.8-3.10",
             "conda": {"torchvision": "0.20.1", "torchaudio": "2.0.0"}}],
    }


TOY = parse_manifest(toy_doc(), "toy")


# --- building hardware by hand ----------------------------------------------------------------

def nv(name: str, cc: Optional[str] = "name", manifest: Manifest = TOY) -> Gpu:
    """An NVIDIA GPU; cc "name" looks the capability up in the manifest's name table, None = unknown."""
    if cc == "name":
        found = capability_from_name(name, manifest)
        assert found is not None, f"{name} is not in the manifest's GPU table"
        return Gpu(index=0, name=name, compute_capability=found, cc_source="name table")
    if cc is None:
        return Gpu(index=0, name=name)
    major, minor = cc.split(".")
    return Gpu(index=0, name=name, compute_capability=(int(major), int(minor)), cc_source="nvidia-smi")


def machine(os: str = "linux", py: str = "3.12", driver: Optional[str] = None, gpus: Sequence[Gpu] = (),
            arch: str = "x86_64", error: Optional[str] = None) -> Hardware:
    """Hardware as detect would report it (GPU indexes renumbered in order)."""
    numbered = tuple(Gpu(index=i, name=g.name, vendor=g.vendor, compute_capability=g.compute_capability,
                         cc_source=g.cc_source) for i, g in enumerate(gpus))
    issue = DetectIssue(error, "nvidia-smi was not found", "install the NVIDIA driver") if error else None
    return Hardware(os=os, arch=arch, python_version=py, driver_version=DriverVersion(driver) if driver else None,
                    gpus=numbered, error=issue, source="nvidia-smi" if driver else "none")


def planned(hw: Hardware, request: Optional[Request] = None, manifest: Manifest = TOY) -> Plan:
    return plan(manifest, hw, request or Request(), commands=build_commands)


BW_WIN = "sm_75 sm_80 sm_86 sm_90 sm_100 sm_120"
NO_BUILD = "no-compatible-build"


@dataclass(frozen=True)
class Case:
    """One scenario on TOY: the machine, the request, and what the plan must say."""

    id: str
    hw: Hardware
    release: str  # the expected torch version, or NO_BUILD
    variant: Optional[str] = None
    reason: str = ""  # a fragment of the reasons
    request: Request = Request()
    installer: str = "pip"
    rejected: Tuple[Tuple[str, str], ...] = ()  # (build, exact reason) pairs that must be in 'rejected'
    command: Optional[Tuple[str, ...]] = None
    advice: str = ""
    warning: str = ""
    environment: str = "venv"


CASES: List[Case] = [
    Case("newest-highest-cuda", machine("linux", "3.12", "590.48.01", [nv("RTX 3060")]), "5.0.0", "cu132",
         "cu132: the highest CUDA variant of torch 5.0.0 that this machine can run: driver 590.48.01 meets the CUDA "
         "13.x floor 580.65.06 on Linux, and the build has code for sm_86. The wheel bundles the CUDA runtime",
         command=("python", "-m", "pip", "install", "torch==5.0.0+cu132", "torchvision==0.50.0+cu132",
                  "torchaudio==5.0.0+cu132", "--index-url", f"{INDEX}/cu132")),
    Case("cuda13-floor-linux-at", machine("linux", "3.12", "580.65.06", [nv("RTX 3060")]), "5.0.0", "cu132",
         "torch 5.0.0 is the newest release in the manifest that fits"),
    Case("cuda13-floor-linux-below", machine("linux", "3.12", "580.65.05", [nv("RTX 3060")]), "4.1.0", "cu126",
         "torch 4.1.0 is the newest release with a CUDA build that passes every rule; the CUDA builds of 1 newer "
         "release(s) were rejected (see 'rejected')",
         rejected=(("5.0.0+cu132", "driver 580.65.05 is older than 580.65.06, needed for CUDA 13.x on Linux"),
                   ("4.1.0+cu130", "driver 580.65.05 is older than 580.65.06, needed for CUDA 13.x on Linux"))),
    Case("cuda13-floor-windows-at", machine("windows", "3.12", "580.88", [nv("RTX 3060")]), "5.0.0", "cu132"),
    Case("cuda13-floor-windows-below", machine("windows", "3.12", "580.87", [nv("RTX 3060")]), "4.1.0", "cu126",
         "driver 580.87 meets the CUDA 12.x floor 528.33 on Windows",
         rejected=(("5.0.0+cu130", "driver 580.87 is older than 580.88, needed for CUDA 13.x on Windows"),)),
    Case("cuda12-floor-windows-below", machine("windows", "3.10", "528.32", [nv("RTX 3060")]), "3.0.0", "cu118",
         rejected=(("4.1.0+cu126", "driver 528.32 is older than 528.33, needed for CUDA 12.x on Windows"),)),
    # 2.15-like: the newest release dropped the GPU's architecture; the reason says so plainly
    Case("pascal-dropped-by-the-newest", machine("windows", "3.12", "591.74", [nv("GTX 1080")]), "4.1.0", "cu126",
         "torch 5.0 has no build with kernels for sm_61 (Pascal); 4.1.x cu126 is the last",
         rejected=(("5.0.0+cu132", f"cu132 has no code for sm_61 (GTX 1080); torch 5.0.0 cu132 has {BW_WIN}"),)),
    Case("pascal-newer-release-fails-on-python-not-arch", machine("linux", "3.10", "591.74", [nv("GTX 1080")]),
         "4.1.0", "cu126", "torch 4.1.0 is the newest release with a CUDA build that passes every rule",
         rejected=(("5.0.0+cu132", "torch 5.0.0 has no Linux wheels for Python 3.10 (it supports 3.11-3.13)"),)),
    Case("kepler-only-cu118", machine("linux", "3.9", "470.82.01", [nv("K80")]), "3.0.0", "cu118",
         "the build has code for sm_37"),
    Case("blackwell-cu128-when-cuda13-driver-missing", machine("windows", "3.11", "576.02", [nv("RTX 5090")]),
         "3.0.0", "cu128", "the build has code for sm_120",
         rejected=(("4.1.0+cu126", "cu126 has no code for sm_120 (RTX 5090); torch 4.1.0 cu126 has "
                                   "sm_50 sm_60 sm_61 sm_70 sm_75 sm_80 sm_86 sm_90"),)),
    Case("blackwell-driver-before-blackwell-cpu", machine("windows", "3.11", "566.36", [nv("RTX 5090")]), "5.0.0",
         "cpu", "CPU BUILD, ALTHOUGH AN NVIDIA GPU IS PRESENT: driver 566.36 is too old for every CUDA build that has "
                "code for this GPU. Installing NVIDIA driver 580.88 or newer would unlock torch 5.0.0 cu132; driver "
                "570.65 or newer would unlock torch 3.0.0 cu128",
         rejected=(("3.0.0+cu128", "driver 566.36 is older than 570.65, the first Windows driver for sm_120 GPUs "
                                   "(RTX 5090)"),), warning="driver 566.36 is too old"),
    Case("blackwell-no-python-for-cu128-cpu", machine("windows", "3.12", "576.02", [nv("RTX 5090")]), "5.0.0", "cpu",
         "driver 576.02 is too old for every CUDA build that has code for this GPU. Installing NVIDIA driver 580.88 "
         "or newer would unlock torch 5.0.0 cu132",
         command=("python", "-m", "pip", "install", "torch==5.0.0+cpu", "torchvision==0.50.0+cpu",
                  "torchaudio==5.0.0+cpu", "--index-url", f"{INDEX}/cpu")),
    Case("hopper-old-driver-cpu", machine("linux", "3.12", "515.65.01", [nv("H100")]), "5.0.0", "cpu",
         rejected=(("3.0.0+cu118", "cu118 has no code for sm_90 (H100); torch 3.0.0 cu118 has sm_37 sm_50 sm_60 sm_70 "
                                   "sm_75 sm_80 sm_86"),
                   ("3.0.0+cu126", "driver 515.65.01 is older than 525.60.13, needed for CUDA 12.x on Linux"))),
    Case("unknown-capability-noted", machine("linux", "3.12", "590.48.01", [nv("Mystery GPU", None)]), "5.0.0",
         "cu132", "compute capability of GPU 0 (Mystery GPU) is unknown, so cu132's architectures could not be checked",
         warning="compute capability of GPU 0 (Mystery GPU) is unknown"),
    Case("no-gpu-linux-cpu-index", machine("linux", "3.12"), "5.0.0", "cpu",
         "CPU build: no NVIDIA GPU was found, so CUDA cannot be used (on Linux from the cpu index, not PyPI's default "
         "CUDA wheel)", rejected=(("5.0.0+cu132", "no NVIDIA GPU was found, so a CUDA build cannot be used"),)),
    Case("nvidia-smi-missing-warns", machine("windows", "3.12", error="nvidia-smi-not-found"), "5.0.0", "cpu",
         "CPU build: nvidia-smi was not found, so CUDA cannot be used", warning="nvidia-smi was not found"),
    Case("driver-unknown-gpu-present-cpu-loud", machine("linux", "3.12", None, [nv("RTX 3060")]), "5.0.0", "cpu",
         "CPU BUILD, ALTHOUGH AN NVIDIA GPU IS PRESENT: the NVIDIA driver version is unknown (is the driver "
         "installed?). Installing NVIDIA driver 580.65.06 or newer would unlock torch 5.0.0 cu132; driver 450.80.02 "
         "or newer would unlock torch 3.0.0 cu118",
         rejected=(("5.0.0+cu132", "the NVIDIA driver version is unknown; CUDA 13.x on Linux needs driver 580.65.06 "
                                   "or newer"),)),
    Case("two-gpus-no-common-build", machine("linux", "3.12", "590.48.01", [nv("RTX 5090"), nv("GTX 1080")]),
         "5.0.0", "cpu",
         "CPU BUILD, ALTHOUGH AN NVIDIA GPU IS PRESENT: no CUDA build that fits the other rules has code for every "
         "GPU; builds each GPU could use alone: RTX 5090 (sm_120): torch 5.0.0 cu132, GTX 1080 (sm_61): torch 4.1.0 "
         "cu126 (hide the others with CUDA_VISIBLE_DEVICES", warning="CPU BUILD, ALTHOUGH AN NVIDIA GPU IS PRESENT"),
    Case("other-vendors-do-not-count", machine("windows", "3.12", "590.48", [Gpu(0, "Intel UHD 770", "intel"),
                                                                            nv("RTX 3060")]), "5.0.0", "cu132",
         "other display adapters (Intel UHD 770) do not count for CUDA"),
    Case("linux-arm64", machine("linux", "3.12", "590.48.01", [nv("H100")], arch="arm64"), "5.0.0", "cu132",
         rejected=()),
    Case("linux-arm64-cuda12-driver", machine("linux", "3.12", "570.124.06", [nv("H100")], arch="arm64"), "3.0.0",
         "cu128", rejected=(("4.1.0+cu126", "cu126 of torch 4.1.0 has no wheels for Linux arm64 (published for Linux "
                                            "x86_64, Windows x86_64)"),)),
    # constraints
    Case("torch-series", machine("linux", "3.12", "590.48.01", [nv("RTX 3060")]), "4.1.0", "cu130",
         "torch 4.1.0 is the newest release in the manifest that fits --torch 4", request=Request(torch="4.1")),
    Case("torch-series-newest-patch", machine("linux", "3.12", "590.48.01", [nv("RTX 3060")]), "4.1.0", "cu130",
         request=Request(torch="4.1")),
    Case("torch-exact", machine("linux", "3.12", "590.48.01", [nv("RTX 3060")]), "4.0.0", "cu130",
         request=Request(torch="4.0.0")),
    Case("torch-unknown", machine("linux", "3.12", "590.48.01", [nv("RTX 3060")]), NO_BUILD,
         reason="no build in the manifest matches --torch 9.9", request=Request(torch="9.9"),
         advice="`pybootstrap manifest show` lists every release"),
    Case("variant-cu126", machine("linux", "3.12", "590.48.01", [nv("RTX 3060")]), "4.1.0", "cu126",
         "cu126 (from --variant)", request=Request(variant="cu126")),
    Case("variant-cu126-without-gpu", machine("linux", "3.12"), "4.1.0", "cu126",
         "no NVIDIA GPU was found here; cu126 is planned only because --variant asked for it",
         request=Request(variant="cu126"), warning="planned only because --variant asked for it"),
    Case("variant-cu126-blackwell-no-build", machine("linux", "3.12", "590.48.01", [nv("RTX 5090")]), NO_BUILD,
         reason="no build satisfies every rule with --variant cu126", request=Request(variant="cu126"),
         advice="Relax the constraints (--variant cu126)"),
    Case("variant-cpu", machine("linux", "3.12", "590.48.01", [nv("RTX 3060")]), "5.0.0", "cpu",
         "--variant asked for the CPU build", request=Request(variant="cpu")),
    Case("rocm-only-on-request", machine("linux", "3.12"), "4.1.0", "rocm7.2", "rocm7.2 was requested with --variant",
         request=Request(variant="rocm7.2"),
         command=("python", "-m", "pip", "install", "torch==4.1.0+rocm7.2", "torchvision==0.41.0+rocm7.2",
                  "--index-url", f"{INDEX}/rocm7.2")),
    Case("python-none", machine("linux", "3.14", "590.48.01", [nv("RTX 3060")]), NO_BUILD,
         reason="no build supports Python 3.14 on Linux x86_64",
         rejected=(("5.0.0+cu132", "torch 5.0.0 has no Linux wheels for Python 3.14 (it supports 3.11-3.13)"),),
         advice="Use a Python that has PyTorch wheels: 3.8, 3.9, 3.10, 3.11, 3.12, 3.13 (e.g. --python-version 3.13"),
    Case("python-none-with-torch", machine("windows", "3.12", "590.48", [nv("RTX 3060")]), NO_BUILD,
         reason="no build supports Python 3.12 on Windows x86_64 with --torch 3.0", request=Request(torch="3.0"),
         advice="Use a Python that has PyTorch wheels with --torch 3.0: 3.9, 3.10, 3.11"),
    Case("packages-torchaudio-skips-4.1", machine("linux", "3.12", "570.124.06", [nv("RTX 3060")]), "4.0.0", "cu126",
         request=Request(packages=("torch", "torchaudio"), packages_explicit=True),
         rejected=(("4.1.0+cu126", "no torchaudio release is paired with torch 4.1.0"),),
         command=("python", "-m", "pip", "install", "torch==4.0.0+cu126", "torchaudio==4.0.0+cu126",
                  "--index-url", f"{INDEX}/cu126")),
    Case("default-packages-skip-missing-torchaudio", machine("linux", "3.12", "570.124.06", [nv("RTX 3060")]), "4.1.0",
         "cu126", "torchaudio is skipped: no release is paired with torch 4.1.0",
         command=("python", "-m", "pip", "install", "torch==4.1.0+cu126", "torchvision==0.41.0+cu126",
                  "--index-url", f"{INDEX}/cu126")),
    # installers and sources
    Case("conda-old-release", machine("linux", "3.9", "530.30.02", [nv("RTX 3060")]), "2.0.0", "cu118",
         "The pytorch-cuda package brings the CUDA runtime", request=Request(torch="2.0", installer="conda"),
         installer="conda", environment="conda",
         command=("conda", "install", "-y", "pytorch==2.0.0", "torchvision==0.20.1", "torchaudio==2.0.0",
                  "pytorch-cuda=11.8", "-c", "pytorch", "-c", "nvidia")),
    Case("conda-cpuonly", machine("windows", "3.9"), "2.0.0", "cpu", request=Request(torch="2.0", installer="conda"),
         installer="conda", environment="conda",
         command=("conda", "install", "-y", "pytorch==2.0.0", "torchvision==0.20.1", "torchaudio==2.0.0", "cpuonly",
                  "-c", "pytorch")),
    Case("conda-newer-release-is-pip-in-conda", machine("linux", "3.12", "590.48.01", [nv("RTX 3060")]), "5.0.0",
         "cu132", "torch 5.0.0 cu132 is not on the pytorch conda channel (the channel ended with 2.5), so pip installs "
                  "it from the PyTorch index inside the conda environment",
         request=Request(installer="conda"), environment="conda"),
    Case("old-style-extra-index", machine("linux", "3.9", "530.30.02", [nv("RTX 3060")]), "2.0.0", "cu118",
         request=Request(torch="2.0"),
         command=("python", "-m", "pip", "install", "torch==2.0.0+cu118", "torchvision==0.20.0+cu118",
                  "torchaudio==2.0.0", "--extra-index-url", f"{INDEX}/cu118")),
    Case("index-url", machine("linux", "3.12", "590.48.01", [nv("RTX 3060")]), "5.0.0", "cu132",
         "index https://mirror.example.org/simple (from --index-url)",
         request=Request(index_url="https://mirror.example.org/simple"),
         command=("python", "-m", "pip", "install", "torch==5.0.0", "torchvision==0.50.0", "torchaudio==5.0.0",
                  "--index-url", "https://mirror.example.org/simple")),
    Case("mirror", machine("linux", "3.12", "590.48.01", [nv("RTX 3060")]), "5.0.0", "cu132",
         "index https://mirror.example.org/pt/cu132 (from --mirror)",
         request=Request(mirror="https://mirror.example.org/pt")),
    Case("offline-find-links", machine("linux", "3.12", "590.48.01", [nv("RTX 3060")]), "5.0.0", "cu132",
         "offline: pip reads only the --find-links folders (/srv/wheels)",
         request=Request(find_links=("/srv/wheels",), offline=True),
         command=("python", "-m", "pip", "install", "torch==5.0.0", "torchvision==0.50.0", "torchaudio==5.0.0",
                  "--no-index", "--find-links", "/srv/wheels")),
    # platforms: say one true thing (issue 15: `--variant rocm7.2 --os windows` contradicted itself)
    Case("rocm-on-windows", machine("windows", "3.12"), NO_BUILD, request=Request(variant="rocm7.2"),
         reason="no rocm7.2 build is published for Windows x86_64: rocm7.2 is published for Linux x86_64 only",
         advice="Choose a variant that is published for Windows x86_64, e.g. --variant cu132 (torch 5.0.0 has cpu, "
                "cu130, cu132 there; `pybootstrap manifest show` lists every build), or plan for Linux x86_64."),
    Case("windows-arm64-nothing", machine("windows", "3.12", arch="arm64"), NO_BUILD,
         reason="no build is published for Windows arm64",
         advice="The manifest's builds are published for Linux x86_64/arm64, Windows x86_64."),
]


def _rejected(p: Plan) -> Dict[str, str]:
    return {r.build: r.reason for r in p.rejected}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_plan_table(case: Case) -> None:
    p = planned(case.hw, case.request)
    text = "\n".join(p.reasons)
    if case.release == NO_BUILD:
        assert isinstance(p, NoBuild) and p.status == NO_BUILD, text
        assert case.advice in p.advice, p.advice
        assert p.to_dict()["build"] is None and p.to_dict()["commands"] == []
    else:
        assert isinstance(p, Chosen) and p.status == "ok", text
        assert (p.build.torch, p.build.variant, p.build.installer) == (case.release, case.variant, case.installer), text
        assert p.build.environment == case.environment
        if case.command is not None:
            assert p.commands == (case.command,)
    assert case.reason in text, text
    rejected = _rejected(p)
    for build, reason in case.rejected:
        assert rejected.get(build) == reason, f"{build}: {rejected.get(build)!r}"
    if case.warning:
        assert any(case.warning in w for w in p.warnings), p.warnings


def test_rocm_on_windows_says_one_true_thing() -> None:
    p = planned(machine("windows", "3.12"), Request(variant="rocm7.2"))
    assert isinstance(p, NoBuild)
    assert "no build is published for Windows x86_64" not in p.reasons
    assert "PyTorch publishes wheels for Windows" not in p.advice


def test_dropped_architecture_over_several_newer_releases() -> None:
    doc = toy_doc()
    doc["releases"].insert(0, {"torch": "5.1.0", "matrix": "next", "torchvision": "0.51.0", "torchaudio": None,
                               "python": "3.11-3.13"})
    p = planned(machine("windows", "3.12", "591.74", [nv("GTX 1080")]), manifest=parse_manifest(doc))
    assert "torch 5.0 to 5.1 have no build with kernels for sm_61 (Pascal); 4.1.x cu126 is the last" in p.reasons


def test_rejected_lists_only_candidates_at_or_above_the_choice() -> None:
    p = planned(machine("windows", "3.11", "576.02", [nv("RTX 5090")]))
    assert isinstance(p, Chosen) and p.build.torch == "3.0.0"
    assert {r.build.split("+")[0] for r in p.rejected} == {"5.0.0", "4.1.0", "4.0.0", "3.0.0"}  # none older
    assert "3.0.0+cu128" not in _rejected(p) and "3.0.0+cu118" in _rejected(p)
    assert {r.rule for r in p.rejected} == {"driver", "arch"}


def test_plan_is_pure_and_deterministic() -> None:
    hw = machine("linux", "3.12", "580.95.05", [nv("RTX 5090"), nv("GTX 1080")])
    first, second = planned(hw), planned(hw)
    assert first.to_dict() == second.to_dict()
    assert hw == machine("linux", "3.12", "580.95.05", [nv("RTX 5090"), nv("GTX 1080")])


def test_plan_document_says_which_manifest() -> None:
    p = planned(machine("linux", "3.12"))
    assert p.to_dict()["manifest"] == {"source": "file", "detail": "read from toy", "location": "toy",
                                       "updated": "2026-12-01"}


def test_summary_keeps_one_line_per_distinct_reason() -> None:
    p = planned(machine("linux", "3.12", "580.65.05", [nv("RTX 3060")]))
    lines = summarize_rejections(p)
    assert lines == ["5.0.0+cu132: driver 580.65.05 is older than 580.65.06, needed for CUDA 13.x on Linux"]


def test_a_chosen_plan_can_take_more_reasons() -> None:
    p = planned(machine("linux", "3.12"))
    more = p.with_reasons("offline: a note")
    assert more.reasons[-1] == "offline: a note" and more.reasons[:-1] == p.reasons and p.reasons[-1] != more.reasons[-1]


# --- the property test: an independent statement of the rules -------------------------------------

def _numbers(text: str, width: int = 3) -> Tuple[int, ...]:
    parts = [int(p) for p in text.split(".")]
    return tuple(parts + [0] * (width - len(parts)))


def _serves(arch_list: str, cc: Tuple[int, int]) -> bool:
    """Code of the same major at or below cc; PTX entries alike (torch refuses a GPU without an sm_ of its major)."""
    for item in arch_list.split(";"):
        major, minor = (int(x) for x in item.partition("+")[0].split("."))
        if major == cc[0] and minor <= cc[1]:
            return True
    return False


def _arch_floor(manifest: Manifest, cc: Tuple[int, int], os: str) -> Tuple[int, ...]:
    same = [a for a in manifest.arch_drivers if a.compute_capability[0] == cc[0]
            and a.compute_capability[1] <= cc[1] and os in a.min_driver]
    return _numbers(str(max(same, key=lambda a: a.compute_capability).min_driver[os])) if same else (0,)


def _independent_ok(manifest: Manifest, release: Release, variant: Variant, hw: Hardware, request: Request) -> bool:
    if hw.arch not in variant.platforms.get(hw.os, ()):
        return False
    pythons = (variant.python or {}).get(hw.os) or release.python.get(hw.os, ())
    if ".".join(hw.python_version.split(".")[:2]) not in pythons:
        return False
    if request.packages_explicit and any(getattr(release, p) is None for p in request.packages if p != "torch"):
        return False
    if variant.kind != "cuda":
        return True
    assert variant.cuda is not None
    nvidia = [g for g in hw.gpus if g.vendor == "nvidia"]
    explicit = request.variant == variant.name
    if not nvidia and not explicit:
        return False
    if hw.driver_version is None:
        return explicit and all(g.compute_capability is None or _serves(variant.archs[hw.os].text,
                                                                        g.compute_capability) for g in nvidia)
    driver = _numbers(str(hw.driver_version))
    if driver < _numbers(str(manifest.cuda_families[variant.cuda.major].min_driver[hw.os])):
        return False
    if any(g.compute_capability and driver < _arch_floor(manifest, g.compute_capability, hw.os) for g in nvidia):
        return False
    return all(g.compute_capability is None or _serves(variant.archs[hw.os].text, g.compute_capability)
               for g in nvidia)


def _wanted(release: Release, variant: Variant, request: Request) -> bool:
    if request.torch:
        parts = request.torch.split(".")
        if str(release.torch).split(".")[:len(parts)] != parts:
            return False
    if request.variant:
        return variant.name == request.variant
    return variant.kind not in ("rocm", "xpu")


def _key(release: Release, variant: Variant) -> Tuple[Any, ...]:
    return release.torch, {"cpu": 0, "rocm": 1, "xpu": 1, "cuda": 2}[variant.kind], variant.cuda or Version("0")


def _check_choice(manifest: Manifest, hw: Hardware, request: Request) -> None:
    candidates = [(r, v) for r in manifest.releases for v in r.variants if _wanted(r, v, request)]
    passing = [c for c in candidates if _independent_ok(manifest, c[0], c[1], hw, request)]
    gpu_builds = [c for c in passing if c[1].kind != "cpu"]
    expected = max(gpu_builds or passing, key=lambda c: _key(*c)) if passing else None
    p = plan(manifest, hw, request, commands=build_commands)
    if expected is None:
        assert isinstance(p, NoBuild)
    else:
        assert isinstance(p, Chosen)
        assert (p.build.torch, p.build.variant) == (str(expected[0].torch), expected[1].name)
    by_label = {f"{r.torch}+{v.name}": (r, v) for r, v in candidates}
    for rejection in p.rejected:
        assert not _independent_ok(manifest, *by_label[rejection.build], hw, request), rejection


def _future(manifest_doc: Dict[str, Any]) -> Dict[str, Any]:
    """A copy of a manifest document with a synthetic 9.9.0 release: the newest release's matrix and Pythons."""
    doc = copy.deepcopy(manifest_doc)
    newest = max(doc["releases"], key=lambda r: Version(r["torch"]))
    doc["releases"].insert(0, {**newest, "torch": "9.9.0", "date": "2099-01-01", "torchvision": "9.9.1",
                               "notes": ["synthetic: a release added by a test"]})
    return doc


SHIPPED_DOC = json.loads(default_manifest_path().read_text(encoding="utf-8"))
SHIPPED = load_manifest()
FUTURE = parse_manifest(_future(SHIPPED_DOC), "shipped + 9.9.0")
MANIFESTS = {"toy": TOY, "shipped": SHIPPED, "future": FUTURE}


def _gpu_strategy(manifest: Manifest) -> Any:
    ccs = sorted({g.compute_capability for g in manifest.gpus} | {(3, 0), (7, 2), (8, 9), (9, 1), (12, 9), (13, 0)})
    return st.lists(st.tuples(st.sampled_from(["nvidia", "nvidia", "nvidia", "intel", "amd"]),
                              st.none() | st.sampled_from(ccs)), max_size=3)


DRIVERS = st.one_of(st.none(), st.sampled_from(["440.33", "450.80.02", "450.80.01", "452.39", "520.06", "525.60.13",
                                                "528.33", "528.32", "570.26", "570.65", "576.02", "580.65.06",
                                                "580.65.05", "580.88", "580.87", "591.74"]),
                    st.builds(lambda a, b: f"{a}.{b:02d}", st.integers(400, 699), st.integers(0, 150)))


@pytest.mark.parametrize("name", list(MANIFESTS))
@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_choice_is_the_newest_build_passing_every_rule(name: str, data: Any) -> None:
    manifest = MANIFESTS[name]
    releases = [str(r.torch) for r in manifest.releases]
    variants = sorted({v.name for r in manifest.releases for v in r.variants})
    hw = Hardware(os=data.draw(st.sampled_from(["linux", "windows"])),
                  arch=data.draw(st.sampled_from(["x86_64", "x86_64", "arm64"])),
                  python_version=data.draw(st.sampled_from(["3.7", "3.8", "3.9", "3.10", "3.11", "3.12", "3.13",
                                                            "3.14", "3.15", "3.16"])),
                  driver_version=(lambda d: DriverVersion(d) if d else None)(data.draw(DRIVERS)),
                  gpus=tuple(Gpu(index=i, name=f"GPU {i}", vendor=vendor, compute_capability=cc)
                             for i, (vendor, cc) in enumerate(data.draw(_gpu_strategy(manifest)))))
    packages = data.draw(st.sampled_from([(PACKAGES, False), (("torch",), True), (("torch", "torchaudio"), True)]))
    request = Request(torch=data.draw(st.none() | st.sampled_from(releases + ["2.5", "4.1", "9.9"])),
                      variant=data.draw(st.sampled_from([None, None, None] + variants)),
                      packages=packages[0], packages_explicit=packages[1])
    _check_choice(manifest, hw, request)


# --- the shipped manifest, and the same with a synthetic 9.9.0: facts that stay true ------------------

@dataclass(frozen=True)
class Fact:
    """A scenario and what must hold whatever releases are added (facts: pytorch-cuda.md, pytorch-2.15...)."""

    id: str
    hw: Callable[[Manifest], Hardware]
    holds: Callable[[Manifest, Plan], bool]
    request: Request = Request()


def _hw(os: str, py: str, driver: Optional[str], gpus: Sequence[str] = (), arch: str = "x86_64"
        ) -> Callable[[Manifest], Hardware]:
    return lambda m: machine(os, py, driver, [nv(g, manifest=m) for g in gpus], arch)


def _chosen(check: Callable[[Chosen], bool]) -> Callable[[Manifest, Plan], bool]:
    return lambda m, p: isinstance(p, Chosen) and check(p)


def _newest(m: Manifest, p: Plan) -> bool:
    return isinstance(p, Chosen) and p.build.torch == str(m.releases[0].torch)


DROPPED_PASCAL = re.compile(r"torch [\d.]+( to [\d.]+)? (has|have) no build with kernels for sm_61 \(Pascal\); "
                            r"2\.14\.x cu126 is the last")
FACTS = [
    # the issue: an RTX 5090 on Windows 576.02 gets a cu128 build (no CUDA 13 before driver 580.88)
    Fact("rtx5090-windows-576.02-cu128", _hw("windows", "3.12", "576.02", ["NVIDIA GeForce RTX 5090"]),
         _chosen(lambda p: p.build.variant == "cu128")),
    # 2.14.x cu126 is the last build with Pascal kernels; the reason says the newer releases dropped sm_61
    Fact("gtx1080-windows-591.74-last-cu126", _hw("windows", "3.12", "591.74", ["NVIDIA GeForce GTX 1080"]),
         _chosen(lambda p: p.build.variant == "cu126" and p.build.torch.startswith("2.14.")
                 and any(DROPPED_PASCAL.search(r) for r in p.reasons))),
    Fact("v100-linux-last-cu126", _hw("linux", "3.12", "580.65.06", ["Tesla V100-SXM2-16GB"]),
         _chosen(lambda p: (p.build.variant, p.build.torch[:5]) == ("cu126", "2.14."))),
    Fact("gtx980-linux-cu126", _hw("linux", "3.12", "535.104.05", ["NVIDIA GeForce GTX 980"]),
         _chosen(lambda p: (p.build.variant, p.build.torch[:5]) == ("cu126", "2.14."))),
    Fact("k80-last-cu118", _hw("linux", "3.10", "470.82.01", ["Tesla K80"]),
         _chosen(lambda p: (p.build.torch, p.build.variant) == ("2.7.1", "cu118"))),
    Fact("python-3.9-last-in-2.8", _hw("windows", "3.9", "560.94", ["NVIDIA GeForce RTX 4090"]),
         _chosen(lambda p: (p.build.torch, p.build.variant) == ("2.8.0", "cu129"))),
    # a current GPU on a current driver gets the newest release, a CUDA 13 build
    Fact("rtx4090-windows-591.74-newest", _hw("windows", "3.12", "591.74", ["NVIDIA GeForce RTX 4090"]),
         lambda m, p: _newest(m, p) and isinstance(p, Chosen) and p.build.cuda is not None
         and p.build.cuda.startswith("13.")),
    Fact("h100-linux-535-cuda12", _hw("linux", "3.12", "535.104.05", ["NVIDIA H100 80GB HBM3"]),
         _chosen(lambda p: p.build.cuda is not None and p.build.cuda.startswith("12."))),
    Fact("b200-linux-570-cuda12", _hw("linux", "3.12", "570.124.06", ["NVIDIA B200"]),
         _chosen(lambda p: p.build.variant in ("cu128", "cu129"))),
    Fact("no-gpu-newest-cpu", _hw("linux", "3.12", None),
         lambda m, p: _newest(m, p) and isinstance(p, Chosen) and p.build.variant == "cpu"
         and p.build.index_url == f"{m.index_base}/cpu"),
    Fact("driver-too-old-loud-cpu", _hw("linux", "3.12", "450.80.01", ["NVIDIA GeForce RTX 3090"]),
         _chosen(lambda p: p.build.variant == "cpu" and "CPU BUILD, ALTHOUGH AN NVIDIA GPU IS PRESENT" in p.warnings[0]
                 and "would unlock torch" in p.warnings[0])),
    Fact("rtx5090-before-blackwell-driver-cpu", _hw("windows", "3.12", "566.36", ["NVIDIA GeForce RTX 5090"]),
         _chosen(lambda p: p.build.variant == "cpu" and "570.65 or newer would unlock" in " ".join(p.reasons))),
    Fact("python-3.5-no-build", _hw("linux", "3.5", "591.74", ["NVIDIA GeForce RTX 3090"]),
         lambda m, p: isinstance(p, NoBuild) and "no build supports Python 3.5 on Linux x86_64" in p.reasons),
    Fact("rocm-on-windows-no-build", _hw("windows", "3.12", None),
         lambda m, p: isinstance(p, NoBuild) and "is published for Linux x86_64 only" in p.reasons[-1],
         Request(variant="rocm7.2")),
]


@pytest.mark.parametrize("manifest_name", ["shipped", "future"])
@pytest.mark.parametrize("fact", FACTS, ids=[f.id for f in FACTS])
def test_facts_that_stay_true(fact: Fact, manifest_name: str) -> None:
    manifest = MANIFESTS[manifest_name]
    hw = fact.hw(manifest)
    p = plan(manifest, hw, fact.request, commands=build_commands)
    assert fact.holds(manifest, p), "\n".join(p.reasons)
    _check_choice(manifest, hw, fact.request)


def test_a_synthetic_release_is_chosen_where_its_matrix_serves() -> None:
    """Adding a release is one short entry: the planner picks it up, and nothing else changes."""
    assert str(FUTURE.releases[0].torch) == "9.9.0"
    p = plan(FUTURE, machine("windows", "3.12", "591.74", [nv("NVIDIA GeForce RTX 4090", manifest=FUTURE)]),
             Request(), commands=build_commands)
    assert isinstance(p, Chosen) and (p.build.torch, p.build.torchvision) == ("9.9.0", "9.9.1")
    assert p.build.variant == plan(SHIPPED, machine("windows", "3.12", "591.74", [nv("NVIDIA GeForce RTX 4090",
                                                                                        manifest=SHIPPED)]),
                                   Request(), commands=build_commands).build.variant  # type: ignore[union-attr]
    assert FUTURE.releases[1:] == SHIPPED.releases

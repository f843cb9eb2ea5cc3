"""The planner, table-driven from hand-built hardware, plus a property test against an independent rule check.

Expected builds are derived by hand from manifests/pytorch.json and the rules of the planner issue:
published for the OS/arch; supports the Python; CUDA family driver floor at or below the driver; code for every
NVIDIA GPU (code of the same major at or below its capability; PTX too counts only within its major, as in
ArchList.serves); the user's constraints.
Preference: newest release, then highest CUDA variant; the CPU build only when no CUDA build passes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pybootstrap.hardware_rules import capability_from_name
from pybootstrap.installers import build_commands
from pybootstrap.machine import DetectIssue, Gpu, Hardware
from pybootstrap.manifest import DriverVersion, default_manifest_path, load_manifest
from pybootstrap.planner import PACKAGES, Plan, Request, plan

MANIFEST = load_manifest()
RAW = json.loads(default_manifest_path().read_text(encoding="utf-8"))
INDEX = "https://download.pytorch.org/whl"


# --- building hardware by hand ----------------------------------------------------------------

def nv(name: str, cc: Optional[str] = "name", index: int = 0) -> Gpu:
    """An NVIDIA GPU; cc "name" looks the capability up in the manifest's name table, None = unknown."""
    if cc == "name":
        found = capability_from_name(name, MANIFEST)
        assert found is not None, f"{name} is not in the manifest's GPU table"
        return Gpu(index=index, name=name, compute_capability=found, cc_source="name table")
    if cc is None:
        return Gpu(index=index, name=name)
    major, minor = cc.split(".")
    return Gpu(index=index, name=name, compute_capability=(int(major), int(minor)), cc_source="nvidia-smi")


def other(name: str, vendor: str, index: int = 0) -> Gpu:
    """A display adapter of another vendor."""
    return Gpu(index=index, name=name, vendor=vendor)


def machine(os: str = "linux", py: str = "3.12", driver: Optional[str] = None, gpus: Sequence[Gpu] = (),
            arch: str = "x86_64", error: Optional[str] = None) -> Hardware:
    """Hardware as detect would report it (GPU indexes renumbered in order)."""
    numbered = tuple(Gpu(index=i, name=g.name, vendor=g.vendor, compute_capability=g.compute_capability,
                         cc_source=g.cc_source) for i, g in enumerate(gpus))
    issue = DetectIssue(error, "nvidia-smi was not found", "install the NVIDIA driver") if error else None
    return Hardware(os=os, arch=arch, python_version=py, driver_version=DriverVersion(driver) if driver else None,
                    gpus=numbered, error=issue, source="nvidia-smi" if driver else "none")


RTX5090 = "NVIDIA GeForce RTX 5090"
RTX4090 = "NVIDIA GeForce RTX 4090"
RTX3090 = "NVIDIA GeForce RTX 3090"
RTX3060 = "NVIDIA GeForce RTX 3060"
RTX2080 = "NVIDIA GeForce RTX 2080 SUPER"
GTX1080 = "NVIDIA GeForce GTX 1080"
GTX980 = "NVIDIA GeForce GTX 980"
M40 = "Tesla M40 24GB"
K80 = "Tesla K80"
V100 = "Tesla V100-SXM2-16GB"
A100 = "NVIDIA A100-SXM4-80GB"
H100 = "NVIDIA H100 80GB HBM3"
GH200 = "NVIDIA GH200 480GB"
B200 = "NVIDIA B200"
GB10 = "NVIDIA GB10"
IGPU = "Intel(R) UHD Graphics 770"

CU126_WIN = "sm_50 sm_60 sm_61 sm_70 sm_75 sm_80 sm_86 sm_90"
CU13X_LINUX = "sm_75 sm_80 sm_86 sm_90 sm_100 sm_120 compute_120"
CU13X_WIN = "sm_75 sm_80 sm_86 sm_90 sm_100 sm_120"
NO_BUILD = "no-compatible-build"


@dataclass(frozen=True)
class Case:
    """One scenario: the machine, the request, and what the plan must say."""

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


def unlock(newest: str, cheapest: str = "") -> str:
    """The tail of the loud CPU reason: which driver unlocks which build."""
    return f"Installing NVIDIA driver {newest}" + (f"; driver {cheapest}" if cheapest else "")


CASES: List[Case] = [
    # --- the two acceptance scenarios of the issue ---
    Case("rtx5090-windows-576.02-gets-2.11-cu128", machine("windows", "3.12", "576.02", [nv(RTX5090)]),
         "2.11.0", "cu128",
         "cu128: the highest CUDA variant of torch 2.11.0 that this machine can run: driver 576.02 meets the "
         "CUDA 12.x floor 528.33 on Windows, and the build has code for sm_120",
         rejected=(("2.12.0+cu132", "driver 576.02 is older than 580.88, needed for CUDA 13.x on Windows"),
                   ("2.14.1+cu130", "driver 576.02 is older than 580.88, needed for CUDA 13.x on Windows"),
                   ("2.12.0+cu126", f"cu126 has no code for sm_120 ({RTX5090}); torch 2.12.0 cu126 has {CU126_WIN}")),
         command=("python", "-m", "pip", "install", "torch==2.11.0", "torchvision==0.26.0", "torchaudio==2.11.0",
                  "--index-url", f"{INDEX}/cu128")),
    Case("gtx1080-windows-581.57-gets-newest-cu126", machine("windows", "3.12", "581.57", [nv(GTX1080)]),
         "2.14.1", "cu126",
         "driver 581.57 meets the CUDA 12.x floor 528.33 on Windows, and the build has code for sm_61",
         rejected=(("2.14.1+cu132", f"cu132 has no code for sm_61 ({GTX1080}); torch 2.14.1 cu132 has {CU13X_WIN}"),
                   ("2.14.1+cu130", f"cu130 has no code for sm_61 ({GTX1080}); torch 2.14.1 cu130 has {CU13X_WIN}"))),
    # --- every CUDA family floor, exactly at and just below, on both OSes ---
    Case("linux-cuda12-floor-at-525.60.13", machine("linux", "3.12", "525.60.13", [nv(RTX3090)]), "2.14.1", "cu126",
         "driver 525.60.13 meets the CUDA 12.x floor 525.60.13 on Linux",
         rejected=(("2.14.1+cu132", "driver 525.60.13 is older than 580.65.06, needed for CUDA 13.x on Linux"),)),
    Case("linux-cuda12-floor-below-525.60.12", machine("linux", "3.12", "525.60.12", [nv(RTX3090)]), "2.7.1", "cu118",
         "driver 525.60.12 meets the CUDA 11.x floor 450.80.02 on Linux",
         rejected=(("2.14.1+cu126", "driver 525.60.12 is older than 525.60.13, needed for CUDA 12.x on Linux"),
                   ("2.7.1+cu126", "driver 525.60.12 is older than 525.60.13, needed for CUDA 12.x on Linux"))),
    Case("windows-cuda12-floor-at-528.33", machine("windows", "3.12", "528.33", [nv(RTX3090)]), "2.14.1", "cu126",
         "driver 528.33 meets the CUDA 12.x floor 528.33 on Windows"),
    Case("windows-cuda12-floor-below-528.32", machine("windows", "3.12", "528.32", [nv(RTX3090)]), "2.7.1", "cu118",
         "torch 2.7.1 is the newest release with a CUDA build that passes every rule",
         rejected=(("2.14.1+cu126", "driver 528.32 is older than 528.33, needed for CUDA 12.x on Windows"),)),
    Case("linux-cuda13-floor-at-580.65.06", machine("linux", "3.12", "580.65.06", [nv(RTX3090)]), "2.14.1", "cu132",
         "driver 580.65.06 meets the CUDA 13.x floor 580.65.06 on Linux"),
    Case("linux-cuda13-floor-below-580.65.05", machine("linux", "3.12", "580.65.05", [nv(RTX3090)]), "2.14.1",
         "cu126", "driver 580.65.05 meets the CUDA 12.x floor 525.60.13 on Linux",
         rejected=(("2.14.1+cu132", "driver 580.65.05 is older than 580.65.06, needed for CUDA 13.x on Linux"),)),
    Case("windows-cuda13-floor-at-580.88", machine("windows", "3.12", "580.88", [nv(RTX3090)]), "2.14.1", "cu132",
         "driver 580.88 meets the CUDA 13.x floor 580.88 on Windows"),
    Case("windows-cuda13-floor-below-580.87", machine("windows", "3.12", "580.87", [nv(RTX3090)]), "2.14.1", "cu126",
         "driver 580.87 meets the CUDA 12.x floor 528.33 on Windows",
         rejected=(("2.14.1+cu130", "driver 580.87 is older than 580.88, needed for CUDA 13.x on Windows"),)),
    Case("linux-cuda11-floor-at-450.80.02", machine("linux", "3.12", "450.80.02", [nv(RTX3090)]), "2.7.1", "cu118",
         "driver 450.80.02 meets the CUDA 11.x floor 450.80.02 on Linux"),
    Case("linux-cuda11-floor-below-450.80.01-cpu", machine("linux", "3.12", "450.80.01", [nv(RTX3090)]),
         "2.14.1", "cpu",
         "CPU BUILD, ALTHOUGH AN NVIDIA GPU IS PRESENT: driver 450.80.01 is too old for every CUDA build that has "
         "code for this GPU. " + unlock("580.65.06 or newer would unlock torch 2.14.1 cu132",
                                        "450.80.02 or newer would unlock torch 2.7.1 cu118"),
         rejected=(("2.7.1+cu118", "driver 450.80.01 is older than 450.80.02, needed for CUDA 11.x on Linux"),),
         warning="driver 450.80.01 is too old",
         command=("python", "-m", "pip", "install", "torch==2.14.1", "torchvision==0.29.1",
                  "--index-url", f"{INDEX}/cpu")),
    Case("windows-cuda11-floor-at-452.39", machine("windows", "3.11", "452.39", [nv(RTX3060)]), "2.7.1", "cu118",
         "driver 452.39 meets the CUDA 11.x floor 452.39 on Windows"),
    Case("windows-cuda11-floor-below-452.38-cpu", machine("windows", "3.11", "452.38", [nv(RTX3060)]), "2.14.1", "cpu",
         unlock("580.88 or newer would unlock torch 2.14.1 cu132", "452.39 or newer would unlock torch 2.7.1 cu118"),
         rejected=(("2.7.1+cu118", "driver 452.38 is older than 452.39, needed for CUDA 11.x on Windows"),)),
    Case("linux-cuda10-floor-at-440.33-py3.10", machine("linux", "3.10", "440.33", [nv(GTX1080)]), "1.12.1", "cu102",
         "driver 440.33 meets the CUDA 10.x floor 440.33 on Linux, and the build has code for sm_61",
         rejected=(("1.12.1+cu113", "driver 440.33 is older than 450.80.02, needed for CUDA 11.x on Linux"),),
         command=("python", "-m", "pip", "install", "torch==1.12.1+cu102", "torchvision==0.13.1+cu102",
                  "torchaudio==0.12.1", "--extra-index-url", f"{INDEX}/cu102")),
    Case("linux-cuda10-floor-below-440.32-cpu", machine("linux", "3.10", "440.32", [nv(GTX1080)]), "2.14.1", "cpu",
         unlock("525.60.13 or newer would unlock torch 2.14.1 cu126",
                "440.33 or newer would unlock torch 1.12.1 cu102"),
         rejected=(("1.12.1+cu102", "driver 440.32 is older than 440.33, needed for CUDA 10.x on Linux"),)),
    Case("windows-driver-441-era-no-cu102-on-windows", machine("windows", "3.10", "441.22", [nv(GTX1080)]),
         "2.14.1", "cpu", unlock("528.33 or newer would unlock torch 2.14.1 cu126",
                                 "452.39 or newer would unlock torch 2.7.1 cu118"),
         rejected=(("1.12.1+cu102", "cu102 of torch 1.12.1 has no wheels for Windows x86_64 "
                                    "(published for Linux x86_64)"),)),
    Case("linux-driver-450-era-py3.12-maxwell", machine("linux", "3.12", "455.32", [nv(GTX980)]), "2.7.1", "cu118",
         "the build has code for sm_52"),
    # --- Python versions ---
    Case("python-3.7-only-1.13", machine("linux", "3.7", "525.60.13", [nv(RTX3090)]), "1.13.1", "cu117",
         rejected=(("2.0.1+cu118", "torch 2.0.1 has no Linux wheels for Python 3.7 (it supports 3.8-3.11)"),),
         command=("python", "-m", "pip", "install", "torch==1.13.1+cu117", "torchvision==0.14.1+cu117",
                  "torchaudio==0.13.1", "--extra-index-url", f"{INDEX}/cu117")),
    Case("python-3.8-only-old-releases", machine("linux", "3.8", "535.104.05", [nv(RTX3060)]), "2.4.1", "cu124",
         rejected=(("2.5.0+cu124", "torch 2.5.0 has no Linux wheels for Python 3.8 (it supports 3.9-3.13)"),)),
    Case("python-3.9-windows-ada-2.8-cu129", machine("windows", "3.9", "560.94", [nv(RTX4090)]), "2.8.0", "cu129",
         "the build has code for sm_89",
         rejected=(("2.9.0+cu128", "torch 2.9.0 has no Windows wheels for Python 3.9 (it supports 3.10-3.14)"),)),
    Case("python-3.13-windows-torch-2.5-absent", machine("windows", "3.13", "566.36", [nv(RTX3060)]), NO_BUILD,
         reason="no build supports Python 3.13 on Windows x86_64 with --torch 2.5", request=Request(torch="2.5"),
         rejected=(("2.5.1+cu124", "torch 2.5.1 has no Windows wheels for Python 3.13 (it supports 3.9-3.12)"),),
         advice="Use a Python that has PyTorch wheels with --torch 2.5: 3.9, 3.10, 3.11, 3.12 "
                "(e.g. --python-version 3.12"),
    Case("python-3.13-linux-torch-2.5-present", machine("linux", "3.13", "566.03", [nv(RTX3060)]), "2.5.1", "cu124",
         request=Request(torch="2.5")),
    Case("python-3.13-windows-newest", machine("windows", "3.13.1", "566.36", [nv(RTX3060)]), "2.14.1", "cu126"),
    Case("python-3.14-linux-h100", machine("linux", "3.14", "590.48.01", [nv(H100)]), "2.14.1", "cu132",
         "the build has code for sm_90"),
    Case("python-3.15-linux-no-build", machine("linux", "3.15", "590.48.01", [nv(H100)]), NO_BUILD,
         reason="no build supports Python 3.15 on Linux x86_64",
         rejected=(("2.14.1+cu132", "torch 2.14.1 has no Linux wheels for Python 3.15 (it supports 3.10-3.14)"),),
         advice="Use a Python that has PyTorch wheels: 3.7, 3.8, 3.9, 3.10, 3.11, 3.12, 3.13, 3.14 "
                "(e.g. --python-version 3.14"),
    Case("python-3.15-windows-no-gpu-no-build", machine("windows", "3.15"), NO_BUILD,
         reason="no build supports Python 3.15 on Windows x86_64", advice="3.12, 3.13, 3.14 (e.g."),
    # --- architectures and platforms ---
    Case("linux-arm64-gh200-cu132", machine("linux", "3.12", "580.65.06", [nv(GH200)], arch="arm64"), "2.14.1",
         "cu132",
         rejected=(("2.14.1+cu126", "cu126 of torch 2.14.1 has no wheels for Linux arm64 "
                                    "(published for Linux x86_64, Windows x86_64)"),)),
    Case("linux-arm64-gh200-driver-570-cu128", machine("linux", "3.12", "570.124.06", [nv(GH200)], arch="arm64"),
         "2.11.0", "cu128",
         rejected=(("2.12.0+cu132", "driver 570.124.06 is older than 580.65.06, needed for CUDA 13.x on Linux"),)),
    Case("linux-arm64-gb10-sm121-via-sm120-sass", machine("linux", "3.12", "580.95.05", [nv(GB10)], arch="arm64"),
         "2.14.1", "cu132", "the build has code for sm_121"),
    Case("linux-arm64-no-gpu-cpu", machine("linux", "3.11", arch="arm64"), "2.14.1", "cpu",
         "CPU build: no NVIDIA GPU was found, so CUDA cannot be used (on Linux from the cpu index"),
    Case("windows-arm64-nothing-published", machine("windows", "3.12", arch="arm64"), NO_BUILD,
         reason="no build is published for Windows arm64",
         rejected=(("2.14.1+cpu", "cpu of torch 2.14.1 has no wheels for Windows arm64 "
                                  "(published for Linux x86_64/arm64, Windows x86_64)"),)),
    # --- GPU generations ---
    Case("kepler-k80-linux-cu118-2.7", machine("linux", "3.10", "470.82.01", [nv(K80)]), "2.7.1", "cu118",
         "the build has code for sm_37"),
    Case("maxwell-gtx980-name-table-linux", machine("linux", "3.12", "535.104.05", [nv(GTX980)]), "2.14.1", "cu126",
         "NVIDIA GeForce GTX 980 (sm_52, from the name table)"),
    Case("maxwell-m40-name-table-windows", machine("windows", "3.12", "581.57", [nv(M40)]), "2.14.1", "cu126",
         rejected=(("2.14.1+cu132", f"cu132 has no code for sm_52 ({M40}); torch 2.14.1 cu132 has {CU13X_WIN}"),)),
    Case("pascal-gtx1080-linux-sm60-sass", machine("linux", "3.12", "580.95.05", [nv(GTX1080)]), "2.14.1", "cu126",
         rejected=(("2.14.1+cu132", f"cu132 has no code for sm_61 ({GTX1080}); torch 2.14.1 cu132 has "
                                    f"{CU13X_LINUX}"),)),
    Case("volta-v100-newest-is-cu126", machine("linux", "3.12", "580.65.06", [nv(V100)]), "2.14.1", "cu126",
         rejected=(("2.14.1+cu130", f"cu130 has no code for sm_70 ({V100}); torch 2.14.1 cu130 has "
                                    f"{CU13X_LINUX}"),)),
    Case("volta-v100-2.10-cu128-has-sm70", machine("linux", "3.12", "580.65.06", [nv(V100)]), "2.10.0", "cu128",
         request=Request(torch="2.10"),
         rejected=(("2.10.0+cu130", f"cu130 has no code for sm_70 ({V100}); torch 2.10.0 cu130 has "
                                    f"{CU13X_LINUX}"),)),
    Case("volta-v100-2.11-cu128-dropped-it", machine("linux", "3.12", "580.65.06", [nv(V100)]), "2.11.0", "cu126",
         request=Request(torch="2.11"),
         rejected=(("2.11.0+cu128", f"cu128 has no code for sm_70 ({V100}); torch 2.11.0 cu128 has "
                                    "sm_75 sm_80 sm_86 sm_90 sm_100 sm_120"),)),
    Case("volta-v100-2.8-cu129", machine("windows", "3.12", "580.88", [nv(V100)]), "2.8.0", "cu129",
         request=Request(torch="2.8.0")),
    Case("turing-rtx2080-windows-cu132", machine("windows", "3.12", "581.57", [nv(RTX2080)]), "2.14.1", "cu132",
         "the build has code for sm_75"),
    Case("ampere-a100-linux-535", machine("linux", "3.12", "535.104.05", [nv(A100)]), "2.14.1", "cu126",
         "the build has code for sm_80"),
    Case("hopper-h100-linux-570-cu126", machine("linux", "3.12", "570.124.06", [nv(H100)]), "2.14.1", "cu126"),
    Case("blackwell-b200-linux-570-cu128", machine("linux", "3.12", "570.124.06", [nv(B200)]), "2.11.0", "cu128",
         "the build has code for sm_100",
         rejected=(("2.14.1+cu126", f"cu126 has no code for sm_100 ({B200}); torch 2.14.1 cu126 has "
                                    "sm_50 sm_60 sm_70 sm_75 sm_80 sm_86 sm_90"),)),
    Case("blackwell-b200-linux-580-cu132", machine("linux", "3.12", "580.95.05", [nv(B200)]), "2.14.1", "cu132"),
    Case("blackwell-b200-linux-570.26-first-driver", machine("linux", "3.12", "570.26", [nv(B200)]), "2.11.0", "cu128",
         "the build has code for sm_100"),
    # A driver older than the GPU's architecture cannot run any CUDA build on it, whatever the family floor says.
    Case("blackwell-rtx5090-windows-566-before-blackwell-cpu", machine("windows", "3.12", "566.36", [nv(RTX5090)]),
         "2.14.1", "cpu", "Installing NVIDIA driver 580.88 or newer would unlock torch 2.14.1 cu132; driver 570.65 "
         "or newer would unlock torch 2.11.0 cu128",
         rejected=(("2.11.0+cu128", f"driver 566.36 is older than 570.65, the first Windows driver for sm_120 GPUs "
                                    f"({RTX5090})"),),
         warning="driver 566.36 is too old"),
    Case("blackwell-rtx5090-windows-570.65-first-driver", machine("windows", "3.12", "570.65", [nv(RTX5090)]),
         "2.11.0", "cu128", "the build has code for sm_120"),
    Case("hopper-h100-linux-515-before-hopper-cpu", machine("linux", "3.10", "515.65.01", [nv(H100)]), "2.14.1", "cpu",
         rejected=(("2.0.1+cu118", f"driver 515.65.01 is older than 520.61.05, the first Linux driver for sm_90 GPUs "
                                   f"({H100})"),)),
    Case("unknown-compute-capability-noted", machine("linux", "3.12", "580.65.06", [nv("NVIDIA Mystery GPU", None)]),
         "2.14.1", "cu132",
         "compute capability of GPU 0 (NVIDIA Mystery GPU) is unknown, so cu132's architectures could not be checked",
         warning="compute capability of GPU 0 (NVIDIA Mystery GPU) is unknown"),
    # --- several GPUs, other vendors, no driver ---
    Case("igpu-beside-nvidia-does-not-count", machine("windows", "3.12", "566.36",
                                                      [other(IGPU, "intel"), nv(RTX3060)]), "2.14.1", "cu126",
         f"other display adapters ({IGPU}) do not count for CUDA"),
    Case("intel-igpu-only-cpu", machine("windows", "3.12", gpus=[other(IGPU, "intel")]), "2.14.1", "cpu",
         "CPU build: no NVIDIA GPU was found, so CUDA cannot be used",
         rejected=(("2.14.1+cu132", "no NVIDIA GPU was found, so a CUDA build cannot be used"),)),
    Case("two-a100s-served", machine("linux", "3.12", "550.54.15", [nv(A100), nv(A100)]), "2.14.1", "cu126"),
    Case("ada-plus-ampere-windows-cu132", machine("windows", "3.12", "581.57", [nv(RTX4090), nv(RTX3060)]),
         "2.14.1", "cu132", "the build has code for sm_86, sm_89"),
    # Only cu128 and newer have code for sm_120, and none of them has sm_6x: nothing serves both GPUs, so the
    # newest CPU build, loudly, naming the build each GPU could use alone.
    Case("blackwell-plus-pascal-linux-cpu", machine("linux", "3.12", "580.95.05", [nv(RTX5090), nv(GTX1080)]),
         "2.14.1", "cpu",
         "CPU BUILD, ALTHOUGH AN NVIDIA GPU IS PRESENT: no CUDA build that fits the other rules has code for every "
         f"GPU; builds each GPU could use alone: {RTX5090} (sm_120): torch 2.14.1 cu132, {GTX1080} (sm_61): "
         "torch 2.14.1 cu126",
         rejected=(("2.14.1+cu126", f"cu126 has no code for sm_120 ({RTX5090}); torch 2.14.1 cu126 has "
                                    "sm_50 sm_60 sm_70 sm_75 sm_80 sm_86 sm_90"),
                   ("2.14.1+cu132", f"cu132 has no code for sm_61 ({GTX1080}); torch 2.14.1 cu132 has "
                                    f"{CU13X_LINUX}")),
         warning="CPU BUILD, ALTHOUGH AN NVIDIA GPU IS PRESENT"),
    # Windows cu118 (2.0-2.7) has compute_37 PTX, but PTX serves only its own major (ArchList.serves: torch's
    # _check_cubins refuses a GPU without an sm_ of its major), so Windows is no different: the CPU build.
    Case("blackwell-plus-pascal-windows-cpu", machine("windows", "3.12", "581.57", [nv(RTX5090), nv(GTX1080)]),
         "2.14.1", "cpu",
         f"builds each GPU could use alone: {RTX5090} (sm_120): torch 2.14.1 cu132, {GTX1080} (sm_61): "
         "torch 2.14.1 cu126 (hide the others with CUDA_VISIBLE_DEVICES",
         rejected=(("2.7.1+cu118", f"cu118 has no code for sm_120 ({RTX5090}); torch 2.7.1 cu118 has "
                                   "sm_37 sm_50 sm_60 sm_61 sm_70 sm_75 sm_80 sm_86 sm_90 compute_37"),
                   ("2.14.1+cu132", f"cu132 has no code for sm_61 ({GTX1080}); torch 2.14.1 cu132 has {CU13X_WIN}")),
         warning="CPU BUILD, ALTHOUGH AN NVIDIA GPU IS PRESENT"),
    Case("no-driver-gpu-present-cpu-loud", machine("linux", "3.12", None, [nv(RTX3090)]), "2.14.1", "cpu",
         "CPU BUILD, ALTHOUGH AN NVIDIA GPU IS PRESENT: the NVIDIA driver version is unknown (is the driver "
         "installed?). " + unlock("580.65.06 or newer would unlock torch 2.14.1 cu132",
                                  "450.80.02 or newer would unlock torch 2.7.1 cu118"),
         rejected=(("2.14.1+cu132", "the NVIDIA driver version is unknown; CUDA 13.x on Linux needs driver "
                                    "580.65.06 or newer"),)),
    Case("nvidia-smi-missing-linux-cpu-index", machine("linux", "3.12", error="nvidia-smi-not-found"), "2.14.1", "cpu",
         "CPU build: nvidia-smi was not found, so CUDA cannot be used (on Linux from the cpu index, not PyPI's "
         "default CUDA wheel)", warning="nvidia-smi was not found",
         command=("python", "-m", "pip", "install", "torch==2.14.1", "torchvision==0.29.1",
                  "--index-url", f"{INDEX}/cpu")),
    # --- constraints ---
    Case("torch-2.5-newest-patch", machine("linux", "3.12", "550.54.15", [nv(RTX3090)]), "2.5.1", "cu124",
         request=Request(torch="2.5")),
    Case("torch-2.5.1-exact-windows", machine("windows", "3.12", "551.61", [nv(RTX3090)]), "2.5.1", "cu124",
         "torch 2.5.1 is the newest release in the manifest that fits --torch 2.5.1", request=Request(torch="2.5.1")),
    Case("torch-2.5.0-exact", machine("linux", "3.12", "550.54.15", [nv(RTX3090)]), "2.5.0", "cu124",
         request=Request(torch="2.5.0")),
    Case("torch-9.9-no-match", machine("linux", "3.12", "550.54.15", [nv(RTX3090)]), NO_BUILD,
         reason="no build in the manifest matches --torch 9.9", request=Request(torch="9.9"),
         advice="`pybootstrap manifest show` lists every release"),
    Case("variant-cu124-newest-release-with-it", machine("linux", "3.12", "550.54.15", [nv(RTX3090)]), "2.6.0",
         "cu124", "cu124 (from --variant)", request=Request(variant="cu124")),
    Case("variant-cu124-rtx5090-no-build", machine("linux", "3.12", "580.95.05", [nv(RTX5090)]), NO_BUILD,
         reason="no build satisfies every rule with --variant cu124", request=Request(variant="cu124"),
         rejected=(("2.6.0+cu124", f"cu124 has no code for sm_120 ({RTX5090}); torch 2.6.0 cu124 has "
                                   "sm_50 sm_60 sm_70 sm_75 sm_80 sm_86 sm_90"),),
         advice="Relax the constraints (--variant cu124)"),
    Case("variant-cpu-on-gpu-machine", machine("linux", "3.12", "580.95.05", [nv(RTX3090)]), "2.14.1", "cpu",
         "--variant asked for the CPU build", request=Request(variant="cpu")),
    Case("variant-cu126-without-gpu-for-images", machine("linux", "3.12"), "2.14.1", "cu126",
         "no NVIDIA GPU was found here; cu126 is planned only because --variant asked for it",
         request=Request(variant="cu126"), warning="planned only because --variant asked for it"),
    Case("variant-cu126-driver-too-old-no-build", machine("linux", "3.12", "520.61.05", [nv(RTX3090)]), NO_BUILD,
         request=Request(variant="cu126"),
         rejected=(("2.14.1+cu126", "driver 520.61.05 is older than 525.60.13, needed for CUDA 12.x on Linux"),)),
    Case("variant-rocm-only-on-request", machine("linux", "3.12"), "2.9.1", "rocm6.4",
         "rocm6.4 was requested with --variant", request=Request(variant="rocm6.4"),
         command=("python", "-m", "pip", "install", "torch==2.9.1", "torchvision==0.24.1", "torchaudio==2.9.1",
                  "--index-url", f"{INDEX}/rocm6.4")),
    Case("installer-conda-2.5.1", machine("linux", "3.12", "550.54.15", [nv(RTX3090)]), "2.5.1", "cu124",
         "conda installs from the channels pytorch, nvidia", request=Request(torch="2.5.1", installer="conda"),
         installer="conda", environment="conda",
         command=("conda", "install", "-y", "pytorch==2.5.1", "torchvision==0.20.1", "torchaudio==2.5.1",
                  "pytorch-cuda=12.4", "-c", "pytorch", "-c", "nvidia")),
    Case("installer-conda-cpuonly", machine("windows", "3.11"), "2.5.1", "cpu",
         request=Request(torch="2.5", installer="conda", packages=("torch",), packages_explicit=True),
         installer="conda", environment="conda",
         command=("conda", "install", "-y", "pytorch==2.5.1", "cpuonly", "-c", "pytorch")),
    Case("installer-conda-1.12-conda-forge", machine("linux", "3.10", "515.65.01", [nv(RTX3090)]), "1.12.1", "cu116",
         request=Request(torch="1.12", installer="conda"), installer="conda", environment="conda",
         command=("conda", "install", "-y", "pytorch==1.12.1", "torchvision==0.13.1", "torchaudio==0.12.1",
                  "cudatoolkit=11.6", "-c", "pytorch", "-c", "conda-forge")),
    Case("installer-conda-2.14-pip-in-conda", machine("linux", "3.12", "580.95.05", [nv(RTX3090)]), "2.14.1", "cu132",
         "torch 2.14.1 cu132 is not on the pytorch conda channel (the channel ended with 2.5), so pip installs it "
         "from the PyTorch index inside the conda environment", request=Request(torch="2.14", installer="conda"),
         environment="conda",
         command=("python", "-m", "pip", "install", "torch==2.14.1", "torchvision==0.29.1",
                  "--index-url", f"{INDEX}/cu132")),
    Case("packages-torch-only", machine("windows", "3.12", "581.57", [nv(RTX3060)]), "2.14.1", "cu132",
         request=Request(packages=("torch",), packages_explicit=True),
         command=("python", "-m", "pip", "install", "torch==2.14.1", "--index-url", f"{INDEX}/cu132")),
    Case("packages-torchaudio-on-2.14-rejected", machine("linux", "3.12", "580.95.05", [nv(RTX3090)]), NO_BUILD,
         reason="no build satisfies every rule with --torch 2.14 and --packages torch,torchaudio",
         request=Request(torch="2.14", packages=("torch", "torchaudio"), packages_explicit=True),
         rejected=(("2.14.1+cu132", "no torchaudio release is paired with torch 2.14.1"),),
         advice="e.g.: no torchaudio release is paired with torch 2.14.1"),
    Case("packages-torchaudio-picks-2.11", machine("linux", "3.12", "580.95.05", [nv(RTX3090)]), "2.11.0", "cu130",
         request=Request(packages=("torch", "torchaudio"), packages_explicit=True),
         rejected=(("2.12.0+cu132", "no torchaudio release is paired with torch 2.12.0"),),
         command=("python", "-m", "pip", "install", "torch==2.11.0", "torchaudio==2.11.0",
                  "--index-url", f"{INDEX}/cu130")),
    Case("default-packages-skip-missing-torchaudio", machine("linux", "3.12", "580.95.05", [nv(RTX3090)]), "2.14.1",
         "cu132", "torchaudio is skipped: no release is paired with torch 2.14.1"),
    # --- sources ---
    Case("index-url-honoured", machine("linux", "3.12", "580.95.05", [nv(RTX3090)]), "2.14.1", "cu132",
         "index https://pypi.example.org/torch/simple (from --index-url)",
         request=Request(index_url="https://pypi.example.org/torch/simple"),
         command=("python", "-m", "pip", "install", "torch==2.14.1", "torchvision==0.29.1",
                  "--index-url", "https://pypi.example.org/torch/simple")),
    Case("mirror-honoured", machine("windows", "3.12", "576.02", [nv(RTX5090)]), "2.11.0", "cu128",
         "index https://mirror.example.org/pytorch/cu128 (from --mirror)",
         request=Request(mirror="https://mirror.example.org/pytorch"),
         command=("python", "-m", "pip", "install", "torch==2.11.0", "torchvision==0.26.0", "torchaudio==2.11.0",
                  "--index-url", "https://mirror.example.org/pytorch/cu128")),
    Case("find-links-with-index", machine("linux", "3.12", "580.95.05", [nv(RTX3090)]), "2.14.1", "cu132",
         request=Request(find_links=("/srv/wheels",)),
         command=("python", "-m", "pip", "install", "torch==2.14.1", "torchvision==0.29.1",
                  "--index-url", f"{INDEX}/cu132", "--find-links", "/srv/wheels")),
    Case("offline-find-links-only", machine("linux", "3.12", "580.95.05", [nv(RTX3090)]), "2.14.1", "cu132",
         "offline: pip reads only the --find-links folders (/srv/wheels)",
         request=Request(find_links=("/srv/wheels",), offline=True),
         command=("python", "-m", "pip", "install", "torch==2.14.1", "torchvision==0.29.1",
                  "--no-index", "--find-links", "/srv/wheels")),
    Case("old-style-1.13.1-cpu-extra-index", machine("windows", "3.10"), "1.13.1", "cpu",
         request=Request(torch="1.13.1"),
         command=("python", "-m", "pip", "install", "torch==1.13.1+cpu", "torchvision==0.14.1+cpu",
                  "torchaudio==0.13.1", "--extra-index-url", f"{INDEX}/cpu")),
    Case("old-style-1.13.1-cu117-extra-index", machine("linux", "3.10", "525.60.13", [nv(RTX3090)]), "1.13.1", "cu117",
         request=Request(torch="1.13.1"),
         command=("python", "-m", "pip", "install", "torch==1.13.1+cu117", "torchvision==0.14.1+cu117",
                  "torchaudio==0.13.1", "--extra-index-url", f"{INDEX}/cu117")),
    Case("old-style-1.13.1-with-index-url", machine("linux", "3.10", "525.60.13", [nv(RTX3090)]), "1.13.1", "cu117",
         request=Request(torch="1.13.1", index_url="https://mirror.example.org/cu117"),
         command=("python", "-m", "pip", "install", "torch==1.13.1+cu117", "torchvision==0.14.1+cu117",
                  "torchaudio==0.13.1", "--index-url", "https://mirror.example.org/cu117")),
]


def _rejected(p: Plan) -> Dict[str, str]:
    return {r.build: r.reason for r in p.rejected}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_plan_table(case: Case) -> None:
    p = plan(MANIFEST, case.hw, case.request)
    text = "\n".join(p.reasons)
    if case.release == NO_BUILD:
        assert p.status == NO_BUILD, text
        assert p.build is None and p.commands == ()
        assert case.advice in (p.advice or "")
    else:
        assert p.status == "ok", f"{text}\n{p.advice}"
        assert (p.build.torch, p.build.variant, p.build.installer) == (case.release, case.variant, case.installer), text
        assert p.build.environment == case.environment
    assert case.reason in text
    rejected = _rejected(p)
    for build, reason in case.rejected:
        assert rejected.get(build) == reason, f"{build}: {rejected.get(build)!r}"
    if case.command is not None:
        assert build_commands(p.build, p.request) == (case.command,)
    if case.warning:
        assert any(case.warning in w for w in p.warnings), p.warnings


def test_table_covers_the_issue() -> None:
    assert len(CASES) >= 45
    assert len({c.id for c in CASES}) == len(CASES)
    assert {c.hw.os for c in CASES} == {"linux", "windows"}
    pythons = {c.hw.python_version[:4].rstrip(".") for c in CASES}
    assert {"3.8", "3.9", "3.13", "3.14", "3.15"} <= pythons


def test_rejected_lists_only_candidates_at_or_above_the_choice() -> None:
    p = plan(MANIFEST, machine("windows", "3.12", "576.02", [nv(RTX5090)]), Request())
    assert p.rejected and all(r.build.split("+")[0] in ("2.11.0", "2.12.0", "2.12.1", "2.13.0", "2.14.0", "2.14.1")
                              for r in p.rejected)
    assert "2.11.0+cu130" in _rejected(p) and "2.11.0+cu128" not in _rejected(p)
    assert {r.rule for r in p.rejected} == {"driver", "arch"}


def test_plan_is_pure_and_deterministic() -> None:
    hw = machine("linux", "3.12", "580.95.05", [nv(RTX5090), nv(GTX1080)])
    first, second = plan(MANIFEST, hw, Request()), plan(MANIFEST, hw, Request())
    assert first.to_dict() == second.to_dict()
    assert hw == machine("linux", "3.12", "580.95.05", [nv(RTX5090), nv(GTX1080)])


# --- the property test: an independent statement of the rules ------------------------------------

def _numbers(text: str, width: int = 3) -> Tuple[int, ...]:
    parts = [int(p) for p in text.split(".")]
    return tuple(parts + [0] * (width - len(parts)))


def _serves(arch_list: str, cc: Tuple[int, int]) -> bool:
    """Code of the same major at or below cc. PTX counts only within its major as well (see ArchList.serves:
    torch refuses a GPU that has no sm_ of its major), so SASS and PTX entries are checked alike."""
    for item in arch_list.split(";"):
        major, minor = (int(x) for x in item.partition("+")[0].split("."))
        if major == cc[0] and minor <= cc[1]:
            return True
    return False


FLOORS = {f["major"]: {o: _numbers(v) for o, v in f["min_driver"].items()} for f in RAW["cuda_families"]}
ARCH_FLOORS = {tuple(int(x) for x in a["compute_capability"].split(".")): {o: _numbers(v) for o, v in
                                                                           a["min_driver"].items()}
               for a in RAW["arch_drivers"]}


def _arch_floor(cc: Tuple[int, int], os: str) -> Tuple[int, ...]:
    """The first driver for the GPU's architecture: the entry of the same major at the highest minor <= cc."""
    same = [k for k in ARCH_FLOORS if k[0] == cc[0] and k[1] <= cc[1] and os in ARCH_FLOORS[k]]
    return ARCH_FLOORS[max(same)][os] if same else (0,)
KIND_RANK = {"cpu": 0, "rocm": 1, "xpu": 1, "cuda": 2}


def _independent_ok(release: dict, variant: dict, hw: Hardware, request: Request) -> bool:
    if hw.arch not in variant["platforms"].get(hw.os, []):
        return False
    pythons = (variant.get("python") or {}).get(hw.os) or release["python"].get(hw.os, [])
    if ".".join(hw.python_version.split(".")[:2]) not in pythons:
        return False
    if request.packages_explicit and any(release[p] is None for p in request.packages if p != "torch"):
        return False
    if variant["kind"] != "cuda":
        return True
    nvidia = [g for g in hw.gpus if g.vendor == "nvidia"]
    explicit = request.variant == variant["name"]
    if not nvidia and not explicit:
        return False
    floor = FLOORS[int(variant["cuda"].split(".")[0])][hw.os]
    if hw.driver_version is None and not explicit:
        return False
    if hw.driver_version is not None and _numbers(str(hw.driver_version)) < floor:
        return False
    if hw.driver_version is not None and any(
            g.compute_capability and _numbers(str(hw.driver_version)) < _arch_floor(g.compute_capability, hw.os)
            for g in nvidia):
        return False
    return all(g.compute_capability is None or _serves(variant["archs"][hw.os], g.compute_capability)
               for g in nvidia)


def _wanted(release: dict, variant: dict, request: Request) -> bool:
    if request.torch:
        parts = request.torch.split(".")
        if release["torch"].split(".")[:len(parts)] != parts:
            return False
    if request.variant:
        return variant["name"] == request.variant
    return variant["kind"] not in ("rocm", "xpu")


def _key(release: dict, variant: dict) -> Tuple:
    return _numbers(release["torch"]), KIND_RANK[variant["kind"]], _numbers(variant.get("cuda") or "0")


CCS = sorted({tuple(int(x) for x in g["compute_capability"].split(".")) for g in RAW["gpus"]}
             | {(3, 0), (5, 3), (6, 2), (7, 2), (8, 7), (9, 1), (10, 1), (12, 9), (13, 0), (2, 1)})
INTERESTING_DRIVERS = ["520.06", "520.61.05", "570.26", "570.65", "570.64", "575.51.03", "576.01",  # arch floors
                       "440.33", "441.22", "450.80.02", "450.80.01", "452.39", "452.38", "525.60.13", "525.60.12",
                       "528.33", "528.32", "576.02", "580.65.06", "580.65.05", "580.88", "580.87", "581.57"]
drivers = st.one_of(st.none(), st.sampled_from(INTERESTING_DRIVERS),
                    st.builds(lambda a, b, c: f"{a}.{b:02d}" + (f".{c:02d}" if c is not None else ""),
                              st.integers(400, 699), st.integers(0, 150), st.none() | st.integers(0, 99)))
gpus = st.lists(st.tuples(st.sampled_from(["nvidia", "nvidia", "nvidia", "intel", "amd"]),
                          st.none() | st.sampled_from(CCS)), max_size=3)
torches = st.none() | st.sampled_from([r["torch"] for r in RAW["releases"]] + ["2.5", "1.13", "2.14", "9.9"])
variants = st.sampled_from([None, None, None, None, "cpu", "cu118", "cu124", "cu126", "cu128", "cu130"])
packages = st.sampled_from([(PACKAGES, False), (("torch",), True), (("torch", "torchaudio"), True)])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(os=st.sampled_from(["linux", "windows"]), arch=st.sampled_from(["x86_64", "x86_64", "arm64"]),
       py=st.sampled_from(["3.7", "3.8", "3.9", "3.10", "3.11", "3.12", "3.13", "3.14", "3.15"]),
       driver=drivers, gpu_list=gpus, torch=torches, variant=variants, pkgs=packages)
def test_choice_is_the_newest_build_passing_every_rule(os: str, arch: str, py: str, driver: Optional[str],
                                                       gpu_list: list, torch: Optional[str], variant: Optional[str],
                                                       pkgs: tuple) -> None:
    hw = Hardware(os=os, arch=arch, python_version=py, driver_version=DriverVersion(driver) if driver else None,
                  gpus=tuple(Gpu(index=i, name=f"GPU {i}", vendor=vendor, compute_capability=cc)
                             for i, (vendor, cc) in enumerate(gpu_list)))
    request = Request(torch=torch, variant=variant, packages=pkgs[0], packages_explicit=pkgs[1])
    candidates = [(r, v) for r in RAW["releases"] for v in r["variants"] if _wanted(r, v, request)]
    passing = [c for c in candidates if _independent_ok(c[0], c[1], hw, request)]
    gpu_builds = [c for c in passing if c[1]["kind"] != "cpu"]
    expected = max(gpu_builds or passing, key=lambda c: _key(*c)) if passing else None

    p = plan(MANIFEST, hw, request)

    if expected is None:
        assert p.status == NO_BUILD and p.build is None
    else:
        assert p.status == "ok"
        assert (p.build.torch, p.build.variant) == (expected[0]["torch"], expected[1]["name"])
        chosen = next(c for c in candidates if (c[0]["torch"], c[1]["name"]) == (p.build.torch, p.build.variant))
        assert _independent_ok(chosen[0], chosen[1], hw, request)
        # nothing preferred passes: no newer GPU build, and for a CPU choice no GPU build at all
        preferred = gpu_builds if chosen[1]["kind"] != "cpu" else passing
        assert not any(_key(*c) > _key(*chosen) for c in preferred)
        assert chosen[1]["kind"] != "cpu" or not gpu_builds
    by_label = {f"{r['torch']}+{v['name']}": (r, v) for r, v in candidates}
    for rejection in p.rejected:
        assert not _independent_ok(*by_label[rejection.build], hw, request), rejection

"""Write manifests/pytorch.json from the compact tables below.

The JSON file is what pybootstrap reads and what reviewers check; this script only saves typing
when many releases share the same facts. Source keys (PV, REL, TI, ...) are explained in the
manifest's "sources" object.
"""

from __future__ import annotations

import json
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "manifests" / "pytorch.json"
BASE = "https://download.pytorch.org/whl"

SOURCES = {
    "PV": "https://pytorch.org/get-started/previous-versions/ (pytorch/pytorch.github.io _get_started/previous-versions.md)",
    "PVJ": "pytorch/pytorch.github.io published_versions.json (quick-start data)",
    "REL": "https://github.com/pytorch/pytorch/blob/main/RELEASE.md (release compatibility matrix)",
    "TI": "pytorch/test-infra tools/scripts/generate_binary_build_matrix.py, branches release/2.1 ... release/2.14",
    "BLD": "pytorch/builder manywheel/build_cuda.sh and windows/cuda*.bat, branches release/1.12 ... release/2.5",
    "CI": "pytorch/pytorch .ci/manywheel/build_cuda.sh and .ci/pytorch/windows/cuda*.bat",
    "PR164471": "https://github.com/pytorch/pytorch/pull/164471 (arch matrix for 2.9 and 2.10)",
    "PR175253": "https://github.com/pytorch/pytorch/pull/175253 (arch matrix for 2.11)",
    "PR182849": "https://github.com/pytorch/pytorch/pull/182849 (arch matrix for 2.12+)",
    "MOI": "moi90/pytorch_compute_capabilities (cuobjdump of released binaries)",
    "VIS": "https://github.com/pytorch/vision#installation (torch/torchvision version table)",
    "AUD": "https://docs.pytorch.org/audio/stable/installation.html (compatibility matrix)",
    "NV-minor": "https://docs.nvidia.com/deploy/cuda-compatibility/minor-version-compatibility.html (Table 1)",
    "NV-RN": "https://docs.nvidia.com/cuda/cuda-toolkit-release-notes/ (Table 2 and Table 3)",
    "NV-GPU": "https://developer.nvidia.com/cuda-gpus and https://developer.nvidia.com/cuda-legacy-gpus",
    "BLOG212": "PyTorch 2.12 release blog: CUDA 13 wheels need driver 580.65.06 (Linux) or 580.88 (Windows)",
}

# --- arch lists (TORCH_CUDA_ARCH_LIST) -------------------------------------------------------
L_CU102 = "3.7;5.0;6.0;7.0"
L_CU11_OLD = "3.7;5.0;6.0;7.0;7.5;8.0;8.6"
L_CU118 = "3.7;5.0;6.0;7.0;7.5;8.0;8.6;9.0"
L_CU12 = "5.0;6.0;7.0;7.5;8.0;8.6;9.0"
W_CU11_OLD = "3.7+PTX;5.0;6.0;6.1;7.0;7.5;8.0;8.6"
W_CU118 = "3.7+PTX;5.0;6.0;6.1;7.0;7.5;8.0;8.6;9.0"
W_CU12 = "5.0;6.0;6.1;7.0;7.5;8.0;8.6;9.0"
BW = "7.5;8.0;8.6;9.0;10.0;12.0"            # Turing..Blackwell, no Volta
BW_VOLTA = "7.0;7.5;8.0;8.6;9.0;10.0;12.0"  # 2.8-2.10 cu128/cu129 on Linux
BW_PTX = "7.5;8.0;8.6;9.0;10.0;12.0+PTX"    # cu130/cu132 on Linux ("+PTX on linux builds only")

X86 = ["x86_64"]
BOTH = ["x86_64", "arm64"]


def py(lo: int, hi: int) -> list:
    return [f"3.{m}" for m in range(lo, hi + 1)]


def cuda(name, ver, linux, windows, conda=None, arm64=False, note=None, src=None):
    v = {"name": name, "kind": "cuda", "cuda": ver,
         "platforms": {}, "archs": {}}
    if linux:
        v["platforms"]["linux"] = BOTH if arm64 else X86
        v["archs"]["linux"] = linux
    if windows:
        v["platforms"]["windows"] = X86
        v["archs"]["windows"] = windows
    if conda:
        v["conda"] = conda
    if note:
        v["note"] = note
    return v


def cpu(conda=None):
    v = {"name": "cpu", "kind": "cpu", "platforms": {"linux": BOTH, "windows": X86}}
    if conda:
        v["conda"] = conda
    return v


def rocm(ver):
    return {"name": f"rocm{ver}", "kind": "rocm", "platforms": {"linux": X86}}


def xpu(windows=True):
    v = {"name": "xpu", "kind": "xpu", "platforms": {"linux": X86}}
    if windows:
        v["platforms"]["windows"] = X86
    return v


def pc(ver):
    return {"package": f"pytorch-cuda={ver}", "channels": ["pytorch", "nvidia"]}


CPUONLY = {"package": "cpuonly", "channels": ["pytorch"]}


def release(torch, date, tv, ta, python, variants, source, conda=None, pip_style="index-url", notes=None):
    r = {"torch": torch, "date": date, "torchvision": tv, "torchaudio": ta, "python": python,
         "pip_style": pip_style, "conda": conda, "variants": variants, "source": source}
    if notes:
        r["notes"] = notes
    return r


def build_releases() -> list:
    out = []
    # 1.12.x: Linux cu102/cu113/cu116, Windows cu113/cu116 (no cu102 on Windows). PV, REL, BLD.
    for t, tv, ta, d in (("1.12.0", "0.13.0", "0.12.0", "2022-06-28"), ("1.12.1", "0.13.1", "0.12.1", "2022-08-05")):
        out.append(release(t, d, tv, ta, {"linux": py(7, 10), "windows": py(7, 10)}, [
            cpu(CPUONLY),
            cuda("cu102", "10.2", L_CU102, None, {"package": "cudatoolkit=10.2", "channels": ["pytorch"]}),
            cuda("cu113", "11.3", L_CU11_OLD, W_CU11_OLD, {"package": "cudatoolkit=11.3", "channels": ["pytorch"]}),
            cuda("cu116", "11.6", L_CU11_OLD, W_CU11_OLD,
                 {"package": "cudatoolkit=11.6", "channels": ["pytorch", "conda-forge"]}),
            rocm("5.1.1"),
        ], "PV; REL; BLD", conda={"torchvision": tv, "torchaudio": ta}, pip_style="extra-index-url"))
    for t, tv, ta, d in (("1.13.0", "0.14.0", "0.13.0", "2022-10-28"), ("1.13.1", "0.14.1", "0.13.1", "2022-12-15")):
        out.append(release(t, d, tv, ta, {"linux": py(7, 10), "windows": py(7, 10)}, [
            cpu(CPUONLY),
            cuda("cu116", "11.6", L_CU11_OLD, W_CU11_OLD, pc("11.6")),
            cuda("cu117", "11.7", L_CU11_OLD, W_CU11_OLD, pc("11.7")),
            rocm("5.2"),
        ], "PV; REL; BLD", conda={"torchvision": tv, "torchaudio": ta}, pip_style="extra-index-url"))
    # 2.0.x: pip and conda companions differ for 2.0.0 (PV).
    out.append(release("2.0.0", "2023-03-15", "0.15.1", "2.0.1", {"linux": py(8, 11), "windows": py(8, 11)}, [
        cpu(CPUONLY),
        cuda("cu117", "11.7", L_CU11_OLD, W_CU11_OLD, pc("11.7")),
        cuda("cu118", "11.8", L_CU118, W_CU118, pc("11.8")),
        rocm("5.4.2"),
    ], "PV; REL; BLD", conda={"torchvision": "0.15.0", "torchaudio": "2.0.0"},
        notes=["pip installs torchvision 0.15.1 / torchaudio 2.0.1; conda installs 0.15.0 / 2.0.0 (PV)"]))
    out.append(release("2.0.1", "2023-05-08", "0.15.2", "2.0.2", {"linux": py(8, 11), "windows": py(8, 11)}, [
        cpu(CPUONLY),
        cuda("cu117", "11.7", L_CU11_OLD, W_CU11_OLD, pc("11.7")),
        cuda("cu118", "11.8", L_CU118, W_CU118, pc("11.8")),
        rocm("5.4.2"),
    ], "PV; REL; BLD", conda={"torchvision": "0.15.2", "torchaudio": "2.0.2"}))
    # 2.1 - 2.3: cu118 / cu121.
    series = [
        ("2.1.0", "2023-10-04", "0.16.0", (8, 11), "5.6"), ("2.1.1", "2023-11-15", "0.16.1", (8, 11), "5.6"),
        ("2.1.2", "2023-12-15", "0.16.2", (8, 11), "5.6"),
        ("2.2.0", "2024-01-30", "0.17.0", (8, 12), "5.6"), ("2.2.1", "2024-02-22", "0.17.1", (8, 12), "5.7"),
        ("2.2.2", "2024-03-28", "0.17.2", (8, 12), "5.7"),
        ("2.3.0", "2024-04-24", "0.18.0", (8, 12), "6.0"), ("2.3.1", "2024-06-05", "0.18.1", (8, 12), "6.0"),
    ]
    for t, d, tv, (lo, hi), rv in series:
        out.append(release(t, d, tv, t, {"linux": py(lo, hi), "windows": py(lo, hi)}, [
            cpu(CPUONLY),
            cuda("cu118", "11.8", L_CU118, W_CU118, pc("11.8")),
            cuda("cu121", "12.1", L_CU12, W_CU12, pc("12.1")),
            rocm(rv),
        ], "PV; REL; BLD; TI", conda={"torchvision": tv, "torchaudio": t},
            notes=["Python 3.12 wheels are built from 2.2 on (TI); the official matrix calls 3.12 experimental"]
            if hi == 12 else None))
    for t, d, tv in (("2.4.0", "2024-07-24", "0.19.0"), ("2.4.1", "2024-09-04", "0.19.1")):
        out.append(release(t, d, tv, t, {"linux": py(8, 12), "windows": py(8, 12)}, [
            cpu(CPUONLY),
            cuda("cu118", "11.8", L_CU118, W_CU118, pc("11.8")),
            cuda("cu121", "12.1", L_CU12, W_CU12, pc("12.1")),
            cuda("cu124", "12.4", L_CU12, W_CU12, pc("12.4")),
            rocm("6.1"),
        ], "PV; REL; BLD; TI", conda={"torchvision": tv, "torchaudio": t}))
    for t, d, tv in (("2.5.0", "2024-10-17", "0.20.0"), ("2.5.1", "2024-10-29", "0.20.1")):
        out.append(release(t, d, tv, t, {"linux": py(9, 13), "windows": py(9, 12)}, [
            cpu(CPUONLY),
            cuda("cu118", "11.8", L_CU118, W_CU118, pc("11.8")),
            cuda("cu121", "12.1", L_CU12, W_CU12, pc("12.1")),
            cuda("cu124", "12.4", L_CU12, W_CU12, pc("12.4")),
            rocm("6.1"), rocm("6.2"), xpu(windows=False),
        ], "PV; REL; BLD; pytorch/pytorch#130249 (3.13: Linux only)", conda={"torchvision": tv, "torchaudio": t},
            notes=["last release on the pytorch conda channel (pytorch/pytorch#138506)"]))
    out.append(release("2.6.0", "2025-01-29", "0.21.0", "2.6.0", {"linux": py(9, 13), "windows": py(9, 13)}, [
        cpu(),
        cuda("cu118", "11.8", L_CU118, W_CU118),
        cuda("cu124", "12.4", L_CU12, W_CU12),
        cuda("cu126", "12.6", L_CU12, W_CU12),
        rocm("6.1"), rocm("6.2.4"), xpu(),
    ], "PV; REL; MOI; CI"))
    for t, d, tv in (("2.7.0", "2025-04-23", "0.22.0"), ("2.7.1", "2025-06-04", "0.22.1")):
        out.append(release(t, d, tv, t, {"linux": py(9, 13), "windows": py(9, 13)}, [
            cpu(),
            cuda("cu118", "11.8", L_CU118, W_CU118),
            cuda("cu126", "12.6", L_CU12, W_CU12),
            cuda("cu128", "12.8", BW, BW, arm64=True, note="first Blackwell (sm_100, sm_120) build; no sm_50-sm_70"),
            rocm("6.3"), xpu(),
        ], "PV; REL; MOI; CI; pytorch/pytorch#147383"))
    out.append(release("2.8.0", "2025-08-06", "0.23.0", "2.8.0", {"linux": py(9, 13), "windows": py(9, 13)}, [
        cpu(),
        cuda("cu126", "12.6", L_CU12, W_CU12),
        cuda("cu128", "12.8", BW_VOLTA, BW_VOLTA, arm64=True),
        cuda("cu129", "12.9", BW_VOLTA.replace("12.0", "12.0+PTX"), BW_VOLTA, arm64=True,
             note="the Windows cu129 wheel ships without torch.segment_reduce() (2.8.0 release notes)"),
        rocm("6.4"), xpu(),
    ], "PV; REL; CI; pytorch/pytorch#157517; pytorch/pytorch#158126 (Windows cu128 includes sm_70)"))
    for t, d, tv in (("2.9.0", "2025-10-15", "0.24.0"), ("2.9.1", "2025-11-12", "0.24.1"),
                     ("2.10.0", "2026-01-21", "0.25.0")):
        out.append(release(t, d, tv, t, {"linux": py(10, 14), "windows": py(10, 14)}, [
            cpu(),
            cuda("cu126", "12.6", L_CU12, W_CU12),
            cuda("cu128", "12.8", BW_VOLTA, BW_VOLTA, arm64=True),
            cuda("cu130", "13.0", BW_PTX, BW, arm64=True),
            rocm("6.4") if t.startswith("2.9") else rocm("7.1"), xpu(),
        ], "PV; REL; PR164471; TI; pytorch/pytorch#164470 (Windows cu128 arch list)"))
    out.append(release("2.11.0", "2026-03-23", "0.26.0", "2.11.0", {"linux": py(10, 14), "windows": py(10, 14)}, [
        cpu(),
        cuda("cu126", "12.6", L_CU12, W_CU12),
        cuda("cu128", "12.8", BW, BW, arm64=True, note="Volta (sm_70) dropped from cu128 in 2.11"),
        cuda("cu130", "13.0", BW_PTX, BW, arm64=True),
        rocm("7.2"), xpu(),
    ], "PV; REL; PR175253; TI"))
    for t, d, tv, ta in TORCH_2_12_ON:
        out.append(release(t, d, tv, ta, {"linux": py(10, 14), "windows": py(10, 14)}, [
            cpu(),
            cuda("cu126", "12.6", L_CU12, W_CU12),
            cuda("cu130", "13.0", BW_PTX, BW, arm64=True),
            cuda("cu132", "13.2", BW_PTX, BW, arm64=True),
            rocm("7.2"), *([rocm("7.14")] if t.startswith("2.14") else []), xpu(),
        ], "PVJ; REL; PR182849; TI; PyPI upload dates", notes=NOTES_2_12_ON.get(t)))
    return out


# torch, date, torchvision, torchaudio
TORCH_2_12_ON = [
    ("2.12.0", "2026-05-13", "0.27.0", None),
    ("2.12.1", "2026-06-17", "0.27.1", None),
    ("2.13.0", "2026-07-08", "0.28.0", None),
    ("2.14.0", "2026-09-02", "0.29.0", None),
    ("2.14.1", "2026-09-30", "0.29.1", None),
]
_NO_AUDIO = ("no torchaudio release is paired with this torch: torchaudio is in maintenance and its newest "
             "release is 2.11 (pytorch/pytorch.github.io#2074; PyPI torchaudio has no 2.12, 2.13 or 2.14)")
NOTES_2_12_ON = {
    "2.12.0": [_NO_AUDIO, "cu128 is no longer built from 2.12 on"],
    "2.12.1": [_NO_AUDIO],
    "2.13.0": [_NO_AUDIO],
    "2.14.0": [_NO_AUDIO, "Python 3.15 preview wheels (torch only, download.pytorch.org only) are not listed"],
    "2.14.1": [_NO_AUDIO, "Python 3.15 preview wheels (torch only, download.pytorch.org only) are not listed"],
}

CUDA_FAMILIES = [
    {"major": 13, "min_driver": {"linux": "580.65.06", "windows": "580.88"}, "source": "NV-minor; NV-RN; BLOG212"},
    {"major": 12, "min_driver": {"linux": "525.60.13", "windows": "528.33"},
     "source": "NV-RN Table 2 (Windows: the 12.0 Update 1 edition, 528.33; the 12.0 GA edition said 527.41)"},
    {"major": 11, "min_driver": {"linux": "450.80.02", "windows": "452.39"}, "source": "NV-minor"},
    {"major": 10, "min_driver": {"linux": "440.33", "windows": "441.22"}, "source": "NV-RN (10.2 toolkit driver)"},
]

# NV-RN Table 3: the driver that shipped with each toolkit (first update of each minor version).
# Windows rows for 13.x are N/A in NVIDIA's table (the display driver is no longer bundled):
# 13.0's 580.88 is the PyTorch 2.12 blog's Windows minimum (BLOG212); for 13.1+ (null)
# pybootstrap uses the Linux branch number.
# The first driver for each GPU architecture: the driver of the CUDA toolkit that introduced it (NV-RN
# Table 3). An older driver does not know the GPU, so no CUDA build can run on it.
_T118 = {"linux": "520.61.05", "windows": "520.06"}
_T128 = {"linux": "570.26", "windows": "570.65"}
_T129 = {"linux": "575.51.03", "windows": "576.02"}
_T130 = {"linux": "580.65.06", "windows": "580.88"}
ARCH_DRIVERS = [
    ("8.9", _T118, "NV-RN: CUDA 11.8 added Ada (sm_89)"),
    ("9.0", _T118, "NV-RN: CUDA 11.8 added Hopper (sm_90)"),
    ("10.0", _T128, "NV-RN: CUDA 12.8 added Blackwell (sm_100, sm_120)"),
    ("10.3", _T129, "NV-RN: CUDA 12.9 added sm_103 (B300, GB300)"),
    ("11.0", _T130, "NV-RN: CUDA 13.0 (Jetson Thor, sm_110)"),
    ("12.0", _T128, "NV-RN: CUDA 12.8 added Blackwell (sm_100, sm_120)"),
    ("12.1", _T130, "NV-RN: CUDA 13.0 (DGX Spark GB10, sm_121)"),
]

TOOLKITS = [
    ("13.2", "595.45.04", None), ("13.1", "590.44.01", None),
    ("13.0", "580.65.06", "580.88"),
    ("12.9", "575.51.03", "576.02"), ("12.8", "570.26", "570.65"), ("12.6", "560.28.03", "560.76"),
    ("12.5", "555.42.02", "555.85"), ("12.4", "550.54.14", "551.61"), ("12.3", "545.23.06", "545.84"),
    ("12.2", "535.54.03", "536.25"), ("12.1", "530.30.02", "531.14"), ("12.0", "525.60.13", "527.41"),
    ("11.8", "520.61.05", "520.06"), ("11.7", "515.43.04", "516.01"), ("11.6", "510.39.01", "511.23"),
    ("11.5", "495.29.05", "496.04"), ("11.4", "470.42.01", "471.11"), ("11.3", "465.19.01", "465.89"),
    ("11.2", "460.27.03", "460.82"), ("11.1", "455.23", "456.38"), ("11.0", "450.36.06", "451.22"),
    ("10.2", "440.33", "441.22"), ("10.1", "418.39", "418.96"), ("10.0", "410.48", "411.31"),
    ("9.2", "396.26", "397.44"), ("9.1", "390.46", "391.29"), ("9.0", "384.81", "385.54"),
    ("8.0", "375.26", "376.51"),
]

# GPU name fragment -> compute capability (NV-GPU). Matching is case-insensitive, longest first.
GPUS = {
    "12.1": ["GB10", "DGX Spark"],
    "12.0": ["RTX 5090", "RTX 5080", "RTX 5070 Ti", "RTX 5070", "RTX 5060 Ti", "RTX 5060", "RTX 5050",
             "RTX PRO 6000", "RTX PRO 5000", "RTX PRO 4500", "RTX PRO 4000", "RTX PRO 2000", "RTX PRO 500",
             "RTX PRO 1000"],
    "11.0": ["Jetson T5000", "Jetson T4000", "Jetson AGX Thor", "Thor"],
    "10.3": ["GB300", "B300"],
    "10.0": ["GB200", "B200", "B100"],
    "9.0": ["GH200", "H200", "H100", "H800", "H20"],
    "8.9": ["L40S", "L40", "L4", "L20", "RTX 6000 Ada", "RTX 5000 Ada", "RTX 4500 Ada", "RTX 4000 Ada",
            "RTX 4000 SFF Ada", "RTX 3500 Ada", "RTX 3000 Ada", "RTX 2000 Ada", "RTX 2000E Ada",
            "RTX 5880 Ada", "RTX 5000 Ada Generation", "RTX 4090", "RTX 4080", "RTX 4070", "RTX 4060",
            "RTX 4050"],
    "8.7": ["Jetson AGX Orin", "Jetson Orin NX", "Jetson Orin Nano", "Orin"],
    "8.6": ["A40", "A10G", "A10", "A16", "A2", "RTX A6000", "RTX A5500", "RTX A5000", "RTX A4500", "RTX A4000",
            "RTX A3000", "RTX A2000", "RTX A1000", "RTX A500", "A10M", "RTX 3090", "RTX 3080", "RTX 3070",
            "RTX 3060", "RTX 3050", "A800 40GB Active"],
    "8.0": ["A100", "A800", "A30"],
    "7.5": ["Tesla T4", "T4", "Quadro RTX 8000", "Quadro RTX 6000", "Quadro RTX 5000", "Quadro RTX 4000",
            "Quadro RTX 3000", "Quadro T2000", "Quadro T1000", "T1200", "T1000", "T600", "T500", "T400",
            "TITAN RTX", "RTX 2080", "RTX 2070", "RTX 2060", "GTX 1660", "GTX 1650", "GTX 1630", "MX550",
            "MX450"],
    "7.2": ["Jetson AGX Xavier", "Xavier NX", "Xavier"],
    "7.0": ["V100", "Quadro GV100", "TITAN V"],
    "6.2": ["Jetson TX2"],
    "6.1": ["Tesla P40", "Tesla P4", "P40", "P4", "Quadro P6000", "Quadro P5200", "Quadro P5000",
            "Quadro P4200", "Quadro P4000", "Quadro P3200", "Quadro P3000", "Quadro P2200", "Quadro P2000",
            "Quadro P1000", "Quadro P620", "Quadro P600", "Quadro P520", "Quadro P500", "Quadro P400",
            "TITAN Xp", "TITAN X (Pascal)", "GTX 1080 Ti", "GTX 1080", "GTX 1070 Ti", "GTX 1070",
            "GTX 1060", "GTX 1050 Ti", "GTX 1050", "GT 1030", "MX350", "MX330", "MX250", "MX230", "MX150"],
    "6.0": ["Tesla P100", "P100", "Quadro GP100"],
    "5.3": ["Jetson Nano", "Jetson TX1"],
    "5.2": ["Tesla M60", "Tesla M40", "Tesla M6", "Tesla M4", "Quadro M6000", "Quadro M5000", "Quadro M4000",
            "Quadro M2000", "GTX TITAN X", "GTX 980 Ti", "GTX 980", "GTX 970", "GTX 960", "GTX 950", "M60",
            "M40", "MX130", "GTX 980M", "GTX 970M", "GTX 965M"],
    "5.0": ["Quadro K2200", "Quadro K1200", "Quadro K620", "Quadro M1200", "Quadro M1000M", "Quadro M620",
            "Quadro M520", "GTX 750 Ti", "GTX 750", "GTX 960M", "GTX 950M", "GTX 860M", "GTX 850M",
            "940MX", "930MX", "920MX", "940M", "930M", "MX110", "Tesla M10"],
    "3.7": ["Tesla K80"],
    "3.5": ["Tesla K40", "Tesla K20", "GTX TITAN Black", "GTX TITAN Z", "GTX TITAN", "GTX 780 Ti",
            "GTX 780", "GT 730", "GT 710", "Quadro K6000", "Quadro K5200"],
    "3.0": ["GTX 770", "GTX 760", "GTX 690", "GTX 680", "GTX 670", "GTX 660 Ti", "GTX 660", "GTX 650 Ti",
            "Quadro K5000", "Quadro K4000", "Tesla K10", "GRID K520"],
}


def build_document() -> dict:
    """The whole manifest document, exactly as written to manifests/pytorch.json."""
    gpus = []
    for cc, names in GPUS.items():
        for name in names:
            gpus.append({"match": name, "compute_capability": cc})
    return {
        "$schema": "schema.json",  # editors (VS Code, JetBrains) validate against manifests/schema.json
        "schema_version": 1,
        "updated": "2026-11-29",
        "index_base": BASE,
        "sources": SOURCES,
        "cuda_families": CUDA_FAMILIES,
        "cuda_toolkits": [{"cuda": c, "min_driver": {"linux": lx, "windows": win}} for c, lx, win in TOOLKITS],
        "arch_drivers": [{"compute_capability": cc, "min_driver": floors, "source": src}
                         for cc, floors, src in ARCH_DRIVERS],
        "gpus": gpus,
        "gpus_source": "NV-GPU; GeForce 900 to 50 series, workstation, data-centre and Jetson parts",
        "releases": list(reversed(build_releases())),
    }


def render(doc: dict) -> str:
    """The file's text (tests compare it with the shipped file, so the JSON is never hand-edited)."""
    return json.dumps(doc, indent=1) + "\n"


def main() -> None:
    doc = build_document()
    OUT.write_text(render(doc), encoding="utf-8")
    print(f"wrote {OUT} ({len(doc['releases'])} releases)")


if __name__ == "__main__":
    main()

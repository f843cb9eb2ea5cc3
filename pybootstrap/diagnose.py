"""Known failure texts (torch, pip, nvidia-smi, Windows) mapped to a kind and concrete advice."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Tuple

from pybootstrap.manifest import Manifest


@dataclass(frozen=True)
class Finding:
    """One diagnosed problem."""

    kind: str
    message: str
    advice: str

    def to_dict(self) -> dict:
        """The findings[] / diagnosis[] entry."""
        return {"kind": self.kind, "message": self.message, "advice": self.advice}


def _cuda_from_code(code: str) -> str:
    value = int(code)
    return f"{value // 1000}.{(value % 1000) // 10}"


def _floor_text(manifest: Optional[Manifest], major: int) -> str:
    if manifest is None or major not in manifest.cuda_families:
        return ""
    floors = manifest.cuda_families[major].min_driver
    return " and ".join(f"{v} on {k.capitalize()}" for k, v in sorted(floors.items()))


def _variants_with(manifest: Optional[Manifest], cc: Tuple[int, int]) -> str:
    if manifest is None:
        return "a newer CUDA variant"
    newest = manifest.releases[0]
    names = [v.name for v in newest.variants if v.kind == "cuda"
             and any(a.serves(cc) for a in v.archs.values())]
    if names:
        return f"torch {newest.torch} with {' or '.join(names)}"
    for release in manifest.releases:
        names = [v.name for v in release.variants if v.kind == "cuda" and any(a.serves(cc) for a in v.archs.values())]
        if names:
            return f"torch {release.torch} with {' or '.join(names)}"
    return "no official build (too old for current PyTorch)"


Rule = Tuple[str, "re.Pattern[str]", Callable[["re.Match[str]", Optional[Manifest]], Tuple[str, str]]]


def _driver_too_old(m: "re.Match[str]", manifest: Optional[Manifest]) -> Tuple[str, str]:
    found = m.groupdict().get("code")
    msg = "the NVIDIA driver is too old for this torch build"
    if found:
        msg += f" (the driver supports CUDA up to {_cuda_from_code(found)})"
    floors12, floors13 = _floor_text(manifest, 12), _floor_text(manifest, 13)
    advice = ("Update the NVIDIA driver (https://www.nvidia.com/Download/index.aspx): CUDA 12.x builds need "
              f"{floors12 or '525+'}; CUDA 13.x builds need {floors13 or '580+'}. Or let `pybootstrap install` "
              "choose a build this driver can run.")
    return msg, advice


def _arch(m: "re.Match[str]", manifest: Optional[Manifest]) -> Tuple[str, str]:
    sm = m.groupdict().get("sm")
    cap = m.groupdict().get("cap")
    if sm:
        digits = sm[3:]
        cc = (int(digits[:-1]), int(digits[-1]))
    elif cap:
        major, minor = cap.split(".")
        cc = (int(major), int(minor))
    else:
        return "this PyTorch build has no code for the GPU's architecture", "Install a build for this GPU."
    return (f"this PyTorch build has no code for the GPU's architecture sm_{cc[0]}{cc[1]}",
            f"Install a build that has sm_{cc[0]}{cc[1]}: {_variants_with(manifest, cc)} "
            "(`pybootstrap install` chooses it from the GPU).")


def _fixed(message: str, advice: str) -> Callable[["re.Match[str]", Optional[Manifest]], Tuple[str, str]]:
    return lambda m, manifest: (message, advice)


RULES: List[Rule] = [
    ("driver-too-old", re.compile(
        r"NVIDIA driver on your system is too old(?: \(found version (?P<code>\d+)\))?|"
        r"CUDA driver version is insufficient for CUDA runtime version|cudaErrorInsufficientDriver", re.I),
     _driver_too_old),
    ("arch-unsupported", re.compile(
        r"with CUDA capability (?P<sm>sm_\d+) is not compatible with the current PyTorch installation|"
        r"which is of cuda capability (?P<cap>\d+\.\d+)\.?\s+PyTorch no longer supports this GPU", re.I), _arch),
    ("no-kernel-image", re.compile(r"no kernel image is available for execution on the device", re.I),
     _fixed("the PyTorch build has no GPU code (kernel image) for this GPU's architecture",
            "Install a build whose arch list includes the GPU: `pybootstrap plan` shows which variant has it "
            "(new GPUs such as RTX 50xx need cu128 or newer; GTX 9xx/10xx need cu126 or older).")),
    ("torch-not-cuda-build", re.compile(r"Torch not compiled with CUDA enabled", re.I),
     _fixed("a CPU-only build of PyTorch is installed, but CUDA was used",
            "Install a CUDA build: on Windows the plain PyPI torch is CPU-only. Run `pybootstrap install` "
            "(it uses the PyTorch index for the right cuXXX variant).")),
    ("no-nvidia-driver", re.compile(r"Found no NVIDIA driver on your system", re.I),
     _fixed("PyTorch found no NVIDIA driver",
            "Install the NVIDIA driver (https://www.nvidia.com/Download/index.aspx) and reboot; in a container, "
            "run it with GPU access (e.g. docker run --gpus all).")),
    ("driver-library-mismatch", re.compile(r"Driver/library version mismatch", re.I),
     _fixed("the NVIDIA kernel module and library versions differ (a driver update without a reboot)",
            "Reboot the machine; if it persists, reinstall the NVIDIA driver.")),
    ("driver-not-loaded", re.compile(
        r"couldn.t\s+communicate\s+with\s+the\s+NVIDIA\s+driver|Failed to initialize NVML: Unknown Error", re.I),
     _fixed("nvidia-smi cannot communicate with the NVIDIA driver (it is not loaded)",
            "Reboot; if that does not help, reinstall the NVIDIA driver (and check Secure Boot module signing on "
            "Linux).")),
    ("no-devices", re.compile(r"No devices were found", re.I),
     _fixed("the NVIDIA driver is loaded but finds no GPU",
            "Check that the GPU is seated, enabled in the BIOS, and passed through to this VM or container.")),
    ("gpu-unavailable", re.compile(r"Unable to determine the device handle|GPU is lost", re.I),
     _fixed("the driver cannot use a GPU (device handle error / GPU lost)",
            "Reboot; check power and cooling; look for Xid errors in the system log (dmesg).")),
    ("long-path", re.compile(
        r"WinError 206|filename or extension is too long|does not have Windows Long Path support enabled", re.I),
     _fixed("a Windows path was too long while installing (PyTorch has very deep file paths)",
            "Enable long paths (as administrator: set HKLM\\SYSTEM\\CurrentControlSet\\Control\\FileSystem "
            "LongPathsEnabled=1, then open a new terminal) or install into a short prefix such as C:\\pbs\\env.")),
    ("dll-load-failed", re.compile(
        r"WinError (?:126|127|1114)|DLL load failed|Error loading \"[^\"]+\.dll\"", re.I),
     _fixed("a PyTorch DLL failed to load on Windows",
            "Install the latest Microsoft Visual C++ Redistributable (x64) from "
            "https://aka.ms/vs/17/release/vc_redist.x64.exe, then reopen the terminal. If it persists, check that "
            "antivirus / Application Control did not block the DLL and that no second torch install shadows this "
            "one.")),
    ("no-matching-distribution", re.compile(
        r"Could not find a version that satisfies the requirement|No matching distribution found for", re.I),
     _fixed("pip found no torch wheel for this Python, platform and index",
            "Check the Python version (`pybootstrap plan` says which versions have wheels), use a 64-bit Python, "
            "and install from the PyTorch index (--index-url https://download.pytorch.org/whl/<variant>).")),
    ("cuda-out-of-memory", re.compile(r"CUDA out of memory|OutOfMemoryError", re.I),
     _fixed("the GPU ran out of memory",
            "Use a smaller batch or model, free other GPU processes (see nvidia-smi), or set "
            "PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True to reduce fragmentation.")),
    ("nvidia-smi-not-found", re.compile(
        r"nvidia-smi\W{0,3}\s*(?:is not recognized|: command not found|: not found)|"
        r"No such file or directory: .?nvidia-smi|'nvidia-smi' n.est pas reconnu|"
        r"nvidia-smi.{0,4} wird nicht als interner", re.I),
     _fixed("nvidia-smi was not found",
            "Install the NVIDIA driver (it ships nvidia-smi). On Windows it lives in C:\\Windows\\System32; "
            "without an NVIDIA GPU, the CPU build is the right choice.")),
]


def diagnose_text(text: str, manifest: Optional[Manifest] = None) -> List[Finding]:
    """Every known problem in the text, in the order of RULES; 'unknown' when nothing matched."""
    findings: List[Finding] = []
    seen: Dict[str, bool] = {}
    for kind, pattern, explain in RULES:
        match = pattern.search(text or "")
        if match and kind not in seen:
            seen[kind] = True
            message, advice = explain(match, manifest)
            findings.append(Finding(kind, message, advice))
    if not findings:
        findings.append(Finding("unknown", "no known problem was recognised in this text",
                                "Run `pybootstrap verify` in the environment, or report the full output."))
    return findings

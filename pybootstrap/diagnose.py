"""diagnose: the failure kinds found in a text (pybootstrap.failures), explained with concrete advice and facts.

Which text means which kind is decided by failures.classify alone; this module only words the findings:
the facts each failure text carries (versions, names, paths) and advice drawn from the manifest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from pybootstrap.failures import classify, explain
from pybootstrap.manifest_model import Capability, Manifest


@dataclass(frozen=True)
class Finding:
    """One diagnosed problem; facts are what the text said (versions, names), for the log and for tests."""

    kind: str
    message: str
    advice: str
    facts: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def to_dict(self) -> Dict[str, Any]:
        """The findings[] / diagnosis[] entry."""
        return {"kind": self.kind, "message": self.message, "advice": self.advice, "facts": dict(self.facts)}


def known_finding(kind: str, message: Optional[str] = None, facts: Optional[Mapping[str, Any]] = None) -> Finding:
    """A finding with the advice table's text for its kind (message replaced where given)."""
    text = explain(kind)
    return Finding(kind, message or text.message, text.advice, dict(facts or {}))


Explained = Tuple[str, str, Dict[str, Any]]
Explain = Callable[["re.Match[str]", str, Optional[Manifest]], Explained]


def _search(pattern: str, text: str) -> Optional[str]:
    match = re.search(pattern, text, re.I)
    return next((g for g in match.groups() if g is not None), None) if match else None


def guess_os(text: str) -> Optional[str]:
    """Windows / macOS / Linux from paths and shell messages in the text, or None."""
    if re.search(r"\b[A-Za-z]:\\|~\\AppData|WinError|is not recognized as an internal|reconhecido|reconnu", text):
        return "Windows"
    if re.search(r"/Users/|\bmacOS\b|darwin", text):
        return "macOS"
    if re.search(r"/home/|/usr/|/opt/|/root/|\bbash:|\bLinux\b", text):
        return "Linux"
    return None


# --- manifest look-ups ------------------------------------------------------------------------

def cuda_from_code(code: str) -> str:
    """torch's 'found version 11040' (the driver API version) -> '11.4'."""
    value = int(code)
    return f"{value // 1000}.{(value % 1000) // 10}"


def _floor(manifest: Optional[Manifest], major: int, fallback: str) -> str:
    if manifest is None or major not in manifest.cuda_families:
        return fallback
    floors = manifest.cuda_families[major].min_driver
    return ", ".join(f"{v} or newer on {k.capitalize()}" for k, v in sorted(floors.items(), reverse=True))


def _serving(manifest: Manifest, cc: Capability) -> List[Tuple[str, List[str]]]:
    """(torch version, [variant names]) of every release with code for cc, newest first."""
    out = []
    for release in manifest.releases:
        names = [v.name for v in release.variants
                 if v.kind == "cuda" and any(archs.serves(cc) for archs in v.archs.values())]
        if names:
            out.append((str(release.torch), names))
    return out


def variants_for(manifest: Optional[Manifest], cc: Capability) -> str:
    """'torch 2.14.1 with cu130 or cu132 (first: torch 2.7.0 with cu128)' for a GPU capability."""
    if manifest is None:
        return "a build whose CUDA version is new enough for this GPU (see `pybootstrap plan`)"
    serving = _serving(manifest, cc)
    if not serving:
        return ""
    newest, oldest = serving[0], serving[-1]
    text = f"torch {newest[0]} with {' or '.join(newest[1])}"
    if oldest[0] != newest[0]:
        text += f" (the oldest release with this code: torch {oldest[0]} with {' or '.join(oldest[1])})"
    return text


def _newest_capability(manifest: Manifest) -> Capability:
    caps = [cc for r in manifest.releases for v in r.variants for a in v.archs.values() for cc in a.sass]
    return max(caps, default=(0, 0))


def _builds_for_cuda_major(manifest: Optional[Manifest], major: int) -> str:
    if manifest is None:
        return ""
    for release in manifest.releases:
        names = [v.name for v in release.variants if v.kind == "cuda" and v.cuda is not None and v.cuda.major == major]
        if names:
            return f"torch {release.torch} with {' or '.join(names)}"
    return ""


# --- explanations of the kinds whose wording depends on the text --------------------------------------

def _driver_too_old(m: "re.Match[str]", text: str, manifest: Optional[Manifest]) -> Explained:
    facts: Dict[str, Any] = {}
    code = m.group("code")
    if code:
        facts["found_version_raw"] = code
        facts["found_driver_cuda"] = cuda_from_code(code)
    driver = _search(r"Driver\s+Version:\s*(\d{2,4}\.\d{1,3}(?:\.\d{1,3})?)", text)
    if driver:
        facts["driver_version"] = driver
    err = _search(r"cuda\s+runtime\s+error\s+\((\d+)\)|\berror=(\d+)\s*:\s*CUDA\s+driver", text)
    if err:
        facts["cuda_error_code"] = err
    message = "the NVIDIA driver is too old for the CUDA version of this torch build"
    if driver:
        message += f" (driver {driver})"
    if code:
        message += f"; the driver supports CUDA up to {facts['found_driver_cuda']}"
    cuda12 = _floor(manifest, 12, "528.33 or newer on Windows, 525.60.13 or newer on Linux")
    cuda13 = _floor(manifest, 13, "580.88 or newer on Windows, 580.65.06 or newer on Linux")
    advice = ("Update the NVIDIA driver (https://www.nvidia.com/Download/index.aspx): CUDA 12.x builds need "
              f"{cuda12}; CUDA 13.x builds need {cuda13}.")
    keep = _builds_for_cuda_major(manifest, int(code) // 1000) if code else ""
    if keep:
        advice += f" Or keep this driver and install a CUDA {int(code) // 1000}.x build: {keep}."
    return message, advice + " `pybootstrap install` chooses a build the driver can run.", facts


def _arch_unsupported(m: "re.Match[str]", text: str, manifest: Optional[Manifest]) -> Explained:
    facts: Dict[str, Any] = {}
    if m.group("sm"):
        digits = re.sub(r"\D", "", m.group("sm"))
        cc = (int(digits[:-1]), int(digits[-1]))
        line = text[text.rfind("\n", 0, m.start()) + 1:m.start()]  # "...UserWarning: NVIDIA GeForce RTX 5090 "
        facts["gpu_name"] = line.rsplit(":", 1)[-1].strip()[-100:]
        facts["gpu_arch"] = m.group("sm")
        archs = _search(r"supports\s+CUDA\s+capabilities\s+((?:(?:sm|compute)_\d+[a-z]?[\s.]*)+)", text)
        if archs:
            facts["supported_archs"] = re.findall(r"(?:sm|compute)_\d+[a-z]?", archs)
    else:
        major, minor = m.group("cap").split(".")
        cc = (int(major), int(minor))
        facts["gpu_name"] = m.group("name2").strip()
        facts["gpu_capability"] = m.group("cap")
        minimum = _search(r"minimum\s+cuda\s+capability\s+(?:that\s+we\s+support|supported\s+by\s+this\s+library)"
                          r"\s+is\s+(\d{1,2}\.\d)", text)
        if minimum:
            facts["min_supported_capability"] = minimum
    sm = f"sm_{cc[0]}{cc[1]}"
    message = f"this PyTorch build has no code for the {facts['gpu_name'] or 'GPU'}'s architecture {sm}"
    builds = variants_for(manifest, cc)
    if builds:
        advice = (f"Install a build that has {sm}: {builds}. `pybootstrap install` chooses it from the GPU "
                  "(`pybootstrap plan` shows the choice first).")
    elif manifest is not None and cc > _newest_capability(manifest):
        advice = (f"No PyTorch build in pybootstrap's manifest has code for {sm} yet (the GPU is newer than every "
                  "build listed). Update pybootstrap for a newer manifest, or try the PyTorch nightly index "
                  "(https://download.pytorch.org/whl/nightly/); the CPU build works meanwhile.")
    else:
        advice = (f"No PyTorch build in the manifest has code for {sm} (compute capability {cc[0]}.{cc[1]}): the GPU "
                  "is too old. Use the CPU build (`pybootstrap install --variant cpu`), or build PyTorch from source.")
    return message, advice, facts


def _no_kernel_image(m: "re.Match[str]", text: str, manifest: Optional[Manifest]) -> Explained:
    new = variants_for(manifest, (12, 0)) or "cu128 or newer"
    old = variants_for(manifest, (6, 1)) or "cu126 or older"
    return ("the GPU code (kernel image) in this PyTorch build or extension does not include this GPU's architecture",
            "Run `pybootstrap verify` to see the GPU's sm_XY and the build's arch list, then install a build that "
            f"has it: RTX 50xx (sm_120) need {new}; GTX 10xx (sm_61) need {old}. If torch itself passes verify, "
            "the failing kernel is in an extension: rebuild it for this GPU (TORCH_CUDA_ARCH_LIST).", {})


def _torch_not_cuda(m: "re.Match[str]", text: str, manifest: Optional[Manifest]) -> Explained:
    os_name = guess_os(text)
    facts = {"os": os_name} if os_name else {}
    if os_name == "macOS":
        return ("this code asks for CUDA, but PyTorch has no CUDA builds for macOS",
                "Use the 'mps' device (Apple GPU) or 'cpu' in the code that calls .cuda() / .to('cuda'); "
                "reinstalling torch cannot add CUDA on a Mac.", facts)
    return ("a CPU-only build of PyTorch is installed, but CUDA was used",
            "Install a CUDA build: the plain PyPI torch is CPU-only on Windows. Run `pybootstrap install` (it uses "
            "the PyTorch index for the right cuXXX variant and replaces only the torch family).", facts)


def _library_mismatch(m: "re.Match[str]", text: str, manifest: Optional[Manifest]) -> Explained:
    version = _search(r"NVML\s+library\s+version:\s*(\d{2,4}\.\d{1,3}(?:\.\d{1,3})?)", text)
    fixed = explain("driver-library-mismatch")
    if not version:
        return fixed.message, fixed.advice, {}
    return f"{fixed.message}; the library is {version}", fixed.advice, {"nvml_library_version": version}


def _long_path(m: "re.Match[str]", text: str, manifest: Optional[Manifest]) -> Explained:
    path = m.groupdict().get("path")
    facts: Dict[str, Any] = {"os": "Windows"}
    if path is not None:
        facts["path_length"] = len(path.replace("\\\\", "\\"))
    store = "PythonSoftwareFoundation.Python" in text
    return ("a Windows path was too long while installing (PyTorch and its dependencies have very deep paths)",
            "Enable long paths: as administrator run `reg add HKLM\\SYSTEM\\CurrentControlSet\\Control\\FileSystem "
            "/v LongPathsEnabled /t REG_DWORD /d 1 /f` (or set LongPathsEnabled=1 with Group Policy), then open a "
            "new terminal; or install into a short prefix such as `pybootstrap install --venv C:\\pbs\\env`."
            + (" The Microsoft Store Python adds a long LocalCache prefix: a venv or a python.org Python avoids it."
               if store else ""), facts)


def _dll_load(m: "re.Match[str]", text: str, manifest: Optional[Manifest]) -> Explained:
    facts: Dict[str, Any] = {}
    dll = _search(r"Error\s+loading\s+\"(?:[^\"\n]*[\\/])?([^\"\\/\n]+\.dll)\"", text)
    win_error = _search(r"WinError\s+(\d+)", text)
    if dll:
        facts["dll"] = dll
    if win_error:
        facts["win_error"] = win_error
    which = f" ({dll}, WinError {win_error})" if dll and win_error else ""
    return ("a PyTorch DLL failed to load on Windows" + which,
            "Install the latest Microsoft Visual C++ Redistributable 2015-2022 (x64) from "
            "https://aka.ms/vs/17/release/vc_redist.x64.exe, then open a new terminal. If it persists, check that "
            "antivirus / Application Control did not block the DLL, that no second torch install shadows this one, "
            "and (for CUDA DLLs such as cublas) that the paging file is large enough.", facts)


def _no_matching(m: "re.Match[str]", text: str, manifest: Optional[Manifest]) -> Explained:
    facts: Dict[str, Any] = {}
    found = re.search(r"satisfies\s+the\s+requirement\s+(\S+)\s+\(from\s+versions:\s*([^)]*)\)", text, re.I)
    requested = found.group(1) if found else _search(r"No\s+matching\s+distribution\s+found\s+for\s+(\S+)", text)
    if requested:
        facts["requested"] = requested
    if found:
        versions = [v.strip() for v in found.group(2).split(",") if v.strip() and v.strip() != "none"]
        facts["available_versions"] = versions
    index = _search(r"Looking\s+in\s+indexes:\s*(\S+)", text) or _search(r"--(?:extra-)?index-url[\s=]+(\S+)", text)
    if index:
        facts["index_url"] = index
    advice = ""
    variant = index.rstrip("/").rsplit("/", 1)[-1] if index and "download.pytorch.org" in index else None
    variants = {v.name: v.kind for r in manifest.releases for v in r.variants} if manifest else {}
    if variant and variants and variant not in variants:
        cuda = sorted(name for name, kind in variants.items() if kind == "cuda")
        advice = (f"{index} is not a PyTorch index ({variant} does not exist); the variants are "
                  f"{', '.join(cuda)}. `pybootstrap plan` names the right one.")
    elif requested and "+" in requested and not index:
        local = requested.split("+", 1)[1]
        advice = (f"Versions with a local tag (+{local}) exist only on the PyTorch index: add --index-url "
                  f"https://download.pytorch.org/whl/{local} (or let `pybootstrap install` build the command).")
    elif facts.get("available_versions") and all(v.startswith("0.1.") for v in facts["available_versions"]):
        advice = ("Only placeholder releases are visible: this Python is 32-bit or a version without torch wheels. "
                  "Install a 64-bit Python that `pybootstrap plan` lists for the build.")
    if not advice:
        advice = ("Check the Python version (`pybootstrap plan` says which Pythons have wheels), use a 64-bit "
                  "Python, and install from the PyTorch index "
                  "(--index-url https://download.pytorch.org/whl/<variant>).")
    return "pip found no torch wheel for this Python, platform and index", advice, facts


def _out_of_memory(m: "re.Match[str]", text: str, manifest: Optional[Manifest]) -> Explained:
    facts: Dict[str, Any] = {}
    tried = _search(r"Tried\s+to\s+allocate\s+(\d+(?:\.\d+)?\s*[KMGT]iB)", text)
    total = (_search(r"total\s+capac\w*\s+of\s+(\d+(?:\.\d+)?\s*[KMGT]iB)", text)
             or _search(r"(\d+(?:\.\d+)?\s*[KMGT]iB)\s+total\s+capacity", text))
    if tried:
        facts["tried_to_allocate"] = tried
    if total:
        facts["total_capacity"] = total
    return ("the GPU ran out of memory" + (f" (asked for {tried} of {total})" if tried and total else ""),
            "Use a smaller batch or model (or half precision), free other GPU processes (see nvidia-smi), or set "
            "PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True to reduce fragmentation. The install is fine.", facts)


def _with_os(kind: str) -> Explain:
    """The table's text, and the OS the text was written on as a fact."""
    def explained(m: "re.Match[str]", text: str, manifest: Optional[Manifest]) -> Explained:
        os_name = guess_os(text)
        return explain(kind).message, explain(kind).advice, {"os": os_name} if os_name else {}
    return explained


_EXPLAIN: Dict[str, Explain] = {
    "driver-too-old": _driver_too_old,
    "arch-unsupported": _arch_unsupported,
    "no-kernel-image": _no_kernel_image,
    "torch-not-cuda-build": _torch_not_cuda,
    "driver-library-mismatch": _library_mismatch,
    "long-path": _long_path,
    "dll-load-failed": _dll_load,
    "no-matching-distribution": _no_matching,
    "cuda-out-of-memory": _out_of_memory,
    "nvidia-smi-not-found": _with_os("nvidia-smi-not-found"),
}


def diagnose_text(text: str, manifest: Optional[Manifest] = None) -> List[Finding]:
    """Every known problem in the text, in the order of failures.RULES; one 'unknown' finding when none."""
    findings: List[Finding] = []
    for kind, match in classify(text):
        if kind in _EXPLAIN:
            message, advice, facts = _EXPLAIN[kind](match, match.string, manifest)
            findings.append(Finding(kind, message, advice, facts))
        else:
            findings.append(known_finding(kind))
    return findings or [known_finding("unknown")]

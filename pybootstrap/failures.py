"""Failure kinds: the one classifier of failure texts (nvidia-smi, torch, pip, Windows) and the one advice table.

`detect` (for nvidia-smi's own output) and `diagnose` (for anything pasted) both classify through
`classify`, so the two never disagree on a text. Each pattern was written against real output
(tests/data/errors/ and tests/data/nvidia-smi/, with their URLs in INDEX.json); words are joined by \\s+
because pasted messages are often wrapped or joined. Pure: text in, kinds out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Tuple

#: CONTRACT.md's detection error kinds (the error object of the detect document).
DETECTION_KINDS = ("nvidia-smi-not-found", "driver-not-loaded", "driver-library-mismatch", "no-devices",
                   "gpu-unavailable", "timeout", "unparseable")

# MAX_PATH is 260 with the drive and the terminating NUL; deeper names fail with Errno 2 (Microsoft:
# "Maximum Path Length Limitation"). Shorter paths in an Errno 2 are ordinary missing files.
WINDOWS_PATH_LIMIT = 240

# Line prefixes added by log collectors; removed so that wrapped messages read as one text again.
_PREFIX = (
    r"^(?:[A-Z][a-z]{2}\s+\d{1,2}\s\d\d:\d\d:\d\d\s\S+\s[^\s:]+:\s"   # journald / syslog
    r"|\[rank\d+\]:\s?"                                               # torch.distributed
    r"|[\w.-]+\s*\|\s"                                                # docker compose "svc_1   | "
    r"|(?:\[(?!WinError|Errno)[^\]\n]{1,80}\]\s)+"                     # CI "[task ...] [step] "
    r"|\d{4}-\d\d-\d\d[T ][\d:.,]+Z?\s+"                              # ISO timestamps
    r"|>+\s?)")                                                       # quotes, the Python prompt


def normalize(text: str) -> str:
    """The text without per-line log prefixes (journald, docker compose, [rank0]:, CI tags)."""
    lines = []
    for line in (text or "").splitlines():
        for _ in range(3):
            stripped = re.sub(_PREFIX, "", line, count=1)
            if stripped == line:
                break
            line = stripped
        lines.append(line)
    return "\n".join(lines)


@dataclass(frozen=True)
class Rule:
    """One failure kind and the text that shows it; accept() may reject a match (a short path is no long path)."""

    kind: str
    pattern: str
    accept: Optional[Callable[["re.Match[str]"], bool]] = None

    def first_match(self, text: str) -> Optional["re.Match[str]"]:
        """The first accepted match in the text, or None."""
        # compiled on first use (re caches it): detect on a healthy machine never classifies anything
        matches = re.finditer(self.pattern, text, re.I | re.M)
        return next((m for m in matches if self.accept is None or self.accept(m)), None)


def _path_too_long(match: "re.Match[str]") -> bool:
    path = match.groupdict().get("path")
    return path is None or len(path.replace("\\\\", "\\")) >= WINDOWS_PATH_LIMIT


# cmd.exe and PowerShell say "not recognized" in the user's language; a wrongly decoded code page (mojibake)
# turns accented letters into one or two other characters, so the words around them are matched loosely.
_NOT_RECOGNIZED = (
    r"is\s+not\s+recognized|est\s+pas\s+reconnu|wird\s+nicht\s+als|wurde\s+nicht\s+als|ist\s+entweder\s+falsch"
    r"|no\s+se\s+reconoce|riconosciuto|reconhecido|reconnu|nie\s+jest\s+rozpoznawan"
    r"|\u043d\u0435\s+\u044f\u0432\u043b\u044f\u0435\u0442\u0441\u044f"                      # ru
    r"|\u4e0d\u662f\u5185\u90e8\u6216\u5916\u90e8\u547d\u4ee4"                                 # zh
    r"|\u5185\u90e8\u30b3\u30de\u30f3\u30c9\u307e\u305f\u306f\u5916\u90e8\u30b3\u30de\u30f3\u30c9")  # ja

# Order: root causes before the symptoms they produce (an arch warning explains a later "no kernel image"),
# and among nvidia-smi's failures the most specific first (a handle error is often followed by "No devices").
RULES: Tuple[Rule, ...] = (
    Rule("driver-too-old",
         r"NVIDIA\s+driver\s+on\s+your\s+system\s+is\s+too\s+old(?:\s*\(found\s+version\s+(?P<code>\d{3,6})\))?"
         r"|CUDA\s+driver\s+version\s+is\s+insufficient\s+for\s+CUDA\s+runtime\s+version|cudaErrorInsufficientDriver"),
    Rule("arch-unsupported",
         r"\bwith\s+CUDA\s+capability\s+(?P<sm>sm_\d{2,3}[a-z]?)\s+is\s+not\s+compatible\s+"
         r"with\s+the\s+current\s+PyTorch\s+installation"
         r"|Found\s+GPU\d+[ \t]+(?P<name2>\S[^\n]{0,99}?)[ \t]+which\s+is\s+of\s+cuda\s+capability\s+"
         r"(?P<cap>\d{1,2}\.\d)\.?"
         r"\s+PyTorch\s+no\s+longer\s+supports\s+this\s+GPU"),
    Rule("no-kernel-image",
         r"no\s+kernel\s+image\s+is\s+available\s+for\s+execution\s+on\s+the\s+device|cudaErrorNoKernelImageForDevice"),
    Rule("torch-not-cuda-build", r"Torch\s+not\s+compiled\s+with\s+CUDA\s+enabled"),
    Rule("no-nvidia-driver", r"Found\s+no\s+NVIDIA\s+driver\s+on\s+your\s+system"),
    # torchvision's C++ operators are registered by a build made for one torch; beside another torch (another
    # version, or CPU vs CUDA) `import torchvision` fails (tests/data/errors/torchvision-mismatch-*.txt).
    Rule("torchvision-mismatch",
         r"operator\s+torchvision::\w+\s+does\s+not\s+exist|No\s+such\s+operator\s+torchvision::\w+"),
    Rule("driver-library-mismatch", r"Driver/library\s+version\s+mismatch"),
    Rule("gpu-unavailable",
         r"Unable\s+to\s+determine\s+the\s+device\s+handle|GPU\s+is\s+lost"
         r"|GPU\s+access\s+blocked\s+by\s+the\s+operating\s+system|NVML:\s+Insufficient\s+Permissions"
         r"|Unable\s+to\s+query"),
    Rule("driver-not-loaded",
         r"couldn.?t\s+communicate\s+with\s+the\s+NVIDIA\s+driver|NVIDIA\s+kernel\s+module[^\n]{0,80}?not\s+loaded"
         r"|Failed\s+to\s+initialize\s+NVML|NVML\s+library\s+not\s+found|couldn.?t\s+find\s+libnvidia-ml"
         r"|Unable\s+to\s+load\s+the\s+NVIDIA\s+driver|nvidia-smi\s+has\s+failed"),
    Rule("no-devices", r"No\s+devices\s+were\s+found|No\s+NVIDIA\s+GPUs?\s+(?:found|detected)"),
    Rule("long-path",
         r"WinError\s+206|filename\s+or\s+extension\s+is\s+too\s+long"
         r"|does\s+not\s+have\s+Windows\s+Long\s+Path\s+support\s+enabled"),
    Rule("long-path",
         r"(?:Errno\s+2\]|No\s+such\s+file\s+or\s+directory)[^\n']{0,40}'(?P<path>[A-Za-z]:\\[^'\n]+)'",
         _path_too_long),
    Rule("dll-load-failed",
         r"WinError\s+(?:126|127|1114)\b|DLL\s+load\s+failed|Error\s+loading\s+\"[^\"\n]+\.dll\""),
    Rule("no-matching-distribution",
         r"Could\s+not\s+find\s+a\s+version\s+that\s+satisfies\s+the\s+requirement"
         r"|No\s+matching\s+distribution\s+found\s+for"),
    Rule("cuda-out-of-memory", r"CUDA\s+out\s+of\s+memory|OutOfMemoryError"),
    Rule("nvidia-smi-not-found",
         r"nvidia-smi(?:\.exe)?(?::\s*|\s+)(?:command\s+)?not\s+found"             # sh, bash
         r"|command\s+not\s+found:\s+nvidia-smi"                                   # zsh
         r"|No\s+such\s+file\s+or\s+directory:\s+\W?nvidia-smi"                    # Python's FileNotFoundError
         r"|nvidia-smi(?:\.exe)?\W{0,3}[^\n]{0,8}?(?:" + _NOT_RECOGNIZED + ")"),  # cmd.exe, PowerShell
)

KINDS = tuple(dict.fromkeys(rule.kind for rule in RULES))


def classify(text: str) -> List[Tuple[str, "re.Match[str]"]]:
    """Every failure kind the text shows, in the order of RULES, each with its first accepted match.

    The text is normalized first (match.string is the normalized text). An nvidia-smi failure is one
    thing: of the detection kinds only the first found counts.
    """
    clean = normalize(text)
    found: List[Tuple[str, "re.Match[str]"]] = []
    for rule in RULES:
        if any(kind == rule.kind or (kind in DETECTION_KINDS and rule.kind in DETECTION_KINDS)
               for kind, _ in found):
            continue
        match = rule.first_match(clean)
        if match is not None:
            found.append((rule.kind, match))
    return found


def detection_kind(text: str) -> Optional[str]:
    """The detection error kind this nvidia-smi output reports, or None when it reports none."""
    return next((kind for kind, _ in classify(text) if kind in DETECTION_KINDS), None)


# --- what each kind means and what to do --------------------------------------------------------------

@dataclass(frozen=True)
class Explanation:
    """What went wrong (one line) and what to do next."""

    message: str
    advice: str


_DRIVER_URL = "https://www.nvidia.com/Download/index.aspx"

#: The one advice table. Kinds whose text depends on what the failure said (driver-too-old, arch-unsupported,
#: ...) are explained by diagnose from the facts they carry; every fixed text is here.
EXPLANATIONS: Dict[str, Explanation] = {
    "nvidia-smi-not-found": Explanation(
        "nvidia-smi was not found",
        "No NVIDIA driver was found (nvidia-smi is missing), so the CPU build will be chosen. If this machine has "
        f"an NVIDIA GPU, install the NVIDIA driver ({_DRIVER_URL}; it brings nvidia-smi) and run again; in a "
        "container, start it with GPU access (docker run --gpus all)."),
    "driver-not-loaded": Explanation(
        "nvidia-smi could not communicate with the NVIDIA driver",
        "The NVIDIA driver is not loaded. Reboot; if that does not help, reinstall the NVIDIA driver (on Linux, "
        "check that Secure Boot did not block its kernel module: mokutil --sb-state). In a container, start it "
        "with GPU access (docker run --gpus all). Until then the CPU build is chosen."),
    "driver-library-mismatch": Explanation(
        "NVML driver/library version mismatch",
        "Reboot, so that the kernel module of the driver installed last is loaded (a driver update without a "
        "reboot leaves module and library at different versions), then run again. If it persists after the "
        "reboot, reinstall the NVIDIA driver so that module and library match."),
    "no-devices": Explanation(
        "the NVIDIA driver found no devices",
        "The NVIDIA driver is installed but sees no GPU. Check that the GPU is seated, powered and enabled in the "
        "BIOS (Above 4G decoding / Resizable BAR for new GPUs) and passed through to this VM or container, then "
        "reboot. Until then the CPU build is chosen."),
    "gpu-unavailable": Explanation(
        "the NVIDIA driver cannot use a GPU (device handle error)",
        "The driver sees a GPU but cannot use it (device handle error, GPU lost, or access blocked). Reboot; check "
        "power and cooling; see `nvidia-smi -q` and the system log for Xid errors (dmesg on Linux). Where access "
        "is blocked or permissions are missing, run as a user allowed to use the GPU."),
    "timeout": Explanation(
        "nvidia-smi did not answer in time",
        "The NVIDIA driver or the GPU may be hung: reboot and try again. If it persists, run `nvidia-smi` and "
        "`python -c \"import torch; print(torch.cuda.is_available())\"` by hand to see which one stops; if only "
        "the first CUDA start-up is slow, set PYBOOTSTRAP_PROBE_TIMEOUT=SECONDS."),
    "unparseable": Explanation(
        "the nvidia-smi output could not be parsed",
        "The output of nvidia-smi was not understood. Run `pybootstrap diagnose` on it, or pass --driver and --gpu "
        "to plan explicitly."),
    "no-nvidia-driver": Explanation(
        "PyTorch found no NVIDIA driver",
        f"Install the NVIDIA driver ({_DRIVER_URL}) and reboot; in a container, run it with GPU access "
        "(docker run --gpus all). On a machine without an NVIDIA GPU this warning is harmless: the CPU build is "
        "the right choice there."),
    "torchvision-mismatch": Explanation(
        "torchvision does not match the installed torch (it was built for another torch version or variant)",
        "Install torch and torchvision from the same index and release: `pybootstrap install` replaces the whole "
        "torch family (torch, torchvision, torchaudio) with builds made for each other."),
    "unknown": Explanation(
        "no known problem was recognised in this text",
        "Run `pybootstrap verify --python PATH` on the environment (it reports the exact cause), or paste the full "
        "output including the first error lines."),
    # verification's own findings (pybootstrap.judge)
    "torch-not-installed": Explanation(
        "torch is not installed in this environment",
        "Run `pybootstrap install` with the same target flags (--venv / --python / --conda-env)."),
    "import-failed": Explanation(
        "import torch failed",
        "Reinstall with `pybootstrap install`; the log holds the traceback."),
    "probe-failed": Explanation(
        "the verification probe gave no answer",
        "Run the target Python by hand: python -c \"import torch\"."),
    "check-crashed": Explanation(
        "a torch query crashed",
        "Run the same call by hand in the environment; see the log for the full text."),
    "cuda-unavailable": Explanation(
        "this CUDA build cannot use the GPU",
        "Check the driver with nvidia-smi (`pybootstrap diagnose` explains its output), then run `pybootstrap "
        "install`, which chooses a build this driver can run."),
    "matmul-failed": Explanation(
        "a matrix product on the GPU failed",
        "Run `pybootstrap diagnose` on the full error; update the NVIDIA driver if it is old."),
    "matmul-mismatch": Explanation(
        "the GPU computed a wrong matrix product",
        "Update the NVIDIA driver, remove any overclock, check temperatures (nvidia-smi -q -d TEMPERATURE) and run "
        "again; if it persists the GPU may be faulty."),
    "cpu-op-failed": Explanation(
        "torch cannot compute a matrix product on the CPU",
        "The torch in this environment is damaged or does not fit this CPU. Run `pybootstrap install` again (it "
        "replaces the torch family); if it persists, check that no second torch shadows this one (torch_file in "
        "the log)."),
    "package-missing": Explanation(
        "a package of the plan is not installed",
        "Run `pybootstrap install` again with the same flags; it installs the whole torch family of the plan."),
    "package-import-failed": Explanation(
        "a package of the torch family does not import",
        "Run `pybootstrap install` again: it replaces torch, torchvision and torchaudio with builds made for each "
        "other. The log holds the traceback."),
    "package-check-failed": Explanation(
        "a package of the torch family imports but computes wrong results",
        "Run `pybootstrap install` again: it replaces torch, torchvision and torchaudio with builds made for each "
        "other; if it persists, report the log."),
    "version-mismatch": Explanation(
        "another build than the planned one is installed",
        "Run `pybootstrap install` with the same --torch / --variant; it replaces only the torch family."),
}

#: Detect's advice when nvidia-smi is missing but /proc shows a loaded driver.
SMI_MISSING_DRIVER_LOADED = ("nvidia-smi is missing, but driver {driver} is loaded (read from {where}); the GPUs "
                             "were read from there. Install the NVIDIA utilities (nvidia-smi) for full detection, "
                             "or pass --driver and --gpu to plan explicitly.")


def explain(kind: str) -> Explanation:
    """The fixed message and advice of a kind (KeyError for a kind explained from its facts)."""
    return EXPLANATIONS[kind]

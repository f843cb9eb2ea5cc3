"""Probes of this machine: run nvidia-smi, read /proc and sysfs, ask CIM. Each returns raw text (or rows of it)
or None; what the text means is decided by the pure parsers (nvidia_smi, hardware_rules)."""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, List, Optional, Tuple

from pybootstrap import _subprocess, nvidia_smi

SMI_TIMEOUT_S = 15.0
#: Where nvidia-smi lives off PATH on Linux (WSL keeps it in its lib folder, outside PATH in a login shell).
LINUX_SMI_PATHS = ("/usr/lib/wsl/lib/nvidia-smi", "/usr/bin/nvidia-smi")
PROC_NVIDIA = "/proc/driver/nvidia"
PCI_DEVICES = "/sys/bus/pci/devices"

Runner = Callable[..., _subprocess.CommandResult]


def find_nvidia_smi(os_name: str) -> Optional[str]:
    """nvidia-smi on PATH, else where drivers put it (System32, its DriverStore, NVSMI, WSL's lib folder)."""
    found = shutil.which("nvidia-smi")
    if found:
        return found
    candidates: List[Path] = []
    if os_name == "windows":
        root = Path(os.environ.get("SystemRoot", r"C:\Windows"))
        program_files = os.environ.get("ProgramW6432") or os.environ.get("ProgramFiles", r"C:\Program Files")
        # DCH drivers keep it only in the DriverStore (nv*.inf_amd64_<hash> folders).
        store = sorted((root / "System32" / "DriverStore" / "FileRepository").glob("nv*/nvidia-smi.exe"))
        candidates += [root / "System32" / "nvidia-smi.exe", *store,
                       Path(program_files) / "NVIDIA Corporation" / "NVSMI" / "nvidia-smi.exe"]
    else:
        candidates += [Path(p) for p in LINUX_SMI_PATHS]
    return next((str(p) for p in candidates if p.is_file()), None)


@dataclass(frozen=True)
class SmiProbe:
    """Raw text from running nvidia-smi; failure is None when the query or the table answered."""

    csv: Optional[str] = None
    table: Optional[str] = None
    failure: Optional[str] = None  # "timeout", "not-started", or nvidia-smi's own output
    detail: str = ""


def probe_nvidia_smi(exe: str, run: Runner = _subprocess.run, *, read_table: bool = True,
                     timeout: float = SMI_TIMEOUT_S) -> SmiProbe:
    """Run the query (with, then without compute_cap), then the table; each bounded by the timeout.

    Without read_table the table (whose header holds the driver's CUDA version) is read only when the
    query failed: every nvidia-smi start costs tens of milliseconds on a real driver.
    """
    csv: Optional[str] = None
    for fields in (nvidia_smi.QUERY_FIELDS, nvidia_smi.QUERY_FIELDS_NO_CC):
        result = run([exe, "--query-gpu=" + ",".join(fields), "--format=csv,noheader,nounits"], timeout=timeout)
        text = (result.stdout + "\n" + result.stderr).strip()
        if result.timed_out:
            return SmiProbe(failure="timeout")
        if result.error:
            return SmiProbe(failure="not-started", detail=f"it could not be run: {result.error}")
        if result.ok:
            csv = ", ".join(fields).replace("memory.total", "memory.total [MiB]") + "\n" + result.stdout
            break
        if not nvidia_smi.is_invalid_field_error(text):
            text = text or f"nvidia-smi exited with code {result.returncode} and printed nothing"
            return SmiProbe(failure=text, detail="nvidia-smi said: " + text)
    if csv is not None and not read_table:
        return SmiProbe(csv=csv)
    table = run([exe], timeout=timeout)
    if table.returncode is not None:
        return SmiProbe(csv=csv, table=table.stdout + "\n" + table.stderr)
    if csv is None:
        return SmiProbe(failure="timeout" if table.timed_out else "not-started",
                        detail="" if table.timed_out else f"it could not be run: {table.error}")
    return SmiProbe(csv=csv)


def read_text(path: str) -> Optional[str]:
    """A small system file's text, or None."""
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def read_proc_gpus() -> List[str]:
    """The text of /proc/driver/nvidia/gpus/*/information, one per GPU the loaded driver knows."""
    try:
        entries = sorted(Path(PROC_NVIDIA, "gpus").iterdir())
    except OSError:
        return []
    return [read_text(str(e / "information")) or "" for e in entries]


def read_cim_adapters(run: Runner = _subprocess.run) -> str:
    """Windows: 'Name|AdapterCompatibility' of every Win32_VideoController, one per line."""
    root = os.environ.get("SystemRoot", r"C:\Windows")
    ps = Path(root) / "System32" / "WindowsPowerShell" / "v1.0" / "powershell.exe"
    result = run([str(ps) if ps.is_file() else "powershell", "-NoProfile", "-NonInteractive", "-Command",
                  "Get-CimInstance Win32_VideoController | ForEach-Object { $_.Name + '|' + "
                  "$_.AdapterCompatibility }"], timeout=20)
    return result.stdout


def read_pci_devices() -> List[Tuple[str, str, str]]:
    """Linux: (device, class, vendor id) of every PCI device in sysfs."""
    try:
        devices = sorted(Path(PCI_DEVICES).iterdir())
    except OSError:
        return []
    return [(dev.name, read_text(str(dev / "class")) or "", read_text(str(dev / "vendor")) or "") for dev in devices]


def machine_name() -> str:
    """The machine's native architecture name (on Windows also from a 32-bit process on 64-bit Windows)."""
    if sys.platform == "win32":
        # a WOW64 process sees its own architecture in PROCESSOR_ARCHITECTURE; the native one is in ...W6432
        return os.environ.get("PROCESSOR_ARCHITEW6432") or os.environ.get("PROCESSOR_ARCHITECTURE") or "unknown"
    return os.uname().machine or "unknown"  # what platform.machine() reads, without importing platform

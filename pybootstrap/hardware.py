"""Hardware facts: probes return raw text or None; the pure parsers live in nvidia_smi."""

from __future__ import annotations

import os
import platform
import re
import shutil
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, List, Optional, Sequence, Tuple

from packaging.version import InvalidVersion

from pybootstrap import _subprocess, nvidia_smi
from pybootstrap.manifest import Capability, DriverVersion, Manifest

SMI_TIMEOUT_S = 15.0

ADVICE = {
    "nvidia-smi-not-found": "No NVIDIA driver was found (nvidia-smi is missing), so the CPU build will be "
                            "chosen. If this machine has an NVIDIA GPU, install the NVIDIA driver "
                            "(https://www.nvidia.com/Download/index.aspx) and run again.",
    "driver-not-loaded": "nvidia-smi could not talk to the NVIDIA driver: the driver is not loaded. Reboot; "
                         "if that does not help, reinstall the NVIDIA driver. Until then the CPU build is chosen.",
    "driver-library-mismatch": "The NVIDIA kernel module and the user-space library have different versions, "
                               "usually after a driver update without a reboot. Reboot, then run again.",
    "no-devices": "The NVIDIA driver is installed but sees no GPU. Check that the GPU is seated and enabled "
                  "(and passed through, in a VM or container). The CPU build is chosen.",
    "gpu-unavailable": "The driver sees a GPU but cannot use it (device handle error or GPU lost). Reboot; "
                       "check power and cooling; see `nvidia-smi -q` and the system log (Xid errors).",
    "timeout": "nvidia-smi did not answer in time; the driver may be hung. Reboot and try again.",
    "unparseable": "The output of nvidia-smi was not understood. Run `pybootstrap diagnose` on it, or pass "
                   "--driver and --gpu to plan explicitly.",
}


@dataclass(frozen=True)
class Gpu:
    """One physical GPU."""

    index: int
    name: str
    vendor: str = "nvidia"
    compute_capability: Optional[Capability] = None
    cc_source: Optional[str] = None  # "nvidia-smi", "name table", "--compute-capability"
    memory_mib: Optional[int] = None

    def cc_text(self) -> Optional[str]:
        """The capability as 'X.Y', or None."""
        return f"{self.compute_capability[0]}.{self.compute_capability[1]}" if self.compute_capability else None

    def to_dict(self) -> dict:
        """The gpus[] entry of the detect document."""
        return {"index": self.index, "name": self.name, "compute_capability": self.cc_text(),
                "memory_mib": self.memory_mib, "vendor": self.vendor, "compute_capability_source": self.cc_source}


@dataclass(frozen=True)
class DetectIssue:
    """Why detection could not report an NVIDIA GPU."""

    kind: str
    message: str
    advice: str

    def to_dict(self) -> dict:
        """The error object of the detect document."""
        return {"kind": self.kind, "message": self.message, "advice": self.advice}


@dataclass(frozen=True)
class Hardware:
    """Everything the planner needs to know about the machine."""

    os: str
    arch: str
    python_version: str
    driver_version: Optional[DriverVersion] = None
    cuda_version: Optional[str] = None
    cuda_version_source: Optional[str] = None
    gpus: Tuple[Gpu, ...] = ()
    other_adapters: Tuple[Gpu, ...] = ()
    source: str = "nvidia-smi"
    error: Optional[DetectIssue] = None
    notes: Tuple[str, ...] = ()
    overrides: Tuple[str, ...] = ()

    @property
    def nvidia_gpus(self) -> Tuple[Gpu, ...]:
        """The NVIDIA GPUs (the ones CUDA can use)."""
        return tuple(g for g in self.gpus if g.vendor == "nvidia")

    def to_dict(self) -> dict:
        """The detect document (without the schema key)."""
        return {"os": self.os, "arch": self.arch, "python_version": self.python_version,
                "driver_version": str(self.driver_version) if self.driver_version else None,
                "cuda_version": self.cuda_version, "cuda_version_source": self.cuda_version_source,
                "gpus": [g.to_dict() for g in self.gpus],
                "other_adapters": [g.to_dict() for g in self.other_adapters],
                "source": self.source, "error": self.error.to_dict() if self.error else None,
                "notes": list(self.notes), "overrides": list(self.overrides)}


# --- pure helpers -----------------------------------------------------------------------------

def normalize_os(name: str) -> str:
    """'Windows', 'win32' -> 'windows'; 'Linux' -> 'linux'; else lower case."""
    name = name.lower()
    if name.startswith("win") or name.startswith("cygwin") or name.startswith("msys"):
        return "windows"
    if name.startswith("linux"):
        return "linux"
    return "macos" if name in ("darwin", "macos") else name


def normalize_arch(machine: str) -> str:
    """'AMD64', 'x86_64' -> 'x86_64'; 'aarch64', 'ARM64' -> 'arm64'."""
    machine = machine.lower()
    if machine in ("amd64", "x86_64", "x64", "em64t"):
        return "x86_64"
    if machine in ("arm64", "aarch64", "armv8", "armv8l"):
        return "arm64"
    return machine


def parse_driver_version(text: Optional[str]) -> Optional[DriverVersion]:
    """'535.104.05' -> DriverVersion; junk -> None."""
    if not text or not re.fullmatch(r"\d{2,4}(\.\d{1,3}){1,2}", text.strip()):
        return None
    try:
        return DriverVersion(text.strip())
    except InvalidVersion:
        return None


def capability_from_name(name: str, manifest: Manifest) -> Optional[Capability]:
    """Compute capability from a GPU name via the manifest's table; None if unknown or ambiguous.

    A name cut off by nvidia-smi ("NVIDIA GeForce RTX 3...") only counts when every table entry it
    could be has the same capability.
    """
    text = re.sub(r"\s+", " ", name).strip().lower()
    truncated = text.endswith("...")
    text = text.rstrip(".").strip()
    if not text:
        return None
    for entry in manifest.gpus:
        if re.search(r"(?<![a-z0-9])" + re.escape(entry.match) + r"(?![a-z0-9])", text):
            return entry.compute_capability
    if truncated:
        # the cut-off name ends with the start of a table entry: "rtx 3" could be "rtx 3090".
        head, _, tail = text.rpartition(" ")
        found = {e.compute_capability for e in manifest.gpus
                 if _could_be(e.match, head, tail, text)}
        if len(found) == 1:
            return found.pop()
    return None


def _could_be(match: str, head: str, tail: str, text: str) -> bool:
    words = match.split(" ")
    for i in range(len(words)):
        prefix = " ".join(words[:i])
        candidate = (prefix + " " if prefix else "") + words[i]
        if candidate.startswith(" ".join(filter(None, [prefix, tail]))) and text.endswith(
                (" ".join(filter(None, [prefix, tail])))):
            rest_ok = not prefix or text.endswith(prefix + " " + tail)
            if rest_ok and (words[i].startswith(tail)):
                return True
    return False


def derive_cuda_version(driver: DriverVersion, os_name: str, manifest: Manifest) -> Optional[str]:
    """The newest CUDA version whose toolkit driver is at or below this driver (NVIDIA Table 3)."""
    for toolkit in manifest.toolkits:
        floor = toolkit.min_driver.get(os_name)
        if floor is None:
            linux = toolkit.min_driver.get("linux")
            floor = DriverVersion(str(linux.major)) if linux else None
        if floor is not None and driver >= floor:
            return f"{toolkit.cuda.major}.{toolkit.cuda.minor}"
    return None


def hardware_from_report(report: nvidia_smi.SmiReport, manifest: Manifest, *, os_name: str, arch: str,
                         python_version: str, source: str) -> Hardware:
    """Turn parsed nvidia-smi output into Hardware, filling gaps from the manifest's tables."""
    gpus: List[Gpu] = []
    notes: List[str] = []
    for g in report.gpus:
        cc, cc_source = None, None
        if g.compute_capability:
            major, minor = g.compute_capability.split(".")
            cc, cc_source = (int(major), int(minor)), "nvidia-smi"
        else:
            cc = capability_from_name(g.name, manifest)
            cc_source = "name table" if cc else None
            if cc is None:
                notes.append(f"compute capability of GPU {g.index} ({g.name}) is unknown; "
                             "pass --compute-capability to plan for it")
        gpus.append(Gpu(index=g.index, name=g.name, compute_capability=cc, cc_source=cc_source,
                        memory_mib=g.memory_mib))
    if report.mig_devices:
        notes.append(f"{report.mig_devices} MIG device(s) found; they are slices of the GPUs listed, not GPUs")
    driver = parse_driver_version(report.driver_version)
    cuda, cuda_source = report.cuda_version, "nvidia-smi" if report.cuda_version else None
    if cuda is None and driver is not None:
        cuda = derive_cuda_version(driver, os_name, manifest)
        cuda_source = "derived from the driver version" if cuda else None
    if report.smi_version and report.driver_version and report.smi_version != report.driver_version:
        notes.append(f"nvidia-smi {report.smi_version} differs from driver {report.driver_version}; "
                     "the driver version is what counts")
    notes.extend(f"nvidia-smi warned: {w}" for w in report.warnings)
    error = None
    kind = report.error_kind
    if kind is None and not gpus:
        kind = "no-devices" if report.form == "table" else ("unparseable" if report.form == "unknown" else None)
    if kind:
        error = DetectIssue(kind, _message_for(kind), ADVICE[kind])
    return Hardware(os=os_name, arch=arch, python_version=python_version, driver_version=driver,
                    cuda_version=cuda, cuda_version_source=cuda_source, gpus=tuple(gpus), source=source,
                    error=error, notes=tuple(notes))


def _message_for(kind: str) -> str:
    return {
        "nvidia-smi-not-found": "nvidia-smi was not found",
        "driver-not-loaded": "nvidia-smi could not communicate with the NVIDIA driver",
        "driver-library-mismatch": "NVML driver/library version mismatch",
        "no-devices": "the NVIDIA driver found no devices",
        "gpu-unavailable": "the NVIDIA driver cannot use a GPU (device handle error)",
        "timeout": f"nvidia-smi did not answer within {SMI_TIMEOUT_S:g} s",
        "unparseable": "the nvidia-smi output could not be parsed",
    }[kind]


# --- probes -----------------------------------------------------------------------------------

Runner = Callable[..., _subprocess.CommandResult]


def find_nvidia_smi(os_name: str) -> Optional[str]:
    """nvidia-smi on PATH, else where drivers put it (System32, NVSMI, WSL's lib folder)."""
    found = shutil.which("nvidia-smi")
    if found:
        return found
    candidates: List[Path] = []
    if os_name == "windows":
        root = os.environ.get("SystemRoot", r"C:\Windows")
        program_files = os.environ.get("ProgramW6432") or os.environ.get("ProgramFiles", r"C:\Program Files")
        candidates += [Path(root) / "System32" / "nvidia-smi.exe",
                       Path(program_files) / "NVIDIA Corporation" / "NVSMI" / "nvidia-smi.exe"]
    else:
        candidates += [Path("/usr/lib/wsl/lib/nvidia-smi"), Path("/usr/bin/nvidia-smi")]
    return next((str(p) for p in candidates if p.is_file()), None)


def probe_nvidia_smi(exe: str, run: Runner = _subprocess.run) -> Tuple[Optional[str], Optional[str], str]:
    """Run the query (with, then without compute_cap), then the table; return (csv, table, error).

    error is "" on success, "timeout", or the text of the failure.
    """
    csv_text = None
    for fields in (nvidia_smi.QUERY_FIELDS, nvidia_smi.QUERY_FIELDS_NO_CC):
        result = run([exe, "--query-gpu=" + ",".join(fields), "--format=csv,noheader,nounits"],
                     timeout=SMI_TIMEOUT_S)
        if result.timed_out:
            return None, None, "timeout"
        if result.ok:
            csv_text = "index, name, driver_version, memory.total [MiB]" + (
                ", compute_cap" if "compute_cap" in fields else "") + "\n" + result.stdout
            break
        text = result.stdout + "\n" + result.stderr
        if not nvidia_smi.is_invalid_field_error(text):
            if result.error:
                return None, None, result.error
            return None, None, text
    table = run([exe], timeout=SMI_TIMEOUT_S)
    if table.timed_out:
        return csv_text, None, "" if csv_text else "timeout"
    return csv_text, (table.stdout + "\n" + table.stderr) if table.returncode is not None else None, ""


def read_text(path: str) -> Optional[str]:
    """A small system file's text, or None."""
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def linux_proc_gpus() -> List[str]:
    """GPU model names from /proc/driver/nvidia/gpus/*/information."""
    names = []
    base = Path("/proc/driver/nvidia/gpus")
    try:
        entries = sorted(base.iterdir())
    except OSError:
        return names
    for entry in entries:
        info = read_text(str(entry / "information")) or ""
        match = re.search(r"^Model:\s*(.+)$", info, re.M)
        if match:
            names.append(match.group(1).strip())
    return names


def other_adapters(os_name: str, run: Runner = _subprocess.run) -> Tuple[Gpu, ...]:
    """Non-NVIDIA display adapters (Windows: CIM via PowerShell; Linux: PCI class 0x03 in sysfs)."""
    found: List[Gpu] = []
    if os_name == "windows":
        root = os.environ.get("SystemRoot", r"C:\Windows")
        ps = Path(root) / "System32" / "WindowsPowerShell" / "v1.0" / "powershell.exe"
        result = run([str(ps) if ps.is_file() else "powershell", "-NoProfile", "-NonInteractive", "-Command",
                      "Get-CimInstance Win32_VideoController | ForEach-Object { $_.Name + '|' + "
                      "$_.AdapterCompatibility }"], timeout=20)
        for i, line in enumerate(l for l in result.stdout.splitlines() if l.strip()):
            name, _, company = line.partition("|")
            vendor = _vendor_of(name + " " + company)
            if vendor != "nvidia":
                found.append(Gpu(index=i, name=name.strip(), vendor=vendor))
        return tuple(found)
    vendors = {"0x8086": "intel", "0x1002": "amd", "0x10de": "nvidia", "0x1a03": "aspeed", "0x15ad": "vmware",
               "0x1234": "qemu", "0x1af4": "virtio", "0x1414": "microsoft"}
    try:
        devices = sorted(Path("/sys/bus/pci/devices").iterdir())
    except OSError:
        return ()
    for dev in devices:
        cls = (read_text(str(dev / "class")) or "").strip()
        if not cls.startswith("0x03"):
            continue
        vendor_id = (read_text(str(dev / "vendor")) or "").strip()
        vendor = vendors.get(vendor_id, vendor_id or "unknown")
        if vendor != "nvidia":
            found.append(Gpu(index=len(found), name=f"{vendor} display adapter at {dev.name}", vendor=vendor))
    return tuple(found)


def _vendor_of(text: str) -> str:
    low = text.lower()
    for key, vendor in (("nvidia", "nvidia"), ("intel", "intel"), ("amd", "amd"), ("advanced micro", "amd"),
                        ("radeon", "amd"), ("microsoft", "microsoft"), ("vmware", "vmware")):
        if key in low:
            return vendor
    return "unknown"


def current_platform() -> Tuple[str, str, str]:
    """(os, arch, python X.Y.Z) of this process."""
    return (normalize_os(sys.platform), normalize_arch(platform.machine() or "unknown"),
            ".".join(str(p) for p in sys.version_info[:3]))


def detect(manifest: Manifest, *, smi_file: Optional[str] = None, run: Runner = _subprocess.run,
           python_version: Optional[str] = None, list_other: bool = True) -> Hardware:
    """Detect OS, architecture, NVIDIA driver and GPUs of this machine (or of a saved nvidia-smi file)."""
    os_name, arch, own_python = current_platform()
    python_version = python_version or own_python
    if smi_file is not None:
        from pybootstrap.errors import UsageError

        try:
            raw = Path(smi_file).read_bytes() if smi_file != "-" else sys.stdin.buffer.read()
        except OSError as exc:
            raise UsageError(f"--nvidia-smi-file: cannot read {smi_file}: {exc.strerror or exc}",
                             "Give the path of a file holding saved nvidia-smi output.") from None
        report = nvidia_smi.parse_any(_subprocess.decode_output(raw))
        return hardware_from_report(report, manifest, os_name=os_name, arch=arch,
                                    python_version=python_version, source="file")
    exe = find_nvidia_smi(os_name)
    if exe is None:
        return _without_smi(manifest, os_name, arch, python_version, run, list_other)
    csv_text, table_text, failure = probe_nvidia_smi(exe, run)
    if failure:
        kind = "timeout" if failure == "timeout" else (nvidia_smi.classify_error(failure) or "unparseable")
        if kind == "nvidia-smi-not-found":
            return _without_smi(manifest, os_name, arch, python_version, run, list_other)
        hw = Hardware(os=os_name, arch=arch, python_version=python_version, source="nvidia-smi",
                      error=DetectIssue(kind, _message_for(kind), ADVICE[kind]))
        return _with_fallbacks(hw, manifest, os_name, run, list_other)
    report = nvidia_smi.parse_csv(csv_text) if csv_text else None
    table = nvidia_smi.parse_any(table_text) if table_text else None
    if report is None or not report.gpus:
        report = table or nvidia_smi.SmiReport(form="unknown", error_kind="unparseable")
    elif table is not None:
        report.cuda_version = table.cuda_version
        report.smi_version = table.smi_version
        report.mig_devices = table.mig_devices
        report.warnings = table.warnings
    hw = hardware_from_report(report, manifest, os_name=os_name, arch=arch, python_version=python_version,
                              source="nvidia-smi")
    return _with_fallbacks(hw, manifest, os_name, run, list_other)


def _without_smi(manifest: Manifest, os_name: str, arch: str, python_version: str, run: Runner,
                 list_other: bool) -> Hardware:
    kind = "nvidia-smi-not-found"
    hw = Hardware(os=os_name, arch=arch, python_version=python_version, source="none",
                  error=DetectIssue(kind, _message_for(kind), ADVICE[kind]))
    return _with_fallbacks(hw, manifest, os_name, run, list_other)


def _with_fallbacks(hw: Hardware, manifest: Manifest, os_name: str, run: Runner, list_other: bool) -> Hardware:
    """Linux: the driver version from /proc; any OS: the other display adapters, for the report."""
    if os_name == "linux" and hw.driver_version is None:
        proc = parse_driver_version(nvidia_smi.parse_proc_version(read_text("/proc/driver/nvidia/version") or ""))
        if proc is not None:
            notes = hw.notes + (f"driver {proc} read from /proc/driver/nvidia/version",)
            gpus = hw.gpus
            if not gpus and hw.error and hw.error.kind == "nvidia-smi-not-found":
                gpus = tuple(Gpu(index=i, name=n, compute_capability=capability_from_name(n, manifest),
                                 cc_source="name table") for i, n in enumerate(linux_proc_gpus()))
            hw = replace(hw, driver_version=proc, gpus=gpus, notes=notes,
                         cuda_version=hw.cuda_version or derive_cuda_version(proc, os_name, manifest),
                         cuda_version_source=hw.cuda_version_source or "derived from the driver version",
                         source=hw.source if hw.source != "none" else "proc")
    if list_other and not hw.nvidia_gpus:
        hw = replace(hw, other_adapters=other_adapters(os_name, run))
    return hw


def apply_overrides(hw: Hardware, manifest: Manifest, *, os_name: Optional[str] = None,
                    arch: Optional[str] = None, python_version: Optional[str] = None,
                    driver: Optional[DriverVersion] = None, gpu_names: Sequence[str] = (),
                    capabilities: Sequence[Capability] = (), no_gpu: bool = False) -> Hardware:
    """The what-if flags of plan: each replaces what was detected."""
    changes: dict = {}
    said: List[str] = []
    if os_name:
        changes["os"] = os_name
        said.append(f"os {os_name} (from --os)")
    if arch:
        changes["arch"] = arch
        said.append(f"arch {arch} (from --arch)")
    if python_version:
        changes["python_version"] = python_version
        said.append(f"Python {python_version} (from --python-version)")
    if driver is not None:
        changes.update(driver_version=driver, cuda_version=derive_cuda_version(driver, os_name or hw.os, manifest),
                       cuda_version_source="derived from --driver", error=None)
        said.append(f"driver {driver} (from --driver)")
    if no_gpu:
        changes.update(gpus=(), error=None)
        said.append("no GPU (from --no-gpu)")
    elif gpu_names or capabilities:
        gpus = []
        count = max(len(gpu_names), len(capabilities))
        for i in range(count):
            name = gpu_names[i] if i < len(gpu_names) else f"GPU with compute capability {capabilities[i][0]}.{capabilities[i][1]}"
            if i < len(capabilities):
                cc, src = capabilities[i], "--compute-capability"
            else:
                cc = capability_from_name(name, manifest)
                src = "name table" if cc else None
            gpus.append(Gpu(index=i, name=name, compute_capability=cc, cc_source=src))
        changes.update(gpus=tuple(gpus), error=None)
        said.append("GPUs " + ", ".join(g.name for g in gpus) + " (from --gpu/--compute-capability)")
    if not changes:
        return hw
    if "gpus" in changes and hw.driver_version is None and "driver_version" not in changes:
        said.append("no driver given: add --driver to plan a CUDA build")
    return replace(hw, overrides=hw.overrides + tuple(said), source="what-if"
                   if hw.source in ("none", "nvidia-smi") and ("gpus" in changes or "driver_version" in changes)
                   else hw.source, **changes)

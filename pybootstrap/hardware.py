"""Hardware facts: probes return raw text or None; the pure parsers live in nvidia_smi."""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path
from typing import Callable, List, NamedTuple, Optional, Sequence, Tuple

from packaging.version import InvalidVersion

from pybootstrap import _subprocess, nvidia_smi
from pybootstrap.manifest import Capability, DriverVersion, Manifest

SMI_TIMEOUT_S = 15.0
#: Where nvidia-smi lives off PATH on Linux (WSL keeps it in its lib folder, outside PATH in a login shell).
LINUX_SMI_PATHS = ("/usr/lib/wsl/lib/nvidia-smi", "/usr/bin/nvidia-smi")

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


class Gpu(NamedTuple):
    """One physical GPU."""

    index: int
    name: Optional[str]  # None when the output gives no name (a compute_cap-only query)
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


class DetectIssue(NamedTuple):
    """Why detection could not report an NVIDIA GPU."""

    kind: str
    message: str
    advice: str

    def to_dict(self) -> dict:
        """The error object of the detect document."""
        return {"kind": self.kind, "message": self.message, "advice": self.advice}


class Hardware(NamedTuple):
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
    if name.startswith(("win", "cygwin", "msys")):
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


def capability_from_name(name: Optional[str], manifest: Manifest) -> Optional[Capability]:
    """Compute capability from a GPU name via the manifest's table; None if unknown or ambiguous.

    A name cut off by nvidia-smi ("NVIDIA GeForce RTX 3...") only counts when every table entry it
    could be has the same capability.
    """
    text = re.sub(r"\s+", " ", name or "").strip().lower()
    text = re.sub(r"\brtx(?=a?[0-9])", "rtx ", text)  # vGPU profiles: "NVIDIA RTXA6000-48A"
    truncated = text.endswith("...")
    word_cut = truncated and not text.endswith(" ...")  # "RTX 207..." vs the 610 style "RTX 2080 ..."
    text = text.rstrip(". ")
    if not text:
        return None
    # The table is longest match first, so the first entry found in the full name is the answer.
    end = "" if word_cut else "|$"
    first = next((i for i, e in enumerate(manifest.gpus)  # the substring test spares compiling 200 regexes
                  if e.match in text
                  and re.search(r"(?<![a-z0-9])" + re.escape(e.match) + r"(?=[^a-z0-9]" + end + ")", text)),
                 None)
    if not truncated:
        return manifest.gpus[first].compute_capability if first is not None else None
    # Cut off: a longer entry may begin in the lost part and win over the one found in what is left.
    found = {manifest.gpus[first].compute_capability} if first is not None else set()
    starts = [i for i in range(len(text)) if text[i].isalnum() and (i == 0 or not text[i - 1].isalnum())]
    for entry in manifest.gpus[:first]:
        for i in starts:
            tail = text[i:]
            if entry.match.startswith(tail) and (word_cut or (len(entry.match) > len(tail)
                                                              and not entry.match[len(tail)].isalnum())):
                found.add(entry.compute_capability)
    return found.pop() if len(found) == 1 else None


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
        if g.compute_capability:  # the driver said it: the name table is not needed
            major, minor = g.compute_capability.split(".")
            gpu = Gpu(g.index, g.name, compute_capability=(int(major), int(minor)), cc_source="nvidia-smi",
                      memory_mib=g.memory_mib)
        else:
            gpu = _gpu_named(g.index, g.name, manifest, g.memory_mib)
        if gpu.compute_capability is None:
            notes.append(f"compute capability of GPU {g.index} ({g.name or 'name not shown'}) is unknown; "
                         "pass --compute-capability to plan for it")
        gpus.append(gpu)
    if report.mig_devices and gpus:
        notes.append(f"{report.mig_devices} MIG device(s) found; they are slices of the GPUs listed, not GPUs")
    elif report.mig_devices:
        notes.append(f"{report.mig_devices} MIG device(s) found but no GPU row: they are slices of a GPU, not "
                     "GPUs; save the whole nvidia-smi output to report the GPU itself")
    driver = parse_driver_version(report.driver_version)
    cuda, cuda_source = report.cuda_version, "nvidia-smi" if report.cuda_version else None
    if cuda is None and driver is not None:
        cuda = derive_cuda_version(driver, os_name, manifest)
        cuda_source = "derived from the driver version" if cuda else None
    if report.smi_version and report.driver_version and report.smi_version != report.driver_version:
        notes.append(f"nvidia-smi {report.smi_version} differs from driver {report.driver_version}; "
                     "the driver version is what counts")
    notes.extend(f"nvidia-smi warned: {w}" for w in report.warnings)
    kind = report.error_kind
    if kind is None and not gpus and not report.mig_devices:
        kind = "no-devices" if report.form == "table" else ("unparseable" if report.form == "unknown" else None)
    return Hardware(os=os_name, arch=arch, python_version=python_version, driver_version=driver,
                    cuda_version=cuda, cuda_version_source=cuda_source, gpus=tuple(gpus), source=source,
                    error=issue(kind) if kind else None, notes=tuple(notes))


def issue(kind: str, detail: str = "") -> DetectIssue:
    """The error object for a detection error kind, with a detail (what nvidia-smi said) in parentheses."""
    message = {
        "nvidia-smi-not-found": "nvidia-smi was not found",
        "driver-not-loaded": "nvidia-smi could not communicate with the NVIDIA driver",
        "driver-library-mismatch": "NVML driver/library version mismatch",
        "no-devices": "the NVIDIA driver found no devices",
        "gpu-unavailable": "the NVIDIA driver cannot use a GPU (device handle error)",
        "timeout": f"nvidia-smi did not answer within {SMI_TIMEOUT_S:g} s",
        "unparseable": "the nvidia-smi output could not be parsed",
    }[kind]
    detail = " / ".join(ln.strip() for ln in detail.splitlines() if ln.strip())
    if detail:
        message += f" ({detail[:300]}{'...' if len(detail) > 300 else ''})"
    return DetectIssue(kind, message, ADVICE[kind])


# --- probes -----------------------------------------------------------------------------------

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


class SmiProbe:
    """Raw text from running nvidia-smi; failure is None when the query or the table answered."""

    __slots__ = ("csv", "table", "failure", "detail")

    def __init__(self, csv: Optional[str] = None, table: Optional[str] = None, failure: Optional[str] = None,
                 detail: str = "") -> None:
        self.csv = csv
        self.table = table
        self.failure = failure  # "timeout", "not-started", or nvidia-smi's own output
        self.detail = detail


def probe_nvidia_smi(exe: str, run: Runner = _subprocess.run, *, read_table: bool = True) -> SmiProbe:
    """Run the query (with, then without compute_cap), then the table; each bounded by SMI_TIMEOUT_S.

    Without read_table the table (whose header holds the driver's CUDA version) is read only when the
    query failed: every nvidia-smi start costs tens of milliseconds on a real driver.
    """
    probe = SmiProbe()
    for fields in (nvidia_smi.QUERY_FIELDS, nvidia_smi.QUERY_FIELDS_NO_CC):
        result = run([exe, "--query-gpu=" + ",".join(fields), "--format=csv,noheader,nounits"],
                     timeout=SMI_TIMEOUT_S)
        text = (result.stdout + "\n" + result.stderr).strip()
        if result.timed_out:
            return SmiProbe(failure="timeout")
        if result.error:
            return SmiProbe(failure="not-started", detail=f"it could not be run: {result.error}")
        if result.ok:
            probe.csv = ", ".join(fields).replace("memory.total", "memory.total [MiB]") + "\n" + result.stdout
            break
        if not nvidia_smi.is_invalid_field_error(text):
            text = text or f"nvidia-smi exited with code {result.returncode} and printed nothing"
            return SmiProbe(failure=text, detail="nvidia-smi said: " + text)
    if probe.csv is not None and not read_table:
        return probe
    table = run([exe], timeout=SMI_TIMEOUT_S)
    if table.returncode is not None:
        probe.table = table.stdout + "\n" + table.stderr
    elif probe.csv is None:
        return SmiProbe(failure="timeout" if table.timed_out else "not-started",
                        detail="" if table.timed_out else f"it could not be run: {table.error}")
    return probe


PROC_NVIDIA = "/proc/driver/nvidia"


def read_text(path: str) -> Optional[str]:
    """A small system file's text, or None."""
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def linux_proc_gpus() -> List[str]:
    """GPU model names from /proc/driver/nvidia/gpus/*/information."""
    try:
        entries = sorted(Path(PROC_NVIDIA, "gpus").iterdir())
    except OSError:
        return []
    found = (re.search(r"^Model:\s*(.+)$", read_text(str(e / "information")) or "", re.M) for e in entries)
    return [m.group(1).strip() for m in found if m]


def other_adapters(os_name: str, run: Runner = _subprocess.run) -> Tuple[Gpu, ...]:
    """Non-NVIDIA display adapters (Windows: CIM via PowerShell; Linux: PCI class 0x03 in sysfs)."""
    found: List[Gpu] = []
    if os_name == "windows":
        root = os.environ.get("SystemRoot", r"C:\Windows")
        ps = Path(root) / "System32" / "WindowsPowerShell" / "v1.0" / "powershell.exe"
        result = run([str(ps) if ps.is_file() else "powershell", "-NoProfile", "-NonInteractive", "-Command",
                      "Get-CimInstance Win32_VideoController | ForEach-Object { $_.Name + '|' + "
                      "$_.AdapterCompatibility }"], timeout=20)
        for i, line in enumerate(row for row in result.stdout.splitlines() if row.strip()):
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


def machine_name() -> str:
    """The machine's architecture name, without importing platform (slow at start-up)."""
    if sys.platform == "win32":
        # the native architecture, also from a 32-bit process on 64-bit Windows
        return os.environ.get("PROCESSOR_ARCHITEW6432") or os.environ.get("PROCESSOR_ARCHITECTURE") or "unknown"
    try:
        return os.uname().machine or "unknown"
    except AttributeError:  # pragma: no cover
        import platform

        return platform.machine() or "unknown"


def current_platform() -> Tuple[str, str, str]:
    """(os, arch, python X.Y.Z) of this process."""
    return (normalize_os(sys.platform), normalize_arch(machine_name()),
            ".".join(str(p) for p in sys.version_info[:3]))


def detect(manifest: Manifest, *, smi_file: Optional[str] = None, run: Runner = _subprocess.run,
           python_version: Optional[str] = None, list_other: bool = True, read_table: bool = True) -> Hardware:
    """Detect OS, architecture, NVIDIA driver and GPUs of this machine (or of a saved nvidia-smi file).

    read_table=False (plan, install) skips the second nvidia-smi run when the query answered; the
    driver's CUDA version is then derived from the driver version.
    """
    os_name, arch, own_python = current_platform()
    python_version = python_version or own_python
    if smi_file is not None:
        from pybootstrap.errors import UsageError

        try:
            raw = Path(smi_file).read_bytes() if smi_file != "-" else sys.stdin.buffer.read()
        except OSError as exc:
            raise UsageError(f"--nvidia-smi-file: cannot read {smi_file}: {exc.strerror or exc}",
                             "Give the path of a file holding saved nvidia-smi output.") from None
        report = nvidia_smi.parse_any(_subprocess.decode_output(raw))  # UTF-16 from PowerShell 5.1 too
        return hardware_from_report(report, manifest, os_name=os_name, arch=arch,
                                    python_version=python_version, source="file")
    exe = find_nvidia_smi(os_name)
    probe = probe_nvidia_smi(exe, run, read_table=read_table) if exe else SmiProbe(failure="not-started")
    if probe.failure:
        kind = ({"timeout": "timeout", "not-started": "nvidia-smi-not-found"}.get(probe.failure)
                or nvidia_smi.classify_error(probe.failure) or "unparseable")
        hw = Hardware(os=os_name, arch=arch, python_version=python_version, error=issue(kind, probe.detail),
                      source="none" if kind == "nvidia-smi-not-found" else "nvidia-smi")
        return _with_fallbacks(hw, manifest, run, list_other)
    report = nvidia_smi.parse_csv(probe.csv) if probe.csv else None
    table = nvidia_smi.parse_any(probe.table) if probe.table else None
    if report is None or not report.gpus:
        report = table or nvidia_smi.SmiReport(form="unknown", error_kind="unparseable")
    elif table is not None:
        report.driver_version = report.driver_version or table.driver_version
        report.cuda_version = table.cuda_version
        report.smi_version = table.smi_version
        report.mig_devices = table.mig_devices
        report.warnings = table.warnings
    hw = hardware_from_report(report, manifest, os_name=os_name, arch=arch, python_version=python_version,
                              source="nvidia-smi")
    return _with_fallbacks(hw, manifest, run, list_other)


def _with_fallbacks(hw: Hardware, manifest: Manifest, run: Runner, list_other: bool) -> Hardware:
    """Linux: the driver version from /proc; any OS: the other display adapters, for the report."""
    if hw.os == "linux" and hw.driver_version is None:
        proc = parse_driver_version(nvidia_smi.parse_proc_version(read_text(PROC_NVIDIA + "/version") or ""))
        if proc is not None:
            cuda = hw.cuda_version or derive_cuda_version(proc, hw.os, manifest)
            hw = hw._replace(driver_version=proc, notes=hw.notes + (f"driver {proc} read from {PROC_NVIDIA}/version",),
                         cuda_version=cuda, cuda_version_source=hw.cuda_version_source or (
                             "derived from the driver version" if cuda else None))
            if not hw.gpus and hw.error and hw.error.kind == "nvidia-smi-not-found":
                gpus = tuple(_gpu_named(i, n, manifest) for i, n in enumerate(linux_proc_gpus()))
                advice = (f"nvidia-smi is missing, but driver {proc} is loaded (read from {PROC_NVIDIA}); "
                          "the GPUs were read from there. Install the NVIDIA utilities (nvidia-smi) for full "
                          "detection, or pass --driver and --gpu to plan explicitly.")
                hw = hw._replace(gpus=gpus, source="proc", error=hw.error._replace(advice=advice))
    if list_other and not hw.nvidia_gpus:
        hw = hw._replace(other_adapters=other_adapters(hw.os, run))
    return hw


def _gpu_named(index: int, name: Optional[str], manifest: Manifest, memory_mib: Optional[int] = None) -> Gpu:
    cc = capability_from_name(name, manifest)
    return Gpu(index, name, compute_capability=cc, cc_source="name table" if cc else None, memory_mib=memory_mib)


def apply_overrides(hw: Hardware, manifest: Manifest, *, os_name: Optional[str] = None,
                    arch: Optional[str] = None, python_version: Optional[str] = None,
                    driver: Optional[DriverVersion] = None, gpu_names: Sequence[str] = (),
                    capabilities: Sequence[Capability] = (), no_gpu: bool = False) -> Hardware:
    """The what-if flags of plan: each replaces what was detected."""
    changes: dict = {}
    said: List[str] = []
    for key, value, label, flag in (("os", os_name, "os", "--os"), ("arch", arch, "arch", "--arch"),
                                    ("python_version", python_version, "Python", "--python-version")):
        if value:
            changes[key] = value
            said.append(f"{label} {value} (from {flag})")
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
            if i < len(capabilities):
                cc = capabilities[i]
                name = gpu_names[i] if i < len(gpu_names) else f"GPU with compute capability {cc[0]}.{cc[1]}"
                gpus.append(Gpu(index=i, name=name, compute_capability=cc, cc_source="--compute-capability"))
            else:
                vendor = _vendor_of(gpu_names[i])
                if vendor in ("amd", "intel"):  # "--gpu 'AMD Radeon RX 7900'": not a CUDA device
                    gpus.append(Gpu(index=i, name=gpu_names[i], vendor=vendor))
                else:
                    gpus.append(_gpu_named(i, gpu_names[i], manifest))
        changes.update(gpus=tuple(gpus), error=None)
        said.append("GPUs " + ", ".join(g.name for g in gpus) + " (from --gpu/--compute-capability)")
    if not changes:
        return hw
    if "gpus" in changes and hw.driver_version is None and "driver_version" not in changes:
        said.append("no driver given: add --driver to plan a CUDA build")
    return hw._replace(overrides=hw.overrides + tuple(said), source="what-if"
                   if hw.source in ("none", "nvidia-smi") and ("gpus" in changes or "driver_version" in changes)
                   else hw.source, **changes)

"""Pure rules that turn what the probes read into Hardware: names to compute capabilities, driver to CUDA
version, nvidia-smi reports and display-adapter listings to value objects, detection errors with their advice."""

from __future__ import annotations

import re
from typing import Iterable, List, Optional, Tuple

from packaging.version import InvalidVersion

from pybootstrap import nvidia_smi
from pybootstrap.failures import explain
from pybootstrap.machine import DetectIssue, Gpu, Hardware
from pybootstrap.manifest_model import Capability, DriverVersion, Manifest

#: PCI vendor ids of display adapters (the PCI-SIG vendor list, as in the Linux pci.ids database).
PCI_VENDORS = {"0x8086": "intel", "0x1002": "amd", "0x10de": "nvidia", "0x1a03": "aspeed", "0x15ad": "vmware",
               "0x1234": "qemu", "0x1af4": "virtio", "0x1414": "microsoft"}


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


def vendor_of(text: str) -> str:
    """The GPU vendor a name or company string names ('unknown' when none)."""
    low = text.lower()
    for key, vendor in (("nvidia", "nvidia"), ("intel", "intel"), ("amd", "amd"), ("advanced micro", "amd"),
                        ("radeon", "amd"), ("microsoft", "microsoft"), ("vmware", "vmware")):
        if key in low:
            return vendor
    return "unknown"


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


def gpu_named(index: int, name: Optional[str], manifest: Manifest, memory_mib: Optional[int] = None) -> Gpu:
    """An NVIDIA GPU known by name only: its capability from the manifest's name table."""
    cc = capability_from_name(name, manifest)
    return Gpu(index, name, compute_capability=cc, cc_source="name table" if cc else None, memory_mib=memory_mib)


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


def issue(kind: str, detail: str = "", message: Optional[str] = None) -> DetectIssue:
    """The error object for a detection error kind, with a detail (what nvidia-smi said) in parentheses."""
    text = explain(kind)
    message = message or text.message
    detail = " / ".join(ln.strip() for ln in detail.splitlines() if ln.strip())
    if detail:
        message += f" ({detail[:300]}{'...' if len(detail) > 300 else ''})"
    return DetectIssue(kind, message, text.advice)


def merge_reports(query: nvidia_smi.SmiReport, table: nvidia_smi.SmiReport) -> nvidia_smi.SmiReport:
    """The query's GPUs with what only the table prints (the driver's CUDA version, MIG slices, warnings)."""
    return nvidia_smi.SmiReport(form=query.form, driver_version=query.driver_version or table.driver_version,
                                cuda_version=table.cuda_version, smi_version=table.smi_version, gpus=query.gpus,
                                mig_devices=table.mig_devices, error_kind=query.error_kind, warnings=table.warnings)


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
            gpu = gpu_named(g.index, g.name, manifest, g.memory_mib)
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


def adapters_from_cim(text: str) -> Tuple[Gpu, ...]:
    """Non-NVIDIA adapters from 'Name|AdapterCompatibility' lines (Win32_VideoController via CIM)."""
    found: List[Gpu] = []
    for i, line in enumerate(row for row in (text or "").splitlines() if row.strip()):
        name, _, company = line.partition("|")
        vendor = vendor_of(name + " " + company)
        if vendor != "nvidia":
            found.append(Gpu(index=i, name=name.strip(), vendor=vendor))
    return tuple(found)


def adapters_from_pci(devices: Iterable[Tuple[str, str, str]]) -> Tuple[Gpu, ...]:
    """Non-NVIDIA display adapters (PCI class 0x03xxxx) from (device, class, vendor id) rows of sysfs."""
    found: List[Gpu] = []
    for device, pci_class, vendor_id in devices:
        if not pci_class.strip().startswith("0x03"):
            continue
        vendor = PCI_VENDORS.get(vendor_id.strip(), vendor_id.strip() or "unknown")
        if vendor != "nvidia":
            found.append(Gpu(index=len(found), name=f"{vendor} display adapter at {device}", vendor=vendor))
    return tuple(found)

"""Detection: what this machine is. Runs the probes (hardware_probes), parses what they read (nvidia_smi,
hardware_rules), falls back to /proc where nvidia-smi fails, and applies plan's what-if flags."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from pybootstrap import _subprocess, hardware_probes, nvidia_smi
from pybootstrap.errors import UsageError
from pybootstrap.failures import SMI_MISSING_DRIVER_LOADED, detection_kind
from pybootstrap.hardware_probes import (
    Runner,
    SmiProbe,
    find_nvidia_smi,
    machine_name,
    probe_nvidia_smi,
    read_cim_adapters,
    read_pci_devices,
    read_proc_gpus,
    read_text,
)
from pybootstrap.hardware_rules import (
    adapters_from_cim,
    adapters_from_pci,
    derive_cuda_version,
    gpu_named,
    hardware_from_report,
    issue,
    merge_reports,
    normalize_arch,
    normalize_os,
    parse_driver_version,
    vendor_of,
)
from pybootstrap.machine import Gpu, Hardware
from pybootstrap.manifest_model import Capability, DriverVersion, Manifest

_FAILURE_KINDS = {"timeout": "timeout", "not-started": "nvidia-smi-not-found"}


def current_platform() -> Tuple[str, str, str]:
    """(os, arch, python X.Y.Z) of this process."""
    return (normalize_os(sys.platform), normalize_arch(machine_name()),
            ".".join(str(p) for p in sys.version_info[:3]))


def other_adapters(os_name: str, run: Runner = _subprocess.run) -> Tuple[Gpu, ...]:
    """Non-NVIDIA display adapters (Windows: CIM via PowerShell; Linux: PCI class 0x03 in sysfs)."""
    if os_name == "windows":
        return adapters_from_cim(read_cim_adapters(run))
    return adapters_from_pci(read_pci_devices())


def read_smi_file(smi_file: str) -> str:
    """Saved nvidia-smi output from a file or '-' (stdin), in any encoding PowerShell or cmd.exe writes."""
    try:
        raw = Path(smi_file).read_bytes() if smi_file != "-" else sys.stdin.buffer.read()
    except OSError as exc:
        raise UsageError(f"--nvidia-smi-file: cannot read {smi_file}: {exc.strerror or exc}",
                         "Give the path of a file holding saved nvidia-smi output.") from None
    return _subprocess.decode_output(raw)  # UTF-16 from PowerShell 5.1 too


def detect(manifest: Manifest, *, smi_file: Optional[str] = None, run: Runner = _subprocess.run,
           python_version: Optional[str] = None, list_other: bool = True, read_table: bool = True) -> Hardware:
    """Detect OS, architecture, NVIDIA driver and GPUs of this machine (or of a saved nvidia-smi file).

    read_table=False (plan, install) skips the second nvidia-smi run when the query answered; the
    driver's CUDA version is then derived from the driver version.
    """
    os_name, arch, own_python = current_platform()
    python_version = python_version or own_python
    if smi_file is not None:
        return hardware_from_report(nvidia_smi.parse_any(read_smi_file(smi_file)), manifest, os_name=os_name,
                                    arch=arch, python_version=python_version, source="file")
    exe = find_nvidia_smi(os_name)
    timeout = hardware_probes.SMI_TIMEOUT_S
    probe = (probe_nvidia_smi(exe, run, read_table=read_table, timeout=timeout) if exe
             else SmiProbe(failure="not-started"))
    if probe.failure:
        kind = _FAILURE_KINDS.get(probe.failure) or detection_kind(probe.failure) or "unparseable"
        error = issue(kind, probe.detail, message=f"nvidia-smi did not answer within {timeout:g} s"
                      if kind == "timeout" else None)
        hw = Hardware(os=os_name, arch=arch, python_version=python_version, error=error,
                      source="none" if kind == "nvidia-smi-not-found" else "nvidia-smi")
        return _with_fallbacks(hw, manifest, run, list_other)
    report = nvidia_smi.parse_csv(probe.csv) if probe.csv else None
    table = nvidia_smi.parse_any(probe.table) if probe.table else None
    if report is None or not report.gpus:
        report = table or nvidia_smi.SmiReport(form="unknown", error_kind="unparseable")
    elif table is not None:
        report = merge_reports(report, table)
    hw = hardware_from_report(report, manifest, os_name=os_name, arch=arch, python_version=python_version,
                              source="nvidia-smi")
    return _with_fallbacks(hw, manifest, run, list_other)


def _with_fallbacks(hw: Hardware, manifest: Manifest, run: Runner, list_other: bool) -> Hardware:
    """Linux: the driver version from /proc; any OS: the other display adapters, for the report."""
    proc = hardware_probes.PROC_NVIDIA
    if hw.os == "linux" and hw.driver_version is None:
        driver = parse_driver_version(nvidia_smi.parse_proc_version(read_text(proc + "/version") or ""))
        if driver is not None:
            cuda = hw.cuda_version or derive_cuda_version(driver, hw.os, manifest)
            hw = replace(hw, driver_version=driver, notes=hw.notes + (f"driver {driver} read from {proc}/version",),
                         cuda_version=cuda, cuda_version_source=hw.cuda_version_source or (
                             "derived from the driver version" if cuda else None))
            if not hw.gpus and hw.error and hw.error.kind == "nvidia-smi-not-found":
                names = [name for name in map(nvidia_smi.parse_proc_model, read_proc_gpus()) if name]
                gpus = tuple(gpu_named(i, name, manifest) for i, name in enumerate(names))
                advice = SMI_MISSING_DRIVER_LOADED.format(driver=driver, where=proc)
                hw = replace(hw, gpus=gpus, source="proc", error=replace(hw.error, advice=advice))
    if list_other and not hw.nvidia_gpus:
        hw = replace(hw, other_adapters=other_adapters(hw.os, run))
    return hw


def apply_overrides(hw: Hardware, manifest: Manifest, *, os_name: Optional[str] = None,
                    arch: Optional[str] = None, python_version: Optional[str] = None,
                    driver: Optional[DriverVersion] = None, gpu_names: Sequence[str] = (),
                    capabilities: Sequence[Capability] = (), no_gpu: bool = False) -> Hardware:
    """The what-if flags of plan: each replaces what was detected."""
    changes: Dict[str, Any] = {}
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
        gpus = tuple(_what_if_gpu(i, gpu_names, capabilities, manifest)
                     for i in range(max(len(gpu_names), len(capabilities))))
        changes.update(gpus=gpus, error=None)
        said.append("GPUs " + ", ".join(g.name or "?" for g in gpus) + " (from --gpu/--compute-capability)")
    if not changes:
        return hw
    if "gpus" in changes and hw.driver_version is None and "driver_version" not in changes:
        said.append("no driver given: add --driver to plan a CUDA build")
    what_if = hw.source in ("none", "nvidia-smi") and ("gpus" in changes or "driver_version" in changes)
    return replace(hw, overrides=hw.overrides + tuple(said), source="what-if" if what_if else hw.source, **changes)


def _what_if_gpu(i: int, names: Sequence[str], capabilities: Sequence[Capability], manifest: Manifest) -> Gpu:
    """GPU i of --gpu / --compute-capability (paired in order)."""
    if i < len(capabilities):
        cc = capabilities[i]
        name = names[i] if i < len(names) else f"GPU with compute capability {cc[0]}.{cc[1]}"
        return Gpu(index=i, name=name, compute_capability=cc, cc_source="--compute-capability")
    vendor = vendor_of(names[i])
    if vendor in ("amd", "intel"):  # "--gpu 'AMD Radeon RX 7900'": not a CUDA device
        return Gpu(index=i, name=names[i], vendor=vendor)
    return gpu_named(i, names[i], manifest)

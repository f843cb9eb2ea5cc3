"""Verification: ask the target interpreter (via _probe.py) and judge the answer against the plan."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

from pybootstrap import _subprocess
from pybootstrap.diagnose import Finding, diagnose_text
from pybootstrap.hardware import Hardware
from pybootstrap.manifest import Manifest, parse_arch_list

PROBE_TIMEOUT_S = 180.0
PROBE_MARK = "PYBOOTSTRAP-PROBE "


@dataclass
class Check:
    """One verification check."""

    name: str
    status: str  # pass | fail | skip
    detail: str

    def to_dict(self) -> dict:
        """The checks[] entry."""
        return {"name": self.name, "status": self.status, "detail": self.detail}


@dataclass
class Verification:
    """The verify document."""

    status: str
    python: str
    probe: Dict[str, Any]
    checks: List[Check] = field(default_factory=list)
    diagnosis: List[Finding] = field(default_factory=list)

    def to_dict(self) -> dict:
        """The verify document without its schema key."""
        p = self.probe
        return {"status": self.status, "python": self.python, "torch_version": p.get("torch_version"),
                "cuda_build": p.get("cuda_build"), "cuda_available": bool(p.get("cuda_available")),
                "devices": p.get("devices") or [], "arch_list": p.get("arch_list") or [],
                "cudnn_version": p.get("cudnn"), "matmul": p.get("matmul") or [],
                "warnings": p.get("warnings") or [], "checks": [c.to_dict() for c in self.checks],
                "diagnosis": [d.to_dict() for d in self.diagnosis]}


def probe_path() -> Path:
    """The probe script shipped with the package."""
    return Path(__file__).resolve().parent / "_probe.py"


def run_probe(python: str, timeout: float = PROBE_TIMEOUT_S) -> Dict[str, Any]:
    """Run the probe in the target interpreter; a crash, hang or garbage is reported as data."""
    result = _subprocess.run([python, "-s", str(probe_path())], timeout=timeout,
                             env={"PYTHONIOENCODING": "utf-8", "PYTHONWARNINGS": "default"})
    if result.timed_out:
        return {"probe_error": f"the probe did not finish within {timeout:g} s (importing torch or the GPU hung)",
                "timed_out": True}
    if result.returncode is None:
        return {"probe_error": f"could not run {python}: {result.error}"}
    for line in reversed(result.stdout.splitlines()):
        if line.startswith(PROBE_MARK):
            try:
                data = json.loads(line[len(PROBE_MARK):])
            except ValueError:
                break
            data["stderr_tail"] = result.output_tail(20) if result.stderr else ""
            if result.stderr:
                data.setdefault("warnings", []).extend(
                    ln for ln in result.stderr.splitlines()[-20:] if "Warning" in ln or "warn" in ln.lower())
            return data
    return {"probe_error": f"the probe exited {result.returncode} without an answer",
            "stderr_tail": result.output_tail(30)}


def _sm(cc: str) -> str:
    major, minor = cc.split(".")
    return f"sm_{major}{minor}"


def _arch_serves(arch_list: List[str], cc: str) -> bool:
    """Does get_arch_list() (sm_XY / compute_XY names) hold code for capability cc?"""
    parts = []
    for name in arch_list:
        match = re.fullmatch(r"(sm|compute)_(\d+)a?", name)
        if not match:
            continue
        digits = match.group(2)
        parts.append(f"{digits[:-1]}.{digits[-1]}" + ("+PTX" if match.group(1) == "compute" else ""))
    if not parts:
        return False
    major, minor = (int(x) for x in cc.split("."))
    return parse_arch_list(";".join(parts), "arch_list").serves((major, minor))


def judge(probe: Dict[str, Any], hw: Hardware, expected: Optional[Dict[str, Any]],
          manifest: Optional[Manifest] = None, python: str = "") -> Verification:
    """Checks against the plan (expected = plan build, or None for 'what should be here')."""
    v = Verification(status="ok", python=probe.get("python") or python, probe=probe)
    add = v.checks.append
    if probe.get("probe_error"):
        add(Check("probe", "fail", probe["probe_error"]))
        v.status = "failed"
        text = probe.get("stderr_tail") or probe["probe_error"]
        v.diagnosis = [f for f in diagnose_text(text, manifest) if f.kind != "unknown"] or [Finding(
            "probe-failed", probe["probe_error"], "Run the target Python by hand: python -c \"import torch\".")]
        return v
    if probe.get("import_error"):
        add(Check("import", "fail", probe["import_error"]))
        v.status = "failed"
        text = probe["import_error"] + "\n" + (probe.get("import_traceback") or "")
        found = [f for f in diagnose_text(text, manifest) if f.kind != "unknown"]
        if "No module named 'torch'" in probe["import_error"] or "No module named torch" in probe["import_error"]:
            found.insert(0, Finding("torch-not-installed", "torch is not installed in this environment",
                                    "Run `pybootstrap install` with the same target flags."))
        v.diagnosis = found or [Finding("import-failed", probe["import_error"],
                                        "Reinstall with `pybootstrap install`; see the traceback in the log.")]
        return v
    add(Check("import", "pass", f"torch {probe.get('torch_version')} from {probe.get('torch_file')}"))
    gpus = hw.nvidia_gpus
    cuda_build = probe.get("cuda_build")
    want_cuda = expected.get("cuda") if expected else None
    if expected:
        base = (probe.get("torch_version") or "").split("+")[0]
        local = (probe.get("torch_version") or "+").split("+")[1] if "+" in (probe.get("torch_version") or "") else None
        ok = base == expected.get("torch") and (local is None or local == expected.get("variant"))
        add(Check("version", "pass" if ok else "fail",
                  f"torch {probe.get('torch_version')}, planned {expected.get('torch')}+{expected.get('variant')}"))
        if want_cuda:
            ok = bool(cuda_build) and cuda_build.split(".")[:2] == want_cuda.split(".")[:2]
            add(Check("variant", "pass" if ok else "fail",
                      f"torch.version.cuda = {cuda_build}, planned CUDA {want_cuda}"))
            if not cuda_build:
                v.diagnosis.append(Finding("torch-not-cuda-build", "a CPU-only torch is installed where CUDA was "
                                           "planned", "Run `pybootstrap install` again; it replaces the torch family."))
        else:
            ok = not cuda_build or expected.get("variant") != "cpu"
            add(Check("variant", "pass" if ok else "fail",
                      f"torch.version.cuda = {cuda_build}, planned {expected.get('variant')}"))
    elif gpus and hw.driver_version is not None and not cuda_build:
        add(Check("variant", "fail", "a CPU build on a machine with a usable NVIDIA GPU"))
        v.diagnosis.append(Finding("torch-not-cuda-build", "this environment has a CPU-only torch, but the machine "
                                   "has an NVIDIA GPU", "Run `pybootstrap install` to get the CUDA build for it."))
    if cuda_build and gpus and (want_cuda or not expected):
        if probe.get("cuda_available"):
            add(Check("cuda_available", "pass", f"{probe.get('device_count')} device(s)"))
        else:
            add(Check("cuda_available", "fail", "torch.cuda.is_available() is False"))
            text = "\n".join(probe.get("warnings") or []) + "\n".join(probe.get("errors") or [])
            v.diagnosis.extend(f for f in diagnose_text(text, manifest) if f.kind != "unknown")
            if not v.diagnosis:
                v.diagnosis.append(Finding("cuda-unavailable", "this CUDA build cannot use the GPU",
                                           "Check the driver with nvidia-smi; `pybootstrap diagnose` explains its "
                                           "output."))
        for device in probe.get("devices") or []:
            cc = device.get("compute_capability")
            if not cc:
                continue
            ok = _arch_serves(probe.get("arch_list") or [], cc)
            add(Check(f"arch[{device.get('index')}]", "pass" if ok else "fail",
                      f"{device.get('name')} is {_sm(cc)}; build has {' '.join(probe.get('arch_list') or [])}"))
            if not ok:
                v.diagnosis.extend(diagnose_text(
                    f"with CUDA capability {_sm(cc)} is not compatible with the current PyTorch installation",
                    manifest))
        for mm in probe.get("matmul") or []:
            ok = bool(mm.get("ok"))
            detail = mm.get("error") or f"max abs error {mm.get('max_abs_err')}"
            add(Check(f"matmul[{mm.get('device')}]", "pass" if ok else "fail", detail))
            if not ok and mm.get("error"):
                v.diagnosis.extend(f for f in diagnose_text(mm["error"], manifest) if f.kind != "unknown")
    elif not cuda_build:
        add(Check("cuda_available", "skip", "CPU build"))
    elif not gpus:
        add(Check("cuda_available", "skip", "no NVIDIA GPU on this machine"))
    warnings_text = "\n".join(probe.get("warnings") or [])
    for finding in diagnose_text(warnings_text, manifest) if warnings_text.strip() else []:
        if finding.kind != "unknown" and finding.kind not in {d.kind for d in v.diagnosis}:
            v.diagnosis.append(finding)
    for error in probe.get("errors") or []:
        add(Check("probe-step", "fail", error))
    if any(c.status == "fail" for c in v.checks):
        v.status = "degraded"
    return v

"""Verification: ask the target interpreter (via _probe.py) and judge the answer against the plan."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from packaging.version import InvalidVersion, Version

from pybootstrap import _subprocess
from pybootstrap.diagnose import Finding, diagnose_text
from pybootstrap.machine import Hardware
from pybootstrap.manifest import ArchList, Manifest

#: Seconds the probe may take. The first CUDA initialisation can JIT-compile PTX for minutes, so this is
#: generous; PYBOOTSTRAP_PROBE_TIMEOUT overrides it (read at each call, so tests can shorten it).
PROBE_TIMEOUT_S = 180.0
PROBE_TIMEOUT_ENV = "PYBOOTSTRAP_PROBE_TIMEOUT"
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
                "diagnosis": [d.to_dict() for d in self.diagnosis],
                "python_version": p.get("python_version"), "errors": p.get("errors") or [],
                "cuda_init_error": p.get("cuda_init_error"), "import_error": p.get("import_error"),
                "import_traceback": p.get("import_traceback"), "probe_error": p.get("probe_error")}


def probe_path() -> Path:
    """The probe script shipped with the package."""
    return Path(__file__).resolve().parent / "_probe.py"


def probe_timeout() -> float:
    """PYBOOTSTRAP_PROBE_TIMEOUT when it is a positive number, else PROBE_TIMEOUT_S."""
    raw = os.environ.get(PROBE_TIMEOUT_ENV, "")
    try:
        value = float(raw)
    except ValueError:
        return PROBE_TIMEOUT_S
    return value if value > 0 else PROBE_TIMEOUT_S


def run_probe(python: str, timeout: Optional[float] = None) -> Dict[str, Any]:
    """Run the probe in the target interpreter; a crash, hang or garbage is reported as data."""
    timeout = probe_timeout() if timeout is None else timeout
    result = _subprocess.run([python, "-s", str(probe_path())], timeout=timeout,
                             env={"PYTHONIOENCODING": "utf-8", "PYTHONWARNINGS": "default"})
    if result.timed_out:
        return {"probe_error": f"the probe did not finish within {timeout:g} s (importing torch or initialising "
                               "the GPU hung)", "timed_out": True, "stderr_tail": result.output_tail(20)}
    if result.returncode is None:
        return {"probe_error": f"could not run {python}: {result.error}"}
    for line in reversed(result.stdout.splitlines()):
        if line.startswith(PROBE_MARK):
            try:
                data = json.loads(line[len(PROBE_MARK):])
            except ValueError:
                break
            if not isinstance(data, dict):
                break
            data["stderr_tail"] = result.output_tail(20) if result.stderr else ""
            if result.stderr:  # C++ TORCH_WARN and warnings printed before the probe could record them
                data.setdefault("warnings", []).extend(
                    ln for ln in result.stderr.splitlines()[-20:] if "Warning" in ln or "warn" in ln.lower())
            return data
    return {"probe_error": f"the probe exited {result.returncode} without an answer",
            "stderr_tail": result.output_tail(30)}


# --- architecture ---------------------------------------------------------------------------------

def _sm(cc: str) -> str:
    major, minor = cc.split(".")
    return f"sm_{major}{minor}"


def _capability(cc: Any) -> Optional[Tuple[int, int]]:
    match = re.fullmatch(r"(\d{1,2})\.(\d)", str(cc or ""))
    return (int(match.group(1)), int(match.group(2))) if match else None


def arch_serves(arch_list: List[str], cc: str) -> bool:
    """Does get_arch_list() (sm_XY / sm_XYa / compute_XY names) hold code for capability 'X.Y'?"""
    sass, ptx = set(), set()
    for name in arch_list:
        match = re.fullmatch(r"(sm|compute)_(\d{2,3})[af]?", str(name).strip())
        if match:
            digits = match.group(2)
            (sass if match.group(1) == "sm" else ptx).add((int(digits[:-1]), int(digits[-1])))
    wanted = _capability(cc)
    return wanted is not None and ArchList(frozenset(sass), frozenset(ptx), " ".join(arch_list)).serves(wanted)


# --- judging --------------------------------------------------------------------------------------

def judge(probe: Dict[str, Any], hw: Hardware, expected: Optional[Dict[str, Any]],
          manifest: Optional[Manifest] = None, python: str = "") -> Verification:
    """Checks against the plan (expected = the plan's build, or None for 'what this machine should have')."""
    v = Verification(status="ok", python=probe.get("python") or python, probe=probe)
    if probe.get("probe_error"):
        _probe_failed(v, probe, manifest)
    elif probe.get("import_error"):
        _import_failed(v, probe, manifest)
    else:
        v.checks.append(Check("import", "pass", f"torch {probe.get('torch_version')} from {probe.get('torch_file')}"))
        _check_plan(v, probe, hw, expected)
        _check_gpus(v, probe, hw, expected, manifest)
        for error in probe.get("errors") or []:  # a query of the probe crashed
            v.checks.append(Check("probe-step", "fail", error))
            v.diagnosis.extend(_known(error, manifest) or [Finding(
                "check-crashed", f"a torch query crashed: {error}",
                "Run the same call by hand in the environment; see the log for the full text.")])
        warnings_text = "\n".join(probe.get("warnings") or [])
        v.diagnosis.extend(_known(warnings_text, manifest))
        if probe.get("errors"):
            v.status = "failed"
        elif any(c.status == "fail" for c in v.checks):
            v.status = "degraded"
    v.diagnosis = _unique(v.diagnosis)
    return v


def _known(text: str, manifest: Optional[Manifest]) -> List[Finding]:
    return [f for f in diagnose_text(text, manifest) if f.kind != "unknown"] if text.strip() else []


def _unique(findings: List[Finding]) -> List[Finding]:
    seen, out = set(), []
    for finding in findings:
        if finding.kind not in seen:
            seen.add(finding.kind)
            out.append(finding)
    return out


def _probe_failed(v: Verification, probe: Dict[str, Any], manifest: Optional[Manifest]) -> None:
    v.status = "failed"
    v.checks.append(Check("probe", "fail", probe["probe_error"]))
    found = _known(probe.get("stderr_tail") or "", manifest)
    if probe.get("timed_out"):
        found.append(Finding("timeout", probe["probe_error"],
                             "Run `python -c \"import torch; print(torch.cuda.is_available())\"` in the environment "
                             f"to see where it stops; a hung GPU needs a reboot. Set {PROBE_TIMEOUT_ENV}=SECONDS "
                             "if the first CUDA start-up is just slow."))
    v.diagnosis = found or [Finding("probe-failed", probe["probe_error"],
                                    "Run the target Python by hand: python -c \"import torch\".")]


def _import_failed(v: Verification, probe: Dict[str, Any], manifest: Optional[Manifest]) -> None:
    v.status = "failed"
    error = probe["import_error"]
    v.checks.append(Check("import", "fail", error))
    found = _known(error + "\n" + (probe.get("import_traceback") or ""), manifest)
    if re.search(r"No module named '?torch'?(?:$|\s)", error):
        found.insert(0, Finding("torch-not-installed", "torch is not installed in this environment",
                                "Run `pybootstrap install` with the same target flags (--venv / --python / "
                                "--conda-env)."))
    v.diagnosis = found or [Finding("import-failed", f"import torch failed: {error}",
                                    "Reinstall with `pybootstrap install`; the log holds the traceback.")]


def _version_matches(installed: str, wanted: str) -> bool:
    """'2.5.1' matches 2.5.1; a release '2.5' matches any 2.5.x."""
    try:
        have, want = Version(installed).release, Version(wanted).release
    except InvalidVersion:
        return False
    return have[:len(want)] == want if len(want) < 3 else have == want


def _check_plan(v: Verification, probe: Dict[str, Any], hw: Hardware, expected: Optional[Dict[str, Any]]) -> None:
    """The version and the variant (CPU vs CUDA) against the plan, or a CPU build on a GPU machine."""
    version = probe.get("torch_version") or ""
    base, _, local = version.partition("+")
    cuda_build = probe.get("cuda_build")
    want_torch = (expected or {}).get("torch")
    want_variant = (expected or {}).get("variant")
    want_cuda = (expected or {}).get("cuda")
    if want_torch or want_variant:
        ok = (not want_torch or _version_matches(base, str(want_torch))) and (
            not want_variant or not local or local == want_variant)
        planned = f"{want_torch or 'any version'}" + (f"+{want_variant}" if want_variant else "")
        v.checks.append(Check("version", "pass" if ok else "fail", f"torch {version}, planned {planned}"))
        if not ok:
            v.diagnosis.append(Finding("version-mismatch", f"torch {version} is installed, but {planned} was planned",
                                       "Run `pybootstrap install` with the same --torch / --variant; it replaces "
                                       "only the torch family."))
    if want_cuda:
        ok = bool(cuda_build) and str(cuda_build).split(".")[:2] == str(want_cuda).split(".")[:2]
        v.checks.append(Check("variant", "pass" if ok else "fail",
                              f"torch.version.cuda = {cuda_build}, planned CUDA {want_cuda}"))
        if not cuda_build:
            v.diagnosis.append(Finding("torch-not-cuda-build", "a CPU-only torch is installed where CUDA was planned",
                                       "Run `pybootstrap install` again; it replaces the torch family with the "
                                       f"CUDA {want_cuda} build."))
        elif not ok:
            v.diagnosis.append(Finding("version-mismatch", f"torch is built for CUDA {cuda_build}, but CUDA "
                                       f"{want_cuda} was planned", "Run `pybootstrap install` with the same "
                                       "--variant; it replaces only the torch family."))
    elif want_variant == "cpu":
        ok = not cuda_build
        v.checks.append(Check("variant", "pass" if ok else "fail", f"torch.version.cuda = {cuda_build}, planned cpu"))
        if not ok:
            v.diagnosis.append(Finding("version-mismatch", f"a CUDA {cuda_build} build is installed, but the CPU "
                                       "build was planned", "Run `pybootstrap install --variant cpu`."))
    elif not want_variant and hw.nvidia_gpus and hw.driver_version is not None and not cuda_build:
        v.checks.append(Check("variant", "fail", "a CPU build on a machine with an NVIDIA GPU "
                              f"({hw.nvidia_gpus[0].name}, driver {hw.driver_version})"))
        v.diagnosis.append(Finding("torch-not-cuda-build", "this environment has a CPU-only torch, but the machine "
                                   "has an NVIDIA GPU", "Run `pybootstrap install` to get the CUDA build for it."))


def _check_gpus(v: Verification, probe: Dict[str, Any], hw: Hardware, expected: Optional[Dict[str, Any]],
                manifest: Optional[Manifest]) -> None:
    """CUDA usable (when a CUDA build is planned or present), each GPU's arch in the build, a matmul per GPU."""
    add = v.checks.append
    cuda_build = probe.get("cuda_build")
    want_variant = (expected or {}).get("variant")
    if not cuda_build:
        add(Check("cuda_available", "skip", "CPU build"))
        return
    if want_variant and not (expected or {}).get("cuda"):
        add(Check("cuda_available", "skip", f"the plan is {want_variant}"))
        return
    arch_list = probe.get("arch_list") or []
    if probe.get("cuda_available"):
        add(Check("cuda_available", "pass", f"{probe.get('device_count')} device(s)"))
        devices = [(d.get("index"), d.get("name"), d.get("compute_capability")) for d in probe.get("devices") or []]
    else:
        if hw.nvidia_gpus:
            add(Check("cuda_available", "fail", "torch.cuda.is_available() is False on a machine with "
                      f"{len(hw.nvidia_gpus)} NVIDIA GPU(s)"))
            text = "\n".join((probe.get("warnings") or []) + (probe.get("errors") or [])
                             + [probe.get("cuda_init_error") or ""])
            v.diagnosis.extend(_known(text, manifest) or [Finding(
                "cuda-unavailable", "this CUDA build cannot use the GPU",
                "Check the driver with nvidia-smi (`pybootstrap diagnose` explains its output), then run "
                "`pybootstrap install`, which chooses a build this driver can run.")])
        elif hw.error is not None and (expected or {}).get("cuda"):
            add(Check("cuda_available", "fail", f"torch.cuda.is_available() is False; {hw.error.message}"))
            v.diagnosis.append(Finding(hw.error.kind, hw.error.message, hw.error.advice))
        else:
            add(Check("cuda_available", "skip", "no NVIDIA GPU on this machine"))
        # get_arch_list() of a real torch is empty here; when it is not, still say whether the GPUs have code
        devices = [(g.index, g.name, g.cc_text()) for g in hw.nvidia_gpus] if arch_list else []
    for index, name, cc in devices:
        if not _capability(cc):
            continue
        ok = arch_serves(arch_list, cc)
        add(Check(f"arch[{index}]", "pass" if ok else "fail",
                  f"{name} is {_sm(cc)}; the build has {' '.join(arch_list) or 'no GPU code'}"))
        if not ok:
            v.diagnosis.extend(diagnose_text(f"{name} with CUDA capability {_sm(cc)} is not compatible with the "
                                             "current PyTorch installation", manifest))
    for mm in probe.get("matmul") or []:
        ok = bool(mm.get("ok"))
        detail = mm.get("error") or f"max abs error {mm.get('max_abs_err')} against the CPU result"
        add(Check(f"matmul[{mm.get('device')}]", "pass" if ok else "fail", detail))
        if ok:
            continue
        if mm.get("error"):
            v.diagnosis.extend(_known(mm["error"], manifest) or [Finding(
                "matmul-failed", f"a matrix product on GPU {mm.get('device')} failed: {mm['error']}",
                "Run `pybootstrap diagnose` on the full error; update the NVIDIA driver if it is old.")])
        else:
            v.diagnosis.append(Finding(
                "matmul-mismatch", f"GPU {mm.get('device')} computed a wrong matrix product (max abs error "
                f"{mm.get('max_abs_err')})", "Update the NVIDIA driver, remove any overclock, check temperatures "
                "(nvidia-smi -q -d TEMPERATURE) and run again; if it persists the GPU may be faulty."))

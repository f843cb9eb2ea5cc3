"""Verification's judgement, pure: the probe's answer (from _probe.py in the target) against the plan and the
hardware, as checks, a status and a diagnosis.

`failed`: torch or a package of the plan does not import, or a computation with a known result fails or comes
out wrong on the CPU. `degraded`: it works, but not as planned (another build than the plan's, a GPU it cannot
use or computes wrongly on). CONTRACT.md, "verify".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Set, Tuple

from pybootstrap.diagnose import Finding, diagnose_text, known_finding
from pybootstrap.machine import Hardware
from pybootstrap.manifest_model import ArchList, Capability, Manifest
from pybootstrap.versions import matches

COMPANIONS = ("torchvision", "torchaudio")


@dataclass(frozen=True)
class Expected:
    """What the environment should hold: the planned build. None: not planned (or any)."""

    torch: Optional[str] = None  # "2.5.1", or a release "2.5" meaning any 2.5.x
    label: Optional[str] = None  # the local version label the plan pinned ("cpu", "cu126"); None: none pinned
    variant: Optional[str] = None  # "cu124", "cpu", ...
    cuda: Optional[str] = None  # "12.4" for a CUDA build
    torchvision: Optional[str] = None
    torchaudio: Optional[str] = None

    @classmethod
    def from_build(cls, build: Mapping[str, Any]) -> "Expected":
        """From a plan's build object (or the state file's copy of it): torch may carry its label ("2.5.1+cpu");
        a "local_label" key names the label the install pinned."""
        torch, _, label = str(build.get("torch") or "").partition("+")
        return cls(torch=torch or None, label=build.get("local_label") or label or None,
                   variant=build.get("variant") or None, cuda=build.get("cuda") or None,
                   torchvision=_public(build.get("torchvision")), torchaudio=_public(build.get("torchaudio")))

    def package(self, name: str) -> Optional[str]:
        """The planned version of torchvision / torchaudio, or None when the plan does not install it."""
        return self.torchvision if name == "torchvision" else self.torchaudio if name == "torchaudio" else None

    def describe(self, version: Optional[str]) -> str:
        """A planned version as the detail shows it: '2.14.1+cpu' (label pinned) or '2.5.1 (cu124)'."""
        text = version or "any version"
        if self.label:
            return f"{text}+{self.label}"
        return f"{text} ({self.variant})" if self.variant else text

    def accepts(self, installed: str, version: Optional[str]) -> bool:
        """The installed version is the planned one: same version, and the same build where it says which.

        The PyTorch index labels each build with its variant (2.5.1+cu124); PyPI and conda label none. A
        label the plan pinned must be there; without a pin a label present must still be the planned variant.
        """
        base, _, local = installed.partition("+")
        if version and not matches(base, version):
            return False
        if self.label:
            return local == self.label
        return not local or not self.variant or local == self.variant


def _public(version: Any) -> Optional[str]:
    return str(version).partition("+")[0] if version else None


@dataclass(frozen=True)
class Check:
    """One verification check; a fatal failure makes the environment `failed`, any other `degraded`."""

    name: str
    status: str  # pass | fail | skip
    detail: str
    fatal: bool = field(default=False, compare=False)

    def to_dict(self) -> Dict[str, Any]:
        """The checks[] entry."""
        return {"name": self.name, "status": self.status, "detail": self.detail}


@dataclass(frozen=True)
class Verification:
    """The verify document: the checks, their status, the diagnosis, and the probe's raw answer."""

    status: str  # ok | degraded | failed
    python: str
    probe: Mapping[str, Any]
    checks: Tuple[Check, ...] = ()
    diagnosis: Tuple[Finding, ...] = ()

    def to_dict(self) -> Dict[str, Any]:
        """The verify document without its schema key."""
        p = self.probe
        return {"status": self.status, "python": self.python, "torch_version": p.get("torch_version"),
                "cuda_build": p.get("cuda_build"), "cuda_available": bool(p.get("cuda_available")),
                "devices": p.get("devices") or [], "arch_list": p.get("arch_list") or [],
                "cudnn_version": p.get("cudnn"), "cpu_matmul": p.get("cpu_matmul"), "matmul": p.get("matmul") or [],
                "packages": p.get("packages") or {}, "warnings": p.get("warnings") or [],
                "checks": [c.to_dict() for c in self.checks], "diagnosis": [d.to_dict() for d in self.diagnosis],
                "python_version": p.get("python_version"), "errors": p.get("errors") or [],
                "cuda_init_error": p.get("cuda_init_error"), "import_error": p.get("import_error"),
                "import_traceback": p.get("import_traceback"), "probe_error": p.get("probe_error")}


class _Judgement:
    """Checks and findings while judging (scratch state, never returned)."""

    def __init__(self, manifest: Optional[Manifest]) -> None:
        self.manifest = manifest
        self.checks: List[Check] = []
        self.diagnosis: List[Finding] = []

    def add(self, check: Check, *findings: Finding) -> None:
        self.checks.append(check)
        self.diagnosis.extend(findings)

    def known(self, text: str) -> List[Finding]:
        """The failures a text shows (diagnose), without 'unknown'."""
        return [f for f in diagnose_text(text, self.manifest) if f.kind != "unknown"] if text.strip() else []

    def explained(self, text: str, fallback: Finding) -> List[Finding]:
        return self.known(text) or [fallback]


def judge(probe: Mapping[str, Any], hw: Hardware, expected: Optional[Expected],
          manifest: Optional[Manifest] = None, python: str = "") -> Verification:
    """Checks against the plan (expected), or against what this machine should have when there is no plan."""
    j = _Judgement(manifest)
    if probe.get("probe_error"):
        _probe_failed(j, probe)
    elif probe.get("import_error"):
        _import_failed(j, probe)
    else:
        plan = expected or Expected()
        j.add(Check("import", "pass", f"torch {probe.get('torch_version')} from {probe.get('torch_file')}"))
        _check_plan(j, probe, hw, plan)
        cpu_ok = _check_cpu(j, probe)
        _check_gpus(j, probe, hw, plan, cpu_ok)
        _check_packages(j, probe, plan)
        for error in probe.get("errors") or []:  # a query of the probe crashed
            j.add(Check("probe-step", "fail", error, fatal=True),
                  *j.explained(error, known_finding("check-crashed", f"a torch query crashed: {error}")))
        j.diagnosis.extend(j.known("\n".join(probe.get("warnings") or [])))
    failing = [c for c in j.checks if c.status == "fail"]
    status = "failed" if any(c.fatal for c in failing) else "degraded" if failing else "ok"
    return Verification(status=status, python=probe.get("python") or python, probe=probe, checks=tuple(j.checks),
                        diagnosis=tuple(_unique(j.diagnosis)))


def _unique(findings: Sequence[Finding]) -> List[Finding]:
    seen, out = set(), []
    for finding in findings:
        if finding.kind not in seen:
            seen.add(finding.kind)
            out.append(finding)
    return out


def _probe_failed(j: _Judgement, probe: Mapping[str, Any]) -> None:
    error = probe["probe_error"]
    found = j.known(probe.get("stderr_tail") or "")
    if probe.get("timed_out"):
        found.append(known_finding("timeout", error))
    j.add(Check("probe", "fail", error, fatal=True), *(found or [known_finding("probe-failed", error)]))


def _import_failed(j: _Judgement, probe: Mapping[str, Any]) -> None:
    error = probe["import_error"]
    found = j.known(error + "\n" + (probe.get("import_traceback") or ""))
    if re.search(r"No module named '?torch'?(?:$|\s)", error):
        found.insert(0, known_finding("torch-not-installed"))
    j.add(Check("import", "fail", error, fatal=True),
          *(found or [known_finding("import-failed", f"import torch failed: {error}")]))


def _check_plan(j: _Judgement, probe: Mapping[str, Any], hw: Hardware, expected: Expected) -> None:
    """The build (version, label, CUDA) against the plan, or a CPU build on a GPU machine without a plan."""
    version = str(probe.get("torch_version") or "")
    cuda_build = probe.get("cuda_build")
    if expected.torch or expected.variant:
        planned = expected.describe(expected.torch)
        ok = expected.accepts(version, expected.torch)
        j.add(Check("version", "pass" if ok else "fail", f"planned {planned}, installed {version}"),
              *([] if ok else [known_finding("version-mismatch", f"torch {version} is installed, but {planned} "
                                                                 "was planned")]))
    if expected.cuda:
        ok = bool(cuda_build) and str(cuda_build).split(".")[:2] == expected.cuda.split(".")[:2]
        check = Check("variant", "pass" if ok else "fail",
                      f"torch.version.cuda = {cuda_build}, planned CUDA {expected.cuda}")
        if not cuda_build:
            j.add(check, Finding("torch-not-cuda-build", "a CPU-only torch is installed where CUDA was planned",
                                 "Run `pybootstrap install` again; it replaces the torch family with the "
                                 f"CUDA {expected.cuda} build."))
        else:
            j.add(check, *([] if ok else [known_finding(
                "version-mismatch", f"torch is built for CUDA {cuda_build}, but CUDA {expected.cuda} was planned")]))
    elif expected.variant == "cpu":
        ok = not cuda_build
        j.add(Check("variant", "pass" if ok else "fail", f"torch.version.cuda = {cuda_build}, planned cpu"),
              *([] if ok else [known_finding("version-mismatch", f"a CUDA {cuda_build} build is installed, but "
                                                                 "the CPU build was planned")]))
    elif not expected.variant and hw.nvidia_gpus and hw.driver_version is not None and not cuda_build:
        j.add(Check("variant", "fail", "a CPU build on a machine with an NVIDIA GPU "
                                       f"({hw.nvidia_gpus[0].name}, driver {hw.driver_version})"),
              Finding("torch-not-cuda-build", "this environment has a CPU-only torch, but the machine has an NVIDIA "
                      "GPU", "Run `pybootstrap install` to get the CUDA build for it."))


def _check_cpu(j: _Judgement, probe: Mapping[str, Any]) -> bool:
    """The exact 8x8 product on the CPU; every build must compute it. True when it did."""
    mm = probe.get("cpu_matmul")
    if not mm:
        j.add(Check("cpu matmul", "skip", "the probe did not run it"))
        return False
    if mm.get("error"):
        j.add(Check("cpu matmul", "fail", mm["error"], fatal=True), *j.explained(mm["error"], known_finding(
            "cpu-op-failed", f"a matrix product on the CPU failed: {mm['error']}")))
        return False
    if not mm.get("ok"):
        detail = f"max abs error {mm.get('max_abs_err')} against the known product"
        j.add(Check("cpu matmul", "fail", detail, fatal=True),
              known_finding("cpu-op-failed", f"torch computed a wrong matrix product on the CPU ({detail})"))
        return False
    j.add(Check("cpu matmul", "pass", f"max abs error {mm.get('max_abs_err')} against the known product"))
    return True


def arch_list_of(names: Sequence[str]) -> ArchList:
    """torch.cuda.get_arch_list() names (sm_XY, sm_XYa, sm_XYf: GPU code; compute_XY: PTX) as an ArchList."""
    sass: Set[Capability] = set()
    ptx: Set[Capability] = set()
    for name in names:
        match = re.fullmatch(r"(sm|compute)_(\d{2,3})[af]?", str(name).strip())
        if match:
            digits = match.group(2)
            (sass if match.group(1) == "sm" else ptx).add((int(digits[:-1]), int(digits[-1])))
    return ArchList(sass=frozenset(sass), ptx=frozenset(ptx), text=" ".join(str(n) for n in names))


def _capability(cc: Any) -> Optional[Capability]:
    match = re.fullmatch(r"(\d{1,2})\.(\d)", str(cc or ""))
    return (int(match.group(1)), int(match.group(2))) if match else None


def _check_gpus(j: _Judgement, probe: Mapping[str, Any], hw: Hardware, expected: Expected, cpu_ok: bool) -> None:
    """CUDA usable (when a CUDA build is planned or present), each GPU's arch in the build, a matmul per GPU."""
    cuda_build = probe.get("cuda_build")
    if not cuda_build:
        j.add(Check("cuda_available", "skip", "CPU build"))
        return
    if expected.variant and not expected.cuda:
        j.add(Check("cuda_available", "skip", f"the plan is {expected.variant}"))
        return
    arch_names = probe.get("arch_list") or []
    if probe.get("cuda_available"):
        j.add(Check("cuda_available", "pass", f"{probe.get('device_count')} device(s)"))
        devices = [(d.get("index"), d.get("name"), d.get("compute_capability")) for d in probe.get("devices") or []]
    else:
        if hw.nvidia_gpus:
            text = "\n".join(list(probe.get("warnings") or []) + list(probe.get("errors") or [])
                             + [probe.get("cuda_init_error") or ""])
            j.add(Check("cuda_available", "fail", "torch.cuda.is_available() is False on a machine with "
                                                  f"{len(hw.nvidia_gpus)} NVIDIA GPU(s)"),
                  *j.explained(text, known_finding("cuda-unavailable")))
        elif hw.error is not None and expected.cuda:
            j.add(Check("cuda_available", "fail", f"torch.cuda.is_available() is False; {hw.error.message}"),
                  Finding(hw.error.kind, hw.error.message, hw.error.advice))
        else:
            j.add(Check("cuda_available", "skip", "no NVIDIA GPU on this machine"))
        # get_arch_list() of a real torch is empty here; when it is not, still say whether the GPUs have code
        devices = [(g.index, g.name, g.cc_text()) for g in hw.nvidia_gpus] if arch_names else []
    archs = arch_list_of(arch_names)
    for index, name, cc_text in devices:
        cc = _capability(cc_text)
        if cc is None:
            continue
        ok = archs.serves(cc)
        sm = f"sm_{cc[0]}{cc[1]}"
        j.add(Check(f"arch[{index}]", "pass" if ok else "fail",
                    f"{name} is {sm}; the build has {' '.join(arch_names) or 'no GPU code'}"),
              *([] if ok else diagnose_text(f"{name} with CUDA capability {sm} is not compatible with the current "
                                            "PyTorch installation", j.manifest)))
    # with a sound CPU the known product is also the CPU's result
    reference = "the CPU result" if cpu_ok else "the known product"
    for mm in probe.get("matmul") or []:
        device, error = mm.get("device"), mm.get("error")
        if error:
            j.add(Check(f"matmul[{device}]", "fail", error), *j.explained(error, known_finding(
                "matmul-failed", f"a matrix product on GPU {device} failed: {error}")))
        elif not mm.get("ok"):
            j.add(Check(f"matmul[{device}]", "fail", f"max abs error {mm.get('max_abs_err')} against {reference}"),
                  known_finding("matmul-mismatch", f"GPU {device} computed a wrong matrix product (max abs error "
                                                   f"{mm.get('max_abs_err')})"))
        else:
            j.add(Check(f"matmul[{device}]", "pass", f"max abs error {mm.get('max_abs_err')} against {reference}"))


def _check_packages(j: _Judgement, probe: Mapping[str, Any], expected: Expected) -> None:
    """torchvision and torchaudio: planned ones must be there; every one there must import and compute right."""
    packages = probe.get("packages") or {}
    for name in COMPANIONS:
        info = packages.get(name) or {}
        planned = expected.package(name)
        if not info.get("installed"):
            if planned:
                message = f"{name} is not installed, but the plan installs {name} {planned}"
                j.add(Check(f"import {name}", "fail", message, fatal=True), known_finding("package-missing", message))
            else:
                j.add(Check(f"import {name}", "skip", "not installed"))
            continue
        error = info.get("import_error")
        if error:
            j.add(Check(f"import {name}", "fail", error, fatal=True),
                  *j.explained(error + "\n" + (info.get("import_traceback") or ""),
                               known_finding("package-import-failed", f"import {name} failed: {error}")))
            continue
        version = str(info.get("version"))
        j.add(Check(f"import {name}", "pass", f"{name} {version} from {info.get('file')}"))
        if planned:
            wanted = expected.describe(planned)
            ok = expected.accepts(version, planned)
            j.add(Check(f"{name} version", "pass" if ok else "fail", f"planned {wanted}, installed {version}"),
                  *([] if ok else [known_finding("version-mismatch", f"{name} {version} is installed, but {wanted} "
                                                                     "was planned")]))
        _check_operation(j, name, info.get("check") or {})


def _check_operation(j: _Judgement, package: str, result: Mapping[str, Any]) -> None:
    """The package's own operation on fixed input, compared with its known result."""
    name = f"{package} {result.get('name') or 'operation'}"
    if result.get("ok"):
        j.add(Check(name, "pass", f"{result.get('got')} as expected"))
        return
    detail = result.get("error") or f"expected {result.get('expected')}, got {result.get('got')}"
    fallback = known_finding("package-check-failed", f"{name} failed: {detail}")
    j.add(Check(name, "fail", detail, fatal=True), *(j.explained(detail, fallback) if result.get("error")
                                                     else [fallback]))

"""hardware: names to compute capabilities, driver to CUDA, the report to Hardware, what-if flags, and detect()
against a fake nvidia-smi on PATH (query, fallback without compute_cap, table, failures, a hang)."""

from __future__ import annotations

import shutil
import stat
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import pytest

from pybootstrap import _subprocess, hardware, hardware_probes, nvidia_smi
from pybootstrap.errors import UsageError
from pybootstrap.failures import explain
from pybootstrap.hardware import apply_overrides, detect
from pybootstrap.hardware_probes import find_nvidia_smi
from pybootstrap.hardware_rules import (
    adapters_from_cim,
    adapters_from_pci,
    capability_from_name,
    derive_cuda_version,
    hardware_from_report,
    issue,
    parse_driver_version,
)
from pybootstrap.machine import Gpu, Hardware
from pybootstrap.manifest import load_manifest
from pybootstrap.manifest_model import DriverVersion, Manifest

CORPUS = Path(__file__).parent / "data" / "nvidia-smi"
posix_only = pytest.mark.skipif(sys.platform == "win32", reason="the fake nvidia-smi is a POSIX shell script")


@pytest.fixture(scope="module")
def manifest() -> Manifest:
    return load_manifest()


@pytest.fixture(autouse=True)
def no_real_driver(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Never let the real machine's /proc or nvidia-smi leak into a test."""
    proc = tmp_path / "proc-nvidia"
    monkeypatch.setattr(hardware_probes, "PROC_NVIDIA", str(proc))
    monkeypatch.setattr(hardware_probes, "LINUX_SMI_PATHS", (str(tmp_path / "nowhere" / "nvidia-smi"),))
    return proc


def _report(name: str) -> nvidia_smi.SmiReport:
    return nvidia_smi.parse_any(_subprocess.decode_output((CORPUS / name).read_bytes()))


def _hw(report: nvidia_smi.SmiReport, manifest: Manifest, os_name: str = "linux") -> Hardware:
    return hardware_from_report(report, manifest, os_name=os_name, arch="x86_64", python_version="3.11.7",
                                source="file")


@pytest.fixture
def on_linux(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hardware, "current_platform", lambda: ("linux", "x86_64", "3.11.7"))


# --- names -> compute capability ---------------------------------------------------------------

NAMES = [
    ("NVIDIA GeForce RTX 3060", (8, 6)), ("NVIDIA GeForce RTX 3060 Laptop GPU", (8, 6)),
    ("NVIDIA GeForce RTX 2080 with Max-Q Design", (7, 5)), ("NVIDIA GeForce GTX 1650 with Max-Q Design", (7, 5)),
    ("NVIDIA GeForce RTX 4090 Laptop GPU", (8, 9)), ("NVIDIA GeForce RTX 5090", (12, 0)),
    ("NVIDIA GeForce RTX 4080 SUPER", (8, 9)), ("NVIDIA GeForce GTX 1660 SUPER", (7, 5)),
    ("NVIDIA A100-SXM4-80GB", (8, 0)), ("NVIDIA A100-PCIE-40GB", (8, 0)), ("NVIDIA A10", (8, 6)),
    ("NVIDIA A10G", (8, 6)), ("Tesla V100-SXM2-16GB", (7, 0)), ("Tesla V100-SXM3-32GB", (7, 0)),
    ("NVIDIA H100 80GB HBM3", (9, 0)), ("NVIDIA H200", (9, 0)), ("NVIDIA H20", (9, 0)), ("NVIDIA L4", (8, 9)),
    ("NVIDIA L40S", (8, 9)), ("Tesla T4", (7, 5)), ("Tesla P4", (6, 1)), ("Tesla P40", (6, 1)),
    ("NVIDIA RTX PRO 6000 Blackwell Workstation Edition", (12, 0)),
    ("Quadro RTX 6000", (7, 5)), ("NVIDIA RTX 6000 Ada Generation", (8, 9)), ("NVIDIA RTX A6000", (8, 6)),
    ("NVIDIA RTX 5880 Ada Generation", (8, 9)), ("Quadro RTX 4000", (7, 5)), ("Quadro P4000", (6, 1)),
    ("TITAN X (Pascal)", (6, 1)), ("NVIDIA TITAN Xp", (6, 1)), ("GeForce GTX TITAN X", (5, 2)),
    ("GeForce GTX TITAN", (3, 5)), ("NVIDIA TITAN V", (7, 0)), ("GRID K520", (3, 0)), ("GeForce GTX 680", (3, 0)),
    ("NVIDIA RTXA6000-48A", (8, 6)),  # a vGPU profile name: no space after RTX
    # cut off by nvidia-smi; the old style cuts inside a word, the 610 style after one (" ...")
    ("GeForce RTX 207...", (7, 5)), ("NVIDIA GeForce RTX 2080 ...", (7, 5)), ("NVIDIA GeForce RTX 4070 ...", (8, 9)),
    ("Tesla P100-SXM2...", (6, 0)), ("Tesla V100-PCIE...", (7, 0)), ("NVIDIA L4...", (8, 9)),
    ("NVIDIA RTX 4000 ...", (8, 9)),  # RTX 4000 Ada or RTX 4000 SFF Ada: both 8.9
    # ambiguous cuts: None, never a guess
    ("NVIDIA GeForce RTX 3...", None),  # RTX 3090 (8.6) or RTX 3000 Ada (8.9)
    ("GeForce GTX TIT...", None),  # GTX TITAN (3.5) or GTX TITAN X (5.2)
    ("NVIDIA A10...", None),  # A10 (8.6) or A100 (8.0)
    ("NVIDIA GeForce ...", None),
    # unknown or empty
    ("Matrox G200eR2", None), ("", None), ("...", None), (None, None),
]


@pytest.mark.parametrize("name, expected", NAMES, ids=[repr(n) for n, _ in NAMES])
def test_capability_from_name(name: Optional[str], expected: Optional[Tuple[int, int]], manifest: Manifest) -> None:
    assert capability_from_name(name, manifest) == expected


@pytest.mark.parametrize("driver, os_name, expected", [
    ("535.104.05", "linux", "12.2"), ("535.54.03", "linux", "12.2"), ("535.54.02", "linux", "12.1"),
    ("531.41", "windows", "12.1"), ("531.14", "windows", "12.1"), ("531.13", "windows", "12.0"),
    ("570.26", "linux", "12.8"), ("580.88", "windows", "13.0"), ("580.87", "windows", "12.9"),
    ("596.36", "windows", "13.2"),  # no Windows floor for 13.2 in the table: the Linux branch (595) counts
    ("610.57.04", "linux", "13.3"),  # CUDA 13.3's driver is 610.43.02 (facts: pytorch-2.15-and-peers)
    ("375.26", "linux", "8.0"), ("340.108", "linux", None),
])
def test_derive_cuda_version(driver: str, os_name: str, expected: Optional[str], manifest: Manifest) -> None:
    assert derive_cuda_version(DriverVersion(driver), os_name, manifest) == expected


@pytest.mark.parametrize("text, expected", [
    ("535.104.05", "535.104.05"), (" 531.41 ", "531.41"), ("440.100", "440.100"), ("96.43.23", "96.43.23"),
    ("5.325.15", None), ("535", None), ("N/A", None), ("ERR!", None), ("", None), (None, None),
    ("535.104.05.1", None), ("\u0665\u0663\u0665.\u0661\u0660", None),
])
def test_parse_driver_version(text: Optional[str], expected: Optional[str]) -> None:
    result = parse_driver_version(text)
    assert (str(result) if result else None) == expected


# --- report -> Hardware ---------------------------------------------------------------------------

def test_hardware_from_table_fills_capability_and_cuda(manifest: Manifest) -> None:
    hw = _hw(_report("linux-2x-rtx4090-535.161.07.txt"), manifest)
    assert hw.to_dict()["gpus"] == [
        {"index": 0, "name": "NVIDIA GeForce RTX 4090", "compute_capability": "8.9", "memory_mib": 24564,
         "vendor": "nvidia", "compute_capability_source": "name table"},
        {"index": 1, "name": "NVIDIA GeForce RTX 4090", "compute_capability": "8.9", "memory_mib": None,
         "vendor": "nvidia", "compute_capability_source": "name table"}]
    assert (str(hw.driver_version), hw.cuda_version, hw.cuda_version_source) == ("535.161.07", "12.2", "nvidia-smi")
    assert hw.error is None and hw.notes == ()


def test_hardware_from_report_notes_mig_slices(manifest: Manifest) -> None:
    hw = _hw(_report("list-4x-a100-80gb-gpu0-mig.txt"), manifest)
    assert len(hw.gpus) == 4
    assert hw.notes == ("4 MIG device(s) found; they are slices of the GPUs listed, not GPUs",)


def test_hardware_from_mig_only_paste_is_no_error(manifest: Manifest) -> None:
    hw = _hw(_report("linux-a100-mig-only-devices-table.txt"), manifest)
    assert hw.gpus == () and hw.error is None
    assert hw.notes == ("2 MIG device(s) found but no GPU row: they are slices of a GPU, not GPUs; save the whole "
                        "nvidia-smi output to report the GPU itself",)


def test_hardware_from_report_notes_differing_smi_version(manifest: Manifest) -> None:
    hw = _hw(_report("linux-wsl-rtx3060-cuda-err-smi545.46-driver546.80.txt"), manifest)
    assert str(hw.driver_version) == "546.80"
    # "CUDA Version: ERR!": derived from the driver instead (546.80 >= 545.23.06 -> 12.3)
    assert (hw.cuda_version, hw.cuda_version_source) == ("12.3", "derived from the driver version")
    assert hw.notes == ("nvidia-smi 545.46 differs from driver 546.80; the driver version is what counts",)
    assert hw.gpus[0].compute_capability == (8, 6)


def test_hardware_from_report_notes_unknown_capability_and_warnings(manifest: Manifest) -> None:
    hw = _hw(_report("linux-3x-gtx-titan-x-truncated-367.57.txt"), manifest)
    assert [g.compute_capability for g in hw.gpus] == [None, None, None]
    assert hw.notes[0] == ("compute capability of GPU 0 (GeForce GTX TIT...) is unknown; "
                           "pass --compute-capability to plan for it")
    assert len(hw.notes) == 3
    assert hw.cuda_version is None  # 367 is older than every toolkit in the table
    warned = _hw(_report("linux-warnings-3x-gtx680-smi5.325.15.txt"), manifest)
    assert warned.notes[-2:] == (
        "nvidia-smi warned: Warning: untrusted X11 forwarding setup failed: xauth key data not generated",
        "nvidia-smi warned: Warning: No xauth data; using fake authentication data for X11 forwarding.")


def test_hardware_from_csv_keeps_smi_capability(manifest: Manifest) -> None:
    hw = _hw(_report("csv-noheader-compute-cap-only-4x.txt"), manifest)
    assert [(g.name, g.compute_capability, g.cc_source) for g in hw.gpus] == [(None, (8, 6), "nvidia-smi")] * 4
    assert hw.error is None


@pytest.mark.parametrize("name, kind, message", [
    ("fail-driver-not-loaded.txt", "driver-not-loaded", "nvidia-smi could not communicate with the NVIDIA driver"),
    ("fail-driver-mismatch-nvml-550.144.txt", "driver-library-mismatch", "NVML driver/library version mismatch"),
    ("fail-no-devices-rtx5090.txt", "no-devices", "the NVIDIA driver found no devices"),
    ("fail-gpu-lost-0000-02-00.0.txt", "gpu-unavailable", "the NVIDIA driver cannot use a GPU (device handle error)"),
    ("win-not-found-ptbr-mojibake.txt", "nvidia-smi-not-found", "nvidia-smi was not found"),
    ("fail-compute-cap-invalid-field.txt", "unparseable", "the nvidia-smi output could not be parsed"),
])
def test_hardware_from_error_report(name: str, kind: str, message: str, manifest: Manifest) -> None:
    hw = _hw(_report(name), manifest)
    assert hw.error is not None
    assert (hw.error.kind, hw.error.message, hw.error.advice) == (kind, message, explain(kind).advice)
    assert hw.gpus == () and hw.driver_version is None


def test_every_kind_has_advice() -> None:
    kinds = {"nvidia-smi-not-found", "driver-not-loaded", "driver-library-mismatch", "no-devices",
             "gpu-unavailable", "timeout", "unparseable"}
    for kind in kinds:
        assert issue(kind).advice == explain(kind).advice
        assert issue(kind, "it said: x").message == f"{explain(kind).message} (it said: x)"
    assert "CPU build will be chosen" in issue("nvidia-smi-not-found").advice


# --- what-if flags ------------------------------------------------------------------------------

def _detected(manifest: Manifest) -> Hardware:
    return _hw(_report("linux-rtx4070-550.40.07.txt"), manifest)


def test_apply_overrides_nothing_returns_the_same(manifest: Manifest) -> None:
    hw = _detected(manifest)
    assert apply_overrides(hw, manifest) is hw


def test_apply_overrides_platform(manifest: Manifest) -> None:
    hw = apply_overrides(_detected(manifest), manifest, os_name="windows", arch="arm64", python_version="3.9")
    assert (hw.os, hw.arch, hw.python_version) == ("windows", "arm64", "3.9")
    assert hw.overrides == ("os windows (from --os)", "arch arm64 (from --arch)", "Python 3.9 (from --python-version)")
    assert hw.gpus == _detected(manifest).gpus and hw.source == "file"


def test_apply_overrides_driver_rederives_cuda(manifest: Manifest) -> None:
    hw = apply_overrides(_detected(manifest), manifest, driver=DriverVersion("531.41"), os_name="windows")
    assert (str(hw.driver_version), hw.cuda_version, hw.cuda_version_source) == ("531.41", "12.1",
                                                                                "derived from --driver")


def test_apply_overrides_gpus_and_capabilities(manifest: Manifest) -> None:
    base = Hardware(os="linux", arch="x86_64", python_version="3.11.7", source="none",
                    error=issue("nvidia-smi-not-found"))
    hw = apply_overrides(base, manifest, gpu_names=("NVIDIA GeForce RTX 3060", "Some Future GPU"),
                         capabilities=((8, 6),))
    assert [(g.name, g.compute_capability, g.cc_source) for g in hw.gpus] == [
        ("NVIDIA GeForce RTX 3060", (8, 6), "--compute-capability"), ("Some Future GPU", None, None)]
    assert hw.error is None and hw.source == "what-if"
    assert hw.overrides == ("GPUs NVIDIA GeForce RTX 3060, Some Future GPU (from --gpu/--compute-capability)",
                            "no driver given: add --driver to plan a CUDA build")
    named = apply_overrides(base, manifest, gpu_names=("NVIDIA H100 80GB HBM3",), driver=DriverVersion("550.54.14"))
    assert [(g.compute_capability, g.cc_source) for g in named.gpus] == [((9, 0), "name table")]
    assert named.cuda_version == "12.4" and named.overrides[-1].startswith("GPUs ")
    only_cc = apply_overrides(base, manifest, capabilities=((12, 0),))
    assert [g.name for g in only_cc.gpus] == ["GPU with compute capability 12.0"]


def test_apply_overrides_no_gpu(manifest: Manifest) -> None:
    hw = apply_overrides(_detected(manifest), manifest, no_gpu=True, gpu_names=("ignored",))
    assert hw.gpus == () and hw.error is None and hw.overrides == ("no GPU (from --no-gpu)",)
    assert str(hw.driver_version) == "550.40.07"


# --- detect() with a fake nvidia-smi ---------------------------------------------------------------

Stage = Tuple[str, int]  # (output, exit code); output "SLEEP" hangs
CAT, SLEEP = shutil.which("cat") or "/bin/cat", shutil.which("sleep") or "/bin/sleep"  # PATH holds only the fake


def _stage_script(stage: Stage, out_file: Path) -> str:
    text, code = stage
    if text == "SLEEP":
        return f'exec "{SLEEP}" 30'
    out_file.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return f'"{CAT}" "{out_file}"; exit {code}'


def fake_smi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, query: Stage, query_no_cc: Stage = ("", 0),
             table: Stage = ("", 0), name: str = "nvidia-smi") -> Path:
    """Put a fake nvidia-smi first (and alone) on PATH; it logs each call's arguments to calls.log."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    log = tmp_path / "calls.log"
    script = bin_dir / name
    script.write_text("\n".join([
        "#!/bin/sh",
        f'echo "$*" >> "{log}"',
        'case "$1" in',
        f'  --query-gpu=*compute_cap*) {_stage_script(query, tmp_path / "q1.out")};;',
        f'  --query-gpu=*) {_stage_script(query_no_cc, tmp_path / "q2.out")};;',
        f'  *) {_stage_script(table, tmp_path / "t.out")};;',
        "esac", ""]))
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    monkeypatch.setenv("PATH", str(bin_dir))
    return log


def _calls(log: Path) -> List[str]:
    return log.read_text().splitlines() if log.exists() else []


def _corpus(name: str) -> str:
    return (CORPUS / name).read_text(encoding="utf-8")


Q_CC = "--query-gpu=index,name,driver_version,memory.total,compute_cap --format=csv,noheader,nounits"
Q_NO_CC = "--query-gpu=index,name,driver_version,memory.total --format=csv,noheader,nounits"


@posix_only
def test_detect_uses_the_query_then_the_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              manifest: Manifest) -> None:
    log = fake_smi(tmp_path, monkeypatch, table=(_corpus("linux-2x-rtx4090-535.161.07.txt"), 0), query=(
        "0, NVIDIA GeForce RTX 4090, 535.161.07, 24564, 8.9\n1, NVIDIA GeForce RTX 4090, 535.161.07, 24564, 8.9\n", 0))
    hw = detect(manifest, list_other=False)
    assert _calls(log) == [Q_CC, ""]
    assert [(g.index, g.name, g.compute_capability, g.cc_source, g.memory_mib) for g in hw.gpus] == [
        (0, "NVIDIA GeForce RTX 4090", (8, 9), "nvidia-smi", 24564),
        (1, "NVIDIA GeForce RTX 4090", (8, 9), "nvidia-smi", 24564)]
    assert (str(hw.driver_version), hw.cuda_version, hw.source, hw.error) == ("535.161.07", "12.2", "nvidia-smi", None)


@posix_only
def test_detect_falls_back_without_compute_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               manifest: Manifest) -> None:
    log = fake_smi(tmp_path, monkeypatch, query=(_corpus("fail-compute-cap-invalid-field.txt"), 2),
                   query_no_cc=("0, Tesla T4, 440.64.00, 15109\n", 0),
                   table=(_corpus("linux-tesla-t4-440.64.00.txt"), 0))
    hw = detect(manifest, list_other=False)
    assert _calls(log) == [Q_CC, Q_NO_CC, ""]
    assert [(g.name, g.compute_capability, g.cc_source, g.memory_mib) for g in hw.gpus] == [
        ("Tesla T4", (7, 5), "name table", 15109)]
    assert (str(hw.driver_version), hw.cuda_version, hw.error) == ("440.64.00", "10.2", None)


@posix_only
def test_detect_falls_back_to_the_table_when_the_query_says_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                    manifest: Manifest) -> None:
    fake_smi(tmp_path, monkeypatch, query=("", 0),
             table=(_corpus("linux-wsl-rtx5090-smi570.124.06-driver572.70.txt"), 0))
    hw = detect(manifest, list_other=False)
    assert [(g.name, g.compute_capability) for g in hw.gpus] == [("NVIDIA GeForce RTX 5090", (12, 0))]
    assert (str(hw.driver_version), hw.cuda_version) == ("572.70", "12.8")
    assert hw.notes == ("nvidia-smi 570.124.06 differs from driver 572.70; the driver version is what counts",)


@posix_only
@pytest.mark.parametrize("name, code, kind", [
    ("fail-driver-not-loaded.txt", 9, "driver-not-loaded"),
    ("fail-driver-mismatch-nvml-570.124.txt", 18, "driver-library-mismatch"),
    ("fail-no-devices-rtx5090.txt", 6, "no-devices"),
    ("fail-gpu-unavailable-handle-tesla-p4.txt", 15, "gpu-unavailable"),
])
def test_detect_maps_failures_to_kinds(name: str, code: int, kind: str, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch, manifest: Manifest) -> None:
    log = fake_smi(tmp_path, monkeypatch, query=(_corpus(name), code))
    hw = detect(manifest, list_other=False)
    said = " / ".join(ln.strip() for ln in _corpus(name).splitlines() if ln.strip())
    assert hw.error is not None
    assert hw.error.kind == kind
    assert hw.error.message == f"{issue(kind).message} (nvidia-smi said: {said})"
    assert hw.error.advice == explain(kind).advice
    assert (hw.gpus, hw.driver_version, hw.source) == ((), None, "nvidia-smi")
    assert _calls(log) == [Q_CC]  # a failing driver is not asked twice more


@posix_only
def test_detect_failure_without_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, manifest: Manifest) -> None:
    fake_smi(tmp_path, monkeypatch, query=("", 255))
    hw = detect(manifest, list_other=False)
    assert hw.error is not None and hw.error.kind == "unparseable"
    assert hw.error.message == ("the nvidia-smi output could not be parsed (nvidia-smi said: nvidia-smi exited "
                                "with code 255 and printed nothing)")


@posix_only
def test_detect_bounds_a_hanging_nvidia_smi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            manifest: Manifest) -> None:
    monkeypatch.setattr(hardware_probes, "SMI_TIMEOUT_S", 0.3)
    log = fake_smi(tmp_path, monkeypatch, query=("SLEEP", 0))
    start = time.monotonic()
    hw = detect(manifest, list_other=False)
    assert time.monotonic() - start < 5
    assert hw.error is not None
    assert (hw.error.kind, hw.error.message) == ("timeout", "nvidia-smi did not answer within 0.3 s")
    assert hw.error.advice == explain("timeout").advice
    assert _calls(log) == [Q_CC]


@posix_only
def test_detect_keeps_the_query_when_only_the_table_hangs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          manifest: Manifest) -> None:
    monkeypatch.setattr(hardware_probes, "SMI_TIMEOUT_S", 0.3)
    fake_smi(tmp_path, monkeypatch, query=("0, NVIDIA L4, 570.133.20, 23034, 8.9\n", 0), table=("SLEEP", 0))
    hw = detect(manifest, list_other=False)
    assert [(g.name, g.compute_capability, g.memory_mib) for g in hw.gpus] == [("NVIDIA L4", (8, 9), 23034)]
    assert (str(hw.driver_version), hw.cuda_version, hw.cuda_version_source, hw.error) == (
        "570.133.20", "12.8", "derived from the driver version", None)


def test_detect_with_an_nvidia_smi_that_cannot_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, on_linux: None,
                                                   manifest: Manifest) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    broken = _touch(tmp_path / "usr-bin" / "nvidia-smi")  # found off PATH, but not executable
    monkeypatch.setattr(hardware_probes, "LINUX_SMI_PATHS", (str(broken),))
    hw = detect(manifest, list_other=False)
    assert hw.error is not None and hw.source == "none"
    assert hw.error.kind == "nvidia-smi-not-found"
    assert hw.error.message.startswith(f"nvidia-smi was not found (it could not be run: {broken}: permission denied")


def test_detect_without_nvidia_smi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, on_linux: None,
                                   manifest: Manifest) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    hw = detect(manifest, list_other=False)
    assert hw.error is not None
    assert (hw.error.kind, hw.error.message, hw.source) == ("nvidia-smi-not-found", "nvidia-smi was not found", "none")
    assert "CPU build will be chosen" in hw.error.advice
    assert (hw.gpus, hw.driver_version, hw.cuda_version) == ((), None, None)


# --- the /proc fallback (Linux) -------------------------------------------------------------------

PROC_VERSION = ("NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  550.54.14  Release Build  "
                "(dvs-builder@U16-I3-B03-4-3)  Thu Feb 22 01:25:25 UTC 2024\nGCC version:  gcc version 12.3.0\n")


def test_proc_gives_driver_and_gpus_without_nvidia_smi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       no_real_driver: Path, on_linux: None,
                                                       manifest: Manifest) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    (no_real_driver / "gpus" / "0000:01:00.0").mkdir(parents=True)
    (no_real_driver / "version").write_text(PROC_VERSION)
    (no_real_driver / "gpus" / "0000:01:00.0" / "information").write_text(
        "Model: \t\t NVIDIA GeForce RTX 3090\nIRQ:   \t\t 130\nBus Type: \t PCIe\n")
    hw = detect(manifest, list_other=False)
    assert (str(hw.driver_version), hw.cuda_version, hw.cuda_version_source, hw.source) == (
        "550.54.14", "12.4", "derived from the driver version", "proc")
    assert [(g.name, g.compute_capability, g.cc_source) for g in hw.gpus] == [
        ("NVIDIA GeForce RTX 3090", (8, 6), "name table")]
    assert hw.error is not None and hw.error.kind == "nvidia-smi-not-found"
    assert "CPU build" not in hw.error.advice and "driver 550.54.14 is loaded" in hw.error.advice
    assert hw.notes == (f"driver 550.54.14 read from {no_real_driver}/version",)


@posix_only
def test_proc_gives_the_driver_when_nvidia_smi_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     on_linux: None, manifest: Manifest) -> None:
    files: Dict[str, str] = {f"{hardware_probes.PROC_NVIDIA}/version": PROC_VERSION}
    monkeypatch.setattr(hardware, "read_text", files.get)
    fake_smi(tmp_path, monkeypatch, query=(_corpus("fail-driver-mismatch-460.txt"), 18))
    hw = detect(manifest, list_other=False)
    assert hw.error is not None and hw.error.kind == "driver-library-mismatch"
    assert (str(hw.driver_version), hw.cuda_version, hw.gpus) == ("550.54.14", "12.4", ())


def test_proc_without_a_known_driver_adds_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, on_linux: None,
                                                  manifest: Manifest) -> None:
    monkeypatch.setattr(hardware, "read_text", {f"{hardware_probes.PROC_NVIDIA}/version": "garbage"}.get)
    monkeypatch.setenv("PATH", str(tmp_path))
    hw = detect(manifest, list_other=False)
    assert (hw.driver_version, hw.cuda_version, hw.cuda_version_source, hw.notes) == (None, None, None, ())


# --- other display adapters (reported when no NVIDIA GPU is there) ---------------------------------------

def test_adapters_from_cim_lists_the_other_vendors() -> None:
    text = ("NVIDIA GeForce RTX 3070|NVIDIA\r\nIntel(R) UHD Graphics 630|Intel Corporation\r\n\r\n"
            "Microsoft Basic Display Adapter|(Standard display types)\r\n")
    assert [(g.index, g.name, g.vendor) for g in adapters_from_cim(text)] == [
        (1, "Intel(R) UHD Graphics 630", "intel"), (2, "Microsoft Basic Display Adapter", "microsoft")]
    assert adapters_from_cim("") == ()


def test_adapters_from_pci_keeps_display_controllers_only() -> None:
    rows = [("0000:00:02.0", "0x030000\n", "0x8086\n"), ("0000:01:00.0", "0x030000\n", "0x10de\n"),
            ("0000:00:1f.3", "0x040300\n", "0x8086\n"), ("0000:03:00.0", "0x038000\n", "0x1d0f\n")]
    assert [(g.index, g.name, g.vendor) for g in adapters_from_pci(rows)] == [
        (0, "intel display adapter at 0000:00:02.0", "intel"), (1, "0x1d0f display adapter at 0000:03:00.0", "0x1d0f")]


def test_other_adapters_reads_sysfs_on_linux(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for device, pci_class, vendor in (("0000:00:02.0", "0x030000", "0x8086"), ("0000:00:14.0", "0x0c0330", "0x8086"),
                                      ("0000:01:00.0", "0x030200", "0x1002")):
        folder = tmp_path / device
        folder.mkdir()
        (folder / "class").write_text(pci_class + "\n")
        (folder / "vendor").write_text(vendor + "\n")
    monkeypatch.setattr(hardware_probes, "PCI_DEVICES", str(tmp_path))
    assert [(g.name, g.vendor) for g in hardware.other_adapters("linux")] == [
        ("intel display adapter at 0000:00:02.0", "intel"), ("amd display adapter at 0000:01:00.0", "amd")]
    monkeypatch.setattr(hardware_probes, "PCI_DEVICES", str(tmp_path / "missing"))
    assert hardware.other_adapters("linux") == ()


# --- finding nvidia-smi on Windows ------------------------------------------------------------------

@pytest.fixture
def windows_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Tuple[Path, Path]:
    root, program_files = tmp_path / "Windows", tmp_path / "Program Files"
    root.mkdir()
    program_files.mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setenv("SystemRoot", str(root))
    monkeypatch.setenv("ProgramW6432", str(program_files))
    return root, program_files


def _touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"MZ")
    return path


def test_find_nvidia_smi_windows_system32_first(windows_dirs: Tuple[Path, Path]) -> None:
    root, program_files = windows_dirs
    nvsmi = _touch(program_files / "NVIDIA Corporation" / "NVSMI" / "nvidia-smi.exe")
    assert find_nvidia_smi("windows") == str(nvsmi)
    system32 = _touch(root / "System32" / "nvidia-smi.exe")
    assert find_nvidia_smi("windows") == str(system32)


def test_find_nvidia_smi_windows_driver_store(windows_dirs: Tuple[Path, Path]) -> None:
    root, _ = windows_dirs
    store = _touch(root / "System32" / "DriverStore" / "FileRepository" / "nvdm.inf_amd64_0123abcd" / "nvidia-smi.exe")
    assert find_nvidia_smi("windows") == str(store)


def test_find_nvidia_smi_windows_none(windows_dirs: Tuple[Path, Path]) -> None:
    assert find_nvidia_smi("windows") is None


def test_find_nvidia_smi_linux_off_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    wsl = _touch(tmp_path / "wsl" / "nvidia-smi")
    monkeypatch.setattr(hardware_probes, "LINUX_SMI_PATHS", (str(tmp_path / "missing"), str(wsl)))
    assert find_nvidia_smi("linux") == str(wsl)


# --- saved files, code pages ------------------------------------------------------------------------

@pytest.mark.parametrize("data", [
    "'nvidia-smi' n\u00e3o \u00e9 reconhecido como um comando interno\r\nou externo.\r\n".encode("cp1252"),
    "'nvidia-smi' n\u00e3o \u00e9 reconhecido como um comando interno\r\nou externo.\r\n".encode("cp850"),
    "'nvidia-smi' n\u2019est pas reconnu en tant que commande interne\r\n".encode("cp1252"),
    "'nvidia-smi' wird nicht als interner oder externer Befehl, betriebsf\u00e4higes Programm\r\n".encode("cp850"),
], ids=["pt-cp1252", "pt-cp850", "fr-cp1252", "de-cp850"])
def test_detect_file_in_a_windows_code_page(data: bytes, tmp_path: Path, manifest: Manifest) -> None:
    path = tmp_path / "smi.txt"
    path.write_bytes(data)
    hw = detect(manifest, smi_file=str(path))
    assert hw.error is not None and hw.error.kind == "nvidia-smi-not-found" and hw.source == "file"


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-8-sig"])
def test_detect_file_saved_by_powershell(encoding: str, tmp_path: Path, manifest: Manifest) -> None:
    # PowerShell 5.1 `nvidia-smi > out.txt` writes UTF-16 with a byte order mark; 7 writes UTF-8 (maybe a BOM).
    path = tmp_path / "smi.txt"
    text = _corpus("win-rtx4060-537.70-tcc-wddm.txt").replace("\n", "\r\n")
    path.write_bytes(text.encode(encoding) if encoding != "utf-16-be" else b"\xfe\xff" + text.encode(encoding))
    hw = detect(manifest, smi_file=str(path))
    assert [(g.name, g.memory_mib, g.compute_capability) for g in hw.gpus] == [
        ("NVIDIA GeForce RTX 4060", 8188, (8, 9))]
    assert (str(hw.driver_version), hw.cuda_version, hw.error) == ("537.70", "12.2", None)


def test_detect_file_missing_is_a_usage_error(tmp_path: Path, manifest: Manifest) -> None:
    with pytest.raises(UsageError) as info:
        detect(manifest, smi_file=str(tmp_path / "nope.txt"))
    assert str(info.value).startswith(f"--nvidia-smi-file: cannot read {tmp_path / 'nope.txt'}: ")


def test_gpu_to_dict_without_name() -> None:
    assert Gpu(index=2, name=None, compute_capability=(8, 6), cc_source="nvidia-smi").to_dict() == {
        "index": 2, "name": None, "compute_capability": "8.6", "memory_mib": None, "vendor": "nvidia",
        "compute_capability_source": "nvidia-smi"}

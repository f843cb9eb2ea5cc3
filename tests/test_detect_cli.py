"""`pybootstrap detect` end to end: every corpus file through --nvidia-smi-file, this machine without NVIDIA,
and a missing file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest

from pybootstrap import cli, hardware_probes
from pybootstrap.failures import explain

CORPUS = Path(__file__).parent / "data" / "nvidia-smi"
INDEX: List[Dict[str, Any]] = json.loads((CORPUS / "INDEX.json").read_text(encoding="utf-8"))

DETECT_KEYS = {"schema", "os", "arch", "python_version", "driver_version", "cuda_version", "gpus", "source", "error"}
GPU_KEYS = {"index", "name", "compute_capability", "memory_mib", "vendor"}

# The detect document adds what nvidia-smi did not print: the CUDA version derived from the driver (NVIDIA's
# Table 3, in the manifest; this machine is Linux) and compute capabilities from the manifest's name table.
DERIVED_CUDA = {
    "csv-compute-cap-2x-mixed-570.86.15.txt": "12.8",  # >= 570.26, < 575.51.03
    "csv-full-query-rtx4080super-595.71.05.txt": "13.2",  # >= 595.45.04
    "csv-header-v100-418.126.02-partial.txt": "10.1",  # >= 418.39, < 440.33
    "linux-quadro-p4000-384.130-no-cuda.txt": "9.0",  # 384.130 >= 384.81
    "linux-wsl-rtx3060-cuda-err-smi545.46-driver546.80.txt": "12.3",  # header said ERR!
    "unknown-rtx5070-cuda-na-575.64.03.txt": "12.9",  # header said N/A
}
NAME_CC: Dict[Optional[str], Optional[str]] = {
    "NVIDIA TITAN V": "7.0", "NVIDIA RTX 5880 Ada Generation": "8.9", "NVIDIA GeForce RTX 4080 SUPER": "8.9",
    "Tesla V100-SXM3-32GB": "7.0", "GeForce GTX TITAN X": "5.2", "GeForce RTX 2080 Ti": "7.5",
    "NVIDIA GeForce RTX 4090": "8.9", "NVIDIA GeForce RTX 5090": "12.0", "GeForce GTX TITAN": "3.5",
    "GeForce GTX TIT...": None, "Tesla P100-SXM2...": "6.0", "Tesla V100-PCIE...": "7.0",
    "NVIDIA GeForce ...": None, "GRID K520": "3.0", "NVIDIA H100 80GB HBM3": "9.0", "NVIDIA H200": "9.0",
    "NVIDIA L4": "8.9", "Quadro P4000": "6.1", "GeForce RTX 207...": "7.5", "NVIDIA GeForce RTX 2080 ...": "7.5",
    "NVIDIA GeForce RTX 4070": "8.9", "NVIDIA GeForce RTX 4080 ...": "8.9", "NVIDIA GeForce RTX 5070": "12.0",
    "Tesla P4": "6.1", "Tesla T4": "7.5", "TITAN X (Pascal)": "6.1", "GeForce GTX 680": "3.0",
    "NVIDIA GeForce RTX 3060 ...": "8.6", "NVIDIA GeForce RTX 3070": "8.6", "NVIDIA GeForce RTX 4070 ...": "8.9",
    "Quadro RTX 4000": "7.5", "NVIDIA A100-SXM4-80GB": "8.0", "NVIDIA GeForce RTX 4060": "8.9",
    "NVIDIA RTXA6000-48A": "8.6",
}


def _one_document(out: str) -> Dict[str, Any]:
    """stdout must be exactly one JSON document and nothing else."""
    doc, end = json.JSONDecoder().raw_decode(out.lstrip())
    assert out.lstrip()[end:].strip() == ""
    return doc


def _check_shape(doc: Dict[str, Any]) -> None:
    assert DETECT_KEYS <= set(doc)
    assert doc["schema"] == "pybootstrap.detect/1"
    for gpu in doc["gpus"]:
        assert GPU_KEYS <= set(gpu)
    if doc["error"] is not None:
        assert set(doc["error"]) == {"kind", "message", "advice"}
        assert doc["error"]["message"] and doc["error"]["advice"]


@pytest.mark.parametrize("entry", INDEX, ids=[e["file"] for e in INDEX])
def test_detect_json_from_corpus_file(entry: Dict[str, Any], capsys: pytest.CaptureFixture) -> None:
    code = cli.main(["detect", "--json", "--nvidia-smi-file", str(CORPUS / entry["file"])], environ={})
    out = capsys.readouterr().out
    assert code == 0
    doc = _one_document(out)
    _check_shape(doc)
    assert doc["source"] == "file"
    assert doc["driver_version"] == entry["driver_version"]
    assert doc["cuda_version"] == (entry["cuda_version"] or DERIVED_CUDA.get(entry["file"]))
    assert [(g["name"], g["memory_mib"], g["vendor"]) for g in doc["gpus"]] == [
        (g["name"], g["memory_mib"], "nvidia") for g in entry["gpus"]]
    assert [g["compute_capability"] for g in doc["gpus"]] == [
        g["compute_capability"] or NAME_CC[g["name"]] for g in entry["gpus"]]
    assert (doc["error"] or {}).get("kind") == entry["error_kind"]


def test_corpus_needs_every_name_in_the_table() -> None:
    names = {g["name"] for e in INDEX for g in e["gpus"] if not g["compute_capability"]}
    assert names <= set(NAME_CC)


@pytest.fixture
def no_nvidia(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Dict[str, str]:
    """PATH without nvidia-smi: an empty folder plus the folder of this Python (for the subprocess)."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    path = os.pathsep.join([str(empty), str(Path(sys.executable).parent)])
    monkeypatch.setenv("PATH", path)
    monkeypatch.setattr(hardware_probes, "LINUX_SMI_PATHS", ())
    monkeypatch.setattr(hardware_probes, "PROC_NVIDIA", str(tmp_path / "no-proc"))
    return {**os.environ, "PATH": path}


def test_detect_without_nvidia_in_process(no_nvidia: Dict[str, str], capsys: pytest.CaptureFixture) -> None:
    assert cli.main(["detect", "--json"], environ={}) == 0
    doc = _one_document(capsys.readouterr().out)
    _check_shape(doc)
    assert doc["error"]["kind"] == "nvidia-smi-not-found"
    assert doc["error"]["advice"] == explain("nvidia-smi-not-found").advice
    assert (doc["driver_version"], doc["cuda_version"], doc["gpus"], doc["source"]) == (None, None, [], "none")

    assert cli.main(["detect"], environ={}) == 0
    captured = capsys.readouterr()
    assert captured.out == ""  # human output goes to stderr
    assert "nvidia-smi was not found" in captured.err
    assert "No usable NVIDIA GPU: the CPU build of PyTorch will be chosen." in captured.err


_REAL_SMI = [p for p in ("/usr/bin/nvidia-smi", "/usr/lib/wsl/lib/nvidia-smi") if os.path.exists(p)]


@pytest.mark.skipif(bool(_REAL_SMI) or sys.platform == "win32",
                    reason="this machine has nvidia-smi outside PATH, so it cannot play one without NVIDIA")
def test_detect_without_nvidia_as_a_process(no_nvidia: Dict[str, str]) -> None:
    run = subprocess.run([sys.executable, "-m", "pybootstrap", "detect", "--json"], env=no_nvidia,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    doc = _one_document(run.stdout)
    _check_shape(doc)
    assert doc["error"]["kind"] == "nvidia-smi-not-found"
    assert "the CPU build will be chosen" in doc["error"]["advice"]
    human = subprocess.run([sys.executable, "-m", "pybootstrap", "detect"], env=no_nvidia,
                           capture_output=True, text=True, timeout=60)
    assert human.returncode == 0
    assert "the CPU build of PyTorch will be chosen" in human.stderr
    assert "Traceback" not in human.stderr


def test_detect_file_as_a_process() -> None:
    name = "linux-h200-mig-610.43.02-kmd.txt"
    run = subprocess.run([sys.executable, "-m", "pybootstrap", "detect", "--json", "--nvidia-smi-file",
                          str(CORPUS / name)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    doc = _one_document(run.stdout)
    assert [(g["name"], g["compute_capability"], g["memory_mib"]) for g in doc["gpus"]] == [
        ("NVIDIA H200", "9.0", 143771)]
    assert (doc["driver_version"], doc["cuda_version"]) == ("610.43.02", "13.3")
    assert doc["notes"] == ["1 MIG device(s) found; they are slices of the GPUs listed, not GPUs"]


def test_detect_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    missing = tmp_path / "missing.txt"
    run = subprocess.run([sys.executable, "-m", "pybootstrap", "detect", "--nvidia-smi-file", str(missing)],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert run.stdout == ""
    assert run.stderr.splitlines()[0] == f"error: --nvidia-smi-file: cannot read {missing}: No such file or directory"
    assert "Traceback" not in run.stderr


@pytest.mark.parametrize("json_flag", [True, False], ids=["json", "human"])
def test_detect_unreadable_file_in_process(json_flag: bool, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    argv = ["detect", "--nvidia-smi-file", str(tmp_path)] + (["--json"] if json_flag else [])  # a folder
    assert cli.main(argv, environ={}) == 2
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    if json_flag:
        assert _one_document(captured.out)["error"]["kind"] == "usage"
    else:
        assert captured.err.splitlines()[0].startswith(f"error: --nvidia-smi-file: cannot read {tmp_path}: ")


def test_detect_file_from_stdin() -> None:
    data = (CORPUS / "list-2x-quadro-rtx4000.txt").read_bytes()
    run = subprocess.run([sys.executable, "-m", "pybootstrap", "detect", "--json", "--nvidia-smi-file", "-"],
                         input=data, capture_output=True, timeout=60)
    assert run.returncode == 0, run.stderr
    doc = _one_document(run.stdout.decode("utf-8"))
    assert [(g["name"], g["compute_capability"]) for g in doc["gpus"]] == [("Quadro RTX 4000", "7.5")] * 2

"""failures: one classifier for detect and diagnose; every sample in tests/data gets the same kind from both."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import pytest

from pybootstrap import _subprocess, nvidia_smi
from pybootstrap.diagnose import diagnose_text
from pybootstrap.failures import DETECTION_KINDS, EXPLANATIONS, KINDS, classify, detection_kind, explain
from pybootstrap.hardware import detect
from pybootstrap.manifest import load_manifest

DATA = Path(__file__).parent / "data"
SAMPLES = sorted(p for p in DATA.rglob("*.txt"))
MANIFEST = load_manifest(None)


def read(path: Path) -> str:
    """A sample as detect --nvidia-smi-file and diagnose read it: bytes through the one decoder."""
    return _subprocess.decode_output(path.read_bytes())


def diagnosed_detection_kinds(text: str) -> List[str]:
    return [f.kind for f in diagnose_text(text, MANIFEST) if f.kind in DETECTION_KINDS]


@pytest.mark.parametrize("path", SAMPLES, ids=[str(p.relative_to(DATA)) for p in SAMPLES])
def test_detect_and_diagnose_agree_on_every_sample(path: Path) -> None:
    text = read(path)
    kind: Optional[str] = detection_kind(text)
    assert diagnosed_detection_kinds(text) == ([kind] if kind else [])
    # what `detect --nvidia-smi-file` reports for the sample, where its error comes from the text
    error = detect(MANIFEST, smi_file=str(path)).error
    if error is not None and nvidia_smi.parse_any(text).form == "error":
        assert error.kind == kind


@pytest.mark.parametrize("text, kind", [
    ("No NVIDIA GPUs found", "no-devices"),
    ("NVIDIA-SMI has failed because NVML library not found", "driver-not-loaded"),
    ("Failed to initialize NVML: GPU access blocked by the operating system", "gpu-unavailable"),
    ("Failed to initialize NVML: Insufficient Permissions", "gpu-unavailable"),
    ("Unable to determine the device handle for gpu 0000:03:00.0: Unknown Error\nNo devices were found",
     "gpu-unavailable"),
    ("Failed to initialize NVML: Driver/library version mismatch", "driver-library-mismatch"),
], ids=["no-nvidia-gpus", "nvml-library", "wsl-blocked", "permissions", "handle-then-no-devices", "mismatch"])
def test_texts_detect_and_diagnose_once_disagreed_on(text: str, kind: str) -> None:
    assert detection_kind(text) == kind
    assert nvidia_smi.parse_any(text).error_kind == kind
    assert [f.kind for f in diagnose_text(text, MANIFEST)] == [kind]  # one nvidia-smi failure, one kind


def test_a_table_with_gpus_is_not_an_error_for_either() -> None:
    text = read(DATA / "nvidia-smi" / "win-rtx2070-460.15-tcc-wddm.txt")
    assert "Insufficient Permissions" in text  # a process row in WDDM mode, not an NVML error
    assert detection_kind(text) is None
    assert [f.kind for f in diagnose_text(text, MANIFEST)] == ["unknown"]


def test_a_missing_long_path_is_not_a_missing_nvidia_smi() -> None:
    text = read(DATA / "errors" / "long-path-3.txt")
    assert "No such file or directory" in text
    assert [kind for kind, _ in classify(text)] == ["long-path"]
    assert detection_kind(text) is None


def test_classify_keeps_the_order_of_causes_and_symptoms() -> None:
    text = ("UserWarning: NVIDIA GeForce RTX 5090 with CUDA capability sm_120 is not compatible with the current "
            "PyTorch installation.\nRuntimeError: CUDA error: no kernel image is available for execution on the "
            "device")
    assert [kind for kind, _ in classify(text)] == ["arch-unsupported", "no-kernel-image"]


def test_the_advice_table_covers_every_detection_kind() -> None:
    assert set(DETECTION_KINDS) <= set(EXPLANATIONS)
    assert set(DETECTION_KINDS) - {"timeout", "unparseable"} <= set(KINDS)
    for kind in DETECTION_KINDS:
        assert explain(kind).message and explain(kind).advice
    assert "the CPU build will be chosen" in explain("nvidia-smi-not-found").advice

"""judge: the probe's answer (hand-built here) against the plan and the hardware: checks, status, diagnosis."""

from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

import pytest
from test_verify import OLD_ARCHS, SM120_WARNING, assert_consistent, check, kinds

from pybootstrap.judge import Expected, arch_list_of, judge
from pybootstrap.machine import DetectIssue, Gpu, Hardware
from pybootstrap.manifest import load_manifest
from pybootstrap.manifest_model import DriverVersion


def hardware(*gpus: Tuple[str, Tuple[int, int]], error: Optional[DetectIssue] = None) -> Hardware:
    return Hardware(os="linux", arch="x86_64", python_version="3.11.7",
                    driver_version=DriverVersion("550.40.07") if gpus else None, cuda_version="12.4" if gpus else None,
                    gpus=tuple(Gpu(i, name, compute_capability=cc) for i, (name, cc) in enumerate(gpus)),
                    error=error)


GPU_4070 = ("NVIDIA GeForce RTX 4070", (8, 9))


def probe(**over: Any) -> Dict[str, Any]:
    data = {"python": "/env/bin/python", "python_version": "3.11.7", "torch_version": "2.5.1+cu124",
            "torch_file": "/env/torch/__init__.py", "cuda_build": "12.4", "cuda_available": True, "device_count": 1,
            "devices": [{"index": 0, "name": "NVIDIA GeForce RTX 4070", "compute_capability": "8.9"}],
            "arch_list": OLD_ARCHS, "cudnn": 90100,
            "cpu_matmul": {"device": "cpu", "ok": True, "max_abs_err": 0.0, "error": None},
            "matmul": [{"device": 0, "ok": True, "max_abs_err": 0.0, "error": None}],
            "packages": {"torchvision": {"installed": False}, "torchaudio": {"installed": False}},
            "import_error": None, "cuda_init_error": None, "errors": [], "warnings": []}
    data.update(over)
    return data


def judged(p: Dict[str, Any], hw: Hardware, expected: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    plan = Expected.from_build(expected) if expected else None
    doc = {"schema": "pybootstrap.verify/1", **judge(p, hw, plan, load_manifest(None)).to_dict()}
    assert_consistent(doc)
    return doc


def test_judge_healthy_against_the_state_file_build():
    expected = {"torch": "2.5.1", "variant": "cu124", "cuda": "12.4", "installer": "pip"}
    doc = judged(probe(), hardware(GPU_4070), expected)
    assert doc["status"] == "ok"
    assert [c["name"] for c in doc["checks"]] == ["import", "version", "variant", "cpu matmul", "cuda_available",
                                                  "arch[0]", "matmul[0]", "import torchvision", "import torchaudio"]


def test_judge_probe_timeout():
    doc = judged({"probe_error": "the probe did not finish within 2 s (x)", "timed_out": True, "stderr_tail": ""},
                 hardware(GPU_4070))
    assert doc["status"] == "failed" and kinds(doc) == ["timeout"]


def test_judge_probe_crash_with_known_text_in_stderr():
    doc = judged({"probe_error": "the probe exited 1 without an answer",
                  "stderr_tail": "Failed to initialize NVML: Driver/library version mismatch"}, hardware(GPU_4070))
    assert doc["status"] == "failed" and kinds(doc) == ["driver-library-mismatch"]


def test_judge_crashing_query_is_failed():
    doc = judged(probe(errors=["device 0: RuntimeError: CUDA error: unspecified launch failure"]), hardware(GPU_4070))
    assert doc["status"] == "failed"
    assert check(doc, "probe-step")["status"] == "fail"
    assert kinds(doc) == ["check-crashed"]


def test_judge_unavailable_uses_the_cuda_init_error():
    p = probe(cuda_available=False, device_count=0, devices=[], arch_list=[], matmul=[],
              cuda_init_error="RuntimeError: Found no NVIDIA driver on your system. Please check that you have an "
                              "NVIDIA GPU and installed a driver from http://www.nvidia.com/Download/index.aspx")
    doc = judged(p, hardware(GPU_4070))
    assert doc["status"] == "degraded" and kinds(doc) == ["no-nvidia-driver"]


def test_judge_unavailable_without_a_known_reason():
    p = probe(cuda_available=False, device_count=0, devices=[], arch_list=[], matmul=[])
    doc = judged(p, hardware(GPU_4070))
    assert doc["status"] == "degraded" and kinds(doc) == ["cuda-unavailable"]


def test_judge_unavailable_checks_archs_from_nvidia_smi_when_the_build_lists_them():
    p = probe(cuda_available=False, device_count=0, devices=[], matmul=[], arch_list=["sm_50", "sm_60"])
    doc = judged(p, hardware(GPU_4070))
    assert check(doc, "arch[0]")["status"] == "fail"
    assert kinds(doc) == ["cuda-unavailable", "arch-unsupported"]


def test_judge_cuda_build_without_gpu_is_ok_unless_cuda_was_planned_and_detection_failed():
    p = probe(cuda_available=False, device_count=0, devices=[], arch_list=[], matmul=[])
    assert judged(p, hardware())["status"] == "ok"
    issue = DetectIssue("driver-not-loaded", "nvidia-smi could not talk to the driver", "Reboot.")
    doc = judged(p, hardware(error=issue), {"torch": "2.5.1", "variant": "cu124", "cuda": "12.4"})
    assert doc["status"] == "degraded" and kinds(doc) == ["driver-not-loaded"]


def test_judge_warnings_are_diagnosed_but_do_not_fail_a_working_build():
    doc = judged(probe(warnings=["CUDA initialization: Found no NVIDIA driver on your system."]), hardware(GPU_4070))
    assert doc["status"] == "ok" and kinds(doc) == ["no-nvidia-driver"]


def test_judge_same_kind_is_reported_once():
    p = probe(devices=[{"index": 0, "name": "A", "compute_capability": "12.0"},
                       {"index": 1, "name": "B", "compute_capability": "12.0"}],
              warnings=[SM120_WARNING], matmul=[])
    doc = judged(p, hardware(("A", (12, 0)), ("B", (12, 0))))
    assert [c["status"] for c in doc["checks"] if c["name"].startswith("arch")] == ["fail", "fail"]
    assert kinds(doc) == ["arch-unsupported"]


@pytest.mark.parametrize("archs, cc, ok", [
    (["sm_86"], "8.9", True),            # same major, lower minor: binary compatible
    (["sm_90"], "8.9", False),
    (["sm_80", "sm_86"], "8.0", True),
    (["sm_86"], "8.0", False),           # a higher minor does not run on a lower one
    (["sm_120"], "12.1", True),
    (["sm_100"], "10.3", True),
    (["sm_90a"], "9.0", True),
    (["sm_100f"], "10.0", True),
    (["sm_37", "compute_37"], "12.0", False),   # old PTX is not counted (torch warns about it too)
    (["compute_120"], "12.0", True),
    ([], "8.6", False),
    (["sm_x", "gfx90a", ""], "8.6", False),
    (["sm_86"], "bogus", False),
], ids=lambda v: str(v))
def test_arch_serves(archs, cc, ok):
    major, _, minor = cc.partition(".")
    capability = (int(major), int(minor)) if major.isdigit() and minor.isdigit() else None
    assert (capability is not None and arch_list_of(archs).serves(capability)) is ok


@pytest.mark.parametrize("installed, cuda, build, status, detail", [
    ("2.14.1+cu126", "12.6", {"torch": "2.14.1", "local_label": "cpu", "variant": "cpu", "cuda": None},
     "degraded", "planned 2.14.1+cpu, installed 2.14.1+cu126"),
    ("2.14.1", None, {"torch": "2.14.1", "local_label": "cpu", "variant": "cpu", "cuda": None},
     "degraded", "planned 2.14.1+cpu, installed 2.14.1"),  # the label was pinned: an unlabelled build is another
    ("2.14.1+cpu", None, {"torch": "2.14.1+cpu", "variant": "cpu", "cuda": None},
     "ok", "planned 2.14.1+cpu, installed 2.14.1+cpu"),
    ("2.14.1+cu128", "12.8", {"torch": "2.14.1", "local_label": "cu126", "variant": "cu126", "cuda": "12.6"},
     "degraded", "planned 2.14.1+cu126, installed 2.14.1+cu128"),
    ("2.14.1", "12.6", {"torch": "2.14.1", "variant": "cu126", "cuda": "12.6"},  # PyPI and conda pin no label
     "ok", "planned 2.14.1 (cu126), installed 2.14.1"),
    ("2.14.0+cpu", None, {"torch": "2.14.1", "local_label": "cpu", "variant": "cpu", "cuda": None},
     "degraded", "planned 2.14.1+cpu, installed 2.14.0+cpu"),
], ids=["cuda-for-cpu", "unlabelled-for-cpu", "label-in-version", "cu128-for-cu126", "no-label-pinned",
        "other-patch"])
def test_judge_compares_the_build_with_the_plan(installed, cuda, build, status, detail):
    p = probe(torch_version=installed, cuda_build=cuda, cuda_available=bool(cuda), device_count=int(bool(cuda)),
              devices=probe()["devices"] if cuda else [], matmul=probe()["matmul"] if cuda else [])
    doc = judged(p, hardware(GPU_4070), build)
    assert doc["status"] == status
    assert check(doc, "version")["detail"] == detail


def test_judge_planned_companions_must_be_there_and_match():
    expected = {"torch": "2.5.1", "variant": "cu124", "cuda": "12.4", "torchvision": "0.20.1", "torchaudio": "2.5.1"}
    nms = {"name": "nms", "ok": True, "expected": [0, 2], "got": [0, 2], "error": None}
    vision = {"installed": True, "version": "0.20.1+cu124", "file": "/env/torchvision/__init__.py",
              "import_error": None, "check": nms}
    missing = judged(probe(packages={"torchvision": vision, "torchaudio": {"installed": False}}),
                     hardware(GPU_4070), expected)
    assert missing["status"] == "failed" and kinds(missing) == ["package-missing"]
    assert check(missing, "import torchaudio") == {
        "name": "import torchaudio", "status": "fail",
        "detail": "torchaudio is not installed, but the plan installs torchaudio 2.5.1"}
    assert check(missing, "torchvision version")["status"] == "pass"
    other = dict(vision, version="0.21.0+cu124")
    degraded = judged(probe(packages={"torchvision": other, "torchaudio": {"installed": False}}), hardware(GPU_4070),
                      dict(expected, torchaudio=None))
    assert degraded["status"] == "degraded" and kinds(degraded) == ["version-mismatch"]
    assert check(degraded, "torchvision version")["detail"] == "planned 0.20.1 (cu124), installed 0.21.0+cu124"


def test_judge_a_package_operation_that_raises_is_explained():
    vision = {"installed": True, "version": "0.20.1+cu124", "import_error": None,
              "check": {"name": "nms", "ok": False, "error": "RuntimeError: operator torchvision::nms does not exist"}}
    doc = judged(probe(packages={"torchvision": vision}), hardware(GPU_4070))
    assert doc["status"] == "failed"
    assert check(doc, "torchvision nms")["detail"] == "RuntimeError: operator torchvision::nms does not exist"
    assert kinds(doc) == ["torchvision-mismatch"]


def test_expected_from_build_reads_the_plan():
    plan = Expected.from_build({"torch": "2.14.1", "torchvision": "0.29.1", "torchaudio": None, "variant": "cu126",
                                "cuda": "12.6", "installer": "pip", "local_label": "cu126"})
    assert plan == Expected(torch="2.14.1", label="cu126", variant="cu126", cuda="12.6", torchvision="0.29.1")
    assert Expected.from_build({"torch": "2.5.1+cpu", "variant": "cpu"}).label == "cpu"
    assert Expected.from_build({"torch": "2.5", "variant": "cu124"}).accepts("2.5.7+cu124", "2.5")

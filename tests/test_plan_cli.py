"""`pybootstrap plan` end to end, in process: flags, PYBOOTSTRAP_* variables, JSON, exit codes, usage errors."""

from __future__ import annotations

import json
import re
from typing import Dict, List, Optional, Tuple

import pytest
from packaging.version import Version

from pybootstrap import hardware
from pybootstrap.cli import main
from pybootstrap.manifest import load_manifest

MANIFEST = load_manifest()
NEWEST = str(MANIFEST.releases[0].torch)

WHAT_IF = ["plan", "--os", "windows", "--python-version", "3.12", "--driver", "576.02",
           "--gpu", "NVIDIA GeForce RTX 5090", "--json"]
PLAN_KEYS = {"schema", "status", "build", "commands", "reasons", "rejected", "hardware"}
BUILD_KEYS = {"torch", "torchvision", "torchaudio", "variant", "cuda", "installer", "index_url", "conda_channels",
              "conda_cuda_package"}
DETECT_KEYS = {"os", "arch", "python_version", "driver_version", "cuda_version", "gpus", "source", "error"}
GPU_KEYS = {"index", "name", "compute_capability", "memory_mib", "vendor"}


@pytest.fixture(autouse=True)
def no_real_hardware(monkeypatch: pytest.MonkeyPatch) -> None:
    """This machine's GPUs, drivers and Python must not leak into the plans: a bare Linux box with Python 3.12."""
    monkeypatch.setattr(hardware, "find_nvidia_smi", lambda os_name: None)
    monkeypatch.setattr(hardware, "read_text", lambda path: None)
    monkeypatch.setattr(hardware, "other_adapters", lambda os_name, run=None: ())
    monkeypatch.setattr(hardware, "current_platform", lambda: ("linux", "x86_64", "3.12.4"))


def run(capsys: pytest.CaptureFixture, argv: List[str],
        environ: Optional[Dict[str, str]] = None) -> Tuple[int, str, str]:
    code = main(argv, environ={} if environ is None else environ)
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys: pytest.CaptureFixture, argv: List[str],
             environ: Optional[Dict[str, str]] = None) -> Tuple[int, dict]:
    code, out, _ = run(capsys, argv, environ)
    return code, json.loads(out)  # the whole of stdout is one JSON document


def test_what_if_example_prints_one_plan_document(capsys: pytest.CaptureFixture) -> None:
    code, doc = run_json(capsys, WHAT_IF)
    assert code == 0
    assert PLAN_KEYS <= set(doc)
    assert doc["schema"] == "pybootstrap.plan/1" and doc["status"] == "ok"
    assert BUILD_KEYS <= set(doc["build"])
    # an RTX 5090 on Windows 576.02 gets a cu128 build: the newest release that has one
    newest_cu128 = max((r for r in MANIFEST.releases if r.variant("cu128")), key=lambda r: r.torch)
    assert (doc["build"]["torch"], doc["build"]["variant"], doc["build"]["cuda"]) == (
        str(newest_cu128.torch), "cu128", "12.8")
    # pinned with the index's local label, so that no other build of the same version can satisfy them
    assert doc["commands"] == [["python", "-m", "pip", "install", f"torch=={newest_cu128.torch}+cu128",
                                f"torchvision=={newest_cu128.torchvision}+cu128",
                                f"torchaudio=={newest_cu128.torchaudio}+cu128",
                                "--index-url", "https://download.pytorch.org/whl/cu128"]]
    assert DETECT_KEYS <= set(doc["hardware"])
    assert doc["hardware"]["os"] == "windows" and doc["hardware"]["driver_version"] == "576.02"
    assert doc["hardware"]["cuda_version"] == "12.9"
    assert [GPU_KEYS <= set(g) for g in doc["hardware"]["gpus"]] == [True]
    assert doc["hardware"]["gpus"][0]["compute_capability"] == "12.0"
    assert all(set(r) >= {"build", "reason"} for r in doc["rejected"])
    assert {"build": "2.14.1+cu132", "reason": "driver 576.02 is older than 580.88, needed for CUDA 13.x on Windows",
            "rule": "driver"} in doc["rejected"]
    assert any(r.startswith(f"cu128: the highest CUDA variant of torch {newest_cu128.torch}") for r in doc["reasons"])
    assert doc["manifest"] == {"source": "embedded", "detail": "the manifest shipped with pybootstrap",
                               "location": MANIFEST.origin, "updated": MANIFEST.updated.isoformat()}


def test_human_output_goes_to_stderr(capsys: pytest.CaptureFixture) -> None:
    code, out, err = run(capsys, WHAT_IF[:-1])
    assert code == 0 and out == ""
    assert re.search(r"Plan: torch \S+ cu128 via pip", err)
    assert "python -m pip install torch==" in err
    assert "manifest: embedded (the manifest shipped with pybootstrap), facts of " in err


def test_python_without_any_build_exits_3(capsys: pytest.CaptureFixture) -> None:
    code, doc = run_json(capsys, ["plan", "--python-version", "3.5", "--json"])
    assert code == 3
    assert doc["status"] == "no-compatible-build" and doc["build"] is None and doc["commands"] == []
    assert "no build supports Python 3.5 on Linux x86_64" in doc["reasons"]
    assert "Use a Python that has PyTorch wheels: 3.7, 3.8, " in doc["advice"]
    assert doc["manifest"]["source"] == "embedded"


def test_no_gpu_linux_plans_the_cpu_index(capsys: pytest.CaptureFixture) -> None:
    code, doc = run_json(capsys, ["plan", "--json"])
    assert code == 0
    assert (doc["build"]["variant"], doc["build"]["index_url"]) == ("cpu", "https://download.pytorch.org/whl/cpu")
    assert doc["hardware"]["error"]["kind"] == "nvidia-smi-not-found"


BAD_INPUT = [
    (["--driver", "abc"], "error: --driver 'abc': expected an NVIDIA driver version"),
    (["--python-version", "three"], "error: --python-version 'three': expected a Python version like \"3.12\""),
    (["--gpu", "X", "--compute-capability", "x.y"], "error: --compute-capability 'x.y': expected a compute capability"),
    (["--os", "solaris"], "error: --os 'solaris': expected windows or linux"),
    (["--torch", "2.5.1+cu124"], "error: --torch '2.5.1+cu124': give the version without a local tag"),
    (["--variant", "cu12x"], "error: --variant 'cu12x': expected cpu, cuXYZ"),
    (["--cuda", "twelve"], "error: --cuda 'twelve': expected a CUDA version like \"12.4\""),
    (["--variant", "cu124", "--cuda", "12.1"], "error: --variant cu124 and --cuda 12.1 disagree"),
    (["--packages", "foo"], "error: --packages 'foo': expected a comma-separated subset of torch,torchvision"),
    (["--installer", "poetry"], "error: --installer 'poetry': expected pip or conda"),
    (["--offline"], "error: --offline needs at least one --find-links folder"),
    (["--arch", "sparc"], "error: --arch 'sparc': expected x86_64 or arm64"),
]


@pytest.mark.parametrize("flags,message", BAD_INPUT, ids=[" ".join(f) for f, _ in BAD_INPUT])
def test_bad_input_exits_2_with_one_line(capsys: pytest.CaptureFixture, flags: List[str], message: str) -> None:
    code, out, err = run(capsys, ["plan", *flags])
    assert code == 2
    assert out == ""
    lines = err.splitlines()
    assert lines[0].startswith(message), err
    assert [line for line in lines if line.startswith("error:")] == [lines[0]]
    assert len(lines) <= 2 and "Traceback" not in err


def test_bad_input_with_json_prints_an_error_document(capsys: pytest.CaptureFixture) -> None:
    code, doc = run_json(capsys, ["plan", "--driver", "abc", "--json"])
    assert code == 2
    assert doc["schema"] == "pybootstrap.error/1"
    assert doc["error"]["message"].startswith("--driver 'abc'")


ENV_WHAT_IF = {"PYBOOTSTRAP_OS": "windows", "PYBOOTSTRAP_PYTHON_VERSION": "3.12", "PYBOOTSTRAP_DRIVER": "576.02",
               "PYBOOTSTRAP_GPU": "NVIDIA GeForce RTX 5090"}


def test_environment_variables_stand_in_for_flags(capsys: pytest.CaptureFixture) -> None:
    code, doc = run_json(capsys, ["plan", "--json"], ENV_WHAT_IF)
    assert code == 0
    assert (doc["build"]["torch"], doc["build"]["variant"]) == ("2.11.0", "cu128")
    assert "what-if: driver 576.02 (from --driver)" in doc["reasons"]


def test_flag_wins_over_environment_variable(capsys: pytest.CaptureFixture) -> None:
    code, doc = run_json(capsys, ["plan", "--driver", "581.57", "--json"], ENV_WHAT_IF)
    assert code == 0
    assert doc["build"]["torch"] == NEWEST and doc["build"]["cuda"].startswith("13.")
    assert doc["hardware"]["driver_version"] == "581.57"


# An RTX 3060 on Windows 576.02 (below the CUDA 13 floor 580.88): the last CUDA 12 build is 2.14.x cu126 (facts:
# pytorch-2.15-and-peers); cu124 and cu121 end with 2.6 and 2.5 (facts 1a).
@pytest.mark.parametrize("env,expected", [
    ({}, ("2.14.", "cu126", "0.29.")),
    ({"PYBOOTSTRAP_TORCH": "2.5"}, ("2.5.1", "cu124", "0.20.1")),
    ({"PYBOOTSTRAP_CUDA": "12.1"}, ("2.5.1", "cu121", "0.20.1")),
    ({"PYBOOTSTRAP_VARIANT": "cpu"}, (NEWEST, "cpu", str(MANIFEST.releases[0].torchvision))),
    ({"PYBOOTSTRAP_PACKAGES": "torch"}, ("2.14.", "cu126", None)),
], ids=["none", "torch", "cuda", "variant", "packages"])
def test_selection_from_environment(capsys: pytest.CaptureFixture, env: Dict[str, str],
                                    expected: Tuple[str, str, Optional[str]]) -> None:
    rtx3060 = {**ENV_WHAT_IF, "PYBOOTSTRAP_GPU": "NVIDIA GeForce RTX 3060"}
    code, doc = run_json(capsys, ["plan", "--json"], {**rtx3060, **env})
    assert code == 0
    torch, variant, torchvision = doc["build"]["torch"], doc["build"]["variant"], doc["build"]["torchvision"]
    assert torch.startswith(expected[0]) and variant == expected[1]
    assert (torchvision is None) if expected[2] is None else torchvision.startswith(expected[2])


def test_bad_environment_value_names_the_variable(capsys: pytest.CaptureFixture) -> None:
    code, out, err = run(capsys, ["plan"], {"PYBOOTSTRAP_DRIVER": "abc"})
    assert code == 2 and out == ""
    assert err.splitlines()[0].startswith("error: PYBOOTSTRAP_DRIVER='abc': expected an NVIDIA driver version")
    assert "Traceback" not in err


def test_cuda_flag_is_the_variant(capsys: pytest.CaptureFixture) -> None:
    code, doc = run_json(capsys, ["plan", "--os", "linux", "--driver", "550.54.15", "--gpu", "NVIDIA GeForce RTX 3090",
                                  "--cuda", "12.4", "--json"])
    assert code == 0
    assert (doc["build"]["torch"], doc["build"]["variant"]) == ("2.6.0", "cu124")


def test_conda_installer_for_2_5_1(capsys: pytest.CaptureFixture) -> None:
    code, doc = run_json(capsys, ["plan", "--driver", "550.54.15", "--gpu", "NVIDIA GeForce RTX 3090",
                                  "--torch", "2.5.1", "--installer", "conda", "--json"])
    assert code == 0
    assert doc["build"]["conda_channels"] == ["pytorch", "nvidia"]
    assert doc["build"]["conda_cuda_package"] == "pytorch-cuda=12.4"
    assert doc["commands"] == [["conda", "install", "-y", "pytorch==2.5.1", "torchvision==0.20.1",
                                "torchaudio==2.5.1", "pytorch-cuda=12.4", "-c", "pytorch", "-c", "nvidia"]]


def test_offline_with_find_links(capsys: pytest.CaptureFixture, tmp_path) -> None:
    code, doc = run_json(capsys, ["plan", "--offline", "--find-links", str(tmp_path), "--json"])
    assert code == 0
    build = doc["build"]
    assert build["torch"] == NEWEST and build["variant"] == "cpu"
    pins = [f"{p}=={build[p]}" for p in ("torch", "torchvision", "torchaudio") if build[p]]
    assert doc["commands"] == [["python", "-m", "pip", "install", *pins, "--no-index", "--find-links",
                                str(tmp_path.resolve())]]


def test_compute_capability_pairs_with_gpu(capsys: pytest.CaptureFixture) -> None:
    code, doc = run_json(capsys, ["plan", "--driver", "580.95.05", "--gpu", "Prototype", "--compute-capability", "6.1",
                                  "--json"])
    assert code == 0
    assert (doc["build"]["torch"][:5], doc["build"]["variant"]) == ("2.14.", "cu126")
    assert doc["hardware"]["gpus"][0]["compute_capability"] == "6.1"


ACCEPTANCE = ["plan", "--os", "windows", "--driver", "591.74", "--python-version", "3.12"]


def test_acceptance_rtx_4090_gets_the_newest_release(capsys: pytest.CaptureFixture) -> None:
    """Issue 13: an RTX 4090 on Windows 591.74 with Python 3.12 gives torch 2.15.0 (or whatever is newer)."""
    code, doc = run_json(capsys, [*ACCEPTANCE, "--gpu", "NVIDIA GeForce RTX 4090", "--json"])
    assert code == 0
    assert doc["build"]["torch"] == NEWEST and Version(NEWEST) >= Version("2.15.0")
    assert doc["build"]["variant"] in ("cu130", "cu132")


def test_acceptance_gtx_1080_stays_on_2_14_cu126_and_says_why(capsys: pytest.CaptureFixture) -> None:
    """Issue 13: the same with a GTX 1080 gives 2.14.1 cu126 and says that 2.15 dropped its architecture."""
    code, out, err = run(capsys, [*ACCEPTANCE, "--gpu", "NVIDIA GeForce GTX 1080"])
    assert code == 0
    assert "Plan: torch 2.14.1 cu126 via pip" in err
    assert re.search(r"torch 2\.15( to \S+)? ha(s|ve) no build with kernels for sm_61 \(Pascal\); 2\.14\.x cu126 is "
                     r"the last", err), err


def test_rocm_on_windows_is_one_true_statement(capsys: pytest.CaptureFixture) -> None:
    """Issue 15: `plan --variant rocm7.2 --os windows` said no build exists for Windows and that PyTorch publishes
    wheels for Windows. Now it says that rocm7.2 is Linux-only, and which variants Windows has."""
    code, out, err = run(capsys, ["plan", "--variant", "rocm7.2", "--os", "windows", "--python-version", "3.12"])
    assert code == 3 and out == ""
    assert "no rocm7.2 build is published for Windows x86_64: rocm7.2 is published for Linux x86_64 only" in err
    assert "what to do: Choose a variant that is published for Windows x86_64, e.g. --variant " in err
    assert "no build is published for Windows x86_64" not in err
    assert "PyTorch publishes wheels for Windows x86_64" not in err

"""verify: the probe in a real (pip-less) venv holding a fake torch, and judge() on hand-built probe results."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Tuple

import fake_torch
import pytest

from pybootstrap import cli, verify
from pybootstrap.manifest import load_manifest

DATA = Path(__file__).parent / "data"
SMI = DATA / "nvidia-smi"
RTX4070 = SMI / "linux-rtx4070-550.40.07.txt"          # driver 550.40.07, one RTX 4070 (sm_89)
RTX5090 = SMI / "linux-wsl-rtx5090-smi570.124.06-driver572.70.txt"  # one RTX 5090 (sm_120)
NO_GPU = SMI / "linux-not-found-bash.txt"              # "bash: nvidia-smi: command not found"

OLD_ARCHS = ["sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90"]
# The real warnings, verbatim from tests/data/errors (driver-too-old-1, arch-unsupported-2)
DRIVER_TOO_OLD_WARNING = (
    "CUDA initialization: The NVIDIA driver on your system is too old (found version 11040). Please update your "
    "GPU driver by downloading and installing a new version from the URL: http://www.nvidia.com/Download/index.aspx "
    "Alternatively, go to: https://pytorch.org to install a PyTorch version that has been compiled with your version "
    "of the CUDA driver. (Triggered internally at ../c10/cuda/CUDAFunctions.cpp:108.)")
SM120_WARNING = (
    "\nNVIDIA GeForce RTX 5090 with CUDA capability sm_120 is not compatible with the current PyTorch installation.\n"
    "The current PyTorch install supports CUDA capabilities sm_50 sm_60 sm_61 sm_70 sm_75 sm_80 sm_86 sm_90.\n"
    "If you want to use the NVIDIA GeForce RTX 5090 GPU with PyTorch, please check the instructions at "
    "https://pytorch.org/get-started/locally/\n")
DLL_ERROR = ('[WinError 126] The specified module could not be found. Error loading "C:\\env\\Lib\\site-packages'
             '\\torch\\lib\\c10.dll" or one of its dependencies.')


# --- one venv per session (no pip: the fake torch is dropped straight into site-packages) -------------

_VENV: Dict[str, Tuple[Path, Path, Path]] = {}


def make_venv(base: Path) -> Tuple[Path, Path, Path]:
    """(prefix, python, site-packages) of a venv created once per test session."""
    if "venv" not in _VENV:
        prefix = base / "venv"
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(prefix)], check=True, timeout=120)
        python = prefix / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")
        site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                              check=True, capture_output=True, text=True, timeout=60).stdout.strip()
        _VENV["venv"] = (prefix, python, Path(site))
    return _VENV["venv"]


def clear_site(site: Path) -> None:
    """Remove everything a test put into site-packages."""
    for entry in site.iterdir():
        if entry.is_dir():
            shutil.rmtree(entry)
        else:
            entry.unlink()


@pytest.fixture(scope="session")
def session_venv(tmp_path_factory: pytest.TempPathFactory) -> Tuple[Path, Path, Path]:
    return make_venv(tmp_path_factory.mktemp("verify-venv"))


@pytest.fixture
def env(session_venv: Tuple[Path, Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The session venv, emptied; PYBOOTSTRAP_HOME in tmp_path."""
    prefix, python, site = session_venv
    clear_site(site)
    monkeypatch.setenv("PYBOOTSTRAP_HOME", str(tmp_path / "home"))
    monkeypatch.delenv(verify.PROBE_TIMEOUT_ENV, raising=False)
    yield prefix, python, site
    clear_site(site)


def cuda_config(**extra: Any) -> Dict[str, Any]:
    """A healthy CUDA 12.4 torch seeing one RTX 4070 (sm_89)."""
    cfg = dict(devices=[{"name": "NVIDIA GeForce RTX 4070", "capability": [8, 9]}], arch_list=OLD_ARCHS,
               available=True)
    cfg.update(extra)
    return fake_torch.torch_config("2.5.1+cu124", "12.4", **cfg)


def run_verify(capsys: pytest.CaptureFixture, *args: str) -> Tuple[int, Dict[str, Any]]:
    """pybootstrap verify ... --json in-process: (exit code, the JSON document)."""
    code = cli.main(["verify", *args, "--json"])
    out = capsys.readouterr().out
    return code, json.loads(out)


def kinds(doc: Dict[str, Any]) -> List[str]:
    return [d["kind"] for d in doc["diagnosis"]]


def check(doc: Dict[str, Any], name: str) -> Dict[str, Any]:
    found = [c for c in doc["checks"] if c["name"] == name]
    assert found, f"no check {name!r} in {doc['checks']}"
    return found[0]


def assert_consistent(doc: Dict[str, Any]) -> None:
    """Contract keys; a failing check always comes with a diagnosis; no kind twice."""
    for key in ("schema", "status", "python", "torch_version", "cuda_build", "cuda_available", "devices",
                "arch_list", "checks", "diagnosis"):
        assert key in doc
    assert doc["schema"] == "pybootstrap.verify/1"
    if any(c["status"] == "fail" for c in doc["checks"]):
        assert doc["status"] in ("degraded", "failed") and doc["diagnosis"]
    else:
        assert doc["status"] == "ok"
    assert len(kinds(doc)) == len(set(kinds(doc)))
    for finding in doc["diagnosis"]:
        assert finding["message"] and finding["advice"]


# --- verify end to end ------------------------------------------------------------------------------

def test_healthy_cuda_build_is_ok(env, capsys):
    prefix, python, site = env
    fake_torch.install_into(site, cuda_config())
    code, doc = run_verify(capsys, "--python", str(python), "--nvidia-smi-file", str(RTX4070))
    assert code == 0
    assert doc["status"] == "ok"
    assert doc["python"] == str(python)
    assert doc["torch_version"] == "2.5.1+cu124" and doc["cuda_build"] == "12.4" and doc["cuda_available"] is True
    assert doc["devices"] == [{"index": 0, "name": "NVIDIA GeForce RTX 4070", "compute_capability": "8.9"}]
    assert doc["arch_list"] == OLD_ARCHS and doc["cudnn_version"] == 90100
    assert doc["matmul"] == [{"device": 0, "ok": True, "max_abs_err": 0.0, "error": None}]
    assert [(c["name"], c["status"]) for c in doc["checks"]] == [
        ("import", "pass"), ("cpu matmul", "pass"), ("cuda_available", "pass"), ("arch[0]", "pass"),
        ("matmul[0]", "pass"), ("import torchvision", "skip"), ("import torchaudio", "skip")]
    assert doc["cpu_matmul"] == {"device": "cpu", "ok": True, "max_abs_err": 0.0, "error": None}
    assert doc["diagnosis"] == []
    assert_consistent(doc)


def test_venv_flag_verifies_the_same_environment(env, capsys):
    prefix, python, site = env
    fake_torch.install_into(site, cuda_config())
    code, doc = run_verify(capsys, "--venv", str(prefix), "--nvidia-smi-file", str(RTX4070))
    assert code == 0 and doc["status"] == "ok"
    assert doc["target"]["kind"] == "venv" and Path(doc["target"]["prefix"]) == prefix.resolve()


def test_import_error_dll_is_failed_with_dll_advice(env, capsys):
    prefix, python, site = env
    fake_torch.install_into(site, cuda_config(import_error=DLL_ERROR))
    code, doc = run_verify(capsys, "--python", str(python), "--nvidia-smi-file", str(RTX4070))
    assert code == 5
    assert doc["status"] == "failed"
    assert doc["torch_version"] is None
    assert check(doc, "import")["status"] == "fail"
    assert check(doc, "import")["detail"].startswith("OSError: [WinError 126] The specified module could not be found")
    assert kinds(doc)[0] == "dll-load-failed"
    assert "Visual C++ Redistributable" in doc["diagnosis"][0]["advice"]
    assert doc["diagnosis"][0]["facts"] == {"dll": "c10.dll", "win_error": "126"}
    assert "torch/__init__.py" in doc["import_traceback"].replace("\\", "/")
    assert_consistent(doc)


def test_environment_without_torch_is_failed_exit_5(env, capsys):
    prefix, python, site = env
    code, doc = run_verify(capsys, "--python", str(python), "--nvidia-smi-file", str(NO_GPU))
    assert code == 5
    assert doc["status"] == "failed"
    assert kinds(doc) == ["torch-not-installed"]
    assert "pybootstrap install" in doc["diagnosis"][0]["advice"]
    assert check(doc, "import")["detail"] == "ModuleNotFoundError: No module named 'torch'"
    assert_consistent(doc)


def test_cuda_build_with_driver_too_old_is_degraded(env, capsys):
    prefix, python, site = env
    fake_torch.install_into(site, cuda_config(available=False, warn_on_cuda=[DRIVER_TOO_OLD_WARNING]))
    code, doc = run_verify(capsys, "--python", str(python), "--nvidia-smi-file", str(RTX4070))
    assert code == 5
    assert doc["status"] == "degraded"
    assert doc["cuda_available"] is False
    assert check(doc, "cuda_available") == {
        "name": "cuda_available", "status": "fail",
        "detail": "torch.cuda.is_available() is False on a machine with 1 NVIDIA GPU(s)"}
    assert kinds(doc)[0] == "driver-too-old"
    finding = doc["diagnosis"][0]
    assert finding["facts"]["found_driver_cuda"] == "11.4"
    families = load_manifest(None).cuda_families
    for major in (12, 13):
        for floor in families[major].min_driver.values():
            assert str(floor) in finding["advice"]
    assert any(DRIVER_TOO_OLD_WARNING[:60] in w for w in doc["warnings"])
    assert_consistent(doc)


def test_cuda_unavailable_without_a_warning_is_explained_by_cuda_init(env, capsys):
    """Real torch says why only when initialising CUDA; the probe calls torch.cuda.init() to hear it."""
    prefix, python, site = env
    fake_torch.install_into(site, cuda_config(available=False))
    with open(site / "torch" / "cuda.py", "a", encoding="utf-8") as handle:  # the fake has no init(): add one
        handle.write("\n\ndef init():\n    raise RuntimeError('The NVIDIA driver on your system is too old "
                     "(found version 12020).')\n")
    code, doc = run_verify(capsys, "--python", str(python), "--nvidia-smi-file", str(RTX4070))
    assert (code, doc["status"]) == (5, "degraded")
    assert doc["cuda_init_error"] == "RuntimeError: The NVIDIA driver on your system is too old (found version 12020)."
    assert kinds(doc) == ["driver-too-old"]
    assert doc["diagnosis"][0]["facts"]["found_driver_cuda"] == "12.2"
    assert doc["warnings"] == [] and doc["errors"] == []


def test_cpu_build_on_gpu_machine_is_degraded(env, capsys):
    prefix, python, site = env
    fake_torch.install_into(site, fake_torch.torch_config("2.5.1+cpu", None))
    code, doc = run_verify(capsys, "--python", str(python), "--nvidia-smi-file", str(RTX4070))
    assert code == 5
    assert doc["status"] == "degraded"
    assert check(doc, "variant")["status"] == "fail"
    assert "NVIDIA GeForce RTX 4070" in check(doc, "variant")["detail"]
    assert kinds(doc) == ["torch-not-cuda-build"]
    assert_consistent(doc)


def test_cpu_build_on_machine_without_gpu_is_ok(env, capsys):
    prefix, python, site = env
    fake_torch.install_into(site, fake_torch.torch_config("2.5.1+cpu", None))
    code, doc = run_verify(capsys, "--python", str(python), "--nvidia-smi-file", str(NO_GPU))
    assert (code, doc["status"]) == (0, "ok")
    assert check(doc, "cuda_available") == {"name": "cuda_available", "status": "skip", "detail": "CPU build"}


def test_sm120_gpu_missing_from_arch_list_is_degraded(env, capsys):
    prefix, python, site = env
    fake_torch.install_into(site, cuda_config(devices=[{"name": "NVIDIA GeForce RTX 5090", "capability": [12, 0]}],
                                              arch_list=OLD_ARCHS, warn_on_cuda=[SM120_WARNING]))
    code, doc = run_verify(capsys, "--python", str(python), "--nvidia-smi-file", str(RTX5090))
    assert code == 5
    assert doc["status"] == "degraded"
    assert check(doc, "arch[0]") == {
        "name": "arch[0]", "status": "fail",
        "detail": "NVIDIA GeForce RTX 5090 is sm_120; the build has " + " ".join(OLD_ARCHS)}
    assert kinds(doc) == ["arch-unsupported"]
    advice = doc["diagnosis"][0]["advice"]
    assert "sm_120" in advice
    # every variant the advice names really has sm_120 code in the manifest
    manifest = load_manifest(None)
    named = {(r.torch, v.name) for r in manifest.releases for v in r.variants
             if f"torch {r.torch} with" in advice and v.name in advice.split(f"torch {r.torch} with", 1)[1][:40]}
    assert named
    for torch_version, name in named:
        variant = manifest.release(torch_version).variant(name)
        assert any((12, 0) in a.sass for a in variant.archs.values()), (torch_version, name)
    assert_consistent(doc)


def test_wrong_matmul_is_degraded(env, capsys):
    prefix, python, site = env
    fake_torch.install_into(site, cuda_config(matmul_wrong=True))
    code, doc = run_verify(capsys, "--python", str(python), "--nvidia-smi-file", str(RTX4070))
    assert code == 5
    assert doc["status"] == "degraded"
    assert doc["matmul"] == [{"device": 0, "ok": False, "max_abs_err": 1.0, "error": None}]
    assert check(doc, "matmul[0]") == {"name": "matmul[0]", "status": "fail",
                                       "detail": "max abs error 1.0 against the CPU result"}
    assert kinds(doc) == ["matmul-mismatch"]
    assert_consistent(doc)


def test_matmul_error_no_kernel_image_is_degraded(env, capsys):
    prefix, python, site = env
    fake_torch.install_into(site, cuda_config(
        matmul_error="CUDA error: no kernel image is available for execution on the device"))
    code, doc = run_verify(capsys, "--python", str(python), "--nvidia-smi-file", str(RTX4070))
    assert (code, doc["status"]) == (5, "degraded")
    assert check(doc, "matmul[0]")["detail"] == (
        "RuntimeError: CUDA error: no kernel image is available for execution on the device")
    assert kinds(doc) == ["no-kernel-image"]


@pytest.mark.parametrize("how", ["env", "monkeypatch"])
def test_probe_that_hangs_is_failed_within_the_timeout(env, capsys, monkeypatch, how):
    prefix, python, site = env
    fake_torch.install_into(site, cuda_config(hang_on_import=(how == "env"), hang_on_cuda=(how != "env")))
    if how == "env":
        monkeypatch.setenv(verify.PROBE_TIMEOUT_ENV, "2")
    else:
        monkeypatch.setattr(verify, "PROBE_TIMEOUT_S", 2.0)
    start = time.monotonic()
    code, doc = run_verify(capsys, "--python", str(python), "--nvidia-smi-file", str(RTX4070))
    elapsed = time.monotonic() - start
    assert elapsed < 20, f"verify took {elapsed:.1f} s; the probe timeout was 2 s"
    assert code == 5
    assert doc["status"] == "failed"
    assert check(doc, "probe")["status"] == "fail"
    assert "did not finish within 2 s" in check(doc, "probe")["detail"]
    assert kinds(doc) == ["timeout"]
    assert "did not finish" in doc["probe_error"]
    assert_consistent(doc)


@pytest.mark.parametrize("flags, status, failing", [
    (["--torch", "2.5.1", "--variant", "cu124"], "ok", []),
    (["--torch", "2.5"], "ok", []),                           # a release means any patch of it
    (["--torch", "2.5.1"], "ok", []),                         # no variant: the +cu124 tag is not compared
    (["--torch", "2.4.1", "--variant", "cu121"], "degraded", ["variant", "version"]),
    (["--variant", "cu121"], "degraded", ["variant", "version"]),
    (["--torch", "2.6"], "degraded", ["version"]),
    (["--variant", "cpu"], "degraded", ["variant", "version"]),
], ids=["exact", "release", "torch-only", "both-wrong", "variant-wrong", "release-wrong", "cpu-planned"])
def test_expectations_from_torch_and_variant_flags(env, capsys, flags, status, failing):
    prefix, python, site = env
    fake_torch.install_into(site, cuda_config())
    code, doc = run_verify(capsys, "--python", str(python), "--nvidia-smi-file", str(RTX4070), *flags)
    assert doc["status"] == status
    assert code == (0 if status == "ok" else 5)
    assert sorted(c["name"] for c in doc["checks"] if c["status"] == "fail") == failing
    if failing:
        assert kinds(doc) == ["version-mismatch"]
    assert_consistent(doc)


def test_cuda_planned_but_cpu_build_installed(env, capsys):
    prefix, python, site = env
    fake_torch.install_into(site, fake_torch.torch_config("2.5.1", None))
    code, doc = run_verify(capsys, "--python", str(python), "--nvidia-smi-file", str(RTX4070),
                           "--torch", "2.5.1", "--variant", "cu124")
    assert (code, doc["status"]) == (5, "degraded")
    assert check(doc, "version")["status"] == "pass"  # no local tag: the version alone matches
    assert check(doc, "variant") == {"name": "variant", "status": "fail",
                                     "detail": "torch.version.cuda = None, planned CUDA 12.4"}
    assert kinds(doc) == ["torch-not-cuda-build"]


# --- every installed package imported and exercised, the build compared with the plan -----------------

def test_healthy_family_is_imported_and_computes_known_results(env, capsys):
    prefix, python, site = env
    fake_torch.install_into(site, cuda_config(), torchvision="0.20.1+cu124", torchaudio="2.5.1+cu124")
    code, doc = run_verify(capsys, "--python", str(python), "--nvidia-smi-file", str(RTX4070))
    assert (code, doc["status"]) == (0, "ok")
    assert check(doc, "import torchvision")["detail"].startswith("torchvision 0.20.1+cu124 from ")
    assert check(doc, "torchvision nms") == {"name": "torchvision nms", "status": "pass", "detail": "[0, 2] as expected"}
    assert check(doc, "import torchaudio")["status"] == "pass"
    assert check(doc, "torchaudio mu_law_encoding") == {"name": "torchaudio mu_law_encoding", "status": "pass",
                                                        "detail": "[0, 128, 255] as expected"}
    assert doc["packages"]["torchvision"]["version"] == "0.20.1+cu124"
    assert_consistent(doc)


def test_torchvision_built_for_another_torch_is_failed(env, capsys):
    """The real message of a torchvision beside a torch it was not built for (tests/data/errors/torchvision-*)."""
    prefix, python, site = env
    fake_torch.install_into(site, fake_torch.torch_config("2.5.1+cpu", None), torchaudio="2.5.1+cpu",
                            torchvision=fake_torch.companion_config("0.20.1+cu124",
                                                                    import_error=fake_torch.NMS_OPERATOR_ERROR))
    code, doc = run_verify(capsys, "--python", str(python), "--nvidia-smi-file", str(NO_GPU))
    assert (code, doc["status"]) == (5, "failed")
    assert check(doc, "import torchvision") == {"name": "import torchvision", "status": "fail",
                                                "detail": "RuntimeError: operator torchvision::nms does not exist"}
    assert check(doc, "import")["status"] == "pass"
    assert kinds(doc) == ["torchvision-mismatch"]
    assert "torchvision" in doc["diagnosis"][0]["advice"] and "pybootstrap install" in doc["diagnosis"][0]["advice"]
    assert_consistent(doc)


@pytest.mark.parametrize("name, companion, check_name, detail", [
    ("torchvision", fake_torch.companion_config("0.20.1+cpu", wrong_result=True), "torchvision nms",
     "expected [0, 2], got [0, 1, 2]"),
    ("torchaudio", fake_torch.companion_config("2.5.1+cpu", wrong_result=True), "torchaudio mu_law_encoding",
     "expected [0, 128, 255], got [1, 129, 256]"),
], ids=["torchvision", "torchaudio"])
def test_a_package_computing_a_wrong_result_is_failed(env, capsys, name, companion, check_name, detail):
    prefix, python, site = env
    fake_torch.install_into(site, fake_torch.torch_config("2.5.1+cpu", None), **{name: companion})
    code, doc = run_verify(capsys, "--python", str(python), "--nvidia-smi-file", str(NO_GPU))
    assert (code, doc["status"]) == (5, "failed")
    assert check(doc, check_name) == {"name": check_name, "status": "fail", "detail": detail}
    assert kinds(doc) == ["package-check-failed"]
    assert_consistent(doc)


@pytest.mark.parametrize("config, detail", [
    ({"cpu_matmul_error": "could not create a primitive"}, "RuntimeError: could not create a primitive"),
    ({"cpu_matmul_wrong": True}, "max abs error 1.0 against the known product"),
], ids=["raises", "wrong"])
def test_a_cpu_build_whose_tensor_op_fails_is_failed(env, capsys, config, detail):
    prefix, python, site = env
    fake_torch.install_into(site, fake_torch.torch_config("2.5.1+cpu", None, **config))
    code, doc = run_verify(capsys, "--python", str(python), "--nvidia-smi-file", str(NO_GPU))
    assert (code, doc["status"]) == (5, "failed")
    assert check(doc, "cpu matmul") == {"name": "cpu matmul", "status": "fail", "detail": detail}
    assert kinds(doc) == ["cpu-op-failed"]
    assert_consistent(doc)


def test_a_healthy_cpu_build_computes_the_known_product(env, capsys):
    prefix, python, site = env
    fake_torch.install_into(site, fake_torch.torch_config("2.5.1+cpu", None))
    code, doc = run_verify(capsys, "--python", str(python), "--nvidia-smi-file", str(NO_GPU))
    assert (code, doc["status"]) == (0, "ok")
    assert check(doc, "cpu matmul") == {"name": "cpu matmul", "status": "pass",
                                        "detail": "max abs error 0.0 against the known product"}


def test_a_wrong_cpu_product_is_not_blamed_on_the_gpu(env, capsys):
    prefix, python, site = env
    fake_torch.install_into(site, cuda_config(cpu_matmul_wrong=True))
    code, doc = run_verify(capsys, "--python", str(python), "--nvidia-smi-file", str(RTX4070))
    assert (code, doc["status"]) == (5, "failed")
    assert check(doc, "matmul[0]") == {"name": "matmul[0]", "status": "pass",
                                       "detail": "max abs error 0.0 against the known product"}
    assert kinds(doc) == ["cpu-op-failed"]


def test_another_build_than_planned_is_degraded_naming_both(env, capsys):
    """A CUDA build of the planned version (as an extra index can serve it) where the CPU build was planned."""
    prefix, python, site = env
    fake_torch.install_into(site, fake_torch.torch_config("2.14.1+cu126", "12.6"))
    code, doc = run_verify(capsys, "--python", str(python), "--nvidia-smi-file", str(NO_GPU),
                           "--torch", "2.14.1", "--variant", "cpu")
    assert (code, doc["status"]) == (5, "degraded")
    assert check(doc, "version") == {"name": "version", "status": "fail",
                                     "detail": "planned 2.14.1 (cpu), installed 2.14.1+cu126"}
    assert check(doc, "variant") == {"name": "variant", "status": "fail",
                                     "detail": "torch.version.cuda = 12.6, planned cpu"}
    assert kinds(doc) == ["version-mismatch"]
    assert_consistent(doc)


# --- run_probe ------------------------------------------------------------------------------------

def test_probe_does_not_let_pybootstrap_modules_shadow_the_targets(env):
    """pybootstrap has errors.py, report.py, ...: torch's dependencies must still get their own."""
    prefix, python, site = env
    (site / "errors.py").write_text("MARK = '9.9.9'\n", encoding="utf-8")
    (site / "torch").mkdir()
    (site / "torch" / "__init__.py").write_text("import errors as _e\n__version__ = _e.MARK\n", encoding="utf-8")
    probe = verify.run_probe(str(python), timeout=60)
    assert probe["import_error"] is None
    assert probe["torch_version"] == "9.9.9"


def test_probe_of_a_missing_interpreter(tmp_path):
    probe = verify.run_probe(str(tmp_path / "no-python"), timeout=10)
    assert probe["probe_error"].startswith(f"could not run {tmp_path / 'no-python'}: ")


@pytest.mark.skipif(sys.platform == "win32", reason="a shell script stands in for the interpreter")
def test_probe_that_answers_garbage(tmp_path):
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\necho 'PYBOOTSTRAP-PROBE {not json'\necho oops >&2\nexit 3\n", encoding="utf-8")
    fake.chmod(0o755)
    probe = verify.run_probe(str(fake), timeout=10)
    assert probe["probe_error"] == "the probe exited 3 without an answer"
    assert "oops" in probe["stderr_tail"]


def test_probe_timeout_reads_the_environment(monkeypatch):
    monkeypatch.setenv(verify.PROBE_TIMEOUT_ENV, "7.5")
    assert verify.probe_timeout() == 7.5
    for bad in ("", "abc", "0", "-3"):
        monkeypatch.setenv(verify.PROBE_TIMEOUT_ENV, bad)
        assert verify.probe_timeout() == verify.PROBE_TIMEOUT_S

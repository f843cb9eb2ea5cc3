"""pybootstrap install end to end against a local index of generated wheels (tests/fake_torch.py) served by a
local HTTP server (tests/indexserver.py): fresh install, idempotent re-run, replacing another build, network
failures, pip and conda failures, interruption, refusals, dry run, proxies and the conda back end (a fake conda)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import fake_torch
import pytest
from indexserver import IndexServer

from pybootstrap import _subprocess, cli, environments, install, pip_outcome
from pybootstrap.manifest import load_manifest

DATA = Path(__file__).resolve().parent / "data"
SMI_RTX3070 = str(DATA / "nvidia-smi" / "linux-wsl-rtx3070-smi530.47-driver531.68.txt")
TORCH_CU124 = "torch-2.5.1+cu124-py3-none-any.whl"
PY_XY = f"{sys.version_info[0]}.{sys.version_info[1]}"
POSIX_ONLY = pytest.mark.skipif(sys.platform == "win32", reason="uses a #! script / POSIX signals")


# --- fixtures ---------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fake_torch.standard_index(tmp_path_factory.getbasetemp() / "index")


@pytest.fixture(scope="module")
def server(index: Path):
    with IndexServer(index) as srv:
        yield srv


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fake_torch.template_venv(tmp_path_factory.getbasetemp() / "template-venv")


@pytest.fixture(autouse=True)
def hermetic(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    """Only the local index is a source, every download reaches the server, nothing outside tmp_path changes."""
    for name in list(os.environ):
        if name.startswith(("PIP_", "PYBOOTSTRAP_")) or name.lower() in ("http_proxy", "https_proxy", "all_proxy",
                                                                         "no_proxy", "conda_exe"):
            monkeypatch.delenv(name)
    # This machine's global pip configuration (/etc/pip.conf, /etc/xdg/pip/pip.conf: find-links, extra indexes,
    # a constraints file) would add sources and caps the test index knows nothing about; pip reads no
    # configuration file at all when PIP_CONFIG_FILE is os.devnull.
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_NO_CACHE_DIR", "1")  # no cache: the server sees every download
    monkeypatch.setenv("PIP_DISABLE_PIP_VERSION_CHECK", "1")
    monkeypatch.setenv("PIP_NO_INPUT", "1")
    monkeypatch.setenv("PYBOOTSTRAP_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(pip_outcome, "RETRY_BACKOFF_S", 0.05)
    if "server" in request.fixturenames:
        request.getfixturevalue("server").reset()
    return tmp_path


def run_pb(capsys: pytest.CaptureFixture, *argv: str) -> Tuple[int, Optional[Dict[str, Any]], str]:
    """pybootstrap in this process: (exit code, the --json document or None, stderr)."""
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip() else None), err


def gpu(server: IndexServer, variant: str = "cu124", torch: str = "2.5.1", path: Optional[str] = None) -> List[str]:
    """Plan torch for the RTX 3070 table from the local index."""
    return ["--nvidia-smi-file", SMI_RTX3070, "--torch", torch, "--variant", variant,
            "--index-url", f"{server.url}/{path or variant}"]


def state(prefix: Path) -> Optional[Dict[str, Any]]:
    return environments.read_state(prefix)


def log_of(doc_or_err: Any) -> Dict[str, Any]:
    """The JSON log named by a document (log_path) or by an error message ("(log: PATH)")."""
    if isinstance(doc_or_err, dict):
        path = doc_or_err["log_path"]
    else:
        path = doc_or_err.split("(log: ", 1)[1].split(")", 1)[0]
    return json.loads(Path(path).read_text(encoding="utf-8"))


def pip_list(python: Path) -> Dict[str, str]:
    out = subprocess.run([str(python), "-m", "pip", "list", "--format", "json"], capture_output=True, text=True,
                         check=True).stdout
    return {p["name"].lower(): p["version"] for p in json.loads(out)}


def venv_python(prefix: Path) -> Path:
    return environments.python_in(prefix, conda=False)


# --- a fresh install, then a re-run that touches nothing ----------------------------------------------------------

def test_fresh_install_into_the_default_venv_then_a_rerun_downloads_nothing(server, hermetic, capsys) -> None:
    code, doc, err = run_pb(capsys, "install", "--json", *gpu(server))
    prefix = hermetic / "home" / "envs" / "torch"
    assert code == 0, err
    assert doc["schema"] == "pybootstrap.install/1"
    assert (doc["status"], doc["plan_status"], doc["exit_code"]) == ("ok", "ok", 0)
    assert doc["target"] == {"kind": "venv", "prefix": str(prefix), "python": str(venv_python(prefix)),
                             "exists": False, "conda_name": None, "source": "default"}
    assert doc["verification"]["status"] == "ok"
    assert doc["verification"]["torch_version"] == "2.5.1+cu124"
    assert doc["verification"]["cuda_build"] == "12.4" and doc["verification"]["cuda_available"] is True
    assert doc["verification"]["devices"] == [{"index": 0, "name": "NVIDIA GeForce RTX 3070",
                                               "compute_capability": "8.6"}]
    assert sorted(p for p in server.requests if p.startswith("/files/")) == [
        "/files/torch-2.5.1+cu124-py3-none-any.whl", "/files/torchaudio-2.5.1+cu124-py3-none-any.whl",
        "/files/torchvision-0.20.1+cu124-py3-none-any.whl"]
    # not a terminal: a concise line per step
    assert "  Collecting torch==2.5.1" in err
    assert "  Successfully installed torch-2.5.1+cu124 torchaudio-2.5.1+cu124 torchvision-0.20.1+cu124" in err
    marker = state(prefix)
    assert marker["status"] == "good" and marker["torch_version"] == "2.5.1+cu124"
    assert marker["build"]["variant"] == "cu124"
    log = log_of(doc)
    assert log["exit_code"] == 0 and log["error"] is None and log["status"] == "ok"
    assert json.loads((hermetic / "home" / "logs" / "latest.json").read_text()) == log
    ran = [c["argv"] for c in log["commands_run"]]
    assert ran[0][1:] == ["-m", "venv", str(prefix)]
    assert [str(venv_python(prefix)), "-m", "pip", "install"] == ran[-2][:4]  # then the verification probe
    assert pip_list(venv_python(prefix))["torch"] == "2.5.1+cu124"

    server.reset()
    started = time.monotonic()
    code, doc, err = run_pb(capsys, "install", "--json", *gpu(server))
    assert code == 0, err
    assert doc["already_installed"] is True
    assert f"torch 2.5.1 cu124 is already installed and verified in {prefix}" in err
    assert server.requests == []
    assert not any("pip" in c["argv"] for c in log_of(doc)["commands_run"])
    assert time.monotonic() - started < 20


# --- replacing another torch ------------------------------------------------------------------------------------

def test_replaces_a_cpu_build_on_a_gpu_machine_and_only_the_torch_family(server, template, hermetic, capsys) -> None:
    prefix = fake_torch.copy_venv(template, hermetic / "v")
    python = venv_python(prefix)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--index-url", f"{server.url}/extra", "sentinel"],
                   check=True, capture_output=True)
    code, doc, err = run_pb(capsys, "install", "--json", "--venv", prefix, "--no-gpu", "--torch", "2.5.1",
                            "--variant", "cpu", "--mirror", server.url)
    assert code == 0, err
    assert doc["build"]["index_url"] == f"{server.url}/cpu"
    assert pip_list(python)["torch"] == "2.5.1+cpu"

    uninstall = [str(python), "-m", "pip", "uninstall", "-y", "torch", "torchvision", "torchaudio"]
    code, doc, err = run_pb(capsys, "install", "--json", "--dry-run", "--venv", prefix, "--nvidia-smi-file",
                            SMI_RTX3070, "--torch", "2.5.1", "--variant", "cu124", "--mirror", server.url)
    assert code == 0, err
    assert doc["steps"][0] == uninstall  # the dry run shows the removal a real run does first
    assert doc["replaced"]["why"] == "it holds torch 2.5.1+cpu, not 2.5.1+cu124"
    assert pip_list(python)["torch"] == "2.5.1+cpu"

    code, doc, err = run_pb(capsys, "install", "--json", "--venv", prefix, "--nvidia-smi-file", SMI_RTX3070,
                            "--torch", "2.5.1", "--variant", "cu124", "--mirror", server.url)
    assert code == 0, err
    assert ("replacing torch 2.5.1+cpu with 2.5.1+cu124 (only the torch family): it holds torch 2.5.1+cpu, not "
            "2.5.1+cu124") in err
    assert doc["replaced"] == {"from": "2.5.1+cpu", "to": "2.5.1+cu124",
                               "why": "it holds torch 2.5.1+cpu, not 2.5.1+cu124"}
    ran = [c["argv"] for c in log_of(doc)["commands_run"]]
    assert uninstall in ran
    packages = pip_list(python)
    assert (packages["torch"], packages["torchvision"], packages["torchaudio"]) == (
        "2.5.1+cu124", "0.20.1+cu124", "2.5.1+cu124")
    assert packages["sentinel"] == "1.0"
    assert doc["verification"]["status"] == "ok" and state(prefix)["status"] == "good"


@pytest.mark.parametrize("probe, unfinished, why", [
    ({"torch_version": "2.5.1+cu124", "cuda_build": "12.4"}, False, None),
    ({"torch_version": "2.5.1", "cuda_build": "12.4"}, False, None),  # conda's pytorch has no local tag
    ({"torch_version": "2.5.1+cu121", "cuda_build": "12.1"}, False, "it holds torch 2.5.1+cu121, not 2.5.1+cu124"),
    ({"torch_version": "2.4.1+cu124", "cuda_build": "12.4"}, False, "it holds torch 2.4.1+cu124, not 2.5.1+cu124"),
    ({"torch_version": "2.5.1", "cuda_build": None}, False, "it holds torch 2.5.1, not 2.5.1+cu124"),
    ({"torch_version": "2.5.1+cu124", "cuda_build": "12.4"}, True,
     "the last install into this environment did not finish"),
    ({"import_error": "ImportError: libtorch_cpu.so: cannot open shared object file"}, False,
     "its torch does not import (ImportError: libtorch_cpu.so: cannot open shared object file)"),
    ({"import_error": "ModuleNotFoundError: No module named 'torch'"}, False, None),
    ({"import_error": "ModuleNotFoundError: No module named 'torch'"}, True, None),
], ids=["same", "same-conda", "other-variant", "other-version", "cpu-build", "unfinished", "broken",
        "absent", "absent-unfinished"])
def test_which_torch_is_replaced(probe, unfinished, why, tmp_path, monkeypatch) -> None:
    from pybootstrap import verify
    from pybootstrap.installers import pip as pip_inst

    python = tmp_path / "bin" / "python"
    python.parent.mkdir()
    python.write_text("")
    ran = []
    monkeypatch.setattr(verify, "run_probe", lambda exe, timeout: dict(probe))
    monkeypatch.setattr(pip_inst, "run_pip", lambda argv, timeout: ran.append(list(argv))
                        or _subprocess.CommandResult(list(argv), 0))
    build = type("B", (), {"torch": "2.5.1", "variant": "cu124", "cuda": "12.4"})()
    replaced = install.replace_torch_family(environments.Target("venv", tmp_path, python, True), build,
                                            unfinished=unfinished)
    assert (replaced.why if replaced else None) == why
    assert ran == ([[str(python), "-m", "pip", "uninstall", "-y", "torch", "torchvision", "torchaudio"]]
                   if why else [])


def test_a_cpu_build_where_cuda_was_planned_is_degraded_and_not_marked_good(server, template, hermetic,
                                                                            capsys) -> None:
    prefix = fake_torch.copy_venv(template, hermetic / "v")
    code, doc, err = run_pb(capsys, "install", "--json", "--venv", prefix, *gpu(server, path="mislabelled"))
    assert code == 5, err
    assert (doc["status"], doc["plan_status"], doc["exit_code"]) == ("degraded", "ok", 5)
    ver = doc["verification"]
    assert ver["status"] == "degraded" and ver["torch_version"] == "2.5.1" and ver["cuda_build"] is None
    assert "torch-not-cuda-build" in [d["kind"] for d in ver["diagnosis"]]
    assert state(prefix)["status"] == "installing"


# --- network failures -------------------------------------------------------------------------------------------

def test_a_connection_dropped_mid_download_is_retried_then_succeeds(server, template, hermetic, capsys) -> None:
    prefix = fake_torch.copy_venv(template, hermetic / "v")
    server.drop(TORCH_CU124, times=1)
    code, doc, err = run_pb(capsys, "install", "--json", "--venv", prefix, *gpu(server))
    assert code == 0, err
    assert server.requests_for(TORCH_CU124) == 2
    # pip before 25.1 takes the cut file for a hash mismatch and pybootstrap runs pip again; newer pip
    # notices the short body and resumes the download itself. Either way one more request brings the file.
    log = json.loads(Path(doc["log_path"]).read_text(encoding="utf-8"))
    pip_resumed = "Attempting to resume incomplete download" in json.dumps(log["commands_run"])
    assert pip_resumed or ("a download did not match its published hash (a connection cut short does this); "
                           "retrying (2/3)") in err
    assert doc["verification"]["status"] == "ok" and state(prefix)["status"] == "good"


def test_a_connection_that_always_drops_is_a_clean_exit_6(server, template, hermetic, capsys) -> None:
    prefix = fake_torch.copy_venv(template, hermetic / "v")
    server.drop(TORCH_CU124)
    code, doc, err = run_pb(capsys, "install", "--venv", prefix, *gpu(server))
    assert code == 6
    # three pip runs; newer pip also resumes within each run (up to 6 requests a run)
    assert pip_outcome.RETRIES == 3 and 3 <= server.requests_for(TORCH_CU124) <= 3 * 6
    assert "retrying (2/3)" in err and "retrying (3/3)" in err
    assert (("error: pip install: downloads kept breaking off: each attempt got a different, incomplete file "
             "(after 3 attempts)") in err
            or ("error: pip install: the package index could not be reached or a download failed (after 3 "
                "attempts): \u00d7 Download failed after 6 attempts because not enough bytes were received") in err)
    assert "Traceback" not in err
    log = log_of(err)
    assert log["exit_code"] == 6 and log["error"]["kind"] == "network"
    assert (log["status"], log["plan_status"]) == ("failed", "ok")
    assert state(prefix)["status"] == "installing"


def test_the_same_wrong_file_twice_is_an_integrity_failure(server, template, hermetic, capsys,
                                                           monkeypatch) -> None:
    # a proxy that alters the file serves the same wrong bytes each time
    prefix = fake_torch.copy_venv(template, hermetic / "v")
    server.corrupt(TORCH_CU124)
    code, doc, err = run_pb(capsys, "install", "--venv", prefix, *gpu(server))
    assert code == 9
    assert server.requests_for(TORCH_CU124) == 2
    assert "error: pip install: a downloaded file did not match its published hash, twice the same" in err
    log = log_of(err)
    assert (log["status"], log["exit_code"], log["error"]["kind"]) == ("failed", 9, "integrity")


def test_a_404_for_a_wheel_is_exit_6_at_once(server, template, hermetic, capsys) -> None:
    prefix = fake_torch.copy_venv(template, hermetic / "v")
    server.not_found(TORCH_CU124)
    code, doc, err = run_pb(capsys, "install", "--venv", prefix, *gpu(server))
    assert code == 6
    assert server.requests_for(TORCH_CU124) == 1  # a 404 is not transient: no retry
    assert ("error: pip install: the package index could not be reached or a download failed: ERROR: HTTP error "
            f"404 while getting {server.url}/files/torch-2.5.1%2Bcu124-py3-none-any.whl") in err
    assert "Traceback" not in err and "(log: " in err


def test_an_index_url_without_torch_is_exit_6_with_the_url_before_anything_is_created(server, hermetic,
                                                                                        capsys) -> None:
    prefix = hermetic / "v"
    code, doc, err = run_pb(capsys, "install", "--venv", prefix, *gpu(server, path="nope"))
    assert code == 6
    assert (f"error: cannot use the package index {server.url}/nope: it has no {server.url}/nope/torch/ page "
            "(HTTP 404 Not Found)") in err
    assert "Traceback" not in err
    assert not prefix.exists()


def test_an_unreachable_index_is_exit_6_at_once_with_one_line_and_nothing_created(hermetic, capsys) -> None:
    prefix = hermetic / "v"
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    code, doc, err = run_pb(capsys, "install", "--venv", prefix, "--nvidia-smi-file", SMI_RTX3070, "--torch",
                            "2.5.1", "--variant", "cu124", "--index-url", f"http://127.0.0.1:{port}/cu124")
    assert code == 6
    assert (f"error: cannot reach the package index http://127.0.0.1:{port}/cu124: 127.0.0.1:{port} refused the "
            "connection") in err
    assert "retrying" not in err
    assert [c for c in log_of(err)["commands_run"] if c["argv"][1:4] == ["-m", "pip", "install"]] == []
    assert not prefix.exists()


# --- pip and conda failing --------------------------------------------------------------------------------------

def test_pip_failing_is_exit_4_with_the_tail_of_its_output_and_the_log(server, template, hermetic, capsys) -> None:
    prefix = fake_torch.copy_venv(template, hermetic / "v")
    code, doc, err = run_pb(capsys, "install", "--venv", prefix, *gpu(server, path="broken/cu124"))
    assert code == 4
    assert "error: pip install failed (exit 1)" in err
    assert "what to do: See the output below and the log." in err
    assert "torch-2.5.1+cu124-py3-none-any.whl is invalid" in err or "BadZipFile" in err
    log = log_of(err)
    assert log["exit_code"] == 4 and log["error"]["kind"] == "install-failed" and log["status"] == "failed"
    assert state(prefix)["status"] == "installing"


# --- an interrupted install is never taken as good -------------------------------------------------------------

@POSIX_ONLY
def test_an_interrupted_install_is_not_marked_good_and_the_next_run_reinstalls(server, template, hermetic,
                                                                               capsys) -> None:
    prefix = fake_torch.copy_venv(template, hermetic / "v")
    streaming = server.slow(TORCH_CU124, 0.05)  # about 10 s for the whole wheel
    proc = subprocess.Popen([sys.executable, "-m", "pybootstrap", "install", "--venv", str(prefix), *gpu(server)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        assert streaming.wait(60), "pip never started downloading torch"
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl+C in a terminal reaches the whole foreground process group
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err.decode()
    assert b"interrupted; log: " in err and b"Traceback" not in err
    marker = state(prefix)
    assert marker["status"] == "installing"
    latest = json.loads((hermetic / "home" / "logs" / "latest.json").read_text())
    assert latest["exit_code"] == 130 and latest["error"]["kind"] == "interrupted"
    assert (latest["status"], latest["plan_status"]) == ("interrupted", "ok")
    assert latest["error"]["message"] == "interrupted (Ctrl+C)"
    assert latest["commands_run"][-1]["error"] == "interrupted"

    server.reset()
    code, doc, err = run_pb(capsys, "install", "--json", "--venv", prefix, *gpu(server))
    assert code == 0, err
    assert "already_installed" not in doc
    assert server.requests_for(TORCH_CU124) == 1
    assert state(prefix)["status"] == "good"


@POSIX_ONLY
def test_sigterm_ends_the_run_like_ctrl_c_with_a_log_and_nothing_marked_good(server, template, hermetic) -> None:
    # a fleet agent stops a job with SIGTERM to the process alone (not to its group)
    prefix = fake_torch.copy_venv(template, hermetic / "v")
    streaming = server.slow(TORCH_CU124, 0.05)
    proc = subprocess.Popen([sys.executable, "-m", "pybootstrap", "install", "--venv", str(prefix), *gpu(server)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        assert streaming.wait(60), "pip never started downloading torch"
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err.decode()
    text = err.decode()
    assert "interrupted by SIGTERM; log: " in text and "Traceback" not in text
    assert state(prefix)["status"] == "installing"
    latest = json.loads((hermetic / "home" / "logs" / "latest.json").read_text())
    assert (latest["status"], latest["exit_code"]) == ("interrupted", 130)
    assert latest["error"] == {"kind": "interrupted", "message": "interrupted (SIGTERM)",
                               "advice": "Run the same command again.", "exit_code": 130}
    assert latest["commands_run"][-1]["error"] == "interrupted"  # pip was stopped, not left running
    assert latest["verification"] is None


def test_a_build_that_installs_but_does_not_import_is_failed_not_degraded(template, hermetic, capsys,
                                                                           tmp_path) -> None:
    wheels = tmp_path / "wheels"
    broken = fake_torch.build_wheel(wheels, "torch", "2.5.1+cu124", {
        "torch/__init__.py": "raise ImportError('libtorch_cuda.so: cannot open shared object file')\n"})
    fake_torch.write_index(tmp_path / "index", "cu124", [broken])
    prefix = fake_torch.copy_venv(template, hermetic / "v")
    with IndexServer(tmp_path / "index") as only_torch:
        code, doc, err = run_pb(capsys, "install", "--json", "--venv", prefix, "--packages", "torch",
                                *gpu(only_torch))
    assert code == 5, err
    assert (doc["status"], doc["plan_status"], doc["exit_code"]) == ("failed", "ok", 5)
    assert doc["verification"]["status"] == "failed"
    assert "libtorch_cuda.so" in doc["verification"]["import_error"]
    assert state(prefix)["status"] == "installing"
    assert log_of(doc)["status"] == "failed"


def test_an_unfinished_install_of_the_same_build_is_reinstalled(server, template, hermetic, capsys) -> None:
    prefix = fake_torch.copy_venv(template, hermetic / "v")
    subprocess.run([str(venv_python(prefix)), "-m", "pip", "install", "-q", "--index-url", f"{server.url}/cu124",
                    "torch==2.5.1"], check=True, capture_output=True)
    environments.write_state(prefix, {"status": "installing"})  # as a run killed while pip was installing leaves it
    server.reset()
    code, doc, err = run_pb(capsys, "install", "--json", "--venv", prefix, *gpu(server))
    assert code == 0, err
    assert doc["replaced"]["why"] == "the last install into this environment did not finish"
    assert server.requests_for(TORCH_CU124) == 1
    assert state(prefix)["status"] == "good"


def test_an_interrupted_venv_creation_is_redone(server, hermetic, capsys) -> None:
    prefix = hermetic / "v"
    prefix.mkdir()
    environments.write_state(prefix, {"status": "creating"})  # killed during python -m venv
    code, doc, err = run_pb(capsys, "install", "--json", "--venv", prefix, *gpu(server))
    assert code == 0, err
    assert doc["steps"][0][1:] == ["-m", "venv", "--clear", str(prefix)]
    assert state(prefix)["status"] == "good"


# --- refusals and the dry run -----------------------------------------------------------------------------------

def test_refuses_the_interpreter_running_pybootstrap(capsys) -> None:
    code, doc, err = run_pb(capsys, "install", "--python", sys.executable, "--no-gpu")
    assert code == 8
    assert f"error: {sys.executable} is the interpreter running pybootstrap itself" in err
    assert "what to do: Install torch into its own environment: --venv DIR (or the default target)." in err


@pytest.mark.skipif(sys.prefix == sys.base_prefix, reason="the tests run in a system Python, not in a venv")
def test_refuses_the_venv_running_pybootstrap(capsys) -> None:
    code, doc, err = run_pb(capsys, "install", "--venv", sys.prefix, "--no-gpu")
    assert code == 8
    assert "is the interpreter running pybootstrap itself" in err


def _system_python() -> Optional[str]:
    """A Python that is neither a venv nor a conda env, other than the one running the tests."""
    import shutil

    candidates = [getattr(sys, "_base_executable", None), shutil.which("python3"), "/usr/bin/python3",
                  "/usr/local/bin/python3"]
    for exe in filter(None, candidates):
        info = environments.interpreter_info(exe)
        if (info and info.prefix == info.base_prefix and not info.conda
                and os.path.realpath(info.prefix) != os.path.realpath(sys.prefix)):
            return exe
    return None


def test_refuses_a_system_python_with_advice(capsys) -> None:
    python = _system_python()
    if python is None:
        pytest.skip("no system Python (one that is not a venv or conda env) was found on this machine")
    code, doc, err = run_pb(capsys, "install", "--python", python, "--no-gpu")
    assert code == 8
    assert f"error: {python} is a system Python (not a virtual or conda environment)" in err
    assert ("what to do: Installing into it could break the system's tools. Use --venv DIR, or create a venv with "
            "that Python and pass --python VENV_PYTHON.") in err


def test_dry_run_prints_the_steps_and_changes_nothing(server, hermetic, capsys) -> None:
    prefix = hermetic / "new-venv"
    code, doc, err = run_pb(capsys, "install", "--json", "--dry-run", "--venv", prefix, *gpu(server))
    assert code == 0, err
    python = str(venv_python(prefix))
    base = getattr(sys, "_base_executable", None) or sys.executable
    assert doc["dry_run"] is True
    assert (doc["status"], doc["plan_status"], doc["exit_code"]) == ("dry-run", "ok", 0)
    assert doc["steps"] == [
        [base, "-m", "venv", str(prefix)],
        [python, "-m", "pip", "install", "--disable-pip-version-check", "--retries", "2", "--timeout", "10",
         "--progress-bar", "off", "torch==2.5.1+cu124", "torchvision==0.20.1+cu124", "torchaudio==2.5.1+cu124",
         "--index-url", f"{server.url}/cu124"]]
    assert "Dry run: would run" in err
    assert f"  {python} -m pip install --disable-pip-version-check" in err
    assert not prefix.exists()
    assert server.requests == []
    # its own log, but latest.json stays what the last run that checked or changed an environment wrote
    assert log_of(doc)["status"] == "dry-run"
    assert not (hermetic / "home" / "logs" / "latest.json").exists()


def test_installer_conda_with_a_venv_target_is_a_usage_error(server, hermetic, capsys) -> None:
    code, doc, err = run_pb(capsys, "install", "--venv", hermetic / "v", "--installer", "conda", *gpu(server))
    assert code == 2
    assert "error: --installer conda installs into a conda environment, not into venv" in err
    assert not (hermetic / "v").exists()


# --- proxies and the user's pip configuration pass through ------------------------------------------------------

def test_a_proxy_from_the_environment_reaches_pip(server, index, template, hermetic, capsys,
                                                      monkeypatch) -> None:
    prefix = fake_torch.copy_venv(template, hermetic / "v")
    with IndexServer(index) as proxy:  # a forward proxy that answers from the same files
        monkeypatch.setenv("HTTP_PROXY", f"http://user:s3cret@127.0.0.1:{proxy.url.rsplit(':', 1)[1]}")
        code, doc, err = run_pb(capsys, "install", "--json", "--venv", prefix, *gpu(server))
        assert code == 0, err
        assert f"{server.url}/files/torch-2.5.1%2Bcu124-py3-none-any.whl" in proxy.targets
    assert server.requests == []  # everything went through the proxy
    assert "s3cret" not in Path(doc["log_path"]).read_text()


def test_the_users_pip_configuration_is_respected(server, index, template, hermetic, capsys, monkeypatch) -> None:
    prefix = fake_torch.copy_venv(template, hermetic / "v")
    with IndexServer(index) as proxy:
        config = hermetic / "pip.conf"
        text = f"[global]\nproxy = {proxy.url}\n"
        config.write_text(text)
        monkeypatch.setenv("PIP_CONFIG_FILE", str(config))
        code, doc, err = run_pb(capsys, "install", "--venv", prefix, *gpu(server))
        assert code == 0, err
        assert f"{server.url}/cu124/torch/" in proxy.targets
    assert server.requests == []
    assert config.read_text() == text  # read, never rewritten


# --- conda (a fake conda executable that records its argv) -----------------------------------------------------

@pytest.fixture
def conda(template: Path, hermetic: Path, monkeypatch: pytest.MonkeyPatch):
    if sys.platform == "win32":
        pytest.skip("the fake conda is a #! script")
    log = hermetic / "conda-calls.jsonl"
    fake_torch.write_fake_conda(hermetic / "bin", log=log, root=hermetic / "miniforge", template=template,
                                torch_config=fake_torch.gpu_config("2.5.1", "12.4"))
    monkeypatch.setenv("PATH", f"{hermetic / 'bin'}{os.pathsep}{os.environ['PATH']}")
    return lambda: fake_torch.conda_calls(log)


def test_conda_creates_the_env_and_installs_exactly_the_planned_packages(server, conda, hermetic, capsys) -> None:
    prefix = hermetic / "miniforge" / "envs" / "ml"
    code, doc, err = run_pb(capsys, "install", "--json", "--installer", "conda", "--conda-env", "ml",
                            "--nvidia-smi-file", SMI_RTX3070, "--torch", "2.5.1", "--variant", "cu124")
    assert code == 0, err
    assert conda() == [
        ["info", "--json"],
        ["create", "-y", "-p", str(prefix), f"python={PY_XY}", "pip", "-c", "pytorch", "-c", "nvidia"],
        ["install", "-p", str(prefix), "-y", "pytorch==2.5.1", "torchvision==0.20.1", "torchaudio==2.5.1",
         "pytorch-cuda=12.4", "-c", "pytorch", "-c", "nvidia"]]
    assert doc["build"]["installer"] == "conda" and doc["target"]["conda_name"] == "ml"
    assert doc["verification"]["status"] == "ok" and doc["verification"]["torch_version"] == "2.5.1"
    assert state(prefix)["status"] == "good"

    code, doc, err = run_pb(capsys, "install", "--json", "--installer", "conda", "--conda-env", "ml",
                            "--nvidia-smi-file", SMI_RTX3070, "--torch", "2.5.1", "--variant", "cu124")
    assert code == 0, err
    assert doc["already_installed"] is True
    assert conda()[3:] == [["info", "--json"]]


def test_conda_replaces_a_cpu_build_with_conda_remove_of_the_family(server, conda, hermetic, capsys) -> None:
    prefix = hermetic / "miniforge" / "envs" / "ml"
    code, doc, err = run_pb(capsys, "install", "--installer", "conda", "--conda-env", "ml", "--no-gpu",
                            "--torch", "2.5.1", "--variant", "cpu")
    assert code == 0, err
    assert conda()[-1] == ["install", "-p", str(prefix), "-y", "pytorch==2.5.1", "torchvision==0.20.1",
                           "torchaudio==2.5.1", "cpuonly", "-c", "pytorch"]
    code, doc, err = run_pb(capsys, "install", "--installer", "conda", "--conda-env", "ml",
                            "--nvidia-smi-file", SMI_RTX3070, "--torch", "2.5.1", "--variant", "cu124")
    assert code == 0, err
    assert conda()[-3:] == [
        ["info", "--json"],
        ["remove", "-y", "-p", str(prefix), "--force", "pytorch", "torchvision", "torchaudio", "cpuonly"],
        ["install", "-p", str(prefix), "-y", "pytorch==2.5.1", "torchvision==0.20.1", "torchaudio==2.5.1",
         "pytorch-cuda=12.4", "-c", "pytorch", "-c", "nvidia"]]
    assert "replacing torch 2.5.1 with 2.5.1+cu124 (only the torch family)" in err


def test_conda_after_2_5_is_pip_inside_a_conda_env_and_says_so(server, conda, hermetic, capsys) -> None:
    prefix = hermetic / "miniforge" / "envs" / "new"
    code, doc, err = run_pb(capsys, "install", "--json", "--installer", "conda", "--conda-env", "new",
                            *gpu(server, variant="cu126", torch="2.14"))
    assert code == 0, err
    assert conda() == [["info", "--json"], ["create", "-y", "-p", str(prefix), f"python={PY_XY}", "pip"]]
    assert doc["build"]["installer"] == "pip" and doc["build"]["environment"] == "conda"
    said = [r for r in doc["reasons"] if r.startswith("torch 2.14.1 cu126 is not on the pytorch conda channel")]
    assert len(said) == 1 and said[0].endswith("so pip installs it from the PyTorch index inside the conda "
                                               "environment")
    assert [c["argv"][:4] for c in log_of(doc)["commands_run"] if c["argv"][1:3] == ["-m", "pip"]] == [
        [str(prefix / "bin" / "python"), "-m", "pip", "install"]]
    assert doc["verification"]["torch_version"] == "2.14.1+cu126" and doc["verification"]["status"] == "ok"


def test_conda_failing_is_exit_4_with_its_output(server, template, hermetic, capsys, monkeypatch) -> None:
    if sys.platform == "win32":
        pytest.skip("the fake conda is a #! script")
    log = hermetic / "calls.jsonl"
    exe = fake_torch.write_fake_conda(hermetic / "bin", log=log, root=hermetic / "miniforge", template=template,
                                      torch_config=fake_torch.gpu_config("2.5.1", "12.4"), fail="install")
    code, doc, err = run_pb(capsys, "install", "--conda-exe", exe, "--conda-prefix", hermetic / "env",
                            "--installer", "conda", "--nvidia-smi-file", SMI_RTX3070, "--torch", "2.5.1",
                            "--variant", "cu124")
    assert code == 4
    assert "error: conda install failed (exit 1)" in err
    assert "CondaError: simulated failure of conda install" in err
    assert [c[0] for c in fake_torch.conda_calls(log)] == ["create", "install"]
    assert state(hermetic / "env")["status"] == "installing"


def test_installer_conda_without_a_target_uses_a_conda_env_under_the_home(conda, hermetic, capsys) -> None:
    code, doc, err = run_pb(capsys, "install", "--json", "--dry-run", "--installer", "conda", "--no-gpu",
                            "--torch", "2.5.1", "--variant", "cpu")
    assert code == 0, err
    prefix = hermetic / "home" / "envs" / "torch-conda"
    assert doc["target"]["kind"] == "conda" and doc["target"]["prefix"] == str(prefix)
    assert [s[1:] for s in doc["steps"]] == [
        ["create", "-y", "-p", str(prefix), f"python={PY_XY}", "pip", "-c", "pytorch"],
        ["install", "-p", str(prefix), "-y", "pytorch==2.5.1", "torchvision==0.20.1", "torchaudio==2.5.1",
         "cpuonly", "-c", "pytorch"]]
    assert conda() == [] and not prefix.exists()


def test_a_new_conda_env_gets_a_python_the_build_supports(conda, hermetic, capsys) -> None:
    releases = load_manifest().releases
    release = next((r for r in releases if r.on_conda and PY_XY not in r.python["linux"]), None)
    if release is None or sys.platform != "linux":
        pytest.skip(f"every conda release in the manifest supports Python {PY_XY}, or this is not Linux")
    newest = max(release.python["linux"], key=lambda v: tuple(int(x) for x in v.split(".")))
    code, doc, err = run_pb(capsys, "install", "--json", "--dry-run", "--installer", "conda", "--conda-env", "old",
                            "--no-gpu", "--torch", str(release.torch), "--variant", "cpu")
    assert code == 0, err
    assert doc["steps"][0][1:6] == ["create", "-y", "-p", str(hermetic / "miniforge" / "envs" / "old"),
                                    f"python={newest}"]
    assert (f"the new conda environment gets Python {newest}, because torch {release.torch} has no linux "
            f"packages for Python {PY_XY} (the Python running pybootstrap)") in doc["reasons"]


# --- one run per environment; --log - ---------------------------------------------------------------------------

LOCK_HOLDER = """
import sys, time
from pathlib import Path
from pybootstrap import lock
with lock.hold(Path(sys.argv[1]), what="install"):
    print("held", flush=True)
    time.sleep(120)
"""


def test_a_second_install_into_a_busy_environment_is_exit_10_and_changes_nothing(server, template, hermetic,
                                                                                 capsys) -> None:
    prefix = fake_torch.copy_venv(template, hermetic / "v")
    holder = subprocess.Popen([sys.executable, "-c", LOCK_HOLDER, str(prefix)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        code, doc, err = run_pb(capsys, "install", "--json", "--venv", prefix, *gpu(server))
    finally:
        holder.kill()
        holder.wait()
    assert code == 10, err
    assert doc is not None
    assert (doc["status"], doc["exit_code"], doc["error"]["kind"]) == ("failed", 10, "busy")
    assert f"pid {holder.pid}" in doc["error"]["message"]
    assert doc["error"]["message"].startswith("another install is running in this environment since ")
    assert server.requests == []  # nothing was fetched, nothing installed
    assert not (prefix / environments.STATE_FILE).exists()  # not touched, let alone marked good
    # the holder is gone: the lock it left is stale and the next run proceeds
    code, doc, err = run_pb(capsys, "install", "--json", "--venv", prefix, *gpu(server))
    assert code == 0, err


def test_log_dash_writes_the_log_to_stdout_and_nothing_to_the_home(server, template, hermetic, capsys) -> None:
    prefix = fake_torch.copy_venv(template, hermetic / "v")
    code = cli.main(["install", "--venv", str(prefix), *gpu(server), "--log", "-"])
    out, err = capsys.readouterr()
    assert code == 0, err
    log = json.loads(out)
    assert (log["schema"], log["status"], log["exit_code"]) == ("pybootstrap.install/1", "ok", 0)
    assert log["verification"]["status"] == "ok"
    assert not list((hermetic / "home" / "logs").glob("install-*.json"))


def test_log_dash_with_json_is_a_usage_error(hermetic, capsys) -> None:
    code, doc, err = run_pb(capsys, "install", "--json", "--no-gpu", "--log", "-")
    assert code == 2
    assert "error: --log - and --json both write to stdout" in err


# --- a dead index fails fast, in one line, before anything is created -------------------------------------------

def test_an_index_host_that_does_not_resolve_is_one_lookup_and_one_line(hermetic, capsys, lookups) -> None:
    host = "index.pybootstrap-test.invalid"  # RFC 2606: .invalid never resolves
    prefix = hermetic / "v"
    code, doc, err = run_pb(capsys, "install", "--json", "--venv", prefix, "--nvidia-smi-file", SMI_RTX3070,
                            "--torch", "2.5.1", "--variant", "cu124", "--index-url", f"https://{host}/whl/cu124")
    assert code == 6
    assert doc is not None and (doc["status"], doc["exit_code"]) == ("failed", 6)
    assert doc["error"]["message"] == (f"cannot reach the package index https://{host}/whl/cu124: the name {host} "
                                       "did not resolve (DNS)")
    assert lookups.count(host) == 1  # no retries of a name that does not resolve
    assert [c for c in log_of(doc)["commands_run"] if c["argv"][1:4] == ["-m", "pip", "install"]] == []
    assert not prefix.exists()


def test_a_proxy_wanting_credentials_is_one_request_and_one_line(hermetic, capsys, monkeypatch) -> None:
    from indexserver import ProxyServer

    prefix = hermetic / "v"
    with ProxyServer() as proxy:
        port = proxy.url.rsplit(":", 1)[1]
        monkeypatch.setenv("HTTPS_PROXY", proxy.url.replace("http://", "http://fleet:s3cret@"))
        code, doc, err = run_pb(capsys, "install", "--json", "--venv", prefix, "--nvidia-smi-file", SMI_RTX3070,
                                "--torch", "2.5.1", "--variant", "cu124")
        seen = list(proxy.requests)
    assert code == 6
    assert doc is not None and doc["error"]["message"] == (
        "cannot reach the package index https://download.pytorch.org/whl/cu124: the proxy 127.0.0.1:"
        f"{port} wants authentication (HTTP 407 Proxy Authentication Required) to reach download.pytorch.org")
    assert seen == ["CONNECT download.pytorch.org:443"]
    assert "s3cret" not in err and "s3cret" not in json.dumps(doc) and "s3cret" not in json.dumps(log_of(doc))
    assert not prefix.exists()

"""Bad paths, conflicting flags and odd inputs: an exit code from CONTRACT.md and a message, never a traceback."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import pytest

from pybootstrap import cli, hardware

DATA = Path(__file__).parent / "data"
SMI = str(DATA / "nvidia-smi" / "linux-2x-rtx4090-535.161.07.txt")


@pytest.fixture(autouse=True)
def home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in list(os.environ):
        if name.startswith("PYBOOTSTRAP_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("PYBOOTSTRAP_HOME", str(tmp_path / "home"))
    return tmp_path


def run(capsys: pytest.CaptureFixture, argv: List[str],
        environ: Optional[Dict[str, str]] = None) -> Tuple[int, str, str]:
    code = cli.main(argv, environ=dict(os.environ, **(environ or {})))
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "Traceback" not in out
    return code, out, err


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX paths")
@pytest.mark.parametrize("argv, env, fragment, advice", [
    (["install", "--no-gpu", "--torch", "2.5.1", "--variant", "cpu"], {"PYBOOTSTRAP_HOME": "/proc/nope"},
     "error: cannot write the log there: No such file or directory: /proc/nope",
     "what to do: Give --log a new or regular file in a writable folder"),
    (["install", "--no-gpu", "--venv", "/proc/nope/env", "--torch", "2.5.1", "--variant", "cpu"], {},
     "error: No such file or directory: /proc/nope", "what to do: Check the path and its permissions"),
    (["download", "--no-gpu", "--torch", "2.5.1", "--variant", "cpu", "--to", "/proc/nope"], {},
     "error: No such file or directory: /proc/nope", "what to do: Check the path and its permissions"),
], ids=["unwritable-home", "unwritable-venv", "unwritable-download-folder"])
def test_a_path_that_cannot_be_used_is_exit_8(argv, env, fragment, advice, capsys) -> None:
    code, out, err = run(capsys, argv, env)
    assert code == 8, err
    assert fragment in err
    assert advice in err


def test_download_into_an_existing_file_is_exit_8(tmp_path, capsys) -> None:
    target = tmp_path / "afile"
    target.write_text("x")
    code, out, err = run(capsys, ["download", "--no-gpu", "--torch", "2.5.1", "--variant", "cpu", "--to",
                                  str(target)])
    assert code == 8 and "File exists" in err


@pytest.mark.parametrize("argv, fragment", [
    (["install", "--os", "windows", "--no-gpu"], "--os describes another machine, but install installs on this one"),
    (["install", "--arch", "arm64", "--no-gpu"], "--arch describes another machine"),
    (["install", "--python-version", "3.9", "--no-gpu", "--torch", "2.5.1", "--variant", "cpu"],
     "--python-version 3.9 does not match the target's Python"),
    (["plan", "--index-url", "https://a.example/whl", "--mirror", "https://b.example/whl"],
     "--index-url and --mirror both name where torch comes from"),
    (["plan", "--no-gpu", "--gpu", "NVIDIA GeForce RTX 3060"], "--no-gpu contradicts --gpu / --compute-capability"),
    (["install", "--venv", "", "--no-gpu"], "--venv: an empty value"),
    (["manifest"], "pybootstrap needs an action: manifest validate [PATH_OR_URL] | manifest show"),
    (["detect", "--os", "windows"], "unrecognized arguments: --os windows"),
    (["verify", "--driver", "600"], "unrecognized arguments: --driver 600"),
    (["plan", "--log", "x.json"], "unrecognized arguments: --log x.json"),
    (["install", "--venv", "a", "--conda-env", "b", "--no-gpu"], "give only one target: --venv / --conda-env"),
    (["verify", "--python", "p", "--conda-prefix", "c"], "give only one target: --python / --conda-prefix"),
], ids=lambda v: " ".join(v) if isinstance(v, list) else None)
def test_conflicting_or_misplaced_flags_are_usage_errors(argv, fragment, capsys) -> None:
    code, out, err = run(capsys, argv)
    assert code == 2, err
    assert fragment in err
    assert out == ""


def test_install_fleet_wide_os_variable_is_refused_not_ignored(capsys) -> None:
    code, out, err = run(capsys, ["install", "--no-gpu"], {"PYBOOTSTRAP_OS": "windows"})
    assert code == 2
    assert "PYBOOTSTRAP_OS describes another machine" in err


def test_a_failed_install_with_json_prints_its_own_document_with_the_error(capsys) -> None:
    code, out, err = run(capsys, ["install", "--json", "--no-gpu", "--torch", "9.9"])
    assert code == 3
    doc = json.loads(out)
    assert doc["schema"] == "pybootstrap.install/1" and doc["status"] == "no-compatible-build"
    assert doc["error"]["kind"] == "no-compatible-build" and doc["error"]["exit_code"] == 3
    assert doc["log_path"] and Path(doc["log_path"]).is_file()
    assert out.count("\n{") == 0 and out.strip().startswith("{")  # one document, nothing else


def test_json_from_the_environment_also_covers_usage_errors(capsys) -> None:
    code, out, err = run(capsys, ["plan", "--bogus"], {"PYBOOTSTRAP_JSON": "1"})
    assert code == 2
    assert json.loads(out)["error"]["kind"] == "usage"


def test_an_unsupported_architecture_is_exit_8(monkeypatch, capsys) -> None:
    monkeypatch.setattr(hardware, "machine_name", lambda: "ppc64le")
    code, out, err = run(capsys, ["plan", "--no-gpu"])
    assert code == 8
    assert "error: unsupported architecture: ppc64le" in err


def test_a_missing_conda_exe_is_exit_8(capsys) -> None:
    code, out, err = run(capsys, ["install", "--conda-env", "ml", "--conda-exe", "/nonexistent/conda", "--no-gpu",
                                  "--dry-run"])
    assert code == 8
    assert "error: --conda-exe /nonexistent/conda: no such executable" in err


def test_an_amd_gpu_given_as_what_if_does_not_count_for_cuda(capsys) -> None:
    code, out, err = run(capsys, ["plan", "--json", "--gpu", "AMD Radeon RX 7900 XTX", "--driver", "600"])
    doc = json.loads(out)
    assert code == 0 and doc["build"]["variant"] == "cpu"
    assert [g["vendor"] for g in doc["hardware"]["gpus"]] == ["amd"]


def test_a_log_path_that_cannot_be_written_is_refused_up_front_and_logged_by_default(home, tmp_path, capsys) -> None:
    venv = tmp_path / "v"
    venv.mkdir()
    (venv / "pyvenv.cfg").write_text("home = /usr/bin\n")
    code, out, err = run(capsys, ["verify", "--json", "--venv", str(venv), "--log", "/proc/nope/log.json", "-q"])
    assert code == 8
    assert "error: cannot write the log there: No such file or directory: /proc/nope" in err  # shown even with -q
    doc = json.loads(out)
    assert doc["error"]["kind"] == "environment"
    # refused before any work; this run's own log went to the default place instead
    assert Path(doc["log_path"]).parent == Path(os.environ["PYBOOTSTRAP_HOME"]) / "logs"
    assert json.loads(Path(doc["log_path"]).read_text(encoding="utf-8"))["exit_code"] == 8


def test_diagnose_reads_text_saved_as_utf16(tmp_path, capsys) -> None:
    pasted = tmp_path / "paste.txt"
    pasted.write_bytes("RuntimeError: CUDA error: no kernel image is available for execution on the device\r\n"
                       .encode("utf-16"))
    code, out, err = run(capsys, ["diagnose", "--json", str(pasted)])
    assert code == 0
    assert json.loads(out)["findings"][0]["kind"] == "no-kernel-image"


@pytest.mark.parametrize("platform, folder", [("linux", "~/wheels"), ("win32", "D:\\wheels")])
def test_download_without_to_suggests_a_folder_written_for_this_system(platform, folder, monkeypatch,
                                                                       capsys) -> None:
    monkeypatch.setattr(sys, "platform", platform)
    code, out, err = run(capsys, ["download", "--no-gpu"])
    assert code == 2
    assert err.splitlines() == ["error: download needs --to DIR",
                                f"  what to do: Give the folder to fill: pybootstrap download --to {folder}"]

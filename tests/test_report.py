"""The verification log: what a verify run writes, where, atomically; failed runs log too."""

from __future__ import annotations

import json
import os
import re
import stat
import sys
from pathlib import Path
from typing import Any, Dict, Tuple

import fake_torch
import pytest
from test_verify import NO_GPU, RTX4070, clear_site, cuda_config, make_venv

from pybootstrap import __version__, cli, report
from pybootstrap.errors import EnvironmentProblem

TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


@pytest.fixture(scope="session")
def session_venv(tmp_path_factory: pytest.TempPathFactory) -> Tuple[Path, Path, Path]:
    return make_venv(tmp_path_factory.mktemp("report-venv"))


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "home"
    monkeypatch.setenv("PYBOOTSTRAP_HOME", str(path))
    return path


@pytest.fixture
def healthy(session_venv, home):
    prefix, python, site = session_venv
    clear_site(site)
    fake_torch.install_into(site, cuda_config())
    yield python
    clear_site(site)


def run(capsys: pytest.CaptureFixture, *argv: str) -> Tuple[int, Dict[str, Any]]:
    code = cli.main(list(argv) + ["--json"])
    return code, json.loads(capsys.readouterr().out)


def only_log(home: Path) -> Path:
    logs = [p for p in (home / "logs").glob("*.json") if p.name != "latest.json"]
    assert len(logs) == 1, logs
    return logs[0]


def test_verify_writes_the_log(healthy, home, capsys):
    code, doc = run(capsys, "verify", "--python", str(healthy), "--nvidia-smi-file", str(RTX4070))
    assert code == 0
    path = only_log(home)
    assert re.fullmatch(r"verify-\d{8}-\d{6}-\d+\.json", path.name)
    assert doc["log_path"] == str(path)
    assert (home / "logs" / "latest.json").read_bytes() == path.read_bytes()
    assert path.with_suffix(".txt").is_file()
    assert not list((home / "logs").glob("*.tmp"))
    log = json.loads(path.read_text(encoding="utf-8"))
    assert log["schema"] == "pybootstrap.verify/1"
    assert log["log_schema"] == report.LOG_SCHEMA == "pybootstrap.log/1"
    assert log["pybootstrap_version"] == __version__
    assert log["command"] == "verify"
    assert TIMESTAMP.fullmatch(log["started"]) and TIMESTAMP.fullmatch(log["finished"])
    assert log["started"] <= log["finished"]
    assert log["exit_code"] == 0 and log["error"] is None
    assert log["timings_s"]["total"] >= 0
    assert log["hardware"]["driver_version"] == "550.40.07"
    assert [g["name"] for g in log["hardware"]["gpus"]] == ["NVIDIA GeForce RTX 4070"]
    assert log["target"]["python"] == str(healthy)
    for key in ("status", "python", "torch_version", "cuda_build", "cuda_available", "devices", "arch_list", "checks",
                "diagnosis", "matmul", "warnings"):
        assert log[key] == doc[key], key
    assert log["status"] == "ok" and log["torch_version"] == "2.5.1+cu124"
    probes = [c for c in log["commands_run"] if any(str(a).endswith("_probe.py") for a in c["argv"])]
    assert len(probes) == 1
    assert probes[0]["argv"][0] == str(healthy)
    assert probes[0]["exit_code"] == 0
    assert "PYBOOTSTRAP-PROBE " in probes[0]["output_tail"]
    for command in log["commands_run"]:
        assert isinstance(command["argv"], list) and isinstance(command["exit_code"], int)
        assert isinstance(command["output_tail"], str)


def test_text_summary_beside_the_log(healthy, home, capsys):
    run(capsys, "verify", "--python", str(healthy), "--nvidia-smi-file", str(RTX4070))
    text = only_log(home).with_suffix(".txt").read_text(encoding="utf-8")
    lines = text.splitlines()
    assert re.fullmatch(rf"pybootstrap {re.escape(__version__)} verify  \S+ -> \S+  exit 0", lines[0])
    assert lines[1].startswith("machine: ") and lines[1].endswith("driver 550.40.07 (CUDA 12.4), GPUs: "
                                                                  "NVIDIA GeForce RTX 4070 (8.9)")
    assert "verification: ok - torch 2.5.1+cu124, CUDA build 12.4, cuda available True" in lines
    assert "  [pass] matmul[0]: max abs error 0.0 against the CPU result" in lines
    assert lines[-1].startswith("timings: total ")


def test_degraded_run_logs_its_diagnosis(session_venv, home, capsys):
    prefix, python, site = session_venv
    clear_site(site)
    fake_torch.install_into(site, fake_torch.torch_config("2.5.1+cpu", None))
    try:
        code, doc = run(capsys, "verify", "--python", str(python), "--nvidia-smi-file", str(RTX4070))
    finally:
        clear_site(site)
    assert code == 5
    log = json.loads((home / "logs" / "latest.json").read_text(encoding="utf-8"))
    assert log["exit_code"] == 5 and log["status"] == "degraded"
    assert [d["kind"] for d in log["diagnosis"]] == ["torch-not-cuda-build"]
    assert "  ! torch-not-cuda-build: " in only_log(home).with_suffix(".txt").read_text(encoding="utf-8")


@pytest.mark.parametrize("target", ["--venv", "--python"])
def test_failed_run_still_writes_a_log(home, capsys, tmp_path, target):
    missing = tmp_path / "no-such-env"
    code = cli.main(["verify", target, str(missing if target == "--venv" else missing / "bin" / "python"),
                     "--nvidia-smi-file", str(NO_GPU)])
    err = capsys.readouterr().err
    assert code == 8
    path = only_log(home)
    assert f"(log: {path})" in err
    log = json.loads(path.read_text(encoding="utf-8"))
    assert (home / "logs" / "latest.json").read_bytes() == path.read_bytes()
    assert log["exit_code"] == 8
    assert log["error"]["kind"] == "environment"
    assert str(missing) in log["error"]["message"]
    assert log["schema"] == "pybootstrap.verify/1" and log["log_schema"] == "pybootstrap.log/1"
    assert "error: " in path.with_suffix(".txt").read_text(encoding="utf-8")


def test_log_flag_puts_the_log_there(healthy, home, capsys, tmp_path):
    wanted = tmp_path / "reports" / "run1.json"
    code, doc = run(capsys, "verify", "--python", str(healthy), "--nvidia-smi-file", str(RTX4070), "--log", str(wanted))
    assert code == 0
    assert doc["log_path"] == str(wanted)
    assert json.loads(wanted.read_text(encoding="utf-8"))["status"] == "ok"
    assert (tmp_path / "reports" / "run1.txt").is_file()
    assert (home / "logs" / "latest.json").read_bytes() == wanted.read_bytes()
    # beside the log: what the commands printed (the probe's JSON here)
    assert sorted(p.name for p in (tmp_path / "reports").iterdir()) == ["run1.json", "run1.output.txt", "run1.txt"]
    assert '"torch_version"' in (tmp_path / "reports" / "run1.output.txt").read_text(encoding="utf-8")


def test_log_flag_with_a_folder_and_a_txt_name(healthy, home, capsys, tmp_path):
    folder = tmp_path / "logs-here"
    folder.mkdir()
    code, doc = run(capsys, "verify", "--python", str(healthy), "--nvidia-smi-file", str(RTX4070), "--log",
                    str(folder) + os.sep)
    assert Path(doc["log_path"]).parent == folder and doc["log_path"].endswith(".json")
    code, doc = run(capsys, "verify", "--python", str(healthy), "--nvidia-smi-file", str(RTX4070),
                    "--log", str(tmp_path / "x.txt"))
    assert json.loads((tmp_path / "x.txt").read_text(encoding="utf-8"))["status"] == "ok"
    assert (tmp_path / "x.txt.txt").read_text(encoding="utf-8").startswith("pybootstrap ")


def test_two_runs_in_one_second_keep_both_logs(home):
    log = {"command": "verify", "status": "ok"}
    first = report.write_log(log, home=home)
    second = report.write_log(dict(log, status="degraded"), home=home)
    assert first != second
    assert json.loads(first.read_text(encoding="utf-8"))["status"] == "ok"
    assert json.loads((home / "logs" / "latest.json").read_text(encoding="utf-8"))["status"] == "degraded"


# --- atomic writes ----------------------------------------------------------------------------------

def test_atomic_write_replaces_and_leaves_no_temp(tmp_path):
    target = tmp_path / "log.json"
    report._atomic_write(target, "old\n")
    report._atomic_write(target, "new\n")
    assert target.read_text(encoding="utf-8") == "new\n"
    assert [p.name for p in tmp_path.iterdir()] == ["log.json"]


def test_failing_write_keeps_the_old_file(tmp_path):
    target = tmp_path / "log.json"
    report._atomic_write(target, "old\n")
    with pytest.raises(UnicodeEncodeError):
        report._atomic_write(target, "half written \udc80 then failed")
    assert target.read_text(encoding="utf-8") == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["log.json"]


def test_failing_rename_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "log.json"
    report._atomic_write(target, "old\n")

    def refuse(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(report.os, "replace", refuse)
    with pytest.raises(OSError):
        report._atomic_write(target, "new\n")
    assert target.read_text(encoding="utf-8") == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["log.json"]


def test_build_log_redacts_and_rounds():
    log = report.build_log({"schema": "pybootstrap.verify/1", "warnings": ["via http://u:pw@proxy:3128"]},
                           started="2026-01-01T00:00:00Z", command="verify", argv=["--index-url", "https://t:k@h/s"],
                           commands=[], settings=[], timings={"total": 1.23456}, exit_code=5)
    assert log["warnings"] == ["via http://***@proxy:3128"]
    assert log["argv"] == ["--index-url", "https://***@h/s"]
    assert log["timings_s"] == {"total": 1.235}
    assert log["exit_code"] == 5 and log["log_schema"] == "pybootstrap.log/1"


# --- where a log may go: only a regular file (or a new one), never through a link ---------------------------------

def _device(tmp_path: Path) -> Path:
    """A character device node like /dev/full (1, 7), made in tmp_path (needs root)."""
    path = tmp_path / "full"
    try:
        os.mknod(path, stat.S_IFCHR | 0o600, os.makedev(1, 7))
    except (AttributeError, PermissionError, OSError) as exc:
        pytest.skip(f"cannot create a device node here ({exc}); run as root on Linux")
    return path


def _fifo(tmp_path: Path) -> Path:
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs on this platform")
    path = tmp_path / "fifo"
    os.mkfifo(path)
    return path


def _symlink(tmp_path: Path) -> Path:
    target = tmp_path / "precious.txt"
    target.write_text("keep me\n")
    path = tmp_path / "link.json"
    path.symlink_to(target)
    return path


def _dangling_symlink(tmp_path: Path) -> Path:
    path = tmp_path / "dangling.json"
    path.symlink_to(tmp_path / "would-be-created.json")
    return path


def _folder(tmp_path: Path) -> Path:
    path = tmp_path / "a-folder"
    path.mkdir()
    return path


def _under_a_file(tmp_path: Path) -> Path:
    (tmp_path / "plain").write_text("a regular file\n")
    return tmp_path / "plain" / "x.json"


def _snapshot(tmp_path: Path) -> dict:
    """Every entry under tmp_path with its type and, for regular files, its content."""
    out = {}
    for path in sorted(tmp_path.rglob("*")):
        mode = os.lstat(path).st_mode
        out[str(path)] = (stat.S_IFMT(mode), path.read_bytes() if stat.S_ISREG(mode) else None)
    return out


BAD_PATHS = {"device": (_device, "the log path is a device, not a regular file (left as it is)"),
             "fifo": (_fifo, "the log path is a FIFO, not a regular file (left as it is)"),
             "symlink": (_symlink, "the log path is a symbolic link, not a regular file (left as it is)"),
             "dangling-symlink": (_dangling_symlink,
                                  "the log path is a symbolic link, not a regular file (left as it is)"),
             "folder": (_folder, "the log path is a folder, not a file (to write a log named by pybootstrap into "
                                 f"it, end the path with {os.sep})"),
             "under-a-file": (_under_a_file, None)}


@pytest.mark.parametrize("kind", list(BAD_PATHS))
def test_a_log_path_that_is_not_a_regular_file_is_refused_up_front(kind, tmp_path, home):
    make, reason = BAD_PATHS[kind]
    path = make(tmp_path)
    before = _snapshot(tmp_path)
    with pytest.raises(EnvironmentProblem) as info:
        report.check_log_destination(str(path), home)
    assert info.value.exit_code == 8
    if reason:
        assert info.value.message == f"cannot write the log there: {reason}: {path}"
    else:
        assert info.value.message.startswith("cannot write the log there: ") and "plain" in info.value.message
    # and writing it anyway (a path changed after the check) replaces nothing either
    with pytest.raises(OSError):
        report.write_log({"command": "verify", "status": "ok"}, home=home, explicit=str(path))
    assert _snapshot(tmp_path) == before


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/dev/null and /proc are Linux paths here")
@pytest.mark.parametrize("path", ["/dev/null", "/dev/full", "/proc/x.json", "/proc/nope/x.json"])
def test_system_paths_are_refused_and_left_alone(path, home):
    before = os.lstat(path).st_mode if os.path.lexists(path) else None
    with pytest.raises(EnvironmentProblem) as info:
        report.check_log_destination(path, home)
    assert info.value.exit_code == 8 and info.value.message.startswith("cannot write the log there: ")
    with pytest.raises(OSError):
        report.write_log({"command": "verify"}, home=home, explicit=path)
    after = os.lstat(path).st_mode if os.path.lexists(path) else None
    assert after == before
    if before is not None:
        assert stat.S_ISCHR(after)


def test_a_regular_file_or_a_new_one_is_fine(tmp_path, home):
    existing = tmp_path / "old.json"
    existing.write_text("{}\n")
    assert report.check_log_destination(str(existing), home) == report.LogDestination("file", existing)
    new = tmp_path / "new" / "deeper" / "run.json"
    assert report.check_log_destination(str(new), home) == report.LogDestination("file", new)
    assert new.parent.is_dir() and list(new.parent.iterdir()) == []  # the folder is made, nothing left in it
    assert report.check_log_destination(None, home) == report.LogDestination("default", home / "logs")
    assert report.check_log_destination(str(tmp_path) + os.sep, home) == report.LogDestination("folder", tmp_path)


def test_a_link_at_latest_json_is_refused(home, tmp_path):
    target = tmp_path / "elsewhere.json"
    target.write_text("mine\n")
    (home / "logs").mkdir(parents=True)
    (home / "logs" / "latest.json").symlink_to(target)
    with pytest.raises(EnvironmentProblem) as info:
        report.check_log_destination(None, home)
    assert info.value.message == ("cannot write the log there: the log path is a symbolic link, not a regular file "
                                  f"(left as it is): {home / 'logs' / 'latest.json'}")
    assert target.read_text() == "mine\n"


def test_a_file_swapped_for_a_fifo_before_the_rename_is_left_alone(tmp_path, monkeypatch):
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs on this platform")
    target = tmp_path / "log.json"
    real = report.tempfile.mkstemp

    def swap(*args, **kwargs):  # between the first check and the rename, another process puts a FIFO there
        made = real(*args, **kwargs)
        os.mkfifo(target)
        return made

    monkeypatch.setattr(report.tempfile, "mkstemp", swap)
    with pytest.raises(report.NotARegularFile):
        report._atomic_write(target, "new\n")
    assert stat.S_ISFIFO(os.lstat(target).st_mode)
    assert [p.name for p in tmp_path.iterdir()] == ["log.json"]


def test_log_dash_writes_the_json_to_stdout(home, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    log = {"command": "verify", "status": "ok", "exit_code": 0}
    assert report.write_log(log, home=home, explicit="-") is None
    out = capsys.readouterr().out
    assert json.loads(out) == log and out.endswith("}\n")
    assert list(tmp_path.iterdir()) == [home]  # no file named "-"
    assert json.loads((home / "logs" / "latest.json").read_text(encoding="utf-8")) == log


def test_a_dry_run_leaves_latest_json_alone(home):
    first = report.write_log({"command": "install", "status": "ok", "exit_code": 0}, home=home)
    dry = report.write_log({"command": "install", "status": "dry-run", "exit_code": 0}, home=home,
                           update_latest=False)
    assert json.loads(dry.read_text(encoding="utf-8"))["status"] == "dry-run"
    assert (home / "logs" / "latest.json").read_bytes() == first.read_bytes()


def test_the_full_output_goes_beside_the_log_redacted(home):
    output = "Looking in indexes: https://tok:ghp_secret@mirror.example/simple\nCollecting torch==2.5.1+cu124\n"
    path = report.write_log({"command": "install", "status": "failed"}, home=home, full_output=output)
    beside = path.with_name(path.stem + ".output.txt")
    assert beside.read_text(encoding="utf-8") == ("Looking in indexes: https://***@mirror.example/simple\n"
                                                  "Collecting torch==2.5.1+cu124\n")
    assert json.loads(path.read_text(encoding="utf-8"))["output_path"] == str(beside)


def test_commands_output_keeps_every_line_of_every_command():
    from pybootstrap._subprocess import CommandResult

    results = [CommandResult(["py", "-m", "pip", "install", "torch"], 1, "line 1\nline 2", "ERROR: boom"),
               CommandResult(["py", "-c", "pass"], 0)]
    assert report.commands_output(results) == ("$ py -m pip install torch\n(exit 1)\nline 1\nline 2\nERROR: boom\n"
                                               "\n$ py -c pass\n(exit 0)\n")

"""The verification log: what a verify run writes, where, atomically; failed runs log too."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Dict, Tuple

import fake_torch
import pytest
from test_verify import NO_GPU, RTX4070, clear_site, cuda_config, make_venv

from pybootstrap import __version__, cli, report

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
    assert sorted(p.name for p in (tmp_path / "reports").iterdir()) == ["run1.json", "run1.txt"]


def test_log_flag_with_a_folder_and_a_txt_name(healthy, home, capsys, tmp_path):
    folder = tmp_path / "logs-here"
    folder.mkdir()
    code, doc = run(capsys, "verify", "--python", str(healthy), "--nvidia-smi-file", str(RTX4070), "--log", str(folder))
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

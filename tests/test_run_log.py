"""The logged run: one status per run, derived from how it ended, always agreeing with the exit code; the log is
written for every ending; latest.json only for runs that checked or changed an environment."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, Optional

import pytest

from pybootstrap import run_log
from pybootstrap.errors import BusyError, Interrupted, NetworkError, NoCompatibleBuildError, PybootstrapError
from pybootstrap.settings import Settings

# CONTRACT.md ("install"): the outcome of the whole run, and the exit code it goes with.
OUTCOMES = [
    (0, False, None, "ok"),
    (0, True, None, "dry-run"),
    (3, False, None, "no-compatible-build"),
    (4, False, None, "failed"),
    (5, False, "degraded", "degraded"),
    (5, False, "failed", "failed"),
    (6, False, None, "failed"),
    (8, False, None, "failed"),
    (9, False, None, "failed"),
    (10, False, None, "failed"),
    (130, False, None, "interrupted"),
    (130, True, None, "interrupted"),
]


@pytest.mark.parametrize("code, dry_run, verification, status", OUTCOMES,
                         ids=[f"{o[0]}-{o[3]}{'-dry' if o[1] else ''}" for o in OUTCOMES])
def test_run_status_is_the_contract_table(code: int, dry_run: bool, verification: Optional[str],
                                          status: str) -> None:
    assert run_log.run_status(code, dry_run=dry_run, verification=verification) == status


def config(tmp_path: Path, **kw: Any) -> Settings:
    return Settings(command="verify", home=tmp_path / "home", argv=("verify",), **kw)


def logs(tmp_path: Path) -> Dict[str, Dict[str, Any]]:
    folder = tmp_path / "home" / "logs"
    return {p.name: json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.json"))}


@pytest.mark.parametrize("error, code", [(NetworkError("index gone", "retry"), 6), (BusyError("held", "later"), 10),
                                         (NoCompatibleBuildError("nothing fits"), 3)], ids=["network", "busy", "none"])
def test_an_error_is_logged_with_its_status_and_raised(error: PybootstrapError, code: int, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture) -> None:
    def body(run: run_log.LoggedRun) -> int:
        run.update_latest = True
        raise error

    with pytest.raises(type(error)):
        run_log.logged("verify", config(tmp_path, json=True), body)
    doc = json.loads(capsys.readouterr().out)
    assert (doc["status"], doc["exit_code"]) == ("no-compatible-build" if code == 3 else "failed", code)
    written = logs(tmp_path)
    assert written["latest.json"]["exit_code"] == code
    assert str(tmp_path) in (error.advice or "")  # "(log: PATH)" added for the user


def test_sigterm_during_a_run_is_exit_130_with_a_log(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    def body(run: run_log.LoggedRun) -> int:
        run.update_latest = True
        raise Interrupted("SIGTERM")

    assert run_log.logged("verify", config(tmp_path), body) == 130
    assert "interrupted by SIGTERM; log: " in capsys.readouterr().err
    log = logs(tmp_path)["latest.json"]
    assert (log["status"], log["exit_code"], log["error"]["message"]) == ("interrupted", 130, "interrupted (SIGTERM)")


def test_a_run_that_touched_no_environment_keeps_latest_json(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    def checked(run: run_log.LoggedRun) -> int:
        run.update_latest = True
        return 0

    def dry(run: run_log.LoggedRun) -> int:
        run.dry_run = True
        return 0

    assert run_log.logged("verify", config(tmp_path), checked) == 0
    before = (tmp_path / "home" / "logs" / "latest.json").read_bytes()
    assert run_log.logged("verify", config(tmp_path), dry) == 0
    assert (tmp_path / "home" / "logs" / "latest.json").read_bytes() == before
    statuses = sorted(log["status"] for name, log in logs(tmp_path).items() if name != "latest.json")
    assert statuses == ["dry-run", "ok"]


def test_a_bug_is_logged_with_its_traceback_and_raised(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    def body(run: run_log.LoggedRun) -> int:
        run.update_latest = True
        return 1 // 0

    with pytest.raises(ZeroDivisionError):
        run_log.logged("verify", config(tmp_path), body)
    log = logs(tmp_path)["latest.json"]
    assert (log["status"], log["exit_code"], log["error"]["kind"]) == ("failed", 1, "internal")
    assert "ZeroDivisionError" in log["traceback"]

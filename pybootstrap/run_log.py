"""The logged run that install, verify and download share: the log is written whatever happens (success, an
error, a bug, Ctrl+C, SIGTERM), and the document's `status` is derived from how the run ended, so it always
agrees with `exit_code` (CONTRACT.md)."""

from __future__ import annotations

import time
import traceback
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, Optional

from pybootstrap import _subprocess, render, report
from pybootstrap.errors import ErrorDict, ExitCode, Interrupted, PybootstrapError, UsageError, path_problem
from pybootstrap.settings import Settings

Document = Dict[str, Any]


def run_status(exit_code: int, *, dry_run: bool = False, verification: Optional[str] = None) -> str:
    """The outcome of a whole run as its `status`: ok, dry-run, degraded, failed, interrupted or
    no-compatible-build (exit 0, 0, 5, 5 or the error's code, 130, 3)."""
    if exit_code == ExitCode.OK:
        return "dry-run" if dry_run else "ok"
    if exit_code == ExitCode.INTERRUPTED:
        return "interrupted"
    if exit_code == ExitCode.NO_COMPATIBLE_BUILD:
        return "no-compatible-build"
    if exit_code == ExitCode.VERIFY_FAILED and verification == "degraded":
        return "degraded"
    return "failed"


class LoggedRun:
    """What one logged command did, collected as it goes."""

    def __init__(self, command: str, config: Settings) -> None:
        self.command = command
        self.config = config
        self.started = report.now()
        self._t0 = time.monotonic()
        self.timings: Dict[str, float] = {}
        self.document: Document = {"schema": f"pybootstrap.{command}/1"}
        self.dry_run = False
        self.verification: Optional[str] = None  # the verification's own status, once there is one
        # latest.json is for runs that checked or changed an environment; the flow says when that began
        self.update_latest = False
        self.log_to = config.log  # --log; None (the default place) when that path was refused
        _subprocess.COMMAND_LOG.clear()

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        """Time one step: `with run.step("install"): ...`."""
        start = time.monotonic()
        try:
            yield
        finally:
            self.timings[name] = self.timings.get(name, 0.0) + time.monotonic() - start

    def finish(self, exit_code: int, error: Optional[ErrorDict] = None,
               traceback_text: Optional[str] = None) -> Optional[Path]:
        """Set status and exit code, write the log; the log's path (None when it could not be written)."""
        self.timings["total"] = time.monotonic() - self._t0
        self.document["status"] = run_status(exit_code, dry_run=self.dry_run, verification=self.verification)
        self.document["exit_code"] = exit_code
        log = report.build_log(self.document, started=self.started, command=self.command,
                               argv=list(self.config.argv),
                               commands=[r.to_dict() for r in _subprocess.COMMAND_LOG.results],
                               settings=list(self.config.described), timings=self.timings, error=error,
                               exit_code=exit_code, traceback_text=traceback_text)
        path: Optional[Path] = None
        full_output = report.commands_output(_subprocess.COMMAND_LOG.results)
        try:
            path = report.write_log(log, home=self.config.home, explicit=self.log_to,
                                    update_latest=self.update_latest, full_output=full_output or None)
        except OSError as exc:  # shown even with -q: a fleet relies on the log
            render.message(f"error: could not write the log ({exc.strerror or exc}: {exc.filename or ''}); "
                           "choose a writable --log FILE or PYBOOTSTRAP_HOME", "error")
        self.document["log_path"] = str(path) if path else (report.STDOUT if self.log_to == report.STDOUT else None)
        return path


def logged(command: str, config: Settings, body: Callable[[LoggedRun], int]) -> int:
    """Run body(run) and write the log in every case; print the command's document (--json) or the log path."""
    if config.log == report.STDOUT and config.json:
        raise UsageError("--log - and --json both write to stdout", "Drop one of them, or give --log a FILE.")
    run = LoggedRun(command, config)
    try:
        try:
            try:  # before any work: a log path that cannot take the log (a device, FIFO, link, folder) is exit 8
                report.check_log_destination(config.log, config.home)
            except PybootstrapError:
                run.log_to = None  # this run's own log goes to the default place
                raise
            code = int(body(run))
        except OSError as exc:  # a folder or file pybootstrap cannot use: an environment problem, exit 8
            raise path_problem(exc) from None
    except PybootstrapError as exc:
        path = run.finish(int(exc.exit_code), exc.to_dict())
        if path:
            exc.advice = (exc.advice + " " if exc.advice else "") + f"(log: {path})"
        if config.json:  # the command's own document, with the error in it
            render.document(dict(run.document, error=exc.to_dict()))
            exc.document_printed = True
        raise
    except KeyboardInterrupt as exc:
        signal_name = exc.signal_name if isinstance(exc, Interrupted) else "SIGINT"
        what = exc.describe() if isinstance(exc, Interrupted) else "interrupted (Ctrl+C)"
        error: ErrorDict = {"kind": "interrupted", "message": what, "advice": "Run the same command again.",
                            "exit_code": int(ExitCode.INTERRUPTED)}
        path = run.finish(int(ExitCode.INTERRUPTED), error)
        by = "" if signal_name == "SIGINT" else f" by {signal_name}"
        render.message(f"interrupted{by}; log: {path}", "error")
        if config.json:
            render.document(dict(run.document, error=error))
        return int(ExitCode.INTERRUPTED)
    except Exception as exc:
        path = run.finish(int(ExitCode.INTERNAL), {"kind": "internal", "message": f"{type(exc).__name__}: {exc}",
                                                   "advice": "report this bug with the log", "exit_code": 1},
                          traceback.format_exc())
        render.message(f"log: {path}", "error")
        raise
    path = run.finish(code)
    if config.json:
        render.document(dict(run.document, error=None))
    elif path is not None:
        render.message(f"log: {path}", "dim")
    return code

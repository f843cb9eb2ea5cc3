"""The verification log: versioned JSON plus a short text, written atomically; secrets redacted."""

from __future__ import annotations

import errno
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, Iterable, List, NamedTuple, Optional

from pybootstrap import __version__, files
from pybootstrap.errors import EnvironmentProblem
from pybootstrap.files import NotARegularFile, atomic_write
from pybootstrap.redact import redact, redact_obj

LOG_SCHEMA = "pybootstrap.log/1"


def now() -> str:
    """UTC timestamp, ISO 8601."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _atomic_write(path: Path, text: str) -> None:
    atomic_write(path, text, label="the log path")


def refuse_non_regular(path: Path) -> None:
    """Raise NotARegularFile unless path is a regular file or does not exist (lstat: links are not followed)."""
    files.refuse_non_regular(path, "the log path")


def build_log(document: Dict[str, Any], *, started: str, command: str, argv: List[str],
              commands: List[Dict[str, Any]], settings: List[str], timings: Dict[str, float],
              error: Optional[Dict[str, Any]] = None, exit_code: int = 0,
              traceback_text: Optional[str] = None) -> Dict[str, Any]:
    """The log object: the command's document plus run metadata."""
    log = dict(document)
    log.update({"log_schema": LOG_SCHEMA, "pybootstrap_version": __version__, "command": command, "argv": argv,
                "started": started, "finished": now(), "exit_code": exit_code, "settings": settings,
                "commands_run": commands, "timings_s": {k: round(v, 3) for k, v in timings.items()},
                "error": error})
    if traceback_text:
        log["traceback"] = traceback_text
    redacted: Dict[str, Any] = redact_obj(log)
    return redacted


def summary_text(log: Dict[str, Any]) -> str:
    """The short human-readable companion of the JSON log."""
    out = [f"pybootstrap {log.get('pybootstrap_version')} {log.get('command')}  {log.get('started')} -> "
           f"{log.get('finished')}  exit {log.get('exit_code')}"]
    hw = log.get("hardware") or {}
    if hw:
        gpus = ", ".join(f"{g.get('name')} ({g.get('compute_capability') or '?'})"
                         for g in hw.get("gpus") or []) or "none"
        out.append(f"machine: {hw.get('os')} {hw.get('arch')}, Python {hw.get('python_version')}, "
                   f"driver {hw.get('driver_version') or '-'} (CUDA {hw.get('cuda_version') or '-'}), GPUs: {gpus}")
    build = log.get("build") or {}
    if build:
        out.append(f"build: torch {build.get('torch')} {build.get('variant')} via {build.get('installer')}"
                   + (f" from {build.get('index_url')}" if build.get("index_url") else ""))
    for reason in log.get("reasons") or []:
        out.append(f"  - {reason}")
    target = log.get("target") or {}
    if target:
        out.append(f"target: {target.get('kind')} {target.get('prefix')} (python {target.get('python')})")
    for cmd in log.get("commands_run") or []:
        out.append(f"ran ({cmd.get('exit_code')}): {' '.join(cmd.get('argv') or [])}")
    ver = log.get("verification") or (log if log.get("schema") == "pybootstrap.verify/1" else None)
    if ver:
        out.append(f"verification: {ver.get('status')} - torch {ver.get('torch_version')}, CUDA build "
                   f"{ver.get('cuda_build')}, cuda available {ver.get('cuda_available')}")
        for check in ver.get("checks") or []:
            out.append(f"  [{check.get('status')}] {check.get('name')}: {check.get('detail')}")
        for finding in ver.get("diagnosis") or []:
            out.append(f"  ! {finding.get('kind')}: {finding.get('message')} -> {finding.get('advice')}")
    if log.get("error"):
        err = log["error"]
        out.append(f"error: {err.get('message')}")
        if err.get("advice"):
            out.append(f"what to do: {err.get('advice')}")
    timings = log.get("timings_s") or {}
    if timings:
        ordered = sorted(timings.items(), key=lambda kv: kv[0] != "total")  # the total first, then each step
        out.append("timings: " + ", ".join(f"{k} {v:g} s" for k, v in ordered))
    return "\n".join(out) + "\n"


def text_path(path: Path) -> Path:
    """The .txt summary beside a JSON log (log.json -> log.txt; a --log ending in .txt gets .txt.txt)."""
    return path.with_name(path.name + ".txt") if path.suffix.lower() == ".txt" else path.with_suffix(".txt")


def commands_output(results: Iterable[Any]) -> str:
    """Everything the commands of a run printed, each after its command line: write_log's full_output (results:
    the _subprocess.CommandResult of each command)."""
    parts = []
    for result in results:
        argv = " ".join(str(a) for a in getattr(result, "argv", []))
        text = "\n".join(t for t in (getattr(result, "stdout", ""), getattr(result, "stderr", "")) if t)
        parts.append(f"$ {argv}\n(exit {getattr(result, 'returncode', None)})\n{text}".rstrip("\n") + "\n")
    return "\n".join(parts)


STDOUT = "-"  # --log -: the JSON log goes to stdout


class LogDestination(NamedTuple):
    """Where a run's log goes: kind "default" (<home>/logs/), "folder" (--log DIR/), "file" or "stdout"."""

    kind: str
    path: Optional[Path]  # the file for "file", the folder for "default" and "folder", None for "stdout"


def resolve_log_destination(explicit: Optional[str], home: Path) -> LogDestination:
    """Where the log goes, and whether it can go there: raises OSError (NotARegularFile for a link, device, FIFO,
    socket or folder given as the file) when not. Creates the folder; writes nothing else."""
    if explicit == STDOUT:
        return LogDestination("stdout", None)
    if not explicit:
        folder = home / "logs"
        _check_folder(folder)
        refuse_non_regular(folder / "latest.json")
        return LogDestination("default", folder)
    path = Path(explicit).expanduser()
    if explicit.endswith(("/", "\\")):
        _check_folder(path)
        return LogDestination("folder", path)
    if os.path.isdir(path) and not os.path.islink(path):
        raise NotARegularFile(errno.EISDIR, "the log path is a folder, not a file (to write a log named by "
                              f"pybootstrap into it, end the path with {os.sep})", str(path))
    refuse_non_regular(path)
    refuse_non_regular(text_path(path))
    _check_folder(path.parent)
    return LogDestination("file", path)


def _check_folder(folder: Path) -> None:
    """The folder exists (or is created) and a file can be created in it (a real try: as root, os.access says
    yes to /proc)."""
    folder.mkdir(parents=True, exist_ok=True)
    fd, probe = tempfile.mkstemp(prefix=".pybootstrap-probe-", dir=str(folder))
    os.close(fd)
    os.unlink(probe)


def check_log_destination(explicit: Optional[str], home: Path) -> LogDestination:
    """resolve_log_destination() for the start of a run: a path that cannot take the log is exit 8 before any
    work is done."""
    try:
        return resolve_log_destination(explicit, home)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        where = f": {exc.filename}" if exc.filename else ""
        raise EnvironmentProblem(f"cannot write the log there: {reason}{where}",
                                 "Give --log a new or regular file in a writable folder (or --log - for stdout), "
                                 "or set PYBOOTSTRAP_HOME to a writable folder.") from None


def write_log(log: Dict[str, Any], *, home: Path, explicit: Optional[str] = None, update_latest: bool = True,
              full_output: Optional[str] = None) -> Optional[Path]:
    """Write <home>/logs/<command>-<time>-<pid>.json (+ .txt) and <home>/logs/latest.json; or the --log FILE
    (DIR/: the default name inside it; -: the JSON on stdout). Returns the path of the JSON log (None for stdout).

    update_latest=False (a dry run) leaves latest.json alone: it tells whether the last real run verified torch.
    full_output (every line the commands printed) goes beside the log as <name>.output.txt, secrets redacted."""
    dest = resolve_log_destination(explicit, home)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    name = f"{log.get('command', 'run')}-{stamp}-{os.getpid()}.json"
    path: Optional[Path] = None
    if dest.kind in ("default", "folder"):
        assert dest.path is not None
        path = dest.path / name
        count = 1
        while os.path.lexists(path) or os.path.lexists(text_path(path)):  # two runs of one process in one second
            count += 1
            path = dest.path / f"{name[:-5]}-{count}.json"
    elif dest.kind == "file":
        path = dest.path
    if path is not None and full_output:
        output = path.with_name(path.stem + ".output.txt")
        _atomic_write(output, redact(full_output))
        log = dict(log, output_path=str(output))
    text = json.dumps(log, indent=2) + "\n"
    if path is None:
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        _atomic_write(path, text)
        _atomic_write(text_path(path), summary_text(log))
    if update_latest:
        try:
            _atomic_write(home / "logs" / "latest.json", text)
        except OSError:
            if dest.kind == "default":
                raise
            # with --log the requested log is written; an unwritable home must not turn that into a failure
    return path

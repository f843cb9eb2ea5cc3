"""The verification log: versioned JSON plus a short text, written atomically; secrets redacted."""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

from pybootstrap import __version__
from pybootstrap.redact import redact_obj

LOG_SCHEMA = "pybootstrap.log/1"


def now() -> str:
    """UTC timestamp, ISO 8601."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _atomic_write(path: Path, text: str) -> None:
    """Write a temporary file beside path, then rename it over path: readers see the old or the new file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=str(path.parent))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        for attempt in range(5):
            try:
                os.replace(tmp, path)
                break
            except PermissionError:  # Windows: a reader (antivirus, an editor) holds the old file for a moment
                if attempt == 4:
                    raise
                time.sleep(0.1 * (attempt + 1))
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


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
    return redact_obj(log)


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


def write_log(log: Dict[str, Any], *, home: Path, explicit: Optional[str] = None,
              update_latest: bool = True) -> Path:
    """Write <home>/logs/<command>-<time>-<pid>.json (+ .txt) and <home>/logs/latest.json; or the --log FILE
    (a folder: the default name inside it). Returns the path of the JSON log. update_latest=False leaves
    latest.json alone (a dry run changed and checked nothing)."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    name = f"{log.get('command', 'run')}-{stamp}-{os.getpid()}.json"
    logs = home / "logs"
    path = logs / name
    if explicit:
        path = Path(explicit).expanduser()
        if path.is_dir() or explicit.endswith(("/", "\\")):
            path = path / name
    if not explicit or path.name == name:
        count = 1
        while path.exists():  # two runs of one process in the same second (tests, scripts)
            count += 1
            path = path.with_name(f"{name[:-5]}-{count}.json")
    text = json.dumps(log, indent=2) + "\n"
    _atomic_write(path, text)
    _atomic_write(text_path(path), summary_text(log))
    if not update_latest:
        return path
    try:
        _atomic_write(logs / "latest.json", text)
    except OSError:
        if not explicit:
            raise
        # with --log the requested file is written; an unwritable home must not turn that into a failure
    return path

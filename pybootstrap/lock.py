"""One run at a time per target environment: a lock file created with O_EXCL, naming its holder.

The file sits beside the environment (<parent>/.<name>.pybootstrap.lock), so it exists before the environment
does and survives deleting it; where that folder cannot be written (an existing environment in a read-only
place) it sits inside the environment. A lock whose process is gone (same host) or that is older than
STALE_AFTER_S is stale and taken over.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Dict, Iterator, Optional

from pybootstrap.errors import BusyError

STALE_AFTER_S = 6 * 3600.0  # longer than any install: pip's own limit is an hour per command (installers.pip)
UNREADABLE_GRACE_S = 30.0  # a holder writes its details right after creating the file
_TRIES = 5


def lock_path(prefix: Path) -> Path:
    """Where the lock of an environment lives (see the module docstring)."""
    prefix = Path(os.path.abspath(prefix))
    parent = prefix.parent
    if prefix.is_dir() and not (parent.is_dir() and os.access(parent, os.W_OK | os.X_OK)):
        return prefix / ".pybootstrap.lock"
    return parent / f".{prefix.name}.pybootstrap.lock"


@contextlib.contextmanager
def hold(prefix: Path, *, what: str) -> Iterator[Path]:
    """Hold the lock of the environment at prefix while the block runs; BusyError (exit 10) when another run
    holds it. `what` (the command) is written into the lock for the other runs' message."""
    path = lock_path(prefix)
    token = acquire(path, what=what)
    try:
        yield path
    finally:
        release(path, token)


def acquire(path: Path, *, what: str) -> str:
    """Create the lock file (taking over a stale one); returns the token that release() needs."""
    path.parent.mkdir(parents=True, exist_ok=True)
    token = uuid.uuid4().hex
    details = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time(), "command": what,
               "token": token, "python": sys.executable}
    flags = os.O_CREAT | os.O_EXCL | os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0)
    for _ in range(_TRIES):
        try:
            fd = os.open(path, flags, 0o644)
        except FileExistsError:
            holder = read_holder(path)
            if holder is not None and not is_stale(holder, path):
                raise busy_error(holder, path) from None
            _take_over(path, holder)
            continue
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(details, handle)
            handle.flush()
            os.fsync(handle.fileno())
        return token
    holder = read_holder(path)
    raise busy_error(holder or {}, path)


def release(path: Path, token: str) -> None:
    """Remove the lock if it is still ours (a run that took it over as stale keeps its own)."""
    holder = read_holder(path)
    if holder is not None and holder.get("token") == token:
        with contextlib.suppress(OSError):
            os.unlink(path)


def read_holder(path: Path) -> Optional[Dict[str, Any]]:
    """The details in a lock file; {} when it cannot be parsed (being written, or damaged); None when it is gone."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read(64 * 1024)
    except FileNotFoundError:
        return None
    except OSError:
        return {}
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def is_stale(holder: Dict[str, Any], path: Path, *, now: Optional[float] = None) -> bool:
    """True when the holder cannot be running any more: its process is gone (same host), it is older than
    STALE_AFTER_S, or its details are unreadable for longer than UNREADABLE_GRACE_S."""
    now = time.time() if now is None else now
    started = holder.get("started")
    if not isinstance(started, (int, float)):
        try:
            return now - os.stat(path).st_mtime > UNREADABLE_GRACE_S
        except OSError:
            return True
    if now - started > STALE_AFTER_S:
        return True
    pid = holder.get("pid")
    if holder.get("host") == socket.gethostname() and isinstance(pid, int):
        return not pid_alive(pid)
    return False


def _take_over(path: Path, judged: Optional[Dict[str, Any]]) -> None:
    """Move a stale lock aside and delete it, unless another run replaced it in the meantime (then put back)."""
    if judged is None:
        return  # gone already: try to create it again
    aside = path.with_name(f"{path.name}.stale-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return
    if read_holder(aside) == judged:
        with contextlib.suppress(OSError):
            os.unlink(aside)
        return
    # Another run took the stale lock over between our reading and our renaming: its fresh lock goes back
    # (unless a third run created one meanwhile; then the fresh one is lost and that run's release is a no-op).
    try:
        if not os.path.lexists(path):
            os.rename(aside, path)
            return
    except OSError:
        pass
    with contextlib.suppress(OSError):
        os.unlink(aside)


def pid_alive(pid: int) -> bool:
    """True when a process with this id runs on this machine."""
    if pid <= 0:
        return False
    if os.name == "nt":
        return _windows_pid_alive(pid)
    try:
        os.kill(pid, 0)  # signal 0: only checks that the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, owned by another user
    except OSError:
        return False
    return True


def _windows_pid_alive(pid: int) -> bool:
    """OpenProcess + GetExitCodeProcess (os.kill on Windows would terminate the process)."""
    import ctypes

    kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
    handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
    if not handle:
        return bool(kernel32.GetLastError() == 5)  # access denied: it exists
    try:
        code = ctypes.c_ulong()
        if not kernel32.GetExitCodeProcess(handle, ctypes.byref(code)):
            return True
        return bool(code.value == 259)  # STILL_ACTIVE
    finally:
        kernel32.CloseHandle(handle)


def busy_error(holder: Dict[str, Any], path: Path) -> BusyError:
    """"another install is running in this environment since 14:03, pid 4242" (exit 10)."""
    started = holder.get("started")
    since = time.strftime("%H:%M", time.localtime(started)) if isinstance(started, (int, float)) else "a moment ago"
    what = holder.get("command") or "pybootstrap run"
    host = holder.get("host")
    where = f" on {host}" if host and host != socket.gethostname() else ""
    pid = holder.get("pid")
    return BusyError(f"another {what} is running in this environment since {since}, pid {pid if pid else '?'}"
                     f"{where}",
                     f"Run again when it has finished (exit code 10 means: retry later). If no pybootstrap runs "
                     f"there any more, delete {path}.")

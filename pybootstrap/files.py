"""Writing files safely, the one way pybootstrap does it: only a regular file (or nothing) is ever replaced, never
through a link, a device, a FIFO or a folder; a new version is written beside the old one and renamed over it, so
a reader sees the old or the new file, never half of one."""

from __future__ import annotations

import errno
import os
import stat
import tempfile
import time
from pathlib import Path
from typing import Union


class NotARegularFile(OSError):
    """A path names a link, a device, a FIFO, a socket or a folder where a file was to be written."""


def kind_of(mode: int) -> str:
    """'a symbolic link', 'a folder', 'a FIFO', ... for an lstat mode."""
    return ("a symbolic link" if stat.S_ISLNK(mode) else "a folder" if stat.S_ISDIR(mode)
            else "a FIFO" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode)
            else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "not a regular file")


def is_regular(path: Path) -> bool:
    """True for a regular file (lstat: a link to one is not); False when there is nothing."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except FileNotFoundError:
        return False


def refuse_non_regular(path: Path, label: str = "the path") -> None:
    """Raise NotARegularFile unless path is a regular file or does not exist (lstat: links are not followed)."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISREG(mode):
        raise NotARegularFile(errno.EEXIST, f"{label} is {kind_of(mode)}, not a regular file (left as it is)",
                              str(path))


def atomic_write(path: Path, data: Union[str, bytes], *, label: str = "the path") -> None:
    """Write data to a temporary file beside path, then rename it over path (checked with lstat just before)."""
    refuse_non_regular(path, label)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=str(path.parent))
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data.encode("utf-8") if isinstance(data, str) else data)
            handle.flush()
            os.fsync(handle.fileno())
        for attempt in range(5):
            refuse_non_regular(path, label)
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

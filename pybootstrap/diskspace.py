"""Free disk space: checked before an install or download against what it needs, and named when a disk fills up.

What a pip install needs: the wheels once where pip downloads them (its temporary folder, and its cache) and
about twice their size once unpacked into the environment (torch's shared libraries are compressed in the
wheel). Where the wheels' sizes are not known, DOWNLOAD_FLOOR gives a size they certainly exceed.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Dict, Mapping, NamedTuple, Optional, Sequence, Tuple, Union

from pybootstrap.errors import EnvironmentProblem

PathLike = Union[str, "os.PathLike[str]"]

UNPACK_FACTOR = 2  # bytes in the environment per byte of wheel
MARGIN = 200 * 1024 * 1024  # pip's own files, .pyc files, the log: a little room on top
# Lower bounds of the download of torch and its dependencies, per variant kind, where the index does not say:
# the torch wheel alone is 620-670 MB on PyPI for Linux 2.0.1 / 2.1.0 (which then fetches nvidia-* wheels,
# cudnn alone 732 MB), 2267 MB for 2.0.1+cu118 on Linux and 2619 MB on Windows (download sizes pip printed,
# quoted in steamship-core/steamship-langchain#57, flathub/com.vscodium.codium#235, pinokiocomputer/pinokio#17,
# AUTOMATIC1111/stable-diffusion-webui#11056). CPU, ROCm and XPU floors are set low on purpose: a floor must
# never refuse an install that would have fitted.
DOWNLOAD_FLOOR = {"cuda": 2000 * 1024 * 1024, "rocm": 1000 * 1024 * 1024, "xpu": 300 * 1024 * 1024,
                  "cpu": 100 * 1024 * 1024}


class Space(NamedTuple):
    """Free bytes on the disk holding folder (the nearest folder that exists)."""

    folder: Path
    free: int


def existing_folder(path: PathLike) -> Path:
    """path itself if it is a folder, else its nearest existing ancestor (what will hold it once created)."""
    current = Path(os.path.abspath(path))
    while not current.is_dir() and current != current.parent:
        current = current.parent
    return current


def free_space(path: PathLike) -> Space:
    """Free bytes (for an unprivileged user) where path is or will be."""
    folder = existing_folder(path)
    return Space(folder, shutil.disk_usage(folder).free)


def temp_folder() -> str:
    """The temporary folder pip downloads and unpacks into (TMPDIR / TEMP)."""
    return tempfile.gettempdir()


def fullest(paths: Sequence[PathLike]) -> Optional[Space]:
    """The path with the least free space (None when none can be measured)."""
    spaces = []
    for path in paths:
        try:
            spaces.append(free_space(path))
        except OSError:
            continue
    return min(spaces, key=lambda s: s.free) if spaces else None


def human(size: int) -> str:
    """1536 -> '1.5 kB'; decimal units, as pip prints sizes."""
    value = float(size)
    for unit in ("bytes", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{int(value)} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} TB"  # pragma: no cover  (the loop returns at GB)


def download_estimate(kind: str, known: Optional[int]) -> int:
    """The bytes to plan for: the wheels' known size, else the floor of the variant kind (cpu, cuda, ...)."""
    floor = DOWNLOAD_FLOOR.get(kind, DOWNLOAD_FLOOR["cpu"])
    return max(known, floor) if known else floor


def install_needs(download: int, *, target: PathLike, download_to: Optional[PathLike] = None) -> Dict[str, int]:
    """Bytes needed per folder for an install: unpacked in the target, and (online) the wheels where pip
    downloads them (download_to: its temporary folder; None for wheels already on disk)."""
    needs = {os.fspath(target): UNPACK_FACTOR * download + MARGIN}
    if download_to is not None:
        key = os.fspath(download_to)
        needs[key] = needs.get(key, 0) + download
    return needs


def check_room(needs: Mapping[str, int], *, what: str) -> None:
    """Refuse (exit 8) before anything is written when a disk has less free space than the folders on it need
    together."""
    by_disk: Dict[int, Tuple[Space, int]] = {}
    for path, need in needs.items():
        try:
            space = free_space(path)
            device = os.stat(space.folder).st_dev
        except OSError:
            continue  # a folder that cannot be measured is reported when it is used
        held, total = by_disk.get(device, (space, 0))
        by_disk[device] = (held, total + need)
    for space, need in by_disk.values():
        if space.free < need:
            raise EnvironmentProblem(
                f"not enough free disk space for {what}: {space.folder} has {human(space.free)} free, about "
                f"{human(need)} are needed",
                "Free some space there, or choose a folder on another disk (--venv, --to, PYBOOTSTRAP_HOME; pip "
                "downloads into TMP/TMPDIR).")

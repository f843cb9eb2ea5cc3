"""diskspace: free space where a folder is or will be, and the refusal before an install that cannot fit."""

from __future__ import annotations

from collections import namedtuple
from pathlib import Path
from typing import Any, Dict

import pytest

from pybootstrap import diskspace
from pybootstrap.errors import EnvironmentProblem

Usage = namedtuple("Usage", "total used free")
MB = 1000 * 1000


@pytest.fixture
def free(monkeypatch: pytest.MonkeyPatch) -> Dict[str, int]:
    """Free bytes per folder, as shutil.disk_usage reports them (folders not named: 1 TB)."""
    table: Dict[str, int] = {}
    monkeypatch.setattr(diskspace.shutil, "disk_usage", lambda folder: Usage(0, 0, table.get(str(folder), 10**12)))
    return table


@pytest.mark.parametrize("size, text", [(999, "999 bytes"), (1536, "1.5 kB"), (12_300_000, "12.3 MB"),
                                        (2_267_300_000, "2.3 GB"), (5_000_000_000_000, "5000.0 GB")])
def test_human(size: int, text: str) -> None:
    assert diskspace.human(size) == text


def test_a_folder_to_be_created_is_measured_where_it_will_be(tmp_path: Path) -> None:
    assert diskspace.existing_folder(tmp_path / "a" / "b" / "c") == tmp_path
    assert diskspace.free_space(tmp_path / "new").folder == tmp_path


def test_the_estimate_is_never_below_the_floor() -> None:
    floor = diskspace.DOWNLOAD_FLOOR["cuda"]
    assert diskspace.download_estimate("cuda", None) == floor
    assert diskspace.download_estimate("cuda", 10 * MB) == floor
    assert diskspace.download_estimate("cuda", floor + 1) == floor + 1
    assert diskspace.download_estimate("unknown-kind", None) == diskspace.DOWNLOAD_FLOOR["cpu"]


def test_an_install_that_fits(tmp_path: Path, free: Dict[str, int]) -> None:
    free[str(tmp_path)] = 3 * 1000 * MB + diskspace.MARGIN  # 1 GB of wheels: 2 GB unpacked + 1 GB downloaded
    diskspace.check_room(diskspace.install_needs(1000 * MB, target=tmp_path / "env", download_to=tmp_path),
                         what="torch 2.5.1 cu124")


def test_an_install_that_does_not_fit_is_refused_with_the_folder(tmp_path: Path, free: Dict[str, int]) -> None:
    free[str(tmp_path)] = 2500 * MB
    needs = diskspace.install_needs(1000 * MB, target=tmp_path / "env", download_to=tmp_path / "tmp")
    assert needs == {str(tmp_path / "env"): 2000 * MB + diskspace.MARGIN, str(tmp_path / "tmp"): 1000 * MB}
    with pytest.raises(EnvironmentProblem) as info:
        diskspace.check_room(needs, what="torch 2.5.1 cu124")
    expected = diskspace.human(3000 * MB + diskspace.MARGIN)
    assert info.value.message == (f"not enough free disk space for torch 2.5.1 cu124: {tmp_path} has 2.5 GB free, "
                                  f"about {expected} are needed")
    assert info.value.exit_code == 8


def test_wheels_already_on_disk_need_room_only_in_the_target(tmp_path: Path, free: Dict[str, Any]) -> None:
    free[str(tmp_path)] = 2000 * MB + diskspace.MARGIN
    diskspace.check_room(diskspace.install_needs(1000 * MB, target=tmp_path), what="offline install")


def test_the_fullest_folder(tmp_path: Path, free: Dict[str, int]) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    free[str(tmp_path / "a")] = 5 * MB
    free[str(tmp_path / "b")] = 50 * MB
    assert diskspace.fullest([str(tmp_path / "b"), str(tmp_path / "a")]) == (tmp_path / "a", 5 * MB)

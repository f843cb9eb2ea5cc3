"""Opt-in: install a real CPU torch wheel into a fresh venv with pybootstrap and verify it end to end.

Run with PYBOOTSTRAP_REAL_TORCH=1 (it installs about 200 MB). It uses the pip configuration of this machine
as it is (the point is a real install), and looks for the wheel in this order:
  1. a local folder of wheels (PYBOOTSTRAP_REAL_TORCH_FIND_LINKS, os.pathsep-separated; default: /opt/wheels and
     /opt/pypi/files where they exist) holding torch-<version>+cpu for this Python: then --offline, no network;
  2. otherwise the PyTorch index (https://download.pytorch.org/whl/cpu), which needs the internet.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from pathlib import Path
from typing import List, Optional, Tuple

import pytest

from pybootstrap import cli, environments

pytestmark = [
    pytest.mark.real_torch,
    pytest.mark.skipif(os.environ.get("PYBOOTSTRAP_REAL_TORCH") != "1",
                       reason="installs a real torch wheel (~200 MB); opt in with PYBOOTSTRAP_REAL_TORCH=1"),
]

DEFAULT_FOLDERS = ("/opt/wheels", "/opt/pypi/files")


def local_cpu_wheel() -> Tuple[Optional[str], List[str]]:
    """(version of a local torch +cpu wheel for this Python, the folders to pass as --find-links)."""
    raw = os.environ.get("PYBOOTSTRAP_REAL_TORCH_FIND_LINKS")
    folders = [f for f in (raw.split(os.pathsep) if raw else DEFAULT_FOLDERS) if f and Path(f).is_dir()]
    tag = f"cp{sys.version_info[0]}{sys.version_info[1]}"
    for folder in folders:
        for wheel in sorted(Path(folder).glob(f"torch-*+cpu-{tag}-*.whl"), reverse=True):
            match = re.match(r"torch-(\d+\.\d+\.\d+)\+cpu-", wheel.name)
            if match:
                return match.group(1), folders
    return None, folders


def test_a_real_cpu_torch_installs_and_verifies(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("PYBOOTSTRAP_HOME", str(tmp_path / "home"))
    venv = tmp_path / "venv"
    version, folders = local_cpu_wheel()
    argv = ["install", "--json", "--venv", str(venv), "--no-gpu", "--variant", "cpu"]
    if version:
        argv += ["--torch", version, "--packages", "torch", "--offline"]
        for folder in folders:
            argv += ["--find-links", folder]
    started = time.monotonic()
    code = cli.main(argv)
    elapsed = time.monotonic() - started
    out, err = capsys.readouterr()
    assert code == 0, err
    doc = json.loads(out)
    ver = doc["verification"]
    assert ver["status"] == "ok", ver
    assert ver["torch_version"].endswith("+cpu") and ver["cuda_build"] is None and ver["cuda_available"] is False
    if version:
        assert ver["torch_version"] == f"{version}+cpu"
    assert environments.read_state(venv)["status"] == "good"
    # a second run finds it installed and verified, and runs no pip
    code = cli.main(argv)
    out, err = capsys.readouterr()
    assert code == 0, err
    assert json.loads(out)["already_installed"] is True
    print(f"real torch {ver['torch_version']} installed and verified in {elapsed:.1f} s")

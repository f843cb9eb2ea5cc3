"""The built wheel carries the manifest and the probe, and works from any folder."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    source = tmp_path_factory.mktemp("source")  # a copy: building writes build/ and *.egg-info beside the sources
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    for name in ("pybootstrap", "manifests"):
        shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                             "--disable-pip-version-check", "-q", "-w", str(out), str(source)],
                            capture_output=True, text=True, timeout=300)
    if result.returncode != 0 and "No module named" in (result.stderr + result.stdout):
        pytest.skip(f"no build backend in this environment: {result.stderr.strip()[-200:]}")
    assert result.returncode == 0, result.stderr[-2000:]
    wheels = list(out.glob("pybootstrap-*.whl"))
    assert len(wheels) == 1
    return wheels[0]


def test_the_wheel_holds_the_manifest_schema_and_probe(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in ("pybootstrap/manifests/pytorch.json", "pybootstrap/manifests/schema.json",
                 "pybootstrap/_probe.py", "pybootstrap/cli.py", "pybootstrap/installers/pip.py"):
        assert name in names
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "pybootstrap = pybootstrap.cli:run" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_the_unpacked_wheel_plans_from_another_folder(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import pybootstrap.manifest as m; "
            "assert m.__file__.startswith(sys.argv[1]), m.__file__; "
            "from pybootstrap.cli import main; sys.exit(main(['plan', '--json', '--no-gpu', '--os', 'linux', "
            "'--python-version', '3.12']))")
    result = subprocess.run([sys.executable, "-I", "-c", code, str(site)], cwd=elsewhere, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["build"]["variant"] == "cpu"
    validate = subprocess.run([sys.executable, "-I", "-c", code.replace(
        "['plan', '--json', '--no-gpu', '--os', 'linux', '--python-version', '3.12']", "['manifest', 'validate']"),
        str(site)], cwd=elsewhere, capture_output=True, text=True, timeout=120)
    assert validate.returncode == 0
    assert str(site / "pybootstrap" / "manifests" / "pytorch.json") in validate.stderr

"""The closed wheelhouse: the listing download writes, its checks, and pip installing exactly the listed files."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path
from typing import List, Optional

import fake_torch
import pytest

from pybootstrap import wheelhouse
from pybootstrap.errors import EnvironmentProblem, IntegrityError, NoCompatibleBuildError
from pybootstrap.installers import pip as pip_inst
from pybootstrap.planner import Build

BUILD = {"torch": "2.5.1", "torchvision": "0.20.1", "torchaudio": "2.5.1", "variant": "cu124"}
NAMES = ["torch-2.5.1+cu124-py3-none-any.whl", "torchaudio-2.5.1+cu124-py3-none-any.whl",
         "torchvision-0.20.1+cu124-py3-none-any.whl"]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def plan_build(torch: str = "2.5.1", variant: str = "cu124", vision: Optional[str] = "0.20.1",
               audio: Optional[str] = "2.5.1") -> Build:
    return Build(torch=torch, torchvision=vision, torchaudio=audio, variant=variant, cuda=None, installer="pip",
                 index_url=None, conda_channels=None, conda_cuda_package=None, environment="venv")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A wheel folder as `download` leaves it: the cu124 family published from a staging folder."""
    dest = tmp_path / "wheels"
    with wheelhouse.staging(dest) as stage:
        fake_torch.build_family(stage, "2.5.1", "cu124", fake_torch.gpu_config("2.5.1+cu124", "12.4"),
                                torchvision="0.20.1", torchaudio="2.5.1")
        wheelhouse.publish(stage, dest, BUILD)
    return dest


def test_publish_moves_the_files_and_lists_them(folder: Path) -> None:
    assert sorted(p.name for p in folder.iterdir()) == sorted(NAMES + ["pybootstrap-wheelhouse.json"])
    listing = json.loads((folder / "pybootstrap-wheelhouse.json").read_text(encoding="utf-8"))
    assert listing["schema"] == "pybootstrap.wheelhouse/1" and listing["build"] == BUILD
    assert listing["files"] == {name: sha256(folder / name) for name in NAMES}
    assert listing["sizes"] == {name: (folder / name).stat().st_size for name in NAMES}


def test_a_failed_download_leaves_no_partial_files(tmp_path: Path) -> None:
    dest = tmp_path / "wheels"
    dest.mkdir()
    (dest / "keep.txt").write_text("the user's")
    with pytest.raises(OSError), wheelhouse.staging(dest) as stage:
        (stage / "torch-2.5.1+cu124-py3-none-any.whl").write_bytes(b"half a wheel")
        raise OSError(28, "No space left on device")
    assert [p.name for p in dest.iterdir()] == ["keep.txt"]


def test_publish_never_replaces_a_link(tmp_path: Path) -> None:
    dest = tmp_path / "wheels"
    dest.mkdir()
    elsewhere = tmp_path / "precious"
    elsewhere.write_text("not a wheel")
    (dest / NAMES[0]).symlink_to(elsewhere)
    with pytest.raises(EnvironmentProblem) as info, wheelhouse.staging(dest) as stage:
        fake_torch.build_family(stage, "2.5.1", "cu124", fake_torch.torch_config("2.5.1+cu124"))
        wheelhouse.publish(stage, dest, BUILD)
    assert info.value.message == f"{dest / NAMES[0]} exists and is not a regular file; it is left alone"
    assert elsewhere.read_text() == "not a wheel" and (dest / NAMES[0]).is_symlink()


def test_a_folder_without_listing_is_not_a_wheelhouse(tmp_path: Path) -> None:
    assert wheelhouse.load([str(tmp_path)]) is None


@pytest.mark.parametrize("text, message", [
    ("{not json", "is not valid JSON"),
    ('{"schema": "other/1", "files": {}}', "is not a pybootstrap wheel listing (pybootstrap.wheelhouse/1)"),
    ('{"schema": "pybootstrap.wheelhouse/1", "files": {"../x.whl": "00"}}',
     "the entry '../x.whl' is not a file name with a SHA-256"),
], ids=["not-json", "other-schema", "a-path-not-a-name"])
def test_a_bad_listing_is_an_integrity_failure(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "pybootstrap-wheelhouse.json").write_text(text, encoding="utf-8")
    with pytest.raises(IntegrityError) as info:
        wheelhouse.load([str(tmp_path)])
    assert message in info.value.message and info.value.exit_code == 9


def test_verify_checks_each_listed_file(folder: Path) -> None:
    house = wheelhouse.load([str(folder)])
    assert house is not None
    wheelhouse.verify(house)
    with open(folder / NAMES[2], "ab") as handle:
        handle.write(b"tampered")
    with pytest.raises(IntegrityError) as info:
        wheelhouse.verify(house)
    assert info.value.message == (f"{folder / NAMES[2]} does not match the checksum recorded when it was "
                                  "downloaded")
    (folder / NAMES[2]).unlink()
    with pytest.raises(IntegrityError) as info:
        wheelhouse.verify(house)
    assert info.value.message == f"{folder / NAMES[2]} is missing from the wheel folder"


def test_holds_the_planned_build_or_refuses(folder: Path) -> None:
    house = wheelhouse.load([str(folder)])
    assert house is not None
    assert wheelhouse.holds(house, plan_build())
    assert wheelhouse.holds(house, plan_build(vision=None, audio=None))
    assert wheelhouse.missing(house, plan_build(variant="cpu")) == ["torch 2.5.1 cpu", "torchvision 0.20.1",
                                                                    "torchaudio 2.5.1"]
    assert wheelhouse.missing(house, plan_build("2.14.1", "cu126", "0.29.1", None)) == [
        "torch 2.14.1 cu126", "torchvision 0.29.1"]
    with pytest.raises(NoCompatibleBuildError) as info:
        wheelhouse.require(house, plan_build("2.14.1", "cu126", "0.29.1", None))
    assert info.value.message == (f"offline: {folder} does not hold torch 2.14.1 cu126, torchvision 0.29.1 "
                                  "(it holds torch 2.5.1+cu124)")
    assert info.value.exit_code == 3


def test_wheels_without_a_label_count_for_the_variant_they_were_downloaded_for(tmp_path: Path) -> None:
    # Linux arm64 CPU wheels up to 2.5 carry no +cpu (pytorch/pytorch#110791)
    dest = tmp_path / "w"
    with wheelhouse.staging(dest) as stage:
        fake_torch.build_wheel(stage, "torch", "2.5.1", {"torch/__init__.py": ""})
        wheelhouse.publish(stage, dest, {"torch": "2.5.1", "variant": "cpu"})
    house = wheelhouse.load([str(dest)])
    assert house is not None
    assert wheelhouse.holds(house, plan_build(variant="cpu", vision=None, audio=None))
    assert not wheelhouse.holds(house, plan_build(variant="cu124", vision=None, audio=None))


def test_requirements_name_each_listed_file_with_its_hash(folder: Path) -> None:
    (folder / "torch-2.5.1+cpu-py3-none-any.whl").write_bytes(b"not listed")
    house = wheelhouse.load([str(folder)])
    assert house is not None
    lines = wheelhouse.requirements_text(house).splitlines()
    assert lines[0] == f"# written by pybootstrap from {folder / 'pybootstrap-wheelhouse.json'}"
    url = (folder / NAMES[0]).as_uri()
    assert "%2B" in url  # the + of the local label is encoded
    assert lines[1:] == [f"{name.split('-')[0]} @ {(folder / name).as_uri()} --hash=sha256:{sha256(folder / name)}"
                         for name in sorted(NAMES)]
    assert wheelhouse.unlisted_files(house) == [folder / "torch-2.5.1+cpu-py3-none-any.whl"]


# --- real pip -----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fake_torch.template_venv(tmp_path_factory.getbasetemp() / "template-venv")


def pip_install(house: wheelhouse.Wheelhouse, prefix: Path) -> subprocess.CompletedProcess:
    with wheelhouse.requirements_file(house) as requirements:
        argv = pip_inst.closed_install_argv(str(prefix / "bin" / "python"), str(requirements), interactive=False)
        env = dict(os.environ, PIP_NO_CACHE_DIR="1", **pip_inst.pip_env(argv))
        return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300)


def installed(prefix: Path) -> List[str]:
    return sorted(p.name for p in prefix.glob("lib/python3*/site-packages/*.dist-info"))


def test_pip_installs_exactly_the_listed_files(folder: Path, template: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    # an unlisted wheel in the folder (newer, so pip would prefer it) and in a folder of the user's configuration
    other = tmp_path / "other"
    fake_torch.build_family(folder, "2.5.2", "cpu", fake_torch.torch_config("2.5.2+cpu"))
    fake_torch.build_family(other, "2.5.2", "cu124", fake_torch.torch_config("2.5.2+cu124"))
    monkeypatch.setenv("PIP_FIND_LINKS", str(other))
    house = wheelhouse.load([str(folder)])
    assert house is not None
    wheelhouse.verify(house)
    prefix = fake_torch.copy_venv(template, tmp_path / "v")
    result = pip_install(house, prefix)
    assert result.returncode == 0, result.stdout + result.stderr
    assert installed(prefix) == ["torch-2.5.1+cu124.dist-info", "torchaudio-2.5.1+cu124.dist-info",
                                 "torchvision-0.20.1+cu124.dist-info"]
    assert "2.5.2" not in result.stdout + result.stderr


def test_pip_refuses_a_listed_file_changed_after_the_check(folder: Path, template: Path, tmp_path: Path) -> None:
    house = wheelhouse.load([str(folder)])
    assert house is not None
    wheelhouse.verify(house)
    with open(folder / NAMES[0], "ab") as handle:  # changed between pybootstrap's check and pip's reading
        handle.write(b"tampered")
    prefix = fake_torch.copy_venv(template, tmp_path / "v")
    result = pip_install(house, prefix)
    assert result.returncode != 0
    assert "THESE PACKAGES DO NOT MATCH THE HASHES" in result.stderr
    assert installed(prefix) == []

"""Target environments: resolving --venv / --python / --conda-*, refusing unsafe targets, the state marker."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import fake_torch
import pytest

from pybootstrap import _subprocess, environments
from pybootstrap.environments import Target
from pybootstrap.errors import EnvironmentProblem, InstallError
from pybootstrap.settings import TargetChoice

BUILD = {"torch": "2.5.1", "torchvision": "0.20.1", "torchaudio": "2.5.1", "variant": "cu124", "cuda": "12.4",
         "installer": "pip"}


def choice(**kw: Any) -> TargetChoice:
    """What the settings make of the target flags (paths as Path, like the command line gives them)."""
    for key in ("venv", "python", "conda_prefix"):
        if kw.get(key) is not None:
            kw[key] = Path(kw[key])
    return TargetChoice(**kw)


@pytest.fixture
def light_venv(tmp_path: Path) -> Path:
    """A venv made by the base of the interpreter running the tests (so its bin/python resolves to it)."""
    base = getattr(sys, "_base_executable", None) or sys.executable
    subprocess.run([base, "-m", "venv", "--without-pip", str(tmp_path / "venv")], check=True, capture_output=True)
    return tmp_path / "venv"


@pytest.fixture
def fake_conda(tmp_path: Path) -> Path:
    if sys.platform == "win32":
        pytest.skip("the fake conda is a #! script")
    root = tmp_path / "miniforge"
    (root / "envs" / "ml" / "conda-meta").mkdir(parents=True)
    return fake_torch.write_fake_conda(tmp_path / "bin", log=tmp_path / "calls.jsonl", root=root,
                                       template=tmp_path / "unused", torch_config={})


# --- python_in / interpreter_info ---------------------------------------------------------------------------------

@pytest.mark.parametrize("conda, windows, expected", [
    (False, False, "bin/python"), (True, False, "bin/python"),
    (False, True, "Scripts/python.exe"), (True, True, "python.exe"),
], ids=["venv-posix", "conda-posix", "venv-windows", "conda-windows"])
def test_python_in(conda: bool, windows: bool, expected: str) -> None:
    assert environments.python_in(Path("P"), conda=conda, windows=windows) == Path("P") / expected


def test_interpreter_info_of_a_venv_and_of_nothing(light_venv: Path, tmp_path: Path) -> None:
    info = environments.interpreter_info(str(environments.python_in(light_venv, conda=False)))
    assert info.prefix == str(light_venv) and info.base_prefix != info.prefix
    assert info.version == ".".join(map(str, sys.version_info[:3])) and info.conda is False
    assert environments.interpreter_info(str(tmp_path / "no-python")) is None


# --- refusing unsafe targets --------------------------------------------------------------------------------------

def test_a_venv_of_the_interpreter_running_pybootstrap_is_allowed(light_venv: Path) -> None:
    # its bin/python is a symlink to the same executable as sys.executable's: only the prefix tells them apart
    python = environments.python_in(light_venv, conda=False)
    if os.path.realpath(python) != os.path.realpath(sys.executable):
        pytest.skip("this Python's venvs do not link to the executable running the tests")
    target = Target("venv", light_venv, python, True)
    environments.check_allowed(target, environments.interpreter_info(str(python)))


def test_the_interpreter_running_pybootstrap_is_refused() -> None:
    target = Target("python", Path(sys.prefix), Path(sys.executable), True)
    with pytest.raises(EnvironmentProblem, match="is the interpreter running pybootstrap itself"):
        environments.check_allowed(target, environments.interpreter_info(sys.executable))


@pytest.mark.parametrize("conda, refused", [(False, True), (True, False)], ids=["system", "conda-base"])
def test_a_system_python_is_refused_but_a_conda_base_is_not(conda: bool, refused: bool, tmp_path: Path) -> None:
    info = environments.InterpreterInfo(executable=str(tmp_path / "bin" / "python"), prefix=str(tmp_path),
                                        base_prefix=str(tmp_path), version="3.11.7", conda=conda)
    target = Target("python", tmp_path, tmp_path / "bin" / "python", True)
    if refused:
        with pytest.raises(EnvironmentProblem) as caught:
            environments.check_allowed(target, info)
        assert caught.value.message == f"{tmp_path / 'bin' / 'python'} is a system Python (not a virtual or conda " \
                                       "environment)"
        assert "Use --venv DIR" in caught.value.advice
    else:
        environments.check_allowed(target, info)


# --- resolve_target -----------------------------------------------------------------------------------------------

def test_the_default_target_is_a_venv_under_the_home(tmp_path: Path) -> None:
    target = environments.resolve_target(choice(), tmp_path / "home")
    assert target == Target("venv", tmp_path / "home" / "envs" / "torch",
                            environments.python_in(tmp_path / "home" / "envs" / "torch", conda=False), False)


def test_venv_that_is_a_folder_of_other_things_or_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.txt").write_text("x")
    with pytest.raises(EnvironmentProblem, match="exists and is not a virtual environment"):
        environments.resolve_target(choice(venv=tmp_path / "docs"), tmp_path)
    with pytest.raises(EnvironmentProblem, match="is a file, not a folder"):
        environments.resolve_target(choice(venv=tmp_path / "docs" / "a.txt"), tmp_path)


def test_a_venv_whose_creation_was_interrupted_is_accepted_to_be_redone(tmp_path: Path) -> None:
    prefix = tmp_path / "v"
    prefix.mkdir()
    environments.write_state(prefix, {"status": "creating"})
    target = environments.resolve_target(choice(venv=prefix, source="--venv"), tmp_path)
    assert target.kind == "venv" and target.exists is False and target.source == "--venv"


def test_venv_argv_uses_the_base_interpreter(tmp_path: Path) -> None:
    target = Target("venv", tmp_path / "v", tmp_path / "v" / "bin" / "python", False)
    base = getattr(sys, "_base_executable", None) or sys.executable
    assert environments.venv_argv(target) == [base, "-m", "venv", str(tmp_path / "v")]
    assert environments.venv_argv(target, clear=True, base_python="py") == ["py", "-m", "venv", "--clear",
                                                                            str(tmp_path / "v")]


def test_create_venv_marks_the_folder_creating_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = {}

    def fake_run(argv, timeout):
        seen["state"] = environments.read_state(tmp_path / "v")
        return _subprocess.CommandResult(list(argv), 1, "", "Error: no space left on device")

    monkeypatch.setattr(_subprocess, "run", fake_run)
    target = Target("venv", tmp_path / "v", tmp_path / "v" / "bin" / "python", False)
    with pytest.raises(InstallError, match="creating the venv .* failed: Error: no space left on device"):
        environments.create_venv(target)
    assert seen["state"]["status"] == "creating"


def test_python_target(light_venv: Path, tmp_path: Path) -> None:
    python = environments.python_in(light_venv, conda=False)
    target = environments.resolve_target(choice(python=python), tmp_path)
    assert (target.kind, target.prefix, target.python, target.exists) == ("python", light_venv, python, True)
    with pytest.raises(EnvironmentProblem, match="not a working Python interpreter"):
        environments.resolve_target(choice(python=tmp_path / "nope"), tmp_path)


def test_python_of_a_conda_env_is_a_conda_target(light_venv: Path, tmp_path: Path) -> None:
    (light_venv / "conda-meta").mkdir()
    target = environments.resolve_target(choice(python=environments.python_in(light_venv, conda=False),
                                                conda_exe="/opt/conda/bin/conda"), tmp_path)
    assert (target.kind, target.prefix, target.conda_exe) == ("conda", light_venv, "/opt/conda/bin/conda")


def test_conda_env_by_name_existing_missing_and_base(fake_conda: Path, tmp_path: Path) -> None:
    root = tmp_path / "miniforge"
    ml = environments.resolve_target(choice(conda_env="ml", conda_exe=str(fake_conda)), tmp_path)
    assert (ml.kind, ml.prefix, ml.exists, ml.conda_name) == ("conda", root / "envs" / "ml", True, "ml")
    new = environments.resolve_target(choice(conda_env="new", conda_exe=str(fake_conda)), tmp_path)
    assert (new.prefix, new.exists) == (root / "envs" / "new", False)
    assert environments.conda_prefix_for_name(str(fake_conda), "base") == root


def test_conda_exe_from_the_flag_then_the_environment_then_path(fake_conda: Path, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("PATH", str(fake_conda.parent))
    other = tmp_path / "other" / "conda"
    other.parent.mkdir()
    other.write_text("#!/bin/sh\n")
    other.chmod(0o755)
    assert environments.find_conda(str(other), str(fake_conda)) == str(other)
    assert environments.find_conda(None, str(other)) == str(other)
    assert environments.find_conda(None, None) == str(fake_conda)


@pytest.mark.parametrize("explicit, from_env, where", [
    ("/x/conda", None, "--conda-exe /x/conda"), (None, "/y/conda", "CONDA_EXE /y/conda")])
def test_a_conda_exe_that_does_not_exist_is_an_environment_problem(explicit, from_env, where) -> None:
    with pytest.raises(EnvironmentProblem, match=f"^{where}: no such executable$"):
        environments.find_conda(explicit, from_env)
    assert environments.find_conda(explicit, from_env, strict=False) == (explicit or from_env)


def test_conda_info_failing_is_an_environment_problem(tmp_path: Path) -> None:
    if sys.platform == "win32":
        pytest.skip("the fake conda is a #! script")
    exe = fake_torch.write_fake_conda(tmp_path / "bin", log=tmp_path / "c.jsonl", root=tmp_path / "r",
                                      template=tmp_path, torch_config={}, fail="info")
    with pytest.raises(EnvironmentProblem, match=r"`.*conda info --json` failed: CondaError: simulated failure"):
        environments.conda_prefix_for_name(str(exe), "ml")


def test_installer_conda_without_a_target_is_a_conda_env_under_the_home(fake_conda: Path, tmp_path: Path) -> None:
    target = environments.resolve_target(choice(wants_conda=True, conda_exe=str(fake_conda)), tmp_path / "h")
    assert (target.kind, target.prefix, target.source) == ("conda", tmp_path / "h" / "envs" / "torch-conda",
                                                           "default (--installer conda)")


def test_conda_targets_need_conda(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(EnvironmentProblem, match="conda was not found"):
        environments.resolve_target(choice(conda_env="ml"), tmp_path)


def test_conda_installed_tells_pytorch_from_pytorch_cuda(tmp_path: Path) -> None:
    meta = tmp_path / "conda-meta"
    meta.mkdir()
    for name in ("pytorch-cuda-12.4-hc786d27_7.json", "torchaudio-2.5.1-py311_cu124.json", "history"):
        (meta / name).write_text("{}")
    assert environments.conda_installed(tmp_path, ["pytorch", "torchvision", "torchaudio", "pytorch-cuda"]) == [
        "torchaudio", "pytorch-cuda"]
    assert environments.conda_installed(tmp_path / "nothing", ["pytorch"]) == []


# --- the state marker ---------------------------------------------------------------------------------------------

def test_only_a_verified_install_of_the_same_build_is_good(tmp_path: Path) -> None:
    assert environments.is_marked_good(tmp_path, BUILD) is False
    environments.mark_installing(tmp_path, BUILD)
    assert environments.read_state(tmp_path)["status"] == "installing"
    assert environments.is_marked_good(tmp_path, BUILD) is False
    environments.mark_good(tmp_path, BUILD, "2.5.1+cu124")
    assert environments.is_marked_good(tmp_path, BUILD) is True
    for key, other in (("variant", "cu121"), ("torch", "2.5.0"), ("installer", "conda"), ("torchaudio", None)):
        assert environments.is_marked_good(tmp_path, dict(BUILD, **{key: other})) is False, key


def test_a_damaged_marker_is_no_marker(tmp_path: Path) -> None:
    (tmp_path / environments.STATE_FILE).write_text("{not json")
    assert environments.read_state(tmp_path) is None
    assert environments.is_marked_good(tmp_path, BUILD) is False


def test_mark_installing_skips_a_missing_folder(tmp_path: Path) -> None:
    environments.mark_installing(tmp_path / "gone", BUILD)
    assert not (tmp_path / "gone").exists()

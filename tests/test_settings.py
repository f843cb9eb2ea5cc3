"""Settings: the command line resolved once into frozen values, each with the flag or variable it came from."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from pybootstrap import cli
from pybootstrap.errors import UsageError
from pybootstrap.manifest_model import DriverVersion


def test_settings_are_typed_frozen_values_with_their_sources(tmp_path: Path) -> None:
    config = cli.parse(["plan", "--driver", "576.02", "--gpu", "A", "--compute-capability", "8.6", "--cuda", "12.4",
                        "--packages", "torchvision"],
                       {"PYBOOTSTRAP_HOME": str(tmp_path), "PYBOOTSTRAP_OS": "Win64", "PYBOOTSTRAP_OFFLINE": "no"})
    assert config.command == "plan" and config.home == tmp_path
    assert config.what_if.os_name == "windows" and config.what_if.driver == DriverVersion("576.02")
    assert (config.what_if.gpu_names, config.what_if.capabilities) == (("A",), ((8, 6),))
    assert (config.request.variant, config.request.variant_from) == ("cu124", "--cuda")
    assert config.request.packages == ("torch", "torchvision") and config.request.offline is False
    assert config.source_of("os") == "PYBOOTSTRAP_OS" and config.source_of("driver") == "--driver"
    assert config.source_of("arch") == "--arch"  # not given: named by its flag
    assert "os Win64 (from PYBOOTSTRAP_OS)" in config.described
    assert "offline False (from PYBOOTSTRAP_OFFLINE)" in config.described
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.command = "install"  # type: ignore[misc]


@pytest.mark.parametrize("environ, variant_from", [
    ({"PYBOOTSTRAP_VARIANT": "cpu"}, "PYBOOTSTRAP_VARIANT"), ({"PYBOOTSTRAP_CUDA": "12.1"}, "PYBOOTSTRAP_CUDA"),
    ({}, "--variant")], ids=["variant-variable", "cuda-variable", "none"])
def test_the_request_says_where_its_variant_came_from(environ, variant_from, tmp_path: Path) -> None:
    config = cli.parse(["plan"], dict(environ, PYBOOTSTRAP_HOME=str(tmp_path)))
    assert config.request.variant_from == variant_from


def test_the_target_is_resolved_for_install_and_verify_only(tmp_path: Path) -> None:
    home = {"PYBOOTSTRAP_HOME": str(tmp_path), "CONDA_EXE": "/opt/conda/bin/conda"}
    install = cli.parse(["install", "--venv", "~/env", "--installer", "conda"], home)
    assert install.target.venv == Path("~/env").expanduser() and install.target.source == "--venv"
    assert install.target.wants_conda is True and install.target.conda_exe_env == "/opt/conda/bin/conda"
    verify = cli.parse(["verify", "--torch", "2.5.1", "--variant", "cu118"], home)
    assert verify.expected is not None and verify.expected.to_dict() == {"torch": "2.5.1", "variant": "cu118",
                                                                          "cuda": "11.8"}
    assert cli.parse(["detect"], home).target.source == "default"


def test_bad_values_are_refused_at_the_edge_before_any_work(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"^PYBOOTSTRAP_TORCH='two': expected a version"):
        cli.parse(["install", "--dry-run"], {"PYBOOTSTRAP_HOME": str(tmp_path), "PYBOOTSTRAP_TORCH": "two"})

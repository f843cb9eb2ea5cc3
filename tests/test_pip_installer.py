"""installers/pip.py: exact pins with the local version label, bounded retries, and pip kept away from the
user's find-links folders and extra indexes (real pip runs against local indexes)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Dict, List, Optional

import fake_torch
import pytest
from indexserver import IndexServer

from pybootstrap.installers import pip as pip_inst
from pybootstrap.planner import Build, Request

PYTORCH = "https://download.pytorch.org/whl"


def build(torch: str, variant: str, *, vision: Optional[str] = None, audio: Optional[str] = None,
          index: Optional[str] = "pytorch", style: str = "index-url") -> Build:
    url = f"{PYTORCH}/{variant}" if index == "pytorch" else index
    return Build(torch=torch, torchvision=vision, torchaudio=audio, variant=variant, cuda=None, installer="pip",
                 index_url=url, conda_channels=None, conda_cuda_package=None, environment="venv", pip_style=style)


# Expected pins: the file names the PyTorch index publishes (torch-2.5.1+cu124-..., torchvision-0.20.1+cu124-...;
# aarch64 CPU wheels up to 2.5 without a label, pytorch/pytorch#110791) and pytorch.org's published 1.x commands
# ("pip install torch==1.13.1+cu117 torchvision==0.14.1+cu117 torchaudio==0.13.1 --extra-index-url ...").
@pytest.mark.parametrize("b, arch, pins", [
    (build("2.5.1", "cu124", vision="0.20.1", audio="2.5.1"), "x86_64",
     ["torch==2.5.1+cu124", "torchvision==0.20.1+cu124", "torchaudio==2.5.1+cu124"]),
    (build("2.14.1", "cpu", vision="0.29.1"), "x86_64", ["torch==2.14.1+cpu", "torchvision==0.29.1+cpu"]),
    (build("2.9.1", "rocm6.4", vision="0.24.1", audio="2.9.1"), "x86_64",
     ["torch==2.9.1+rocm6.4", "torchvision==0.24.1+rocm6.4", "torchaudio==2.9.1+rocm6.4"]),
    (build("2.5.1", "cpu", vision="0.20.1", audio="2.5.1"), "arm64",
     ["torch==2.5.1", "torchvision==0.20.1", "torchaudio==2.5.1"]),
    (build("2.7.1", "cpu", vision="0.22.1"), "arm64", ["torch==2.7.1+cpu", "torchvision==0.22.1+cpu"]),
    (build("2.0.0", "cu118", vision="0.15.1", audio="2.0.1"), "x86_64",
     ["torch==2.0.0+cu118", "torchvision==0.15.1+cu118", "torchaudio==2.0.1"]),
    (build("1.13.1", "cu117", vision="0.14.1", audio="0.13.1", style="extra-index-url"), "x86_64",
     ["torch==1.13.1+cu117", "torchvision==0.14.1+cu117", "torchaudio==0.13.1"]),
    (build("2.14.1", "cu126", vision="0.29.1", index="https://mirror.example/pytorch/cu126"), "x86_64",
     ["torch==2.14.1+cu126", "torchvision==0.29.1+cu126"]),
    (build("2.14.1", "cu126", vision="0.29.1", index="https://nexus.example/repository/pypi/simple"), "x86_64",
     ["torch==2.14.1", "torchvision==0.29.1"]),
    (build("2.14.1", "cu126", vision="0.29.1", index=None), "x86_64", ["torch==2.14.1", "torchvision==0.29.1"]),
], ids=["cu124", "cpu", "rocm", "arm64-cpu-2.5-bare", "arm64-cpu-2.7", "torchaudio-of-another-release",
        "1.x-published", "mirror-of-the-pytorch-index", "other-index-bare", "offline-bare"])
def test_requirement_pins(b: Build, arch: str, pins: List[str]) -> None:
    assert pip_inst.requirement_pins(b, arch) == pins


def test_install_argv_bounds_pips_retries_online_and_isolates_offline() -> None:
    online = pip_inst.build_command(build("2.5.1", "cu124"), Request(), arch="x86_64")
    assert pip_inst.install_argv(online, "/v/bin/python", interactive=False) == [
        "/v/bin/python", "-m", "pip", "install", "--disable-pip-version-check", "--retries", "2", "--timeout", "10",
        "--progress-bar", "off", "torch==2.5.1+cu124", "--index-url", f"{PYTORCH}/cu124"]
    offline = pip_inst.build_command(build("2.5.1", "cu124", index=None), Request(offline=True, find_links=("/w",)),
                                     arch="x86_64")
    assert pip_inst.install_argv(offline, "/v/bin/python", interactive=True) == [
        "/v/bin/python", "-m", "pip", "install", "--isolated", "--disable-pip-version-check", "torch==2.5.1",
        "--no-index", "--find-links", "/w"]
    assert pip_inst.closed_install_argv("/v/bin/python", "/t/req.txt", interactive=False) == [
        "/v/bin/python", "-m", "pip", "install", "--isolated", "--disable-pip-version-check", "--no-index",
        "--require-hashes", "-r", "/t/req.txt", "--progress-bar", "off"]


def test_download_argv_pins_and_bounds_too() -> None:
    argv = pip_inst.download_argv(build("2.5.1", "cu124", vision="0.20.1"), Request(), "/dest", python="py",
                                  arch="x86_64", python_version="312")
    assert argv == ["py", "-m", "pip", "download", "--disable-pip-version-check", "--retries", "2", "--timeout",
                    "10", "--dest", "/dest", "torch==2.5.1+cu124", "torchvision==0.20.1+cu124", "--index-url",
                    f"{PYTORCH}/cu124", "--python-version", "312"]


def test_pip_env() -> None:
    assert pip_inst.pip_env(["py", "-m", "pip", "install", "torch"]) == {
        "PYTHONUTF8": "1", "PYTHONIOENCODING": "utf-8", "PIP_FIND_LINKS": " ", "PIP_EXTRA_INDEX_URL": " "}
    assert pip_inst.pip_env(["py", "-m", "pip", "install", "--isolated", "torch"]) == {
        "PYTHONUTF8": "1", "PYTHONIOENCODING": "utf-8", "PIP_CONFIG_FILE": os.devnull}


# --- real pip: what the user's configuration can no longer do ---------------------------------------------------

@pytest.fixture(scope="module")
def indexes(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Path]:
    """/extra serves sentinel 1.0 (standard index); /newer and a folder hold sentinel 2.0, which pip prefers."""
    root = fake_torch.standard_index(tmp_path_factory.getbasetemp() / "index")
    other = tmp_path_factory.mktemp("newer")
    wheel = fake_torch.build_wheel(other / "wheels", "sentinel", "2.0", {"sentinel/__init__.py": "VALUE = 2\n"})
    fake_torch.write_index(other, "newer", [wheel])
    return {"index": root, "newer": other, "folder": other / "wheels"}


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fake_torch.template_venv(tmp_path_factory.getbasetemp() / "template-venv")


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("PIP_") or name.lower() in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("PIP_NO_CACHE_DIR", "1")


def installed_sentinel(prefix: Path) -> str:
    found = sorted(prefix.glob("lib/python3*/site-packages/sentinel-*.dist-info")) or sorted(
        prefix.glob("Lib/site-packages/sentinel-*.dist-info"))
    assert len(found) == 1, found
    return found[0].name[len("sentinel-"):-len(".dist-info")]


def run(argv: List[str]) -> subprocess.CompletedProcess:
    env = dict(os.environ, **pip_inst.pip_env(argv))
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300)


@pytest.mark.parametrize("setting", ["PIP_FIND_LINKS", "PIP_EXTRA_INDEX_URL", "config-file"])
def test_online_the_users_find_links_and_extra_indexes_are_not_read(setting, indexes, template, clean_env,
                                                                      monkeypatch, tmp_path) -> None:
    with IndexServer(indexes["index"]) as ours, IndexServer(indexes["newer"]) as theirs:
        if setting == "PIP_FIND_LINKS":
            monkeypatch.setenv("PIP_FIND_LINKS", str(indexes["folder"]))
        elif setting == "PIP_EXTRA_INDEX_URL":
            monkeypatch.setenv("PIP_EXTRA_INDEX_URL", f"{theirs.url}/newer")
        else:
            config = tmp_path / "pip.conf"
            config.write_text(f"[global]\nfind-links = {indexes['folder']}\nextra-index-url = {theirs.url}/newer\n")
            monkeypatch.setenv("PIP_CONFIG_FILE", str(config))
        prefix = fake_torch.copy_venv(template, tmp_path / "v")
        python = str(prefix / "bin" / "python")
        argv = pip_inst.install_argv(["python", "-m", "pip", "install", "sentinel", "--index-url",
                                      f"{ours.url}/extra"], python, interactive=False)
        result = run(argv)
        assert result.returncode == 0, result.stdout + result.stderr
        assert installed_sentinel(prefix) == "1.0"
        assert theirs.requests == []
        # without pybootstrap's environment the same command takes the newer sentinel from the user's source
        plain = subprocess.run(argv[:4] + ["--no-cache-dir", "--upgrade"] + argv[4:], capture_output=True, text=True,
                               timeout=300)
        assert plain.returncode == 0, plain.stdout + plain.stderr
        assert installed_sentinel(prefix) == "2.0"


def test_offline_the_users_configuration_is_not_read_at_all(indexes, template, clean_env, monkeypatch,
                                                             tmp_path) -> None:
    mine = tmp_path / "mine"
    fake_torch.build_wheel(mine, "sentinel", "1.0", {"sentinel/__init__.py": "VALUE = 1\n"})
    config = tmp_path / "pip.conf"
    config.write_text(f"[global]\nfind-links = {indexes['folder']}\n")
    monkeypatch.setenv("PIP_CONFIG_FILE", str(config))
    monkeypatch.setenv("PIP_FIND_LINKS", str(indexes["folder"]))
    prefix = fake_torch.copy_venv(template, tmp_path / "v")
    argv = pip_inst.install_argv(["python", "-m", "pip", "install", "sentinel", "--no-index", "--find-links",
                                  str(mine)], str(prefix / "bin" / "python"), interactive=False)
    result = run(argv)
    assert result.returncode == 0, result.stdout + result.stderr
    assert installed_sentinel(prefix) == "1.0"
    report = json.dumps(result.stdout)
    assert str(indexes["folder"]) not in report

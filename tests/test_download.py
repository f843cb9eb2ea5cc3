"""pybootstrap download --to DIR, then install --offline --find-links DIR with no network; a tampered folder."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

import fake_torch
import pytest
from indexserver import IndexServer

from pybootstrap import cli, environments, execute, install, pip_outcome

DATA = Path(__file__).resolve().parent / "data"
SMI_RTX3070 = str(DATA / "nvidia-smi" / "linux-wsl-rtx3070-smi530.47-driver531.68.txt")
WHEELS = ["torch-2.5.1+cu124-py3-none-any.whl", "torchaudio-2.5.1+cu124-py3-none-any.whl",
          "torchvision-0.20.1+cu124-py3-none-any.whl"]
PLAN = ["--nvidia-smi-file", SMI_RTX3070, "--torch", "2.5.1", "--variant", "cu124"]


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fake_torch.standard_index(tmp_path_factory.getbasetemp() / "index")


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fake_torch.template_venv(tmp_path_factory.getbasetemp() / "template-venv")


@pytest.fixture(autouse=True)
def hermetic(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in list(os.environ):
        if name.startswith(("PIP_", "PYBOOTSTRAP_")) or name.lower() in ("http_proxy", "https_proxy", "all_proxy",
                                                                         "no_proxy"):
            monkeypatch.delenv(name)
    # This machine's global pip configuration adds find-links, extra indexes and a constraints file that the test
    # index knows nothing about; with PIP_CONFIG_FILE=os.devnull pip reads no configuration file at all.
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_NO_CACHE_DIR", "1")
    monkeypatch.setenv("PIP_DISABLE_PIP_VERSION_CHECK", "1")
    monkeypatch.setenv("PYBOOTSTRAP_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(pip_outcome, "RETRY_BACKOFF_S", 0.05)
    return tmp_path


def run_pb(capsys: pytest.CaptureFixture, *argv: Any) -> Tuple[int, Optional[Dict[str, Any]], str]:
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip() else None), err


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def wheelhouse(index: Path, tmp_path_factory: pytest.TempPathFactory):
    """`pybootstrap download` once into a folder; the server is stopped afterwards (tests copy the folder)."""
    dest = tmp_path_factory.mktemp("wheelhouse")
    with IndexServer(index) as server, pytest.MonkeyPatch.context() as mp:
        for name in list(os.environ):
            if name.startswith(("PIP_", "PYBOOTSTRAP_")):
                mp.delenv(name)
        mp.setenv("PIP_CONFIG_FILE", os.devnull)  # see hermetic()
        mp.setenv("PIP_NO_CACHE_DIR", "1")
        mp.setenv("PYBOOTSTRAP_HOME", str(dest.parent / "download-home"))
        code = cli.main(["download", "--json", "--to", str(dest), *PLAN, "--index-url", f"{server.url}/cu124"])
        requests = server.requests
    return code, dest, requests


def test_download_fills_the_folder_with_the_wheels_and_a_listing(wheelhouse, capsys) -> None:
    code, dest, requests = wheelhouse
    assert code == 0
    assert sorted(f.name for f in dest.iterdir()) == sorted(WHEELS + ["pybootstrap-wheelhouse.json"])
    listing = json.loads((dest / "pybootstrap-wheelhouse.json").read_text(encoding="utf-8"))
    assert listing["schema"] == "pybootstrap.wheelhouse/1"
    assert listing["files"] == {name: sha256(dest / name) for name in WHEELS}
    assert listing["build"]["torch"] == "2.5.1" and listing["build"]["variant"] == "cu124"
    assert sorted(p for p in requests if p.startswith("/files/")) == sorted(f"/files/{w}" for w in WHEELS)


def test_offline_install_from_the_folder_needs_no_network(wheelhouse, template, hermetic, capsys) -> None:
    code, dest, _ = wheelhouse
    prefix = fake_torch.copy_venv(template, hermetic / "v")
    # the server that filled the folder was stopped when the wheelhouse fixture finished: no network at all
    code, doc, err = run_pb(capsys, "install", "--json", "--venv", prefix, *PLAN, "--offline", "--find-links", dest)
    assert code == 0, err
    assert doc["commands"] == [["python", "-m", "pip", "install", "torch==2.5.1", "torchvision==0.20.1",
                                "torchaudio==2.5.1", "--no-index", "--find-links", str(dest)]]
    assert doc["verification"]["status"] == "ok" and doc["verification"]["torch_version"] == "2.5.1+cu124"
    assert environments.read_state(prefix)["status"] == "good"


def test_a_tampered_wheel_in_the_folder_is_exit_9_before_anything_changes(wheelhouse, hermetic, capsys) -> None:
    _, dest, _ = wheelhouse
    copy = hermetic / "copy"
    shutil.copytree(dest, copy)
    with open(copy / WHEELS[0], "ab") as handle:
        handle.write(b"tampered")
    prefix = hermetic / "v"
    code, doc, err = run_pb(capsys, "install", "--venv", prefix, *PLAN, "--offline", "--find-links", copy)
    assert code == 9
    assert (f"error: {copy / WHEELS[0]} does not match the checksum recorded when it was downloaded") in err
    assert not prefix.exists()


def test_a_wheel_missing_from_the_folder_is_exit_9(wheelhouse, hermetic, capsys) -> None:
    _, dest, _ = wheelhouse
    copy = hermetic / "copy"
    shutil.copytree(dest, copy)
    (copy / WHEELS[1]).unlink()
    code, doc, err = run_pb(capsys, "install", "--venv", hermetic / "v", *PLAN, "--offline", "--find-links", copy)
    assert code == 9
    assert f"error: {copy / WHEELS[1]} is missing from the wheel folder" in err


def test_download_of_a_missing_wheel_is_exit_6(index, hermetic, capsys) -> None:
    with IndexServer(index) as server:
        server.not_found(WHEELS[0])
        code, doc, err = run_pb(capsys, "download", "--to", hermetic / "w", *PLAN, "--index-url",
                                f"{server.url}/cu124")
    assert code == 6
    assert "error: pip download: the package index could not be reached or a download failed: ERROR: HTTP error 404" \
        in err
    assert not (hermetic / "w" / "pybootstrap-wheelhouse.json").exists()


def test_download_of_a_conda_plan_is_a_usage_error(hermetic, capsys) -> None:
    code, doc, err = run_pb(capsys, "download", "--to", hermetic / "w", *PLAN, "--installer", "conda")
    assert code == 2
    assert "error: download fetches pip wheels; this plan uses conda" in err


@pytest.mark.skipif(sys.platform == "win32", reason="the what-if platform here is Windows itself")
def test_download_for_another_platform_asks_pip_for_that_platform(index, hermetic, capsys, monkeypatch) -> None:
    seen = {}

    def fake_run(argv, env, interactive, label, **kwargs):
        seen["argv"] = argv
        Path(argv[argv.index("--dest") + 1]).mkdir(parents=True, exist_ok=True)

    monkeypatch.setattr(execute, "run_with_retry", fake_run)
    monkeypatch.setattr(install, "check_index", lambda build, hw: None)  # the PyTorch index is not reachable here
    code, doc, err = run_pb(capsys, "download", "--to", hermetic / "w", "--os", "windows", "--python-version",
                            "3.12", "--no-gpu", "--torch", "2.5.1", "--variant", "cpu")
    assert code == 0, err
    argv = seen["argv"]
    assert argv[argv.index("--python-version") + 1] == "312"
    assert argv[argv.index("--platform") + 1] == "win_amd64"
    assert "--only-binary" in argv and argv[argv.index("--only-binary") + 1] == ":all:"


def test_offline_install_without_torch_or_variant_installs_what_the_folder_holds(wheelhouse, template, hermetic,
                                                                                capsys) -> None:
    code, dest, _ = wheelhouse
    prefix = fake_torch.copy_venv(template, hermetic / "v")
    hardware_only = [a for a in PLAN if a not in ("--torch", "2.5.1", "--variant", "cu124")]
    assert len(hardware_only) == len(PLAN) - 4
    code, doc, err = run_pb(capsys, "install", "--json", "--venv", prefix, *hardware_only, "--offline",
                            "--find-links", dest)
    assert code == 0, err
    assert (doc["build"]["torch"], doc["build"]["variant"]) == ("2.5.1", "cu124")
    assert f"offline: torch 2.5.1 cu124, the build `pybootstrap download` put in {dest}" in doc["reasons"]


def test_offline_reasons_name_the_wheel_folder_not_a_flag_nobody_gave(wheelhouse, hermetic, capsys) -> None:
    code, dest, _ = wheelhouse
    code, doc, err = run_pb(capsys, "plan", "--json", "--nvidia-smi-file", SMI_RTX3070, "--offline",
                            "--find-links", dest)
    assert code == 0, err
    assert (doc["build"]["torch"], doc["build"]["variant"]) == ("2.5.1", "cu124")
    assert not [r for r in doc["reasons"] if "--variant" in r]
    assert any(r.startswith(f"cu124 (from the wheel folder {dest}): ") for r in doc["reasons"]), doc["reasons"]


def test_reasons_name_the_variable_that_gave_the_variant(hermetic, capsys, monkeypatch) -> None:
    monkeypatch.setenv("PYBOOTSTRAP_VARIANT", "cpu")
    code, doc, err = run_pb(capsys, "plan", "--json", "--nvidia-smi-file", SMI_RTX3070, "--torch", "2.5.1")
    assert code == 0, err
    assert "PYBOOTSTRAP_VARIANT asked for the CPU build" in doc["reasons"]


@pytest.mark.parametrize("asked", [["--torch", "2.4.1"], ["--torch", "2.5.1", "--variant", "cpu"]],
                         ids=["other-version", "other-variant"])
def test_offline_install_of_a_build_the_folder_does_not_hold_is_refused_before_anything(wheelhouse, hermetic, capsys,
                                                                                     asked) -> None:
    _, dest, _ = wheelhouse
    prefix = hermetic / "v"
    code, doc, err = run_pb(capsys, "install", "--json", "--venv", prefix, "--nvidia-smi-file", SMI_RTX3070, *asked,
                            "--offline", "--find-links", dest)
    assert code == 3, err
    wanted = "2.4.1 cu124" if asked[1] == "2.4.1" else "2.5.1 cpu"
    companions = "torchvision 0.19.1, torchaudio 2.4.1" if asked[1] == "2.4.1" else "torchvision 0.20.1, torchaudio 2.5.1"
    assert doc["error"]["message"] == (f"offline: {dest} does not hold torch {wanted}, {companions} (it holds torch "
                                       "2.5.1+cu124)")
    assert (doc["status"], doc["plan_status"], doc["exit_code"]) == ("no-compatible-build", "ok", 3)
    assert not prefix.exists()
    assert [c for c in doc_log(doc)["commands_run"] if "venv" in c["argv"]] == []


def doc_log(doc: Dict[str, Any]) -> Dict[str, Any]:
    return json.loads(Path(doc["log_path"]).read_text(encoding="utf-8"))


def test_a_failed_download_is_status_failed_with_its_plan_status(index, hermetic, capsys) -> None:
    with IndexServer(index) as server:
        server.not_found(WHEELS[0])
        code, doc, err = run_pb(capsys, "download", "--json", "--to", hermetic / "w", *PLAN, "--index-url",
                                f"{server.url}/cu124")
    assert code == 6
    assert (doc["schema"], doc["status"], doc["plan_status"], doc["exit_code"]) == (
        "pybootstrap.download/1", "failed", "ok", 6)
    assert not (hermetic / "home" / "logs" / "latest.json").exists()  # no environment was checked or changed


# --- the closed wheelhouse end to end -----------------------------------------------------------------------------



def closed_folder(root: Path) -> Path:
    """A wheel folder as `download` leaves it: torch 2.5.1+cu124 needing sentinel, sentinel 1.0 listed; then a
    newer sentinel 2.0 put beside them that the listing does not name."""
    from pybootstrap import wheelhouse

    dest = root / "closed"
    config = fake_torch.gpu_config("2.5.1+cu124", "12.4")
    with wheelhouse.staging(dest) as stage:
        fake_torch.build_wheel(stage, "torch", "2.5.1+cu124", fake_torch.torch_files(config), requires=["sentinel>=1.0"])
        fake_torch.build_wheel(stage, "sentinel", "1.0", {"sentinel/__init__.py": "VALUE = 1\n"})
        wheelhouse.publish(stage, dest, {"torch": "2.5.1", "torchvision": None, "torchaudio": None,
                                         "variant": "cu124"})
    fake_torch.build_wheel(dest, "sentinel", "2.0", {"sentinel/__init__.py": "VALUE = 2\n"})
    return dest


def test_an_offline_install_takes_only_the_listed_files(template, hermetic, capsys, monkeypatch) -> None:
    folder = closed_folder(hermetic)
    other = hermetic / "users-find-links"
    fake_torch.build_wheel(other, "sentinel", "3.0", {"sentinel/__init__.py": "VALUE = 3\n"})
    monkeypatch.setenv("PIP_FIND_LINKS", str(other))
    prefix = fake_torch.copy_venv(template, hermetic / "v")
    code, doc, err = run_pb(capsys, "install", "--json", "--venv", prefix, "--nvidia-smi-file", SMI_RTX3070,
                            "--packages", "torch", "--offline", "--find-links", folder)
    assert code == 0, err
    site = next(prefix.glob("lib/python3*/site-packages"))
    assert sorted(p.name for p in site.glob("sentinel-*.dist-info")) == ["sentinel-1.0.dist-info"]
    assert any("--require-hashes" in step for step in doc["steps"])


def test_an_offline_version_the_folder_does_not_hold_is_refused_before_anything_is_created(hermetic,
                                                                                            capsys) -> None:
    folder = closed_folder(hermetic)
    prefix = hermetic / "v"
    code, doc, err = run_pb(capsys, "install", "--venv", prefix, "--nvidia-smi-file", SMI_RTX3070, "--torch",
                            "2.14.1", "--variant", "cu126", "--offline", "--find-links", folder)
    assert code == 3
    assert f"error: offline: {folder} does not hold torch 2.14.1 cu126" in err
    assert not prefix.exists()

"""Every Windows install command of pytorch.org's "Previous PyTorch Versions" page for torch 2.0 and later.

Source: https://pytorch.org/get-started/previous-versions/ (page source `_get_started/previous-versions.md` of
pytorch/pytorch.github.io), transcribed with its revisions and notes into tests/data/previous_versions_windows.json:
the pip and conda commands of each "Linux and Windows" block (OSX blocks and "ROCM (Linux only)" lines left out).

For each command, `pybootstrap plan --json --os windows --torch V --variant X [--installer conda]` must give the same
torch / torchvision / torchaudio versions, index URL, conda selector package and channels, and the same command.

One deliberate difference: for 2.0.0 and 2.0.1 the page's "# CUDA 11.7" pip command has no index URL. PyPI's Windows
torch wheels are CPU-only, so on Windows that command installs a CPU build (the older revision of the page, and its
quick-start data, use --index-url https://download.pytorch.org/whl/cu117). The table records that URL as
windows_correct_index_url, and pybootstrap must use it.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Set, Tuple

import pytest
from packaging.version import Version

from pybootstrap.cli import main
from pybootstrap.manifest import load_manifest

TABLE_PATH = Path(__file__).resolve().parent / "data" / "previous_versions_windows.json"
TABLE: Dict[str, Any] = json.loads(TABLE_PATH.read_text(encoding="utf-8"))
ENTRIES: List[Dict[str, Any]] = TABLE["entries"]
MANIFEST = load_manifest()
GPU = "NVIDIA GeForce RTX 3060"  # sm_86: in every Windows CUDA build from 2.0 on
DRIVER = "600.00"  # above every CUDA 11/12/13 floor


def entry_id(entry: Dict[str, Any]) -> str:
    return f"{entry['torch']}-{entry['installer']}-{entry['variant']}"


def python_for(torch: str, variant: str) -> str:
    """The newest Python the manifest lists for this Windows build: plan needs one the release supports."""
    release = MANIFEST.release(Version(torch))
    assert release is not None, f"torch {torch} is missing from the manifest"
    found = release.variant(variant)
    assert found is not None, f"torch {torch} has no {variant} in the manifest"
    return release.python_for(found, "windows")[-1]


def plan_argv(entry: Dict[str, Any]) -> List[str]:
    """The plan for the page's command: the same release, variant and installer, and the packages it installs
    (the page's 2.12.0 commands leave torchaudio out: no torchaudio was paired with 2.12 when they were written)."""
    argv = ["plan", "--json", "--os", "windows", "--arch", "x86_64", "--torch", entry["torch"],
            "--variant", entry["variant"], "--python-version", python_for(entry["torch"], entry["variant"]),
            "--driver", DRIVER, "--gpu", GPU]
    if "torchaudio" not in entry["packages"]:
        argv += ["--packages", ",".join(p for p in ("torch", "torchvision", "torchaudio") if p in entry["packages"])]
    return argv + (["--installer", "conda"] if entry["installer"] == "conda" else [])


def run_plan(argv: List[str]) -> Tuple[int, Dict[str, Any], str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv, {})
    return code, json.loads(out.getvalue()), err.getvalue()


def expected_index_url(entry: Dict[str, Any]) -> Optional[str]:
    return entry.get("windows_correct_index_url") or entry["index_url"]


def expected_command(entry: Dict[str, Any]) -> List[str]:
    """The page's command as pybootstrap writes it: `python -m pip` (never a bare pip), `conda install -y`."""
    words = shlex.split(entry["command"])  # split() also absorbs the page's double spaces
    if words[:2] == ["pip", "install"]:
        command = ["python", "-m", "pip", "install", *words[2:]]
        if "--index-url" not in words and entry.get("windows_correct_index_url"):
            command += ["--index-url", entry["windows_correct_index_url"]]
        return with_local_labels(command, entry["variant"])
    assert words[:2] == ["conda", "install"], entry["command"]
    return ["conda", "install", "-y", *words[2:]]


def with_local_labels(command: List[str], variant: str) -> List[str]:
    """pybootstrap pins the build itself where the page installs from a PyTorch variant index: the files there are
    named torch-2.0.0+cu118-..., torchvision-0.15.1+cu118-... (installers/pip.py cites them), so the page's
    torch==2.0.0 becomes torch==2.0.0+cu118; a torchaudio of another release than torch (2.0.1 with 2.0.0) stays
    as the page pins it."""
    index = command[command.index("--index-url") + 1]
    if not index.rstrip("/").endswith("/" + variant):
        return command
    pins = dict(word.split("==", 1) for word in command if "==" in word)
    out = []
    for word in command:
        name, _, version = word.partition("==")
        if version and (name != "torchaudio" or version == pins.get("torch")):
            word = f"{word}+{variant}"
        out.append(word)
    return out


def test_table_names_its_source_and_covers_every_release_from_2_0() -> None:
    assert "previous-versions.md" in TABLE["source"]
    assert "https://pytorch.org/get-started/previous-versions/" in TABLE["source"]
    assert len(ENTRIES) == 128
    assert len({entry_id(e) for e in ENTRIES}) == len(ENTRIES)
    on_page = sorted({e["torch"] for e in ENTRIES}, key=Version)
    assert on_page[0] == "2.0.0" and on_page[-1] == "2.12.0"
    in_manifest = [str(r.torch) for r in reversed(MANIFEST.releases) if Version("2.0") <= r.torch <= Version("2.12.0")]
    assert on_page == in_manifest


def _windows_builds(installer: str) -> Set[Tuple[str, str]]:
    """(torch, variant) pairs the manifest offers on Windows up to 2.12.0, for pip or conda."""
    out = set()
    for release in MANIFEST.releases:
        if not Version("2.0") <= release.torch <= Version("2.12.0"):
            continue
        for variant in release.variants:
            if variant.kind not in ("cpu", "cuda") or not variant.available_on("windows", "x86_64"):
                continue
            if installer == "pip" or (release.on_conda and variant.conda is not None):
                out.add((str(release.torch), variant.name))
    return out


@pytest.mark.parametrize("installer", ["pip", "conda"])
def test_manifest_offers_exactly_the_pages_windows_builds(installer: str) -> None:
    """No CPU/CUDA build is missing from the manifest, and none is added that the page does not list."""
    on_page = {(e["torch"], e["variant"]) for e in ENTRIES if e["installer"] == installer}
    assert _windows_builds(installer) == on_page


@pytest.mark.parametrize("entry", ENTRIES, ids=[entry_id(e) for e in ENTRIES])
def test_plan_matches_the_page(entry: Dict[str, Any]) -> None:
    code, plan, err = run_plan(plan_argv(entry))
    assert code == 0, err
    assert plan["status"] == "ok"
    build = plan["build"]
    packages = entry["packages"]
    assert (build["torch"], build["torchvision"], build["torchaudio"]) == (
        packages["torch"], packages.get("torchvision"), packages.get("torchaudio"))
    assert build["variant"] == entry["variant"]
    assert build["installer"] == entry["installer"]
    assert build["index_url"] == expected_index_url(entry)
    assert build["conda_cuda_package"] == entry["conda_cuda_package"]
    assert build["conda_channels"] == entry["conda_channels"]
    assert plan["commands"] == [expected_command(entry)]


def test_2_0_cu117_pip_uses_the_cu117_index_not_the_pages_cpu_default() -> None:
    """The page's 2.0.x "# CUDA 11.7" pip command has no index URL: on Windows that is the CPU wheel from PyPI."""
    entries = [e for e in ENTRIES if e["variant"] == "cu117" and e["installer"] == "pip"]
    assert [e["torch"] for e in entries] == ["2.0.0", "2.0.1"]
    for entry in entries:
        assert entry["index_url"] is None and "--index-url" not in entry["command"]
        code, plan, err = run_plan(plan_argv(entry))
        assert code == 0, err
        assert plan["build"]["index_url"] == "https://download.pytorch.org/whl/cu117"
        assert plan["commands"][0][-2:] == ["--index-url", "https://download.pytorch.org/whl/cu117"]


def test_2_0_0_companions_differ_between_pip_and_conda() -> None:
    pip = next(e for e in ENTRIES if entry_id(e) == "2.0.0-pip-cu118")
    conda = next(e for e in ENTRIES if entry_id(e) == "2.0.0-conda-cu118")
    _, pip_plan, _ = run_plan(plan_argv(pip))
    _, conda_plan, _ = run_plan(plan_argv(conda))
    assert (pip_plan["build"]["torchvision"], pip_plan["build"]["torchaudio"]) == ("0.15.1", "2.0.1")
    assert (conda_plan["build"]["torchvision"], conda_plan["build"]["torchaudio"]) == ("0.15.0", "2.0.0")


@pytest.mark.parametrize("case", ["2.0.0-pip-cu117", "2.5.1-conda-cu124", "2.12.0-pip-cu132", "2.8.0-pip-cpu"])
def test_real_cli_end_to_end(case: str) -> None:
    entry = next(e for e in ENTRIES if entry_id(e) == case)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYBOOTSTRAP_")}
    proc = subprocess.run([sys.executable, "-m", "pybootstrap", *plan_argv(entry)], capture_output=True, text=True,
                          env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    plan = json.loads(proc.stdout)
    assert plan["schema"] == "pybootstrap.plan/1"
    assert plan["build"]["index_url"] == expected_index_url(entry)
    assert plan["build"]["conda_cuda_package"] == entry["conda_cuda_package"]
    assert plan["commands"] == [expected_command(entry)]

"""The manifest: names and arch lists, the loader's rules on small hand-built manifests, broken and fuzzed manifests
(against manifests/schema.json too), loading from paths and URLs, `manifest validate|show`, and the invariants and
lasting facts of the shipped manifest.

Facts about past releases come from ../shared/facts/pytorch-cuda.md (its source codes are quoted next to each case);
no expected value is read from the shipped manifest, so adding a release breaks nothing here.
"""

from __future__ import annotations

import contextlib
import copy
import datetime
import http.server
import io
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from packaging.version import Version

from pybootstrap import _download
from pybootstrap.cli import main
from pybootstrap.errors import ManifestError, NetworkError
from pybootstrap.manifest import default_manifest_path, file_url_path, load_manifest, parse_manifest
from pybootstrap.manifest_model import VARIANT_NAME_PATTERN, ArchList, DriverVersion, parse_variant_name

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ROOT / "manifests" / "pytorch.json"
SCHEMA = json.loads((ROOT / "manifests" / "schema.json").read_text(encoding="utf-8"))
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
SHIPPED = load_manifest()
# What-if hardware for plan: a GPU every CUDA build of the small manifest has code for, a driver above every floor.
WHAT_IF = ["--os", "windows", "--arch", "x86_64", "--python-version", "3.11", "--driver", "600.00",
           "--gpu", "NVIDIA GeForce RTX 3060"]


def run(argv: List[str], environ: Optional[Dict[str, str]] = None) -> Tuple[int, str, str]:
    """pybootstrap in-process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv, {} if environ is None else environ)
    return code, out.getvalue(), err.getvalue()


def mini() -> Dict[str, Any]:
    """A small manifest written by hand: two matrices (one extends the other), three releases, conda on 1.0.0."""
    return {
        "$schema": "schema.json", "schema_version": 2, "updated": "2026-01-02", "index_base": "https://example.org/whl/",
        "sources": {"M": "a matrix source"},
        "cuda_families": [{"major": 13, "min_driver": {"linux": "580.65.06", "windows": "580.88"}},
                          {"major": 12, "min_driver": {"linux": "525.60.13", "windows": "528.33"}},
                          {"major": 11, "min_driver": {"linux": "450.80.02", "windows": "452.39"}}],
        "cuda_toolkits": [{"cuda": "12.6", "min_driver": {"linux": "560.28.03", "windows": "560.76"}},
                          {"cuda": "13.1", "min_driver": {"linux": "590.44.01", "windows": None}, "source": "NV"}],
        "arch_drivers": [{"compute_capability": "12.0", "min_driver": {"linux": "570.26", "windows": "570.65"}}],
        "gpus": {"8.6": ["RTX 3060"], "6.1": ["GTX 1080", "GTX 1080 Ti"]},
        "platforms": {"all": {"linux": ["x86_64", "arm64"], "windows": ["x86_64"]}, "linux": {"linux": ["x86_64"]}},
        "arch_lists": {"old": {"linux": "5.0;6.0;7.0", "windows": "5.0;6.1;7.0"},
                       "new": {"linux": "7.5;8.6;12.0+PTX", "windows": "7.5;8.6;12.0", "source": "S"}},
        "matrices": {
            "next": {"extends": "base", "variants": {"rocm6.4": None, "cu130": {"platforms": "all", "archs": "new",
                                                                               "note": "n"}}},
            "base": {"variants": {"rocm6.4": {"platforms": "linux"}, "cu126": {"platforms": "all", "archs": "old"},
                                  "cpu": {"platforms": "all"}}, "source": "M"},
            "conda": {"pip_style": "extra-index-url", "variants": {
                "cpu": {"platforms": "all", "conda": {"package": "cpuonly", "channels": ["pytorch"]}},
                "cu116": {"platforms": "all", "archs": "old",
                          "conda": {"package": "cudatoolkit=11.6", "channels": ["pytorch", "conda-forge"]}}}},
        },
        "releases": [
            {"torch": "3.0.0", "matrix": "base", "torchvision": "0.30.0", "torchaudio": "3.0.0",
             "python": {"linux": "3.10-3.13", "windows": "3.10-3.12"}},
            {"torch": "3.1.0", "matrix": "next", "date": "2026-01-01", "torchvision": "0.31.0", "torchaudio": None,
             "python": "3.11-3.13", "source": "R", "notes": ["a note"]},
            {"torch": "1.0.0", "matrix": "conda", "torchvision": "0.1.0", "torchaudio": "0.1.0", "python": "3.7-3.9",
             "conda": {"torchvision": "0.1.1", "torchaudio": None}},
        ],
    }


# --- names, arch lists, driver versions ----------------------------------------------------------

@pytest.mark.parametrize("name,kind,version", [
    ("cpu", "cpu", None), ("xpu", "xpu", None), ("cu92", "cuda", "9.2"), ("cu102", "cuda", "10.2"),
    ("cu118", "cuda", "11.8"), ("cu126", "cuda", "12.6"), ("cu130", "cuda", "13.0"), ("cu1210", "cuda", "12.10"),
    ("rocm5.1.1", "rocm", "5.1.1"), ("rocm7.14", "rocm", "7.14")])
def test_variant_names_say_their_kind_and_version(name: str, kind: str, version: Optional[str]) -> None:
    parsed = parse_variant_name(name)
    assert parsed is not None and parsed.kind == kind
    assert str(parsed.cuda or parsed.rocm or "") == (version or "")


@pytest.mark.parametrize("name", ["cu12x", "cu1", "cuda12", "rocm", "rocm6", "CPU", "cpu ", "", "cu12345"])
def test_other_names_are_no_variant_names(name: str) -> None:
    assert parse_variant_name(name) is None


def test_the_schema_says_what_a_variant_name_is_as_the_code_does() -> None:
    assert SCHEMA["$defs"]["variant_name"]["pattern"] == f"^({VARIANT_NAME_PATTERN})$"


@pytest.mark.parametrize("text,cc,serves", [
    ("5.0;6.0;7.0", (6, 1), True),  # sm_60 SASS runs on 6.1 (facts 4b, binary compatibility)
    ("5.0;6.0;7.0", (5, 2), True), ("5.0;6.0;7.0", (7, 5), True), ("5.0;6.0;7.0", (8, 6), False),
    ("7.5;8.0;8.6;9.0;10.0;12.0", (8, 9), True), ("7.5;8.0;8.6;9.0;10.0;12.0", (12, 1), True),
    ("7.5;8.0;8.6;9.0;10.0;12.0", (6, 1), False), ("7.5;8.0;8.6;9.0;10.0;12.0", (10, 3), True),
    ("3.7+PTX;5.0;6.0", (8, 6), False),  # PTX counts within its major only (tests/data/errors/arch-unsupported-3.txt)
    ("3.7+PTX;5.0;6.0", (3, 7), True), ("8.0;9.0+PTX", (9, 0), True), ("8.0;8.6+PTX", (8, 5), True)])
def test_arch_list_serves(text: str, cc: Tuple[int, int], serves: bool) -> None:
    assert ArchList.parse(text).serves(cc) is serves


def test_arch_list_names_like_torch_and_back() -> None:
    archs = ArchList.parse("3.7+PTX;5.0;6.1")
    assert archs.names() == ["sm_37", "sm_50", "sm_61", "compute_37"]
    again = ArchList.from_names(archs.names())
    assert (again.sass, again.ptx) == (archs.sass, archs.ptx)
    assert ArchList.from_names(["sm_90a", "bogus", "sm_120"]).sass == {(9, 0), (12, 0)}


@pytest.mark.parametrize("text,message", [("", "expected a TORCH_CUDA_ARCH_LIST"),
                                          ("8.6;sm_90", 'bad architecture "sm_90" in "8.6;sm_90"'),
                                          ("8.6;8.6+PTX", 'an architecture is listed twice in "8.6;8.6+PTX"')])
def test_bad_arch_lists(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("+", r"\+")):
        ArchList.parse(text)


def test_driver_versions_compare_as_versions_and_print_as_written() -> None:
    assert DriverVersion("576.02") == DriverVersion("576.2") and str(DriverVersion(" 576.02 ")) == "576.02"
    assert DriverVersion("525.60.13") < DriverVersion("528.33") < DriverVersion("580.65.06")
    assert DriverVersion("580.88").major == 580


# --- the loader's rules ---------------------------------------------------------------------------

def test_a_matrix_extends_another_and_null_removes_a_variant() -> None:
    manifest = parse_manifest(mini())
    assert [str(r.torch) for r in manifest.releases] == ["3.1.0", "3.0.0", "1.0.0"]  # newest first
    newer, older = manifest.releases[0], manifest.releases[1]
    assert [v.name for v in older.variants] == ["cpu", "cu126", "rocm6.4"]  # cpu, cuda by version, rocm, xpu
    assert [v.name for v in newer.variants] == ["cpu", "cu126", "cu130"]
    assert newer.variant("cu126") == older.variant("cu126")
    assert (newer.matrix, older.matrix) == ("next", "base")


def test_variant_kind_cuda_platforms_and_archs_are_expanded() -> None:
    cu130 = parse_manifest(mini()).releases[0].variant("cu130")
    assert cu130 is not None
    assert (cu130.kind, str(cu130.cuda), cu130.note) == ("cuda", "13.0", "n")
    assert dict(cu130.platforms) == {"linux": ("x86_64", "arm64"), "windows": ("x86_64",)}
    assert {k: a.text for k, a in cu130.archs.items()} == {"linux": "7.5;8.6;12.0+PTX", "windows": "7.5;8.6;12.0"}
    rocm = parse_manifest(mini()).releases[1].variant("rocm6.4")
    assert rocm is not None and (rocm.kind, rocm.cuda, dict(rocm.archs)) == ("rocm", None, {})


def test_python_ranges_per_release_and_per_os() -> None:
    newer, older, _ = parse_manifest(mini()).releases
    assert dict(newer.python) == {"linux": ("3.11", "3.12", "3.13"), "windows": ("3.11", "3.12", "3.13")}
    assert dict(older.python) == {"linux": ("3.10", "3.11", "3.12", "3.13"), "windows": ("3.10", "3.11", "3.12")}


def test_variant_python_overrides_the_release() -> None:
    doc = mini()
    doc["matrices"]["base"]["variants"]["rocm6.4"]["python"] = "3.12"
    release = parse_manifest(doc).releases[1]
    rocm = release.variant("rocm6.4")
    assert rocm is not None and release.python_for(rocm, "linux") == ("3.12",)


def test_sources_dates_and_notes() -> None:
    newer, older, _ = parse_manifest(mini()).releases
    assert (newer.source, older.source) == ("M; R", "M")  # the release's source is added to its matrix's
    assert (newer.date, older.date) == (datetime.date(2026, 1, 1), None)
    assert newer.notes == ("a note",) and older.notes == ()


def test_companions_pip_style_and_conda() -> None:
    newer, older, old = parse_manifest(mini()).releases
    assert (str(older.torchvision), str(older.torchaudio)) == ("0.30.0", "3.0.0")
    assert newer.torchaudio is None
    assert (older.on_conda, older.conda_torchvision, older.pip_style) == (False, None, "index-url")
    assert (old.on_conda, old.pip_style) == (True, "extra-index-url")
    assert (str(old.conda_torchvision), old.conda_torchaudio) == ("0.1.1", None)
    cu116 = old.variant("cu116")
    assert cu116 is not None and cu116.conda is not None
    assert (cu116.conda.package, cu116.conda.channels) == ("cudatoolkit=11.6", ("pytorch", "conda-forge"))


def test_tables() -> None:
    manifest = parse_manifest(mini(), "somewhere")
    assert manifest.index_base == "https://example.org/whl" and manifest.origin == "somewhere"
    assert manifest.updated == datetime.date(2026, 1, 2)
    assert [g.match for g in manifest.gpus] == ["gtx 1080 ti", "rtx 3060", "gtx 1080"]  # longest first
    assert [str(t.cuda) for t in manifest.toolkits] == ["13.1", "12.6"]
    assert manifest.toolkits[0].min_driver["windows"] is None
    assert str(manifest.arch_driver_floor((12, 1), "windows")) == "570.65"
    assert manifest.arch_driver_floor((8, 6), "linux") is None
    assert str(manifest.cuda_families[12].min_driver["windows"]) == "528.33"


# --- broken manifests -------------------------------------------------------------------------------
# Each case breaks mini() and gives the exact start of the error. schema=True: manifests/schema.json refuses it
# too (checked with jsonschema); False: only the loader's cross-field checks (or the JSON decoder) can.

Case = Callable[[Dict[str, Any]], Any]
BROKEN: List[Tuple[str, Case, str, bool]] = [
    ("top-level-list", lambda d: [d], "(top level): expected a pybootstrap manifest (schema_version 2), got [{", True),
    ("missing-schema_version", lambda d: d.pop("schema_version") and d, "schema_version: missing", True),
    ("schema_version-99", lambda d: {**d, "schema_version": 99},
     "schema_version: unsupported version 99 (this pybootstrap reads version 2)", True),
    ("schema_version-1", lambda d: {**d, "schema_version": 1},
     "schema_version: unsupported version 1 (this pybootstrap reads version 2)", True),
    ("schema_version-string", lambda d: {**d, "schema_version": "2"}, 'schema_version: expected 2, got "2"', True),
    ("schema_version-bool", lambda d: {**d, "schema_version": True}, "schema_version: expected 2, got true", True),
    ("unknown-top-level-key", lambda d: {**d, "relases": []},
     "relases: unknown key (expected one of $schema, schema_version, updated,", True),
    ("index_base-plain-http", lambda d: {**d, "index_base": "http://x.org"},
     'index_base: expected an https:// URL (http:// only for loopback), got "http://x.org"', True),
    ("updated-not-a-date", lambda d: {**d, "updated": "yesterday"},
     'updated: expected a date like "2024-10-29", got "yesterday"', True),
    ("updated-not-a-calendar-date", lambda d: {**d, "updated": "2024-13-40"},
     'updated: not a calendar date: "2024-13-40"', False),
    ("sources-value-number", lambda d: {**d, "sources": {"M": 1}}, "sources.M: expected a string, got 1", True),
    ("empty-releases", lambda d: {**d, "releases": []}, "releases: must not be empty", True),
    ("releases-object", lambda d: {**d, "releases": {}}, "releases: expected a list, got {}", True),
    ("release-torch-not-a-version", lambda d: d["releases"][0].update(torch="2.x") or d,
     'releases[0].torch: expected a version like "2.5.1", got "2.x"', True),
    ("release-torch-local-version", lambda d: d["releases"][0].update(torch="3.0.0+cu126") or d,
     'releases[0].torch: expected a version like "2.5.1", got "3.0.0+cu126"', True),
    ("release-torch-number", lambda d: d["releases"][0].update(torch=3.0) or d,
     'releases[0].torch: expected a version like "2.5.1", got 3.0', True),
    ("release-missing-torchvision", lambda d: d["releases"][0].pop("torchvision") and d,
     "releases[0].torchvision: missing (use null when there is none)", True),
    ("release-unknown-key", lambda d: d["releases"][0].update(torchvison="1") or d,
     "releases[0].torchvison: unknown key (expected one of torch, matrix, date,", True),
    ("odd-key-is-quoted", lambda d: d["releases"][0].update({"my key": 1}) or d, 'releases[0]["my key"]: unknown key',
     True),
    ("release-unknown-matrix", lambda d: d["releases"][0].update(matrix="nope") or d,
     'releases[0].matrix: no matrix named "nope" in matrices', False),
    ("release-date-not-a-calendar-date", lambda d: d["releases"][1].update(date="2026-02-30") or d,
     'releases[1].date: not a calendar date: "2026-02-30"', False),
    ("duplicate-release-spelled-differently", lambda d: d["releases"].append(dict(d["releases"][0], torch="3.0.0.0"))
     or d, "releases[3].torch: duplicate release 3.0.0.0 (also releases[0])", False),
    ("python-not-a-range", lambda d: d["releases"][1].update(python="3") or d,
     'releases[1].python: expected a Python range like "3.10-3.14", got "3"', True),
    ("python-a-list", lambda d: d["releases"][1].update(python=["3.12"]) or d,
     'releases[1].python: expected a Python range like "3.10-3.14" or an object, got ["3.12"]', True),
    ("python-range-backwards", lambda d: d["releases"][1].update(python="3.13-3.11") or d,
     'releases[1].python: the range "3.13-3.11" ends before it starts', False),
    ("python-unknown-os", lambda d: d["releases"][1].update(python={"darwin": "3.12"}) or d,
     "releases[1].python.darwin: unknown OS (expected one of linux, windows)", True),
    ("python-missing-for-a-published-os", lambda d: d["releases"][1].update(python={"linux": "3.12"}) or d,
     'releases[1].python: no Python range for windows, where cpu of matrix "next" is published', False),
    ("notes-not-strings", lambda d: d["releases"][1].update(notes=[1]) or d,
     "releases[1].notes[0]: expected a string, got 1", True),
    ("release-conda-without-conda-matrix", lambda d: d["releases"][0].update(
        conda={"torchvision": None, "torchaudio": None}) or d,
     'releases[0].conda: matrix "base" has no conda selectors, so the release has no conda companions', False),
    ("variant-name-bad", lambda d: d["matrices"]["base"]["variants"].update({"cu12x": {"platforms": "all"}}) or d,
     'matrices.base.variants.cu12x: not a valid key: expected a variant name like "cu126", "rocm6.4", "cpu" or '
     '"xpu", got "cu12x"', True),
    ("variant-unknown-key", lambda d: d["matrices"]["base"]["variants"]["cpu"].update(kind="cpu") or d,
     "matrices.base.variants.cpu.kind: unknown key (expected one of platforms, archs, conda, python, note)", True),
    ("variant-without-platforms", lambda d: d["matrices"]["base"]["variants"]["cpu"].pop("platforms") and d,
     "matrices.base.variants.cpu.platforms: missing", True),
    ("variant-platforms-inline", lambda d: d["matrices"]["base"]["variants"]["cpu"].update(
        platforms={"linux": ["x86_64"]}) or d,
     'matrices.base.variants.cpu.platforms: expected the name of an entry in platforms, like "x86_64", got {', True),
    ("variant-platforms-unknown-name", lambda d: d["matrices"]["base"]["variants"]["cpu"].update(platforms="x") or d,
     'matrices.base.variants.cpu.platforms: no entry named "x" in platforms', False),
    ("cuda-variant-without-archs", lambda d: d["matrices"]["base"]["variants"]["cu126"].pop("archs") and d,
     "matrices.base.variants.cu126.archs: missing (every CUDA variant names its entry in arch_lists)", False),
    ("cuda-variant-unknown-archs", lambda d: d["matrices"]["base"]["variants"]["cu126"].update(archs="x") or d,
     'matrices.base.variants.cu126.archs: no arch list named "x" in arch_lists', False),
    ("arch-list-lacks-a-published-os", lambda d: d["arch_lists"]["old"].pop("windows") and d,
     "matrices.base.variants.cu126.archs: arch_lists.old has no windows list, but the variant is published for "
     "windows", False),
    ("rocm-variant-with-archs", lambda d: d["matrices"]["base"]["variants"]["rocm6.4"].update(archs="old") or d,
     'matrices.base.variants["rocm6.4"].archs: only CUDA variants have arch lists (rocm6.4 is a rocm variant)', False),
    ("cuda-family-missing", lambda d: d["cuda_families"].pop(1) and d,
     "matrices.base.variants.cu126: no linux driver floor for CUDA 12.x in cuda_families (every CUDA variant needs "
     "one per OS it is published for)", False),
    ("cuda-family-without-windows", lambda d: d["cuda_families"][1]["min_driver"].pop("windows") and d,
     "matrices.base.variants.cu126: no windows driver floor for CUDA 12.x in cuda_families", False),
    ("conda-selects-another-cuda", lambda d: d["matrices"]["conda"]["variants"]["cu116"]["conda"].update(
        package="cudatoolkit=11.3") or d,
     'matrices.conda.variants.cu116.conda.package: "cudatoolkit=11.3" does not select CUDA 11.6', False),
    ("conda-cpu-not-cpuonly", lambda d: d["matrices"]["conda"]["variants"]["cpu"]["conda"].update(
        package="pytorch-cpu=1.0") or d,
     'matrices.conda.variants.cpu.conda.package: the cpu variant is selected by "cpuonly", got "pytorch-cpu=1.0"',
     False),
    ("conda-package-with-space", lambda d: d["matrices"]["conda"]["variants"]["cpu"]["conda"].update(
        package="cpu only") or d,
     'matrices.conda.variants.cpu.conda.package: expected a conda package like "pytorch-cuda=12.4" or "cpuonly", '
     'got "cpu only"', True),
    ("conda-channels-empty", lambda d: d["matrices"]["conda"]["variants"]["cpu"]["conda"].update(channels=[]) or d,
     "matrices.conda.variants.cpu.conda.channels: must not be empty", True),
    ("conda-channel-null", lambda d: d["matrices"]["conda"]["variants"]["cpu"]["conda"].update(channels=[None]) or d,
     'matrices.conda.variants.cpu.conda.channels[0]: expected a channel name like "pytorch", got null', True),
    ("matrix-extends-unknown", lambda d: d["matrices"]["next"].update(extends="x") or d,
     'matrices.next.extends: no matrix named "x" in matrices', False),
    ("matrices-extend-in-a-circle", lambda d: d["matrices"]["base"].update(extends="next") or d,
     "matrices.base.extends: matrices extend each other in a circle (next -> base -> next)", False),
    ("matrix-removes-what-it-lacks", lambda d: d["matrices"]["next"]["variants"].update(xpu=None) or d,
     'matrices.next.variants.xpu: removes xpu, which "base" does not have', False),
    ("matrix-left-empty", lambda d: d["matrices"].update(x={"extends": "conda", "variants": {"cpu": None,
                                                                                          "cu116": None}}) or d,
     "matrices.x: has no variants", False),
    ("arch-list-sm-name", lambda d: d["arch_lists"]["old"].update(linux="sm_86") or d,
     'arch_lists.old.linux: expected an arch list like "7.5;8.0;8.6;9.0+PTX", got "sm_86"', True),
    ("arch-list-with-spaces", lambda d: d["arch_lists"]["old"].update(linux="8.0; 8.6") or d,
     'arch_lists.old.linux: expected an arch list like "7.5;8.0;8.6;9.0+PTX", got "8.0; 8.6"', True),
    ("arch-listed-twice", lambda d: d["arch_lists"]["old"].update(linux="8.0;8.6;8.6+PTX") or d,
     'arch_lists.old.linux: an architecture is listed twice in "8.0;8.6;8.6+PTX"', False),
    ("arch-list-entry-without-os", lambda d: d["arch_lists"].update(x={"source": "s"}) or d,
     "arch_lists.x: names no OS (expected a list for linux and/or windows)", False),
    ("cuda-family-bad-driver", lambda d: d["cuda_families"][1]["min_driver"].update(windows="abc") or d,
     'cuda_families[1].min_driver.windows: expected a driver version like "528.33", got "abc"', True),
    ("cuda-family-driver-number", lambda d: d["cuda_families"][1]["min_driver"].update(linux=525.6) or d,
     'cuda_families[1].min_driver.linux: expected a driver version like "528.33", got 525.6', True),
    ("cuda-family-unknown-os", lambda d: d["cuda_families"][1]["min_driver"].update(macos="528.33") or d,
     "cuda_families[1].min_driver.macos: unknown OS (expected one of linux, windows)", True),
    ("cuda-family-duplicate", lambda d: d["cuda_families"].append(copy.deepcopy(d["cuda_families"][0])) or d,
     "cuda_families[3].major: duplicate CUDA family 13", False),
    ("cuda-family-major-string", lambda d: d["cuda_families"][0].update(major="13") or d,
     'cuda_families[0].major: expected a CUDA major version like 12, got "13"', True),
    ("cuda-family-major-zero", lambda d: d["cuda_families"][0].update(major=0) or d,
     "cuda_families[0].major: expected at least 1, got 0", True),
    ("cuda_families-null", lambda d: {**d, "cuda_families": None}, "cuda_families: expected a list, got null", True),
    ("toolkit-cuda-bad", lambda d: d["cuda_toolkits"][0].update(cuda="12") or d,
     'cuda_toolkits[0].cuda: expected a CUDA version like "12.8", got "12"', True),
    ("toolkit-duplicate", lambda d: d["cuda_toolkits"].append(copy.deepcopy(d["cuda_toolkits"][0])) or d,
     "cuda_toolkits[2].cuda: duplicate CUDA toolkit 12.6", False),
    ("gpus-a-list", lambda d: {**d, "gpus": ["RTX 3060"]}, 'gpus: expected an object, got ["RTX 3060"]', True),
    ("gpus-capability-bad", lambda d: d["gpus"].update({"sm_120": ["X"]}) or d,
     'gpus.sm_120: not a valid key: expected a compute capability like "8.6", got "sm_120"', True),
    ("gpus-name-twice", lambda d: d["gpus"].update({"7.5": ["rtx 3060"]}) or d,
     'gpus["7.5"][0]: duplicate GPU name "rtx 3060" (also gpus["8.6"][0])', False),
    ("gpus-name-repeated", lambda d: d["gpus"]["8.6"].append("RTX 3060") or d,
     'gpus["8.6"][1]: duplicate "RTX 3060" (also [0])', True),
    ("gpus-name-with-space", lambda d: d["gpus"]["8.6"].append(" x") or d,
     'gpus["8.6"][1]: expected a GPU name fragment like "RTX 3060", got " x"', True),
    ("platforms-unknown-arch", lambda d: d["platforms"]["all"].update(linux=["x86_64", "aarch64"]) or d,
     'platforms.all.linux[1]: expected one of x86_64, arm64, got "aarch64"', True),
    ("platforms-empty", lambda d: d["platforms"].update(x={}) or d, "platforms.x: must not be empty", True),
]


@pytest.mark.parametrize("case_id,make,expected,schema_refuses", BROKEN, ids=[c[0] for c in BROKEN])
def test_broken_manifest_is_refused(case_id: str, make: Case, expected: str, schema_refuses: bool,
                                    tmp_path: Path) -> None:
    doc = make(mini())
    with pytest.raises(ManifestError) as info:
        parse_manifest(doc)
    assert info.value.message.startswith(expected), info.value.message
    assert info.value.advice
    assert VALIDATOR.is_valid(doc) is not schema_refuses, "manifests/schema.json and the loader disagree"

    path = tmp_path / "broken.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    code, out, err = run(["manifest", "validate", str(path)])
    assert (code, out) == (7, "")
    assert err.startswith(f"error: {expected}") and "what to do:" in err, err
    code, out, err = run(["plan", "--manifest", str(path), "--json", *WHAT_IF])
    assert code == 7
    document = json.loads(out)
    assert (document["schema"], document["error"]["kind"], document["error"]["exit_code"]) == (
        "pybootstrap.error/1", "invalid-manifest", 7)
    assert document["error"]["message"].startswith(expected)


def test_mini_manifest_is_valid_for_both_validators() -> None:
    assert VALIDATOR.is_valid(mini())
    parse_manifest(mini())


GOOD_TEXT = json.dumps(mini(), indent=1)
BAD_JSON = [
    ("syntax-error", GOOD_TEXT.replace('"schema_version": 2,', '"schema_version": 2,,', 1).encode(),
     "<origin>: invalid JSON at line 3 column 22: Expecting property name enclosed in double quotes"),
    ("truncated", GOOD_TEXT.encode()[:200], "<origin>: invalid JSON at line"),
    ("empty", b"", "<origin>: invalid JSON at line 1 column 1: Expecting value"),
    ("not-utf8", GOOD_TEXT.replace("a matrix source", "a matrix s\udce9urce").encode("utf-8", "surrogateescape"),
     "<origin>: not UTF-8 text (invalid continuation byte at byte "),
    ("duplicate-key", GOOD_TEXT.replace('"schema_version": 2,', '"schema_version": 2, "schema_version": 2,', 1).encode(),
     '<origin>: invalid JSON: the key "schema_version" appears twice in one object'),
    ("nan", GOOD_TEXT.replace('"schema_version": 2,', '"schema_version": NaN,', 1).encode(),
     "<origin>: invalid JSON: NaN is not a JSON number"),
]


@pytest.mark.parametrize("case_id,data,expected", BAD_JSON, ids=[c[0] for c in BAD_JSON])
def test_bad_json_is_refused_with_its_place(case_id: str, data: bytes, expected: str, tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    path.write_bytes(data)
    code, out, err = run(["manifest", "validate", str(path)])
    assert (code, out) == (7, "")
    assert err.startswith("error: " + expected.replace("<origin>", str(path))), err


def test_a_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    path.write_bytes(b"\xef\xbb\xbf" + GOOD_TEXT.encode())
    assert run(["manifest", "validate", str(path)])[0] == 0


def test_broken_manifest_end_to_end_has_no_traceback(tmp_path: Path) -> None:
    doc = mini()
    doc["arch_lists"]["old"]["windows"] = "sm_86"
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYBOOTSTRAP_")}
    for argv in (["manifest", "validate", str(path)], ["plan", "--json", "--manifest", str(path), *WHAT_IF]):
        proc = subprocess.run([sys.executable, "-m", "pybootstrap", *argv], capture_output=True, text=True,
                              env=env, timeout=60)
        assert proc.returncode == 7, proc.stderr
        assert "Traceback" not in proc.stderr + proc.stdout
        assert 'arch_lists.old.windows: expected an arch list like "7.5;8.0;8.6;9.0+PTX", got "sm_86"' in proc.stderr


# --- fuzzing ----------------------------------------------------------------------------------

SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-10, 1000), st.floats(allow_nan=False, allow_infinity=False),
                    st.text(max_size=6),
                    st.sampled_from(["cpu", "cu126", "rocm6.4", "linux", "windows", "x86_64", "arm64", "all", "old",
                                     "base", "next", "12.4", "8.6", "8.6+PTX", "3.12", "3.10-3.13", "2.5.1", "528.33",
                                     "index-url", "pytorch", "cpuonly", "pytorch-cuda=12.6", "", " ", "2.x"]))
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) |
                    st.dictionaries(st.sampled_from(["torch", "matrix", "platforms", "archs", "variants", "extends",
                                                     "python", "linux", "windows", "schema_version", "cu126", "x"])
                                    | st.text(max_size=4), inner, max_size=3), max_leaves=12)


def _paths(node: Any, prefix: Tuple[Any, ...] = ()) -> List[Tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, prefix + (key,))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out += _paths(value, prefix + (i,))
    return out


PATHS = _paths(mini())
ACTIONS = ("delete", "replace", "null", "duplicate", "stringify", "copy-sibling")


def _mutate(doc: Dict[str, Any], path: Tuple[Any, ...], action: str, value: Any) -> None:
    parent: Any = doc
    for key in path[:-1]:
        try:
            parent = parent[key]
        except (KeyError, IndexError, TypeError):
            return
    key = path[-1]
    if not isinstance(parent, (dict, list)):  # an earlier mutation turned it into a string or a number
        return
    try:
        current = parent[key]
    except (KeyError, IndexError, TypeError):
        return
    if action == "delete":
        del parent[key]
    elif action == "replace":
        parent[key] = value
    elif action == "null":
        parent[key] = None
    elif action == "duplicate" and isinstance(parent, list):
        parent.append(copy.deepcopy(current))
    elif action == "stringify":
        parent[key] = json.dumps(current)[:20]
    elif action == "copy-sibling" and isinstance(parent, list) and len(parent) > 1:
        parent[key] = copy.deepcopy(parent[(key + 1) % len(parent)])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(JSON)
def test_fuzz_random_json_is_refused_cleanly(data: Any) -> None:
    with pytest.raises(ManifestError) as info:
        parse_manifest(data)
    assert ": " in info.value.message and info.value.advice


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(PATHS), st.sampled_from(ACTIONS), JSON), min_size=1, max_size=3))
def test_fuzz_mutated_manifest_is_refused_cleanly_or_passes_the_schema(mutations: List[Tuple[Any, str, Any]]) -> None:
    """Mutations raise nothing but ManifestError; whatever the loader accepts, jsonschema accepts (the walker is
    never laxer than manifests/schema.json), and whatever the schema refuses, the loader refuses."""
    doc = mini()
    for path, action, value in mutations:
        _mutate(doc, path, action, value)
    try:
        parse_manifest(doc)
    except ManifestError as exc:
        assert exc.message.split(": ")[0], exc.message
    else:
        errors = [f"{e.json_path}: {e.message}" for e in VALIDATOR.iter_errors(doc)]
        assert errors == [], f"the loader accepted what the schema refuses: {errors[:2]}"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(PATHS), st.sampled_from(ACTIONS), JSON), min_size=1, max_size=2),
       st.sampled_from(["3.0", "1.0.0", "3.1", None]), st.sampled_from(["pip", "conda"]))
def test_fuzz_cli_never_tracebacks(mutations: List[Tuple[Any, str, Any]], torch: Optional[str], installer: str) -> None:
    doc = mini()
    for path, action, value in mutations:
        _mutate(doc, path, action, value)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "m.json"
        path.write_text(json.dumps(doc), encoding="utf-8")
        argvs = [["manifest", "validate", str(path)], ["manifest", "show", "--json", "--manifest", str(path)],
                 ["plan", "--json", "--manifest", str(path), "--installer", installer, *WHAT_IF]
                 + (["--torch", torch] if torch else [])]
        for argv in argvs:
            code, out, err = run(argv)
            assert code in (0, 3, 7), (argv, code, err)
            assert "internal error" not in err and "Traceback" not in err
            if "--json" in argv:
                json.loads(out)


# --- the shipped manifest: invariants ----------------------------------------------------------------

def test_shipped_manifest_passes_the_schema_and_names_it_for_editors() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    doc = json.loads(MANIFEST.read_text(encoding="utf-8"))
    assert [e.message for e in VALIDATOR.iter_errors(doc)] == []
    assert (MANIFEST.parent / doc["$schema"]).is_file()


def test_shipped_manifest_is_the_default() -> None:
    assert default_manifest_path() == MANIFEST
    assert SHIPPED.origin == str(MANIFEST) and SHIPPED.schema_version == 2
    assert SHIPPED.provenance is not None and SHIPPED.provenance.source == "embedded"


def test_every_matrix_platform_set_and_arch_list_is_used() -> None:
    doc = json.loads(MANIFEST.read_text(encoding="utf-8"))
    used = {r["matrix"] for r in doc["releases"]} | {m["extends"] for m in doc["matrices"].values() if "extends" in m}
    assert set(doc["matrices"]) == used
    variants = [v for m in doc["matrices"].values() for v in (m.get("variants") or {}).values() if v]
    assert {v["platforms"] for v in variants} == set(doc["platforms"])
    assert {v["archs"] for v in variants if "archs" in v} == set(doc["arch_lists"])


def test_releases_are_unique_and_newest_first() -> None:
    versions = [r.torch for r in SHIPPED.releases]
    assert versions == sorted(set(versions), reverse=True)


def test_every_cuda_variant_has_a_floor_a_toolkit_and_an_arch_list_where_it_is_published() -> None:
    toolkits = {t.cuda for t in SHIPPED.toolkits}
    for release in SHIPPED.releases:
        for variant in release.variants:
            if variant.kind != "cuda":
                assert variant.archs == {} and variant.cuda is None, (release.torch, variant.name)
                continue
            assert variant.cuda in toolkits, (release.torch, variant.name)
            family = SHIPPED.cuda_families[variant.cuda.major]
            for os_name in variant.platforms:
                assert os_name in family.min_driver, (release.torch, variant.name, os_name)
                assert variant.archs[os_name].sass, (release.torch, variant.name, os_name)
            assert set(variant.archs) == set(variant.platforms)


def test_every_release_has_python_and_a_torchvision_and_dates_in_order() -> None:
    for release in SHIPPED.releases:
        assert release.torchvision is not None, release.torch
        for variant in release.variants:
            for os_name in variant.platforms:
                assert release.python_for(variant, os_name), (release.torch, variant.name, os_name)
    dates = [r.date for r in SHIPPED.releases if r.date]
    assert dates == sorted(dates, reverse=True)
    assert SHIPPED.updated is not None and SHIPPED.updated >= dates[0]


def test_rocm_is_linux_only_and_cuda_13_starts_at_turing() -> None:
    """Facts 1a: ROCm is Linux-only in every release. Facts 4b: CUDA 13 minimum is sm_75."""
    for release in SHIPPED.releases:
        for variant in release.variants:
            if variant.kind == "rocm":
                assert set(variant.platforms) == {"linux"}, (release.torch, variant.name)
            if variant.cuda is not None and variant.cuda.major >= 13:
                assert all(min(a.sass) >= (7, 5) for a in variant.archs.values()), (release.torch, variant.name)


def test_no_blackwell_code_before_cu128() -> None:
    """Facts 4b: sm_100/sm_120 first in cu128; a Windows cu11x 3.7+PTX does not make an RTX 50xx usable."""
    for release in SHIPPED.releases:
        for variant in release.variants:
            if variant.cuda is not None and variant.cuda < Version("12.8"):
                for archs in variant.archs.values():
                    assert not archs.serves((12, 0)) and not archs.serves((10, 0)), (release.torch, variant.name)


def test_the_pytorch_conda_channel_ends_with_2_5() -> None:
    """Facts 1c: 2.5 is the last release on the pytorch conda channel (IS-138506)."""
    for release in SHIPPED.releases:
        assert release.on_conda is (release.torch <= Version("2.5.1")), release.torch
        for variant in release.variants:
            if not release.on_conda or variant.kind in ("rocm", "xpu"):
                assert variant.conda is None, (release.torch, variant.name)


def test_pip_style_and_conda_selectors() -> None:
    """1.x uses --extra-index-url with +cuXXX pins (facts 2); from 1.13 the selector is pytorch-cuda=X.Y (facts 1c)."""
    for release in SHIPPED.releases:
        assert release.pip_style == ("extra-index-url" if release.torch < Version("2") else "index-url")
        for variant in release.variants:
            if variant.conda is not None and release.torch >= Version("1.13"):
                expected = "cpuonly" if variant.kind == "cpu" else f"pytorch-cuda={variant.cuda}"
                assert variant.conda.package == expected, (release.torch, variant.name)


# --- the shipped manifest: facts about past releases (they stay true when a release is added) -----------

def _archs(torch: str, variant: str, os_name: str) -> List[str]:
    release = SHIPPED.release(Version(torch))
    assert release is not None
    found = release.variant(variant)
    assert found is not None, (torch, variant)
    return found.archs[os_name].names()


FACTS_RELEASES = ["1.12.0", "1.12.1", "1.13.0", "1.13.1", "2.0.0", "2.0.1", "2.1.0", "2.1.1", "2.1.2", "2.2.0", "2.2.1",
                  "2.2.2", "2.3.0", "2.3.1", "2.4.0", "2.4.1", "2.5.0", "2.5.1", "2.6.0", "2.7.0", "2.7.1", "2.8.0",
                  "2.9.0", "2.9.1", "2.10.0", "2.11.0", "2.12.0", "2.12.1", "2.13.0", "2.14.0", "2.14.1", "2.15.0"]


def test_every_release_of_the_facts_is_present() -> None:
    """Facts 1a and pytorch-2.15-and-peers: 1.12.0 to 2.15.0; the manifest may have more, never fewer."""
    assert {Version(v) for v in FACTS_RELEASES} <= {r.torch for r in SHIPPED.releases}


@pytest.mark.parametrize("os_name", ["linux", "windows"])
@pytest.mark.parametrize("torch", ["2.7.0", "2.7.1"])
def test_first_blackwell_build_is_2_7_cu128(torch: str, os_name: str) -> None:
    """Facts 4a/4b: 2.7 cu128 = sm_75 ... sm_120 (PR-147607 dropped sm_70, PR-146265 sm_50/sm_60)."""
    assert _archs(torch, "cu128", os_name) == ["sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120"]


def test_cu128_is_built_from_2_7_to_2_11_only() -> None:
    """Facts 1a: cu128 appears in 2.7 and is deprecated in 2.12 (PR-182849)."""
    with_cu128 = sorted(str(r.torch) for r in SHIPPED.releases if r.variant("cu128"))
    assert sorted(with_cu128, key=Version) == ["2.7.0", "2.7.1", "2.8.0", "2.9.0", "2.9.1", "2.10.0", "2.11.0"]


@pytest.mark.parametrize("torch,has_volta", [("2.7.1", False), ("2.8.0", True), ("2.9.1", True), ("2.10.0", True),
                                             ("2.11.0", False)])
def test_volta_in_cu128_only_for_2_8_to_2_10(torch: str, has_volta: bool) -> None:
    """Facts 4b: Volta was re-added to cu128 for 2.8-2.10 and dropped again in 2.11 (PR-175253)."""
    assert ("sm_70" in _archs(torch, "cu128", "linux")) is has_volta


def test_cu126_keeps_maxwell_pascal_and_volta_through_2_14_and_is_gone_in_2_15() -> None:
    """Facts 4b: sm_50/sm_60/sm_70 (and sm_61 explicitly on Windows) in cu126 through 2.14; 2.15 has no cu126
    (pytorch-2.15-and-peers: pytorch/pytorch#190385)."""
    for torch in ("2.6.0", "2.11.0", "2.12.0", "2.13.0", "2.14.0", "2.14.1"):
        assert {"sm_50", "sm_60", "sm_61", "sm_70"} <= set(_archs(torch, "cu126", "windows")), torch
        assert {"sm_50", "sm_60", "sm_70"} <= set(_archs(torch, "cu126", "linux")), torch
        assert "sm_61" not in _archs(torch, "cu126", "linux")  # Linux serves 6.1 from the sm_60 cubin
    release = SHIPPED.release(Version("2.15.0"))
    assert release is not None and release.variant("cu126") is None
    assert {v.name for v in release.variants} >= {"cpu", "cu130", "cu132"}


@pytest.mark.parametrize("torch", ["2.12.0", "2.13.0", "2.14.1", "2.15.0"])
def test_cu130_and_cu132_lists(torch: str) -> None:
    """Facts 4a: 7.5;8.0;8.6;9.0;10.0;12.0+PTX, "+PTX available on linux builds only"."""
    for name in ("cu130", "cu132"):
        assert _archs(torch, name, "linux") == ["sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120", "compute_120"]
        assert _archs(torch, name, "windows") == ["sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120"]


def test_hopper_first_in_2_0_cu118() -> None:
    """Facts 4b: sm_90 first in the 2.0 cu118 wheels; not in cu117."""
    assert "sm_90" in _archs("2.0.0", "cu118", "windows")
    assert "sm_90" not in _archs("2.0.0", "cu117", "windows")


def test_conda_selectors_of_1_12_and_companions_of_2_0_0() -> None:
    """Facts 1c: 1.12 uses cudatoolkit=X, 11.6 needs conda-forge; 1a: 2.0.0's pip and conda companions differ."""
    release = SHIPPED.release(Version("1.12.1"))
    assert release is not None
    assert [(v.name, v.conda.package, v.conda.channels) for v in release.variants if v.conda] == [
        ("cpu", "cpuonly", ("pytorch",)), ("cu102", "cudatoolkit=10.2", ("pytorch",)),
        ("cu113", "cudatoolkit=11.3", ("pytorch",)), ("cu116", "cudatoolkit=11.6", ("pytorch", "conda-forge"))]
    release = SHIPPED.release(Version("2.0.0"))
    assert release is not None
    assert (str(release.torchvision), str(release.torchaudio)) == ("0.15.1", "2.0.1")
    assert (str(release.conda_torchvision), str(release.conda_torchaudio)) == ("0.15.0", "2.0.0")


@pytest.mark.parametrize("torch,windows,linux", [
    ("2.4.1", "3.8-3.12", "3.8-3.12"), ("2.5.1", "3.9-3.12", "3.9-3.13"), ("2.6.0", "3.9-3.13", "3.9-3.13"),
    ("2.9.0", "3.10-3.14", "3.10-3.14"), ("2.14.1", "3.10-3.14", "3.10-3.14"), ("2.15.0", "3.11-3.15", "3.11-3.15")])
def test_python_versions(torch: str, windows: str, linux: str) -> None:
    """Facts 1a/1b: 2.5 has cp313 on Linux only (IS-130249); 3.14 from 2.9; 2.15 is 3.11 to 3.15 on PyPI."""
    release = SHIPPED.release(Version(torch))
    assert release is not None

    def span(versions: Tuple[str, ...]) -> str:
        return f"{versions[0]}-{versions[-1]}"
    assert (span(release.python["windows"]), span(release.python["linux"])) == (windows, linux)


def test_companions_of_2_12_to_2_15() -> None:
    """pytorch-2.15-and-peers: torchvision 0.29.2 with 2.15.0; torchaudio 2.11.1 requires torch>=2.11, so it pairs
    with 2.11 to 2.15; torchaudio published no 2.12 or later."""
    pairs = {str(r.torch): (str(r.torchvision), str(r.torchaudio)) for r in SHIPPED.releases}
    assert pairs["2.15.0"] == ("0.29.2", "2.11.1")
    for torch in ("2.12.0", "2.12.1", "2.13.0", "2.14.0", "2.14.1"):
        assert pairs[torch][1] == "2.11.1", torch
    assert pairs["2.11.0"] == ("0.26.0", "2.11.0")


def test_driver_floors_and_new_toolkits() -> None:
    """Facts 3a: CUDA 11.x 450.80.02/452.39, 12.x 525.60.13/528.33, 13.x 580.65.06/580.88 (Linux/Windows);
    pytorch-2.15-and-peers: toolkits 13.3 (610.43.02 Linux) and 13.4 (615.71.09 Linux, 616.92 Windows)."""
    floors = {major: {k: str(v) for k, v in f.min_driver.items()} for major, f in SHIPPED.cuda_families.items()}
    assert floors[11] == {"linux": "450.80.02", "windows": "452.39"}
    assert floors[12] == {"linux": "525.60.13", "windows": "528.33"}
    assert floors[13] == {"linux": "580.65.06", "windows": "580.88"}
    toolkits = {str(t.cuda): {k: str(v) if v else None for k, v in t.min_driver.items()} for t in SHIPPED.toolkits}
    assert toolkits["13.3"]["linux"] == "610.43.02"
    assert toolkits["13.4"] == {"linux": "615.71.09", "windows": "616.92"}


def test_uncertain_entries_say_so() -> None:
    """Entries the facts mark [S]/[I] carry their confidence in the manifest (cu129 revived, 2.15's extras)."""
    for torch in ("2.9.0", "2.11.0", "2.12.1", "2.13.0"):
        release = SHIPPED.release(Version(torch))
        variant = release.variant("cu129") if release else None
        assert variant is not None and variant.note and "confidence" in variant.note, torch
        assert set(variant.platforms) == {"linux"}
    release = SHIPPED.release(Version("2.15.0"))
    assert release is not None and any("not confirmed" in note for note in release.notes)


# --- loading: paths, file:// URLs, http(s) URLs, PYBOOTSTRAP_MANIFEST ----------------------------------

MINI_BYTES = json.dumps(mini()).encode()


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/close":
            return  # no response: the server closes the connection
        if self.path == "/slow":
            time.sleep(1.5)
        body = {"/pytorch.json": MINI_BYTES, "/slow": MINI_BYTES, "/broken.json": b'{"schema_version": 2, '}.get(
            self.path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


class _Server(http.server.ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that timed out leaves a broken pipe; the default prints it to (redirected) stderr


@pytest.fixture(scope="module")
def server():
    httpd = _Server(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loopback requests must not go through a proxy from the environment; retries must not sleep."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setattr(_download, "BACKOFF_S", 0.0)


def test_manifest_from_loopback_http(server: str, no_proxy: None) -> None:
    url = f"{server}/pytorch.json"
    code, out, err = run(["manifest", "validate", url])
    assert (code, out) == (0, "")
    assert err == f"{url}: valid (3 releases, 1.0.0 to 3.1.0)\n"
    code, out, err = run(["plan", "--json", "--manifest", url, "--torch", "3.0", *WHAT_IF])
    assert code == 0, err
    document = json.loads(out)
    assert document["build"]["torch"] == "3.0.0"
    assert document["manifest"]["source"] == "file" and document["manifest"]["location"] == url


def test_manifest_url_404_is_a_network_error(server: str, no_proxy: None) -> None:
    code, out, err = run(["manifest", "validate", "--json", f"{server}/missing.json"])
    assert code == 6
    assert json.loads(out)["error"]["message"] == f"could not download {server}/missing.json: HTTP 404 Not Found"


def test_manifest_url_connection_closed_is_a_network_error(server: str, no_proxy: None) -> None:
    code, out, err = run(["plan", "--json", "--manifest", f"{server}/close", *WHAT_IF])
    assert code == 6
    message = json.loads(out)["error"]["message"]
    assert message.startswith(f"could not download {server}/close: ConnectionError"), message


def test_manifest_url_connection_refused_is_a_network_error(no_proxy: None) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    code, out, err = run(["manifest", "validate", f"http://127.0.0.1:{port}/pytorch.json"])
    assert code == 6
    assert err.startswith(f"error: could not download http://127.0.0.1:{port}/pytorch.json: ConnectionError")


def test_manifest_url_is_fetched_with_a_timeout(server: str, no_proxy: None) -> None:
    with pytest.raises(NetworkError) as info:
        load_manifest(f"{server}/slow", timeout=0.2)
    assert "ReadTimeout" in info.value.message


def test_invalid_manifest_over_http_exits_7(server: str, no_proxy: None) -> None:
    code, out, err = run(["manifest", "validate", f"{server}/broken.json"])
    assert code == 7
    assert err.startswith(f"error: {server}/broken.json: invalid JSON at line 1 column 23")


@pytest.mark.parametrize("url", [
    "http://example.com/pytorch.json", "http://10.0.0.1/m.json", "ftp://example.com/m.json",
    "http://127.0.0.1.example.com/m.json", "http://localhost.example.com/m.json"])
def test_non_loopback_plain_http_is_a_usage_error(url: str, no_proxy: None) -> None:
    code, out, err = run(["manifest", "validate", "--json", url])
    assert code == 2
    assert json.loads(out)["error"]["message"] == f"--manifest: {url} is not an https:// URL"
    code, out, err = run(["plan", "--manifest", url, *WHAT_IF])
    assert code == 2 and "is not an https:// URL" in err


def test_plain_paths_and_file_urls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "a folder"
    folder.mkdir()
    path = folder / "my manifest.json"
    path.write_bytes(MINI_BYTES)
    url = path.as_uri()
    assert "%20" in url
    assert file_url_path(url) == path
    assert file_url_path("file://localhost" + url[len("file://"):]) == path
    monkeypatch.chdir(folder)
    for source in (str(path), url, "my manifest.json"):
        code, out, err = run(["manifest", "validate", "--json", source])
        assert code == 0, err
        document = json.loads(out)
        assert {k: document[k] for k in ("valid", "origin", "schema_version", "releases", "newest", "oldest")} == {
            "valid": True, "origin": str(path) if source != "my manifest.json" else "my manifest.json",
            "schema_version": 2, "releases": 3, "newest": "3.1.0", "oldest": "1.0.0"}
        assert document["manifest"]["source"] == "file"


@pytest.mark.parametrize("name,expected", [("missing.json", "manifest not found: <path>"),
                                           ("", "cannot read manifest <path>: ")])
def test_unreadable_paths_exit_7(tmp_path: Path, name: str, expected: str) -> None:
    path = tmp_path / name if name else tmp_path  # a folder cannot be read as a file
    code, out, err = run(["manifest", "validate", str(path)])
    assert code == 7
    assert err.startswith("error: " + expected.replace("<path>", str(path)))


def test_pybootstrap_manifest_environment_variable(tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    good.write_bytes(MINI_BYTES)
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema_version": 99}', encoding="utf-8")
    code, out, _ = run(["manifest", "validate", "--json"], {"PYBOOTSTRAP_MANIFEST": str(good)})
    assert code == 0 and json.loads(out)["origin"] == str(good)
    code, _, err = run(["manifest", "validate"], {"PYBOOTSTRAP_MANIFEST": str(bad)})
    assert code == 7 and err.startswith("error: schema_version: unsupported version 99")
    code, _, err = run(["plan", "--json", *WHAT_IF], {"PYBOOTSTRAP_MANIFEST": str(bad)})
    assert code == 7
    code, out, err = run(["plan", "--json", "--manifest", str(good), *WHAT_IF], {"PYBOOTSTRAP_MANIFEST": str(bad)})
    assert code == 0, err  # the flag wins over the variable
    code, out, err = run(["manifest", "validate", "--json", str(good)], {"PYBOOTSTRAP_MANIFEST": str(bad)})
    assert code == 0 and json.loads(out)["origin"] == str(good)


# --- manifest validate / show -----------------------------------------------------------------

def test_validate_human_output() -> None:
    code, out, err = run(["manifest", "validate"])
    assert (code, out) == (0, "")
    newest, oldest = SHIPPED.releases[0].torch, SHIPPED.releases[-1].torch
    assert err == f"{MANIFEST}: valid ({len(SHIPPED.releases)} releases, {oldest} to {newest})\n"


def test_show_json_is_the_expanded_view(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    path.write_bytes(MINI_BYTES)
    code, out, err = run(["manifest", "show", "--json", "--manifest", str(path)])
    assert code == 0, err
    document = json.loads(out)
    assert document["schema"] == "pybootstrap.manifest-show/1" and document["origin"] == str(path)
    assert document["manifest"]["source"] == "file"
    assert [(row["torch"], row["variant"]) for row in document["builds"]] == [
        ("3.1.0", "cpu"), ("3.1.0", "cu126"), ("3.1.0", "cu130"), ("3.0.0", "cpu"), ("3.0.0", "cu126"),
        ("3.0.0", "rocm6.4"), ("1.0.0", "cpu"), ("1.0.0", "cu116")]
    row = document["builds"][2]
    assert row == {
        "torch": "3.1.0", "variant": "cu130", "cuda": "13.0", "torchvision": "0.31.0", "torchaudio": None,
        "platforms": {"linux": ["x86_64", "arm64"], "windows": ["x86_64"]},
        "python": {"linux": ["3.11", "3.12", "3.13"], "windows": ["3.11", "3.12", "3.13"]}, "conda": None,
        "archs": {"linux": "7.5;8.6;12.0+PTX", "windows": "7.5;8.6;12.0"}, "matrix": "next", "date": "2026-01-01",
        "note": "n", "notes": ["a note"], "source": "M; R"}
    assert document["builds"][-1]["conda"] == "cudatoolkit=11.6 -c pytorch -c conda-forge"


def test_show_human_output_names_every_release(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    path.write_bytes(MINI_BYTES)
    code, out, err = run(["manifest", "show", "--manifest", str(path)])
    assert (code, out) == (0, "")
    assert "torch 3.1.0  (torchvision 0.31.0, torchaudio -; matrix next)" in err
    assert "torch 1.0.0  (torchvision 0.1.0, torchaudio 0.1.0; matrix conda)" in err
    assert f"manifest: file (given with --manifest {path})" in err

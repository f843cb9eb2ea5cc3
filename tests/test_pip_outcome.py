"""pip_outcome: what a finished pip command means, from real pip runs against local failures and from captured
output; which failures are tried again, and the one error reported."""

from __future__ import annotations

import json
import os
import sys
from collections import namedtuple
from pathlib import Path
from typing import Any, Iterator, List

import fake_torch
import pytest
from indexserver import IndexServer, ProxyServer

from pybootstrap import _subprocess, diskspace, pip_outcome
from pybootstrap.errors import EnvironmentProblem, InstallError, IntegrityError, NetworkError
from pybootstrap.installers import pip as pip_inst

DATA = Path(__file__).resolve().parent / "data" / "pip"
UNRESOLVABLE = "pypi.pybootstrap-test.invalid"  # RFC 2606: .invalid never resolves


def result(out: str = "", returncode: Any = 1, **kwargs: Any) -> _subprocess.CommandResult:
    return _subprocess.CommandResult(["python", "-m", "pip", "install", "torch"], returncode, out, "", **kwargs)


@pytest.fixture(autouse=True)
def hermetic(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("PIP_") or name.lower() in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_NO_CACHE_DIR", "1")


# --- captured output ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("entry", json.loads((DATA / "INDEX.json").read_text(encoding="utf-8")),
                         ids=lambda e: e["file"])
def test_captured_samples(entry: Any) -> None:
    outcome = pip_outcome.classify(result((DATA / entry["file"]).read_text(encoding="utf-8")))
    assert (outcome.kind, outcome.retry) == (entry["kind"], False)


@pytest.mark.parametrize("text, kind, retry", [
    ("Successfully installed torch-2.5.1+cu124", "ok", False),
    ("ERROR: THESE PACKAGES DO NOT MATCH THE HASHES FROM THE REQUIREMENTS FILE.\n    torch from https://h/t.whl:\n"
     "        Expected sha256 " + "a" * 64 + "\n             Got        " + "b" * 64, "hash-mismatch", True),
    ("pip._vendor.urllib3.exceptions.ProtocolError: (\"Connection broken: IncompleteRead(1000 bytes read, 9000 more "
     "expected)\", IncompleteRead(1000 bytes read, 9000 more expected))", "transient", True),
    ("ERROR: HTTP error 503 while getting https://h/files/t.whl", "transient", True),
    ("pip._vendor.urllib3.exceptions.ReadTimeoutError: HTTPSConnectionPool(host='download.pytorch.org', port=443): "
     "Read timed out.", "transient", True),
    ("WARNING: Retrying (Retry(total=1, connect=None, read=None, redirect=None, status=None)) after connection broken "
     "by 'ConnectTimeoutError(<HTTPSConnection(host='h.example', port=443)>, 'Connection to h.example timed out. "
     "(connect timeout=10)')': /simple/torch/\nERROR: No matching distribution found for torch", "unreachable", False),
    ("ERROR: HTTP error 404 while getting https://h/files/t.whl", "http", False),
    ("ERROR: Could not find a version that satisfies the requirement torch==9.9 (from versions: 2.5.1)\n"
     "ERROR: No matching distribution found for torch==9.9", "no-match", False),
    ("ERROR: Exception:\nOSError: [Errno 5] Input/output error", "failed", False),
], ids=["ok", "hash-mismatch", "cut-off", "503", "stalled-download", "dead-index", "404", "no-match", "other"])
def test_classify(text: str, kind: str, retry: bool) -> None:
    outcome = pip_outcome.classify(result(text, 0 if kind == "ok" else 1))
    assert (outcome.kind, outcome.retry) == (kind, retry)
    if kind == "hash-mismatch":
        assert outcome.got == ("b" * 64,)


def test_a_command_that_did_not_start_or_timed_out() -> None:
    assert pip_outcome.classify(result(returncode=None, error="python: not found")).kind == "not-started"
    timed_out = result(returncode=None, timed_out=True, error="timed out after 3600 s")
    assert (pip_outcome.classify(timed_out).kind, pip_outcome.classify(timed_out).retry) == ("timeout", True)
    error = pip_outcome.error_for(result(returncode=None, error="python: not found"), "pip install")
    assert isinstance(error, InstallError) and error.message == "pip install: python: not found"


def test_a_full_disk_names_the_fullest_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "env"
    target.mkdir()
    Usage = namedtuple("Usage", "total used free")

    def usage(folder: Any) -> Any:
        return Usage(10**12, 0, 12_300_000 if Path(folder) == target else 5 * 10**9)

    monkeypatch.setattr(diskspace.shutil, "disk_usage", usage)
    text = (DATA / "enospc-1.txt").read_text(encoding="utf-8")
    error = pip_outcome.error_for(result(text), "pip install", folders=[str(target)])
    assert isinstance(error, EnvironmentProblem) and error.exit_code == 8
    assert error.message == f"pip install: the disk is full: {target} has 12.3 MB free (No space left on device)"


# --- real pip against a proxy that wants credentials and a name that does not resolve ---------------------

def pip_download(index: str, dest: Path) -> _subprocess.CommandResult:
    argv = [sys.executable, "-m", "pip", "download", "--disable-pip-version-check", *pip_inst.network_args(),
            "--no-deps", "--dest", str(dest), "torch==2.5.1+cpu", "--index-url", index]
    return _subprocess.run(argv, timeout=300, env=pip_inst.pip_env(argv), record=False)


def test_real_pip_through_a_proxy_answering_407(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    index = "https://download.pytorch-test.example/whl/cpu"
    runs: List[_subprocess.CommandResult] = []
    with ProxyServer() as proxy:
        port = proxy.url.rsplit(":", 1)[1]
        monkeypatch.setenv("HTTPS_PROXY", proxy.url.replace("http://", "http://fleet:s3cret@"))

        def once() -> _subprocess.CommandResult:
            runs.append(pip_download(index, tmp_path / "d"))
            return runs[-1]

        with pytest.raises(NetworkError) as info:
            pip_outcome.run_with_retries(once, "pip download", index_url=index, backoff_s=0)
        seen = proxy.requests
    assert info.value.message == (f"pip download: cannot reach the package index: the proxy 127.0.0.1:{port} wants "
                                  "authentication (HTTP 407 Proxy Authentication Required) to reach "
                                  "download.pytorch-test.example")
    assert "s3cret" not in info.value.message + (info.value.advice or "")
    # one pip run (a proxy refusing credentials is not tried again), pip itself tried 1 + --retries times
    assert len(runs) == 1
    assert seen == ["CONNECT download.pytorch-test.example:443"] * (1 + pip_inst.PIP_RETRIES)


def test_real_pip_with_a_name_that_does_not_resolve(tmp_path: Path) -> None:
    index = f"https://{UNRESOLVABLE}/simple"
    runs: List[_subprocess.CommandResult] = []

    def once() -> _subprocess.CommandResult:
        runs.append(pip_download(index, tmp_path / "d"))
        return runs[-1]

    with pytest.raises(NetworkError) as info:
        pip_outcome.run_with_retries(once, "pip download", index_url=index, backoff_s=0)
    assert info.value.message == (f"pip download: cannot reach the package index: the name {UNRESOLVABLE} did not "
                                  "resolve (DNS)")
    assert len(runs) == 1


# --- the retry loop ---------------------------------------------------------------------------------------

def scripted(*outputs: Any) -> Iterator[_subprocess.CommandResult]:
    for out in outputs:
        yield result(out, 0 if out == "ok" else 1)


def test_a_cut_download_is_tried_again_until_it_works() -> None:
    results = scripted("IncompleteRead(10 bytes read)", "IncompleteRead(20 bytes read)", "ok")
    told: List[Any] = []
    done = pip_outcome.run_with_retries(lambda: next(results), "pip install", backoff_s=0,
                                        on_retry=lambda why, n: told.append((why, n)))
    assert done.returncode == 0
    assert told == [("network failure", 2), ("network failure", 3)]


def test_it_gives_up_after_the_attempts_given() -> None:
    results = scripted(*["IncompleteRead(10 bytes read)"] * 5)
    with pytest.raises(NetworkError) as info:
        pip_outcome.run_with_retries(lambda: next(results), "pip install", attempts=3, backoff_s=0)
    assert info.value.message == ("pip install: the package index could not be reached or a download failed (after 3 "
                                  "attempts): IncompleteRead(10 bytes read)")


def test_the_same_wrong_file_twice_is_an_integrity_failure() -> None:
    mismatch = "THESE PACKAGES DO NOT MATCH THE HASHES\n   Got        " + "c" * 64
    results = scripted(mismatch, mismatch)
    with pytest.raises(IntegrityError) as info:
        pip_outcome.run_with_retries(lambda: next(results), "pip install", backoff_s=0)
    assert info.value.message == "pip install: a downloaded file did not match its published hash, twice the same"


def test_no_match_on_an_index_without_torch_says_so(tmp_path_factory: pytest.TempPathFactory) -> None:
    root = fake_torch.standard_index(tmp_path_factory.getbasetemp() / "index")
    with IndexServer(root) as server:
        url = server.url
        error = pip_outcome.error_for(result("ERROR: No matching distribution found for torch==2.5.1"),
                                      "pip install", index_url=f"{url}/nope")
    assert isinstance(error, NetworkError)
    assert error.message == (f"pip install: the package index has no torch: could not download {url}/nope/"
                             "torch/: HTTP 404 Not Found")

"""The up-front index check: one request, one line naming the host and the cause; what the index lists."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import List

import fake_torch
import pytest
from indexserver import IndexServer, ProxyServer

from pybootstrap import index_check
from pybootstrap.errors import NetworkError
from pybootstrap.index_listing import parse_listing

UNRESOLVABLE = "index.pybootstrap-test.invalid"  # RFC 2606: .invalid never resolves
TORCH_CU124 = "torch-2.5.1+cu124-py3-none-any.whl"


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    with IndexServer(fake_torch.standard_index(tmp_path_factory.getbasetemp() / "index")) as srv:
        yield srv


def test_an_unresolvable_host_is_one_lookup_and_one_line(lookups: List[str]) -> None:
    index = f"https://{UNRESOLVABLE}/whl/cu124"
    with pytest.raises(NetworkError) as info:
        index_check.check_index(index)
    assert info.value.message == f"cannot reach the package index {index}: the name {UNRESOLVABLE} did not resolve (DNS)"
    assert "\n" not in info.value.message
    assert info.value.exit_code == 6
    assert lookups.count(UNRESOLVABLE) == 1


def test_a_proxy_wanting_credentials_is_one_request_and_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    index = "https://download.pytorch-test.example/whl/cpu"
    with ProxyServer() as proxy:
        port = proxy.url.rsplit(":", 1)[1]
        monkeypatch.setenv("HTTPS_PROXY", proxy.url.replace("http://", "http://fleet:s3cret@"))
        with pytest.raises(NetworkError) as info:
            index_check.check_index(index)
        seen = proxy.requests
    assert info.value.message == (f"cannot reach the package index {index}: the proxy 127.0.0.1:{port} wants "
                                  "authentication (HTTP 407 Proxy Authentication Required) to reach "
                                  "download.pytorch-test.example")
    assert info.value.advice.startswith("Give the proxy's credentials in HTTPS_PROXY")
    assert seen == ["CONNECT download.pytorch-test.example:443"]


def test_a_refused_connection_names_host_and_port() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(NetworkError) as info:
        index_check.check_index(f"http://127.0.0.1:{port}/cu124")
    assert info.value.message == (f"cannot reach the package index http://127.0.0.1:{port}/cu124: 127.0.0.1:{port} "
                                  "refused the connection")


def test_an_index_without_a_torch_page_is_one_request(server: IndexServer) -> None:
    server.reset()
    with pytest.raises(NetworkError) as info:
        index_check.check_index(f"{server.url}/nope")
    assert info.value.message == (f"cannot use the package index {server.url}/nope: it has no {server.url}/nope/torch/ "
                                  "page (HTTP 404 Not Found)")
    assert server.requests == ["/nope/torch/"]


def test_a_server_error_is_not_tried_again(server: IndexServer) -> None:
    server.reset()
    server.fail("torch", 503)
    with pytest.raises(NetworkError) as info:
        index_check.check_index(f"{server.url}/cu124")
    server.reset()
    assert info.value.message == (f"cannot use the package index {server.url}/cu124: 127.0.0.1:"
                                  f"{server.url.rsplit(':', 1)[1]} answered HTTP 503 Service Unavailable")


def test_the_page_tells_which_builds_the_index_has(server: IndexServer) -> None:
    server.reset()
    page = index_check.check_index(f"{server.url}/cu124")
    assert server.requests == ["/cu124/torch/"]
    assert page.versions() == ["2.5.1+cu124"]
    assert page.has_version("2.5.1+cu124")
    assert page.has_version("2.5.1")  # PEP 440: ==2.5.1 also matches 2.5.1+cu124, as pip reads it
    assert not page.has_version("2.5.1+cpu")
    assert index_check.missing_pins(page, "torch", ["torch==2.5.1+cu124", "torchvision==0.20.1+cu124"]) is None
    assert index_check.missing_pins(page, "torch", ["torch==2.14.1+cu124"]) == (
        f"{server.url}/cu124/torch/ does not list torch 2.14.1+cu124 (newest listed: 2.5.1+cu124)")
    [wheel] = page.files
    assert wheel.filename == TORCH_CU124 and wheel.url == f"{server.url}/files/{TORCH_CU124}"
    assert wheel.sha256 is not None and len(wheel.sha256) == 64


def test_a_json_page_gives_sizes() -> None:
    # PEP 691 / PEP 700 JSON, shaped like pypi.org's answer for a project page
    body = json.dumps({"meta": {"api-version": "1.1"}, "name": "torch", "files": [
        {"filename": "torch-2.5.1-cp312-cp312-manylinux1_x86_64.whl", "url": "../../packages/a/torch.whl",
         "hashes": {"sha256": "ab" * 32}, "size": 906_414_803},
        {"filename": "torch-2.5.1-cp312-cp312-win_amd64.whl", "url": "https://files.example/t-win.whl",
         "hashes": {}, "size": 203_070_000},
        {"filename": "torch-2.5.0-cp312-cp312-win_amd64.whl", "url": "x.whl", "hashes": {}},
    ]}).encode()
    files = parse_listing(body, "application/vnd.pypi.simple.v1+json", "https://pypi.example/simple/torch/")
    page = index_check.IndexPage("https://pypi.example/simple/torch/", tuple(files))
    assert files[0].url == "https://pypi.example/packages/a/torch.whl" and files[0].sha256 == "ab" * 32
    windows = frozenset(t for f in files[1:2] for t in f.tags)
    assert page.size_of("2.5.1", windows) == 203_070_000
    assert page.size_of("2.5.1") == 906_414_803  # no tags given: the largest, to plan for enough room
    assert page.size_of("2.5.0") is None
    assert page.versions() == ["2.5.1", "2.5.0"]


def test_html_links_with_odd_names_are_kept_but_not_versioned() -> None:
    body = (b'<html><body><a href="/f/torch-2.5.1%2Bcpu-cp311-cp311-win_amd64.whl#sha256=' + b"cd" * 32
            + b'">torch-2.5.1+cpu-cp311-cp311-win_amd64.whl</a><br><a href="/f/README">README</a></body></html>')
    files = parse_listing(body, "text/html", "https://download.example/whl/cpu/torch/")
    assert [(f.filename, str(f.version) if f.version else None) for f in files] == [
        ("torch-2.5.1+cpu-cp311-cp311-win_amd64.whl", "2.5.1+cpu"), ("README", None)]
    assert files[0].url == "https://download.example/f/torch-2.5.1%2Bcpu-cp311-cp311-win_amd64.whl"
    assert files[0].sha256 == "cd" * 32


def test_the_check_imports_nothing_at_start_up(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = ("import sys, pybootstrap.index_check, pybootstrap.installers.pip, pybootstrap.wheelhouse, "
            "pybootstrap.lock, pybootstrap.diskspace, pybootstrap.pip_outcome, pybootstrap.report; "
            "print('requests' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "False"

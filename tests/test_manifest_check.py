"""`pybootstrap manifest check` against a small recorded index served on loopback (tests/data/manifest_check: see
its README for the differences planted in manifest.json), and the index readers it uses."""

from __future__ import annotations

import contextlib
import http.server
import io
import json
import threading
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest
from packaging.version import Version

from pybootstrap.cli import main
from pybootstrap.index_listing import (
    IndexFile,
    parse_listing,
    platform_of,
    pypi_versions,
    torch_requirement,
    wheel_info,
)

DATA = Path(__file__).resolve().parent / "data" / "manifest_check"
TYPES = {".json": "application/vnd.pypi.simple.v1+json", ".html": "text/html; charset=utf-8"}


@pytest.fixture(scope="module")
def index() -> Any:
    """/whl/<variant>/<package>/ (index.json or index.html), /whl/files/*.metadata, /pypi/<package>/json."""
    asked: List[Tuple[str, str]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append((self.path, self.headers.get("Accept", "")))
            path, content_type = self._file()
            if path is None:
                self.send_error(404)
                return
            body = path.read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _file(self) -> Tuple[Any, str]:
            if self.path.startswith("/pypi/"):
                path = DATA / "pypi" / self.path.lstrip("/")
                return (path if path.is_file() else None), "application/json"
            if not self.path.startswith("/whl/") or ".." in self.path:
                return None, ""
            path = DATA / "index" / self.path[len("/whl/"):]
            if self.path.endswith("/"):
                for name, content_type in (("index.json", TYPES[".json"]), ("index.html", TYPES[".html"])):
                    if (path / name).is_file():
                        return path / name, content_type
                return None, ""
            return (path if path.is_file() else None), "application/octet-stream"

        def log_message(self, *args: Any) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield base, asked
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


def check(index: Any, manifest: str, *more: str) -> Tuple[int, str, str]:
    base, _ = index
    out, err = io.StringIO(), io.StringIO()
    argv = ["manifest", "check", "--manifest", str(DATA / manifest), "--index-base", f"{base}/whl",
            "--pypi-base", base, *more]
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv, {})
    return code, out.getvalue(), err.getvalue()


def findings(index: Any, manifest: str = "manifest.json") -> Tuple[int, Dict[str, List[str]], Dict[str, Any]]:
    code, out, err = check(index, manifest, "--json")
    doc = json.loads(out)
    by_kind: Dict[str, List[str]] = {}
    for finding in doc["findings"]:
        by_kind.setdefault(finding["kind"], []).append(finding["message"])
    return code, by_kind, doc


def test_each_planted_difference_is_found(index: Any) -> None:
    code, found, doc = findings(index)
    base = index[0]
    assert code == 7 and doc["exit_code"] == 7 and doc["agree"] is False
    assert doc["schema"] == "pybootstrap.manifest-check/1" and doc["index_base"] == f"{base}/whl"
    assert found["missing"] == [
        "torch 2.14.1 cu126: no wheel for Windows x86_64 Python 3.13",
        f"{base}/whl/cu132/torch/ does not exist (HTTP 404), but the manifest lists cu132 for torch 2.15.0",
        f"torchvision 0.29.2 (paired with torch 2.15.0) is not on the index of cu132: `pip install --index-url "
        f"{base}/whl/<variant>` cannot find it",
        f"torchaudio 2.11.1 (paired with torch 2.15.0) is not on the index of cu130, cu132: `pip install --index-url "
        f"{base}/whl/<variant>` cannot find it"]
    assert found["mismatch"] == [
        "torchvision 0.29.1 requires torch==2.14.0 (Requires-Dist of torchvision-0.29.1+cpu-py3-none-manylinux_2_28_"
        "x86_64.whl), but the manifest pairs it with torch 2.14.1"]
    assert found["addition"] == [
        "torch 2.14.1 has cu130 wheels on the index (Python 3.12; Linux x86_64); the manifest does not list cu130 "
        "for it",
        "torch 2.15.0 has cu134 wheels on the index (Python 3.12; Linux x86_64); the manifest does not list cu134 "
        "for it",
        "torch 2.16.0 is not in the manifest: add a release (index: cpu: Python 3.12-3.13; Linux x86_64, Windows "
        "x86_64; on PyPI)"]
    assert found["note"] == [
        "torchaudio 2.11.1: the index serves no PEP 658 metadata for it, so its Requires-Dist on torch 2.15.0 was not "
        "checked",
        "torchaudio 2.11.1: the index serves no PEP 658 metadata for it, so its Requires-Dist on torch 2.14.1 was not "
        "checked",
        "torchvision 0.30.0 on PyPI is newer than any the manifest pairs with a torch release"]


def test_json_and_html_listings_are_both_read(index: Any) -> None:
    base, asked = index
    asked.clear()
    findings(index)
    listing_requests = [(path, accept) for path, accept in asked if path.endswith("/")]
    paths = [p for p, _ in listing_requests]
    assert {"/whl/cu126/torch/", "/whl/cpu/torchaudio/"} <= set(paths)  # HTML (the cu126 gap is found from it)
    assert {"/whl/cpu/torch/", "/whl/cu130/torch/"} <= set(paths)  # JSON
    assert all(accept.startswith("application/vnd.pypi.simple.v1+json") for _, accept in listing_requests)
    assert "/whl/cu133/torch/" in paths and "/whl/cu134/torch/" in paths  # the toolkit table's next CUDA variants
    assert len(paths) == len(set(paths))  # each listing read once


def test_agreement_exits_0(index: Any) -> None:
    code, found, doc = findings(index, "agree.json")
    assert (code, doc["agree"], set(found)) == (0, True, {"note"})
    code, out, err = check(index, "agree.json")
    assert (code, out) == (0, "")
    assert "The manifest and the indexes agree." in err


def test_human_output_says_what_to_add(index: Any) -> None:
    code, out, err = check(index, "manifest.json")
    assert code == 7 and out == ""
    for heading in ("The manifest promises what the index does not have:",
                    "Companions that disagree with their wheels' Requires-Dist:",
                    "On the index but not in the manifest (add them):", "Notes:"):
        assert heading in err
    assert "  torch 2.16.0 is not in the manifest: add a release" in err
    assert err.rstrip().endswith("then run `pybootstrap manifest check` again.")


def test_an_unreachable_index_is_a_network_error(index: Any) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["manifest", "check", "--manifest", str(DATA / "manifest.json"), "--index-base",
                     f"http://127.0.0.1:{port}/whl", "--pypi-base", index[0]], {})
    assert code == 6
    assert err.getvalue().startswith("error: could not reach 127.0.0.1 (ConnectionError"), err.getvalue()


@pytest.mark.parametrize("flag", ["--index-base", "--pypi-base"])
def test_plain_http_is_refused_but_for_loopback(flag: str) -> None:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["manifest", "check", "--manifest", str(DATA / "agree.json"), flag, "http://example.com/x"], {})
    assert code == 2
    assert err.getvalue().startswith(f"error: {flag}: http://example.com/x is not an https:// URL")


# --- the readers ------------------------------------------------------------------------------------

def test_pep_691_json_listing() -> None:
    files = parse_listing((DATA / "index/cpu/torchvision/index.json").read_bytes(),
                          "application/vnd.pypi.simple.v1+json", "https://x.org/whl/cpu/torchvision/")
    assert files[0] == IndexFile("torchvision-0.29.1+cpu-py3-none-manylinux_2_28_x86_64.whl",
                                 "https://x.org/whl/files/torchvision-0.29.1+cpu-py3-none-manylinux_2_28_x86_64.whl",
                                 "https://x.org/whl/files/torchvision-0.29.1+cpu-py3-none-manylinux_2_28_x86_64.whl"
                                 ".metadata", False, None, "0" * 64)


def test_pep_503_html_listing_drops_the_hash_from_the_metadata_url() -> None:
    html = ('<a href="../../files/t-1.0-py3-none-any.whl#sha256=ab" data-dist-info-metadata="sha256=cd">'
            't-1.0-py3-none-any.whl</a><a href="../../files/u-1.0.tar.gz" data-yanked="">u-1.0.tar.gz</a>')
    files = parse_listing(html.encode(), "text/html", "https://x.org/whl/cpu/t/")
    assert files == [IndexFile("t-1.0-py3-none-any.whl", "https://x.org/whl/files/t-1.0-py3-none-any.whl",
                               "https://x.org/whl/files/t-1.0-py3-none-any.whl.metadata", False, None, "ab"),
                     IndexFile("u-1.0.tar.gz", "https://x.org/whl/files/u-1.0.tar.gz", None, True)]


@pytest.mark.parametrize("filename,label,pythons,platforms", [
    ("torch-2.15.0+cu130-cp312-cp312-manylinux_2_28_x86_64.whl", "cu130", {"3.12"}, {("linux", "x86_64")}),
    ("torch-2.15.0+cu130-cp312-cp312-manylinux_2_28_aarch64.whl", "cu130", {"3.12"}, {("linux", "arm64")}),
    ("torch-2.15.0+cpu-cp39-cp39-win_amd64.whl", "cpu", {"3.9"}, {("windows", "x86_64")}),
    ("torch-2.15.0-cp313-none-macosx_11_0_arm64.whl", None, {"3.13"}, set()),
    ("torchaudio-2.11.1-py3-none-any.whl", None, None, None),
    ("torchvision-0.29.2-py3-none-win_amd64.whl", None, None, {("windows", "x86_64")})])
def test_wheel_names(filename: str, label: Any, pythons: Any, platforms: Any) -> None:
    wheel = wheel_info(IndexFile(filename, "u", None))
    assert wheel is not None
    assert (wheel.label, wheel.pythons, wheel.platforms) == (label, pythons, platforms)


def test_free_threaded_and_odd_files_do_not_count() -> None:
    assert wheel_info(IndexFile("torch-2.16.0+cpu-cp313-cp313t-manylinux_2_28_x86_64.whl", "u", None)) is None
    assert wheel_info(IndexFile("torch-2.16.0.tar.gz", "u", None)) is None
    assert platform_of("macosx_11_0_arm64") is None and platform_of("win_arm64") == ("windows", "arm64")


def test_requires_dist_on_torch() -> None:
    metadata = (DATA / "index/files/torchvision-0.29.1+cpu-py3-none-manylinux_2_28_x86_64.whl.metadata").read_bytes()
    requirement = torch_requirement(metadata)
    assert requirement is not None and str(requirement.specifier) == "==2.14.0"
    assert torch_requirement(b"Name: x\nRequires-Dist: torch; extra == 'gpu'\n") is None
    assert torch_requirement(b"Name: x\nRequires-Dist: numpy\n") is None


def test_pypi_versions() -> None:
    versions = pypi_versions((DATA / "pypi/pypi/torch/json").read_bytes())
    assert versions[Version("2.16.0")] is True and versions[Version("2.13.0")] is False  # only a yanked file

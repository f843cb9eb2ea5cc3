"""The manifest channel: a newer manifest from a URL, cached with ETag / If-Modified-Since, and every way it can fail
(unreachable, broken, newer schema, slow, offline), served by a loopback server that counts what it is asked."""

from __future__ import annotations

import contextlib
import copy
import http.server
import io
import json
import os
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

import pytest

from pybootstrap import manifest_channel
from pybootstrap.cli import main
from pybootstrap.manifest import default_manifest_path

SHIPPED_DOC = json.loads(default_manifest_path().read_text(encoding="utf-8"))
RTX4090 = ["plan", "--json", "--os", "windows", "--driver", "591.74", "--gpu", "NVIDIA GeForce RTX 4090",
           "--python-version", "3.12"]


def future_doc() -> Dict[str, Any]:
    """The shipped manifest with a synthetic 9.9.0 release (the newest release's matrix): what a channel adds."""
    doc = copy.deepcopy(SHIPPED_DOC)
    newest = doc["releases"][0]
    doc["releases"].insert(0, {**newest, "torch": "9.9.0", "date": "2099-01-01", "torchvision": "9.9.1"})
    doc["updated"] = "2099-01-02"
    return doc


Answer = Tuple[int, Dict[str, str], bytes]


class Channel:
    """What the loopback channel answers (a function of the request headers) and what it was asked."""

    def __init__(self) -> None:
        self.answer: Callable[[Dict[str, str]], Answer] = lambda headers: (404, {}, b"")
        self.requests: List[Dict[str, str]] = []
        self.delay = 0.0


@pytest.fixture
def channel(monkeypatch: pytest.MonkeyPatch):
    state = Channel()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            headers = {k.lower(): v for k, v in self.headers.items()}
            state.requests.append({"path": self.path, **headers})
            if state.delay:
                time.sleep(state.delay)
            status, extra, body = state.answer(headers)
            try:
                self.send_response(status)
                for key, value in extra.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:
                pass  # the client gave up (the slow case)

        def log_message(self, *args: Any) -> None:
            pass

    class Server(http.server.ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request: Any, client_address: Any) -> None:
            pass

    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    httpd = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}/pytorch.json"  # type: ignore[attr-defined]
    yield state
    httpd.shutdown()
    httpd.server_close()


def serve(doc: Any, etag: str = '"v1"') -> Callable[[Dict[str, str]], Answer]:
    """200 with the document and an ETag; 304 when the client already has that ETag."""
    body = doc if isinstance(doc, bytes) else json.dumps(doc).encode()

    def answer(headers: Dict[str, str]) -> Answer:
        if headers.get("if-none-match") == etag:
            return 304, {"ETag": etag}, b""
        return 200, {"Content-Type": "application/json", "ETag": etag,
                     "Last-Modified": "Mon, 07 Dec 2026 10:00:00 GMT"}, body
    return answer


def run(argv: List[str], environ: Dict[str, str]) -> Tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv, environ)
    return code, out.getvalue(), err.getvalue()


def env(tmp_path: Path, url: Optional[str] = None) -> Dict[str, str]:
    out = {"PYBOOTSTRAP_HOME": str(tmp_path / "home")}
    if url:
        out["PYBOOTSTRAP_MANIFEST_CHANNEL"] = url
    return out


def test_a_newer_release_on_the_channel_is_chosen_and_cached(channel: Channel, tmp_path: Path) -> None:
    channel.answer = serve(future_doc())
    code, out, err = run([*RTX4090, "--manifest-channel", channel.url], env(tmp_path))
    assert code == 0, err
    doc = json.loads(out)
    assert (doc["build"]["torch"], doc["build"]["torchvision"]) == ("9.9.0", "9.9.1")
    assert doc["manifest"] == {"source": "channel", "detail": f"fetched from the channel {channel.url}",
                               "location": channel.url, "updated": "2099-01-02"}
    assert len(channel.requests) == 1 and "if-none-match" not in channel.requests[0]
    cache = manifest_channel.ChannelCache(tmp_path / "home" / "cache" / "manifest-channel", channel.url)
    assert json.loads(cache.path.read_bytes()) == future_doc()
    meta = json.loads(cache.meta_path.read_text(encoding="utf-8"))
    assert (meta["url"], meta["etag"], meta["last_modified"]) == (channel.url, '"v1"', "Mon, 07 Dec 2026 10:00:00 GMT")


def test_304_uses_the_cached_copy(channel: Channel, tmp_path: Path) -> None:
    channel.answer = serve(future_doc())
    assert run([*RTX4090], env(tmp_path, channel.url))[0] == 0  # the environment variable names the channel
    code, out, err = run([*RTX4090], env(tmp_path, channel.url))
    assert code == 0, err
    doc = json.loads(out)
    assert doc["build"]["torch"] == "9.9.0"
    assert doc["manifest"]["source"] == "cached"
    assert doc["manifest"]["detail"].startswith(f"the channel {channel.url} answered 304 Not Modified: its copy "
                                                "cached on ")
    second = channel.requests[1]
    assert (second["if-none-match"], second["if-modified-since"]) == ('"v1"', "Mon, 07 Dec 2026 10:00:00 GMT")


def test_a_broken_file_falls_back_to_the_embedded_manifest(channel: Channel, tmp_path: Path) -> None:
    channel.answer = serve(b'{"schema_version": 2, ')
    code, out, err = run(RTX4090[:1] + RTX4090[2:], env(tmp_path, channel.url))  # human output
    assert code == 0, err
    assert (f"manifest: embedded (the channel {channel.url} sent an invalid manifest ({channel.url}: invalid JSON at "
            "line 1 column 23") in err
    assert "using the manifest shipped with pybootstrap)" in err
    code, out, err = run(RTX4090, env(tmp_path, channel.url))
    doc = json.loads(out)
    assert code == 0 and doc["build"]["torch"] != "9.9.0" and doc["manifest"]["source"] == "embedded"
    assert doc["manifest"]["location"] == str(default_manifest_path())


def test_a_broken_file_falls_back_to_the_cached_copy_when_there_is_one(channel: Channel, tmp_path: Path) -> None:
    channel.answer = serve(future_doc())
    assert run(RTX4090, env(tmp_path, channel.url))[0] == 0
    channel.answer = serve(b"[]", etag='"v2"')
    code, out, err = run(RTX4090, env(tmp_path, channel.url))
    doc = json.loads(out)
    assert code == 0 and doc["build"]["torch"] == "9.9.0"
    assert doc["manifest"]["source"] == "cached"
    assert "sent an invalid manifest ((top level): expected a pybootstrap manifest" in doc["manifest"]["detail"]
    assert "using its copy cached on " in doc["manifest"]["detail"]


def test_a_newer_schema_falls_back(channel: Channel, tmp_path: Path) -> None:
    newer = future_doc()
    newer["schema_version"] = 3
    newer["something_new"] = {}
    channel.answer = serve(newer)
    code, out, err = run(RTX4090, env(tmp_path, channel.url))
    doc = json.loads(out)
    assert code == 0 and doc["manifest"]["source"] == "embedded" and doc["build"]["torch"] != "9.9.0"
    assert (f"the channel {channel.url} has a manifest of schema_version 3, newer than this pybootstrap reads (2); "
            "upgrade pybootstrap to use it") in doc["manifest"]["detail"]


def test_a_slow_channel_times_out_and_falls_back(channel: Channel, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(manifest_channel, "TIMEOUT_S", 0.3)
    channel.answer = serve(future_doc())
    channel.delay = 1.5
    code, out, err = run(RTX4090, env(tmp_path, channel.url))
    doc = json.loads(out)
    assert code == 0 and doc["manifest"]["source"] == "embedded"
    assert f"the channel {channel.url} could not be reached: 127.0.0.1 did not answer within 0.3 s" in \
        doc["manifest"]["detail"]


def test_an_unreachable_or_missing_channel_falls_back(channel: Channel, tmp_path: Path) -> None:
    code, out, err = run(RTX4090, env(tmp_path, channel.url))  # the default answer: 404
    doc = json.loads(out)
    assert code == 0 and doc["manifest"]["detail"].startswith(f"the channel {channel.url} answered HTTP 404; using "
                                                              "the manifest shipped with pybootstrap")
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    code, out, err = run(RTX4090, env(tmp_path, f"http://127.0.0.1:{port}/m.json"))
    doc = json.loads(out)
    assert code == 0 and doc["manifest"]["source"] == "embedded"
    assert "could not be reached: could not reach 127.0.0.1 (ConnectionError" in doc["manifest"]["detail"]


def test_offline_never_asks_the_channel(channel: Channel, tmp_path: Path) -> None:
    channel.answer = serve(future_doc())
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    offline = [*RTX4090, "--offline", "--find-links", str(wheels)]
    code, out, err = run(offline, env(tmp_path, channel.url))
    doc = json.loads(out)
    assert code == 0 and channel.requests == []
    assert doc["manifest"]["source"] == "embedded"
    assert doc["manifest"]["detail"] == (f"--offline: the channel {channel.url} was not asked; using the manifest "
                                         "shipped with pybootstrap")
    assert run(RTX4090, env(tmp_path, channel.url))[0] == 0  # online: fetched and cached
    code, out, err = run(offline, env(tmp_path, channel.url))
    doc = json.loads(out)
    assert len(channel.requests) == 1  # the offline run after it asked nothing either
    assert doc["manifest"]["source"] == "cached" and doc["build"]["torch"] == "9.9.0"


def test_manifest_flag_wins_and_the_channel_is_not_asked(channel: Channel, tmp_path: Path) -> None:
    channel.answer = serve(future_doc())
    code, out, err = run([*RTX4090, "--manifest", str(default_manifest_path())], env(tmp_path, channel.url))
    doc = json.loads(out)
    assert code == 0 and channel.requests == []
    assert doc["manifest"]["source"] == "file"
    assert doc["manifest"]["detail"] == (f"given with --manifest {default_manifest_path()} (it wins over the channel "
                                         f"{channel.url}, which was not asked)")


@pytest.mark.parametrize("url", ["http://example.com/pytorch.json", "ftp://example.com/m.json"])
def test_a_channel_must_be_https(url: str, tmp_path: Path) -> None:
    code, out, err = run([*RTX4090, "--manifest-channel", url], env(tmp_path))
    assert code == 2
    assert json.loads(out)["error"]["message"] == f"--manifest-channel: {url} is not an https:// URL"


def test_the_cache_is_never_written_through_a_link(channel: Channel, tmp_path: Path) -> None:
    if not hasattr(os, "symlink"):
        pytest.skip("no symbolic links here")
    cache = manifest_channel.ChannelCache(tmp_path / "home" / "cache" / "manifest-channel", channel.url)
    cache.folder.mkdir(parents=True)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me", encoding="utf-8")
    try:
        os.symlink(victim, cache.path)
    except OSError:
        pytest.skip("symbolic links are not allowed here")
    channel.answer = serve(future_doc())
    code, out, err = run(RTX4090, env(tmp_path, channel.url))
    doc = json.loads(out)
    assert code == 0 and doc["manifest"]["source"] == "channel" and doc["build"]["torch"] == "9.9.0"
    assert "not cached: the cached manifest is a symbolic link, not a regular file (left as it is)" in doc["manifest"]["detail"]
    assert victim.read_text(encoding="utf-8") == "keep me" and cache.path.is_symlink()


def test_manifest_show_and_validate_use_the_channel(channel: Channel, tmp_path: Path) -> None:
    channel.answer = serve(future_doc())
    code, out, err = run(["manifest", "show", "--json"], env(tmp_path, channel.url))
    doc = json.loads(out)
    assert code == 0 and doc["manifest"]["source"] == "channel" and doc["builds"][0]["torch"] == "9.9.0"
    code, out, err = run(["manifest", "validate"], env(tmp_path, channel.url))
    assert code == 0 and err.startswith(f"{channel.url}: valid (")

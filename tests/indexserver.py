"""A local HTTP server for a PEP 503 index of generated wheels, with failures on request; and a proxy that
wants credentials.

Serves a folder on 127.0.0.1 (an ephemeral port) from a thread, logs every request path, and can be told,
per file name, to drop the connection half-way through the body (the first N times, or always), to answer
404, or to stream slowly (announcing when it started, so a test can interrupt a download in flight).
ProxyServer answers every request (CONNECT included) with 407 Proxy Authentication Required and counts them.
"""

from __future__ import annotations

import mimetypes
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Dict, List, Optional
from urllib.parse import unquote, urlparse

ALWAYS = 1 << 30


class _Handler(BaseHTTPRequestHandler):
    server: "_Server"
    protocol_version = "HTTP/1.0"  # one request per connection: a drop affects exactly one download

    def log_message(self, fmt: str, *args: object) -> None:  # keep pytest output clean
        pass

    def do_HEAD(self) -> None:
        owner = self.server.owner
        path = unquote(urlparse(self.path).path)
        owner._record(path, self.path)
        local = (owner.root / path.lstrip("/")).resolve()
        if owner.root not in local.parents or not local.is_file():
            return self._send_error(404, "Not Found")
        self.send_response(200)
        self.send_header("Content-Length", str(local.stat().st_size))
        self.end_headers()

    def do_GET(self) -> None:
        owner = self.server.owner
        path = unquote(urlparse(self.path).path)  # also for a proxy request: "GET http://host/path"
        owner._record(path, self.path)
        name = path.rstrip("/").rsplit("/", 1)[-1]
        if owner._take(owner._not_found, name):
            return self._send_error(404, "Not Found")
        status = owner._failing(name)
        if status:
            return self._send_error(status, "Service Unavailable" if status == 503 else "Error")
        local = (owner.root / path.lstrip("/")).resolve()
        if owner.root not in local.parents and local != owner.root:
            return self._send_error(403, "Forbidden")
        if local.is_dir():
            if not path.endswith("/"):
                self.send_response(301)
                self.send_header("Location", path + "/")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            local = local / "index.html"
        if not local.is_file():
            return self._send_error(404, "Not Found")
        body = local.read_bytes()
        ctype = "text/html" if local.suffix == ".html" else (mimetypes.guess_type(local.name)[0]
                                                            or "application/octet-stream")
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self._send_body(owner, name, body)
        except (BrokenPipeError, ConnectionResetError):  # the client went away (an interrupted pip)
            self.close_connection = True

    def _send_body(self, owner: "IndexServer", name: str, body: bytes) -> None:
        dropped = owner._take(owner._drops, name)
        if dropped:
            # Part of the body (1/2, then 1/3, 1/4, ... of it: a real connection breaks at a different place each
            # time), then a hard close: what a reset connection or a dying proxy looks like to pip.
            self.wfile.write(body[: len(body) // (1 + owner._count(name, "dropped"))])
            self.wfile.flush()
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.close_connection = True
            return
        if owner._take(owner._corrupt, name):
            body = body[:-1] + bytes([body[-1] ^ 0xFF])
        delay = owner._slow.get(name)
        if delay is None:
            self.wfile.write(body)
            return
        event = owner.streaming.setdefault(name, threading.Event())
        chunk = max(1, len(body) // 200)
        for start in range(0, len(body), chunk):
            self.wfile.write(body[start:start + chunk])
            self.wfile.flush()
            event.set()
            time.sleep(delay)

    def _send_error(self, code: int, reason: str) -> None:
        body = f"<html><body>{code} {reason}</body></html>".encode()
        self.send_response(code, reason)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: "IndexServer"


class IndexServer:
    """serve(root) on http://127.0.0.1:PORT/; use as a context manager or call start() / stop()."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()
        self._lock = threading.Lock()
        self._log: List[str] = []
        self._targets: List[str] = []
        self._counts: Dict[str, int] = {}
        self._drops: Dict[str, int] = {}
        self._not_found: Dict[str, int] = {}
        self._corrupt: Dict[str, int] = {}
        self._slow: Dict[str, float] = {}
        self._status: Dict[str, List[int]] = {}
        self.streaming: Dict[str, threading.Event] = {}
        self._httpd: Optional[_Server] = None
        self._thread: Optional[threading.Thread] = None

    # --- life cycle
    def start(self) -> "IndexServer":
        """Listen on an ephemeral loopback port and serve from a daemon thread."""
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.owner = self
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening (later connections are refused)."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> "IndexServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """http://127.0.0.1:PORT (no trailing slash)."""
        assert self._httpd is not None, "server not started"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    # --- failures on request (keyed by the last path segment, e.g. a wheel's file name)
    def drop(self, name: str, times: int = ALWAYS) -> None:
        """Send half the body of `name` and close the connection, the next `times` requests."""
        with self._lock:
            self._drops[name] = times

    def corrupt(self, name: str, times: int = ALWAYS) -> None:
        """Send the whole body of `name`, one byte altered (what a meddling proxy does), the next `times` requests."""
        with self._lock:
            self._corrupt[name] = times

    def not_found(self, name: str, times: int = ALWAYS) -> None:
        """Answer 404 for `name` the next `times` requests."""
        with self._lock:
            self._not_found[name] = times

    def fail(self, name: str, status: int, times: int = ALWAYS) -> None:
        """Answer `status` (a 5xx, 429, ...) for `name` the next `times` requests."""
        with self._lock:
            self._status[name] = [status, times]

    def _failing(self, name: str) -> int:
        with self._lock:
            entry = self._status.get(name)
            if not entry or entry[1] <= 0:
                return 0
            entry[1] -= 1
            return entry[0]

    def slow(self, name: str, delay_per_chunk: float) -> threading.Event:
        """Stream `name` in 200 chunks with a pause after each; the event is set once streaming has begun."""
        with self._lock:
            self._slow[name] = delay_per_chunk
            return self.streaming.setdefault(name, threading.Event())

    def reset(self) -> None:
        """Forget the failures and the request log."""
        with self._lock:
            self._drops.clear()
            self._not_found.clear()
            self._corrupt.clear()
            self._slow.clear()
            self._status.clear()
            self.streaming.clear()
            self._log.clear()
            self._targets.clear()
            self._counts.clear()

    # --- the request log
    @property
    def requests(self) -> List[str]:
        """The paths requested so far, in order."""
        with self._lock:
            return list(self._log)

    def requests_for(self, name: str) -> int:
        """How many requests named `name` (last path segment)."""
        return sum(1 for p in self.requests if p.rstrip("/").rsplit("/", 1)[-1] == name)

    @property
    def targets(self) -> List[str]:
        """The raw request targets (a proxied request names the whole URL: http://host:port/path)."""
        with self._lock:
            return list(self._targets)

    def _record(self, path: str, target: str) -> None:
        with self._lock:
            self._log.append(path)
            self._targets.append(target)

    def _count(self, name: str, what: str) -> int:
        with self._lock:
            key = f"{what}:{name}"
            self._counts[key] = self._counts.get(key, 0) + 1
            return self._counts[key]

    def _take(self, table: Dict[str, int], name: str) -> bool:
        with self._lock:
            left = table.get(name, 0)
            if left <= 0:
                return False
            table[name] = left - 1
            return True


# --- a proxy that wants credentials ----------------------------------------------------------------------

class _ProxyHandler(BaseHTTPRequestHandler):
    server: "_ProxyHTTPServer"
    protocol_version = "HTTP/1.0"

    def log_message(self, fmt: str, *args: object) -> None:
        pass

    def _refuse(self) -> None:
        self.server.owner._record(f"{self.command} {self.path}")
        body = b"<html><body>407 Proxy Authentication Required</body></html>"
        self.send_response(407, "Proxy Authentication Required")
        self.send_header("Proxy-Authenticate", 'Basic realm="test proxy"')
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.close_connection = True

    do_CONNECT = do_GET = do_HEAD = do_POST = _refuse


class _ProxyHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    owner: "ProxyServer"


class ProxyServer:
    """An HTTP proxy on 127.0.0.1 that answers every request, CONNECT included, with 407; counts them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._log: List[str] = []
        self._httpd: Optional[_ProxyHTTPServer] = None

    def __enter__(self) -> "ProxyServer":
        self._httpd = _ProxyHTTPServer(("127.0.0.1", 0), _ProxyHandler)
        self._httpd.owner = self
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    @property
    def url(self) -> str:
        """http://127.0.0.1:PORT"""
        assert self._httpd is not None, "proxy not started"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def requests(self) -> List[str]:
        """'CONNECT host:443', 'GET http://host/path', ... in order."""
        with self._lock:
            return list(self._log)

    def _record(self, line: str) -> None:
        with self._lock:
            self._log.append(line)

"""pybootstrap._download: retries by urllib3's Retry (counted at the server), no retry after a DNS failure, and the
one-line explanations of network failures."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any, List

import pytest
from indexserver import IndexServer

from pybootstrap import _download
from pybootstrap.errors import NetworkError

UNRESOLVABLE = "pybootstrap-test.invalid"  # RFC 2606: .invalid never resolves


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    monkeypatch.setattr(_download, "BACKOFF_S", 0.0)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("files")
    (root / "data.bin").write_bytes(b"payload")
    with IndexServer(root) as srv:
        yield srv


def test_a_5xx_is_tried_again_until_it_answers(server: IndexServer) -> None:
    server.reset()
    server.fail("data.bin", 503, times=2)
    assert _download.fetch_bytes(f"{server.url}/data.bin", retries=3) == b"payload"
    assert server.requests_for("data.bin") == 3


def test_a_5xx_that_stays_fails_after_the_attempts_given(server: IndexServer) -> None:
    server.reset()
    server.fail("data.bin", 503)
    with pytest.raises(NetworkError) as info:
        _download.fetch_bytes(f"{server.url}/data.bin", retries=3)
    assert info.value.message == f"could not download {server.url}/data.bin: HTTP 503 Service Unavailable"
    assert server.requests_for("data.bin") == 3


def test_a_404_is_not_tried_again(server: IndexServer) -> None:
    server.reset()
    with pytest.raises(NetworkError) as info:
        _download.fetch_bytes(f"{server.url}/missing.bin", retries=3)
    assert info.value.message == f"could not download {server.url}/missing.bin: HTTP 404 Not Found"
    assert server.requests_for("missing.bin") == 1


def test_a_name_that_does_not_resolve_is_looked_up_once(lookups: List[str]) -> None:
    url = f"https://{UNRESOLVABLE}/simple/torch/"
    with pytest.raises(NetworkError) as info:
        _download.fetch_bytes(url, retries=3)
    assert info.value.message == (f"could not download {url}: ConnectionError: the name {UNRESOLVABLE} did not "
                                  "resolve (DNS)")
    assert info.value.advice.startswith("Check the host name in the URL and this machine's DNS")
    assert lookups.count(UNRESOLVABLE) == 1


def test_a_refused_connection_names_host_and_port() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/x"
    with pytest.raises(NetworkError) as info:
        _download.fetch_bytes(url, retries=1)
    assert info.value.message == f"could not download {url}: ConnectionError: 127.0.0.1:{port} refused the connection"


def test_secrets_in_the_url_are_not_in_the_message(lookups: List[str]) -> None:
    with pytest.raises(NetworkError) as info:
        _download.fetch_bytes(f"https://user:s3cret@{UNRESOLVABLE}/x?token=abc", retries=1)
    assert "s3cret" not in info.value.message and "abc" not in info.value.message
    assert info.value.message.startswith(f"could not download https://***@{UNRESOLVABLE}/x?token=***: ")


# The texts are what urllib3 2 / requests / pip print (pip's "Retrying ... after connection broken by" warning
# repeats the urllib3 exception); each names a cause in its own words.
@pytest.mark.parametrize("text, url, proxy, expected", [
    ("HTTPSConnectionPool(host='pypi.invalid', port=443): Max retries exceeded with url: /simple/torch/ (Caused by "
     "NameResolutionError(\"<urllib3.connection.HTTPSConnection object at 0x7f>: Failed to resolve 'pypi.invalid' "
     "([Errno -2] Name or service not known)\"))", "https://pypi.invalid/simple", None,
     "the name pypi.invalid did not resolve (DNS)"),
    ("NewConnectionError('<pip._vendor.urllib3.connection.HTTPSConnection object at 0x7f>: Failed to establish a new "
     "connection: [Errno 11001] getaddrinfo failed')", "https://mirror.corp.example/whl/cu124", None,
     "the name mirror.corp.example did not resolve (DNS)"),
    ("ProxyError('Unable to connect to proxy', NameResolutionError(\"<HTTPSConnection(host='proxy.corp', port=3128)>"
     ": Failed to resolve 'proxy.corp' ([Errno -3] Temporary failure in name resolution)\"))",
     "https://download.pytorch.org/whl/cpu", "http://proxy.corp:3128", "the name proxy.corp did not resolve (DNS)"),
    ("ProxyError('Unable to connect to proxy', OSError('Tunnel connection failed: 407 Proxy Authentication "
     "Required'))", "https://download.pytorch.org/whl/cpu", "http://u:pw@proxy.corp:3128",
     "the proxy proxy.corp:3128 wants authentication (HTTP 407 Proxy Authentication Required) to reach "
     "download.pytorch.org"),
    ("NewConnectionError('<urllib3.connection.HTTPConnection object at 0x7f>: Failed to establish a new connection: "
     "[Errno 111] Connection refused')", "http://127.0.0.1:8080/simple", None, "127.0.0.1:8080 refused the connection"),
    ("[WinError 10061] No connection could be made because the target machine actively refused it",
     "https://nexus.example:8443/repository/pytorch", None, "nexus.example:8443 refused the connection"),
    ("SSLError(SSLCertVerificationError(1, '[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed "
     "certificate in certificate chain (_ssl.c:1006)'))", "https://download.pytorch.org/whl/cu124", None,
     "the TLS connection to download.pytorch.org failed (self-signed certificate in certificate chain)"),
    ("ConnectTimeoutError(<urllib3.connection.HTTPSConnection object at 0x7f>, 'Connection to h.example timed out. "
     "(connect timeout=5)')", "https://h.example/x", None, "h.example did not answer (ConnectTimeout)"),
    ("OSError: [Errno 101] Network is unreachable", "https://h.example/x", None,
     "h.example is not reachable from this machine (no route)"),
    ("ProtocolError('Connection aborted.', RemoteDisconnected('Remote end closed connection without response'))",
     "https://h.example/x", None, "the connection to h.example was cut off"),
    ("HTTP 500 Internal Server Error", "https://h.example/x", None, None),
], ids=["dns-urllib3-2", "dns-windows", "dns-of-the-proxy", "proxy-407", "refused", "refused-windows", "tls",
        "connect-timeout", "no-route", "cut-off", "not-a-network-failure"])
def test_explain(text: str, url: str, proxy: Any, expected: Any) -> None:
    assert _download.explain(text, url, proxy=proxy) == expected


def test_file_sha256_streams(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"abc")
    # SHA-256 of "abc": FIPS 180-2, appendix B.1
    assert _download.file_sha256(path) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

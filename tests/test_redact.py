"""Secrets never reach logs or JSON: redact() itself, and whole runs with a proxy password and an index token."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List

import fake_torch
import pytest
from test_verify import RTX4070, clear_site, cuda_config, make_venv

from pybootstrap.redact import MASK, redact, redact_argv, redact_obj

PROXY = "http://user:s3cret@proxy:8080"
INDEX = "https://tok:ghp_abc@mirror.example/simple"
SECRETS = ("s3cret", "ghp_abc")
ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("text, expected", [
    (INDEX, "https://***@mirror.example/simple"),
    (PROXY, "http://***@proxy:8080"),
    ("HTTPS_PROXY=http://user:p@ss@proxy:8080 next", "HTTPS_PROXY=http://***@proxy:8080 next"),
    ("https://__token__@pypi.example/simple", "https://***@pypi.example/simple"),
    ("git+https://github.com/org/repo@v1.0#egg=x", "git+https://github.com/org/repo@v1.0#egg=x"),
    ("https://h.example/f.whl?token=abc123&x=1", "https://h.example/f.whl?token=***&x=1"),
    ("https://h.example/f?X-Amz-Signature=deadbeef", "https://h.example/f?X-Amz-Signature=***"),
    ("PIP_PASSWORD=hunter2 pip install", "PIP_PASSWORD=*** pip install"),
    ("Authorization: Bearer abc.def", "Authorization: Bearer ***"),
    ("Proxy-Authorization: Basic dXNlcjpwYXNz", "Proxy-Authorization: Basic ***"),
    ("authorization: ghp_1234", "authorization: ***"),
    ('{"Authorization": "token xyz"}', '{"Authorization": "token ***"}'),
    ("clone with ghp_" + "A" * 36 + " done", "clone with *** done"),
    ("hf_" + "b" * 34, "***"),
    # normal text stays as it is
    ("https://download.pytorch.org/whl/cu124", "https://download.pytorch.org/whl/cu124"),
    ("Looking in indexes: https://pypi.org/simple, https://download.pytorch.org/whl/cu121",
     "Looking in indexes: https://pypi.org/simple, https://download.pytorch.org/whl/cu121"),
    ("mail me at someone@example.com", "mail me at someone@example.com"),
    ("torch 2.5.1+cu124 from /env/lib/site-packages/torch/__init__.py",
     "torch 2.5.1+cu124 from /env/lib/site-packages/torch/__init__.py"),
    ("the authorization failed", "the authorization failed"),
    ("", ""),
], ids=lambda v: v[:40] if isinstance(v, str) else None)
def test_redact(text, expected):
    assert redact(text) == expected


def test_redact_argv_and_obj():
    assert redact_argv(["pip", "--index-url", INDEX, 3]) == ["pip", "--index-url", "https://***@mirror.example/simple",
                                                             "3"]
    data = {"a": [PROXY, {"b": (INDEX, 1, None)}], INDEX: True, 5: 2.5}
    assert redact_obj(data) == {"a": ["http://***@proxy:8080", {"b": ["https://***@mirror.example/simple", 1, None]}],
                                "https://***@mirror.example/simple": True, 5: 2.5}
    assert MASK == "***"


@pytest.mark.parametrize("text", ["a." * 200_000, "http://" * 100_000, "http://" + "x:" * 200_000,
                                  "token=" * 100_000, "Authorization: " * 50_000],
                         ids=["dotted-words", "schemes", "long-userinfo", "keys", "headers"])
def test_redact_is_linear_on_long_output(text):
    start = time.monotonic()
    redact(text)
    assert time.monotonic() - start < 3


def _run(argv: List[str], home: Path) -> subprocess.CompletedProcess:
    env: Dict[str, str] = dict(os.environ, HTTPS_PROXY=PROXY, HTTP_PROXY=PROXY, PYBOOTSTRAP_HOME=str(home),
                               PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "pybootstrap", *argv], capture_output=True, text=True, env=env,
                          timeout=120, cwd=str(ROOT))


def _everything_written(home: Path, extra: List[str]) -> str:
    files = sorted((home / "logs").iterdir())
    assert {p.suffix for p in files} == {".json", ".txt"}
    return "\n".join([p.read_text(encoding="utf-8") for p in files] + extra)


def test_install_dry_run_never_writes_the_proxy_password_or_the_index_token(tmp_path):
    home = tmp_path / "home"
    result = _run(["install", "--dry-run", "--venv", str(tmp_path / "env"), "--index-url", INDEX,
                   "--nvidia-smi-file", str(RTX4070), "--json"], home)
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "env").exists()
    written = _everything_written(home, [result.stdout, result.stderr])
    for secret in SECRETS:
        assert secret not in written
    log = json.loads(Path(json.loads(result.stdout)["log_path"]).read_text(encoding="utf-8"))
    assert "https://***@mirror.example/simple" in log["argv"]          # the index was recorded, masked
    assert any("--index-url" in step and "https://***@mirror.example/simple" in step for step in log["steps"])
    assert json.loads(result.stdout)["build"]["index_url"] == "https://***@mirror.example/simple"


def test_verify_log_masks_a_proxy_url_that_torch_printed(tmp_path, tmp_path_factory):
    prefix, python, site = make_venv(tmp_path_factory.mktemp("redact-venv"))
    clear_site(site)
    fake_torch.install_into(site, cuda_config(warn_on_import=[f"could not reach {PROXY} for the hub"]))
    home = tmp_path / "home"
    try:
        result = _run(["verify", "--python", str(python), "--nvidia-smi-file", str(RTX4070), "--json"], home)
    finally:
        clear_site(site)
    assert result.returncode == 0, result.stderr
    written = _everything_written(home, [result.stdout, result.stderr])
    assert "s3cret" not in written
    doc = json.loads(result.stdout)
    assert doc["warnings"] == ["could not reach http://***@proxy:8080 for the hub"]
    log = json.loads((home / "logs" / "latest.json").read_text(encoding="utf-8"))
    assert log["warnings"] == doc["warnings"]


def test_network_explanations_never_carry_credentials(monkeypatch):
    from pybootstrap import index_check
    from pybootstrap.errors import NetworkError

    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "all_proxy",
                 "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(NetworkError) as info:
        index_check.check_index("https://tok:ghp_abc@mirror.pybootstrap-test.invalid/whl/cu124?token=xyz")
    assert info.value.message == ("cannot reach the package index https://***@mirror.pybootstrap-test.invalid/whl/"
                                  "cu124?token=***: the name mirror.pybootstrap-test.invalid did not resolve (DNS)")

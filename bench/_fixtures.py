"""The bench's fixtures: a fake nvidia-smi, wheels sized like real ones, a PEP 503 index and its server."""

from __future__ import annotations

import http.server
import importlib.util
import os
import shutil
import threading
from pathlib import Path
from typing import Any, Dict, List, Tuple

REPO = Path(__file__).resolve().parent.parent
SMI_TABLE = REPO / "tests" / "data" / "nvidia-smi" / "linux-rtx4070-550.40.07.txt"
# What the same driver prints for pybootstrap's --query-gpu (index, name, driver, memory, compute_cap;
# noheader, nounits); the values are those of the saved table above, compute capability from NVIDIA's list.
SMI_QUERY_LINE = "0, NVIDIA GeForce RTX 4070, 550.40.07, 12282, 8.9"
GPU_NAME, GPU_CC = "NVIDIA GeForce RTX 4070", (8, 9)
TORCH, TORCHVISION, TORCHAUDIO, VARIANT, CUDA = "2.5.1", "0.20.1", "2.5.1", "cu124", "12.4"
# torch.cuda.get_arch_list() of the real 2.5.1+cu124 Linux wheel
ARCH_LIST = ["sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90"]
MB = 1024 * 1024
# Real 2.5.1+cu124 wheels are ~900 MB / ~7 MB / ~3.4 MB; scaled down so a run takes minutes, not hours.
WHEEL_MB = {"torch": 50, "torchvision": 4, "torchaudio": 2}


def load_fake_torch() -> Any:
    """tests/fake_torch.py, imported by path (tests/ is not a package)."""
    spec = importlib.util.spec_from_file_location("fake_torch", REPO / "tests" / "fake_torch.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def venv_python(prefix: Path) -> Path:
    """The interpreter of a venv."""
    return prefix / "Scripts" / "python.exe" if os.name == "nt" else prefix / "bin" / "python"


def write_fake_smi(bin_dir: Path) -> None:
    """nvidia-smi answering the query with CSV and anything else with the saved table."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    (bin_dir / "query.csv").write_text(SMI_QUERY_LINE + "\n", encoding="utf-8")
    shutil.copyfile(SMI_TABLE, bin_dir / "table.txt")
    if os.name == "nt":
        (bin_dir / "nvidia-smi.cmd").write_text(
            '@echo off\r\necho %* | findstr /c:"--query-gpu" >nul && (type "%~dp0query.csv" & exit /b 0)\r\n'
            'type "%~dp0table.txt"\r\n', encoding="ascii")
        return
    script = bin_dir / "nvidia-smi"
    script.write_text('#!/bin/sh\ncase "$1" in\n  --query-gpu=*) exec cat "$(dirname "$0")/query.csv" ;;\n'
                      'esac\nexec cat "$(dirname "$0")/table.txt"\n', encoding="utf-8")
    script.chmod(0o755)


def build_index(root: Path, scale: float) -> Tuple[Path, List[Path]]:
    """torch / torchvision / torchaudio wheels with incompressible padding, and a PEP 503 index of them."""
    fake = load_fake_torch()
    config = fake.torch_config(f"{TORCH}+{VARIANT}", CUDA, available=True, arch_list=ARCH_LIST,
                               devices=[{"name": GPU_NAME, "capability": list(GPU_CC)}])
    wheels_dir = root / "wheels"
    pad = {name: int(mb * MB * scale) for name, mb in WHEEL_MB.items()}
    local = f"+{VARIANT}"
    wheels = fake.build_family(wheels_dir, TORCH, VARIANT, config, padding_bytes=pad["torch"])
    for name, version in (("torchvision", TORCHVISION), ("torchaudio", TORCHAUDIO)):
        wheels.append(fake.build_wheel(wheels_dir, name, version + local,
                                       fake.companion_files(name, version + local),
                                       requires=[f"torch=={TORCH}"], padding_bytes=pad[name]))
    index_root = root / "index"
    fake.write_index(index_root, VARIANT, wheels)
    shutil.rmtree(wheels_dir)  # write_index copied them under index/files
    return index_root, sorted((index_root / "files").iterdir())


class IndexServer:
    """A threaded http.server over the index folder that counts the requests it answers."""

    def __init__(self, root: Path) -> None:
        counter = self
        self.requests: List[str] = []
        self.lock = threading.Lock()

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *a: Any, **kw: Any) -> None:
                super().__init__(*a, directory=str(root), **kw)

            def log_message(self, fmt: str, *args: Any) -> None:  # count, don't print
                with counter.lock:
                    counter.requests.append(self.requestline)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """http://127.0.0.1:PORT"""
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def count(self) -> int:
        """Requests answered so far."""
        with self.lock:
            return len(self.requests)

    def __enter__(self) -> "IndexServer":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def hermetic_env(home: Path, bin_dir: Path) -> Dict[str, str]:
    """The same environment for both sides: no user pip config, no pip cache, no PYBOOTSTRAP_* settings."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(("PIP_", "PYBOOTSTRAP_"))}
    env.pop("VIRTUAL_ENV", None)
    # Installed packages run from byte-code compiled at install time; PYTHONDONTWRITEBYTECODE (set in some
    # shells and CI images) would make every start compile pybootstrap from source instead. The cache goes
    # to the temporary folder, so the bench writes nothing into the checkout.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update({"PYTHONPYCACHEPREFIX": str(home.parent / "pycache"), "PIP_CONFIG_FILE": os.devnull,
                "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_CACHE_DIR": "1", "PIP_NO_INPUT": "1",
                "PYBOOTSTRAP_HOME": str(home),
                "PATH": str(bin_dir) + os.pathsep + os.environ.get("PATH", "")})
    return env

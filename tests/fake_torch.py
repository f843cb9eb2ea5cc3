"""Small generated stand-ins for torch / torchvision / torchaudio, and wheels and a PEP 503 index of them.

The fake torch behaves like the real one where pybootstrap looks: __version__, torch.version.cuda,
torch.cuda.is_available() / device_count() / get_device_name() / get_device_capability() /
get_arch_list(), torch.backends.cudnn.version(), and a tiny tensor type for the probe's matrix product.
Its behaviour comes from _fake_config.json inside the package, so one generator covers every failure.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import zipfile
from pathlib import Path
from typing import Dict, Iterable, List, Optional

TORCH_INIT = r'''
import json as _json, os as _os, time as _time, warnings as _warnings
_CFG = _json.loads(__import__("pathlib").Path(_os.path.dirname(__file__), "_fake_config.json").read_text())
if _CFG.get("hang_on_import"):
    _time.sleep(3600)
if _CFG.get("import_error"):
    raise OSError(_CFG["import_error"])
for _w in _CFG.get("warn_on_import", []):
    _warnings.warn(_w, UserWarning)
__version__ = _CFG["version"]
float32 = "float32"
from torch import version, cuda, backends  # noqa: E402


class Tensor:
    def __init__(self, rows, device="cpu"):
        self.rows = [list(r) for r in rows] if rows and isinstance(rows[0], list) else [list(rows)]
        self.flat = not (rows and isinstance(rows[0], list))
        self.device = device

    def _vals(self):
        return [v for r in self.rows for v in r]

    def reshape(self, n, m):
        vals = self._vals()
        return Tensor([vals[i * m:(i + 1) * m] for i in range(n)], self.device)

    def flip(self, dim):
        vals = list(reversed(self._vals()))
        return Tensor(vals, self.device)

    def __truediv__(self, k):
        return Tensor([[v / k for v in r] for r in self.rows] if not self.flat else [v / k for v in self._vals()],
                      self.device)

    def __sub__(self, other):
        return Tensor([[a - b for a, b in zip(r, s)] for r, s in zip(self.rows, other.rows)], self.device)

    def __matmul__(self, other):
        if self.device != "cpu":
            if _CFG.get("matmul_error"):
                raise RuntimeError(_CFG["matmul_error"])
        n, k, m = len(self.rows), len(other.rows), len(other.rows[0])
        out = [[sum(self.rows[i][x] * other.rows[x][j] for x in range(k)) for j in range(m)] for i in range(n)]
        if self.device != "cpu" and _CFG.get("matmul_wrong"):
            out[0][0] += 1.0
        return Tensor(out, self.device)

    def to(self, device):
        if str(device).startswith("cuda") and not cuda.is_available():
            raise RuntimeError("Torch not compiled with CUDA enabled" if version.cuda is None
                               else "No CUDA GPUs are available")
        return Tensor(self.rows, str(device))

    def cpu(self):
        return Tensor(self.rows, "cpu")

    def abs(self):
        return Tensor([[abs(v) for v in r] for r in self.rows], self.device)

    def max(self):
        return max(self._vals())


def arange(n, dtype=None, device="cpu"):
    return Tensor([float(i) for i in range(n)], device)
'''

VERSION_PY = r'''
import json as _json, os as _os
_CFG = _json.loads(__import__("pathlib").Path(_os.path.dirname(__file__), "_fake_config.json").read_text())
cuda = _CFG.get("cuda")
__version__ = _CFG["version"]
'''

CUDA_PY = r'''
import json as _json, os as _os, time as _time, warnings as _warnings
_CFG = _json.loads(__import__("pathlib").Path(_os.path.dirname(__file__), "_fake_config.json").read_text())


def is_available():
    for w in _CFG.get("warn_on_cuda", []):
        _warnings.warn(w, UserWarning)
    if _CFG.get("hang_on_cuda"):
        _time.sleep(3600)
    return bool(_CFG.get("cuda")) and bool(_CFG.get("available"))


def device_count():
    return len(_CFG.get("devices", [])) if is_available() else 0


def get_device_name(i=0):
    return _CFG["devices"][i]["name"]


def get_device_capability(i=0):
    return tuple(_CFG["devices"][i]["capability"])


def get_arch_list():
    return list(_CFG.get("arch_list", [])) if _CFG.get("cuda") else []


def synchronize(i=None):
    return None
'''

BACKENDS_PY = r'''
import json as _json, os as _os
_CFG = _json.loads(__import__("pathlib").Path(_os.path.dirname(__file__), "_fake_config.json").read_text())


class cudnn:
    @staticmethod
    def version():
        return _CFG.get("cudnn")
'''


def torch_config(version: str, cuda: Optional[str] = None, *, available: bool = False,
                 devices: Iterable[Dict] = (), arch_list: Iterable[str] = (), **extra) -> Dict:
    """The behaviour of a fake torch: see the module docstring."""
    cfg = {"version": version, "cuda": cuda, "available": available, "devices": list(devices),
           "arch_list": list(arch_list), "cudnn": 90100 if cuda else None}
    cfg.update(extra)
    return cfg


def torch_files(config: Dict) -> Dict[str, str]:
    """The files of the fake torch package."""
    cfg = json.dumps(config)
    return {"torch/__init__.py": TORCH_INIT, "torch/version.py": VERSION_PY, "torch/cuda.py": CUDA_PY,
            "torch/backends.py": BACKENDS_PY, "torch/_fake_config.json": cfg}


def install_into(site_packages: Path, config: Dict) -> None:
    """Drop the fake torch straight into a site-packages folder (for verify tests)."""
    for rel, text in torch_files(config).items():
        path = site_packages / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def build_wheel(dest: Path, name: str, version: str, files: Dict[str, str], requires: Iterable[str] = (),
                padding_bytes: int = 0) -> Path:
    """Write a valid py3-none-any wheel; padding_bytes adds an incompressible file (to size it like a real one)."""
    dest.mkdir(parents=True, exist_ok=True)
    dist = name.replace("-", "_")
    info = f"{dist}-{version}.dist-info"
    path = dest / f"{dist}-{version}-py3-none-any.whl"
    meta = [f"Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    meta += [f"Requires-Dist: {r}" for r in requires]
    contents: Dict[str, bytes] = {k: v.encode() for k, v in files.items()}
    if padding_bytes:
        import os

        contents[f"{dist}/_padding.bin"] = os.urandom(padding_bytes)
    contents[f"{info}/METADATA"] = ("\n".join(meta) + "\n").encode()
    contents[f"{info}/WHEEL"] = b"Wheel-Version: 1.0\nGenerator: fake\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    record = [_record_line(k, v) for k, v in contents.items()] + [f"{info}/RECORD,,"]
    contents[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for k, v in contents.items():
            zf.writestr(k, v)
    return path


def build_family(dest: Path, torch_version: str, variant: str, config: Dict, *, torchvision: Optional[str] = None,
                 torchaudio: Optional[str] = None, padding_bytes: int = 0) -> List[Path]:
    """torch (+ torchvision, torchaudio) wheels for one variant, local-tagged like the PyTorch index."""
    local = f"+{variant}"
    wheels = [build_wheel(dest, "torch", torch_version + local, torch_files(config), padding_bytes=padding_bytes)]
    if torchvision:
        wheels.append(build_wheel(dest, "torchvision", torchvision + local,
                                  {"torchvision/__init__.py": f"__version__ = '{torchvision}{local}'\n"},
                                  requires=[f"torch=={torch_version}"]))
    if torchaudio:
        wheels.append(build_wheel(dest, "torchaudio", torchaudio + local,
                                  {"torchaudio/__init__.py": f"__version__ = '{torchaudio}{local}'\n"},
                                  requires=[f"torch=={torch_version}"]))
    return wheels


def write_index(root: Path, variant: str, wheels: Iterable[Path]) -> Path:
    """A PEP 503 simple index at root/<variant>/<project>/index.html linking to the wheel files."""
    base = root / variant
    files = root / "files"
    files.mkdir(parents=True, exist_ok=True)
    by_project: Dict[str, List[Path]] = {}
    for wheel in wheels:
        target = files / wheel.name
        if not target.exists():
            target.write_bytes(wheel.read_bytes())
        project = wheel.name.split("-")[0].replace("_", "-").lower()
        by_project.setdefault(project, []).append(target)
    base.mkdir(parents=True, exist_ok=True)
    links = []
    for project, paths in sorted(by_project.items()):
        pdir = base / project
        pdir.mkdir(parents=True, exist_ok=True)
        rows = []
        for p in paths:
            digest = hashlib.sha256(p.read_bytes()).hexdigest()
            rows.append(f'<a href="../../files/{html.escape(p.name)}#sha256={digest}">{html.escape(p.name)}</a><br>')
        (pdir / "index.html").write_text("<html><body>\n" + "\n".join(rows) + "\n</body></html>\n")
        links.append(f'<a href="{project}/">{project}</a><br>')
    (base / "index.html").write_text("<html><body>\n" + "\n".join(links) + "\n</body></html>\n")
    return base

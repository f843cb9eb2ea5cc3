"""Small generated stand-ins for torch / torchvision / torchaudio, and wheels and a PEP 503 index of them.

The fake torch behaves like the real one where pybootstrap looks: __version__, torch.version.cuda,
torch.cuda.is_available() / device_count() / get_device_name() / get_device_capability() /
get_arch_list(), torch.backends.cudnn.version(), and a tiny tensor type for the probe's matrix products.
The fake torchvision has ops.nms, the fake torchaudio functional.mu_law_encoding (both computed for real).
Each package's behaviour comes from the _fake_config.json inside it, so one generator covers every failure:

torch_config(..., cpu_matmul_error="...")      a matrix product on the CPU raises
torch_config(..., cpu_matmul_wrong=True)       ... comes out wrong
torch_config(..., matmul_error / matmul_wrong) the same on the GPU
torch_config("2.14.1+cu126", "12.6")           another build than a CPU plan (label and torch.version.cuda)
companion_config("0.20.1", import_error=NMS_OPERATOR_ERROR)   a torchvision made for another torch
companion_config("2.5.1", wrong_result=True)   a torchvision / torchaudio that computes a wrong result
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import zipfile
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Union

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
int64 = "int64"
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
        prefix = "cpu_" if self.device == "cpu" else ""
        if _CFG.get(prefix + "matmul_error"):
            raise RuntimeError(_CFG[prefix + "matmul_error"])
        n, k, m = len(self.rows), len(other.rows), len(other.rows[0])
        out = [[sum(self.rows[i][x] * other.rows[x][j] for x in range(k)) for j in range(m)] for i in range(n)]
        if _CFG.get(prefix + "matmul_wrong"):
            out[0][0] += 1.0
        return Tensor(out, self.device)

    def tolist(self):
        return self._vals() if self.flat else [list(r) for r in self.rows]

    def to(self, device):
        if str(device).startswith("cuda") and not cuda.is_available():
            raise RuntimeError("Torch not compiled with CUDA enabled" if version.cuda is None
                               else "No CUDA GPUs are available")
        return Tensor(self.tolist(), str(device))

    def cpu(self):
        return Tensor(self.tolist(), "cpu")

    def abs(self):
        return Tensor([[abs(v) for v in r] for r in self.rows], self.device)

    def max(self):
        return max(self._vals())


def arange(n, dtype=None, device="cpu"):
    return Tensor([float(i) for i in range(n)], device)


def tensor(data, dtype=None, device="cpu"):
    return Tensor(list(data), "cpu").to(device)
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


NMS_OPERATOR_ERROR = "operator torchvision::nms does not exist"  # a torchvision built for another torch

_COMPANION_INIT = r'''
import json as _json, os as _os
import torch  # noqa: F401  (the real packages import torch first too)
_CFG = _json.loads(__import__("pathlib").Path(_os.path.dirname(__file__), "_fake_config.json").read_text())
__version__ = _CFG["version"]
if _CFG.get("import_error"):
    raise RuntimeError(_CFG["import_error"])
from {package} import {module}  # noqa: E402
'''

TORCHVISION_OPS_PY = r'''
import torch
from torchvision import _CFG


def _area(b):
    return max(0.0, b[2] - b[0]) * max(0.0, b[3] - b[1])


def _iou(a, b):
    inter = max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = _area(a) + _area(b) - inter
    return inter / union if union > 0 else 0.0


def nms(boxes, scores, iou_threshold):
    rows, values = boxes.tolist(), scores.tolist()
    kept = []
    for i in sorted(range(len(values)), key=lambda i: -values[i]):
        if all(_iou(rows[i], rows[k]) <= iou_threshold for k in kept):
            kept.append(i)
    if _CFG.get("wrong_result"):
        kept = list(range(len(values)))
    return torch.tensor(kept, dtype=torch.int64)
'''

TORCHAUDIO_FUNCTIONAL_PY = r'''
import math
import torch
from torchaudio import _CFG


def mu_law_encoding(x, quantization_channels):
    mu = quantization_channels - 1.0
    codes = [int((math.copysign(math.log1p(mu * abs(v)) / math.log1p(mu), v) + 1) / 2 * mu + 0.5) for v in x.tolist()]
    if _CFG.get("wrong_result"):
        codes = [c + 1 for c in codes]
    return torch.tensor(codes, dtype=torch.int64)
'''

_COMPANION_MODULES = {"torchvision": ("ops", TORCHVISION_OPS_PY), "torchaudio": ("functional", TORCHAUDIO_FUNCTIONAL_PY)}


def companion_config(version: str, **extra) -> Dict:
    """The behaviour of a fake torchvision / torchaudio: import_error="..." makes its import raise it,
    wrong_result=True makes its operation (nms / mu_law_encoding) answer wrongly."""
    return {"version": version, **extra}


def companion_files(name: str, companion: Union[str, Dict]) -> Dict[str, str]:
    """The files of a fake torchvision or torchaudio package, from a version or a companion_config()."""
    config = companion_config(companion) if isinstance(companion, str) else dict(companion)
    module, source = _COMPANION_MODULES[name]
    return {f"{name}/__init__.py": _COMPANION_INIT.format(package=name, module=module),
            f"{name}/{module}.py": source, f"{name}/_fake_config.json": json.dumps(config)}


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


def install_into(site_packages: Path, config: Dict, *, torchvision: Union[str, Dict, None] = None,
                 torchaudio: Union[str, Dict, None] = None) -> None:
    """Drop the fake torch (and the companions given: a version or a companion_config()) straight into a
    site-packages folder (for verify tests)."""
    files = dict(torch_files(config))
    for name, companion in (("torchvision", torchvision), ("torchaudio", torchaudio)):
        if companion is not None:
            files.update(companion_files(name, companion))
    for rel, text in files.items():
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
    meta = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
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


def build_family(dest: Path, torch_version: str, variant: str, config: Dict, *,
                 torchvision: Union[str, Dict, None] = None, torchaudio: Union[str, Dict, None] = None,
                 padding_bytes: int = 0) -> List[Path]:
    """torch (+ torchvision, torchaudio: a version or a companion_config()) wheels for one variant, local-tagged
    like the PyTorch index."""
    local = f"+{variant}"
    wheels = [build_wheel(dest, "torch", torch_version + local, torch_files(config), padding_bytes=padding_bytes)]
    for name, companion in (("torchvision", torchvision), ("torchaudio", torchaudio)):
        if companion:
            cfg = companion_config(companion) if isinstance(companion, str) else dict(companion)
            cfg["version"] += local
            wheels.append(build_wheel(dest, name, cfg["version"], companion_files(name, cfg),
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


def build_broken_wheel(dest: Path, name: str, version: str) -> Path:
    """A file named like a wheel whose content is not a zip archive: pip downloads it and fails to install it."""
    dest.mkdir(parents=True, exist_ok=True)
    path = dest / f"{name.replace('-', '_')}-{version}-py3-none-any.whl"
    path.write_bytes(b"this is not a zip archive\n" * 64)
    return path


# --- a fake conda executable ----------------------------------------------------------------------

FAKE_CONDA = r'''#!{python}
"""A fake conda: appends its argv (as a JSON line) to a log, and simulates info / create / install / remove."""
import json, shutil, sys
from pathlib import Path

STATE = json.loads(Path(__file__).resolve().with_name("fake_conda.json").read_text())
args = sys.argv[1:]
with open(STATE["log"], "a") as handle:
    handle.write(json.dumps(args) + "\n")
root = Path(STATE["root"])


def prefix():
    return Path(args[args.index("-p") + 1])


def site(p):
    return next(p.glob("lib/python3*/site-packages"))


def positional():
    out, skip = [], False
    for a in args[1:]:
        if skip:
            skip = False
        elif a in ("-p", "-c", "-n", "--prefix", "--channel"):
            skip = True
        elif not a.startswith("-"):
            out.append(a)
    return out


def installed(p, name):
    return [f for f in (p / "conda-meta").glob(name + "-*.json") if f.name[len(name) + 1:][:1].isdigit()]


command = args[0] if args else ""
if STATE.get("fail") == command:
    sys.stderr.write("CondaError: simulated failure of conda " + command + "\n")
    sys.exit(1)
if args[:2] == ["info", "--json"]:
    envs_dir = root / "envs"
    envs = [str(root)] + sorted(str(p) for p in envs_dir.glob("*") if (p / "conda-meta").is_dir())
    print(json.dumps({"conda_version": "24.9.2", "root_prefix": str(root), "envs_dirs": [str(envs_dir)],
                      "envs": envs}))
elif command == "create":
    p = prefix()
    shutil.copytree(STATE["template"], p, symlinks=True)  # a venv stands in for the new environment
    (p / "conda-meta").mkdir()
    (p / "conda-meta" / "history").write_text("")
elif command == "install":
    p = prefix()
    specs = positional()
    version = next(s for s in specs if s.startswith("pytorch=="))[len("pytorch=="):]
    cuda = next((s.split("=")[1] for s in specs if s.startswith("pytorch-cuda=")), None)
    sys.path.insert(0, STATE["fakes"])
    import fake_torch
    config = dict(STATE["torch_config"], version=version, cuda=cuda, available=bool(cuda))
    companions = {s.partition("==")[0]: s.partition("==")[2] for s in specs if s.startswith(("torchvision==", "torchaudio=="))}
    fake_torch.install_into(site(p), config, **companions)
    for spec in specs:
        name, _, ver = spec.replace("==", "=").partition("=")
        (p / "conda-meta" / f"{name}-{ver or '1.0'}-0.json").write_text(json.dumps({"name": name}))
elif command == "remove":
    p = prefix()
    names = positional()
    missing = [n for n in names if not installed(p, n)]
    if missing:
        sys.stderr.write("PackagesNotFoundError: The following packages are missing from the target environment:\n"
                         + "".join("  - " + n + "\n" for n in missing))
        sys.exit(1)
    for n in names:
        for f in installed(p, n):
            f.unlink()
        if n in ("pytorch", "torchvision", "torchaudio"):
            shutil.rmtree(site(p) / ("torch" if n == "pytorch" else n), ignore_errors=True)
else:
    sys.stderr.write("fake conda: unsupported command " + " ".join(args) + "\n")
    sys.exit(2)
'''


def write_fake_conda(bin_dir: Path, *, log: Path, root: Path, template: Path, torch_config: Dict,
                     fail: Optional[str] = None) -> Path:
    """bin_dir/conda: records argv to `log` (JSON lines); `create` copies the `template` venv; `install`
    drops a fake torch (from `torch_config`, version and CUDA from the specs) into the environment."""
    import sys

    bin_dir.mkdir(parents=True, exist_ok=True)
    (root / "envs").mkdir(parents=True, exist_ok=True)
    (bin_dir / "fake_conda.json").write_text(json.dumps({
        "log": str(log), "root": str(root), "template": str(template), "torch_config": torch_config,
        "fakes": str(Path(__file__).resolve().parent), "fail": fail}))
    exe = bin_dir / "conda"
    exe.write_text(FAKE_CONDA.replace("{python}", sys.executable), encoding="utf-8")
    exe.chmod(0o755)
    return exe


def conda_calls(log: Path) -> List[List[str]]:
    """The argv lists the fake conda recorded, in order."""
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


# --- the shared test index and a template venv (built once per test session, whichever module asks first) ----

RTX3070 = {"name": "NVIDIA GeForce RTX 3070", "capability": [8, 6]}
# torch.cuda.get_arch_list() of the 2.5.1 / 2.14 CUDA 12 wheels on Linux (manifests/pytorch.json: archs.linux)
ARCHS_CU12 = ["sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90"]


def gpu_config(version: str, cuda: str) -> Dict:
    """A CUDA build that sees the RTX 3070 of tests/data/nvidia-smi/linux-wsl-rtx3070-*.txt."""
    return torch_config(version, cuda, available=True, devices=[RTX3070], arch_list=ARCHS_CU12)


def standard_index(root: Path) -> Path:
    """PEP 503 indexes under root (built once; later calls reuse it):

    /cu124        torch 2.5.1+cu124 (CUDA 12.4, sees an RTX 3070), torchvision 0.20.1+cu124, torchaudio 2.5.1+cu124
    /cpu          the same release, +cpu (torch.version.cuda None)
    /cu126        torch 2.14.1+cu126, torchvision 0.29.1+cu126, torchaudio 2.11.1+cu126 (it pairs with 2.11 to 2.15)
    /mislabelled  torch 2.5.1 without a local tag and without CUDA, as a CUDA index must never serve it
    /broken/cu124 a torch 2.5.1+cu124 "wheel" that is not a zip archive (with the good companions)
    /extra        sentinel 1.0, a package outside the torch family
    """
    done = root / ".complete"
    if done.exists():
        return root
    wheels = root.parent / (root.name + "-wheels")
    good = build_family(wheels / "cu124", "2.5.1", "cu124", gpu_config("2.5.1+cu124", "12.4"),
                        torchvision="0.20.1", torchaudio="2.5.1")
    write_index(root, "cu124", good)
    write_index(root, "cpu", build_family(wheels / "cpu", "2.5.1", "cpu", torch_config("2.5.1+cpu"),
                                          torchvision="0.20.1", torchaudio="2.5.1"))
    write_index(root, "cu126", build_family(wheels / "cu126", "2.14.1", "cu126", gpu_config("2.14.1+cu126", "12.6"),
                                            torchvision="0.29.1", torchaudio="2.11.1"))
    plain = wheels / "mislabelled"
    write_index(root, "mislabelled", [
        build_wheel(plain, "torch", "2.5.1", torch_files(torch_config("2.5.1"))),
        build_wheel(plain, "torchvision", "0.20.1", companion_files("torchvision", "0.20.1"),
                    requires=["torch==2.5.1"]),
        build_wheel(plain, "torchaudio", "2.5.1", companion_files("torchaudio", "2.5.1"),
                    requires=["torch==2.5.1"])])
    write_index(root / "broken", "cu124", [build_broken_wheel(wheels / "broken", "torch", "2.5.1+cu124")]
                + [w for w in good if not w.name.startswith("torch-")])
    write_index(root, "extra", [build_wheel(wheels / "extra", "sentinel", "1.0",
                                            {"sentinel/__init__.py": "VALUE = 1\n"})])
    done.write_text("ok")
    return root


def template_venv(path: Path) -> Path:
    """A venv made once by the interpreter running the tests, with pip (see copy_venv).

    On POSIX it is made --without-pip and gets the test runner's own pip by symbolic links (two links instead of
    the ~2,400 files ensurepip writes, which every copy would repeat and pytest would have to delete again).
    """
    import subprocess
    import sys

    python = path / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")
    if (path / "pyvenv.cfg").is_file() and python.exists():
        return path
    base = getattr(sys, "_base_executable", None) or sys.executable
    pip_dir = _own_pip()
    if sys.platform == "win32" or pip_dir is None:
        subprocess.run([base, "-m", "venv", str(path)], check=True, capture_output=True, timeout=300)
        return path
    subprocess.run([base, "-m", "venv", "--without-pip", str(path)], check=True, capture_output=True, timeout=300)
    site = _site_packages(path)
    for item in [pip_dir, *pip_dir.parent.glob("pip-*.dist-info")]:
        (site / item.name).symlink_to(item, target_is_directory=item.is_dir())
    return path


def _own_pip() -> Optional[Path]:
    try:
        import pip
    except ImportError:
        return None
    return Path(pip.__file__).resolve().parent


def _site_packages(prefix: Path) -> Path:
    return next(prefix.glob("lib/python3*/site-packages"))


def copy_venv(template: Path, dest: Path) -> Path:
    """A working venv at dest that sees the template's site-packages (its pip) through a .pth file; what is
    installed into it goes into its own site-packages. (Windows: a full copy.)"""
    import os
    import shutil
    import sys

    if sys.platform == "win32":
        shutil.copytree(template, dest, symlinks=True)
        return dest
    (dest / "bin").mkdir(parents=True)
    shutil.copy2(template / "pyvenv.cfg", dest / "pyvenv.cfg")
    for exe in (template / "bin").iterdir():
        if exe.is_symlink():
            os.symlink(os.readlink(exe), dest / "bin" / exe.name)
    site = dest / _site_packages(template).relative_to(template)
    site.mkdir(parents=True)
    (site / "_template_site.pth").write_text(str(_site_packages(template)) + "\n", encoding="utf-8")
    return dest

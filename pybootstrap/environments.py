"""Target environments: venv / existing interpreter / conda env; discovery, creation, the state marker."""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from pybootstrap import _subprocess
from pybootstrap.errors import EnvironmentProblem, InstallError
from pybootstrap.files import atomic_write
from pybootstrap.settings import TargetChoice

STATE_FILE = "pybootstrap-state.json"
DEFAULT_ENV = "torch"
DEFAULT_CONDA_ENV = "torch-conda"
_INFO_CODE = ("import json, os, sys; print(json.dumps({'executable': sys.executable, 'prefix': sys.prefix, "
              "'base_prefix': getattr(sys, 'base_prefix', sys.prefix), 'version': '.'.join(map(str, "
              "sys.version_info[:3])), 'conda': os.path.isdir(os.path.join(sys.prefix, 'conda-meta'))}))")


@dataclass(frozen=True)
class Target:
    """Where torch goes."""

    kind: str  # "venv" | "python" | "conda"
    prefix: Path
    python: Path
    exists: bool
    conda_exe: Optional[str] = None
    conda_name: Optional[str] = None
    source: str = "default"

    def describe(self) -> str:
        """'venv /home/u/.local/share/pybootstrap/envs/torch (default)'."""
        what = f"conda env {self.conda_name} ({self.prefix})" if self.conda_name else f"{self.kind} {self.prefix}"
        return f"{what} (from {self.source})"

    def to_dict(self) -> Dict[str, Any]:
        """For documents and the log."""
        return {"kind": self.kind, "prefix": str(self.prefix), "python": str(self.python), "exists": self.exists,
                "conda_name": self.conda_name, "source": self.source}


def python_in(prefix: Path, *, conda: bool, windows: Optional[bool] = None) -> Path:
    """The interpreter of an environment prefix."""
    windows = sys.platform == "win32" if windows is None else windows
    if windows:
        return prefix / "python.exe" if conda else prefix / "Scripts" / "python.exe"
    return prefix / "bin" / "python"


@dataclass(frozen=True)
class InterpreterInfo:
    """What an interpreter says about itself."""

    executable: str
    prefix: str
    base_prefix: str
    version: str  # "3.11.7"
    conda: bool  # its prefix is a conda environment (conda-meta/)


def interpreter_info(python: str, timeout: float = 30.0) -> Optional[InterpreterInfo]:
    """Ask an interpreter about itself; None when it does not run."""
    result = _subprocess.run([python, "-c", _INFO_CODE], timeout=timeout)
    if not result.ok:
        return None
    try:
        data = json.loads(result.stdout.strip().splitlines()[-1])
        return InterpreterInfo(executable=str(data["executable"]), prefix=str(data["prefix"]),
                               base_prefix=str(data["base_prefix"]), version=str(data["version"]),
                               conda=bool(data["conda"]))
    except (ValueError, IndexError, KeyError, TypeError):
        return None


def find_conda(explicit: Optional[str], from_env: Optional[str] = None, *, strict: bool = True) -> Optional[str]:
    """--conda-exe, else $CONDA_EXE (from_env), else conda / mamba on PATH; a given path that does not exist is
    refused."""
    for given, where in ((explicit, "--conda-exe"), (from_env, "CONDA_EXE")):
        if given:
            found = shutil.which(given)
            if found is None and not strict:  # only needed later, if at all: say it then
                return given
            if found is None:
                raise EnvironmentProblem(f"{where} {given}: no such executable",
                                         "Give the full path of conda.exe / conda (or mamba), e.g. "
                                         "%LOCALAPPDATA%\\pybootstrap\\conda\\Scripts\\conda.exe.")
            return found
    return shutil.which("conda") or shutil.which("mamba") or shutil.which("micromamba")


def conda_prefix_for_name(conda_exe: str, name: str) -> Path:
    """The prefix of a named conda environment (existing, or where conda would create it)."""
    result = _subprocess.run([conda_exe, "info", "--json"], timeout=120)
    if not result.ok:
        raise EnvironmentProblem(f"`{conda_exe} info --json` failed: {result.error or result.output_tail(5)}",
                                 "Check the conda installation, or give --conda-prefix DIR.")
    try:
        info = json.loads(result.stdout)
    except ValueError:
        raise EnvironmentProblem(f"`{conda_exe} info --json` printed no JSON",
                                 "Check the conda installation.") from None
    root = Path(info["root_prefix"]) if info.get("root_prefix") else None
    if name == "base" and root is not None:
        return root
    for env in info.get("envs", []) or []:
        if Path(env).name == name and Path(env) != root:  # the root prefix is "base", whatever its folder
            return Path(env)
    dirs = info.get("envs_dirs") or [str(Path(info.get("root_prefix", ".")) / "envs")]
    return Path(dirs[0]) / name


def resolve_target(choice: TargetChoice, home: Path) -> Target:
    """The target from --venv / --python / --conda-env / --conda-prefix, else the default venv under home."""
    src = choice.source
    if choice.python is not None:
        python = choice.python
        info = interpreter_info(str(python))
        if info is None:
            raise EnvironmentProblem(f"--python {python}: not a working Python interpreter",
                                     "Give the full path of a python executable (python.exe on Windows).")
        if info.conda:  # the interpreter of a conda environment: conda may install into it
            return Target("conda", Path(info.prefix), python, True,
                          conda_exe=find_conda(choice.conda_exe, choice.conda_exe_env, strict=False), source=src)
        return Target("python", Path(info.prefix), python, True, source=src)
    if choice.conda_env or choice.conda_prefix or (choice.wants_conda and choice.venv is None):
        conda_exe = find_conda(choice.conda_exe, choice.conda_exe_env)
        if conda_exe is None:
            raise EnvironmentProblem("conda was not found", "Install Miniforge, or give --conda-exe PATH.")
        name: Optional[str] = None
        if choice.conda_prefix is not None:
            prefix = choice.conda_prefix.resolve()
        elif choice.conda_env:
            prefix, name = conda_prefix_for_name(conda_exe, choice.conda_env), choice.conda_env
        else:  # --installer conda without a target: a dedicated conda environment under the pybootstrap home
            prefix, src = home / "envs" / DEFAULT_CONDA_ENV, "default (--installer conda)"
        python = python_in(prefix, conda=True)
        return Target("conda", prefix, python, (prefix / "conda-meta").is_dir(), conda_exe=conda_exe,
                      conda_name=name, source=src)
    prefix = choice.venv.resolve() if choice.venv is not None else home / "envs" / DEFAULT_ENV
    python = python_in(prefix, conda=False)
    if prefix.exists() and not prefix.is_dir():
        raise EnvironmentProblem(f"{prefix} is a file, not a folder for a virtual environment",
                                 "Give --venv a new or empty folder, or the folder of an existing venv.")
    if prefix.exists() and not (prefix / "pyvenv.cfg").is_file():
        creating = (read_state(prefix) or {}).get("status") == "creating"  # an interrupted creation: redone
        if not creating and any(prefix.iterdir()):
            raise EnvironmentProblem(f"{prefix} exists and is not a virtual environment",
                                     "Give --venv a new or empty folder, or the folder of an existing venv.")
    return Target("venv", prefix, python, python.exists(), source=src)


def check_allowed(target: Target, info: Optional[InterpreterInfo]) -> None:
    """Refuse pybootstrap's own interpreter and system Pythons (neither a venv nor a conda env)."""
    # Compare environment prefixes, not resolved executables: a venv's bin/python is a symlink to its base
    # interpreter, so every venv made from the Python that runs pybootstrap resolves to the same executable.
    own = os.path.realpath(sys.prefix)
    theirs = {os.path.realpath(str(target.prefix))}
    if info and info.prefix:
        theirs.add(os.path.realpath(info.prefix))
    if own in theirs:
        raise EnvironmentProblem(f"{target.python} is the interpreter running pybootstrap itself",
                                 "Install torch into its own environment: --venv DIR (or the default target).")
    if info and info.prefix == info.base_prefix and not info.conda:
        raise EnvironmentProblem(f"{target.python} is a system Python (not a virtual or conda environment)",
                                 "Installing into it could break the system's tools. Use --venv DIR, or "
                                 "create a venv with that Python and pass --python VENV_PYTHON.")


def venv_argv(target: Target, *, clear: bool = False, base_python: Optional[str] = None) -> List[str]:
    """python -m venv PREFIX, with the interpreter that runs pybootstrap (its base, when that is a venv)."""
    python = base_python or getattr(sys, "_base_executable", None) or sys.executable
    return [python, "-m", "venv", *(["--clear"] if clear else []), str(target.prefix)]


def create_venv(target: Target, base_python: Optional[str] = None, *, clear: bool = False) -> _subprocess.CommandResult:
    """Create the venv; marked "creating" first, so an interrupted creation is redone, not used."""
    target.prefix.mkdir(parents=True, exist_ok=True)
    write_state(target.prefix, {"status": "creating"})
    result = _subprocess.run(venv_argv(target, clear=clear, base_python=base_python), timeout=600)
    if not result.ok:
        raise InstallError(f"creating the venv {target.prefix} failed: {result.error or result.output_tail(5)}",
                           "Check that the folder is writable and the disk is not full. On Debian/Ubuntu, "
                           "install the python3-venv package.")
    return result


def conda_installed(prefix: Path, names: Sequence[str]) -> List[str]:
    """Which of these packages conda itself installed in prefix (per conda-meta/NAME-VERSION-BUILD.json)."""
    meta = prefix / "conda-meta"
    if not meta.is_dir():
        return []
    files = [f.name for f in meta.glob("*.json")]
    # "pytorch-2.5.1-py3.11_cuda12.4_0.json" is pytorch; "pytorch-cuda-12.4-h3fd98bf_7.json" is not
    return [n for n in names if any(f.startswith(n + "-") and f[len(n) + 1:][:1].isdigit() for f in files)]


# --- the state marker: only a verified environment is marked good ----------------------------

def read_state(prefix: Path) -> Optional[Dict[str, Any]]:
    """The marker pybootstrap left in an environment, or None."""
    try:
        state = json.loads((prefix / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) else None


def write_state(prefix: Path, state: Dict[str, Any]) -> None:
    """Write the marker atomically."""
    atomic_write(prefix / STATE_FILE,
                 json.dumps(dict(state, updated=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())), indent=2),
                 label="the environment's state file")


def mark_installing(prefix: Path, build: Dict[str, Any]) -> None:
    """Before any change: the environment is not good until verification says so."""
    if prefix.is_dir():
        write_state(prefix, {"status": "installing", "build": build})


def mark_good(prefix: Path, build: Dict[str, Any], torch_version: Optional[str]) -> None:
    """After verification passed."""
    write_state(prefix, {"status": "good", "build": build, "torch_version": torch_version})


def is_marked_good(prefix: Path, build: Dict[str, Any]) -> bool:
    """True when the marker says this exact build was installed and verified here."""
    state = read_state(prefix)
    if not state or state.get("status") != "good":
        return False
    keys = ("torch", "torchvision", "torchaudio", "variant", "installer")
    return all((state.get("build") or {}).get(k) == build.get(k) for k in keys)

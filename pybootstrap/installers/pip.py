"""pip: the exact ``python -m pip install`` command of a plan, and running it in the target."""

from __future__ import annotations

import os
import sys
from typing import Callable, List, Optional, Sequence, Tuple

from pybootstrap import _subprocess
from pybootstrap.plan_model import Build, Request

PIP_TIMEOUT_S = 3600.0
PYTHON = "python"  # stands for the target interpreter in plan commands


def requirement_pins(build: Build) -> List[str]:
    """'torch==2.5.1', ... ; 1.x releases pin the local version (+cu117) as pytorch.org does."""
    local = f"+{build.variant}" if build.pip_style == "extra-index-url" else ""
    pins = [f"torch=={build.torch}{local}"]
    if build.torchvision:
        pins.append(f"torchvision=={build.torchvision}{local}")
    if build.torchaudio:
        pins.append(f"torchaudio=={build.torchaudio}")
    return pins


def source_args(build: Build, request: Request) -> List[str]:
    """Index and find-links options; --offline means --no-index plus the local folders only."""
    args: List[str] = []
    if request.offline:
        args.append("--no-index")
    elif build.index_url:
        flag = "--extra-index-url" if build.pip_style == "extra-index-url" and not request.index_url else "--index-url"
        args += [flag, build.index_url]
    for folder in request.find_links:
        args += ["--find-links", folder]
    return args


def build_command(build: Build, request: Request, python: str = PYTHON) -> Tuple[str, ...]:
    """The pip command that installs the build, as a user would type it."""
    return tuple([python, "-m", "pip", "install", *requirement_pins(build), *source_args(build, request)])


def install_argv(command: Sequence[str], python: str, *, interactive: bool) -> List[str]:
    """The plan command made concrete: the target's interpreter, progress suited to the output."""
    argv = [python if command[0] == PYTHON else command[0], *command[1:]]
    extra = ["--disable-pip-version-check"]
    if not interactive:
        extra += ["--progress-bar", "off"]
    at = argv.index("install") + 1
    return argv[:at] + extra + argv[at:]


def uninstall_argv(python: str, packages: Sequence[str]) -> List[str]:
    """Remove the torch family before installing another build of it."""
    return [python, "-m", "pip", "uninstall", "-y", *packages]


def download_argv(build: Build, request: Request, dest: str, *, python: str, platform_tag: Optional[str],
                  python_version: Optional[str]) -> List[str]:
    """``pip download`` of every wheel a plan needs (torch and its dependencies) into dest."""
    argv = [python, "-m", "pip", "download", "--disable-pip-version-check", "--dest", dest,
            *requirement_pins(build), *source_args(build, request)]
    if platform_tag:
        argv += ["--only-binary", ":all:", "--platform", platform_tag]
    if python_version:
        argv += ["--python-version", python_version]
    return argv


def pip_env() -> dict:
    """Environment for pip: proxies and the user's pip configuration pass through untouched."""
    return {"PYTHONUTF8": "1", "PYTHONIOENCODING": "utf-8"}


def run_pip(argv: Sequence[str], *, stream: Optional[Callable[[str], None]] = None,
            timeout: float = PIP_TIMEOUT_S) -> _subprocess.CommandResult:
    """Run one pip command through the subprocess wrapper."""
    return _subprocess.run(argv, timeout=timeout, env=pip_env(), stream=stream)


def stdout_is_terminal() -> bool:
    """True when stderr is a terminal (pip's own progress bar is then shown)."""
    try:
        return sys.stderr.isatty() and os.environ.get("CI") is None
    except (AttributeError, ValueError):
        return False

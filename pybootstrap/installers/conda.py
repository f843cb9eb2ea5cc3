"""conda: the exact ``conda install`` command of a plan (channels and selector package)."""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

from pybootstrap.plan_model import Build, Request

CONDA = "conda"  # stands for the conda executable in plan commands
CONDA_TIMEOUT_S = 3600.0


def package_specs(build: Build) -> List[str]:
    """'pytorch==2.5.1', companions, and the selector package (pytorch-cuda=12.4 / cpuonly)."""
    specs = [f"pytorch=={build.torch}"]
    if build.torchvision:
        specs.append(f"torchvision=={build.torchvision}")
    if build.torchaudio:
        specs.append(f"torchaudio=={build.torchaudio}")
    if build.conda_cuda_package:
        specs.append(build.conda_cuda_package)
    return specs


def channel_args(build: Build) -> List[str]:
    """-c pytorch -c nvidia ..., in the order pytorch.org gives them."""
    args: List[str] = []
    for channel in build.conda_channels or ():
        args += ["-c", channel]
    return args


def build_command(build: Build, request: Request) -> Tuple[str, ...]:
    """The conda command that installs the build, as pytorch.org gives it, without prompts."""
    argv = [CONDA, "install", "-y", *package_specs(build), *channel_args(build)]
    if request.offline:
        argv.append("--offline")
    return tuple(argv)


def install_argv(command: Sequence[str], conda_exe: str, prefix: str) -> List[str]:
    """The plan command made concrete for one environment prefix."""
    argv = list(command)
    argv[0] = conda_exe
    at = argv.index("install") + 1
    return argv[:at] + ["-p", prefix] + argv[at:]


def create_argv(conda_exe: str, prefix: str, python_version: str, *, offline: bool = False,
                channels: Optional[Sequence[str]] = None) -> List[str]:
    """Create an environment with a Python (and pip) and nothing else."""
    argv = [conda_exe, "create", "-y", "-p", prefix, f"python={python_version}", "pip"]
    for channel in channels or ():
        argv += ["-c", channel]
    if offline:
        argv.append("--offline")
    return argv


def remove_argv(conda_exe: str, prefix: str, packages: Sequence[str]) -> List[str]:
    """Remove the torch family from an environment before installing another build."""
    return [conda_exe, "remove", "-y", "-p", prefix, "--force", *packages]


def conda_env() -> Dict[str, str]:
    """Never prompt: conda reads CONDA_ALWAYS_YES; the user's .condarc is respected."""
    return {"CONDA_ALWAYS_YES": "true", "PYTHONUTF8": "1"}

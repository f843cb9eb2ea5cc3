"""pip: the exact ``python -m pip install`` command of a plan, and running it in the target."""

from __future__ import annotations

import os
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from packaging.version import Version

from pybootstrap import _subprocess
from pybootstrap.plan_model import Build, Request

PIP_TIMEOUT_S = 3600.0  # one whole pip command
# pip's own network behaviour (defaults: 5 retries, 15 s): with 2 retries of 10 s, an index that stops answering
# fails one page in about 3 x 10 s (+ urllib3's short backoff) instead of minutes. The up-front index check
# (pybootstrap.index_check) has already caught names that do not resolve, refused connections and proxies.
PIP_RETRIES = 2
PIP_SOCKET_TIMEOUT_S = 10
PYTHON = "python"  # stands for the target interpreter in plan commands


# --- the exact build: local version labels -------------------------------------------------------
# The PyTorch index (https://download.pytorch.org/whl/<variant>) names every build with a local version label:
# torch-2.5.1+cu124-..., torch-2.5.1+cpu-..., +rocm6.2, +xpu, and torchvision the same (torchvision-0.20.1+cu124).
# Seen in pytorch/pytorch#114281 (torch-2.2.0.dev...+cu121-...-linux_x86_64 on whl/nightly/cu121),
# facebookresearch/xformers#835 (torch-2.1.0+cu121-...-win_amd64), pytorch/pytorch#142043 (+cpu aarch64 wheels).
# Pinning the label (torch==2.5.1+cu124) keeps pip from taking another build of the same version from an extra
# index or find-links folder of the user's configuration (PEP 440: ==2.5.1 matches 2.5.1+cu124 and 2.5.1+cpu alike).
# Exceptions, pinned without a label:
# - Linux arm64 CPU wheels up to 2.5 carry none (malfet in pytorch/pytorch#110791: "ARM binaries do not have +cpu
#   suffix"; astral-sh/uv#1497 lists torch-2.1.1-cp310-cp310-manylinux_2_17_aarch64... on whl/cpu); the 2.6
#   nightlies have +cpu (pytorch/pytorch#142043).
# - An index that is not laid out like the PyTorch index (its last path segment is not the variant: a PyPI mirror,
#   a company index) and offline folders: what they hold is not known here (a closed wheelhouse pins its own
#   files exactly, see pybootstrap.wheelhouse).
# - torchaudio from another release than torch (torch 2.0.0 with torchaudio 2.0.1): not known to be built for
#   every variant of that torch; the published commands pin it bare.
# 1.x releases keep the published commands (pytorch.org previous versions): torch and torchvision labelled,
# torchaudio bare, with --extra-index-url.

def local_label(build: Build, arch: str) -> Optional[str]:
    """The local version label of the planned torch ('cu124', 'cpu', ...), or None where none is pinned."""
    if build.pip_style == "extra-index-url":
        return build.variant
    if not build.index_url or build.index_url.rstrip("/").rsplit("/", 1)[-1] != build.variant:
        return None
    if arch == "arm64" and build.variant == "cpu" and Version(build.torch) < Version("2.6"):
        return None
    return build.variant


def requirement_pins(build: Build, arch: str) -> List[str]:
    """'torch==2.5.1+cu124', ...: the planned build itself, not only its version."""
    label = local_label(build, arch)
    local = f"+{label}" if label else ""
    pins = [f"torch=={build.torch}{local}"]
    if build.torchvision:
        pins.append(f"torchvision=={build.torchvision}{local}")
    if build.torchaudio:
        same_release = build.torchaudio == build.torch and build.pip_style != "extra-index-url"
        pins.append(f"torchaudio=={build.torchaudio}{local if same_release else ''}")
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


def build_command(build: Build, request: Request, python: str = PYTHON, *, arch: str) -> Tuple[str, ...]:
    """The pip command that installs the build, as a user would type it."""
    return tuple([python, "-m", "pip", "install", *requirement_pins(build, arch), *source_args(build, request)])


def network_args() -> List[str]:
    """pip's own retries and socket timeout, bounded (see PIP_RETRIES)."""
    return ["--retries", str(PIP_RETRIES), "--timeout", str(PIP_SOCKET_TIMEOUT_S)]


def install_argv(command: Sequence[str], python: str, *, interactive: bool) -> List[str]:
    """The plan command made concrete: the target's interpreter, bounded retries, progress suited to the output;
    an offline command (--no-index) also runs --isolated (see pip_env)."""
    argv = [python if command[0] == PYTHON else command[0], *command[1:]]
    extra = ["--disable-pip-version-check"]
    if "--no-index" in argv:
        extra.insert(0, "--isolated")
    else:
        extra += network_args()
    if not interactive:
        extra += ["--progress-bar", "off"]
    at = argv.index("install") + 1
    return argv[:at] + extra + argv[at:]


def closed_install_argv(python: str, requirements: str, *, interactive: bool) -> List[str]:
    """Install exactly the files of a closed wheelhouse: pip checks every file against its SHA-256
    (--require-hashes), reads no index, no find-links folder and no configuration (--isolated, see pip_env)."""
    argv = [python, "-m", "pip", "install", "--isolated", "--disable-pip-version-check", "--no-index",
            "--require-hashes", "-r", requirements]
    if not interactive:
        argv += ["--progress-bar", "off"]
    return argv


def uninstall_argv(python: str, packages: Sequence[str]) -> List[str]:
    """Remove the torch family before installing another build of it."""
    return [python, "-m", "pip", "uninstall", "-y", *packages]


def download_argv(build: Build, request: Request, dest: str, *, python: str, arch: str,
                  python_version: Optional[str]) -> List[str]:
    """``pip download`` of every wheel a plan needs (torch and its dependencies) into dest."""
    argv = [python, "-m", "pip", "download", "--disable-pip-version-check", *network_args(), "--dest", dest,
            *requirement_pins(build, arch), *source_args(build, request)]
    if python_version:
        argv += ["--python-version", python_version]
    return argv


def pip_env(argv: Sequence[str] = ()) -> Dict[str, str]:
    """Environment changes for one pip command (merged into ours by the subprocess wrapper).

    Online, the user's pip configuration stays in force (proxy, certificates, trusted hosts: what a company
    network needs), except where it would take packages from elsewhere: find-links and extra-index-url are
    overridden, from the environment and from every configuration file alike, by variables holding a single
    space. pip reads environment variables after the files, skips a setting whose value is empty (so "" would
    not override a file), and splits a list setting on whitespace (so " " becomes an empty list); see
    pip/_internal/configuration.py and cli/parser.py, checked by tests/test_pip_installer.py. The command line's
    own --find-links / --extra-index-url still apply.
    An isolated command (--isolated: offline, nothing to reach) reads no configuration at all: --isolated ignores
    PIP_* variables and the user's file, PIP_CONFIG_FILE=os.devnull the global and site files too."""
    env = {"PYTHONUTF8": "1", "PYTHONIOENCODING": "utf-8"}
    if "--isolated" in argv:
        env["PIP_CONFIG_FILE"] = os.devnull
    else:
        env.update({"PIP_FIND_LINKS": " ", "PIP_EXTRA_INDEX_URL": " "})
    return env


def run_pip(argv: Sequence[str], *, stream: Optional[Callable[[str], None]] = None,
            timeout: float = PIP_TIMEOUT_S) -> _subprocess.CommandResult:
    """Run one pip command through the subprocess wrapper, with pip_env(argv)."""
    return _subprocess.run(argv, timeout=timeout, env=pip_env(argv), stream=stream)


def configured_proxy(python: str) -> Optional[str]:
    """The proxy in the pip configuration (PIP_PROXY or a `proxy` setting in pip.conf / pip.ini) that `python -m
    pip` would use, so that pybootstrap's own requests take the same way out; None when there is none."""
    if os.environ.get("PIP_PROXY"):
        return os.environ["PIP_PROXY"]
    result = _subprocess.run([python, "-m", "pip", "config", "list"], timeout=30, record=False)
    for line in result.stdout.splitlines() if result.ok else ():
        key, _, value = line.partition("=")
        if key.strip() in ("global.proxy", "install.proxy"):
            return value.strip().strip("'\"") or None
    return None

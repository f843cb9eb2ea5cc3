"""Settings resolved once, at the edge: typed, frozen values, each with the source it came from.

cli turns the command line (and PYBOOTSTRAP_* variables) into a plain mapping of option -> value and
option -> source; resolve() validates every value and returns one Settings. Nothing below cli sees argparse.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

from packaging.version import InvalidVersion, Version

from pybootstrap.errors import UsageError
from pybootstrap.home import home_dir
from pybootstrap.manifest_model import OSES, Capability, DriverVersion, cuda_variant_name, parse_variant_name
from pybootstrap.plan_model import PACKAGES, Request

#: Commands that plan a build (they take the selection, source and what-if flags).
PLANNING_COMMANDS = ("plan", "install", "download")
#: Commands that work on a target environment (they take --venv / --python / --conda-*).
TARGET_COMMANDS = ("plan", "install", "verify")


@dataclass(frozen=True)
class WhatIf:
    """The what-if flags of plan / install / download: each replaces what was detected."""

    os_name: Optional[str] = None
    arch: Optional[str] = None
    python_version: Optional[str] = None
    driver: Optional[DriverVersion] = None
    gpu_names: Tuple[str, ...] = ()
    capabilities: Tuple[Capability, ...] = ()
    no_gpu: bool = False

    @property
    def replaces_gpus(self) -> bool:
        """True when the GPUs are given on the command line (detection need not list other adapters)."""
        return bool(self.gpu_names or self.capabilities or self.no_gpu)


@dataclass(frozen=True)
class TargetChoice:
    """Which environment install / verify work on (at most one of the four is set; none: the default)."""

    venv: Optional[Path] = None
    python: Optional[Path] = None
    conda_env: Optional[str] = None
    conda_prefix: Optional[Path] = None
    conda_exe: Optional[str] = None  # --conda-exe
    conda_exe_env: Optional[str] = None  # $CONDA_EXE
    wants_conda: bool = False  # --installer conda: the default target is then a conda environment
    source: str = "default"  # the flag or variable that named the target


@dataclass(frozen=True)
class ExpectedBuild:
    """verify --torch / --variant: the build to check against (judge.Expected is made from it); None fields
    are not checked."""

    torch: Optional[str]
    variant: Optional[str]
    cuda: Optional[str]

    def to_dict(self) -> Dict[str, Optional[str]]:
        """The `expected` object of the verify document."""
        return {"torch": self.torch, "variant": self.variant, "cuda": self.cuda}


@dataclass(frozen=True)
class Settings:
    """Everything one run was asked to do, validated."""

    command: str
    home: Path
    action: Optional[str] = None  # manifest validate | show | check
    argv: Tuple[str, ...] = ()
    json: bool = False
    verbosity: int = 0  # -v raises, -q lowers
    ci: bool = False  # $CI is set: no terminal progress bars even on a terminal
    manifest: Optional[str] = None
    manifest_channel: Optional[str] = None  # --manifest-channel URL: the newest manifest, cached under home
    smi_file: Optional[str] = None
    what_if: WhatIf = WhatIf()
    request: Request = Request()
    expected: Optional[ExpectedBuild] = None
    target: TargetChoice = TargetChoice()
    log: Optional[str] = None
    dry_run: bool = False
    to: Optional[Path] = None
    file: Optional[str] = None  # diagnose FILE
    source: Optional[str] = None  # manifest validate PATH_OR_URL
    index_base: Optional[str] = None  # manifest check --index-base URL
    pypi_base: Optional[str] = None  # manifest check --pypi-base URL
    sources: Mapping[str, str] = field(default_factory=dict)  # option -> "--flag" or "PYBOOTSTRAP_NAME"
    described: Tuple[str, ...] = ()  # "variant cu118 (from --variant)" lines for the log

    def source_of(self, option: str) -> str:
        """The flag or variable an option came from ('--os' when it was not given at all)."""
        return self.sources.get(option, flag_of(option))


# --- single values ------------------------------------------------------------------------------

def flag_of(option: str) -> str:
    """'python_version' -> '--python-version'."""
    return "--" + option.replace("_", "-")


def _bad(sources: Mapping[str, str], option: str, value: str, expected: str) -> UsageError:
    where = sources.get(option, flag_of(option))
    shown = f"{where}={value!r}" if where.startswith("PYBOOTSTRAP_") else f"{where} {value!r}"
    return UsageError(f"{shown}: {expected}", f"Fix the value of {where}; `pybootstrap --help` lists the flags.")


def parse_os(value: Optional[str], sources: Mapping[str, str]) -> Optional[str]:
    """--os windows|linux."""
    if value is None:
        return None
    low = value.strip().lower()
    if low in ("win", "win32", "win64"):
        low = "windows"
    if low not in OSES:
        raise _bad(sources, "os", value, "expected windows or linux")
    return low


def parse_arch(value: Optional[str], sources: Mapping[str, str]) -> Optional[str]:
    """--arch x86_64|arm64 (amd64 and aarch64 accepted)."""
    if value is None:
        return None
    low = value.strip().lower()
    low = {"amd64": "x86_64", "x64": "x86_64", "aarch64": "arm64"}.get(low, low)
    if low not in ("x86_64", "arm64"):
        raise _bad(sources, "arch", value, "expected x86_64 or arm64")
    return low


def parse_python_version(value: Optional[str], sources: Mapping[str, str]) -> Optional[str]:
    """--python-version 3.12 (or 3.12.1)."""
    if value is None:
        return None
    if not re.fullmatch(r"3\.\d{1,2}(\.\d{1,2})?", value.strip()):
        raise _bad(sources, "python_version", value, 'expected a Python version like "3.12"')
    return value.strip()


def parse_driver(value: Optional[str], sources: Mapping[str, str]) -> Optional[DriverVersion]:
    """--driver 576.02."""
    if value is None:
        return None
    try:
        return DriverVersion(value)
    except InvalidVersion:
        raise _bad(sources, "driver", value,
                   'expected an NVIDIA driver version like "576.02" or "535.104.05"') from None


def parse_capabilities(values: Optional[Sequence[str]], sources: Mapping[str, str]) -> Tuple[Capability, ...]:
    """--compute-capability 8.6 (repeatable)."""
    out = []
    for value in values or []:
        match = re.fullmatch(r"\s*(\d{1,2})\.(\d)\s*", value)
        if not match:
            raise _bad(sources, "compute_capability", value, 'expected a compute capability like "8.6"')
        out.append((int(match.group(1)), int(match.group(2))))
    return tuple(out)


def parse_torch(value: Optional[str], sources: Mapping[str, str]) -> Optional[str]:
    """--torch 2.5.1 or 2.5 (a local version such as +cu124 is refused: use --variant)."""
    if value is None:
        return None
    text = value.strip()
    if "+" in text:
        raise _bad(sources, "torch", value, "give the version without a local tag and the variant with --variant, "
                                            "e.g. --torch 2.5.1 --variant cu124")
    try:
        Version(text)
    except InvalidVersion:
        raise _bad(sources, "torch", value, 'expected a version like "2.5.1" or "2.5"') from None
    if not re.fullmatch(r"\d+\.\d+(\.\d+)?", text):
        raise _bad(sources, "torch", value, 'expected a version like "2.5.1" or "2.5"')
    return text


def parse_variant(variant: Optional[str], cuda: Optional[str], sources: Mapping[str, str]) -> Optional[str]:
    """--variant cu124 / --cuda 12.4 (the same thing; they must agree). Names follow manifest_model's one rule."""
    from_cuda = None
    if cuda is not None:
        if not re.fullmatch(r"\s*\d{1,2}\.\d\s*", cuda):
            raise _bad(sources, "cuda", cuda, 'expected a CUDA version like "12.4"')
        from_cuda = cuda_variant_name(Version(cuda.strip()))
    if variant is not None:
        variant = variant.strip().lower()
        if parse_variant_name(variant) is None:
            raise _bad(sources, "variant", variant, "expected cpu, cuXYZ (e.g. cu124), rocmX.Y or xpu")
        if from_cuda and from_cuda != variant:
            raise UsageError(f"--variant {variant} and --cuda {cuda} disagree", "Give only one of them.")
    return variant or from_cuda


def cuda_of_variant(variant: Optional[str]) -> Optional[str]:
    """'cu124' -> '12.4', 'cu92' -> '9.2'; None for cpu, rocm, xpu."""
    parsed = parse_variant_name(variant) if variant else None
    return str(parsed.cuda) if parsed is not None and parsed.cuda is not None else None


def parse_installer(value: Optional[str], sources: Mapping[str, str]) -> Optional[str]:
    """--installer pip|conda."""
    if value is None:
        return None
    low = value.strip().lower()
    if low not in ("pip", "conda"):
        raise _bad(sources, "installer", value, "expected pip or conda")
    return low


def parse_packages(value: Optional[str], sources: Mapping[str, str]) -> Tuple[Tuple[str, ...], bool]:
    """--packages torch,torchvision: a subset of the three; torch is always included."""
    if value is None:
        return PACKAGES, False
    names = [p.strip().lower() for p in value.split(",") if p.strip()]
    unknown = [n for n in names if n not in PACKAGES]
    if unknown or not names:
        raise _bad(sources, "packages", value, "expected a comma-separated subset of torch,torchvision,torchaudio")
    if "torch" not in names:
        names.insert(0, "torch")
    return tuple(p for p in PACKAGES if p in names), True


def parse_url(value: Optional[str], option: str, sources: Mapping[str, str]) -> Optional[str]:
    """--index-url / --mirror: an http(s) or file URL."""
    if value is None:
        return None
    if not re.match(r"^(https?|file)://\S+$", value.strip()):
        raise _bad(sources, option, value, "expected a URL (https://...)")
    return value.strip().rstrip("/") if option == "mirror" else value.strip()


def parse_find_links(values: Optional[Sequence[str]], sources: Mapping[str, str]) -> Tuple[str, ...]:
    """--find-links DIR (repeatable): folders that must exist, or URLs."""
    out = []
    for value in values or []:
        if re.match(r"^(https?|file)://", value):
            out.append(value)
            continue
        path = Path(value).expanduser()
        if not path.is_dir():
            raise _bad(sources, "find_links", value, "no such folder")
        out.append(str(path.resolve()))
    return tuple(out)


def _path(value: Optional[str]) -> Optional[Path]:
    return Path(value).expanduser() if value else None


# --- groups of values ---------------------------------------------------------------------------

def resolve_what_if(values: Mapping[str, Any], sources: Mapping[str, str]) -> WhatIf:
    """--os, --arch, --python-version, --driver, --gpu, --compute-capability, --no-gpu."""
    what_if = WhatIf(os_name=parse_os(values.get("os"), sources), arch=parse_arch(values.get("arch"), sources),
                     python_version=parse_python_version(values.get("python_version"), sources),
                     driver=parse_driver(values.get("driver"), sources),
                     gpu_names=tuple(values.get("gpu") or ()),
                     capabilities=parse_capabilities(values.get("compute_capability"), sources),
                     no_gpu=bool(values.get("no_gpu")))
    if what_if.no_gpu and (what_if.gpu_names or what_if.capabilities):
        raise UsageError("--no-gpu contradicts --gpu / --compute-capability", "Give one or the other.")
    if what_if.capabilities and what_if.gpu_names and len(what_if.capabilities) > len(what_if.gpu_names):
        raise UsageError("more --compute-capability values than --gpu names",
                         "Give one --compute-capability per --gpu, in the same order.")
    return what_if


def build_request(values: Mapping[str, Any], sources: Mapping[str, str]) -> Request:
    """The planner's Request from the selection and source flags."""
    packages, explicit = parse_packages(values.get("packages"), sources)
    find_links = parse_find_links(values.get("find_links"), sources)
    offline = bool(values.get("offline"))
    if offline and not find_links:
        raise UsageError("--offline needs at least one --find-links folder",
                         "Fill a folder with `pybootstrap download --to DIR` on a connected machine, then use "
                         "`install --offline --find-links DIR`.")
    if values.get("index_url") and values.get("mirror"):
        raise UsageError(f"{sources.get('index_url', '--index-url')} and {sources.get('mirror', '--mirror')} both "
                         "name where torch comes from",
                         "Give only one: --index-url URL (one index for everything) or --mirror BASE_URL "
                         "(BASE_URL/<variant>).")
    variant = parse_variant(values.get("variant"), values.get("cuda"), sources)
    variant_from = sources.get("variant") or sources.get("cuda") or "--variant"
    return Request(torch=parse_torch(values.get("torch"), sources), variant=variant,
                   installer=parse_installer(values.get("installer"), sources),
                   packages=packages, packages_explicit=explicit,
                   index_url=parse_url(values.get("index_url"), "index_url", sources),
                   mirror=parse_url(values.get("mirror"), "mirror", sources),
                   find_links=find_links, offline=offline, variant_from=variant_from)


def resolve_target(values: Mapping[str, Any], sources: Mapping[str, str], environ: Mapping[str, str]) -> TargetChoice:
    """--venv / --python / --conda-env / --conda-prefix (only one), --conda-exe."""
    given = [o for o in ("venv", "python", "conda_env", "conda_prefix") if values.get(o)]
    if len(given) > 1:
        raise UsageError("give only one target: " + " / ".join(flag_of(o) for o in given),
                         "Choose one of --venv, --python, --conda-env, --conda-prefix.")
    installer = str(values.get("installer") or "").strip().lower()
    return TargetChoice(venv=_path(values.get("venv")), python=_path(values.get("python")),
                        conda_env=values.get("conda_env"), conda_prefix=_path(values.get("conda_prefix")),
                        conda_exe=values.get("conda_exe"), conda_exe_env=environ.get("CONDA_EXE") or None,
                        wants_conda=installer == "conda",
                        source=sources.get(given[0], flag_of(given[0])) if given else "default")


def resolve_expected(values: Mapping[str, Any], sources: Mapping[str, str]) -> Optional[ExpectedBuild]:
    """verify --torch / --variant: the build the environment should hold."""
    if not (values.get("torch") or values.get("variant")):
        return None
    variant = parse_variant(values.get("variant"), None, sources)
    return ExpectedBuild(torch=parse_torch(values.get("torch"), sources), variant=variant,
                         cuda=cuda_of_variant(variant))


def example_folder() -> str:
    """A wheel folder to suggest, written as this operating system writes paths."""
    return "D:\\wheels" if sys.platform == "win32" else "~/wheels"


def describe_sources(values: Mapping[str, Any], sources: Mapping[str, str]) -> Tuple[str, ...]:
    """'variant cu118 (from --variant)' lines for the log."""
    return tuple(f"{option.replace('_', '-')} {values.get(option)} (from {source})"
                 for option, source in sorted(sources.items()))


def resolve(values: Mapping[str, Any], sources: Mapping[str, str], environ: Mapping[str, str],
            argv: Sequence[str] = ()) -> Settings:
    """Validate every option of one command line into Settings."""
    command = str(values["command"])
    if command == "download" and not values.get("to"):
        raise UsageError("download needs --to DIR",
                         f"Give the folder to fill: pybootstrap download --to {example_folder()}")
    planning = command in PLANNING_COMMANDS
    return Settings(
        command=command, home=home_dir(environ), action=values.get("manifest_command"), argv=tuple(argv),
        json=bool(values.get("json")),
        verbosity=int(values.get("verbose") or 0) - int(values.get("quiet") or 0), ci="CI" in environ,
        manifest=values.get("manifest"), manifest_channel=values.get("manifest_channel"),
        smi_file=values.get("nvidia_smi_file"),
        what_if=resolve_what_if(values, sources) if planning else WhatIf(),
        request=build_request(values, sources) if planning else Request(),
        expected=resolve_expected(values, sources) if command == "verify" else None,
        target=resolve_target(values, sources, environ) if command in TARGET_COMMANDS else TargetChoice(),
        log=values.get("log"), dry_run=bool(values.get("dry_run")), to=_path(values.get("to")),
        file=values.get("file"), source=values.get("source"),
        index_base=parse_url(values.get("index_base"), "index_base", sources),
        pypi_base=parse_url(values.get("pypi_base"), "pypi_base", sources), sources=dict(sources),
        described=describe_sources(values, sources))


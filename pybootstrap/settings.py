"""Settings resolved in one place: validated values with the source each came from."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from packaging.version import InvalidVersion, Version

from pybootstrap.errors import UsageError
from pybootstrap.manifest import OSES, Capability, DriverVersion
from pybootstrap.planner import PACKAGES, Request


def _src(sources: Dict[str, str], dest: str) -> str:
    return sources.get(dest, "--" + dest.replace("_", "-"))


def _bad(sources: Dict[str, str], dest: str, value: str, expected: str) -> UsageError:
    where = _src(sources, dest)
    shown = f"{where}={value!r}" if where.startswith("PYBOOTSTRAP_") else f"{where} {value!r}"
    return UsageError(f"{shown}: {expected}", f"Fix the value of {where}; `pybootstrap --help` lists the flags.")


def parse_os(value: Optional[str], sources: Dict[str, str]) -> Optional[str]:
    """--os windows|linux."""
    if value is None:
        return None
    low = value.strip().lower()
    if low in ("win", "win32", "win64"):
        low = "windows"
    if low not in OSES:
        raise _bad(sources, "os", value, "expected windows or linux")
    return low


def parse_arch(value: Optional[str], sources: Dict[str, str]) -> Optional[str]:
    """--arch x86_64|arm64 (amd64 and aarch64 accepted)."""
    if value is None:
        return None
    low = value.strip().lower()
    low = {"amd64": "x86_64", "x64": "x86_64", "aarch64": "arm64"}.get(low, low)
    if low not in ("x86_64", "arm64"):
        raise _bad(sources, "arch", value, "expected x86_64 or arm64")
    return low


def parse_python_version(value: Optional[str], sources: Dict[str, str]) -> Optional[str]:
    """--python-version 3.12 (or 3.12.1)."""
    if value is None:
        return None
    if not re.fullmatch(r"3\.\d{1,2}(\.\d{1,2})?", value.strip()):
        raise _bad(sources, "python_version", value, 'expected a Python version like "3.12"')
    return value.strip()


def parse_driver(value: Optional[str], sources: Dict[str, str]) -> Optional[DriverVersion]:
    """--driver 576.02."""
    if value is None:
        return None
    try:
        return DriverVersion(value)
    except InvalidVersion:
        raise _bad(sources, "driver", value,
                   'expected an NVIDIA driver version like "576.02" or "535.104.05"') from None


def parse_capabilities(values: Optional[List[str]], sources: Dict[str, str]) -> Tuple[Capability, ...]:
    """--compute-capability 8.6 (repeatable)."""
    out = []
    for value in values or []:
        match = re.fullmatch(r"\s*(\d{1,2})\.(\d)\s*", value)
        if not match:
            raise _bad(sources, "compute_capability", value, 'expected a compute capability like "8.6"')
        out.append((int(match.group(1)), int(match.group(2))))
    return tuple(out)


def parse_torch(value: Optional[str], sources: Dict[str, str]) -> Optional[str]:
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


def parse_variant(variant: Optional[str], cuda: Optional[str], sources: Dict[str, str]) -> Optional[str]:
    """--variant cu124 / --cuda 12.4 (the same thing; they must agree)."""
    from_cuda = None
    if cuda is not None:
        match = re.fullmatch(r"\s*(\d{1,2})\.(\d)\s*", cuda)
        if not match:
            raise _bad(sources, "cuda", cuda, 'expected a CUDA version like "12.4"')
        from_cuda = f"cu{int(match.group(1))}{int(match.group(2))}"
    if variant is not None:
        variant = variant.strip().lower()
        if not re.fullmatch(r"cpu|cu\d{2,3}|rocm\d+(\.\d+)*|xpu", variant):
            raise _bad(sources, "variant", variant, "expected cpu, cuXYZ (e.g. cu124), rocmX.Y or xpu")
        if from_cuda and from_cuda != variant:
            raise UsageError(f"--variant {variant} and --cuda {cuda} disagree", "Give only one of them.")
    return variant or from_cuda


def parse_installer(value: Optional[str], sources: Dict[str, str]) -> Optional[str]:
    """--installer pip|conda."""
    if value is None:
        return None
    low = value.strip().lower()
    if low not in ("pip", "conda"):
        raise _bad(sources, "installer", value, "expected pip or conda")
    return low


def parse_packages(value: Optional[str], sources: Dict[str, str]) -> Tuple[Tuple[str, ...], bool]:
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


def parse_url(value: Optional[str], dest: str, sources: Dict[str, str]) -> Optional[str]:
    """--index-url / --mirror: an http(s) or file URL."""
    if value is None:
        return None
    if not re.match(r"^(https?|file)://\S+$", value.strip()):
        raise _bad(sources, dest, value, "expected a URL (https://...)")
    return value.strip().rstrip("/") if dest == "mirror" else value.strip()


def parse_find_links(values: Optional[List[str]], sources: Dict[str, str]) -> Tuple[str, ...]:
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


def build_request(args: object, sources: Dict[str, str]) -> Request:
    """The planner's Request from validated flags."""
    packages, explicit = parse_packages(getattr(args, "packages", None), sources)
    find_links = parse_find_links(getattr(args, "find_links", None), sources)
    offline = bool(getattr(args, "offline", False))
    if offline and not find_links:
        raise UsageError("--offline needs at least one --find-links folder",
                         "Fill a folder with `pybootstrap download --to DIR` on a connected machine, then use "
                         "`install --offline --find-links DIR`.")
    if getattr(args, "index_url", None) and getattr(args, "mirror", None):
        raise UsageError(f"{_src(sources, 'index_url')} and {_src(sources, 'mirror')} both name where torch comes from",
                         "Give only one: --index-url URL (one index for everything) or --mirror BASE_URL "
                         "(BASE_URL/<variant>).")
    return Request(torch=parse_torch(getattr(args, "torch", None), sources),
                   variant=parse_variant(getattr(args, "variant", None), getattr(args, "cuda", None), sources),
                   installer=parse_installer(getattr(args, "installer", None), sources),
                   packages=packages, packages_explicit=explicit,
                   index_url=parse_url(getattr(args, "index_url", None), "index_url", sources),
                   mirror=parse_url(getattr(args, "mirror", None), "mirror", sources),
                   find_links=find_links, offline=offline)


def describe_sources(sources: Dict[str, str], args: object) -> List[str]:
    """'variant cu118 (from --variant)' lines for the log."""
    out = []
    for dest, source in sorted(sources.items()):
        value = getattr(args, dest, None)
        out.append(f"{dest.replace('_', '-')} {value} (from {source})")
    return out


def home_dir(environ: Optional[Dict[str, str]] = None) -> Path:
    """The pybootstrap home: PYBOOTSTRAP_HOME, else %LOCALAPPDATA%\\pybootstrap, else XDG data dir."""
    env = os.environ if environ is None else environ
    if env.get("PYBOOTSTRAP_HOME"):
        return Path(env["PYBOOTSTRAP_HOME"]).expanduser()
    if sys.platform == "win32":
        base = env.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / "pybootstrap"
    base = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "pybootstrap"

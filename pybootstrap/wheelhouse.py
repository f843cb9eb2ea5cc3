"""The closed wheelhouse: the files `download --to DIR` lists in pybootstrap-wheelhouse.json, and nothing else.

An offline install from such a folder hands pip a requirements file naming each listed file by its path and its
SHA-256 (pip's --require-hashes checks every file it installs), with no index and no find-links folder: a wheel
added to the folder later, or one in a folder from the user's pip configuration, is never seen.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import stat
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import AbstractSet, Any, Dict, Iterator, List, Mapping, NamedTuple, Optional, Sequence, Tuple

from packaging.utils import InvalidSdistFilename, InvalidWheelFilename, parse_sdist_filename, parse_wheel_filename
from packaging.version import Version

from pybootstrap.errors import EnvironmentProblem, IntegrityError, NoCompatibleBuildError
from pybootstrap.files import NotARegularFile, atomic_write, refuse_non_regular
from pybootstrap.plan_model import Build, Request

LISTING = "pybootstrap-wheelhouse.json"
SCHEMA = "pybootstrap.wheelhouse/1"
PACKAGE_SUFFIXES = (".whl", ".tar.gz", ".zip")
_AGAIN = "Run `pybootstrap download` again on a machine with internet access."

#: pip's --platform tags for a wheel folder meant for another machine, most specific first (PEP 600 names
#: and their manylinux2014 alias, as PyTorch's wheels are tagged).
PLATFORM_TAGS = {("windows", "x86_64"): ("win_amd64",),
                 ("linux", "x86_64"): ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64",
                                       "linux_x86_64"),
                 ("linux", "arm64"): ("manylinux_2_28_aarch64", "manylinux_2_17_aarch64", "manylinux2014_aarch64",
                                      "linux_aarch64")}


class ListedFile(NamedTuple):
    """One file of a listing."""

    folder: Path
    name: str
    sha256: str
    project: str  # canonical name, from the file name ("" when the name is not a wheel's or sdist's)
    version: Optional[Version]

    @property
    def path(self) -> Path:
        """Where the file is."""
        return self.folder / self.name


class Wheelhouse(NamedTuple):
    """The listed files of the --find-links folders that have a listing."""

    files: Tuple[ListedFile, ...]
    builds: Tuple[Mapping[str, Any], ...]  # the "build" object of each listing (what it was downloaded for)
    unlisted_folders: Tuple[Path, ...]  # --find-links folders without a listing (not used)


# --- reading ---------------------------------------------------------------------------------------

def load(folders: Sequence[str]) -> Optional[Wheelhouse]:
    """The listings of these folders; None when none has one (a plain folder of wheels, not checksummed).

    A listing that is not valid is an integrity failure (exit 9)."""
    files: List[ListedFile] = []
    builds: List[Mapping[str, Any]] = []
    unlisted: List[Path] = []
    for folder in folders:
        base = Path(folder).expanduser().absolute()
        listing = base / LISTING
        if not listing.is_file():
            unlisted.append(base)
            continue
        data = _read_listing(listing)
        builds.append(data.get("build") or {})
        for name, digest in data["files"].items():
            if not isinstance(name, str) or not isinstance(digest, str) or Path(name).name != name:
                raise IntegrityError(f"{listing}: the entry {name!r} is not a file name with a SHA-256", _AGAIN)
            project, version = _name_and_version(name)
            files.append(ListedFile(base, name, digest.lower(), project, version))
    if not builds:
        return None
    return Wheelhouse(tuple(files), tuple(builds), tuple(unlisted))


def _read_listing(path: Path) -> Dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise IntegrityError(f"{path} is not valid JSON", _AGAIN) from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA or not isinstance(data.get("files"), dict):
        raise IntegrityError(f"{path} is not a pybootstrap wheel listing ({SCHEMA})", _AGAIN)
    return data


def _name_and_version(filename: str) -> Tuple[str, Optional[Version]]:
    try:
        if filename.endswith(".whl"):
            name, version, _, _ = parse_wheel_filename(filename)
            return str(name), version
        if filename.endswith((".tar.gz", ".zip")):
            name, version = parse_sdist_filename(filename)
            return str(name), version
    except (InvalidWheelFilename, InvalidSdistFilename):
        pass
    return "", None


def verify(wheelhouse: Wheelhouse) -> None:
    """Every listed file is there, a regular file, with its recorded SHA-256; else IntegrityError (exit 9)."""
    from pybootstrap._download import file_sha256

    for listed in wheelhouse.files:
        try:
            mode = os.lstat(listed.path).st_mode
        except FileNotFoundError:
            raise IntegrityError(f"{listed.path} is missing from the wheel folder", _AGAIN) from None
        if not stat.S_ISREG(mode):
            raise IntegrityError(f"{listed.path} is not a regular file (a link or a device)", _AGAIN)
        if file_sha256(listed.path) != listed.sha256:
            raise IntegrityError(f"{listed.path} does not match the checksum recorded when it was downloaded",
                                 "The file changed or is damaged; run `pybootstrap download` again.")


def unlisted_files(wheelhouse: Wheelhouse) -> List[Path]:
    """Package files in the listed folders that the listings do not name (they are never installed)."""
    listed = {listed.path for listed in wheelhouse.files}
    folders = {listed.folder for listed in wheelhouse.files}
    return sorted(p for folder in folders for p in folder.iterdir()
                  if p.name.endswith(PACKAGE_SUFFIXES) and p not in listed)


def local_folders(find_links: Sequence[str]) -> List[str]:
    """The --find-links entries that are folders on this machine (URLs are left to pip)."""
    return [f for f in find_links if "://" not in f]


def offline_defaults(request: Request) -> Tuple[Request, Optional[str]]:
    """Offline, without --torch / --variant: plan the build that `download` put in the wheel folder."""
    if not request.offline or request.torch or request.variant:
        return request, None
    for folder in local_folders(request.find_links):
        try:
            house = load([folder])
        except IntegrityError:
            continue  # verify() says so before anything is installed
        if house is None:
            continue
        torch, variant = house.builds[0].get("torch"), house.builds[0].get("variant")
        if isinstance(torch, str) and isinstance(variant, str):
            note = f"offline: torch {torch} {variant}, the build `pybootstrap download` put in {folder}"
            return replace(request, torch=torch, variant=variant, variant_from=f"the wheel folder {folder}"), note
    return request, None


# --- does it hold the planned build? ----------------------------------------------------------------

def missing(wheelhouse: Wheelhouse, build: Build) -> List[str]:
    """What the plan needs that the listings do not hold ("torch 2.14.1 cpu", ...); empty when it holds all."""
    variants = {str(b.get("variant")) for b in wheelhouse.builds if b.get("variant")}
    out: List[str] = []
    for project, version in (("torch", build.torch), ("torchvision", build.torchvision),
                             ("torchaudio", build.torchaudio)):
        if version and not any(_is_build(f, project, version, build.variant, variants) for f in wheelhouse.files):
            out.append(f"{project} {version}" + (f" {build.variant}" if project == "torch" else ""))
    return out


def holds(wheelhouse: Wheelhouse, build: Build) -> bool:
    """True when the listed files include the planned torch (version and variant) and its companions."""
    return not missing(wheelhouse, build)


def _is_build(listed: ListedFile, project: str, version: str, variant: str, listing_variants: AbstractSet[str]) -> bool:
    """The file is this project's version; its local label (+cu124) is the variant, or, without a label (PyPI's
    builds, Linux arm64 CPU wheels), the listing was downloaded for that variant."""
    if listed.project != project or listed.version is None or listed.version.public != Version(version).public:
        return False
    return listed.version.local == variant if listed.version.local else variant in listing_variants


def require(wheelhouse: Wheelhouse, build: Build) -> None:
    """Refuse (exit 3) before anything is created when the folders do not hold the planned build."""
    lacking = missing(wheelhouse, build)
    if not lacking:
        return
    held = ", ".join(sorted({f"torch {f.version}" for f in wheelhouse.files if f.project == "torch"})) or "no torch"
    folders = ", ".join(sorted({str(f.folder) for f in wheelhouse.files})) or "the --find-links folders"
    raise NoCompatibleBuildError(
        f"offline: {folders} does not hold {', '.join(lacking)} (it holds {held})",
        f"Install what the folder holds (drop --torch / --variant), or fill it with `pybootstrap download --torch "
        f"{build.torch} --variant {build.variant} --to DIR` on a machine with internet access.")


def require_plain(folders: Sequence[str], build: Build) -> None:
    """A folder without a listing (filled by hand) must at least hold a wheel of the planned torch version,
    or nothing is created (exit 3); pip then picks among its wheels."""
    if any(_has_torch_wheel(Path(folder), build.torch) for folder in folders):
        return
    raise NoCompatibleBuildError(
        f"offline: no wheel folder holds torch {build.torch} {build.variant} (looked in {', '.join(folders)})",
        "Install what the folder holds (leave out --torch / --variant), or fill a folder on a connected machine "
        f"with `pybootstrap download --torch {build.torch} --variant {build.variant} --to DIR`.")


def _has_torch_wheel(folder: Path, torch: str) -> bool:
    try:
        return any(f.name.startswith((f"torch-{torch}-", f"torch-{torch}+")) and f.name.endswith(".whl")
                   for f in folder.iterdir())
    except OSError:
        return False


# --- installing exactly the listed files --------------------------------------------------------------

def requirements_text(wheelhouse: Wheelhouse) -> str:
    """A pip requirements file: each listed file as `project @ file:///...` with its --hash=sha256 (PEP 508
    direct references: the path is URL-encoded, so spaces or a leading '-' in a folder name cannot break it)."""
    lines = ["# written by pybootstrap from " + ", ".join(sorted({str(f.folder / LISTING)
                                                                  for f in wheelhouse.files}))]
    seen = set()
    for listed in wheelhouse.files:
        if (listed.project, listed.sha256) in seen:
            continue
        seen.add((listed.project, listed.sha256))
        name = listed.project or listed.name
        lines.append(f"{name} @ {listed.path.as_uri()} --hash=sha256:{listed.sha256}")
    return "\n".join(lines) + "\n"


@contextlib.contextmanager
def requirements_file(wheelhouse: Wheelhouse) -> Iterator[Path]:
    """requirements_text() in a private temporary file, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="pybootstrap-wheelhouse-") as tmp:
        path = Path(tmp) / "requirements.txt"
        path.write_text(requirements_text(wheelhouse), encoding="utf-8")
        yield path


# --- writing (download --to DIR) ---------------------------------------------------------------------

def target_platform(os_name: str, arch: str, python_xy: str, own: Tuple[str, str, str]) -> Tuple[Tuple[str, ...],
                                                                                                  Optional[str]]:
    """pip download's --platform tags and --python-version ('312') for a folder meant for another machine;
    ((), None) when the folder is for this one."""
    own_os, own_arch, own_python = own
    if (os_name, arch) == (own_os, own_arch) and python_xy == ".".join(own_python.split(".")[:2]):
        return (), None
    return PLATFORM_TAGS.get((os_name, arch), ()), python_xy.replace(".", "")


# --- writing: the staging folder -------------------------------------------------------------------

@contextlib.contextmanager
def staging(dest: Path) -> Iterator[Path]:
    """A fresh folder inside dest for pip to download into; removed whatever happens, so the partial files of a
    failed or interrupted download (a full disk, Ctrl+C) never stay in dest."""
    dest.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=".pybootstrap-download-", dir=str(dest)))
    try:
        yield stage
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def publish(stage: Path, dest: Path, build: Mapping[str, Any]) -> Dict[str, str]:
    """Move the downloaded files from the staging folder into dest (a same-named regular file is replaced) and
    write the listing; returns {file name: SHA-256}."""
    from pybootstrap._download import file_sha256

    files = sorted(p for p in stage.iterdir() if p.name.endswith(PACKAGE_SUFFIXES) and p.is_file())
    listing: Dict[str, str] = {}
    sizes: Dict[str, int] = {}
    for path in files:
        target = dest / path.name
        _refuse_non_regular(target)
        listing[path.name] = file_sha256(path)
        sizes[path.name] = path.stat().st_size
        os.replace(path, target)
    text = json.dumps({"schema": SCHEMA, "build": dict(build), "files": listing, "sizes": sizes}, indent=2) + "\n"
    _refuse_non_regular(dest / LISTING)
    atomic_write(dest / LISTING, text, label="the listing")
    return listing


def _refuse_non_regular(path: Path) -> None:
    """Never replace a link, a device or a folder that happens to have a wheel's name."""
    try:
        refuse_non_regular(path)
    except NotARegularFile:
        raise EnvironmentProblem(f"{path} exists and is not a regular file; it is left alone",
                                 "Remove it or choose another --to folder.") from None


def total_size(wheelhouse: Wheelhouse) -> int:
    """Bytes of the listed files (what an offline install unpacks)."""
    total = 0
    for listed in wheelhouse.files:
        try:
            total += listed.path.stat().st_size
        except OSError:
            continue
    return total


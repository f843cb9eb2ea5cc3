"""The wheel folder of offline installs: `download` fills it and lists it (pybootstrap-wheelhouse.json, every
file with its SHA-256); `install --offline --find-links DIR` plans what it holds and checks it is intact."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from pybootstrap._download import file_sha256
from pybootstrap.errors import IntegrityError, NoCompatibleBuildError
from pybootstrap.plan_model import Build, Request

LISTING = "pybootstrap-wheelhouse.json"
LISTING_SCHEMA = "pybootstrap.wheelhouse/1"

#: pip's --platform tags for a wheel folder meant for another machine, most specific first (PEP 600 names
#: and their manylinux2014 alias, as PyTorch's wheels are tagged).
PLATFORM_TAGS = {("windows", "x86_64"): ("win_amd64",),
                 ("linux", "x86_64"): ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64",
                                       "linux_x86_64"),
                 ("linux", "arm64"): ("manylinux_2_28_aarch64", "manylinux_2_17_aarch64", "manylinux2014_aarch64",
                                      "linux_aarch64")}


@dataclass(frozen=True)
class Listing:
    """What `download` put in a folder: the build, and each file's SHA-256."""

    folder: Path
    build: Dict[str, Any]
    files: Dict[str, str]

    def holds(self, torch: str, variant: str) -> bool:
        """True when the folder was filled for this torch version and variant."""
        return self.build.get("torch") == torch and self.build.get("variant") == variant


def local_folders(find_links: Sequence[str]) -> List[Path]:
    """The --find-links entries that are folders on this machine (URLs are left to pip)."""
    return [Path(f) for f in find_links if "://" not in f]


def read_listing(folder: Path) -> Optional[Listing]:
    """The listing of a folder, or None when it has none; a damaged listing is an integrity failure (exit 9)."""
    path = folder / LISTING
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        build, files = data.get("build") or {}, data.get("files") or {}
        if not (isinstance(build, dict) and isinstance(files, dict)):
            raise ValueError("build and files must be objects")
    except (ValueError, AttributeError):
        raise IntegrityError(f"{path} is not a valid listing", "Run `pybootstrap download` again.") from None
    return Listing(folder, build, {str(k): str(v) for k, v in files.items()})


def offline_defaults(request: Request) -> Tuple[Request, Optional[str]]:
    """Offline, without --torch / --variant: plan the build that `download` put in the wheel folder."""
    if not request.offline or request.torch or request.variant:
        return request, None
    for folder in local_folders(request.find_links):
        try:
            listing = read_listing(folder)
        except IntegrityError:
            continue  # check_intact() says so before anything is installed
        if listing is None:
            continue
        torch, variant = listing.build.get("torch"), listing.build.get("variant")
        if isinstance(torch, str) and isinstance(variant, str):
            note = f"offline: torch {torch} {variant}, the build `pybootstrap download` put in {folder}"
            return replace(request, torch=torch, variant=variant, variant_from=f"the wheel folder {folder}"), note
    return request, None


def require_build(build: Build, find_links: Sequence[str]) -> None:
    """Offline: the planned torch must be in a wheel folder, or nothing is created (exit 3)."""
    if build.installer != "pip":
        return  # conda --offline installs from its package cache, not from these folders
    folders = local_folders(find_links)
    listings = [listing for listing in (read_listing(f) for f in folders) if listing is not None]
    if any(listing.holds(build.torch, build.variant) for listing in listings):
        return
    if not listings and any(_has_torch_wheel(f, build.torch) for f in folders):
        return  # a folder filled by hand: pip decides which of its wheels fits
    held = "; ".join(f"{x.folder} holds torch {x.build.get('torch')} {x.build.get('variant')}" for x in listings)
    raise NoCompatibleBuildError(
        f"offline: no wheel folder holds torch {build.torch} {build.variant}"
        + (f" ({held})" if held else f" (looked in {', '.join(str(f) for f in folders)})"),
        "Install what the folder holds (leave out --torch / --variant), or fill a folder on a connected machine "
        f"with `pybootstrap download --torch {build.torch} --variant {build.variant} --to DIR`.")


def _has_torch_wheel(folder: Path, torch: str) -> bool:
    try:
        return any(f.name.startswith((f"torch-{torch}-", f"torch-{torch}+")) and f.suffix == ".whl"
                   for f in folder.iterdir())
    except OSError:
        return False


def check_intact(find_links: Sequence[str]) -> None:
    """Offline: a folder filled by `download` must still hold exactly the files it listed (exit 9)."""
    for folder in local_folders(find_links):
        listing = read_listing(folder)
        if listing is None:
            continue
        for name, digest in listing.files.items():
            path = folder / name
            if not path.is_file():
                raise IntegrityError(f"{path} is missing from the wheel folder", "Run `pybootstrap download` again.")
            if file_sha256(path) != digest:
                raise IntegrityError(f"{path} does not match the checksum recorded when it was downloaded",
                                     "The file changed or is damaged; run `pybootstrap download` again.")


def target_platform(os_name: str, arch: str, python_xy: str, own: Tuple[str, str, str]) -> Tuple[Tuple[str, ...],
                                                                                                  Optional[str]]:
    """pip download's --platform tags and --python-version ('312') for a folder meant for another machine;
    ((), None) when the folder is for this one."""
    own_os, own_arch, own_python = own
    if (os_name, arch) == (own_os, own_arch) and python_xy == ".".join(own_python.split(".")[:2]):
        return (), None
    return PLATFORM_TAGS.get((os_name, arch), ()), python_xy.replace(".", "")


def write_listing(dest: Path, build: Build) -> Dict[str, str]:
    """List every wheel and archive in dest with its SHA-256; returns {file name: sha256}."""
    files = {f.name: file_sha256(f) for f in sorted(dest.iterdir()) if f.suffix in (".whl", ".gz", ".zip")}
    listing = {"schema": LISTING_SCHEMA, "build": build.to_dict(), "files": files}
    (dest / LISTING).write_text(json.dumps(listing, indent=2), encoding="utf-8")
    return files

"""What install does to a target environment: checks that it may be used, the commands a run would make
(also shown by --dry-run), creating it, replacing another torch build, installing the planned packages.
The order of these steps is pybootstrap.commands'."""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace
from typing import Any, Dict, List, Optional, Sequence, Tuple

from pybootstrap import _subprocess, diskspace, environments, execute, index_check, render, steps, verify, wheelhouse
from pybootstrap.environments import Target
from pybootstrap.errors import EnvironmentProblem, InstallError, NetworkError, UsageError
from pybootstrap.index_check import IndexPage
from pybootstrap.installers import conda as conda_inst
from pybootstrap.installers import pip as pip_inst
from pybootstrap.machine import Hardware
from pybootstrap.manifest_model import Manifest, parse_variant_name, python_key, python_xy
from pybootstrap.plan_model import Build, Chosen, Plan, Request
from pybootstrap.settings import Settings
from pybootstrap.wheelhouse import Wheelhouse

CONDA_FAMILY = ("pytorch", "torchvision", "torchaudio", "pytorch-cuda", "cpuonly", "pytorch-mutex")
PIP_FAMILY = ("torch", "torchvision", "torchaudio")


@dataclass(frozen=True)
class Replacement:
    """Another (or a broken, or a half-installed) torch build in the target, and the commands removing it."""

    current: Optional[str]  # the torch version there, None when it does not import
    wanted: str
    why: str
    argvs: Tuple[Tuple[str, ...], ...]

    def to_dict(self) -> Dict[str, Any]:
        """The `replaced` object of the install document."""
        return {"from": self.current, "to": self.wanted, "why": self.why}


# --- refusals before anything changes -------------------------------------------------------------

def refuse_other_machine(config: Settings) -> None:
    """--os / --arch describe another machine: plan and download take them, install cannot."""
    for option, value in (("os", config.what_if.os_name), ("arch", config.what_if.arch)):
        if value:
            where = config.source_of(option)
            raise UsageError(f"{where} describes another machine, but install installs on this one",
                             "Use `pybootstrap plan` or `pybootstrap download` with what-if flags for another "
                             f"machine type; unset {where} for install.")


def inspect_target(target: Target) -> Optional[str]:
    """An existing target must run and be allowed (not pybootstrap's own Python, not a system Python); its
    Python version, or None for a target still to be created."""
    if not target.exists:
        return None
    info = environments.interpreter_info(str(target.python))
    environments.check_allowed(target, info)
    if info is None:
        raise EnvironmentProblem(f"{target.python} does not run, so {target.prefix} cannot be used",
                                 "The environment is broken (its base Python may have been removed or "
                                 "upgraded). Delete that folder and run again, or choose another target.")
    return info.version


def check_python_version(config: Settings, target: Target, version: Optional[str]) -> None:
    """--python-version must be the target's own: a venv gets the Python that runs pybootstrap."""
    wanted = config.what_if.python_version
    if not wanted:
        return
    if target.kind == "conda" and not target.exists:
        return  # a new conda environment is created with the Python asked for
    actual = version or ".".join(str(p) for p in sys.version_info[:3])
    if actual.split(".")[:len(wanted.split("."))] != wanted.split("."):
        where = config.source_of("python_version")
        raise UsageError(f"{where} {wanted} does not match the target's Python {actual}",
                         "Install into an environment with that Python: --python PATH, --venv of a venv made with "
                         "it, or --conda-env NAME (created with that Python); or drop " + where + ".")


def check_target_fits(build: Build, target: Target) -> None:
    """--installer conda needs a conda environment; a conda environment needs conda to create or fill it."""
    if build.environment == "conda" and target.kind != "conda":
        raise UsageError(f"--installer conda installs into a conda environment, not into {target.describe()}",
                         "Give --conda-env NAME or --conda-prefix DIR (or no target at all: a conda environment "
                         "under the pybootstrap home), or drop --installer conda.")
    if target.kind == "conda" and not target.conda_exe and (build.installer == "conda" or not target.exists):
        raise EnvironmentProblem("conda was not found", "Install Miniforge, or give --conda-exe PATH.")


def plan_for_new_conda_env(request: Request, manifest: Manifest, hw: Hardware,
                           first: Plan) -> Tuple[Plan, Hardware]:
    """A conda environment that does not exist yet can have any Python: take the newest one a build fits."""
    own = python_xy(hw.python_version)
    versions = sorted({py for release in manifest.releases for variant in release.variants
                       for py in release.python_for(variant, hw.os)}, key=python_key, reverse=True)
    for python in versions:
        if python == own:
            continue
        candidate = replace(hw, python_version=python)
        p = steps.plan_of(request, manifest, candidate)
        if p.status == "ok":
            why = (f"the new conda environment gets Python {python}, because torch {p.build.torch} has no "
                   f"{hw.os} packages for Python {own} (the Python running pybootstrap)")
            return p.with_reasons(why), candidate
    return first, hw


# --- before anything is created ----------------------------------------------------------------

def closed_wheelhouse(find_links: Sequence[str], build: Build) -> Optional[Wheelhouse]:
    """Offline: the listed files of the wheel folders, intact and holding the planned build (else exit 9 / 3);
    None for conda (its package cache) or folders without a listing, which then must at least hold the torch
    version (a folder filled by hand: pip picks among its wheels)."""
    if build.installer != "pip":
        return None
    folders = wheelhouse.local_folders(find_links)
    house = wheelhouse.load(folders)
    if house is None:
        wheelhouse.require_plain(folders, build)
        render.message(f"warning: {', '.join(folders)} has no {wheelhouse.LISTING}: its files are not checked "
                       "against checksums (fill it with `pybootstrap download` for that)", "warn")
        return None
    wheelhouse.verify(house)
    wheelhouse.require(house, build)
    return house


def check_index(build: Build, hw: Hardware) -> Optional[IndexPage]:
    """Online pip installs: one quick request for the index's torch page; a one-line NetworkError (exit 6) when
    it does not answer or does not list the pinned build. None for the default index (pip's configuration
    names it)."""
    if not build.index_url:
        return None
    page = index_check.check_index(build.index_url, proxy=pip_inst.configured_proxy(sys.executable))
    problem = index_check.missing_pins(page, "torch", pip_inst.requirement_pins(build, hw.arch))
    if problem:
        raise NetworkError(f"the package index does not have the planned build: {problem}",
                           "Check --index-url / --mirror, or choose another --torch / --variant.")
    return page


def check_room(build: Build, hw: Hardware, target: Target, *, page: Optional[IndexPage],
               house: Optional[Wheelhouse]) -> None:
    """Refuse (exit 8) before anything is written when the target's disk (or pip's temporary folder) has less
    room than the install needs: the listed files' size offline, else the wheel's size where the index gives
    it, never less than a floor for the build's kind."""
    if house is not None:
        needs = diskspace.install_needs(wheelhouse.total_size(house), target=target.prefix)
    else:
        known = None
        if page is not None:  # only a size the page gives (PEP 700): no request of its own
            from packaging.tags import sys_tags

            known = page.size_of(build.torch, frozenset(sys_tags()))
        download = diskspace.download_estimate(kind_of(build), known)
        needs = diskspace.install_needs(download, target=target.prefix, download_to=diskspace.temp_folder())
    diskspace.check_room(needs, what=f"torch {build.torch} {build.variant}")


def kind_of(build: Build) -> str:
    """cuda, rocm, xpu or cpu: the kind of the build's variant."""
    name = parse_variant_name(build.variant)
    return name.kind if name else "cpu"


# --- the commands of a run ----------------------------------------------------------------------

CLOSED_REQUIREMENTS = "<the files pybootstrap-wheelhouse.json lists, with their SHA-256>"


def install_steps(p: Chosen, target: Target, hw: Hardware, recreate: bool = False,
                  house: Optional[Wheelhouse] = None) -> List[List[str]]:
    """Every command install would run, concretely (for --dry-run and the log): create, then install (from a
    closed wheelhouse: exactly its listed files)."""
    argvs: List[List[str]] = []
    if not target.exists or recreate:
        if target.kind == "conda":
            argvs.append(conda_inst.create_argv(target.conda_exe or "conda", str(target.prefix),
                                                python_xy(hw.python_version), offline=p.request.offline,
                                                channels=p.build.conda_channels))
        else:
            argvs.append(environments.venv_argv(target, clear=recreate))
    if house is not None and p.build.installer == "pip":
        argvs.append(pip_inst.closed_install_argv(str(target.python), CLOSED_REQUIREMENTS, interactive=False))
        return argvs
    argvs.extend(package_argv(command, target, interactive=False) for command in p.commands)
    return argvs


def package_argv(command: Tuple[str, ...], target: Target, *, interactive: bool) -> List[str]:
    """A plan command ('python -m pip install ...' / 'conda install ...') made concrete for the target."""
    if command[0] == conda_inst.CONDA:
        return conda_inst.install_argv(command, target.conda_exe or "conda", str(target.prefix))
    return pip_inst.install_argv(command, str(target.python), interactive=interactive)


# --- changing the environment -------------------------------------------------------------------

def create_environment(target: Target, create_argv: List[str], *, recreate: bool) -> None:
    """Create the venv or conda environment; its Python must then run and be allowed."""
    render.message(f"creating {target.describe()}", "info")
    if target.kind == "conda":
        execute.run_with_retry(create_argv, conda_inst.conda_env(), False, "conda create",
                               timeout=conda_inst.CONDA_TIMEOUT_S)
    else:
        environments.create_venv(target, clear=recreate)
    info = environments.interpreter_info(str(target.python))
    if info is None:
        raise InstallError(f"the new environment's Python {target.python} does not run",
                           "Delete the folder and run again; see the log for the commands run.")
    environments.check_allowed(target, info)


def install_packages(p: Chosen, target: Target, *, interactive: bool, house: Optional[Wheelhouse] = None) -> None:
    """Run the plan's install commands in the target, with retries on network failures; from a closed wheelhouse,
    exactly its listed files, each checked by pip against its SHA-256."""
    folders = [str(target.prefix)]
    if house is not None and p.build.installer == "pip":
        with wheelhouse.requirements_file(house) as requirements:
            argv = pip_inst.closed_install_argv(str(target.python), str(requirements), interactive=interactive)
            execute.run_with_retry(argv, pip_inst.pip_env(argv), interactive, "pip install",
                                   timeout=pip_inst.PIP_TIMEOUT_S, folders=folders)
        return
    for command in p.commands:
        argv = package_argv(command, target, interactive=interactive)
        if command[0] == conda_inst.CONDA:
            execute.run_with_retry(argv, conda_inst.conda_env(), False, "conda install",
                                   timeout=conda_inst.CONDA_TIMEOUT_S, folders=folders)
        else:
            execute.run_with_retry(argv, pip_inst.pip_env(argv), interactive, "pip install",
                                   index_url=p.build.index_url, timeout=pip_inst.PIP_TIMEOUT_S, folders=folders)


def plan_replacement(target: Target, build: Build, *, unfinished: bool = False) -> Optional[Replacement]:
    """When the target holds another torch build (or a broken one): why, and the commands that remove only
    the torch family; None when nothing needs replacing."""
    if not target.python.exists():
        return None
    probe = verify.run_probe(str(target.python), timeout=120)
    current = probe.get("torch_version")
    error = probe.get("import_error") or ""
    broken = bool(error) and "No module named 'torch'" not in error
    wanted = f"{build.torch}+{build.variant}"
    if current:
        base, _, local = current.partition("+")
        same = base == build.torch and (local == build.variant if local else
                                        bool(probe.get("cuda_build")) == bool(build.cuda))
        if same and not unfinished:
            return None
        why = ("the last install into this environment did not finish" if same else
               f"it holds torch {current}, not {wanted}")
    elif broken:
        why = f"its torch does not import ({error.splitlines()[0][:160]})"
    else:
        return None
    argvs: List[Tuple[str, ...]] = []
    by_conda = environments.conda_installed(target.prefix, CONDA_FAMILY) if target.kind == "conda" else []
    if by_conda:
        if not target.conda_exe:
            raise EnvironmentProblem(f"torch in {target.prefix} was installed by conda, and conda was not found",
                                     "Give --conda-exe PATH.")
        argvs.append(tuple(conda_inst.remove_argv(target.conda_exe, str(target.prefix), by_conda)))
    by_pip = [n for n in PIP_FAMILY if ("pytorch" if n == "torch" else n) not in by_conda]
    if by_pip:
        argvs.append(tuple(pip_inst.uninstall_argv(str(target.python), by_pip)))
    return Replacement(current, wanted, why, tuple(argvs))


def replace_torch_family(target: Target, build: Build, *, unfinished: bool = False) -> Optional[Replacement]:
    """Remove only the torch family when the target holds another (or a broken) torch build; say so."""
    replacement = plan_replacement(target, build, unfinished=unfinished)
    if replacement is None:
        return None
    render.message(f"replacing torch {replacement.current or '(broken)'} with {replacement.wanted} (only the torch "
                   f"family): {replacement.why}", "warn")
    for argv in replacement.argvs:
        if argv[1:3] == ("-m", "pip"):
            execute.raise_for(pip_inst.run_pip(argv, timeout=1800), "pip uninstall")
        else:
            execute.raise_for(_subprocess.run(argv, timeout=1800, env=conda_inst.conda_env()), "conda remove")
    return replacement

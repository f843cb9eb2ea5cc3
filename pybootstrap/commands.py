"""The commands. Only here is the order of the steps known:
detect -> manifest -> plan -> (target, environment, install) -> verify -> log -> exit code.

Each run_<command>(settings) returns the exit code; install, verify and download run inside a logged run
(pybootstrap.run_log), which writes the log and derives the document's status from how the run ended.

Fleets run detect and plan at every login: the modules only install, verify, download and diagnose use (the
logged run, environments, verification, execution, hashing) are imported by those commands, where they are used.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Optional

from pybootstrap import render, show, steps
from pybootstrap.errors import EnvironmentProblem, ExitCode, NoCompatibleBuildError, PybootstrapError, UsageError
from pybootstrap.hardware import current_platform, detect
from pybootstrap.installers import pip as pip_inst
from pybootstrap.machine import Hardware
from pybootstrap.manifest_model import Manifest, python_xy
from pybootstrap.settings import Settings

if TYPE_CHECKING:
    from pybootstrap.environments import Target
    from pybootstrap.judge import Verification
    from pybootstrap.run_log import LoggedRun


def _start(config: Settings) -> None:
    render.set_verbosity(config.verbosity)


# --- detect / plan ------------------------------------------------------------------------------

def run_detect(config: Settings) -> int:
    """pybootstrap detect."""
    _start(config)
    manifest = steps.manifest_of(config)
    hw = detect(manifest, smi_file=config.smi_file)
    if config.json:
        render.document({"schema": "pybootstrap.detect/1", **hw.to_dict()})
    else:
        show.hardware(hw)
        show.no_usable_gpu(hw)
    return int(ExitCode.OK)


def run_plan(config: Settings) -> int:
    """pybootstrap plan."""
    _start(config)
    manifest = steps.manifest_of(config)
    hw = steps.hardware_of(config, manifest, steps.target_python_version(config.target))
    p = steps.plan_of(config.request, manifest, hw)
    if config.json:
        render.document(steps.plan_document(p))
    else:
        show.hardware(hw)
        show.plan(p)
    return int(ExitCode.OK if p.status == "ok" else ExitCode.NO_COMPATIBLE_BUILD)


# --- install ------------------------------------------------------------------------------------

def _verification(python: str, hw: Hardware, expected: Optional[Dict[str, Any]], manifest: Manifest) -> Verification:
    """Ask the target interpreter (the probe) and judge its answers against the expected build."""
    from pybootstrap.judge import Expected
    from pybootstrap.verify import verify_environment

    return verify_environment(python, hw, Expected.from_build(expected) if expected else None, manifest)


def run_install(config: Settings) -> int:
    """pybootstrap install."""
    from pybootstrap.run_log import logged

    _start(config)
    return logged("install", config, lambda run: _install(run, config))


def _install(run: LoggedRun, config: Settings) -> int:
    from pybootstrap import environments, install

    install.refuse_other_machine(config)
    with run.step("manifest"):
        manifest = steps.manifest_of(config)
    with run.step("target"):
        target = environments.resolve_target(config.target, config.home)
    if config.dry_run:
        return _install_into(run, config, manifest, target)
    from pybootstrap import lock

    with lock.hold(target.prefix, what="install"):  # one run per environment; another one is busy (exit 10)
        return _install_into(run, config, manifest, target)


def _install_into(run: LoggedRun, config: Settings, manifest: Manifest, target: Target) -> int:
    """Everything install does once it knows the target: each step reads or changes that environment."""
    from pybootstrap import environments, index_check, install, wheelhouse

    with run.step("target"):
        version = install.inspect_target(target)
        install.check_python_version(config, target, version)
    with run.step("detect"):
        hw = steps.hardware_of(config, manifest, version)
    with run.step("plan"):
        p = steps.plan_of(config.request, manifest, hw)
        if p.status != "ok" and target.kind == "conda" and not target.exists and not config.what_if.python_version:
            p, hw = install.plan_for_new_conda_env(config.request, manifest, hw, p)
    run.document.update(steps.plan_document(p), schema="pybootstrap.install/1", plan_status=p.status,
                        target=target.to_dict(), verification=None, log_path=None)
    if p.status != "ok":
        if not config.json:
            show.hardware(hw)
            show.plan(p)
        raise NoCompatibleBuildError("no compatible build: " + p.reasons[-1], p.advice)
    build = p.build
    install.check_target_fits(build, target)
    house = install.closed_wheelhouse(p.request.find_links, build) if p.request.offline else None
    if house is not None:
        run.document["wheelhouse_unlisted"] = [str(f) for f in wheelhouse.unlisted_files(house)]
    previous = environments.read_state(target.prefix) if target.prefix.is_dir() else None
    recreate = target.kind == "venv" and previous is not None and previous.get("status") == "creating"
    unfinished = previous is not None and previous.get("status") == "installing"
    argvs = install.install_steps(p, target, hw, recreate, house)
    if config.dry_run and target.exists and not recreate:  # what a real run would remove first
        replacement = install.plan_replacement(target, build, unfinished=unfinished)
        if replacement:
            argvs[:0] = [list(a) for a in replacement.argvs]
            run.document["replaced"] = replacement.to_dict()
    run.document["steps"] = argvs
    if not config.json:
        show.plan(p)
        render.message(f"Target: {target.describe()}", "title")
    if config.dry_run:
        show.dry_run(argvs)
        run.dry_run = True
        run.document["dry_run"] = True
        return int(ExitCode.OK)

    # From here on the environment is checked or changed: this run's log becomes latest.json.
    run.update_latest = True
    # what verification compares with the installed torch: the plan's build and the local label pip pins
    build_dict = dict(build.to_dict(), local_label=pip_inst.local_label(build, hw.arch)
                      if build.installer == "pip" else None)
    if target.exists and not recreate and environments.is_marked_good(target.prefix, build_dict):
        with run.step("verify"):
            ver = _verification(str(target.python), hw, build_dict, manifest)
        if ver.status == "ok":
            run.verification = ver.status
            run.document["verification"] = {"schema": "pybootstrap.verify/1", **ver.to_dict()}
            run.document["already_installed"] = True
            render.message(f"torch {build.torch} {build.variant} is already installed and verified in "
                           f"{target.prefix}", "ok")
            return int(ExitCode.OK)
    with run.step("preflight"):  # before anything is created: the index answers, the disk has room
        page = install.check_index(build, hw) if not p.request.offline and build.installer == "pip" else None
        if page is not None:
            run.document["index_check"] = index_check.describe(page)
        install.check_room(build, hw, target, page=page, house=house)
    # on a terminal pip writes to our stdout itself (its own progress bar), so stdout must be the terminal too
    interactive = (render.is_terminal(sys.stderr) and render.is_terminal(sys.stdout) and not config.ci
                   and not config.json and render.verbosity() >= 0)
    with run.step("environment"):
        if not target.exists or recreate:
            install.create_environment(target, argvs[0], recreate=recreate)
        environments.mark_installing(target.prefix, build_dict)
    with run.step("install"):
        replaced = install.replace_torch_family(target, build, unfinished=unfinished)
        if replaced:
            run.document["replaced"] = replaced.to_dict()
        install.install_packages(p, target, interactive=interactive, house=house)
    with run.step("verify"):
        ver = _verification(str(target.python), hw, build_dict, manifest)
    run.verification = ver.status
    run.document["verification"] = {"schema": "pybootstrap.verify/1", **ver.to_dict()}
    if not config.json:
        show.verification(ver)
    if ver.status != "ok":
        return int(ExitCode.VERIFY_FAILED)
    environments.mark_good(target.prefix, build_dict, ver.probe.get("torch_version"))
    return int(ExitCode.OK)


# --- verify -------------------------------------------------------------------------------------

def run_verify(config: Settings) -> int:
    """pybootstrap verify."""
    from pybootstrap.run_log import logged

    _start(config)
    return logged("verify", config, lambda run: _verify(run, config))


def _verify(run: LoggedRun, config: Settings) -> int:
    from pybootstrap import environments

    run.update_latest = True  # a verify run always checks an environment (or finds there is none)
    with run.step("manifest"):
        manifest = steps.manifest_of(config)
    with run.step("detect"):  # before the target: a failed verify's log still says what the machine is
        hw = detect(manifest, smi_file=config.smi_file)
    run.document["hardware"] = hw.to_dict()
    with run.step("target"):
        target = environments.resolve_target(config.target, config.home)
    run.document["target"] = target.to_dict()
    if not target.python.exists():
        raise EnvironmentProblem(f"no environment at {target.prefix}",
                                 "Give --venv/--python/--conda-env of an existing environment, or run "
                                 "`pybootstrap install` first.")
    state = environments.read_state(target.prefix)
    expected: Optional[Dict[str, Any]] = None
    if config.expected is not None:
        expected = dict(config.expected.to_dict())
    elif state and isinstance(state.get("build"), dict):
        expected = state["build"]
    with run.step("verify"):
        ver = _verification(str(target.python), hw, expected, manifest)
    run.verification = ver.status
    run.document.update({"schema": "pybootstrap.verify/1", **ver.to_dict(), "hardware": hw.to_dict(),
                         "target": target.to_dict(), "expected": expected})
    if not config.json:
        show.verification(ver)
    if ver.status == "ok" and state and state.get("status") == "installing":
        render.message("note: the last install into this environment did not finish; it is not marked good", "warn")
    return int(ExitCode.OK if ver.status == "ok" else ExitCode.VERIFY_FAILED)


# --- download -----------------------------------------------------------------------------------

def run_download(config: Settings) -> int:
    """pybootstrap download --to DIR."""
    from pybootstrap.run_log import logged

    _start(config)
    return logged("download", config, lambda run: _download(run, config))


def _download(run: LoggedRun, config: Settings) -> int:
    from pybootstrap import diskspace, execute, install, lock, wheelhouse

    assert config.to is not None  # settings refuse a download without --to
    manifest = steps.manifest_of(config)
    hw = steps.hardware_of(config, manifest)
    p = steps.plan_of(config.request, manifest, hw)
    run.document.update(steps.plan_document(p), schema="pybootstrap.download/1", plan_status=p.status)
    if p.status != "ok":
        raise NoCompatibleBuildError("no compatible build: " + p.reasons[-1], p.advice)
    build = p.build
    dest = config.to.resolve()
    dest.mkdir(parents=True, exist_ok=True)
    if build.installer == "conda":
        raise UsageError("download fetches pip wheels; this plan uses conda",
                         "Add --installer pip (conda users can point conda at a local channel instead).")
    tags, py_version = wheelhouse.target_platform(hw.os, hw.arch, python_xy(hw.python_version), current_platform())
    with run.step("preflight"):  # the index answers and lists the build; the folder's disk has room
        page = install.check_index(build, hw)
        known = page.size_of(build.torch) if page is not None else None  # a size the page gives
        diskspace.check_room({str(dest): diskspace.download_estimate(install.kind_of(build), known)},
                             what=f"the wheels of torch {build.torch} {build.variant}")
    render.message(f"downloading torch {build.torch} {build.variant} wheels into {dest}", "title")
    with lock.hold(dest, what="download"), run.step("download"), wheelhouse.staging(dest) as stage:
        argv = pip_inst.download_argv(build, p.request, str(stage), python=sys.executable, arch=hw.arch,
                                      python_version=py_version)
        for tag in tags:
            argv += ["--platform", tag]
        if tags:
            argv += ["--only-binary", ":all:"]
        execute.run_with_retry(argv, pip_inst.pip_env(argv), False, "pip download", index_url=build.index_url,
                               folders=[str(dest)])
        files = wheelhouse.publish(stage, dest, build.to_dict())
    run.document.update(files=files, to=str(dest))
    render.message(f"{len(files)} file(s) in {dest}; install with: pybootstrap install --offline --find-links {dest}",
                   "ok")
    return int(ExitCode.OK)


# --- diagnose / manifest ------------------------------------------------------------------------

def run_diagnose(config: Settings) -> int:
    """pybootstrap diagnose FILE."""
    from pybootstrap._subprocess import decode_output
    from pybootstrap.diagnose import diagnose_text
    from pybootstrap.nvidia_smi import parse_any

    _start(config)
    name = config.file or "-"
    try:
        raw = sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {name}: {exc.strerror or exc}", "Give a file path, or - for stdin.") from None
    text = decode_output(raw)
    try:
        manifest: Optional[Manifest] = steps.manifest_of(config)
    except PybootstrapError:
        manifest = None
    findings = diagnose_text(text, manifest)
    smi = parse_any(text)
    doc: Dict[str, Any] = {"schema": "pybootstrap.diagnose/1", "findings": [f.to_dict() for f in findings]}
    if smi.form in ("table", "csv", "list"):
        doc["nvidia_smi"] = {"form": smi.form, "driver_version": smi.driver_version, "cuda_version": smi.cuda_version,
                             "gpus": [g.name for g in smi.gpus], "mig_devices": smi.mig_devices}
    if config.json:
        render.document(doc)
    else:
        show.findings(findings, doc.get("nvidia_smi") or {})
    return int(ExitCode.OK)


def run_manifest(config: Settings) -> int:
    """pybootstrap manifest validate|show|check."""
    _start(config)
    if config.source:
        from pybootstrap.manifest import load_manifest

        manifest = load_manifest(config.source)
    else:
        manifest = steps.manifest_of(config)
    if config.action == "check":
        return _check_manifest(config, manifest)
    if config.action == "validate":
        doc = {"schema": "pybootstrap.manifest-validate/1", "valid": True, "origin": manifest.origin,
               "schema_version": manifest.schema_version, "releases": len(manifest.releases),
               "newest": str(manifest.releases[0].torch), "oldest": str(manifest.releases[-1].torch),
               "manifest": manifest.describe()}
        if config.json:
            render.document(doc)
        else:
            render.message(f"{manifest.origin}: valid ({doc['releases']} releases, {doc['oldest']} to "
                           f"{doc['newest']})", "ok")
        return int(ExitCode.OK)
    rows: List[Dict[str, Any]] = []
    for release in manifest.releases:
        for variant in release.variants:
            rows.append({"torch": str(release.torch), "variant": variant.name,
                         "cuda": str(variant.cuda) if variant.cuda else None,
                         "torchvision": str(release.torchvision) if release.torchvision else None,
                         "torchaudio": str(release.torchaudio) if release.torchaudio else None,
                         "platforms": {k: list(v) for k, v in variant.platforms.items()},
                         "python": {k: list(release.python_for(variant, k)) for k in variant.platforms},
                         "conda": f"{variant.conda.package} -c {' -c '.join(variant.conda.channels)}"
                         if variant.conda else None,
                         "archs": {k: a.text for k, a in variant.archs.items()},
                         "matrix": release.matrix, "date": release.date.isoformat() if release.date else None,
                         "note": variant.note, "notes": list(release.notes), "source": release.source})
    if config.json:
        render.document({"schema": "pybootstrap.manifest-show/1", "origin": manifest.origin,
                         "manifest": manifest.describe(), "builds": rows})
    else:
        show.manifest(manifest.describe())
        show.builds(rows)
    return int(ExitCode.OK)


def _check_manifest(config: Settings, manifest: Manifest) -> int:
    """pybootstrap manifest check: exit 0 when the manifest and the indexes agree, 7 when they do not."""
    from pybootstrap import manifest_check

    report = manifest_check.check_manifest(manifest, index_base=config.index_base,
                                           pypi_base=config.pypi_base or manifest_check.DEFAULT_PYPI_BASE)
    code = ExitCode.OK if report.agree else ExitCode.INVALID_MANIFEST
    if config.json:
        render.document({"schema": "pybootstrap.manifest-check/1", **report.to_dict(),
                         "manifest": manifest.describe(), "exit_code": int(code)})
    else:
        show.manifest_check(report, manifest.describe())
    return int(code)

"""install and download: turn a plan into a working environment (or a wheel folder for offline machines).

Only the order of the steps lives here and in commands: target -> plan -> environment -> replace another
torch -> install with retries -> verify -> mark good -> log.
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

from pybootstrap import _subprocess, environments, render, settings
from pybootstrap.commands import (
    WHEELHOUSE_LISTING,
    _hardware,
    _logged,
    _manifest,
    _plan,
    _plan_doc,
    _quote,
    _Run,
    _setup,
    _show_hardware,
    _show_plan,
    _show_verification,
    _verify_target,
)
from pybootstrap.errors import (
    EnvironmentProblem,
    ExitCode,
    InstallError,
    IntegrityError,
    NetworkError,
    NoCompatibleBuildError,
    UsageError,
)
from pybootstrap.hardware import Hardware
from pybootstrap.manifest import Manifest
from pybootstrap.planner import Plan, python_key, python_xy


def run_install(args: Any, sources: Dict[str, str], environ: Dict[str, str]) -> int:
    """pybootstrap install."""
    _setup(args)
    return _logged("install", lambda run: _install(run, args, sources, environ), args, sources, environ)


def _refuse_other_machine(args: Any, sources: Dict[str, str]) -> None:
    """--os / --arch describe another machine: plan and download take them, install cannot."""
    for dest in ("os", "arch"):
        if getattr(args, dest, None):
            where = sources.get(dest, "--" + dest)
            raise UsageError(f"{where} describes another machine, but install installs on this one",
                             "Use `pybootstrap plan` or `pybootstrap download` with what-if flags for another "
                             f"machine type; unset {where} for install.")


def _check_python_version(args: Any, sources: Dict[str, str], target: Any, version: Optional[str]) -> None:
    """--python-version must be the target's own: a venv gets the Python that runs pybootstrap."""
    wanted = settings.parse_python_version(getattr(args, "python_version", None), sources)
    if not wanted:
        return
    if target.kind == "conda" and not target.exists:
        return  # a new conda environment is created with the Python asked for
    actual = version or ".".join(str(p) for p in sys.version_info[:3])
    if actual.split(".")[:len(wanted.split("."))] != wanted.split("."):
        where = sources.get("python_version", "--python-version")
        raise UsageError(f"{where} {wanted} does not match the target's Python {actual}",
                         "Install into an environment with that Python: --python PATH, --venv of a venv made with "
                         "it, or --conda-env NAME (created with that Python); or drop " + where + ".")


def _install(run: _Run, args: Any, sources: Dict[str, str], environ: Dict[str, str]) -> int:
    from pybootstrap.installers import conda as conda_inst
    from pybootstrap.installers import pip as pip_inst

    _refuse_other_machine(args, sources)
    with run.step("manifest"):
        manifest = _manifest(args, environ)
    with run.step("target"):
        target = environments.resolve_target(args, sources, run.home, environ)
        version = None
        if target.exists:
            info = environments.interpreter_info(str(target.python))
            environments.check_allowed(target, info)
            if info is None:
                raise EnvironmentProblem(f"{target.python} does not run, so {target.prefix} cannot be used",
                                         "The environment is broken (its base Python may have been removed or "
                                         "upgraded). Delete that folder and run again, or choose another target.")
            version = info["version"]
        _check_python_version(args, sources, target, version)
    with run.step("detect"):
        hw = _hardware(args, sources, manifest, version)
    with run.step("plan"):
        p = _plan(args, sources, manifest, hw)
        if (p.status != "ok" and target.kind == "conda" and not target.exists
                and not getattr(args, "python_version", None)):
            p, hw = _plan_for_new_conda_env(args, sources, manifest, hw, p)
    run.document.update(_plan_doc(p))
    run.document["schema"] = "pybootstrap.install/1"
    run.document["target"] = target.to_dict()
    run.document["verification"] = None
    run.document["log_path"] = None
    if p.status != "ok":
        if not args.json:
            _show_hardware(hw)
            _show_plan(p)
        raise NoCompatibleBuildError("no compatible build: " + p.reasons[-1], p.advice)
    build = p.build
    _check_target_fits(build, target)
    if p.request.offline:
        check_wheelhouse(list(p.request.find_links))
    previous = environments.read_state(target.prefix) if target.prefix.is_dir() else None
    recreate = target.kind == "venv" and bool(previous) and previous.get("status") == "creating"
    steps = _install_steps(p, target, args, hw, recreate)
    if args.dry_run and target.exists and not recreate:  # what a real run would remove first
        unfinished = bool(previous) and previous.get("status") == "installing"
        replacement = _plan_replacement(target, build, unfinished=unfinished)
        if replacement:
            steps[:0] = replacement["argvs"]
            run.document["replaced"] = {k: v for k, v in replacement.items() if k != "argvs"}
    run.document["steps"] = [list(s) for s in steps]
    if not args.json:
        _show_plan(p)
        render.message(f"Target: {target.describe()}", "title")
    if args.dry_run:
        render.message("Dry run: would run", "title")
        for step in steps:
            render.message("  " + " ".join(_quote(a) for a in step))
        run.document["dry_run"] = True
        return int(ExitCode.OK)
    build_dict = build.to_dict()
    if target.exists and not recreate and environments.is_marked_good(target.prefix, build_dict):
        with run.step("verify"):
            ver = _verify_target(str(target.python), hw, build_dict, manifest)
        if ver.status == "ok":
            run.document["verification"] = {"schema": "pybootstrap.verify/1", **ver.to_dict()}
            run.document["already_installed"] = True
            render.message(f"torch {build.torch} {build.variant} is already installed and verified in "
                           f"{target.prefix}", "ok")
            return int(ExitCode.OK)
    # on a terminal pip writes to our stdout itself (its own progress bar), so stdout must be the terminal too
    interactive = (pip_inst.stdout_is_terminal() and _isatty(sys.stdout) and not args.json
                   and render.verbosity() >= 0)
    with run.step("environment"):
        if not target.exists or recreate:
            render.message(f"creating {target.describe()}", "info")
            if target.kind == "conda":
                _run_with_retry(steps[0], conda_inst.conda_env(), False, "conda create",
                                timeout=conda_inst.CONDA_TIMEOUT_S)
            else:
                environments.create_venv(target, clear=recreate)
            info = environments.interpreter_info(str(target.python))
            if info is None:
                raise InstallError(f"the new environment's Python {target.python} does not run",
                                   "Delete the folder and run again; see the log for the commands run.")
            environments.check_allowed(target, info)
        environments.mark_installing(target.prefix, build_dict)
    with run.step("install"):
        replaced = _replace_torch_family(target, build, unfinished=bool(previous)
                                         and previous.get("status") == "installing")
        if replaced:
            run.document["replaced"] = replaced
        for command in p.commands:
            if command[0] == conda_inst.CONDA:
                argv = conda_inst.install_argv(command, target.conda_exe or "conda", str(target.prefix))
                env, label, timeout = conda_inst.conda_env(), "conda install", conda_inst.CONDA_TIMEOUT_S
            else:
                argv = pip_inst.install_argv(command, str(target.python), interactive=interactive)
                env, label, timeout = pip_inst.pip_env(), "pip install", pip_inst.PIP_TIMEOUT_S
            _run_with_retry(argv, env, interactive and label == "pip install", label, index_url=build.index_url,
                            timeout=timeout)
    with run.step("verify"):
        ver = _verify_target(str(target.python), hw, build_dict, manifest)
    run.document["verification"] = {"schema": "pybootstrap.verify/1", **ver.to_dict()}
    if not args.json:
        _show_verification(ver)
    if ver.status != "ok":
        return int(ExitCode.VERIFY_FAILED)
    environments.mark_good(target.prefix, build_dict, ver.probe.get("torch_version"))
    return int(ExitCode.OK)


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _check_target_fits(build: Any, target: environments.Target) -> None:
    """--installer conda needs a conda environment; a conda environment needs conda to create or fill it."""
    if build.environment == "conda" and target.kind != "conda":
        raise UsageError(f"--installer conda installs into a conda environment, not into {target.describe()}",
                         "Give --conda-env NAME or --conda-prefix DIR (or no target at all: a conda environment "
                         "under the pybootstrap home), or drop --installer conda.")
    if target.kind == "conda" and not target.conda_exe and (build.installer == "conda" or not target.exists):
        raise EnvironmentProblem("conda was not found", "Install Miniforge, or give --conda-exe PATH.")


def _plan_for_new_conda_env(args: Any, sources: Dict[str, str], manifest: Manifest, hw: Hardware,
                            first: Plan) -> Tuple[Plan, Hardware]:
    """A conda environment that does not exist yet can have any Python: take the newest one a build fits."""
    own = python_xy(hw.python_version)
    versions = sorted({py for release in manifest.releases for variant in release.variants
                       for py in release.python_for(variant, hw.os)}, key=python_key, reverse=True)
    for python in versions:
        if python == own:
            continue
        candidate = hw._replace(python_version=python)
        p = _plan(args, sources, manifest, candidate)
        if p.status == "ok":
            why = (f"the new conda environment gets Python {python}, because torch {p.build.torch} has no "
                   f"{hw.os} packages for Python {own} (the Python running pybootstrap)")
            return p.with_reasons(why), candidate
    return first, hw


def _install_steps(p: Plan, target: environments.Target, args: Any, hw: Hardware,
                   recreate: bool = False) -> List[List[str]]:
    """Every command install would run, concretely (for --dry-run and the log)."""
    from pybootstrap.installers import conda as conda_inst
    from pybootstrap.installers import pip as pip_inst

    steps: List[List[str]] = []
    if not target.exists or recreate:
        if target.kind == "conda":
            steps.append(conda_inst.create_argv(target.conda_exe or "conda", str(target.prefix),
                                                python_xy(hw.python_version),
                                                offline=args.offline, channels=p.build.conda_channels))
        else:
            steps.append(environments.venv_argv(target, clear=recreate))
    for command in p.commands:
        if command[0] == conda_inst.CONDA:
            steps.append(conda_inst.install_argv(command, target.conda_exe or "conda", str(target.prefix)))
        else:
            steps.append(pip_inst.install_argv(command, str(target.python), interactive=False))
    return steps


# --- running install commands: progress, retries, failures mapped to exit codes -------------------

RETRIES = 3  # attempts of one install command when the network failed
RETRY_BACKOFF_S = 2.0  # the wait before attempt n is RETRY_BACKOFF_S * (n - 1)

# pip / conda output meaning a network failure worth another attempt (pip itself already retried
# connection errors before the response; these are failures it does not retry: a body cut short, 5xx)
_TRANSIENT_RE = re.compile(
    r"Connection (?:reset|refused|aborted|broken)|Max retries exceeded|Read timed out|ConnectTimeout|"
    r"NewConnectionError|Temporary failure in name resolution|Name or service not known|Network is unreachable|"
    r"IncompleteRead|ChunkedEncodingError|ProtocolError|Remote end closed connection|RemoteDisconnected|"
    r"ProxyError|HTTP error (?:5\d\d|429)|\b5\d\d Server Error|CondaHTTPError: HTTP (?:000|5\d\d)|"
    r"not enough bytes were received|IncompleteDownload", re.I)
# the network's or the index's fault, but another attempt would not help (exit 6 at once)
_NETWORK_RE = re.compile(
    r"HTTP error 4\d\d|\b4\d\d Client Error|SSLError|CERTIFICATE_VERIFY_FAILED|Could not fetch URL|CondaHTTPError|"
    r"CondaSSLError", re.I)
_HASH_RE = re.compile(r"THESE PACKAGES DO NOT MATCH THE HASHES|hash mismatch", re.I)
_GOT_RE = re.compile(r"^\s*Got\s+([0-9a-fA-F]{32,128})\s*$", re.M)
_NO_MATCH_RE = re.compile(r"No matching distribution found", re.I)
_STEP_PREFIXES = ("Collecting", "Downloading", "Installing collected", "Successfully", "Looking in", "ERROR",
                  "Requirement already", "Processing", "Uninstalling",  # pip
                  "Solving environment", "Preparing transaction", "Verifying transaction",
                  "Executing transaction")  # conda


def _progress(interactive: bool) -> Optional[Callable[[str], None]]:
    """On a terminal pip draws its own progress (its stdout is ours); otherwise one concise line per step."""
    if interactive:
        def passthrough(line: str) -> None:  # pip's stderr: warnings and errors, as they come
            sys.stderr.write(line + "\n")
            sys.stderr.flush()
        return passthrough
    if render.verbosity() < 0:
        return None

    def concise(line: str) -> None:
        if line.startswith(_STEP_PREFIXES) or render.verbosity() > 0:
            render.message("  " + line.strip(), "dim")
    return concise


def _run_with_retry(argv: List[str], env: Dict[str, str], interactive: bool, label: str, *,
                    index_url: Optional[str] = None, timeout: float = 3600.0) -> None:
    """Run an install command; retry transient network failures; map failures to exit codes.

    pip before 25.1 does not notice a download cut short (urllib3 1.26 does not enforce Content-Length) and
    reports it as a hash mismatch: a mismatch is retried, and only the same wrong file twice is an integrity
    failure.
    """
    stream = _progress(interactive)
    wrong_files: List[Tuple[str, ...]] = []
    result: Optional[_subprocess.CommandResult] = None
    attempt = 0
    for attempt in range(1, RETRIES + 1):
        result = _subprocess.run(argv, timeout=timeout, env=env, stream=stream,
                                 inherit_stdout=interactive and stream is not None)
        if result.ok:
            return
        text = result.stdout + "\n" + result.stderr
        if _HASH_RE.search(text):
            got = tuple(_GOT_RE.findall(text))
            if got in wrong_files:
                raise IntegrityError(f"{label}: a downloaded file did not match its published hash, twice the same",
                                     "A proxy or mirror serves a different file than the index lists; check it "
                                     "(or the --find-links folder), then run again.\n" + result.output_tail(10))
            wrong_files.append(got)
            why = "a download did not match its published hash (a connection cut short does this)"
        elif result.timed_out or _TRANSIENT_RE.search(text):
            why = "network failure"
        else:
            break
        if attempt < RETRIES:
            render.message(f"  {why}; retrying ({attempt + 1}/{RETRIES})", "warn")
            time.sleep(RETRY_BACKOFF_S * attempt)
    assert result is not None
    _raise_for(result, label, index_url=index_url, attempts=attempt)


def _key_line(text: str, pattern: "re.Pattern[str]") -> Optional[str]:
    """The first output line matching pattern, shortened, secrets redacted."""
    from pybootstrap.redact import redact

    for line in text.splitlines():
        if pattern.search(line):
            line = line.strip()
            return redact(line if len(line) <= 240 else line[:237] + "...")
    return None


def _index_problem(index_url: Optional[str]) -> Optional[str]:
    """After 'No matching distribution': is the index itself missing? (None: it answers for torch.)"""
    if not index_url or not index_url.startswith(("http://", "https://")):
        return None
    from pybootstrap._download import fetch_bytes

    try:
        fetch_bytes(index_url.rstrip("/") + "/torch/", timeout=15.0, retries=1)
    except NetworkError as exc:
        return exc.message
    return None


def _raise_for(result: _subprocess.CommandResult, label: str, *, index_url: Optional[str] = None,
               attempts: int = 1) -> None:
    """A failed command as the error of its exit code: 6 for the network or the index, else 4."""
    if result.ok:
        return
    text = result.stdout + "\n" + result.stderr
    tail = result.output_tail(12)
    after = f" (after {attempts} attempts)" if attempts > 1 else ""
    net_advice = "Check the network, the proxy (HTTPS_PROXY) and --index-url/--mirror; then run again.\n"
    if _HASH_RE.search(text):
        raise NetworkError(f"{label}: downloads kept breaking off: each attempt got a different, incomplete "
                           f"file{after}", net_advice + tail)
    if result.timed_out:
        raise NetworkError(f"{label}: {result.error}{after}", net_advice + tail)
    line = _key_line(text, _TRANSIENT_RE) or _key_line(text, _NETWORK_RE)
    if line:
        raise NetworkError(f"{label}: the package index could not be reached or a download failed{after}: {line}",
                           net_advice + tail)
    if _NO_MATCH_RE.search(text):
        problem = _index_problem(index_url)
        if problem:
            raise NetworkError(f"{label}: the package index has no torch: {problem}",
                               "Check --index-url / --mirror (the PyTorch index is "
                               "https://download.pytorch.org/whl/<variant>).\n" + tail)
    if result.returncode is None:
        raise InstallError(f"{label}: {result.error}", "Check that the target environment is intact.")
    raise InstallError(f"{label} failed (exit {result.returncode})", "See the output below and the log.\n" + tail)


# --- replacing another torch build ---------------------------------------------------------------

_CONDA_FAMILY = ("pytorch", "torchvision", "torchaudio", "pytorch-cuda", "cpuonly", "pytorch-mutex")
_PIP_FAMILY = ("torch", "torchvision", "torchaudio")


def _plan_replacement(target: environments.Target, build: Any, *, unfinished: bool = False) -> Optional[dict]:
    """When the target holds another torch build (or a broken one): why, and the commands that remove only
    the torch family ({"from", "to", "why", "argvs"}); None when nothing needs replacing."""
    if not target.python.exists():
        return None
    from pybootstrap.installers import conda as conda_inst
    from pybootstrap.installers import pip as pip_inst
    from pybootstrap.verify import run_probe

    probe = run_probe(str(target.python), timeout=120)
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
    argvs: List[List[str]] = []
    by_conda = environments.conda_installed(target.prefix, _CONDA_FAMILY) if target.kind == "conda" else []
    if by_conda:
        if not target.conda_exe:
            raise EnvironmentProblem(f"torch in {target.prefix} was installed by conda, and conda was not found",
                                     "Give --conda-exe PATH.")
        argvs.append(conda_inst.remove_argv(target.conda_exe, str(target.prefix), by_conda))
    by_pip = [n for n in _PIP_FAMILY if ("pytorch" if n == "torch" else n) not in by_conda]
    if by_pip:
        argvs.append(pip_inst.uninstall_argv(str(target.python), by_pip))
    return {"from": current, "to": wanted, "why": why, "argvs": argvs}


def _replace_torch_family(target: environments.Target, build: Any, *, unfinished: bool = False) -> Optional[dict]:
    """Remove only the torch family when the target holds another (or a broken) torch build; say so."""
    from pybootstrap.installers import conda as conda_inst
    from pybootstrap.installers import pip as pip_inst

    replacement = _plan_replacement(target, build, unfinished=unfinished)
    if replacement is None:
        return None
    render.message(f"replacing torch {replacement['from'] or '(broken)'} with {replacement['to']} (only the torch "
                   f"family): {replacement['why']}", "warn")
    for argv in replacement.pop("argvs"):
        if "pip" in argv[1:3]:
            _raise_for(pip_inst.run_pip(argv, timeout=1800), "pip uninstall")
        else:
            _raise_for(_subprocess.run(argv, timeout=1800, env=conda_inst.conda_env()), "conda remove")
    return replacement


# --- download ---------------------------------------------------------------------------------

PLATFORM_TAGS = {("windows", "x86_64"): ["win_amd64"],
                 ("linux", "x86_64"): ["manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64",
                                       "linux_x86_64"],
                 ("linux", "arm64"): ["manylinux_2_28_aarch64", "manylinux_2_17_aarch64", "manylinux2014_aarch64",
                                      "linux_aarch64"]}


def run_download(args: Any, sources: Dict[str, str], environ: Dict[str, str]) -> int:
    """pybootstrap download --to DIR."""
    _setup(args)
    if not getattr(args, "to", None):
        raise UsageError("download needs --to DIR", "Give the folder to fill: pybootstrap download --to D:\\wheels")
    return _logged("download", lambda run: _download(run, args, sources, environ), args, sources, environ)


def _download(run: _Run, args: Any, sources: Dict[str, str], environ: Dict[str, str]) -> int:
    import json

    from pybootstrap._download import file_sha256
    from pybootstrap.hardware import current_platform
    from pybootstrap.installers import pip as pip_inst

    manifest = _manifest(args, environ)
    hw = _hardware(args, sources, manifest)
    p = _plan(args, sources, manifest, hw)
    run.document.update(_plan_doc(p))
    run.document["schema"] = "pybootstrap.download/1"
    if p.status != "ok":
        raise NoCompatibleBuildError("no compatible build: " + p.reasons[-1], p.advice)
    dest = Path(args.to).expanduser().resolve()
    dest.mkdir(parents=True, exist_ok=True)
    own_os, own_arch, own_py = current_platform()
    tags = None
    py_version = None
    if (hw.os, hw.arch) != (own_os, own_arch) or python_xy(hw.python_version) != python_xy(own_py):
        tags = PLATFORM_TAGS.get((hw.os, hw.arch))
        py_version = python_xy(hw.python_version).replace(".", "")
    build = p.build
    if build.installer == "conda":
        raise UsageError("download fetches pip wheels; this plan uses conda",
                         "Add --installer pip (conda users can point conda at a local channel instead).")
    argv = pip_inst.download_argv(build, settings.build_request(args, sources), str(dest), python=sys.executable,
                                  platform_tag=None, python_version=py_version)
    for tag in tags or []:
        argv += ["--platform", tag]
    if tags:
        argv += ["--only-binary", ":all:"]
    render.message(f"downloading torch {build.torch} {build.variant} wheels into {dest}", "title")
    _run_with_retry(argv, pip_inst.pip_env(), False, "pip download", index_url=build.index_url)
    files = sorted(f for f in dest.iterdir() if f.suffix in (".whl", ".gz", ".zip"))
    listing = {"schema": "pybootstrap.wheelhouse/1", "build": build.to_dict(),
               "files": {f.name: file_sha256(f) for f in files}}
    (dest / WHEELHOUSE_LISTING).write_text(json.dumps(listing, indent=2), encoding="utf-8")
    run.document["files"] = listing["files"]
    run.document["to"] = str(dest)
    render.message(f"{len(files)} file(s) in {dest}; install with: pybootstrap install --offline --find-links {dest}",
                   "ok")
    return int(ExitCode.OK)


def check_wheelhouse(folders: List[str]) -> None:
    """Offline installs: a folder filled by `download` must still hold exactly the files it listed."""
    import json

    from pybootstrap._download import file_sha256

    for folder in folders:
        listing_path = Path(folder) / WHEELHOUSE_LISTING
        if not listing_path.is_file():
            continue
        try:
            listing = json.loads(listing_path.read_text(encoding="utf-8"))
        except ValueError:
            raise IntegrityError(f"{listing_path} is not valid JSON", "Run `pybootstrap download` again.") from None
        for name, digest in (listing.get("files") or {}).items():
            path = Path(folder) / name
            if not path.is_file():
                raise IntegrityError(f"{path} is missing from the wheel folder", "Run `pybootstrap download` again.")
            if file_sha256(path) != digest:
                raise IntegrityError(f"{path} does not match the checksum recorded when it was downloaded",
                                     "The file changed or is damaged; run `pybootstrap download` again.")


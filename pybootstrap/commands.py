"""The commands: only here is the order of the steps known (detect -> manifest -> plan -> install -> verify -> log)."""

from __future__ import annotations

import dataclasses
import re
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

from pybootstrap import _subprocess, render, settings
from pybootstrap.errors import EnvironmentProblem, ExitCode, PybootstrapError, UsageError, path_problem
from pybootstrap.hardware import Hardware, apply_overrides, detect
from pybootstrap.manifest import Manifest
from pybootstrap.planner import Plan, plan, summarize_rejections

# --- shared steps -----------------------------------------------------------------------------

def _setup(args: Any) -> None:
    render.set_verbosity(getattr(args, "verbose", 0) or 0, getattr(args, "quiet", 0) or 0)


def _manifest(args: Any, environ: Optional[Dict[str, str]] = None) -> Manifest:
    """--manifest, else the manifest channel (or its cached copy), else the embedded manifest."""
    channel = getattr(args, "manifest_channel", None)
    if not channel:  # the channel's HTTP and cache code is loaded only when a channel is set
        from pybootstrap.manifest import load_manifest

        return load_manifest(getattr(args, "manifest", None))
    from pybootstrap.manifest_channel import resolve_manifest

    return resolve_manifest(getattr(args, "manifest", None), channel, offline=bool(getattr(args, "offline", False)),
                            cache_dir=settings.home_dir(environ) / "cache")


def _hardware(args: Any, sources: Dict[str, str], manifest: Manifest, python_version: Optional[str] = None) -> Hardware:
    """detect (or read --nvidia-smi-file), then the what-if flags."""
    what_if = dict(
        os_name=settings.parse_os(getattr(args, "os", None), sources),
        arch=settings.parse_arch(getattr(args, "arch", None), sources),
        python_version=settings.parse_python_version(getattr(args, "python_version", None), sources),
        driver=settings.parse_driver(getattr(args, "driver", None), sources),
        gpu_names=tuple(getattr(args, "gpu", None) or ()),
        capabilities=settings.parse_capabilities(getattr(args, "compute_capability", None), sources),
        no_gpu=bool(getattr(args, "no_gpu", False)))
    if what_if["no_gpu"] and (what_if["gpu_names"] or what_if["capabilities"]):
        raise UsageError("--no-gpu contradicts --gpu / --compute-capability", "Give one or the other.")
    if what_if["capabilities"] and what_if["gpu_names"] and len(what_if["capabilities"]) > len(what_if["gpu_names"]):
        raise UsageError("more --compute-capability values than --gpu names",
                         "Give one --compute-capability per --gpu, in the same order.")
    smi_file = getattr(args, "nvidia_smi_file", None)
    hw = detect(manifest, smi_file=smi_file, python_version=python_version, read_table=False,
                list_other=not (what_if["gpu_names"] or what_if["capabilities"] or what_if["no_gpu"]))
    return apply_overrides(hw, manifest, **what_if)


def _unsupported_platform(hw: Hardware) -> None:
    if hw.os not in ("windows", "linux"):
        raise EnvironmentProblem(f"unsupported operating system: {hw.os}",
                                 "pybootstrap installs PyTorch on Windows and Linux. On macOS, "
                                 "`pip install torch` gives the build with Apple GPU (MPS) support.")
    if hw.arch not in ("x86_64", "arm64"):
        raise EnvironmentProblem(f"unsupported architecture: {hw.arch}",
                                 "PyTorch publishes wheels for x86_64 (64-bit) and arm64 only; on Windows use a "
                                 "64-bit Python on 64-bit Windows.")


WHEELHOUSE_LISTING = "pybootstrap-wheelhouse.json"  # written by `download`, read by `install --offline`


def _plan(args: Any, sources: Dict[str, str], manifest: Manifest, hw: Hardware) -> Plan:
    request = settings.build_request(args, sources)
    _unsupported_platform(hw)
    request, note = _offline_defaults(request)
    from pybootstrap.installers import build_commands

    result = plan(manifest, hw, request, commands=build_commands)
    return result.with_reasons(note) if note else result


def _offline_defaults(request: Any) -> Any:
    """Offline, without --torch/--variant: plan the build that `download` put in the wheel folder."""
    if not request.offline or request.torch or request.variant:
        return request, None
    import json

    for folder in request.find_links:
        try:
            build = json.loads((Path(folder) / WHEELHOUSE_LISTING).read_text(encoding="utf-8")).get("build") or {}
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(build.get("torch"), str) and isinstance(build.get("variant"), str):
            note = (f"offline: torch {build['torch']} {build['variant']}, the build `pybootstrap download` put in "
                    f"{folder}")
            return dataclasses.replace(request, torch=build["torch"], variant=build["variant"]), note
    return request, None


def _detect_doc(hw: Hardware) -> Dict[str, Any]:
    return {"schema": "pybootstrap.detect/1", **hw.to_dict()}


def _plan_doc(p: Plan) -> Dict[str, Any]:
    return {"schema": "pybootstrap.plan/1", **p.to_dict()}


def _show_hardware(hw: Hardware) -> None:
    render.message("Machine", "title")
    render.kv("  OS / arch", f"{hw.os} {hw.arch}")
    render.kv("  Python", hw.python_version)
    render.kv("  driver", f"{hw.driver_version} (CUDA {hw.cuda_version or '?'})" if hw.driver_version else None)
    for gpu in hw.gpus:
        name = gpu.name or "(name not shown)"
        render.kv(f"  GPU {gpu.index}", f"{name} (compute capability {gpu.cc_text() or 'unknown'}"
                  + (f", {gpu.memory_mib} MiB" if gpu.memory_mib else "") + ")")
    for gpu in hw.other_adapters:
        render.kv("  adapter", f"{gpu.name} ({gpu.vendor}; not usable by CUDA)")
    for note in hw.notes:
        render.message(f"  note: {note}", "dim")
    if hw.error:
        render.message(f"  {hw.error.message}", "warn")
        render.message(f"  {hw.error.advice}", "warn")


def _show_manifest(info: Mapping[str, Any]) -> None:
    render.message(f"  manifest: {info['source']} ({info['detail']})"
                   + (f", facts of {info['updated']}" if info.get("updated") else ""), "dim")


def _show_plan(p: Plan) -> None:
    if p.status != "ok":
        render.message("No compatible build", "error")
        render.lines(p.reasons, "warn")
        render.lines(summarize_rejections(p), "dim")
        if p.advice:
            render.message(f"  what to do: {p.advice}", "warn")
        _show_manifest(p.manifest)
        return
    b = p.build
    render.message(f"Plan: torch {b.torch} {b.variant} via {b.installer}", "ok")
    render.lines(p.reasons)
    _show_manifest(p.manifest)
    rejected = summarize_rejections(p, limit=6 if render.verbosity() <= 0 else 100)
    if rejected:
        render.message("  not chosen:", "dim")
        render.lines(rejected, "dim", prefix="    ")
    render.message("Commands:", "title")
    for command in p.commands:
        render.message("  " + " ".join(_quote(a) for a in command))


def _quote(arg: str) -> str:
    return f'"{arg}"' if (" " in arg or not arg) else arg


# --- detect / plan ----------------------------------------------------------------------------

def run_detect(args: Any, sources: Dict[str, str], environ: Dict[str, str]) -> int:
    """pybootstrap detect."""
    _setup(args)
    manifest = _manifest(args, environ)
    hw = detect(manifest, smi_file=getattr(args, "nvidia_smi_file", None))
    if args.json:
        render.document(_detect_doc(hw))
    else:
        _show_hardware(hw)
        if not hw.nvidia_gpus:
            render.message("No usable NVIDIA GPU: the CPU build of PyTorch will be chosen.", "warn")
    return int(ExitCode.OK)


def _target_python_version(args: Any, sources: Dict[str, str], environ: Dict[str, str]) -> Optional[str]:
    """The Python version of an existing target (so plan matches what install will do)."""
    if not any(getattr(args, dest, None) for dest in ("python", "venv", "conda_prefix")):
        return None
    from pybootstrap import environments  # a plain plan never needs it

    if getattr(args, "python", None):
        info = environments.interpreter_info(args.python)
        return info["version"] if info else None
    for dest in ("venv", "conda_prefix"):
        if getattr(args, dest, None):
            python = environments.python_in(Path(getattr(args, dest)).expanduser(), conda=dest == "conda_prefix")
            if python.exists():
                info = environments.interpreter_info(str(python))
                return info["version"] if info else None
    return None


def run_plan(args: Any, sources: Dict[str, str], environ: Dict[str, str]) -> int:
    """pybootstrap plan."""
    _setup(args)
    manifest = _manifest(args, environ)
    hw = _hardware(args, sources, manifest, _target_python_version(args, sources, environ))
    p = _plan(args, sources, manifest, hw)
    if args.json:
        render.document(_plan_doc(p))
    else:
        _show_hardware(hw)
        _show_plan(p)
    return int(ExitCode.OK if p.status == "ok" else ExitCode.NO_COMPATIBLE_BUILD)


# --- the log around install / verify / download ------------------------------------------------

class _Run:
    """Collects what a logged command did, so the log is written whatever happens."""

    def __init__(self, command: str, args: Any, sources: Dict[str, str], environ: Dict[str, str]) -> None:
        self.command = command
        self.args = args
        self.home = settings.home_dir(environ)
        self.started = report_now()
        self.t0 = time.monotonic()
        self.timings: Dict[str, float] = {}
        self.document: Dict[str, Any] = {"schema": f"pybootstrap.{command}/1"}
        self.settings = settings.describe_sources(sources, args)
        _subprocess.COMMAND_LOG.results.clear()

    def step(self, name: str) -> "_Step":
        """Time one step: `with run.step("install"): ...`."""
        return _Step(self.timings, name)

    def write(self, exit_code: int, error: Optional[Dict[str, Any]] = None, tb: Optional[str] = None) -> Optional[Path]:
        from pybootstrap import report

        self.timings["total"] = time.monotonic() - self.t0
        argv = list(getattr(self.args, "argv", sys.argv[1:]))
        log = report.build_log(self.document, started=self.started, command=self.command, argv=argv,
                               commands=[r.to_dict() for r in _subprocess.COMMAND_LOG.results],
                               settings=self.settings, timings=self.timings, error=error, exit_code=exit_code,
                               traceback_text=tb)
        try:
            return report.write_log(log, home=self.home, explicit=getattr(self.args, "log", None))
        except OSError as exc:  # shown even with -q: a fleet relies on the log
            render.message(f"error: could not write the log ({exc.strerror or exc}: {exc.filename or ''}); "
                           "choose a writable --log FILE or PYBOOTSTRAP_HOME", "error")
            return None


class _Step:
    """A context manager adding the time spent inside it to timings[name]."""

    def __init__(self, timings: Dict[str, float], name: str) -> None:
        self.timings, self.name, self.start = timings, name, 0.0

    def __enter__(self) -> None:
        self.start = time.monotonic()

    def __exit__(self, *exc: Any) -> None:
        self.timings[self.name] = self.timings.get(self.name, 0.0) + time.monotonic() - self.start


def report_now() -> str:
    from pybootstrap.report import now

    return now()


def _logged(command: str, body: Any, args: Any, sources: Dict[str, str], environ: Dict[str, str]) -> int:
    """Run body(run) and write the log in every case: success, error, bug, Ctrl+C."""
    run = _Run(command, args, sources, environ)
    try:
        try:
            code = int(body(run))
        except OSError as exc:  # a folder or file pybootstrap cannot use: an environment problem, exit 8
            raise path_problem(exc) from None
        path = run.write(code)
        _announce_log(path, args, run)
        return code
    except PybootstrapError as exc:
        path = run.write(int(exc.exit_code), exc.to_dict())
        if path:
            exc.advice = (exc.advice + " " if exc.advice else "") + f"(log: {path})"
        if getattr(args, "json", False):  # the command's own document, with the error in it
            render.document(dict(run.document, log_path=str(path) if path else None, error=exc.to_dict()))
            exc.document_printed = True
        raise
    except KeyboardInterrupt:
        error = {"kind": "interrupted", "message": "interrupted (Ctrl+C)", "advice": "Run the same command again.",
                 "exit_code": 130}
        path = run.write(int(ExitCode.INTERRUPTED), error)
        render.message(f"interrupted; log: {path}", "error")
        if getattr(args, "json", False):
            render.document(dict(run.document, log_path=str(path) if path else None, error=error))
        return int(ExitCode.INTERRUPTED)
    except Exception as exc:
        import traceback

        tb = traceback.format_exc()
        path = run.write(int(ExitCode.INTERNAL), {"kind": "internal", "message": f"{type(exc).__name__}: {exc}",
                                                  "advice": "report this bug with the log", "exit_code": 1}, tb)
        render.message(f"log: {path}", "error")
        raise


def _announce_log(path: Optional[Path], args: Any, run: _Run) -> None:
    run.document["log_path"] = str(path) if path else None
    if getattr(args, "json", False):
        render.document(dict(run.document))
    elif path is not None:
        render.message(f"log: {path}", "dim")


# --- install / download (pybootstrap.install; imported only for those commands) ---------------

def run_install(args: Any, sources: Dict[str, str], environ: Dict[str, str]) -> int:
    """pybootstrap install."""
    from pybootstrap import install

    return install.run_install(args, sources, environ)


def run_download(args: Any, sources: Dict[str, str], environ: Dict[str, str]) -> int:
    """pybootstrap download --to DIR."""
    from pybootstrap import install

    return install.run_download(args, sources, environ)


# --- verify -----------------------------------------------------------------------------------

def _verify_target(python: str, hw: Hardware, expected: Optional[Dict[str, Any]], manifest: Manifest) -> Any:
    from pybootstrap.verify import judge, run_probe

    return judge(run_probe(python), hw, expected, manifest, python)


def _show_verification(ver: Any) -> None:
    level = {"ok": "ok", "degraded": "warn", "failed": "error"}[ver.status]
    render.message(f"Verification: {ver.status}", level)
    for check in ver.checks:
        render.message(f"  [{check.status}] {check.name}: {check.detail}",
                       "dim" if check.status != "fail" else "error")
    for finding in ver.diagnosis:
        render.message(f"  {finding.kind}: {finding.message}", "warn")
        render.message(f"    what to do: {finding.advice}", "warn")


def run_verify(args: Any, sources: Dict[str, str], environ: Dict[str, str]) -> int:
    """pybootstrap verify."""
    _setup(args)
    return _logged("verify", lambda run: _verify(run, args, sources, environ), args, sources, environ)


def _verify(run: _Run, args: Any, sources: Dict[str, str], environ: Dict[str, str]) -> int:
    from pybootstrap import environments

    with run.step("manifest"):
        manifest = _manifest(args, environ)
    with run.step("detect"):  # before the target: a failed verify's log still says what the machine is
        hw = detect(manifest, smi_file=getattr(args, "nvidia_smi_file", None))
    run.document["hardware"] = hw.to_dict()
    with run.step("target"):
        target = environments.resolve_target(args, sources, run.home, environ)
    run.document["target"] = target.to_dict()
    if not target.python.exists():
        raise EnvironmentProblem(f"no environment at {target.prefix}",
                                 "Give --venv/--python/--conda-env of an existing environment, or run "
                                 "`pybootstrap install` first.")
    expected = None
    state = environments.read_state(target.prefix)
    if getattr(args, "torch", None) or getattr(args, "variant", None):
        torch = settings.parse_torch(args.torch, sources)
        variant = settings.parse_variant(args.variant, None, sources)
        expected = {"torch": torch, "variant": variant,
                    "cuda": _cuda_of(variant)}
    elif state and state.get("build"):
        expected = state["build"]
    with run.step("verify"):
        ver = _verify_target(str(target.python), hw, expected, manifest)
    run.document.update({"schema": "pybootstrap.verify/1", **ver.to_dict(), "hardware": hw.to_dict(),
                         "target": target.to_dict(), "expected": expected})
    if not args.json:
        _show_verification(ver)
    if ver.status == "ok" and state and state.get("status") == "installing":
        render.message("note: the last install into this environment did not finish; it is not marked good", "warn")
    return int(ExitCode.OK if ver.status == "ok" else ExitCode.VERIFY_FAILED)


def _cuda_of(variant: Optional[str]) -> Optional[str]:
    if variant and re.fullmatch(r"cu\d{3}", variant):
        return f"{variant[2:4]}.{variant[4:]}"
    if variant and re.fullmatch(r"cu\d{2}", variant):
        return f"{variant[2]}.{variant[3]}"
    return None


# --- diagnose / manifest ----------------------------------------------------------------------

def run_diagnose(args: Any, sources: Dict[str, str], environ: Dict[str, str]) -> int:
    """pybootstrap diagnose FILE."""
    from pybootstrap.diagnose import diagnose_text

    _setup(args)
    try:
        raw = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {args.file}: {exc.strerror or exc}", "Give a file path, or - for stdin.") \
            from None
    text = _subprocess.decode_output(raw)
    try:
        manifest: Optional[Manifest] = _manifest(args, environ)
    except PybootstrapError:
        manifest = None
    findings = diagnose_text(text, manifest)
    from pybootstrap import nvidia_smi

    smi = nvidia_smi.parse_any(text)
    doc: Dict[str, Any] = {"schema": "pybootstrap.diagnose/1", "findings": [f.to_dict() for f in findings]}
    if smi.form in ("table", "csv", "list"):
        doc["nvidia_smi"] = {"form": smi.form, "driver_version": smi.driver_version, "cuda_version": smi.cuda_version,
                             "gpus": [g.name for g in smi.gpus], "mig_devices": smi.mig_devices}
    if args.json:
        render.document(doc)
    else:
        if "nvidia_smi" in doc:
            s = doc["nvidia_smi"]
            render.message(f"nvidia-smi output: driver {s['driver_version']}, CUDA {s['cuda_version']}, "
                           f"GPUs: {', '.join(s['gpus']) or 'none'}", "title")
        for f in findings:
            render.message(f"{f.kind}: {f.message}", "warn" if f.kind != "unknown" else "info")
            render.message(f"  what to do: {f.advice}")
    return int(ExitCode.OK)


def run_manifest(args: Any, sources: Dict[str, str], environ: Dict[str, str]) -> int:
    """pybootstrap manifest validate|show|check."""
    _setup(args)
    source = getattr(args, "source", None)
    if source:
        from pybootstrap.manifest import load_manifest

        manifest = load_manifest(source)
    else:
        manifest = _manifest(args, environ)
    if args.manifest_command == "check":
        return _check_manifest(args, manifest)
    if args.manifest_command == "validate":
        doc = {"schema": "pybootstrap.manifest-validate/1", "valid": True, "origin": manifest.origin,
               "schema_version": manifest.schema_version, "releases": len(manifest.releases),
               "newest": str(manifest.releases[0].torch), "oldest": str(manifest.releases[-1].torch),
               "manifest": manifest.describe()}
        if args.json:
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
    if args.json:
        render.document({"schema": "pybootstrap.manifest-show/1", "origin": manifest.origin,
                         "manifest": manifest.describe(), "builds": rows})
    else:
        _show_manifest(manifest.describe())
        current = None
        for row in rows:
            if row["torch"] != current:
                current = row["torch"]
                render.message(f"torch {current}  (torchvision {row['torchvision'] or '-'}, torchaudio "
                               f"{row['torchaudio'] or '-'}; matrix {row['matrix']})", "title")
            plats = "; ".join(f"{k} {'/'.join(v)}" for k, v in row["platforms"].items())
            render.message(f"  {row['variant']:<10} {plats:<36} {row['archs'].get('linux') or ''}")
    return int(ExitCode.OK)


def _check_manifest(args: Any, manifest: Manifest) -> int:
    """pybootstrap manifest check: exit 0 when the manifest and the indexes agree, 7 when they do not."""
    from pybootstrap import manifest_check

    report = manifest_check.check_manifest(
        manifest, index_base=getattr(args, "index_base", None),
        pypi_base=getattr(args, "pypi_base", None) or manifest_check.DEFAULT_PYPI_BASE)
    code = ExitCode.OK if report.agree else ExitCode.INVALID_MANIFEST
    if args.json:
        render.document({"schema": "pybootstrap.manifest-check/1", **report.to_dict(),
                         "manifest": manifest.describe(), "exit_code": int(code)})
        return int(code)
    _show_manifest(manifest.describe())
    render.message(f"  index: {report.index_base} ({report.listings_read} listings read); PyPI: {report.pypi_base}",
                   "dim")
    titles = {"missing": ("The manifest promises what the index does not have:", "error"),
              "mismatch": ("Companions that disagree with their wheels' Requires-Dist:", "error"),
              "addition": ("On the index but not in the manifest (add them):", "warn"),
              "note": ("Notes:", "dim")}
    for kind, (title, level) in titles.items():
        found = report.of_kind(kind)
        if found:
            render.message(title, level)
            render.lines([f.message for f in found], "info" if kind != "note" else "dim")
    if report.agree:
        render.message("The manifest and the indexes agree.", "ok")
    else:
        render.message("The manifest and the indexes differ: edit manifests/pytorch.json (README, 'Add a PyTorch "
                       "release'), then run `pybootstrap manifest check` again.", "error")
    return int(code)

"""The steps several commands share: load the manifest, detect the hardware (with the what-if flags), plan with
the exact commands. Each takes settings and values and returns a value; the order in which steps run is known
only to pybootstrap.commands."""

from __future__ import annotations

from typing import Any, Dict, Optional

from pybootstrap import environments
from pybootstrap.errors import EnvironmentProblem
from pybootstrap.hardware import apply_overrides, detect
from pybootstrap.installers import build_commands
from pybootstrap.machine import Hardware
from pybootstrap.manifest_model import Manifest
from pybootstrap.plan_model import Plan, Request
from pybootstrap.planner import plan
from pybootstrap.settings import Settings, TargetChoice


def manifest_of(config: Settings) -> Manifest:
    """--manifest, else the manifest channel (or its cached copy), else the manifest shipped with the package."""
    if not config.manifest_channel:  # the channel's HTTP and cache code is loaded only when a channel is set
        from pybootstrap.manifest import load_manifest

        return load_manifest(config.manifest)
    from pybootstrap.manifest_channel import resolve_manifest

    return resolve_manifest(config.manifest, config.manifest_channel, offline=config.request.offline,
                            cache_dir=config.home / "cache")


def hardware_of(config: Settings, manifest: Manifest, python_version: Optional[str] = None) -> Hardware:
    """This machine (or --nvidia-smi-file), then the what-if flags on top."""
    w = config.what_if
    hw = detect(manifest, smi_file=config.smi_file, python_version=python_version, read_table=False,
                list_other=not w.replaces_gpus)
    return apply_overrides(hw, manifest, os_name=w.os_name, arch=w.arch, python_version=w.python_version,
                           driver=w.driver, gpu_names=w.gpu_names, capabilities=w.capabilities, no_gpu=w.no_gpu)


def refuse_unsupported_platform(hw: Hardware) -> None:
    """pybootstrap installs on Windows and Linux, x86_64 and arm64 (exit 8 elsewhere)."""
    if hw.os not in ("windows", "linux"):
        raise EnvironmentProblem(f"unsupported operating system: {hw.os}",
                                 "pybootstrap installs PyTorch on Windows and Linux. On macOS, "
                                 "`pip install torch` gives the build with Apple GPU (MPS) support.")
    if hw.arch not in ("x86_64", "arm64"):
        raise EnvironmentProblem(f"unsupported architecture: {hw.arch}",
                                 "PyTorch publishes wheels for x86_64 (64-bit) and arm64 only; on Windows use a "
                                 "64-bit Python on 64-bit Windows.")


def plan_of(request: Request, manifest: Manifest, hw: Hardware) -> Plan:
    """The plan for this request and machine, with the exact commands that install its build."""
    refuse_unsupported_platform(hw)
    note = None
    if request.offline:  # the wheel folder's module hashes files: loaded only when there is a folder to read
        from pybootstrap import wheelhouse

        request, note = wheelhouse.offline_defaults(request)
    result = plan(manifest, hw, request, commands=build_commands)
    return result.with_reasons(note) if note else result


def plan_document(p: Plan) -> Dict[str, Any]:
    """The plan document of CONTRACT.md."""
    return {"schema": "pybootstrap.plan/1", **p.to_dict()}


def target_python_version(choice: TargetChoice) -> Optional[str]:
    """The Python version of an existing target given on the command line (so plan matches what install does)."""
    if choice.python is not None:
        info = environments.interpreter_info(str(choice.python))
        return info.version if info else None
    for prefix, conda in ((choice.venv, False), (choice.conda_prefix, True)):
        if prefix is not None:
            python = environments.python_in(prefix, conda=conda)
            if python.exists():
                info = environments.interpreter_info(str(python))
                return info.version if info else None
    return None


"""The CLI frame: every contract command and flag, exit codes, bad input, env fallbacks, cheap start-up."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from pybootstrap import cli, commands
from pybootstrap.errors import (
    EnvironmentProblem,
    ExitCode,
    InstallError,
    IntegrityError,
    ManifestError,
    NetworkError,
    NoCompatibleBuildError,
    PybootstrapError,
    UsageError,
    VerificationError,
)

# CONTRACT.md: the flags each command must list in --help.
OUTPUT = ["--json", "-v", "--verbose", "-q", "--quiet"]
HARDWARE = ["--nvidia-smi-file"]
WHAT_IF = ["--os", "--arch", "--python-version", "--driver", "--gpu", "--compute-capability", "--no-gpu"]
SELECTION = ["--torch", "--variant", "--cuda", "--installer", "--packages"]
SOURCES = ["--manifest", "--index-url", "--mirror", "--find-links", "--offline"]
TARGET = ["--venv", "--python", "--conda-env", "--conda-prefix", "--conda-exe", "--log"]

CONTRACT_FLAGS = {
    "detect": OUTPUT + HARDWARE + ["--manifest"],
    "plan": OUTPUT + HARDWARE + WHAT_IF + SELECTION + SOURCES,
    "install": OUTPUT + HARDWARE + WHAT_IF + SELECTION + SOURCES + TARGET + ["--dry-run"],
    "verify": OUTPUT + ["--venv", "--python", "--conda-env", "--conda-prefix", "--conda-exe", "--log"],
    "download": OUTPUT + HARDWARE + WHAT_IF + SELECTION + SOURCES + ["--to"],
    "diagnose": OUTPUT,
    "manifest validate": OUTPUT,
    "manifest show": OUTPUT,
}


def _subparser(path: str):
    parser = cli.build_parser()
    for word in path.split():
        action = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
        parser = action.choices[word]
    return parser


@pytest.mark.parametrize("command", sorted(CONTRACT_FLAGS), ids=lambda c: c.replace(" ", "-"))
def test_help_lists_every_contract_flag(command: str, capsys: pytest.CaptureFixture) -> None:
    code = cli.main(command.split() + ["--help"])
    out = capsys.readouterr().out
    assert code == 0
    for flag in CONTRACT_FLAGS[command]:
        assert f" {flag}" in out or f"[{flag}" in out, f"{command} --help lacks {flag}"


def test_every_contract_command_exists() -> None:
    parser = cli.build_parser()
    action = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    assert set(action.choices) == {"detect", "plan", "install", "verify", "download", "diagnose", "manifest"}
    for command in action.choices:
        assert hasattr(commands, "run_" + command), f"no handler for {command}"


@pytest.mark.parametrize("error, code", [
    (UsageError, 2), (NoCompatibleBuildError, 3), (InstallError, 4), (VerificationError, 5), (NetworkError, 6),
    (ManifestError, 7), (EnvironmentProblem, 8), (IntegrityError, 9), (PybootstrapError, 1),
], ids=lambda v: getattr(v, "__name__", str(v)))
def test_error_classes_map_to_contract_exit_codes(error, code, monkeypatch, capsys) -> None:
    def boom(args, sources, environ):
        raise error("it broke", "do this")

    monkeypatch.setattr(commands, "run_detect", boom)
    assert cli.main(["detect"]) == code
    err = capsys.readouterr().err
    assert "error: it broke" in err and "what to do: do this" in err
    assert "Traceback" not in err


def test_exit_code_values_are_the_contract_table() -> None:
    assert {c.name: int(c) for c in ExitCode} == {
        "OK": 0, "INTERNAL": 1, "USAGE": 2, "NO_COMPATIBLE_BUILD": 3, "INSTALL_FAILED": 4, "VERIFY_FAILED": 5,
        "NETWORK": 6, "INVALID_MANIFEST": 7, "ENVIRONMENT": 8, "INTEGRITY": 9, "BUSY": 10, "INTERRUPTED": 130}


def test_error_with_json_prints_one_error_document(monkeypatch, capsys) -> None:
    def boom(args, sources, environ):
        raise NetworkError("index unreachable", "check the proxy")

    monkeypatch.setattr(commands, "run_plan", boom)
    assert cli.main(["plan", "--json"]) == 6
    doc = json.loads(capsys.readouterr().out)
    assert doc == {"schema": "pybootstrap.error/1", "error": {"kind": "network", "message": "index unreachable",
                                                              "advice": "check the proxy", "exit_code": 6}}


def test_a_bug_is_exit_1_without_traceback_unless_verbose(monkeypatch, capsys) -> None:
    def bug(args, sources, environ):
        raise ZeroDivisionError("oops")

    monkeypatch.setattr(commands, "run_detect", bug)
    assert cli.main(["detect"]) == 1
    err = capsys.readouterr().err
    assert "internal error: ZeroDivisionError: oops" in err and "Traceback" not in err
    assert cli.main(["detect", "-v"]) == 1
    assert "Traceback" in capsys.readouterr().err


def test_ctrl_c_is_exit_130(monkeypatch, capsys) -> None:
    def interrupted(args, sources, environ):
        raise KeyboardInterrupt

    monkeypatch.setattr(commands, "run_plan", interrupted)
    assert cli.main(["plan"]) == 130


@pytest.mark.parametrize("argv, fragment", [
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    (["plan", "--driver", "abc"], "--driver 'abc': expected an NVIDIA driver version"),
    (["plan", "--python-version", "three"], "--python-version 'three': expected a Python version"),
    (["plan", "--compute-capability", "x.y"], "--compute-capability 'x.y': expected a compute capability"),
    (["plan", "--os", "solaris"], "--os 'solaris': expected windows or linux"),
    (["plan", "--arch", "sparc"], "--arch 'sparc': expected x86_64 or arm64"),
    (["plan", "--torch", "two"], "--torch 'two': expected a version"),
    (["plan", "--variant", "gpu"], "--variant 'gpu': expected cpu, cuXYZ"),
    (["plan", "--cuda", "twelve"], "--cuda 'twelve': expected a CUDA version"),
    (["plan", "--installer", "npm"], "--installer 'npm': expected pip or conda"),
    (["plan", "--packages", "torch,numpy"], "--packages 'torch,numpy': expected a comma-separated subset"),
    (["plan", "--no-such-flag"], "unrecognized arguments: --no-such-flag"),
    (["plan", "--index-url", "not a url"], "--index-url 'not a url': expected a URL"),
    (["download"], "download needs --to DIR"),
], ids=lambda v: " ".join(v) if isinstance(v, list) else None)
def test_bad_input_is_a_usage_error(argv, fragment, capsys) -> None:
    assert cli.main(argv + ["--nvidia-smi-file", "/dev/null"] if argv[0] in ("plan",) else argv) == 2
    captured = capsys.readouterr()
    assert fragment in captured.err
    assert "Traceback" not in captured.err
    assert captured.out == ""


@pytest.mark.parametrize("name, value, fragment", [
    ("PYBOOTSTRAP_DRIVER", "abc", "PYBOOTSTRAP_DRIVER='abc': expected an NVIDIA driver version"),
    ("PYBOOTSTRAP_OS", "beos", "PYBOOTSTRAP_OS='beos': expected windows or linux"),
    ("PYBOOTSTRAP_OFFLINE", "maybe", "PYBOOTSTRAP_OFFLINE='maybe': expected 1/true/yes or 0/false/no"),
])
def test_bad_environment_values_are_usage_errors(name, value, fragment, capsys) -> None:
    assert cli.main(["plan", "--no-gpu"], environ={name: value}) == 2
    assert fragment in capsys.readouterr().err


def test_environment_variables_fill_flags_and_flags_win(capsys) -> None:
    env = {"PYBOOTSTRAP_OS": "windows", "PYBOOTSTRAP_PYTHON_VERSION": "3.12", "PYBOOTSTRAP_DRIVER": "576.02",
           "PYBOOTSTRAP_GPU": "NVIDIA GeForce RTX 5090", "PYBOOTSTRAP_TORCH": "2.10"}
    assert cli.main(["plan", "--json"], environ=env) == 0
    doc = json.loads(capsys.readouterr().out)
    assert (doc["build"]["torch"], doc["build"]["variant"]) == ("2.10.0", "cu128")
    assert doc["hardware"]["os"] == "windows" and doc["hardware"]["driver_version"] == "576.02"
    assert cli.main(["plan", "--json", "--torch", "2.9"], environ=env) == 0
    assert json.loads(capsys.readouterr().out)["build"]["torch"] == "2.9.1"


def test_json_output_is_one_document_and_messages_go_to_stderr(capsys) -> None:
    assert cli.main(["plan", "--json", "--no-gpu", "--os", "linux", "--python-version", "3.12"]) == 0
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert doc["schema"] == "pybootstrap.plan/1"
    for key in ("status", "build", "commands", "reasons", "rejected", "hardware"):
        assert key in doc
    assert doc["build"]["index_url"] == "https://download.pytorch.org/whl/cpu"


def test_no_command_prints_help_and_exit_2(capsys) -> None:
    assert cli.main([]) == 2
    assert "COMMAND" in capsys.readouterr().err


def test_version_flag(capsys) -> None:
    assert cli.main(["--version"]) == 0
    from pybootstrap import __version__

    assert capsys.readouterr().out.strip() == f"pybootstrap {__version__}"


@pytest.mark.parametrize("argv", [["--version"], ["plan", "--json", "--no-gpu"], ["detect", "--json"]],
                         ids=["version", "plan", "detect"])
def test_startup_does_not_import_requests(argv) -> None:
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "pybootstrap", *argv],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    imported = {line.split("|")[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")}
    assert "pybootstrap" in imported
    assert not {m for m in imported if m == "requests" or m.startswith("requests.")}


def test_module_entry_point_runs() -> None:
    result = subprocess.run([sys.executable, "-m", "pybootstrap", "plan", "--json", "--no-gpu"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert json.loads(result.stdout)["schema"] == "pybootstrap.plan/1"

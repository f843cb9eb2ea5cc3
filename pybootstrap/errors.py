"""One error hierarchy, mapped to the exit codes of CONTRACT.md."""

from __future__ import annotations

from enum import IntEnum
from typing import Dict, Optional, Union

ErrorDict = Dict[str, Union[str, int, None]]


class ExitCode(IntEnum):
    """Exit codes shared by pybootstrap and bootstrap.ps1 (CONTRACT.md)."""

    OK = 0
    INTERNAL = 1
    USAGE = 2
    NO_COMPATIBLE_BUILD = 3
    INSTALL_FAILED = 4
    VERIFY_FAILED = 5
    NETWORK = 6
    INVALID_MANIFEST = 7
    ENVIRONMENT = 8
    INTEGRITY = 9
    BUSY = 10
    INTERRUPTED = 130


class PybootstrapError(Exception):
    """Base error: a message saying what failed, and advice saying what to do next."""

    exit_code: ExitCode = ExitCode.INTERNAL
    kind: str = "internal"

    def __init__(self, message: str, advice: Optional[str] = None) -> None:
        super().__init__(message)
        self.message = message
        self.advice = advice
        self.document_printed = False  # set once the command printed its own --json document with this error

    def to_dict(self) -> ErrorDict:
        """The error as the JSON object used in documents and logs."""
        return {"kind": self.kind, "message": self.message, "advice": self.advice,
                "exit_code": int(self.exit_code)}


class UsageError(PybootstrapError):
    """A bad flag or value."""

    exit_code = ExitCode.USAGE
    kind = "usage"


class NoCompatibleBuildError(PybootstrapError):
    """No build satisfies the machine and the constraints."""

    exit_code = ExitCode.NO_COMPATIBLE_BUILD
    kind = "no-compatible-build"


class InstallError(PybootstrapError):
    """pip, conda or venv creation failed."""

    exit_code = ExitCode.INSTALL_FAILED
    kind = "install-failed"


class NetworkError(PybootstrapError):
    """A download or index could not be reached, after retries."""

    exit_code = ExitCode.NETWORK
    kind = "network"


class ManifestError(PybootstrapError):
    """The manifest is missing, unreadable or invalid."""

    exit_code = ExitCode.INVALID_MANIFEST
    kind = "invalid-manifest"


class EnvironmentProblem(PybootstrapError):
    """No usable Python, an unsupported platform, or a bad install path."""

    exit_code = ExitCode.ENVIRONMENT
    kind = "environment"


class IntegrityError(PybootstrapError):
    """A checksum or signature did not match."""

    exit_code = ExitCode.INTEGRITY
    kind = "integrity"


class BusyError(PybootstrapError):
    """Another pybootstrap run holds this environment or home: retry later."""

    exit_code = ExitCode.BUSY
    kind = "busy"


class Interrupted(KeyboardInterrupt):
    """Ctrl+C, Ctrl+Break or SIGTERM: the run stops where it is, logs, and exits 130.

    A KeyboardInterrupt, so that everything which already cleans up after Ctrl+C (killing a running pip, the
    log of an interrupted run) does the same for a SIGTERM from a fleet agent.
    """

    def __init__(self, signal_name: str = "SIGINT") -> None:
        super().__init__(signal_name)
        self.signal_name = signal_name

    def describe(self) -> str:
        """'interrupted (Ctrl+C)' / 'interrupted (SIGTERM)'."""
        return "interrupted (Ctrl+C)" if self.signal_name == "SIGINT" else f"interrupted ({self.signal_name})"


def path_problem(exc: OSError) -> EnvironmentProblem:
    """A folder or file pybootstrap cannot use (permissions, a file where a folder should be): exit 8."""
    return EnvironmentProblem(f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": "),
                              "Check the path and its permissions, or choose another folder "
                              "(--venv, --to, --log, PYBOOTSTRAP_HOME).")

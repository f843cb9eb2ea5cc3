"""One error hierarchy, mapped to the exit codes of CONTRACT.md."""

from __future__ import annotations

from enum import IntEnum
from typing import Any, Dict, Optional


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

    def to_dict(self) -> Dict[str, Any]:
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


class VerificationError(PybootstrapError):
    """Installed, but verification found it not working as planned."""

    exit_code = ExitCode.VERIFY_FAILED
    kind = "verification-failed"


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


def path_problem(exc: OSError) -> EnvironmentProblem:
    """A folder or file pybootstrap cannot use (permissions, a file where a folder should be): exit 8."""
    return EnvironmentProblem(f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": "),
                              "Check the path and its permissions, or choose another folder "
                              "(--venv, --to, --log, PYBOOTSTRAP_HOME).")

"""Running install commands (pip, conda): progress on the terminal, retries of transient network failures,
and each failure mapped to its exit code (6 network, 9 integrity, 8 a full disk, 4 anything else)."""

from __future__ import annotations

import sys
from typing import Callable, Mapping, Optional, Sequence

from pybootstrap import _subprocess, pip_outcome, render

STEP_PREFIXES = ("Collecting", "Downloading", "Installing collected", "Successfully", "Looking in", "ERROR",
                 "Requirement already", "Processing", "Uninstalling",  # pip
                 "Solving environment", "Preparing transaction", "Verifying transaction",
                 "Executing transaction")  # conda


def progress(interactive: bool) -> Optional[Callable[[str], None]]:
    """On a terminal pip draws its own progress (its stdout is ours); otherwise one concise line per step."""
    if interactive:
        def passthrough(line: str) -> None:  # pip's stderr: warnings and errors, as they come
            sys.stderr.write(line + "\n")
            sys.stderr.flush()
        return passthrough
    if render.verbosity() < 0:
        return None

    def concise(line: str) -> None:
        if line.startswith(STEP_PREFIXES) or render.verbosity() > 0:
            render.message("  " + line.strip(), "dim")
    return concise


def run_with_retry(argv: Sequence[str], env: Mapping[str, str], interactive: bool, label: str, *,
                   index_url: Optional[str] = None, timeout: float = 3600.0, folders: Sequence[str] = ()) -> None:
    """Run an install command with progress; another attempt only after a failure on the way (pip_outcome says
    which); the last failure raised as the error of its exit code. folders: where the command writes (named
    when the disk is full)."""
    stream = progress(interactive)

    def once() -> _subprocess.CommandResult:
        return _subprocess.run(argv, timeout=timeout, env=env, stream=stream,
                               inherit_stdout=interactive and stream is not None)

    def tell(why: str, attempt: int) -> None:
        render.message(f"  {why}; retrying ({attempt}/{pip_outcome.RETRIES})", "warn")

    pip_outcome.run_with_retries(once, label, index_url=index_url, folders=folders, on_retry=tell)


def raise_for(result: _subprocess.CommandResult, label: str, *, index_url: Optional[str] = None,
              folders: Sequence[str] = ()) -> None:
    """A failed command as the error of its exit code (6 network, 9 integrity, 8 a full disk, else 4)."""
    if not result.ok:
        raise pip_outcome.error_for(result, label, index_url=index_url, folders=folders)

"""The one wrapper around subprocess: a timeout, UTF-8 text, no shell, every call recorded."""

from __future__ import annotations

import locale
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, replace
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

from pybootstrap.redact import redact, redact_argv

TAIL_LINES = 40


@dataclass(frozen=True)
class CommandResult:
    """What one external command did."""

    argv: List[str]
    returncode: Optional[int]  # None: it could not start, or it timed out
    stdout: str = ""
    stderr: str = ""
    duration_s: float = 0.0
    timed_out: bool = False
    error: Optional[str] = None  # why it could not start, or that it timed out

    @property
    def ok(self) -> bool:
        """True when the command ran and exited 0."""
        return self.returncode == 0

    def output_tail(self, lines: int = TAIL_LINES) -> str:
        """The last lines of stdout and stderr together, secrets redacted."""
        text = "\n".join(part for part in (self.stdout, self.stderr) if part)
        return redact("\n".join(text.splitlines()[-lines:]))

    def to_dict(self) -> Dict[str, Any]:
        """The record kept in the verification log."""
        return {"argv": redact_argv(self.argv), "exit_code": self.returncode,
                "duration_s": round(self.duration_s, 3), "timed_out": self.timed_out,
                "error": self.error, "output_tail": self.output_tail()}


class CommandLog:
    """Every command run during one pybootstrap invocation, in order."""

    def __init__(self) -> None:
        self.results: List[CommandResult] = []

    def add(self, result: CommandResult) -> None:
        """Record a result."""
        self.results.append(result)

    def clear(self) -> None:
        """Forget earlier commands (a new logged run starts)."""
        self.results.clear()


#: The log of the current invocation; each logged run clears it at its start.
COMMAND_LOG = CommandLog()


def decode_output(data: bytes) -> str:
    """Decode tool output or a saved file: a byte order mark first (PowerShell 5.1's `>` writes UTF-16),
    then UTF-8, then the locale's code page; never failing."""
    if not data:
        return ""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return data.decode("utf-16", "replace")
    if data[:3] == b"\xef\xbb\xbf":
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    for encoding in (locale.getpreferredencoding(False), "cp1252", "cp850"):
        try:
            return data.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            continue
    return data.decode("latin-1")


def run(argv: Sequence[str], *, timeout: Optional[float] = 60.0,
        env: Optional[Mapping[str, str]] = None,
        stream: Optional[Callable[[str], None]] = None, record: bool = True,
        inherit_stdout: bool = False) -> CommandResult:
    """Run argv without a shell; capture output; never raise for a failing or missing tool.

    With ``stream``, each output line is passed to it as it arrives (progress for long installs).
    With ``inherit_stdout`` (and ``stream``), the command writes straight to our stdout (so a terminal shows
    pip's own progress bar) and only its stderr is streamed and kept.
    """
    argv = [str(a) for a in argv]
    start = time.monotonic()
    full_env: Optional[Dict[str, str]] = None
    if env is not None:
        full_env = dict(os.environ)
        full_env.update(env)
    try:
        if stream is None:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    env=full_env, **_group_kwargs())
            try:
                out, err = proc.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                _kill_tree(proc)
                try:
                    out, err = proc.communicate(timeout=5)
                except subprocess.TimeoutExpired:  # something outside the group still holds the pipes
                    out, err = b"", b""
                raise subprocess.TimeoutExpired(argv, timeout or 0, output=out, stderr=err) from None
            except BaseException:
                _kill_tree(proc)
                raise
            result = CommandResult(argv, proc.returncode, decode_output(out), decode_output(err))
        else:
            result = _run_streaming(argv, timeout, full_env, stream, inherit_stdout)
    except KeyboardInterrupt:
        if record:  # the log then shows what was running when Ctrl+C came
            COMMAND_LOG.add(CommandResult(argv, None, duration_s=time.monotonic() - start, error="interrupted"))
        raise
    except subprocess.TimeoutExpired as exc:
        result = CommandResult(argv, None, decode_output(exc.stdout or b""),
                               decode_output(exc.stderr or b""), timed_out=True,
                               error=f"timed out after {timeout:g} s")
    except FileNotFoundError:
        result = CommandResult(argv, None, error=f"{argv[0]}: not found")
    except PermissionError as exc:
        result = CommandResult(argv, None, error=f"{argv[0]}: permission denied ({exc})")
    except OSError as exc:
        result = CommandResult(argv, None, error=f"{argv[0]}: could not start ({exc})")
    result = replace(result, duration_s=time.monotonic() - start)
    if record:
        COMMAND_LOG.add(result)
    return result


def _run_streaming(argv: List[str], timeout: Optional[float], env: Optional[Mapping[str, str]],
                   stream: Callable[[str], None], inherit_stdout: bool = False) -> CommandResult:
    """Run with stdout and stderr merged (or stdout inherited), passing each captured line on as it arrives."""
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=None if inherit_stdout else subprocess.PIPE,
                            stderr=subprocess.PIPE if inherit_stdout else subprocess.STDOUT, env=env,
                            **_group_kwargs())
    piped = proc.stderr if inherit_stdout else proc.stdout
    lines: List[str] = []
    killed = threading.Event()

    def _kill() -> None:
        killed.set()
        _kill_tree(proc)

    timer = threading.Timer(timeout, _kill) if timeout else None
    if timer:
        timer.start()
    try:
        assert piped is not None
        for raw in piped:
            line = decode_output(raw).rstrip("\r\n")
            lines.append(line)
            stream(line)
        proc.wait()
    except BaseException:
        _kill_tree(proc)
        proc.wait()
        raise
    finally:
        if timer:
            timer.cancel()
    if killed.is_set():
        raise subprocess.TimeoutExpired(argv, timeout or 0, output="\n".join(lines).encode())
    if inherit_stdout:
        return CommandResult(argv, proc.returncode, "", "\n".join(lines))
    return CommandResult(argv, proc.returncode, "\n".join(lines), "")


def _group_kwargs() -> Dict[str, Any]:
    """Start the command in a process group of its own, so a timeout or Ctrl+C can end all it started."""
    if sys.platform == "win32":
        return {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}
    return {"start_new_session": True}


def _kill_tree(proc: "subprocess.Popen[bytes]") -> None:
    """Kill the command and its children: a child left running keeps our pipe open and the wait hangs."""
    try:
        if sys.platform == "win32":
            subprocess.run(["taskkill", "/F", "/T", "/PID", str(proc.pid)], stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30, check=False)
        else:
            os.killpg(proc.pid, signal.SIGKILL)
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        proc.kill()
    except OSError:
        pass

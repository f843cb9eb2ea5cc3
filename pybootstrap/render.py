"""Rendering results: JSON on stdout, or a few coloured lines on stderr (colour only on a terminal)."""

from __future__ import annotations

import json
import sys
from typing import Any, Iterable, Optional, TextIO

from pybootstrap.errors import PybootstrapError
from pybootstrap.redact import redact, redact_obj

_VERBOSITY = {"level": 0}
_STYLES = {"ok": ("GREEN", "BRIGHT"), "warn": ("YELLOW", "BRIGHT"), "error": ("RED", "BRIGHT"),
           "title": ("CYAN", "BRIGHT"), "info": (None, None), "dim": (None, "DIM")}


def set_verbosity(level: int) -> None:
    """The amount of human output: 0 normal, >0 verbose (-v), <0 quiet (-q)."""
    _VERBOSITY["level"] = level


def verbosity() -> int:
    """The current level: 0 normal, >0 verbose, <0 quiet."""
    return _VERBOSITY["level"]


def is_terminal(stream: TextIO) -> bool:
    """True when the stream is an interactive terminal (not a pipe, a file or a closed stream)."""
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _colour(stream: TextIO, text: str, style: str) -> str:
    fore, bright = _STYLES.get(style, (None, None))
    if not is_terminal(stream) or (fore is None and bright is None):
        return text
    import colorama  # imported only for a terminal: detect/plan start fast when piped

    if sys.platform == "win32":
        colorama.just_fix_windows_console() if hasattr(colorama, "just_fix_windows_console") else colorama.init()
    prefix = (getattr(colorama.Fore, fore) if fore else "") + (getattr(colorama.Style, bright) if bright else "")
    return f"{prefix}{text}{colorama.Style.RESET_ALL}"


def message(text: str, level: str = "info", *, min_verbosity: int = 0) -> None:
    """One human line on stderr."""
    if level != "error" and verbosity() < min_verbosity:
        return
    if level in ("info", "dim", "title", "ok") and verbosity() < 0:
        return
    stream = sys.stderr
    stream.write(_colour(stream, redact(text), level) + "\n")
    stream.flush()


def lines(items: Iterable[str], level: str = "info", prefix: str = "  ") -> None:
    """Several indented human lines."""
    for item in items:
        message(prefix + item, level)


def document(doc: Any) -> None:
    """The one JSON document of --json, on stdout, secrets redacted."""
    pretty = is_terminal(sys.stdout)
    # indented for a person at a terminal; compact (the C encoder, much faster) for programs
    sys.stdout.write(json.dumps(redact_obj(doc), indent=2 if pretty else None) + "\n")
    sys.stdout.flush()


def error(exc: PybootstrapError, *, as_json: bool) -> None:
    """A PybootstrapError as one clear message plus advice (and a JSON document with --json)."""
    message(f"error: {exc.message}", "error")
    if exc.advice:
        message(f"  what to do: {exc.advice}", "warn")
    if as_json:
        document({"schema": "pybootstrap.error/1", "error": exc.to_dict()})


def bug(exc: BaseException, detail: str, *, as_json: bool, verbose: bool) -> None:
    """An unexpected internal error: a short apology and where to report it; the traceback only with -v."""
    message(f"internal error: {type(exc).__name__}: {exc}", "error")
    message("  this is a bug in pybootstrap; please report it with the output of the same command run with -v",
            "warn")
    if verbose:
        sys.stderr.write(detail)
    if as_json:
        document({"schema": "pybootstrap.error/1",
                  "error": {"kind": "internal", "message": f"{type(exc).__name__}: {exc}", "advice":
                            "report this bug with the output of the same command run with -v", "exit_code": 1}})


def kv(label: str, value: Optional[Any], level: str = "info") -> None:
    """'label: value' on one line."""
    message(f"{label:<16}{value if value is not None else '-'}", level)

"""The command line: parse flags (and PYBOOTSTRAP_* variables), run one command, map errors to exit codes."""

from __future__ import annotations

import os
import sys

from pybootstrap import __version__

TYPE_CHECKING = False  # typing is not imported at run time: --version starts as fast as Python itself
if TYPE_CHECKING:  # pragma: no cover
    import argparse
    from typing import Any, Callable, Dict, Optional, Sequence


#: Options whose value may also come from PYBOOTSTRAP_<NAME>; repeatable ones split on the separator.
REPEATABLE_SEPARATORS = {"gpu": ";", "compute_capability": ",", "find_links": os.pathsep}
BOOLEAN_OPTIONS = ("json", "offline", "dry_run", "no_gpu")
TRUE_WORDS = ("1", "true", "yes", "on")


def _parser_class() -> type:
    """argparse that raises UsageError instead of exiting, so cli prints one clear line."""
    import argparse

    from pybootstrap.errors import UsageError

    class _Formatter(argparse.HelpFormatter):
        # argparse's own default imports shutil (for the terminal width) while building every parser
        def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                     width: "Optional[int]" = None) -> None:
            if width is None:
                try:
                    width = os.get_terminal_size(sys.stderr.fileno()).columns - 2
                except (OSError, ValueError, AttributeError):
                    width = int(os.environ.get("COLUMNS", "100")) if os.environ.get("COLUMNS", "").isdigit() else 100
            super().__init__(prog, indent_increment, max_help_position, width)

    class _Parser(argparse.ArgumentParser):
        def __init__(self, *args: "Any", **kwargs: "Any") -> None:
            kwargs.setdefault("formatter_class", _Formatter)
            super().__init__(*args, **kwargs)

        def error(self, message: str) -> None:  # type: ignore[override]
            raise UsageError(f"{self.prog}: {message}", f"Run `{self.prog} --help` for the flags it takes.")

    return _Parser


def _common(p: "argparse.ArgumentParser") -> None:
    g = p.add_argument_group("output")
    g.add_argument("--json", action="store_true", default=None,
                   help="print one JSON document on stdout (messages go to stderr)")
    g.add_argument("-v", "--verbose", action="count", default=0, help="more detail (-vv: tracebacks in the log)")
    g.add_argument("-q", "--quiet", action="count", default=0, help="only errors")
    g.add_argument("--manifest", metavar="PATH_OR_URL",
                   help="manifest to use (default: the one shipped with pybootstrap); https:// URLs are fetched")
    g.add_argument("--manifest-channel", metavar="URL",
                   help="take the newest manifest from this https:// URL (cached; the shipped one when it fails)")


def _hardware_flags(p: "argparse.ArgumentParser", what_if: bool) -> None:
    g = p.add_argument_group("hardware input")
    g.add_argument("--nvidia-smi-file", metavar="FILE",
                   help="parse saved nvidia-smi output (table, --query-gpu CSV or -L) instead of running it; - = stdin")
    if not what_if:
        return
    g = p.add_argument_group("what-if (each overrides what was detected)")
    g.add_argument("--os", help="windows or linux")
    g.add_argument("--arch", help="x86_64 or arm64")
    g.add_argument("--python-version", metavar="X.Y", help="plan for this Python version")
    g.add_argument("--driver", metavar="VERSION", help="plan for this NVIDIA driver version, e.g. 576.02")
    g.add_argument("--gpu", metavar="NAME", action="append", help="plan for this GPU (repeatable)")
    g.add_argument("--compute-capability", metavar="X.Y", action="append",
                   help="compute capability of the GPU given with --gpu, in the same order (repeatable)")
    g.add_argument("--no-gpu", action="store_true", default=None, help="plan as if there were no GPU")


def _selection_flags(p: "argparse.ArgumentParser") -> None:
    g = p.add_argument_group("selection (default: chosen automatically)")
    g.add_argument("--torch", metavar="VERSION", help="exact version (2.5.1) or a release (2.5 = its newest patch)")
    g.add_argument("--variant", help="cpu, cu118, cu121, cu124, cu126, cu128, cu130, ... (rocm*/xpu on request)")
    g.add_argument("--cuda", metavar="X.Y", help="same as --variant cuXY")
    g.add_argument("--installer", help="pip or conda")
    g.add_argument("--packages", metavar="LIST",
                   help="comma-separated subset of torch,torchvision,torchaudio (default: all that exist)")


def _source_flags(p: "argparse.ArgumentParser") -> None:
    g = p.add_argument_group("sources")
    g.add_argument("--index-url", metavar="URL", help="use this index for the PyTorch packages")
    g.add_argument("--mirror", metavar="BASE_URL", help="a mirror of the PyTorch index: BASE_URL/<variant>")
    g.add_argument("--find-links", metavar="DIR", action="append", help="local folder of wheels (repeatable)")
    g.add_argument("--offline", action="store_true", default=None,
                   help="no network at all: install only from the --find-links folders")


def _target_flags(p: "argparse.ArgumentParser") -> None:
    g = p.add_argument_group("target environment (default: a dedicated venv under the pybootstrap home)")
    g.add_argument("--venv", metavar="DIR", help="a virtual environment (created if missing)")
    g.add_argument("--python", metavar="PATH", help="an existing interpreter")
    g.add_argument("--conda-env", metavar="NAME", help="a conda environment by name (created if missing)")
    g.add_argument("--conda-prefix", metavar="DIR", help="a conda environment by prefix (created if missing)")
    g.add_argument("--conda-exe", metavar="PATH", help="the conda (or mamba) executable to use")


def _log_flag(p: "argparse.ArgumentParser") -> None:
    p.add_argument("--log", metavar="FILE", help="where the verification log goes (default: <home>/logs/)")


def _add_detect(p: "argparse.ArgumentParser", _Parser: type) -> None:
    _common(p)
    _hardware_flags(p, what_if=False)


def _add_plan(p: "argparse.ArgumentParser", _Parser: type) -> None:
    _common(p)
    _hardware_flags(p, what_if=True)
    _selection_flags(p)
    _source_flags(p)
    _target_flags(p)


def _add_install(p: "argparse.ArgumentParser", _Parser: type) -> None:
    _add_plan(p, _Parser)
    _log_flag(p)
    p.add_argument("--dry-run", action="store_true", default=None, help="print what would run; change nothing")


def _add_verify(p: "argparse.ArgumentParser", _Parser: type) -> None:
    _common(p)
    _hardware_flags(p, what_if=False)
    _target_flags(p)
    _log_flag(p)
    p.add_argument("--torch", metavar="VERSION", help="the torch version the environment should hold")
    p.add_argument("--variant", help="the variant the environment should hold (cpu, cu124, ...)")


def _add_download(p: "argparse.ArgumentParser", _Parser: type) -> None:
    _common(p)
    _hardware_flags(p, what_if=True)
    _selection_flags(p)
    _source_flags(p)
    p.add_argument("--to", metavar="DIR", help="the folder to fill (required)")
    p.add_argument("--log", metavar="FILE", help="where the log goes (default: <home>/logs/)")


def _add_diagnose(p: "argparse.ArgumentParser", _Parser: type) -> None:
    _common(p)
    p.add_argument("file", metavar="FILE", help="a file with the text, or - for stdin")


def _add_manifest(p: "argparse.ArgumentParser", _Parser: type) -> None:
    msub = p.add_subparsers(dest="manifest_command", metavar="ACTION", parser_class=_Parser)
    m = msub.add_parser("validate", help="validate a manifest (default: the shipped one)")
    _common(m)
    m.add_argument("source", nargs="?", metavar="PATH_OR_URL", help="manifest file or https:// URL")
    m = msub.add_parser("show", help="list the releases and variants of the manifest")
    _common(m)
    m = msub.add_parser("check", help="compare the manifest with the PyTorch index and PyPI (exit 7 when they differ)")
    _common(m)
    m.add_argument("--index-base", metavar="URL",
                   help="the PyTorch index to compare with: URL/<variant>/torch/ (default: the manifest's index_base)")
    m.add_argument("--pypi-base", metavar="URL", help="PyPI's JSON API base (default: https://pypi.org)")


_SUBCOMMANDS = {
    "detect": ("report OS, architecture, Python, NVIDIA driver and GPUs", _add_detect),
    "plan": ("detect, choose the build and print the exact commands; installs nothing", _add_plan),
    "install": ("plan, install into the target environment, verify, write the log", _add_install),
    "verify": ("verify an existing environment and write the verification log", _add_verify),
    "download": ("fetch every wheel a plan needs into DIR (for offline installs)", _add_download),
    "diagnose": ("explain pasted output: nvidia-smi, a torch traceback, a pip error", _add_diagnose),
    "manifest": ("validate a manifest, list its builds, or check it against the index", _add_manifest),
}


def build_parser(only: "Optional[str]" = None) -> "argparse.ArgumentParser":
    """The full parser: every command and flag of CONTRACT.md (with `only`, just that command's flags)."""
    _Parser = _parser_class()
    parser = _Parser(prog="pybootstrap",
                     description="Detect the NVIDIA driver and GPUs, choose the PyTorch build that will really "
                                 "run here, install it and verify it.")
    parser.add_argument("--version", action="version", version=f"pybootstrap {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, (text, add) in _SUBCOMMANDS.items():
        if only is None or only == name:  # the other commands are never needed in this run
            add(sub.add_parser(name, help=text), _Parser)
    return parser


def apply_environment(args: "argparse.Namespace", environ: Dict[str, str]) -> Dict[str, str]:
    """Fill options not given on the command line from PYBOOTSTRAP_<FLAG>; return {option: source}."""
    from pybootstrap.errors import UsageError

    sources: Dict[str, str] = {}
    for dest, value in vars(args).items():
        if dest in ("command", "manifest_command", "verbose", "quiet", "file", "source"):
            continue
        flag = "--" + dest.replace("_", "-")
        env_name = "PYBOOTSTRAP_" + dest.upper()
        if value not in (None, []):
            sources[dest] = flag
            continue
        raw = environ.get(env_name)
        if raw is None or raw == "":
            continue
        if dest in BOOLEAN_OPTIONS:
            if raw.strip().lower() in TRUE_WORDS:
                setattr(args, dest, True)
            elif raw.strip().lower() in ("0", "false", "no", "off"):
                setattr(args, dest, False)
            else:
                raise UsageError(f"{env_name}={raw!r}: expected 1/true/yes or 0/false/no")
        elif dest in REPEATABLE_SEPARATORS:
            setattr(args, dest, [part.strip() for part in raw.split(REPEATABLE_SEPARATORS[dest]) if part.strip()])
        else:
            setattr(args, dest, raw)
        sources[dest] = env_name
    for dest in BOOLEAN_OPTIONS:
        if getattr(args, dest, False) is None:
            setattr(args, dest, False)
    return sources


def main(argv: Optional[Sequence[str]] = None, environ: Optional[Dict[str, str]] = None) -> int:
    """Run pybootstrap; return the exit code (never raises, never prints a traceback to the user)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv in (["--version"], ["-V"]):  # the fast path fleets call at every login
        sys.stdout.write(f"pybootstrap {__version__}\n")
        return 0
    environ = dict(os.environ) if environ is None else environ
    from pybootstrap import render
    from pybootstrap.errors import ExitCode, PybootstrapError

    json_env = environ.get("PYBOOTSTRAP_JSON", "").strip().lower() in TRUE_WORDS
    json_requested = "--json" in argv or json_env
    try:
        parser = build_parser(only=argv[0] if argv and argv[0] in _SUBCOMMANDS else None)
        args = parser.parse_args(argv)
        if not args.command or (args.command == "manifest" and not args.manifest_command):
            from pybootstrap.errors import UsageError

            parser.print_help(sys.stderr)
            what = ("a command" if not args.command else
                    "an action: manifest validate [PATH_OR_URL] | manifest show | manifest check")
            raise UsageError(f"pybootstrap needs {what}", "Run `pybootstrap --help` for the commands.")
        for dest, value in vars(args).items():
            if value == "" or (isinstance(value, list) and "" in value):
                from pybootstrap.errors import UsageError

                flag = "--" + dest.replace("_", "-")
                raise UsageError(f"{flag}: an empty value", f"Give {flag} a value, or leave it out.")
        sources = apply_environment(args, environ)
        json_requested = bool(getattr(args, "json", False))
        from pybootstrap import commands

        handler: Callable[..., int] = getattr(commands, "run_" + args.command)
        args.argv = argv  # what the log records (the real argv, also when main() is called in-process)
        return int(handler(args, sources, environ))
    except PybootstrapError as exc:
        render.error(exc, as_json=json_requested and not getattr(exc, "document_printed", False))
        return int(exc.exit_code)
    except OSError as exc:  # a path pybootstrap could not use: the environment, not a bug
        from pybootstrap.errors import path_problem

        problem = path_problem(exc)
        render.error(problem, as_json=json_requested)
        return int(problem.exit_code)
    except KeyboardInterrupt:
        render.message("interrupted", level="error")
        return int(ExitCode.INTERRUPTED)
    except SystemExit as exc:  # argparse --help / --version
        return int(exc.code or 0) if isinstance(exc.code, int) else 0
    except Exception as exc:  # a bug: say so plainly, keep the traceback for the log
        import traceback

        detail = traceback.format_exc()
        render.bug(exc, detail, as_json=json_requested, verbose="-v" in argv or "--verbose" in argv)
        return int(ExitCode.INTERNAL)


def run() -> None:
    """The console script and `python -m pybootstrap`: run main(), then exit with its code."""
    code = main()
    sys.stdout.flush()
    # The process ends here: move every object to the permanent generation so the collections at
    # interpreter shutdown skip them (about 7 ms of a 70 ms `plan --json`, measured by bench/run.py).
    import gc

    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":  # pragma: no cover
    run()

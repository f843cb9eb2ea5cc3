"""The command line: parse flags (and PYBOOTSTRAP_* variables) into Settings, run one command, map errors to
exit codes. Only this module prints errors, and only this module sees argparse."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterator, List, Mapping, NoReturn, Optional, Sequence, Tuple

from pybootstrap import __version__, render
from pybootstrap.errors import ExitCode, Interrupted, PybootstrapError, UsageError, path_problem

if TYPE_CHECKING:
    from pybootstrap.settings import Settings

#: Repeatable options that may come from one PYBOOTSTRAP_<NAME> variable, split on this separator.
REPEATABLE_SEPARATORS = {"gpu": ";", "compute_capability": ",", "find_links": os.pathsep}
BOOLEAN_OPTIONS = ("json", "offline", "dry_run", "no_gpu")
TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")
#: Parser entries that are not options a PYBOOTSTRAP_* variable can stand in for.
NOT_OPTIONS = ("command", "manifest_command", "verbose", "quiet", "file", "source")


class _Parser(argparse.ArgumentParser):
    """argparse that raises UsageError instead of exiting, so that main prints one clear line."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}", f"Run `{self.prog} --help` for the flags it takes.")


def _common(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("output")
    g.add_argument("--json", action="store_true", default=None,
                   help="print one JSON document on stdout (messages go to stderr)")
    g.add_argument("-v", "--verbose", action="count", default=0, help="more detail (-vv: tracebacks in the log)")
    g.add_argument("-q", "--quiet", action="count", default=0, help="only errors")
    g.add_argument("--manifest", metavar="PATH_OR_URL",
                   help="manifest to use (default: the one shipped with pybootstrap); https:// URLs are fetched")
    g.add_argument("--manifest-channel", metavar="URL",
                   help="take the newest manifest from this https:// URL (cached; the shipped one when it fails)")


def _hardware_flags(p: argparse.ArgumentParser, what_if: bool) -> None:
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


def _selection_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("selection (default: chosen automatically)")
    g.add_argument("--torch", metavar="VERSION", help="exact version (2.5.1) or a release (2.5 = its newest patch)")
    g.add_argument("--variant", help="cpu, cu118, cu121, cu124, cu126, cu128, cu130, ... (rocm*/xpu on request)")
    g.add_argument("--cuda", metavar="X.Y", help="same as --variant cuXY")
    g.add_argument("--installer", help="pip or conda")
    g.add_argument("--packages", metavar="LIST",
                   help="comma-separated subset of torch,torchvision,torchaudio (default: all that exist)")


def _source_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("sources")
    g.add_argument("--index-url", metavar="URL", help="use this index for the PyTorch packages")
    g.add_argument("--mirror", metavar="BASE_URL", help="a mirror of the PyTorch index: BASE_URL/<variant>")
    g.add_argument("--find-links", metavar="DIR", action="append", help="local folder of wheels (repeatable)")
    g.add_argument("--offline", action="store_true", default=None,
                   help="no network at all: install only from the --find-links folders")


def _target_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("target environment (default: a dedicated venv under the pybootstrap home)")
    g.add_argument("--venv", metavar="DIR", help="a virtual environment (created if missing)")
    g.add_argument("--python", metavar="PATH", help="an existing interpreter")
    g.add_argument("--conda-env", metavar="NAME", help="a conda environment by name (created if missing)")
    g.add_argument("--conda-prefix", metavar="DIR", help="a conda environment by prefix (created if missing)")
    g.add_argument("--conda-exe", metavar="PATH", help="the conda (or mamba) executable to use")


def _add_detect(p: argparse.ArgumentParser) -> None:
    _common(p)
    _hardware_flags(p, what_if=False)


def _add_plan(p: argparse.ArgumentParser) -> None:
    _common(p)
    _hardware_flags(p, what_if=True)
    _selection_flags(p)
    _source_flags(p)
    _target_flags(p)


def _add_install(p: argparse.ArgumentParser) -> None:
    _add_plan(p)
    p.add_argument("--log", metavar="FILE", help="where the verification log goes (default: <home>/logs/)")
    p.add_argument("--dry-run", action="store_true", default=None, help="print what would run; change nothing")


def _add_verify(p: argparse.ArgumentParser) -> None:
    _common(p)
    _hardware_flags(p, what_if=False)
    _target_flags(p)
    p.add_argument("--log", metavar="FILE", help="where the verification log goes (default: <home>/logs/)")
    p.add_argument("--torch", metavar="VERSION", help="the torch version the environment should hold")
    p.add_argument("--variant", help="the variant the environment should hold (cpu, cu124, ...)")


def _add_download(p: argparse.ArgumentParser) -> None:
    _common(p)
    _hardware_flags(p, what_if=True)
    _selection_flags(p)
    _source_flags(p)
    p.add_argument("--to", metavar="DIR", help="the folder to fill (required)")
    p.add_argument("--log", metavar="FILE", help="where the log goes (default: <home>/logs/)")


def _add_diagnose(p: argparse.ArgumentParser) -> None:
    _common(p)
    p.add_argument("file", metavar="FILE", help="a file with the text, or - for stdin")


def _add_manifest(p: argparse.ArgumentParser) -> None:
    actions = p.add_subparsers(dest="manifest_command", metavar="ACTION", parser_class=_Parser)
    m = actions.add_parser("validate", help="validate a manifest (default: the shipped one)")
    _common(m)
    m.add_argument("source", nargs="?", metavar="PATH_OR_URL", help="manifest file or https:// URL")
    m = actions.add_parser("show", help="list the releases and variants of the manifest")
    _common(m)
    m = actions.add_parser("check",
                           help="compare the manifest with the PyTorch index and PyPI (exit 7 when they differ)")
    _common(m)
    m.add_argument("--index-base", metavar="URL",
                   help="the PyTorch index to compare with: URL/<variant>/torch/ (default: the manifest's index_base)")
    m.add_argument("--pypi-base", metavar="URL", help="PyPI's JSON API base (default: https://pypi.org)")


SUBCOMMANDS: Dict[str, Tuple[str, Callable[[argparse.ArgumentParser], None]]] = {
    "detect": ("report OS, architecture, Python, NVIDIA driver and GPUs", _add_detect),
    "plan": ("detect, choose the build and print the exact commands; installs nothing", _add_plan),
    "install": ("plan, install into the target environment, verify, write the log", _add_install),
    "verify": ("verify an existing environment and write the verification log", _add_verify),
    "download": ("fetch every wheel a plan needs into DIR (for offline installs)", _add_download),
    "diagnose": ("explain pasted output: nvidia-smi, a torch traceback, a pip error", _add_diagnose),
    "manifest": ("validate a manifest, list its builds, or check it against the index", _add_manifest),
}


def build_parser() -> argparse.ArgumentParser:
    """The full parser: every command and flag of CONTRACT.md."""
    parser = _Parser(prog="pybootstrap",
                     description="Detect the NVIDIA driver and GPUs, choose the PyTorch build that will really "
                                 "run here, install it and verify it.")
    parser.add_argument("-V", "--version", action="version", version=f"pybootstrap {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, (text, add) in SUBCOMMANDS.items():
        add(sub.add_parser(name, help=text))
    return parser


def apply_environment(values: Mapping[str, Any], environ: Mapping[str, str]) -> Tuple[Dict[str, Any], Dict[str, str]]:
    """Fill options not given on the command line from PYBOOTSTRAP_<OPTION>: (values, {option: source})."""
    filled = dict(values)
    sources: Dict[str, str] = {}
    for option, value in values.items():
        if option in NOT_OPTIONS:
            continue
        env_name = "PYBOOTSTRAP_" + option.upper()
        if value not in (None, []):
            sources[option] = "--" + option.replace("_", "-")
            continue
        raw = environ.get(env_name)
        if raw is None or raw == "":
            continue
        if option in BOOLEAN_OPTIONS:
            word = raw.strip().lower()
            if word not in TRUE_WORDS + FALSE_WORDS:
                raise UsageError(f"{env_name}={raw!r}: expected 1/true/yes or 0/false/no")
            filled[option] = word in TRUE_WORDS
        elif option in REPEATABLE_SEPARATORS:
            filled[option] = [part.strip() for part in raw.split(REPEATABLE_SEPARATORS[option]) if part.strip()]
        else:
            filled[option] = raw
        sources[option] = env_name
    for option in BOOLEAN_OPTIONS:
        if option in filled and filled[option] is None:
            filled[option] = False
    return filled, sources


def parse(argv: Sequence[str], environ: Mapping[str, str]) -> Settings:
    """The command line and PYBOOTSTRAP_* variables as validated Settings."""
    parser = build_parser()
    values = vars(parser.parse_args(list(argv)))
    if not values.get("command") or (values["command"] == "manifest" and not values.get("manifest_command")):
        parser.print_help(sys.stderr)
        what = ("a command" if not values.get("command")
                else "an action: manifest validate [PATH_OR_URL] | manifest show | manifest check")
        raise UsageError(f"pybootstrap needs {what}", "Run `pybootstrap --help` for the commands.")
    for option, value in values.items():
        if value == "" or (isinstance(value, list) and "" in value):
            flag = "--" + option.replace("_", "-")
            raise UsageError(f"{flag}: an empty value", f"Give {flag} a value, or leave it out.")
    filled, sources = apply_environment(values, environ)
    from pybootstrap import settings  # the domain modules load after parsing: --version and --help stay cheap

    return settings.resolve(filled, sources, environ, argv)


def _raise_interrupted(signum: int, frame: Optional[FrameType]) -> None:
    """SIGTERM / SIGBREAK: stop like Ctrl+C. Later ones are ignored, so the log of this one gets written."""
    signal.signal(signum, signal.SIG_IGN)
    raise Interrupted(signal.Signals(signum).name)


@contextmanager
def signals_interrupt() -> Iterator[None]:
    """While a command runs, SIGTERM (fleet agents stop jobs with it) and Ctrl+Break end it as Ctrl+C does."""
    previous: List[Tuple[int, Any]] = []
    for name in ("SIGTERM", "SIGBREAK"):
        number = getattr(signal, name, None)
        if number is None:
            continue
        try:
            previous.append((number, signal.signal(number, _raise_interrupted)))
        except ValueError:  # not the main thread (main() called from a thread): leave the signals alone
            break
    try:
        yield
    finally:
        for number, handler in previous:
            signal.signal(number, handler)


def main(argv: Optional[Sequence[str]] = None, environ: Optional[Mapping[str, str]] = None) -> int:
    """Run pybootstrap; return the exit code (never raises, never prints a traceback to the user)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv in (["--version"], ["-V"]):  # fleets ask at every login: answered before any parser is built
        sys.stdout.write(f"pybootstrap {__version__}\n")
        return int(ExitCode.OK)
    environ = dict(os.environ if environ is None else environ)
    json_requested = "--json" in argv or environ.get("PYBOOTSTRAP_JSON", "").strip().lower() in TRUE_WORDS
    with signals_interrupt():
        try:
            config = parse(argv, environ)
            json_requested = config.json
            from pybootstrap import commands

            handler: Callable[[Settings], int] = getattr(commands, "run_" + config.command)
            return int(handler(config))
        except PybootstrapError as exc:
            render.error(exc, as_json=json_requested and not exc.document_printed)
            return int(exc.exit_code)
        except OSError as exc:  # a path pybootstrap could not use: the environment, not a bug
            problem = path_problem(exc)
            render.error(problem, as_json=json_requested)
            return int(problem.exit_code)
        except KeyboardInterrupt as exc:
            what = exc.describe() if isinstance(exc, Interrupted) else "interrupted (Ctrl+C)"
            render.message(what, level="error")
            return int(ExitCode.INTERRUPTED)
        except SystemExit as exc:  # argparse --help / --version
            return exc.code if isinstance(exc.code, int) else 0
        except Exception as exc:  # a bug: say so plainly, keep the traceback for the log
            import traceback

            verbose = any(a in ("-v", "--verbose") or a.startswith("-vv") for a in argv)
            render.bug(exc, traceback.format_exc(), as_json=json_requested, verbose=verbose)
            return int(ExitCode.INTERNAL)


def run() -> None:
    """The console script and `python -m pybootstrap`: run main(), then exit with its code."""
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    run()

"""What a finished pip (or conda) command means: success, a failure worth another attempt, or the one error to
report, with the CONTRACT exit code (6 network, 9 integrity, 8 a full disk, 4 anything else)."""

from __future__ import annotations

import re
import time
from typing import Callable, List, NamedTuple, Optional, Protocol, Sequence, Tuple

from pybootstrap import _download, diskspace
from pybootstrap.errors import EnvironmentProblem, InstallError, IntegrityError, NetworkError, PybootstrapError
from pybootstrap.redact import redact


class Result(Protocol):
    """What a run of a command left (pybootstrap._subprocess.CommandResult)."""

    @property
    def returncode(self) -> Optional[int]: ...
    @property
    def stdout(self) -> str: ...
    @property
    def stderr(self) -> str: ...
    @property
    def timed_out(self) -> bool: ...
    @property
    def error(self) -> Optional[str]: ...

    def output_tail(self, lines: int = ...) -> str:
        """The last lines of the output, secrets redacted."""


class Outcome(NamedTuple):
    """kind: ok | hash-mismatch | transient | unreachable | http | no-space | no-match | timeout | not-started |
    failed; retry: whether another attempt can help."""

    kind: str
    retry: bool
    line: Optional[str] = None  # the output line that says it, shortened, secrets redacted
    got: Tuple[str, ...] = ()  # for hash-mismatch: the hashes pip got (the same twice = a file altered on the way)


# A download cut short or a server error: pip does not retry these itself, another attempt usually works.
# ("Connection broken:" is urllib3's ProtocolError; pip's own warnings say "after connection broken by '<error>'",
# and the error named there decides.)
_TRANSIENT_RE = re.compile(
    r"Connection (?:reset|aborted)|Connection broken:|IncompleteRead|ChunkedEncodingError|ProtocolError|"
    r"Remote end closed connection|RemoteDisconnected|HTTP error (?:5\d\d|429)|\b5\d\d Server Error|"
    r"CondaHTTPError: HTTP (?:000|5\d\d)|not enough bytes were received|IncompleteDownload", re.I)
# The index's fault, but another attempt would not help
_HTTP_RE = re.compile(r"HTTP error 4\d\d|\b4\d\d Client Error|Could not fetch URL|CondaHTTPError|CondaSSLError", re.I)
# Unreachable: pip already tried (--retries) and the name, the connection, TLS or the proxy stays as it is; an
# index that did not answer within pip's --timeout, --retries times, is not tried again either (a dead index
# fails in about 30 s, see installers.pip)
_UNREACHABLE = ("dns", "refused", "tls", "proxy-auth", "proxy", "unreachable", "timeout")
_PIP_RETRIED = "Retrying (Retry("  # pip's warning before each of its own --retries
_HASH_RE = re.compile(r"THESE PACKAGES DO NOT MATCH THE HASHES|hash mismatch", re.I)
_GOT_RE = re.compile(r"^\s*Got\s+([0-9a-fA-F]{32,128})\s*$", re.M)
_NO_MATCH_RE = re.compile(r"No matching distribution found", re.I)
# errno 28 (ENOSPC): "ERROR: Could not install packages due to an OSError: [Errno 28] No space left on device"
# (pip, tests/data/pip/), conda's "No space left on device", Windows' "There is not enough space on the disk"
_NO_SPACE_RE = re.compile(r"\[Errno 28\]|No space left on device|ENOSPC|not enough space on the disk|"
                          r"\[WinError 112\]", re.I)
_NETWORK_ADVICE = "Check the network, the proxy (HTTPS_PROXY) and --index-url/--mirror; then run again.\n"


def classify(result: Result) -> Outcome:
    """The outcome of one finished command, from its exit code and output."""
    if result.returncode == 0:
        return Outcome("ok", False)
    text = result.stdout + "\n" + result.stderr
    if _NO_SPACE_RE.search(text):
        return Outcome("no-space", False, key_line(text, _NO_SPACE_RE))
    if _HASH_RE.search(text):
        return Outcome("hash-mismatch", True, key_line(text, _HASH_RE), tuple(_GOT_RE.findall(text)))
    if result.timed_out:
        return Outcome("timeout", True, result.error)
    line = key_line(text, _TRANSIENT_RE)
    if line:
        return Outcome("transient", True, line)
    cause = _download.network_cause(text)
    if cause is not None and cause.kind == "timeout" and _PIP_RETRIED not in text:
        # a download that stalled half-way (pip retries only connections and pages, and says so)
        return Outcome("transient", True, key_line(text, _download.cause_pattern("timeout")))
    if cause is not None and cause.kind in _UNREACHABLE:
        return Outcome("unreachable", False, key_line(text, _download.cause_pattern(cause.kind)))
    line = key_line(text, _HTTP_RE)
    if line:
        return Outcome("http", False, line)
    if cause is not None:  # a connection reset that pip reported in its own words
        return Outcome("transient", True, key_line(text, _download.cause_pattern(cause.kind)))
    if _NO_MATCH_RE.search(text):
        return Outcome("no-match", False, key_line(text, _NO_MATCH_RE))
    if result.returncode is None:
        return Outcome("not-started", False, result.error)
    return Outcome("failed", False)


def key_line(text: str, pattern: "re.Pattern[str]") -> Optional[str]:
    """The first output line matching pattern, shortened, secrets redacted."""
    for line in text.splitlines():
        if pattern.search(line):
            line = line.strip()
            return redact(line if len(line) <= 240 else line[:237] + "...")
    return None


def error_for(result: Result, label: str, *, outcome: Optional[Outcome] = None, index_url: Optional[str] = None,
              attempts: int = 1, folders: Sequence[str] = ()) -> PybootstrapError:
    """The error to report for a failed command (label: "pip install", ...). index_url: where pip looked (named
    in network errors); folders: where it wrote (the target environment, the download folder), named when the
    disk is full."""
    outcome = outcome or classify(result)
    tail = result.output_tail(12)
    after = f" (after {attempts} attempts)" if attempts > 1 else ""
    if outcome.kind == "no-space":
        return no_space_error(label, folders, tail)
    if outcome.kind == "hash-mismatch":
        return NetworkError(f"{label}: downloads kept breaking off: each attempt got a different, incomplete "
                            f"file{after}", _NETWORK_ADVICE + tail)
    if outcome.kind == "timeout":
        return NetworkError(f"{label}: {result.error}{after}", _NETWORK_ADVICE + tail)
    if outcome.kind == "unreachable":
        text = result.stdout + "\n" + result.stderr
        url = index_url or _first_url(text) or ""
        why = _download.explain(text, url, proxy=_download.proxy_for(url) if url else None) or outcome.line
        return NetworkError(f"{label}: cannot reach the package index{after}: {redact(why or '')}",
                            _download.advice_for(text) + "\n" + tail)
    if outcome.kind in ("transient", "http"):
        return NetworkError(f"{label}: the package index could not be reached or a download failed{after}: "
                            f"{outcome.line}", _NETWORK_ADVICE + tail)
    if outcome.kind == "no-match":
        problem = index_problem(index_url)
        if problem:
            return NetworkError(f"{label}: the package index has no torch: {problem}",
                                "Check --index-url / --mirror (the PyTorch index is "
                                "https://download.pytorch.org/whl/<variant>).\n" + tail)
    if outcome.kind == "not-started":
        return InstallError(f"{label}: {result.error}", "Check that the target environment is intact.")
    return InstallError(f"{label} failed (exit {result.returncode})", "See the output below and the log.\n" + tail)


def _first_url(text: str) -> Optional[str]:
    found = re.search(r"https?://[^\s'\")]+", text)
    return found.group(0) if found else None


def no_space_error(label: str, folders: Sequence[str], tail: str = "") -> EnvironmentProblem:
    """'pip install: the disk is full: /x has 12 MB free (No space left on device)', naming the fullest of the
    folders written to (the target, the download folder, the temporary folder pip unpacks into)."""
    where = diskspace.fullest([*folders, diskspace.temp_folder()])
    place = f"{where.folder} has {diskspace.human(where.free)} free" if where else "a folder pip writes to is full"
    return EnvironmentProblem(f"{label}: the disk is full: {place} (No space left on device)",
                              "Free some space there (or choose another --venv / --to folder; pip unpacks into "
                              "TMP/TMPDIR), then run again.\n" + tail)


def index_problem(index_url: Optional[str]) -> Optional[str]:
    """After 'No matching distribution': is the index itself missing? (None: it answers for torch.)"""
    if not index_url or not index_url.startswith(("http://", "https://")):
        return None
    try:
        _download.fetch_bytes(index_url.rstrip("/") + "/torch/", timeout=15.0, retries=1)
    except NetworkError as exc:
        return exc.message
    return None


RETRIES = 3  # attempts of one install command when the network failed on the way
RETRY_BACKOFF_S = 2.0  # the wait before attempt n is RETRY_BACKOFF_S * (n - 1)


def run_with_retries(run_once: Callable[[], Result], label: str, *, attempts: int = RETRIES,
                     backoff_s: Optional[float] = None, index_url: Optional[str] = None,
                     folders: Sequence[str] = (), on_retry: Optional[Callable[[str, int], None]] = None) -> Result:
    """Run a command until it succeeds; run it again after a failure on the way (a cut download, a 5xx), never
    after one that stays (a name that does not resolve, a refused connection, a proxy wanting credentials, a
    404, a full disk); raise the error of the last outcome.

    pip before 25.1 does not notice a download cut short (urllib3 1.26 does not enforce Content-Length) and
    reports it as a hash mismatch: a mismatch is retried, and only the same wrong file twice is an integrity
    failure (exit 9). on_retry(why, next_attempt) is told before each new attempt."""
    backoff = RETRY_BACKOFF_S if backoff_s is None else backoff_s
    wrong_files: List[Tuple[str, ...]] = []
    attempt = 0
    while True:
        attempt += 1
        result = run_once()
        outcome = classify(result)
        if outcome.kind == "ok":
            return result
        if outcome.kind == "hash-mismatch":
            if outcome.got in wrong_files:
                raise IntegrityError(f"{label}: a downloaded file did not match its published hash, twice the same",
                                     "A proxy or mirror serves a different file than the index lists; check it "
                                     "(or the --find-links folder), then run again.\n" + result.output_tail(10))
            wrong_files.append(outcome.got)
            why = "a download did not match its published hash (a connection cut short does this)"
        else:
            why = "network failure"
        if not outcome.retry or attempt >= attempts:
            raise error_for(result, label, outcome=outcome, index_url=index_url, attempts=attempt, folders=folders)
        if on_retry is not None:
            on_retry(why, attempt + 1)
        time.sleep(backoff * attempt)

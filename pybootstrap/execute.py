"""Running install commands (pip, conda): progress on the terminal, retries of transient network failures,
and each failure mapped to its exit code (6 network, 9 integrity, 4 anything else)."""

from __future__ import annotations

import re
import sys
import time
from typing import Callable, List, Mapping, Optional, Sequence, Tuple

from pybootstrap import _subprocess, render
from pybootstrap._download import fetch_bytes
from pybootstrap.errors import InstallError, IntegrityError, NetworkError
from pybootstrap.redact import redact

RETRIES = 3  # attempts of one install command when the network failed
RETRY_BACKOFF_S = 2.0  # the wait before attempt n is RETRY_BACKOFF_S * (n - 1)

# pip / conda output meaning a network failure worth another attempt (pip itself already retried
# connection errors before the response; these are failures it does not retry: a body cut short, 5xx)
TRANSIENT_RE = re.compile(
    r"Connection (?:reset|refused|aborted|broken)|Max retries exceeded|Read timed out|ConnectTimeout|"
    r"NewConnectionError|Temporary failure in name resolution|Name or service not known|Network is unreachable|"
    r"IncompleteRead|ChunkedEncodingError|ProtocolError|Remote end closed connection|RemoteDisconnected|"
    r"ProxyError|HTTP error (?:5\d\d|429)|\b5\d\d Server Error|CondaHTTPError: HTTP (?:000|5\d\d)|"
    r"not enough bytes were received|IncompleteDownload", re.I)
# the network's or the index's fault, but another attempt would not help (exit 6 at once)
NETWORK_RE = re.compile(
    r"HTTP error 4\d\d|\b4\d\d Client Error|SSLError|CERTIFICATE_VERIFY_FAILED|Could not fetch URL|CondaHTTPError|"
    r"CondaSSLError", re.I)
HASH_RE = re.compile(r"THESE PACKAGES DO NOT MATCH THE HASHES|hash mismatch", re.I)
GOT_RE = re.compile(r"^\s*Got\s+([0-9a-fA-F]{32,128})\s*$", re.M)
NO_MATCH_RE = re.compile(r"No matching distribution found", re.I)
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
                   index_url: Optional[str] = None, timeout: float = 3600.0) -> None:
    """Run an install command; retry transient network failures; map failures to exit codes.

    pip before 25.1 does not notice a download cut short (urllib3 1.26 does not enforce Content-Length) and
    reports it as a hash mismatch: a mismatch is retried, and only the same wrong file twice is an integrity
    failure.
    """
    stream = progress(interactive)
    wrong_files: List[Tuple[str, ...]] = []
    result: Optional[_subprocess.CommandResult] = None
    attempt = 0
    for attempt in range(1, RETRIES + 1):
        result = _subprocess.run(argv, timeout=timeout, env=env, stream=stream,
                                 inherit_stdout=interactive and stream is not None)
        if result.ok:
            return
        text = result.stdout + "\n" + result.stderr
        if HASH_RE.search(text):
            got = tuple(GOT_RE.findall(text))
            if got in wrong_files:
                raise IntegrityError(f"{label}: a downloaded file did not match its published hash, twice the same",
                                     "A proxy or mirror serves a different file than the index lists; check it "
                                     "(or the --find-links folder), then run again.\n" + result.output_tail(10))
            wrong_files.append(got)
            why = "a download did not match its published hash (a connection cut short does this)"
        elif result.timed_out or TRANSIENT_RE.search(text):
            why = "network failure"
        else:
            break
        if attempt < RETRIES:
            render.message(f"  {why}; retrying ({attempt + 1}/{RETRIES})", "warn")
            time.sleep(RETRY_BACKOFF_S * attempt)
    assert result is not None
    raise_for(result, label, index_url=index_url, attempts=attempt)


def key_line(text: str, pattern: re.Pattern[str]) -> Optional[str]:
    """The first output line matching pattern, shortened, secrets redacted."""
    for line in text.splitlines():
        if pattern.search(line):
            line = line.strip()
            return redact(line if len(line) <= 240 else line[:237] + "...")
    return None


def index_problem(index_url: Optional[str]) -> Optional[str]:
    """After 'No matching distribution': is the index itself missing? (None: it answers for torch.)"""
    if not index_url or not index_url.startswith(("http://", "https://")):
        return None
    try:
        fetch_bytes(index_url.rstrip("/") + "/torch/", timeout=15.0, retries=1)
    except NetworkError as exc:
        return exc.message
    return None


def raise_for(result: _subprocess.CommandResult, label: str, *, index_url: Optional[str] = None,
              attempts: int = 1) -> None:
    """A failed command as the error of its exit code: 6 for the network or the index, else 4."""
    if result.ok:
        return
    text = result.stdout + "\n" + result.stderr
    tail = result.output_tail(12)
    after = f" (after {attempts} attempts)" if attempts > 1 else ""
    net_advice = "Check the network, the proxy (HTTPS_PROXY) and --index-url/--mirror; then run again.\n"
    if HASH_RE.search(text):
        raise NetworkError(f"{label}: downloads kept breaking off: each attempt got a different, incomplete "
                           f"file{after}", net_advice + tail)
    if result.timed_out:
        raise NetworkError(f"{label}: {result.error}{after}", net_advice + tail)
    line = key_line(text, TRANSIENT_RE) or key_line(text, NETWORK_RE)
    if line:
        raise NetworkError(f"{label}: the package index could not be reached or a download failed{after}: {line}",
                           net_advice + tail)
    if NO_MATCH_RE.search(text):
        problem = index_problem(index_url)
        if problem:
            raise NetworkError(f"{label}: the package index has no torch: {problem}",
                               "Check --index-url / --mirror (the PyTorch index is "
                               "https://download.pytorch.org/whl/<variant>).\n" + tail)
    if result.returncode is None:
        raise InstallError(f"{label}: {result.error}", "Check that the target environment is intact.")
    raise InstallError(f"{label} failed (exit {result.returncode})", "See the output below and the log.\n" + tail)

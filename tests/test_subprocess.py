"""The one subprocess wrapper: capture, streaming, inherited stdout, timeouts, missing tools, Ctrl+C, the log."""

from __future__ import annotations

import os
import sys
import time

import pytest

from pybootstrap import _subprocess
from pybootstrap._subprocess import CommandResult, decode_output, run

PY = sys.executable


def py(code: str) -> list:
    return [PY, "-c", code]


def test_captures_stdout_stderr_and_the_exit_code() -> None:
    result = _subprocess.run(py("import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)"))
    assert (result.returncode, result.stdout.strip(), result.stderr.strip()) == (3, "out", "err")
    assert result.ok is False and result.timed_out is False and result.error is None


def test_a_missing_tool_is_a_result_not_an_exception(tmp_path) -> None:
    result = _subprocess.run([str(tmp_path / "no-such-tool"), "--version"])
    assert result.returncode is None and result.error == f"{tmp_path / 'no-such-tool'}: not found"


def test_a_timeout_is_a_result() -> None:
    result = _subprocess.run(py("import time; time.sleep(30)"), timeout=0.5)
    assert result.timed_out is True and result.returncode is None and result.error == "timed out after 0.5 s"


def test_env_adds_to_the_inherited_environment(monkeypatch) -> None:
    monkeypatch.setenv("PB_TEST_INHERITED", "yes")
    result = _subprocess.run(py("import os; print(os.environ['PB_TEST_INHERITED'], os.environ['PB_TEST_ADDED'])"),
                             env={"PB_TEST_ADDED": "too"})
    assert result.stdout.strip() == "yes too"


def test_streaming_passes_merged_lines_in_order() -> None:
    lines = []
    result = _subprocess.run(py("import sys\nfor i in range(3):\n print('line', i, flush=True)\n"
                                " print('warn', i, file=sys.stderr, flush=True)"), stream=lines.append)
    assert result.ok
    assert lines == ["line 0", "warn 0", "line 1", "warn 1", "line 2", "warn 2"]
    assert result.stdout.splitlines() == lines and result.stderr == ""


def test_streaming_with_inherited_stdout_keeps_only_stderr(capfd) -> None:
    lines = []
    result = _subprocess.run(py("import sys; print('progress bar'); print('ERROR: boom', file=sys.stderr); "
                                "sys.exit(1)"), stream=lines.append, inherit_stdout=True)
    out, _ = capfd.readouterr()
    assert "progress bar" in out  # straight to our stdout (a terminal, in real use)
    assert lines == ["ERROR: boom"]
    assert (result.returncode, result.stdout, result.stderr) == (1, "", "ERROR: boom")


def test_streaming_timeout_keeps_what_was_printed() -> None:
    result = _subprocess.run(py("import time; print('started', flush=True); time.sleep(30)"), timeout=1.0,
                             stream=lambda line: None)
    assert result.timed_out is True and "started" in result.stdout


def test_ctrl_c_while_streaming_kills_the_child_and_is_logged(tmp_path) -> None:
    pid_file = tmp_path / "pid"

    def interrupt(line: str) -> None:
        raise KeyboardInterrupt

    _subprocess.COMMAND_LOG.results.clear()
    with pytest.raises(KeyboardInterrupt):
        _subprocess.run(py(f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); "
                           "print('go', flush=True); time.sleep(30)"), stream=interrupt)
    pid = int(pid_file.read_text())
    with pytest.raises(ProcessLookupError):  # killed and reaped
        os.kill(pid, 0)
    assert _subprocess.COMMAND_LOG.results[-1].error == "interrupted"


def test_every_call_is_recorded_with_secrets_redacted() -> None:
    _subprocess.COMMAND_LOG.results.clear()
    _subprocess.run(py("print('https://user:hunter2@proxy.example/x')"))
    _subprocess.run(py("pass"), record=False)
    assert len(_subprocess.COMMAND_LOG.results) == 1
    record = _subprocess.COMMAND_LOG.results[0].to_dict()
    assert "hunter2" not in record["output_tail"] and "***@proxy.example" in record["output_tail"]
    assert record["exit_code"] == 0 and record["argv"][0] == PY


def test_output_tail_is_the_last_lines_of_both_streams() -> None:
    result = CommandResult(["x"], 1, "\n".join(f"o{i}" for i in range(50)), "e1\ne2")
    assert result.output_tail(3) == "o49\ne1\ne2"


@pytest.mark.parametrize("data, text", [
    (b"", ""), ("caf\u00e9".encode("utf-8"), "caf\u00e9"), ("caf\u00e9".encode("cp1252"), "caf\u00e9"),
], ids=["empty", "utf8", "cp1252"])
def test_decode_output_never_fails(data: bytes, text: str, monkeypatch) -> None:
    import locale

    monkeypatch.setattr(locale, "getpreferredencoding", lambda do_setlocale=False: "cp1252")
    assert decode_output(data) == text


@pytest.mark.skipif(sys.platform == "win32", reason="uses sh")
@pytest.mark.parametrize("streaming", [False, True], ids=["captured", "streamed"])
def test_a_timeout_also_ends_what_the_command_started(streaming: bool, tmp_path) -> None:
    # a grandchild that keeps the output pipe open must not make the wait outlast the timeout
    marker = tmp_path / "still-running"
    script = f"(sleep 3; touch {marker}) & sleep 30"
    start = time.monotonic()
    result = run(["sh", "-c", script], timeout=1, stream=(lambda line: None) if streaming else None)
    assert result.timed_out and result.returncode is None
    assert time.monotonic() - start < 10
    time.sleep(3.5)
    assert not marker.exists(), "the background child outlived the timeout"

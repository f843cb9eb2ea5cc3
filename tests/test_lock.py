"""One run per environment: a lock held by another real process is exit 10; a dead holder's lock is taken over."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import List

import pytest

from pybootstrap import lock
from pybootstrap.errors import BusyError

HOLDER = r"""
import sys, time
from pathlib import Path
from pybootstrap import lock
from pybootstrap.errors import BusyError
prefix, go = Path(sys.argv[1]), Path(sys.argv[2])
while not go.exists():
    time.sleep(0.01)
try:
    with lock.hold(prefix, what="install"):
        print("held", flush=True)
        sys.stdin.readline()
except BusyError as exc:
    print("busy:", exc.message, flush=True)
"""


def start_holders(prefix: Path, go: Path, count: int = 1) -> List[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-c", HOLDER, str(prefix), str(go)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True) for _ in range(count)]


def stop(procs: List[subprocess.Popen]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.stdin.close()
            proc.wait(timeout=60)


def test_a_second_run_is_busy_while_the_first_holds_the_lock(tmp_path: Path) -> None:
    prefix = tmp_path / "env"
    go = tmp_path / "go"
    go.touch()
    [holder] = start_holders(prefix, go)
    try:
        assert holder.stdout.readline() == "held\n"
        with pytest.raises(BusyError) as info:
            with lock.hold(prefix, what="install"):
                pass
        assert info.value.exit_code == 10
        message = info.value.message
        assert re.fullmatch(rf"another install is running in this environment since \d\d:\d\d, pid {holder.pid}",
                            message), message
        held = lock.read_holder(lock.lock_path(prefix))
        assert held is not None
        assert message.split("since ")[1][:5] == time.strftime("%H:%M", time.localtime(held["started"]))
        assert str(lock.lock_path(prefix)) in (info.value.advice or "")
    finally:
        stop([holder])
    assert holder.returncode == 0
    assert not lock.lock_path(prefix).exists()  # released
    with lock.hold(prefix, what="install") as path:  # and free again
        assert lock.read_holder(path)["pid"] == os.getpid()


def test_of_runs_started_together_exactly_one_gets_the_lock(tmp_path: Path) -> None:
    prefix = tmp_path / "env"
    go = tmp_path / "go"
    holders = start_holders(prefix, go, count=4)
    try:
        time.sleep(0.5)  # all four are waiting for the start signal
        go.touch()
        lines = sorted(proc.stdout.readline().strip() for proc in holders)
    finally:
        stop(holders)
    assert lines[-1] == "held"
    assert all(line.startswith("busy: another install is running in this environment since ") for line in lines[:-1])


@pytest.mark.skipif(os.name == "nt", reason="SIGKILL")
def test_the_lock_of_a_killed_run_is_taken_over(tmp_path: Path) -> None:
    prefix = tmp_path / "env"
    go = tmp_path / "go"
    go.touch()
    [holder] = start_holders(prefix, go)
    assert holder.stdout.readline() == "held\n"
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=60)
    path = lock.lock_path(prefix)
    assert lock.read_holder(path)["pid"] == holder.pid  # left behind
    with lock.hold(prefix, what="install"):
        assert lock.read_holder(path)["pid"] == os.getpid()
    assert not path.exists()
    assert [p.name for p in tmp_path.iterdir() if "stale" in p.name] == []


def write_lock(path: Path, **details: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(details), encoding="utf-8")


def test_a_lock_older_than_the_limit_is_stale_even_on_another_host(tmp_path: Path) -> None:
    prefix = tmp_path / "env"
    path = lock.lock_path(prefix)
    write_lock(path, pid=1, host="build-agent-7", started=time.time() - lock.STALE_AFTER_S - 60, command="install")
    with lock.hold(prefix, what="verify"):
        assert lock.read_holder(path)["command"] == "verify"


def test_a_fresh_lock_of_another_host_is_respected(tmp_path: Path) -> None:
    prefix = tmp_path / "env"
    path = lock.lock_path(prefix)
    started = time.time() - 60
    write_lock(path, pid=4242, host="build-agent-7", started=started, command="install")
    with pytest.raises(BusyError) as info:
        lock.acquire(path, what="install")
    since = time.strftime("%H:%M", time.localtime(started))
    assert info.value.message == (f"another install is running in this environment since {since}, pid 4242 on "
                                  "build-agent-7")


def test_an_unreadable_lock_is_busy_at_first_and_stale_later(tmp_path: Path) -> None:
    path = lock.lock_path(tmp_path / "env")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{half", encoding="utf-8")
    with pytest.raises(BusyError) as info:
        lock.acquire(path, what="install")
    assert info.value.message == "another pybootstrap run is running in this environment since a moment ago, pid ?"
    old = time.time() - lock.UNREADABLE_GRACE_S - 5
    os.utime(path, (old, old))
    token = lock.acquire(path, what="install")
    lock.release(path, token)
    assert not path.exists()


def test_release_leaves_a_lock_that_is_not_ours(tmp_path: Path) -> None:
    path = lock.lock_path(tmp_path / "env")
    write_lock(path, pid=os.getpid(), host=socket.gethostname(), started=time.time(), token="someone-else")
    lock.release(path, "mine")
    assert path.exists()


def test_where_the_lock_lives(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert lock.lock_path(tmp_path / "new-env") == tmp_path / ".new-env.pybootstrap.lock"
    existing = tmp_path / "env"
    existing.mkdir()
    assert lock.lock_path(existing) == tmp_path / ".env.pybootstrap.lock"
    # an existing environment in a folder this user cannot write: the lock goes inside it
    monkeypatch.setattr(lock.os, "access", lambda path, mode: Path(path) != tmp_path)
    assert lock.lock_path(existing) == existing / ".pybootstrap.lock"


def test_a_link_at_the_lock_path_is_not_followed(tmp_path: Path) -> None:
    if not hasattr(os, "O_NOFOLLOW"):
        pytest.skip("no O_NOFOLLOW on this platform")
    target = tmp_path / "elsewhere"
    path = lock.lock_path(tmp_path / "env")
    path.symlink_to(target)  # dangling: O_CREAT would create the target through the link
    with pytest.raises(BusyError):
        lock.acquire(path, what="install")
    assert not target.exists()

"""pybootstrap.home: the home under a user, under LocalSystem, and elsewhere; and bootstrap.ps1 agrees with it.

The Windows environments are what `set` shows in each context: LocalSystem's USERNAME is the machine account
(`<COMPUTERNAME>$`) and its profile is %SystemRoot%\\system32\\config\\systemprofile (a 32-bit process sees
SysWOW64\\config\\systemprofile), so its LOCALAPPDATA points inside the Windows folder.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path, PureWindowsPath
from typing import Dict

import pytest

from pybootstrap import home

ROOT = Path(__file__).resolve().parent.parent

USER = {"USERNAME": "alice", "USERPROFILE": r"C:\Users\alice", "LOCALAPPDATA": r"C:\Users\alice\AppData\Local",
        "ProgramData": r"C:\ProgramData", "ALLUSERSPROFILE": r"C:\ProgramData", "SystemDrive": "C:"}
SYSTEM = {"USERNAME": "WS-0042$", "USERPROFILE": r"C:\Windows\system32\config\systemprofile",
          "LOCALAPPDATA": r"C:\Windows\system32\config\systemprofile\AppData\Local",
          "ProgramData": r"C:\ProgramData", "ALLUSERSPROFILE": r"C:\ProgramData", "SystemDrive": "C:"}
SYSTEM_32BIT = dict(SYSTEM, USERPROFILE=r"C:\Windows\SysWOW64\config\systemprofile",
                    LOCALAPPDATA=r"C:\Windows\SysWOW64\config\systemprofile\AppData\Local")


def win(path: Path) -> PureWindowsPath:
    """A Windows path computed on any OS, compared as Windows compares it."""
    return PureWindowsPath(str(path))


@pytest.mark.parametrize("environ, expected", [
    (USER, r"C:\Users\alice\AppData\Local\pybootstrap"),
    (SYSTEM, r"C:\ProgramData\pybootstrap"),
    (SYSTEM_32BIT, r"C:\ProgramData\pybootstrap"),
    (dict(SYSTEM, USERNAME="SYSTEM"), r"C:\ProgramData\pybootstrap"),            # the profile alone tells
    (dict(SYSTEM, USERPROFILE=r"c:\windows\System32\Config\SystemProfile\\"), r"C:\ProgramData\pybootstrap"),
    (dict(USER, USERNAME="WS-0042$", USERPROFILE=""), r"C:\ProgramData\pybootstrap"),  # the machine account alone
    (dict(SYSTEM, ProgramData="D:\\ProgramData"), r"D:\ProgramData\pybootstrap"),
    ({k: v for k, v in SYSTEM.items() if k != "ProgramData"}, r"C:\ProgramData\pybootstrap"),    # ALLUSERSPROFILE
    ({"USERNAME": "WS-0042$", "SystemDrive": "E:"}, r"E:\ProgramData\pybootstrap"),
    ({k.upper(): v for k, v in SYSTEM.items()}, r"C:\ProgramData\pybootstrap"),  # os.environ's upper-case keys
    ({k.upper(): v for k, v in USER.items()}, r"C:\Users\alice\AppData\Local\pybootstrap"),
    (dict(USER, USERNAME="systemadmin"), r"C:\Users\alice\AppData\Local\pybootstrap"),
    ({"USERPROFILE": r"C:\Users\bob"}, r"C:\Users\bob\AppData\Local\pybootstrap"),
], ids=["user", "system", "system-32-bit-process", "system-by-profile", "system-profile-any-case",
        "system-by-machine-account", "system-programdata-elsewhere", "system-allusersprofile",
        "system-systemdrive-only", "system-upper-case-names", "user-upper-case-names", "user-named-like-system",
        "user-without-localappdata"])
def test_windows_home(environ: Dict[str, str], expected: str) -> None:
    assert win(home.home_dir(environ, platform="win32")) == PureWindowsPath(expected)


@pytest.mark.parametrize("environ", [USER, SYSTEM], ids=["user", "system"])
def test_pybootstrap_home_wins_everywhere(environ: Dict[str, str], tmp_path: Path) -> None:
    given = dict(environ, PYBOOTSTRAP_HOME=str(tmp_path / "custom"))
    assert home.home_dir(given, platform="win32") == tmp_path / "custom"
    assert home.home_dir({"PYBOOTSTRAP_HOME": "~/pb"}, platform="linux") == Path.home() / "pb"


def test_the_sid_decides_when_it_is_known() -> None:
    assert home.is_local_system(USER, sid="S-1-5-18") is True
    assert home.is_local_system(SYSTEM, sid="S-1-5-21-1004336348-1177238915-682003330-1001") is False
    assert home.is_local_system(SYSTEM) is True and home.is_local_system(USER) is False


def test_elsewhere_the_xdg_data_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert home.home_dir({"XDG_DATA_HOME": "/srv/data"}, platform="linux") == Path("/srv/data/pybootstrap")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert home.home_dir({}, platform="darwin") == tmp_path / ".local" / "share" / "pybootstrap"
    assert home.home_dir(SYSTEM, platform="linux") == tmp_path / ".local" / "share" / "pybootstrap"


@pytest.mark.skipif(sys.platform == "win32", reason="the SID is only unknown off Windows")
def test_no_sid_off_windows(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert home.process_sid() is None
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("PYBOOTSTRAP_HOME", raising=False)
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    assert home.home_dir() == tmp_path / ".local" / "share" / "pybootstrap"


def _pwsh() -> str:
    for candidate in (shutil.which("pwsh"), Path.home() / ".dotnet" / "tools" / "pwsh", ROOT / ".ci-tools" / "pwsh" / "pwsh"):
        if candidate and os.access(str(candidate), os.X_OK):
            return str(candidate)
    pytest.skip("no PowerShell: pwsh is not on PATH, in ~/.dotnet/tools or in .ci-tools/pwsh")


def test_bootstrap_ps1_resolves_the_same_home(tmp_path: Path) -> None:
    """One rule in two languages: Resolve-HomePath in bootstrap.ps1 gives what home_dir gives."""
    cases = {"user": (USER, False), "system": (SYSTEM, True), "system-allusersprofile":
             ({k: v for k, v in SYSTEM.items() if k != "ProgramData"}, True)}
    script = ["$env:PYBOOTSTRAP_NO_MAIN = '1'; . '" + str(ROOT / "bootstrap.ps1") + "'", "$out = @{}"]
    for name, (environ, system) in cases.items():
        sets = "; ".join(f"$env:{k} = '{v}'" for k, v in environ.items())
        clears = "; ".join(f"Remove-Item Env:{k} -ErrorAction SilentlyContinue" for k in ("ProgramData", "ALLUSERSPROFILE"))
        script.append(f"{clears}; {sets}; $out['{name}'] = Resolve-HomePath -HomePath '' -Os windows "
                      f"-IsSystem ${str(system).lower()}")
    script.append("$out | ConvertTo-Json -Compress")
    dotnet = shutil.which("dotnet")
    env = {"PATH": os.path.dirname(dotnet) if dotnet else os.defpath, "HOME": str(tmp_path)}
    result = subprocess.run([_pwsh(), "-NoProfile", "-NonInteractive", "-Command", "\n".join(script)],
                            capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stderr
    resolved = json.loads(result.stdout.strip().splitlines()[-1])
    for name, (environ, _) in cases.items():
        assert PureWindowsPath(resolved[name]) == win(home.home_dir(environ, platform="win32")), name

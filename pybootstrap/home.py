"""The pybootstrap home: where the tool environment, the torch environments and the logs go.

One rule, shared with bootstrap.ps1 (its Resolve-HomePath), which creates the machine-wide home with an ACL that
lets only SYSTEM and Administrators write: PYBOOTSTRAP_HOME; else, on Windows as LocalSystem (Intune, ConfigMgr,
a GPO startup script), %ProgramData%\\pybootstrap, never the SYSTEM profile's AppData (which a 32-bit process
sees redirected to SysWOW64\\config\\systemprofile); else %LOCALAPPDATA%\\pybootstrap; elsewhere
$XDG_DATA_HOME/pybootstrap or ~/.local/share/pybootstrap.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Mapping, Optional

LOCAL_SYSTEM_SID = "S-1-5-18"
APP_DIR = "pybootstrap"


def home_dir(environ: Mapping[str, str] | None = None, *, platform: str | None = None) -> Path:
    """The pybootstrap home for these variables on this platform (default: this process, whose SID is then
    asked on Windows; with an explicit platform only the variables count)."""
    env = os.environ if environ is None else environ
    windows = (sys.platform if platform is None else platform) == "win32"
    given = _get(env, "PYBOOTSTRAP_HOME", windows)
    if given:
        return Path(given).expanduser()
    if windows and is_local_system(env, sid=process_sid() if platform is None else None):
        base = (_get(env, "ProgramData", windows) or _get(env, "ALLUSERSPROFILE", windows)
                or (_get(env, "SystemDrive", windows) or "C:") + "\\ProgramData")
        return Path(base) / APP_DIR
    if windows:
        local = _get(env, "LOCALAPPDATA", windows)
        if not local:
            profile = _get(env, "USERPROFILE", windows)
            local = str((Path(profile) if profile else Path.home()) / "AppData" / "Local")
        return Path(local) / APP_DIR
    return Path(env.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / APP_DIR


def is_local_system(environ: Mapping[str, str], *, sid: Optional[str] = None) -> bool:
    """True for Windows' LocalSystem account: by its SID when known, else by what its environment looks like
    (USERNAME is the machine account "NAME$", USERPROFILE is ...\\config\\systemprofile)."""
    if sid is not None:
        return sid == LOCAL_SYSTEM_SID
    username = _get(environ, "USERNAME", True)
    profile = _get(environ, "USERPROFILE", True).replace("/", "\\").lower()
    return username.endswith("$") or profile.rstrip("\\").endswith("\\config\\systemprofile")


def _get(environ: Mapping[str, str], name: str, windows: bool) -> str:
    """A variable's value ('' when unset); Windows names are case-insensitive."""
    value = environ.get(name)
    if value is None and windows:
        value = next((v for k, v in environ.items() if k.upper() == name.upper()), None)
    return value or ""


def process_sid() -> Optional[str]:
    """The SID of this process's user on Windows (advapi32 through ctypes), else None."""
    if sys.platform != "win32":
        return None
    import ctypes
    from ctypes import wintypes

    advapi32 = ctypes.WinDLL("advapi32", use_last_error=True)
    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
    kernel32.GetCurrentProcess.restype = wintypes.HANDLE
    advapi32.OpenProcessToken.argtypes = [wintypes.HANDLE, wintypes.DWORD, ctypes.POINTER(wintypes.HANDLE)]
    advapi32.GetTokenInformation.argtypes = [wintypes.HANDLE, ctypes.c_int, ctypes.c_void_p, wintypes.DWORD,
                                             ctypes.POINTER(wintypes.DWORD)]
    advapi32.ConvertSidToStringSidW.argtypes = [ctypes.c_void_p, ctypes.POINTER(wintypes.LPWSTR)]
    kernel32.LocalFree.argtypes = [ctypes.c_void_p]
    kernel32.CloseHandle.argtypes = [wintypes.HANDLE]
    token = wintypes.HANDLE()
    if not advapi32.OpenProcessToken(kernel32.GetCurrentProcess(), 0x0008, ctypes.byref(token)):  # TOKEN_QUERY
        return None
    try:
        size = wintypes.DWORD()
        advapi32.GetTokenInformation(token, 1, None, 0, ctypes.byref(size))  # 1 = TokenUser: TOKEN_USER
        buffer = ctypes.create_string_buffer(size.value)
        if not advapi32.GetTokenInformation(token, 1, buffer, size, ctypes.byref(size)):
            return None
        sid = ctypes.cast(buffer, ctypes.POINTER(ctypes.c_void_p))[0]  # TOKEN_USER.User.Sid comes first
        text = wintypes.LPWSTR()
        if not advapi32.ConvertSidToStringSidW(sid, ctypes.byref(text)):
            return None
        try:
            return text.value
        finally:
            kernel32.LocalFree(text)
    finally:
        kernel32.CloseHandle(token)

"""bootstrap.ps1 run for real: nothing inside the script is mocked.

A loopback HTTP server (tests/indexserver.py) serves bootstrap.ps1, a pybootstrap wheel built from this checkout with
its .sha256, an index of fake torch wheels (tests/fake_torch.py) and a small fake Miniforge installer. A child pwsh
runs `irm http://127.0.0.1:PORT/bootstrap.ps1 | iex` configured by PYBOOTSTRAP_* variables (or the -File form), then
one more command in the same session. pybootstrap's dependencies come from the shared wheelhouse, never from PyPI;
the hardware is a saved nvidia-smi table. Skipped, with the reason, where PowerShell or the wheelhouse is missing.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Dict, List, Optional

import fake_torch
import pytest
from indexserver import IndexServer

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
SMI_RTX3070 = str(DATA / "nvidia-smi" / "linux-wsl-rtx3070-smi530.47-driver531.68.txt")
WHEEL = "pybootstrap-0.1.0-py3-none-any.whl"
INSTALLER = "Miniforge3-fake-Linux-x86_64.sh"
RUN_TIMEOUT = 300

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="the POSIX flow (bin/ layout, .sh installer, SIGINT)")


def find_pwsh() -> Optional[str]:
    """pwsh on PATH, else the .NET global tool, else the one .ci/run installs."""
    for candidate in (shutil.which("pwsh"), Path.home() / ".dotnet" / "tools" / "pwsh", ROOT / ".ci-tools" / "pwsh" / "pwsh"):
        if candidate and os.access(str(candidate), os.X_OK):
            return str(candidate)
    return None


def find_wheelhouse() -> Optional[Path]:
    for candidate in (ROOT.parent / "shared" / "wheelhouse", Path("/work/shared/wheelhouse")):
        if any(candidate.glob("requests-*.whl")):
            return candidate
    return None


# --- the served site ----------------------------------------------------------------------------------------------

FAKE_MINIFORGE = """#!/bin/sh
# A stand-in for a Miniforge .sh installer: batch mode (-b) into a prefix (-p), refusing anything else, as the
# real one does. The "Python" it installs is the interpreter running the tests.
printf '%s\\n' "$@" > "{record}"
batch=0
prefix=
while [ $# -gt 0 ]; do
  case "$1" in
    -b) batch=1 ;;
    -p) prefix="$2"; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
[ "$batch" = 1 ] || { echo "not in batch mode: would ask questions" >&2; exit 3; }
[ -n "$prefix" ] || { echo "no prefix" >&2; exit 4; }
mkdir -p "$prefix/bin" "$prefix/conda-meta"
ln -s "{python}" "$prefix/bin/python3"
: > "$prefix/conda-meta/history"
echo "fake Miniforge installed in $prefix"
"""


def build_wheel(dest: Path, scratch: Path) -> Path:
    """The pybootstrap wheel from a copy of this checkout, offline (as tests/test_packaging.py does)."""
    source = scratch / "source"
    for name in ("pyproject.toml", "README.md"):
        source.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, source / name)
    for name in ("pybootstrap", "manifests"):
        shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                             "--disable-pip-version-check", "-q", "-w", str(dest), str(source)],
                            capture_output=True, text=True, timeout=300)
    if result.returncode != 0 and "No module named" in (result.stderr + result.stdout):
        pytest.skip(f"no build backend in this environment: {result.stderr.strip()[-200:]}")
    assert result.returncode == 0, result.stderr[-2000:]
    return dest / WHEEL


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def base_python() -> str:
    """The interpreter behind the one running the tests (a venv's python is a link to it)."""
    python = os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable)
    probe = subprocess.run([python, "-c", "import venv, ensurepip"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"{python} has no venv/ensurepip module, so bootstrap.ps1 would not use it")
    return python


@pytest.fixture(scope="module")
def pwsh() -> str:
    found = find_pwsh()
    if found is None:
        pytest.skip("no PowerShell: pwsh is not on PATH, in ~/.dotnet/tools or in .ci-tools/pwsh")
    return found


@pytest.fixture(scope="module")
def wheelhouse() -> Path:
    found = find_wheelhouse()
    if found is None:
        pytest.skip("no wheelhouse with pybootstrap's dependencies at ../shared/wheelhouse or /work/shared/wheelhouse")
    return found


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, pwsh: str, wheelhouse: Path) -> Path:
    """What the server serves: bootstrap.ps1, the wheel and its .sha256, the fake installer, the torch index."""
    root = tmp_path_factory.mktemp("site")
    wheel = build_wheel(root, tmp_path_factory.mktemp("build"))
    (root / (WHEEL + ".sha256")).write_text(f"{sha256_of(wheel)}  {WHEEL}\n")
    shutil.copy2(ROOT / "bootstrap.ps1", root / "bootstrap.ps1")
    record = tmp_path_factory.mktemp("installer") / "arguments.txt"
    (root / INSTALLER).write_text(FAKE_MINIFORGE.replace("{record}", str(record)).replace("{python}", base_python()))
    fake_torch.standard_index(root)
    return root


@pytest.fixture(scope="module")
def server(site: Path):
    with IndexServer(site) as srv:
        yield srv


@pytest.fixture(scope="module")
def python_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A PATH folder whose only Python is python3 (nothing else the script could pick up)."""
    folder = tmp_path_factory.mktemp("python-bin")
    (folder / "python3").symlink_to(base_python())
    return folder


@pytest.fixture(scope="module")
def host_bin(tmp_path_factory: pytest.TempPathFactory, pwsh: str) -> Path:
    """A PATH folder with `dotnet` only: PowerShell installed as a .NET tool starts it from PATH."""
    folder = tmp_path_factory.mktemp("host-bin")
    dotnet = shutil.which("dotnet")
    if dotnet:
        (folder / "dotnet").symlink_to(os.path.realpath(dotnet))
    return folder


def environment(server: IndexServer, home: Path, path: List[Path], wheelhouse: Path, **extra: str) -> Dict[str, str]:
    """A clean environment: the served wheel (its .sha256 beside it), the wheelhouse for its dependencies, the
    fake torch index, the RTX 3070 capture as hardware; no proxies, no pip configuration, no cache. `path` is the
    whole PATH (the test's host_bin folder included)."""
    env = {"HOME": os.environ.get("HOME", str(home.parent)), "PATH": os.pathsep.join(str(p) for p in path),
           "LANG": "C.UTF-8", "POWERSHELL_TELEMETRY_OPTOUT": "1", "POWERSHELL_UPDATECHECK": "Off",
           "PIP_CONFIG_FILE": os.devnull, "PIP_NO_CACHE_DIR": "1",
           "PYBOOTSTRAP_HOME": str(home),
           "PYBOOTSTRAP_SOURCE": f"{server.url}/{WHEEL}",
           "PYBOOTSTRAP_DEPENDENCY_SOURCE": str(wheelhouse),
           "PYBOOTSTRAP_NVIDIA_SMI_FILE": SMI_RTX3070,
           "PYBOOTSTRAP_TORCH": "2.5.1", "PYBOOTSTRAP_VARIANT": "cu124",
           "PYBOOTSTRAP_INDEX_URL": f"{server.url}/cu124"}
    for name in ("DOTNET_ROOT", "TMPDIR"):
        if os.environ.get(name):
            env[name] = os.environ[name]
    env.update(extra)
    return {k: v for k, v in env.items() if v != ""}


def run(argv: List[str], env: Dict[str, str], cwd: Path, stdin: Optional[str] = None) -> subprocess.CompletedProcess:
    return subprocess.run(argv, env=env, cwd=str(cwd), input=stdin, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=RUN_TIMEOUT)


def iex(pwsh: str, server: IndexServer, env: Dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    """irm | iex, then one more command in the same session, which reports $LASTEXITCODE."""
    command = f'irm {server.url}/bootstrap.ps1 | iex; "SESSION ALIVE, LASTEXITCODE=$LASTEXITCODE"; exit $LASTEXITCODE'
    return run([pwsh, "-NoProfile", "-NonInteractive", "-Command", command], env, cwd)


def served(server: IndexServer) -> List[str]:
    return [p for p in server.requests if p != "/bootstrap.ps1"]


def latest_log(home: Path) -> Dict:
    return json.loads((home / "logs" / "latest.json").read_text(encoding="utf-8"))


def env_state(prefix: Path) -> Optional[Dict]:
    state = prefix / "pybootstrap-state.json"
    return json.loads(state.read_text(encoding="utf-8")) if state.is_file() else None


def tool_home(venv: Path) -> str:
    """The `home` line of the tool venv's pyvenv.cfg: the Python it was made from."""
    return re.search(r"^home\s*=\s*(.+)$", (venv / "pyvenv.cfg").read_text(), re.M).group(1).strip()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- a fresh machine: the one-liner, then a second run ------------------------------------------------------------

@pytest.fixture(scope="module")
def installed(tmp_path_factory, pwsh, server, python_bin, host_bin, wheelhouse):
    """The first run on a machine with only python3: its result and its home (shared by the tests that follow)."""
    home = tmp_path_factory.mktemp("machine") / "home"
    server.reset()
    result = iex(pwsh, server, environment(server, home, [python_bin, host_bin], wheelhouse), home.parent)
    return {"home": home, "result": result, "requests": served(server)}


def test_one_liner_installs_verifies_and_leaves_the_session_alive(installed, server, python_bin) -> None:
    result, home = installed["result"], installed["home"]
    assert result.returncode == 0, result.stdout[-4000:]
    assert "SESSION ALIVE, LASTEXITCODE=0" in result.stdout
    # python3 from PATH, the served wheel checked against its .sha256, the tool venv made from that python3
    assert f"Using Python {'.'.join(map(str, sys.version_info[:3]))} at {python_bin / 'python3'}" in result.stdout
    assert f"SHA256 verified: {WHEEL}" in result.stdout
    assert installed["requests"][:2] == [f"/{WHEEL}", f"/{WHEEL}.sha256"]
    venv = home / "tool" / "venv"
    assert tool_home(venv) == str(python_bin)
    assert (venv / "pybootstrap-source.txt").read_text(encoding="utf-8-sig").strip() == f"{server.url}/{WHEEL}|"
    # the hand-off installed the fake torch from the local index and verified it
    assert "torch-2.5.1+cu124-py3-none-any.whl" in " ".join(installed["requests"])
    assert env_state(home / "envs" / "torch")["status"] == "good"
    log = latest_log(home)
    assert log["exit_code"] == 0 and log["status"] == "ok"
    assert log["verification"]["torch_version"] == "2.5.1+cu124"
    assert log["verification"]["devices"][0]["name"] == "NVIDIA GeForce RTX 3070"
    assert not list((home / "tmp").iterdir()), "the downloads folder is removed at the end"


def test_a_second_run_reuses_everything_and_downloads_nothing(installed, pwsh, server, python_bin, wheelhouse, host_bin) -> None:
    home = installed["home"]
    venv_cfg = (home / "tool" / "venv" / "pyvenv.cfg").stat()
    server.reset()
    result = iex(pwsh, server, environment(server, home, [python_bin, host_bin], wheelhouse), home.parent)
    assert result.returncode == 0, result.stdout[-4000:]
    assert "SESSION ALIVE, LASTEXITCODE=0" in result.stdout
    assert server.requests == ["/bootstrap.ps1"]
    assert "Reusing the tool environment" in result.stdout
    assert "Creating the tool environment" not in result.stdout
    assert "is already installed and verified" in result.stdout
    assert (home / "tool" / "venv" / "pyvenv.cfg").stat().st_mtime_ns == venv_cfg.st_mtime_ns


def test_a_wrong_sha256_installs_nothing_and_keeps_the_tool_venv(installed, pwsh, server, python_bin, wheelhouse, host_bin) -> None:
    home = installed["home"]
    venv = home / "tool" / "venv"
    before = {p: p.stat().st_mtime_ns for p in (venv / "pyvenv.cfg", venv / "pybootstrap-source.txt")}
    server.reset()
    wrong = "0" * 64
    result = iex(pwsh, server, environment(server, home, [python_bin, host_bin], wheelhouse, PYBOOTSTRAP_SOURCE_SHA256=wrong),
                 home.parent)
    assert result.returncode == 9, result.stdout[-4000:]
    assert "SESSION ALIVE, LASTEXITCODE=9" in result.stdout
    assert f"SHA256 mismatch for {WHEEL}: expected {wrong}, got {sha256_of(Path(server.root) / WHEEL)}" in result.stdout
    assert served(server) == [f"/{WHEEL}"]  # no .sha256 needed, no index touched: pybootstrap never ran
    assert "Creating the tool environment" not in result.stdout and "Running:" not in result.stdout
    assert {p: p.stat().st_mtime_ns for p in before} == before
    assert not list((home / "tmp").iterdir())


# --- failures before anything is installed -------------------------------------------------------------------------

def test_an_unreachable_source_is_exit_6_naming_the_url(tmp_path, pwsh, server, python_bin, wheelhouse, host_bin) -> None:
    url = f"http://127.0.0.1:{closed_port()}/{WHEEL}"
    home = tmp_path / "home"
    result = iex(pwsh, server, environment(server, home, [python_bin, host_bin], wheelhouse, PYBOOTSTRAP_SOURCE=url), tmp_path)
    assert result.returncode == 6, result.stdout[-4000:]
    assert "SESSION ALIVE, LASTEXITCODE=6" in result.stdout
    assert f"Download failed after 3 attempt(s): {url}: " in result.stdout
    assert not (home / "tool").exists()


@pytest.mark.parametrize("form, extra, arguments, message", [
    ("iex", {"PYBOOTSTRAP_SOURCE_SHA256": "not-a-hash"}, [], '-SourceSha256 must be 64 hexadecimal digits, not "not-a-hash".'),
    ("iex", {"PYBOOTSTRAP_PROXY": "proxy.example:8080"}, [], '-Proxy must be a URL like http://proxy.example:8080'),
    ("file", {}, ["-Bogus", "1"], "Unknown parameter -Bogus."),
], ids=["bad-sha256-variable", "bad-proxy-variable", "unknown-parameter"])
def test_usage_errors_are_exit_2_before_anything_happens(tmp_path, pwsh, server, site, python_bin, wheelhouse, form,
                                                         extra, arguments, message, host_bin) -> None:
    home = tmp_path / "home"
    env = environment(server, home, [python_bin, host_bin], wheelhouse, **extra)
    server.reset()
    if form == "iex":
        result = iex(pwsh, server, env, tmp_path)
        assert "SESSION ALIVE, LASTEXITCODE=2" in result.stdout
    else:
        result = run([pwsh, "-NoProfile", "-NonInteractive", "-File", str(site / "bootstrap.ps1"), *arguments], env, tmp_path)
    assert result.returncode == 2, result.stdout[-4000:]
    assert message in result.stdout
    assert not home.exists()
    assert served(server) == []


def test_a_bad_value_for_pybootstrap_is_its_exit_2(installed, tmp_path, pwsh, server, site, python_bin, wheelhouse, host_bin) -> None:
    home = installed["home"]
    env = environment(server, home, [python_bin, host_bin], wheelhouse)
    result = run([pwsh, "-NoProfile", "-NonInteractive", "-File", str(site / "bootstrap.ps1"), "--", "--variant", "cu9x"],
                 env, tmp_path)
    assert result.returncode == 2, result.stdout[-4000:]
    assert "--variant 'cu9x': expected cpu, cuXYZ" in result.stdout


# --- no Python: Miniforge --------------------------------------------------------------------------------------------

def test_without_python_it_installs_miniforge_and_uses_its_python(tmp_path, pwsh, server, site, wheelhouse, host_bin) -> None:
    tools = tmp_path / "tools"  # a PATH with what the installer needs and no Python at all
    tools.mkdir()
    for name in ("bash", "sh", "mkdir", "ln"):
        found = shutil.which(name)
        assert found, name
        (tools / name).symlink_to(found)
    home = tmp_path / "home"
    installer = site / INSTALLER
    env = environment(server, home, [tools, host_bin], wheelhouse, PYBOOTSTRAP_INSTALLER_URL=f"{server.url}/{INSTALLER}",
                      PYBOOTSTRAP_INSTALLER_SHA256=sha256_of(installer), PYBOOTSTRAP_DRY_RUN="1")
    server.reset()
    result = iex(pwsh, server, env, tmp_path)
    assert result.returncode == 0, result.stdout[-4000:]
    assert "No usable Python 3.9+ was found; installing Miniforge." in result.stdout
    assert f"SHA256 verified: {INSTALLER}" in result.stdout
    record = Path(re.search(r'printf .* > "([^"]+)"', installer.read_text()).group(1))
    prefix = home / "conda"
    assert record.read_text().split("\n")[:3] == ["-b", "-p", str(prefix)]  # silent, into its prefix
    assert f"Miniforge installed; using Python {'.'.join(map(str, sys.version_info[:3]))} at {prefix / 'bin' / 'python3'}" in result.stdout
    assert tool_home(home / "tool" / "venv") == str(prefix / "bin")
    assert served(server)[:3] == [f"/{INSTALLER}", f"/{WHEEL}", f"/{WHEEL}.sha256"]
    assert "Commands:" in result.stdout and "SESSION ALIVE, LASTEXITCODE=0" in result.stdout  # pybootstrap's dry run


# --- Ctrl+C ------------------------------------------------------------------------------------------------------------

def test_sigint_in_the_middle_of_the_install_is_130_and_nothing_is_marked_good(installed, tmp_path, pwsh, server,
                                                                               python_bin, wheelhouse, host_bin) -> None:
    target = tmp_path / "torch-env"
    env = environment(server, installed["home"], [python_bin, host_bin], wheelhouse, PYBOOTSTRAP_VENV=str(target))
    server.reset()
    streaming = server.slow("torch-2.5.1+cu124-py3-none-any.whl", 0.1)  # about 20 s of download
    # A session reading commands from stdin, like a console: Ctrl+C stops the running line, the next one runs.
    process = subprocess.Popen([pwsh, "-NoProfile", "-NonInteractive", "-Command", "-"], env=env, cwd=str(tmp_path),
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)
    try:
        assert process.stdin is not None
        process.stdin.write(f"irm {server.url}/bootstrap.ps1 | iex\n"
                            '"SESSION ALIVE, LASTEXITCODE=$LASTEXITCODE"\nexit $LASTEXITCODE\n')
        process.stdin.close()
        assert streaming.wait(120), "the torch download never started"
        os.killpg(process.pid, signal.SIGINT)  # what Ctrl+C in a terminal does: the whole process group
        try:
            process.wait(8)
        except subprocess.TimeoutExpired:
            # Once in several runs here the first signal reached neither pwsh nor pybootstrap (both were in the
            # group, neither blocked nor ignored SIGINT); a user would press Ctrl+C again.
            os.killpg(process.pid, signal.SIGINT)
        output = process.stdout.read() if process.stdout else ""
        process.wait(RUN_TIMEOUT)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 130, output[-4000:]
    assert "SESSION ALIVE, LASTEXITCODE=130" in output
    assert (env_state(target) or {}).get("status") != "good"
    log = latest_log(installed["home"])
    assert (log["status"], log["exit_code"], log["error"]["kind"]) == ("interrupted", 130, "interrupted")


# --- -File with pass-through arguments ---------------------------------------------------------------------------------

def test_a_file_run_passes_arguments_to_pybootstrap_unchanged(installed, tmp_path, pwsh, server, python_bin,
                                                              wheelhouse, host_bin) -> None:
    script = tmp_path / "bootstrap.ps1"
    script.write_bytes(urllib.request.urlopen(f"{server.url}/bootstrap.ps1", timeout=30).read())
    target = tmp_path / "cpu-env"
    env = environment(server, installed["home"], [python_bin, host_bin], wheelhouse, PYBOOTSTRAP_VENV=str(target),
                      PYBOOTSTRAP_TORCH="", PYBOOTSTRAP_VARIANT="", PYBOOTSTRAP_INDEX_URL=f"{server.url}/cpu")
    result = run([pwsh, "-NoProfile", "-NonInteractive", "-File", str(script), "--", "--variant", "cpu", "--torch", "2.5.1"],
                 env, tmp_path)
    assert result.returncode == 0, result.stdout[-4000:]
    assert result.stdout.count("-m pybootstrap install --variant cpu --torch 2.5.1\n") == 1
    log = latest_log(installed["home"])
    assert log["argv"] == ["install", "--variant", "cpu", "--torch", "2.5.1"]
    assert log["verification"]["torch_version"] == "2.5.1+cpu"
    assert env_state(target)["status"] == "good"


# --- README.md, word for word ------------------------------------------------------------------------------------------

def readme_block(after: str) -> str:
    """The first fenced code block after the heading `after` in README.md."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index(after)
    match = re.search(r"```[a-z]*\n(.*?)```", text[start:], re.S)
    assert match, f"no code block after {after!r}"
    return match.group(1)


def swap_url(text: str, server: IndexServer) -> str:
    swapped, count = re.subn(r"https://\S+?/bootstrap\.ps1", f"{server.url}/bootstrap.ps1", text)
    assert count >= 1, text
    return swapped


@pytest.fixture()
def powershell_alias(tmp_path: Path, pwsh: str) -> Path:
    """`powershell` and `powershell.exe` on PATH run pwsh (the command text stays as README has it)."""
    folder = tmp_path / "alias-bin"
    folder.mkdir()
    for name in ("powershell", "powershell.exe"):
        (folder / name).symlink_to(pwsh)
    return folder


def test_readme_one_liner_word_for_word(tmp_path, pwsh, server, python_bin, wheelhouse, powershell_alias, host_bin) -> None:
    line = swap_url(readme_block("## Windows: the one-liner").strip(), server)
    assert "\n" not in line
    home = tmp_path / "home"
    env = environment(server, home, [powershell_alias, python_bin, host_bin], wheelhouse)
    server.reset()
    # as cmd.exe (or the Run dialog) splits it: no shell expands anything inside the quotes
    result = run(shlex.split(line), env, tmp_path)
    assert result.returncode == 0, result.stdout[-4000:]
    assert "Verification: ok" in result.stdout
    assert env_state(home / "envs" / "torch")["status"] == "good"
    assert tool_home(home / "tool" / "venv") == str(python_bin)


def test_readme_powershell_window_form_word_for_word(installed, tmp_path, pwsh, server, python_bin, wheelhouse,
                                                    host_bin) -> None:
    line = swap_url(readme_block("In a PowerShell\nwindow you already have open").strip(), server)
    env = environment(server, installed["home"], [python_bin, host_bin], wheelhouse)
    result = run([pwsh, "-NoProfile", "-NonInteractive", "-Command", "-"], env, tmp_path,
                 stdin=line + '\n"SESSION ALIVE, LASTEXITCODE=$LASTEXITCODE"\n')
    assert "SESSION ALIVE, LASTEXITCODE=0" in result.stdout, result.stdout[-4000:]
    assert "is already installed and verified" in result.stdout


def test_readme_file_run_form_word_for_word(installed, tmp_path, pwsh, server, site, python_bin, wheelhouse,
                                           powershell_alias, host_bin) -> None:
    lines = swap_url(readme_block("#### From a file"), server)
    env = environment(server, installed["home"], [powershell_alias, python_bin, host_bin], wheelhouse)
    # typed line by line into a PowerShell window; the last line shows what the calling program would see
    result = run([pwsh, "-NoProfile", "-NonInteractive", "-Command", "-"], env, tmp_path,
                 stdin=lines + '\n"FILE RUN EXIT CODE=$LASTEXITCODE"\n')
    assert "FILE RUN EXIT CODE=0" in result.stdout, result.stdout[-4000:]
    downloaded = tmp_path / "bootstrap.ps1"
    assert downloaded.read_bytes() == (site / "bootstrap.ps1").read_bytes()
    assert sha256_of(downloaded).upper() in result.stdout  # the hash to compare with the release's
    log = latest_log(installed["home"])
    assert log["exit_code"] == 0
    assert log["argv"][:1] == ["install"] and log["argv"][1:] == readme_block("#### From a file").split(" -- ", 1)[1].split()

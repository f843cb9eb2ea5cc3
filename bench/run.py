"""pybootstrap's speed, measured side by side with its floor in one run: start-up, install, re-run, imports.

    python bench/run.py [--repeat N] [--install-repeat M] [--quick] [--out bench/results/latest.json] [--no-fail]

Run it with the interpreter that has pybootstrap installed (or pass --python). Everything is built in a
temporary folder: a fake nvidia-smi on PATH, generated torch / torchvision / torchaudio wheels sized like
real ones (scaled down), and a PEP 503 index of them served on 127.0.0.1. Every measured command runs
N times, interleaved (A B C, B C A, C A B, ...), and the table reports medians. Standard library only.
Exit status: 0 when every budget holds, 1 when one is exceeded (unless --no-fail), 2 when the bench
itself could not run (a command failed or gave a wrong answer).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _fixtures import (GPU_CC, GPU_NAME, REPO, SMI_TABLE, TORCH, TORCHAUDIO, TORCHVISION,
                       VARIANT, WHEEL_MB, IndexServer, build_index, hermetic_env, venv_python, write_fake_smi)
from _report import (BUDGETS, busy_warning, details, judge, load_average, machine_facts,
                     markdown)


# --- running and timing ---------------------------------------------------------------------------

def say(text: str) -> None:
    """Progress on stderr (the table goes to stdout)."""
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def summarize(samples: Sequence[float]) -> Dict[str, Any]:
    """Median, min, max of a list of seconds."""
    return {"samples_s": [round(s, 6) for s in samples], "median_s": statistics.median(samples),
            "min_s": min(samples), "max_s": max(samples)}


def rotations(names: Sequence[str], rounds: int) -> List[List[str]]:
    """Interleaved order: every round runs each name once, each round starting one later (A B C, B C A, ...)."""
    k = len(names)
    return [[names[(r + i) % k] for i in range(k)] for r in range(rounds)]


def children_cpu_s() -> Optional[float]:
    """User + system CPU seconds of every finished child process (and theirs); None where unknown (Windows)."""
    try:
        import resource
    except ImportError:
        return None
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class BenchError(Exception):
    """The bench could not measure (a command failed or answered wrongly): exit 2."""


def run_timed(argv: Sequence[str], env: Dict[str, str], *, timeout: float = 600.0,
              check: Optional[Callable[[subprocess.CompletedProcess], Optional[str]]] = None) -> Tuple[float, Any]:
    """Wall time from process start to exit; raise BenchError when it fails or check() objects."""
    start = time.perf_counter()
    try:
        proc = subprocess.run(list(argv), env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BenchError(f"{' '.join(map(str, argv))}: {exc}") from None
    elapsed = time.perf_counter() - start
    try:
        problem = f"exit {proc.returncode}" if proc.returncode != 0 else (check(proc) if check else None)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:  # e.g. stdout that is not the JSON expected
        problem = f"unexpected output ({type(exc).__name__}: {exc})"
    if problem:
        tail = (proc.stdout.decode(errors="replace")[-1500:] + "\n" + proc.stderr.decode(errors="replace")[-3000:])
        raise BenchError(f"{' '.join(map(str, argv))}: {problem}\n{tail}")
    return elapsed, proc


# --- 1. start-up ----------------------------------------------------------------------------------

def startup_commands(python: str) -> Dict[str, List[str]]:
    """The start-up commands, by metric name."""
    pb = [python, "-m", "pybootstrap"]
    return {"floor": [python, "-c", "pass"], "version": pb + ["--version"],
            "detect": pb + ["detect", "--json"], "plan": pb + ["plan", "--json"]}


def check_startup(name: str, proc: subprocess.CompletedProcess) -> Optional[str]:
    """The commands must do their real work, on the fake GPU, or the timings mean nothing."""
    out = proc.stdout.decode(errors="replace")
    if name == "version":
        return None if out.startswith("pybootstrap ") else f"unexpected output {out!r}"
    if name in ("detect", "plan"):
        doc = json.loads(out)
        hw = doc if name == "detect" else doc.get("hardware") or {}
        gpus = hw.get("gpus") or []
        if hw.get("source") != "nvidia-smi" or not gpus or gpus[0].get("name") != GPU_NAME:
            return f"the fake nvidia-smi was not used: source={hw.get('source')} gpus={gpus}"
        if gpus[0].get("compute_capability") != "%d.%d" % GPU_CC:
            return f"compute capability {gpus[0].get('compute_capability')}, expected {GPU_CC}"
        if name == "plan" and (doc.get("status") != "ok" or not doc.get("commands")):
            return f"plan status {doc.get('status')}: {doc.get('reasons')}"
    return None


def measure_startup(python: str, env: Dict[str, str], rounds: int) -> Dict[str, Dict[str, Any]]:
    """Each start-up command `rounds` times, interleaved, after one unmeasured warm-up each."""
    commands = startup_commands(python)
    checks = {n: (lambda p, n=n: check_startup(n, p)) for n in commands}
    for name, argv in commands.items():  # warm-up: byte-code compiled, file cache hot, answers checked
        run_timed(argv, env, check=checks[name])
    samples: Dict[str, List[float]] = {n: [] for n in commands}
    for order in rotations(list(commands), rounds):
        for name in order:
            samples[name].append(run_timed(commands[name], env, check=checks[name])[0])
    return {n: summarize(s) for n, s in samples.items()}


# --- 4. import time -------------------------------------------------------------------------------

def parse_importtime(text: str) -> List[Dict[str, Any]]:
    """-X importtime lines as [{name, self_us, cumulative_us, depth, parent}], parents resolved."""
    rows: List[Dict[str, Any]] = []
    for line in text.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        try:
            self_us, cum_us, name = line.split(":", 1)[1].split("|")
            self_us, cum_us = int(self_us), int(cum_us)
        except ValueError:
            continue
        depth = (len(name) - len(name.lstrip(" ")) - 1) // 2
        rows.append({"name": name.strip(), "self_us": self_us, "cumulative_us": cum_us,
                     "depth": depth, "parent": None})
    pending: List[Dict[str, Any]] = []  # children are printed before their parent, one level deeper
    for row in rows:
        while pending and pending[-1]["depth"] > row["depth"]:
            pending.pop()["parent"] = row["name"]
        pending.append(row)
    return rows


def import_summary(text: str) -> Dict[str, Any]:
    """pybootstrap's cumulative import time (its modules and all they pull in) and what it imported."""
    rows = parse_importtime(text)
    ours = [r for r in rows if r["name"].split(".")[0] == "pybootstrap"]
    top = [r for r in ours if not (r["parent"] or "").startswith("pybootstrap")]
    names = {r["name"] for r in rows}
    return {"pybootstrap_cumulative_us": sum(r["cumulative_us"] for r in top),
            "pybootstrap_self_us": sum(r["self_us"] for r in ours),
            "modules": len(rows), "requests_imported": any(n.split(".")[0] == "requests" for n in names),
            "self_us": {r["name"]: r["self_us"] for r in rows}, "parent": {r["name"]: r["parent"] for r in rows}}


def measure_imports(python: str, env: Dict[str, str], rounds: int) -> Dict[str, Dict[str, Any]]:
    """python -X importtime for --version / detect / plan, interleaved; medians of pybootstrap's share."""
    commands = {k: v for k, v in startup_commands(python).items() if k != "floor"}
    runs: Dict[str, List[Dict[str, Any]]] = {n: [] for n in commands}
    for order in rotations(list(commands), rounds):
        for name in order:
            argv = [python, "-X", "importtime"] + commands[name][1:]
            _, proc = run_timed(argv, env)
            runs[name].append(import_summary(proc.stderr.decode(errors="replace")))
    out: Dict[str, Dict[str, Any]] = {}
    for name, items in runs.items():
        cum = [i["pybootstrap_cumulative_us"] / 1e6 for i in items]
        # per module, the least self time seen: load on the machine only ever adds to it
        least = {m: min(i["self_us"].get(m, 10 ** 9) for i in items) for m in items[0]["self_us"]}
        heaviest = [{"name": m, "self_us": us, "imported_by": items[0]["parent"].get(m)}
                    for m, us in sorted(least.items(), key=lambda kv: -kv[1])[:15]]
        out[name] = dict(summarize(cum), requests_imported=any(i["requests_imported"] for i in items),
                         self_median_s=statistics.median(i["pybootstrap_self_us"] for i in items) / 1e6,
                         modules=items[0]["modules"], imported=sorted(least), heaviest=heaviest)
    return out


# --- 2. install and 3. re-run ---------------------------------------------------------------------

def install_commands(python: str, prefix: Path, index_url: str, log: Path) -> Dict[str, List[List[str]]]:
    """The two ways to the same environment."""
    pins = [f"torch=={TORCH}", f"torchvision=={TORCHVISION}", f"torchaudio=={TORCHAUDIO}"]
    return {
        "plain_install": [[python, "-m", "venv", str(prefix)],
                          [str(venv_python(prefix)), "-m", "pip", "install", *pins, "--index-url", index_url]],
        "install": [[python, "-m", "pybootstrap", "install", "--json", "--venv", str(prefix),
                     "--nvidia-smi-file", str(SMI_TABLE), "--torch", TORCH, "--variant", VARIANT,
                     "--index-url", index_url, "--log", str(log)]],
    }


def check_install_doc(proc: subprocess.CompletedProcess, already: bool) -> Optional[str]:
    """pybootstrap install --json must say verified (and, on a re-run, already installed)."""
    doc = json.loads(proc.stdout.decode(errors="replace"))
    status = (doc.get("verification") or {}).get("status")
    if status != "ok":
        return f"verification {status}: {json.dumps((doc.get('verification') or {}).get('checks'))}"
    if bool(doc.get("already_installed")) != already:
        return f"already_installed={doc.get('already_installed')}, expected {already}"
    return None


def log_breakdown(log: Path) -> Dict[str, Any]:
    """pybootstrap's own step timings and the external commands it ran, from its verification log."""
    try:
        data = json.loads(log.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    ran = data.get("commands_run") or []
    commands = [{"argv": " ".join(map(str, c.get("argv", [])[:4])), "duration_s": c.get("duration_s")}
                for c in ran if isinstance(c, dict)]
    return {"timings_s": data.get("timings_s") or data.get("timings"), "commands_run": commands}


def warm_up_installs(python: str, env: Dict[str, str], server: IndexServer, work: Path) -> None:
    """One unmeasured install each way: both must work, and caches (file system, byte-code) get warm."""
    index_url = f"{server.url}/{VARIANT}"
    for name in ("plain_install", "install"):
        prefix = work / "envs" / f"warm-{name}"
        for argv in install_commands(python, prefix, index_url, work / "logs" / "warm.json")[name]:
            run_timed(argv, env, check=(lambda p: check_install_doc(p, already=False)) if name == "install"
                      else None)
        shutil.rmtree(prefix, ignore_errors=True)


def measure_installs(python: str, env: Dict[str, str], server: IndexServer, work: Path,
                     rounds: int) -> Tuple[Dict[str, Any], Path]:
    """Both installs `rounds` times, interleaved, each into a fresh folder; returns the last good venv."""
    index_url = f"{server.url}/{VARIANT}"
    samples: Dict[str, List[float]] = {"plain_install": [], "install": []}
    requests_per: Dict[str, List[int]] = {"plain_install": [], "install": []}
    cpu: Dict[str, List[float]] = {"plain_install": [], "install": []}
    plain_steps: Dict[str, List[float]] = {"venv": [], "pip": []}
    breakdowns: List[Dict[str, Any]] = []
    keep: Optional[Path] = None
    for r, order in enumerate(rotations(list(samples), rounds)):
        for name in order:
            prefix = work / "envs" / f"{name}-{r}"
            log = work / "logs" / f"{name}-{r}.json"
            before, cpu_before = server.count(), children_cpu_s()
            total = 0.0
            for step, argv in enumerate(install_commands(python, prefix, index_url, log)[name]):
                check = (lambda p: check_install_doc(p, already=False)) if name == "install" else None
                elapsed = run_timed(argv, env, check=check)[0]
                total += elapsed
                if name == "plain_install":
                    plain_steps[("venv", "pip")[step]].append(elapsed)
            cpu_after = children_cpu_s()
            if cpu_before is not None and cpu_after is not None:
                cpu[name].append(cpu_after - cpu_before)
            if not (venv_python(prefix).exists() and list(prefix.glob("**/site-packages/torch/_padding.bin"))):
                raise BenchError(f"{name}: torch is not in {prefix}")
            samples[name].append(total)
            requests_per[name].append(server.count() - before)
            say(f"  install round {r + 1}/{rounds}: {name} {total:.2f} s")
            if name == "install":
                breakdowns.append(log_breakdown(log))
                if keep:
                    shutil.rmtree(keep, ignore_errors=True)
                keep = prefix
            else:
                shutil.rmtree(prefix, ignore_errors=True)
    assert keep is not None
    results = {n: dict(summarize(s), requests=requests_per[n], cpu_samples_s=[round(c, 4) for c in cpu[n]],
                       cpu_median_s=statistics.median(cpu[n]) if cpu[n] else None) for n, s in samples.items()}
    results["install"]["breakdown"] = breakdowns
    results["plain_install"]["steps_s"] = plain_steps
    return results, keep


def measure_rerun(python: str, env: Dict[str, str], server: IndexServer, venv: Path, work: Path,
                  rounds: int) -> Dict[str, Any]:
    """pybootstrap install again into the verified venv: must answer 'already installed', with no request."""
    index_url = f"{server.url}/{VARIANT}"
    samples, requests = [], []
    log = work / "logs" / "rerun.json"
    argv = install_commands(python, venv, index_url, log)["install"][0]
    for _ in range(rounds):
        before = server.count()
        samples.append(run_timed(argv, env, check=lambda p: check_install_doc(p, already=True))[0])
        requests.append(server.count() - before)
    return dict(summarize(samples), requests=requests, breakdown=log_breakdown(log))


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    """The bench's flags."""
    p = argparse.ArgumentParser(prog="bench/run.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--repeat", type=int, default=None, help="start-up runs per command (default 15; --quick 5)")
    p.add_argument("--install-repeat", type=int, default=None,
                   help="installs per side and re-runs (default 5; --quick 1)")
    p.add_argument("--quick", action="store_true", help="fewer runs and smaller wheels (a smoke test, not a result)")
    p.add_argument("--scale", type=float, default=None,
                   help="wheel size factor (default 1.0 = a 50 MB torch; --quick 0.2)")
    p.add_argument("--python", default=sys.executable,
                   help="interpreter with pybootstrap installed, used for every command (default: this one)")
    p.add_argument("--out", default=str(REPO / "bench" / "results" / "latest.json"), help="where the JSON goes")
    p.add_argument("--no-fail", action="store_true", help="exit 0 even when a budget is exceeded")
    p.add_argument("--keep", action="store_true", help="keep the temporary folder (its path is printed)")
    args = p.parse_args(argv)
    args.repeat = args.repeat or (5 if args.quick else 15)
    args.install_repeat = args.install_repeat or (1 if args.quick else 5)
    args.scale = args.scale if args.scale is not None else (0.2 if args.quick else 1.0)
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Build the fixtures, measure, print the table, write the JSON."""
    args = parse_args(argv)
    out = Path(args.out).resolve()
    started = time.time()
    loads = [load_average()]
    work = Path(tempfile.mkdtemp(prefix="pybootstrap-bench-"))
    bin_dir, home = work / "bin", work / "home"
    env = hermetic_env(home, bin_dir)
    python = args.python
    cwd = os.getcwd()
    os.chdir(work)  # so that no command imports pybootstrap from the current folder by accident
    try:
        try:
            usable = subprocess.run([python, "-c", "import pybootstrap"], env=env, capture_output=True).returncode == 0
        except OSError:
            usable = False
        if not usable:
            raise BenchError(f"{python} cannot import pybootstrap: run the bench with the interpreter that has "
                             f"it installed (pip install -e .), or pass --python")
        write_fake_smi(bin_dir)
        say(f"building wheels (torch {WHEEL_MB['torch'] * args.scale:g} MB) and the index in {work}")
        index_root, files = build_index(work, args.scale)
        wheel_sizes = {f.name: f.stat().st_size for f in files}
        results: Dict[str, Any] = {}
        say(f"start-up: {args.repeat} interleaved rounds of {', '.join(startup_commands(python))}")
        results["startup"] = measure_startup(python, env, args.repeat)
        loads.append(load_average())
        say("import time: python -X importtime")
        results["imports"] = measure_imports(python, env, max(3, min(args.repeat, 7)))
        loads.append(load_average())
        with IndexServer(index_root) as server:
            say(f"install: {args.install_repeat} interleaved rounds, index {server.url}/{VARIANT}")
            warm_up_installs(python, env, server, work)
            results["install"], good = measure_installs(python, env, server, work, args.install_repeat)
            loads.append(load_average())
            say("re-run on the good venv")
            results["rerun"] = measure_rerun(python, env, server, good, work, max(3, args.install_repeat))
        loads.append(load_average())
        rows = judge(results)
        machine = machine_facts(python, env)
    except BenchError as exc:
        say(f"bench failed: {exc}")
        return 2
    finally:
        os.chdir(cwd)
        if args.keep:
            say(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    table = markdown(rows)
    command = "python " + " ".join(shlex.quote(a) for a in ["bench/run.py", *(sys.argv[1:] if argv is None
                                                                                  else argv)])
    over = [r["key"] for r in rows if r["verdict"].startswith("OVER")]
    doc = {"schema": "pybootstrap.bench/1", "generated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
           "duration_s": round(time.time() - started, 1), "command": command,
           "machine": machine,
           "repeats": {"startup": args.repeat, "install": args.install_repeat,
                       "rerun": max(3, args.install_repeat), "importtime": max(3, min(args.repeat, 7))},
           "wheels": wheel_sizes,
           "budgets": {k: {"limit": v[0], "relative_to": v[1]} for k, v in BUDGETS.items()},
           "load_average": loads, "warning": busy_warning(loads),
           "over_budget": over, "rows": rows, "results": results, "table_markdown": table}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    m = doc["machine"]
    print(f"pybootstrap {m['pybootstrap']}, Python {m['python']} ({m['implementation']}), pip {m['pip']}, "
          f"{m['platform']}, {m['cpu_count']} CPUs; medians of {args.repeat} start-up / {args.install_repeat} "
          f"install rounds, interleaved")
    print()
    print(table)
    print()
    print(details(results))
    if doc["warning"]:
        print(doc["warning"])
    print()
    print(f"command: {command}")
    print(f"JSON: {out}")
    if over:
        print(f"OVER BUDGET: {', '.join(over)}")
        return 0 if args.no_fail else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

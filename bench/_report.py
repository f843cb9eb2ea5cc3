"""The bench's verdicts and rendering: budgets, the Markdown table, where the time went, machine facts."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
from typing import Any, Dict, List, Optional, Sequence

BUDGETS = {  # metric -> (limit, what the limit is relative to)
    "version": (0.030, "seconds over the floor"),
    "detect": (0.150, "seconds over the floor"),
    "plan": (0.150, "seconds over the floor"),
    "install": (1.15, "plain_install"),
    "rerun": (2.0, "seconds"),
}


def paired_ratio(samples: Sequence[float], base: Sequence[float]) -> float:
    """Median over rounds of sample / base of the same round: robust to load that drifts during the run."""
    return statistics.median(a / b for a, b in zip(samples, base))


def paired_excess(samples: Sequence[float], base: Sequence[float]) -> float:
    """Median over rounds of sample - base of the same round: what the command costs above Python itself."""
    return statistics.median(a - b for a, b in zip(samples, base))


def fmt_s(seconds: float) -> str:
    """12 ms / 8.41 s"""
    if seconds < 0.01:
        return f"{seconds * 1000:.1f} ms"
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def judge(results: Dict[str, Any]) -> List[Dict[str, Any]]:
    """The table rows: metric, median, min-max, budget, ratio, verdict."""
    s, inst, imp = results["startup"], results["install"], results["imports"]
    floor, plain = s["floor"]["median_s"], inst["plain_install"]["median_s"]
    rows: List[Dict[str, Any]] = []

    def row(key: str, label: str, data: Dict[str, Any], ratio: Optional[float], budget: str,
            ok: Optional[bool], note: str = "", of_medians: Optional[float] = None,
            excess: Optional[float] = None) -> None:
        rows.append({"key": key, "metric": label, "median_s": data["median_s"], "min_s": data["min_s"],
                     "max_s": data["max_s"], "budget": budget, "ratio": ratio, "ratio_of_medians": of_medians,
                     "over_floor_s": excess,
                     "verdict": "-" if ok is None else ("ok" if ok else "OVER BUDGET") + note})

    row("floor", "`python -c pass` (floor)", s["floor"], None, "-", None)
    for key, label in (("version", "`pybootstrap --version`"), ("detect", "`pybootstrap detect --json`"),
                       ("plan", "`pybootstrap plan --json`")):
        limit = BUDGETS[key][0]
        excess = paired_excess(s[key]["samples_s"], s["floor"]["samples_s"])
        row(key, label + " (fake nvidia-smi)" * (key != "version"), s[key],
            paired_ratio(s[key]["samples_s"], s["floor"]["samples_s"]), f"<= floor + {fmt_s(limit)}",
            excess <= limit, f" (floor + {fmt_s(excess)})", of_medians=s[key]["median_s"] / floor, excess=excess)
    row("plain_install", "`python -m venv` + `pip install` (plain)", inst["plain_install"], None, "-", None)
    limit = BUDGETS["install"][0]
    ratio = paired_ratio(inst["install"]["samples_s"], inst["plain_install"]["samples_s"])
    row("install", "`pybootstrap install` (fresh venv)", inst["install"], ratio, f"<= {limit}x plain",
        ratio <= limit, of_medians=inst["install"]["median_s"] / plain)
    rerun = results["rerun"]
    limit = BUDGETS["rerun"][0]
    no_download = not any(rerun["requests"])
    row("rerun", "re-run on the good venv", rerun, rerun["median_s"] / limit, f"< {limit:g} s, 0 requests",
        rerun["median_s"] < limit and no_download, f" ({sum(rerun['requests'])} requests)" if no_download
        else f" ({sum(rerun['requests'])} requests!)")
    for key in ("version", "detect", "plan"):
        data = imp[key]
        ok = not data["requests_imported"]
        rows.append({"key": f"import_{key}", "metric": f"import time, `{key}` (`-X importtime`, cumulative)",
                     "median_s": data["median_s"], "min_s": data["min_s"], "max_s": data["max_s"],
                     "budget": "`requests` not imported", "ratio": None,
                     "verdict": "ok" if ok else "OVER BUDGET (imports requests)"})
    return rows


def markdown(rows: List[Dict[str, Any]]) -> str:
    """The rows as a Markdown table."""
    lines = ["| metric | median | min - max | budget | ratio | verdict |", "|---|---:|---:|---|---:|---|"]
    for r in rows:
        ratio = "-" if r["ratio"] is None else f"{r['ratio']:.2f}x"
        lines.append(f"| {r['metric']} | {fmt_s(r['median_s'])} | {fmt_s(r['min_s'])} - {fmt_s(r['max_s'])} | "
                     f"{r['budget']} | {ratio} | {r['verdict']} |")
    return "\n".join(lines)


def details(results: Dict[str, Any]) -> str:
    """Where the time goes: pybootstrap's own step timings and the heaviest imports of plan --json."""
    out = []
    runs = [b for b in results["install"]["install"].get("breakdown", []) if b.get("timings_s")]
    if runs:
        steps = {k: statistics.median(b["timings_s"].get(k, 0.0) for b in runs) for k in runs[0]["timings_s"]}
        out.append("pybootstrap install, its own step timings (median, from its log): "
                   + ", ".join(f"{k} {fmt_s(v)}" for k, v in steps.items()))
    steps = results["install"]["plain_install"].get("steps_s") or {}
    if steps.get("venv"):
        out.append(f"plain install steps (median): python -m venv {fmt_s(statistics.median(steps['venv']))}, "
                   f"pip install {fmt_s(statistics.median(steps['pip']))}")
    overheads = [b["timings_s"]["total"] - sum(c["duration_s"] or 0 for c in b["commands_run"]
                                               if " -m venv" in c["argv"] or " -m pip" in c["argv"])
                 for b in runs if "total" in b["timings_s"]]
    if overheads:
        out.append(f"pybootstrap's own share of an install (its total minus the venv and pip commands it ran): "
                   f"median {fmt_s(statistics.median(overheads))}")
    inst = results["install"]
    if inst["install"].get("cpu_median_s") and inst["plain_install"].get("cpu_median_s"):
        out.append(f"install CPU time (user+sys, all processes): pybootstrap {fmt_s(inst['install']['cpu_median_s'])}"
                   f", plain {fmt_s(inst['plain_install']['cpu_median_s'])}, ratio "
                   f"{inst['install']['cpu_median_s'] / inst['plain_install']['cpu_median_s']:.2f}x")
    rerun = results["rerun"].get("breakdown", {}).get("timings_s")
    if rerun:
        out.append("re-run step timings (last run): " + ", ".join(f"{k} {fmt_s(v)}" for k, v in rerun.items()))
    heavy = results["imports"]["plan"]["heaviest"][:8]
    out.append("heaviest imports of plan --json (least self time over the runs): "
               + ", ".join(f"{h['name']} {h['self_us'] / 1000:.1f} ms" for h in heavy))
    return "\n".join(out)


def load_average() -> Optional[float]:
    """The 1-minute load average, where the OS has one."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def busy_warning(loads: Sequence[Optional[float]]) -> Optional[str]:
    """Other work on the machine makes every number noisy; say so rather than report it silently."""
    cpus = os.cpu_count() or 1
    worst = max((x for x in loads if x is not None), default=None)
    if worst is None or worst <= 0.5 * cpus:
        return None
    return (f"warning: the machine was busy (load average up to {worst:g} on {cpus} CPUs); ratios are noisy, "
            f"run again on an idle machine before trusting a verdict")


def machine_facts(python: str, env: Dict[str, str]) -> Dict[str, Any]:
    """Where the numbers come from."""
    probe = subprocess.run([python, "-c", "import sys, platform, pybootstrap; print(sys.version.split()[0], "
                            "platform.python_implementation(), pybootstrap.__version__, pybootstrap.__file__)"],
                           env=env, capture_output=True, text=True)
    version, impl, pb_version, pb_file = (probe.stdout.split() + ["?"] * 4)[:4]
    pip = subprocess.run([python, "-m", "pip", "--version"], env=env, capture_output=True, text=True)
    return {"python": version, "implementation": impl, "python_executable": python,
            "pybootstrap": pb_version, "pybootstrap_file": pb_file, "pip": (pip.stdout.split() + ["?", "?"])[1],
            "platform": platform.platform(), "machine": platform.machine(), "cpu_count": os.cpu_count()}

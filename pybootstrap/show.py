"""The human output of each command (a few lines on stderr); --json prints the documents instead."""

from __future__ import annotations

import shlex
import subprocess
import sys
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Sequence

from pybootstrap import render
from pybootstrap.machine import Hardware
from pybootstrap.plan_model import Plan
from pybootstrap.plan_reasons import summarize_rejections

if TYPE_CHECKING:  # for annotations only: detect and plan do not load verification and diagnosis
    from pybootstrap.diagnose import Finding
    from pybootstrap.judge import Verification
    from pybootstrap.manifest_check import CheckReport


def command_line(argv: Sequence[str]) -> str:
    """One command as a user would type it in this system's shell (quoted where needed)."""
    return subprocess.list2cmdline(list(argv)) if sys.platform == "win32" else shlex.join(argv)


def hardware(hw: Hardware) -> None:
    """The machine: OS, Python, driver, GPUs, other adapters, notes and detection problems."""
    render.message("Machine", "title")
    render.kv("  OS / arch", f"{hw.os} {hw.arch}")
    render.kv("  Python", hw.python_version)
    render.kv("  driver", f"{hw.driver_version} (CUDA {hw.cuda_version or '?'})" if hw.driver_version else None)
    for gpu in hw.gpus:
        name = gpu.name or "(name not shown)"
        render.kv(f"  GPU {gpu.index}", f"{name} (compute capability {gpu.cc_text() or 'unknown'}"
                  + (f", {gpu.memory_mib} MiB" if gpu.memory_mib else "") + ")")
    for gpu in hw.other_adapters:
        render.kv("  adapter", f"{gpu.name} ({gpu.vendor}; not usable by CUDA)")
    for note in hw.notes:
        render.message(f"  note: {note}", "dim")
    if hw.error:
        render.message(f"  {hw.error.message}", "warn")
        render.message(f"  {hw.error.advice}", "warn")


def no_usable_gpu(hw: Hardware) -> None:
    """detect's closing line when CUDA cannot be used here."""
    if not hw.nvidia_gpus:
        render.message("No usable NVIDIA GPU: the CPU build of PyTorch will be chosen.", "warn")


def plan(p: Plan) -> None:
    """The chosen build, why, what was not chosen, and the commands; or why nothing fits."""
    if p.status != "ok":
        render.message("No compatible build", "error")
        render.lines(p.reasons, "warn")
        render.lines(summarize_rejections(p), "dim")
        if p.advice:
            render.message(f"  what to do: {p.advice}", "warn")
        manifest(p.manifest)
        return
    b = p.build
    render.message(f"Plan: torch {b.torch} {b.variant} via {b.installer}", "ok")
    render.lines(p.reasons)
    manifest(p.manifest)
    rejected = summarize_rejections(p, limit=6 if render.verbosity() <= 0 else 100)
    if rejected:
        render.message("  not chosen:", "dim")
        render.lines(rejected, "dim", prefix="    ")
    render.message("Commands:", "title")
    for command in p.commands:
        render.message("  " + command_line(command))


def manifest(info: Mapping[str, Optional[str]]) -> None:
    """Which manifest was used, and why (Manifest.describe())."""
    render.message(f"  manifest: {info['source']} ({info['detail']})"
                   + (f", facts of {info['updated']}" if info.get("updated") else ""), "dim")


def dry_run(steps: Sequence[Sequence[str]]) -> None:
    """What install would run."""
    render.message("Dry run: would run", "title")
    for step in steps:
        render.message("  " + command_line(step))


def verification(ver: Verification) -> None:
    """The verification's status, each check, and what to do about each finding."""
    level = {"ok": "ok", "degraded": "warn", "failed": "error"}[ver.status]
    render.message(f"Verification: {ver.status}", level)
    for check in ver.checks:
        render.message(f"  [{check.status}] {check.name}: {check.detail}",
                       "dim" if check.status != "fail" else "error")
    for finding in ver.diagnosis:
        render.message(f"  {finding.kind}: {finding.message}", "warn")
        render.message(f"    what to do: {finding.advice}", "warn")


def findings(items: Sequence[Finding], smi: Dict[str, Any]) -> None:
    """diagnose: what the pasted text says, and what to do."""
    if smi:
        render.message(f"nvidia-smi output: driver {smi['driver_version']}, CUDA {smi['cuda_version']}, "
                       f"GPUs: {', '.join(smi['gpus']) or 'none'}", "title")
    for f in items:
        render.message(f"{f.kind}: {f.message}", "warn" if f.kind != "unknown" else "info")
        render.message(f"  what to do: {f.advice}")


def builds(rows: List[Dict[str, Any]]) -> None:
    """manifest show: one block per release, one line per variant."""
    current = None
    for row in rows:
        if row["torch"] != current:
            current = row["torch"]
            render.message(f"torch {current}  (torchvision {row['torchvision'] or '-'}, torchaudio "
                           f"{row['torchaudio'] or '-'}; matrix {row['matrix']})", "title")
        plats = "; ".join(f"{k} {'/'.join(v)}" for k, v in row["platforms"].items())
        render.message(f"  {row['variant']:<10} {plats:<36} {row['archs'].get('linux') or ''}")


def manifest_check(report: CheckReport, info: Mapping[str, Optional[str]]) -> None:
    """manifest check: what the index has that the manifest lacks, and the reverse."""
    manifest(info)
    render.message(f"  index: {report.index_base} ({report.listings_read} listings read); PyPI: {report.pypi_base}",
                   "dim")
    titles = {"missing": ("The manifest promises what the index does not have:", "error"),
              "mismatch": ("Companions that disagree with their wheels' Requires-Dist:", "error"),
              "addition": ("On the index but not in the manifest (add them):", "warn"),
              "note": ("Notes:", "dim")}
    for kind, (title, level) in titles.items():
        found = report.of_kind(kind)
        if found:
            render.message(title, level)
            render.lines([f.message for f in found], "info" if kind != "note" else "dim")
    if report.agree:
        render.message("The manifest and the indexes agree.", "ok")
    else:
        render.message("The manifest and the indexes differ: edit manifests/pytorch.json (README, 'Add a PyTorch "
                       "release'), then run `pybootstrap manifest check` again.", "error")

"""Verification: ask the target interpreter (via _probe.py), then judge the answer against the plan (judge)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Dict, Optional

from pybootstrap import _subprocess
from pybootstrap._probe import MARK
from pybootstrap.judge import Expected, Verification, judge
from pybootstrap.machine import Hardware
from pybootstrap.manifest_model import Manifest

#: Seconds the probe may take. The first CUDA initialisation can JIT-compile PTX for minutes, so this is
#: generous; PYBOOTSTRAP_PROBE_TIMEOUT overrides it (read at each call, so tests can shorten it).
PROBE_TIMEOUT_S = 180.0
PROBE_TIMEOUT_ENV = "PYBOOTSTRAP_PROBE_TIMEOUT"


def probe_path() -> Path:
    """The probe script shipped with the package (run by path: the target cannot import pybootstrap)."""
    return Path(__file__).resolve().parent / "_probe.py"


def probe_timeout() -> float:
    """PYBOOTSTRAP_PROBE_TIMEOUT when it is a positive number, else PROBE_TIMEOUT_S."""
    raw = os.environ.get(PROBE_TIMEOUT_ENV, "")
    try:
        value = float(raw)
    except ValueError:
        return PROBE_TIMEOUT_S
    return value if value > 0 else PROBE_TIMEOUT_S


def run_probe(python: str, timeout: Optional[float] = None) -> Dict[str, Any]:
    """Run the probe in the target interpreter; a crash, hang or garbage is reported as data."""
    timeout = probe_timeout() if timeout is None else timeout
    result = _subprocess.run([python, "-s", str(probe_path())], timeout=timeout,
                             env={"PYTHONIOENCODING": "utf-8", "PYTHONWARNINGS": "default"})
    if result.timed_out:
        return {"probe_error": f"the probe did not finish within {timeout:g} s (importing torch or initialising "
                               "the GPU hung)", "timed_out": True, "stderr_tail": result.output_tail(20)}
    if result.returncode is None:
        return {"probe_error": f"could not run {python}: {result.error}"}
    for line in reversed(result.stdout.splitlines()):
        if line.startswith(MARK):
            try:
                data = json.loads(line[len(MARK):])
            except ValueError:
                break
            if not isinstance(data, dict):
                break
            data["stderr_tail"] = result.output_tail(20) if result.stderr else ""
            if result.stderr:  # C++ TORCH_WARN and warnings printed before the probe could record them
                data.setdefault("warnings", []).extend(
                    ln for ln in result.stderr.splitlines()[-20:] if "Warning" in ln or "warn" in ln.lower())
            return data
    return {"probe_error": f"the probe exited {result.returncode} without an answer",
            "stderr_tail": result.output_tail(30)}


def verify_environment(python: str, hw: Hardware, expected: Optional[Expected],
                       manifest: Optional[Manifest] = None) -> Verification:
    """Verify the environment of this interpreter against the plan (None: against what this machine should have)."""
    return judge(run_probe(python), hw, expected, manifest, python)

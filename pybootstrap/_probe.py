"""Runs INSIDE the target interpreter (standard library and torch only) and prints one JSON object.

Kept importable without torch and compatible with old Pythons (no f-strings, no variable annotations):
every torch access is guarded, every failure is reported as data. Each package of the torch family
that is installed is imported and made to compute something whose result is known exactly.
"""

import importlib
import importlib.util
import json
import os
import sys
import traceback
import warnings
from typing import Any, Callable, Dict, List

MARK = "PYBOOTSTRAP-PROBE "

# An 8x8 float32 product with an exact answer: every entry of A and B is k/64 (k < 64) and every partial sum
# is a multiple of 1/4096 below 32, so float32 (and TF32: 10-bit mantissas hold k exactly) computes it
# without rounding, in any summation order. The expected product is computed here in Python floats.
_A = [[(8 * i + j) / 64.0 for j in range(8)] for i in range(8)]
_B = [[(63 - (8 * i + j)) / 64.0 for j in range(8)] for i in range(8)]
PRODUCT = [[sum(_A[i][k] * _B[k][j] for k in range(8)) for j in range(8)] for i in range(8)]
MATMUL_TOLERANCE = 1e-3

# torchvision.ops.nms on three boxes: box 1 overlaps box 0 with IoU 81/119 = 0.68 > 0.5 and has the lower
# score, so it is suppressed; box 2 overlaps nothing. Kept: [0, 2] (worked by hand).
NMS_BOXES = [[0.0, 0.0, 10.0, 10.0], [1.0, 1.0, 11.0, 11.0], [20.0, 20.0, 30.0, 30.0]]
NMS_SCORES = [0.9, 0.8, 0.7]
NMS_KEPT = [0, 2]
# torchaudio.functional.mu_law_encoding(x, 256): ((sign(x) * log1p(255|x|) / log1p(255) + 1) / 2 * 255 + 0.5)
# truncated: -1 -> 0.5 -> 0, 0 -> 128.0 -> 128, 1 -> 255.5 -> 255 (worked by hand).
MU_LAW_INPUT = [-1.0, 0.0, 1.0]
MU_LAW_CODES = [0, 128, 255]


def _isolate() -> None:
    """Drop this script's folder from sys.path: pybootstrap's modules (errors, report, settings, ...) must not
    shadow same-named top-level modules that torch or its dependencies import."""
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]


def _text(exc: BaseException) -> str:
    return "".join(traceback.format_exception_only(type(exc), exc)).strip()


def probe() -> Dict[str, Any]:
    """Everything verification asks of the target environment."""
    out = {"python": sys.executable, "python_version": ".".join(map(str, sys.version_info[:3])),
           "torch_version": None, "torch_file": None, "cuda_build": None, "cuda_available": False,
           "device_count": 0, "devices": [], "arch_list": [], "cudnn": None, "cpu_matmul": None, "matmul": [],
           "packages": {}, "import_error": None, "cuda_init_error": None, "errors": [],
           "warnings": []}  # type: Dict[str, Any]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            torch = importlib.import_module("torch")  # type: Any
        except BaseException as exc:  # ImportError, OSError (DLL load), anything the import raises
            out["import_error"] = _text(exc)
            out["import_traceback"] = traceback.format_exc()[-4000:]
            out["warnings"] = [str(w.message) for w in caught]
            return out
        out["torch_version"] = str(getattr(torch, "__version__", None))
        out["torch_file"] = getattr(torch, "__file__", None)
        _query_cuda(torch, out)
        out["cpu_matmul"] = _matmul(torch, "cpu")
        for index in range(out["device_count"]):
            out["devices"].append(_device(torch, index, out["errors"]))
            result = _matmul(torch, "cuda:%d" % index)
            result["device"] = index
            out["matmul"].append(result)
        out["packages"] = {"torchvision": _package("torchvision", "nms", lambda tv: _nms(torch, tv)),
                           "torchaudio": _package("torchaudio", "mu_law_encoding", lambda ta: _mu_law(torch, ta))}
        out["warnings"] = [str(w.message) for w in caught]
    return out


def _query_cuda(torch: Any, out: Dict[str, Any]) -> None:
    """torch.version.cuda, whether CUDA is usable (and why not), the build's GPU architectures, cuDNN."""
    try:
        out["cuda_build"] = getattr(getattr(torch, "version", None), "cuda", None)
        out["cuda_available"] = bool(torch.cuda.is_available())
        out["device_count"] = int(torch.cuda.device_count()) if out["cuda_available"] else 0
    except BaseException as exc:
        out["errors"].append("cuda query: " + _text(exc))
    if out["cuda_build"] and not out["cuda_available"] and hasattr(torch.cuda, "init"):
        try:  # is_available() only says False; initialising says why (driver too old, no driver, ...)
            torch.cuda.init()
        except BaseException as exc:
            out["cuda_init_error"] = _text(exc)
    try:
        out["arch_list"] = list(torch.cuda.get_arch_list()) if out["cuda_build"] else []
    except BaseException as exc:
        out["errors"].append("get_arch_list: " + _text(exc))
    try:
        cudnn = getattr(getattr(torch, "backends", None), "cudnn", None)
        out["cudnn"] = cudnn.version() if cudnn is not None and out["cuda_available"] else None
    except BaseException as exc:
        out["errors"].append("cudnn: " + _text(exc))


def _device(torch: Any, index: int, errors: List[str]) -> Dict[str, Any]:
    device = {"index": index, "name": None, "compute_capability": None}  # type: Dict[str, Any]
    try:
        device["name"] = str(torch.cuda.get_device_name(index))
        major, minor = torch.cuda.get_device_capability(index)
        device["compute_capability"] = "%d.%d" % (major, minor)
    except BaseException as exc:
        errors.append("device %d: %s" % (index, _text(exc)))
    return device


def _matmul(torch: Any, device: str) -> Dict[str, Any]:
    """The 8x8 product on a device, compared with the exact PRODUCT."""
    result = {"device": device, "ok": False, "max_abs_err": None, "error": None}  # type: Dict[str, Any]
    try:
        a = torch.tensor(_A, dtype=torch.float32).to(device)
        b = torch.tensor(_B, dtype=torch.float32).to(device)
        got = (a @ b).cpu().tolist()
        if device != "cpu" and hasattr(torch.cuda, "synchronize"):
            torch.cuda.synchronize(int(device.split(":")[1]))
        err = max(abs(float(got[i][j]) - PRODUCT[i][j]) for i in range(8) for j in range(8))
        result["max_abs_err"] = err
        result["ok"] = err < MATMUL_TOLERANCE
    except BaseException as exc:
        result["error"] = _text(exc)
    return result


def _nms(torch: Any, torchvision: Any) -> Dict[str, Any]:
    """torchvision.ops.nms (a compiled torchvision operator) on fixed boxes."""
    boxes = torch.tensor(NMS_BOXES, dtype=torch.float32)
    scores = torch.tensor(NMS_SCORES, dtype=torch.float32)
    kept = [int(i) for i in torchvision.ops.nms(boxes, scores, 0.5).tolist()]
    return {"ok": kept == NMS_KEPT, "expected": NMS_KEPT, "got": kept}


def _mu_law(torch: Any, torchaudio: Any) -> Dict[str, Any]:
    """torchaudio.functional.mu_law_encoding on three samples."""
    codes = torchaudio.functional.mu_law_encoding(torch.tensor(MU_LAW_INPUT, dtype=torch.float32), 256)
    got = [int(v) for v in codes.tolist()]
    return {"ok": got == MU_LAW_CODES, "expected": MU_LAW_CODES, "got": got}


def _package(name: str, operation: str, check: Callable[[Any], Dict[str, Any]]) -> Dict[str, Any]:
    """Whether a companion package is installed, whether it imports, and its check's result."""
    found = {"installed": False, "version": None, "file": None, "import_error": None,
             "check": None}  # type: Dict[str, Any]
    try:
        installed = importlib.util.find_spec(name) is not None  # finds the package without importing it
    except BaseException:
        installed = True  # a broken finder: let the import say what is wrong
    if not installed:
        return found
    found["installed"] = True
    try:
        module = importlib.import_module(name)
    except BaseException as exc:
        found["import_error"] = _text(exc)
        found["import_traceback"] = traceback.format_exc()[-4000:]
        return found
    found["version"] = str(getattr(module, "__version__", None))
    found["file"] = getattr(module, "__file__", None)
    try:
        result = check(module)
        result.update(name=operation, error=None)
    except BaseException as exc:
        result = {"name": operation, "ok": False, "error": _text(exc)}
    found["check"] = result
    return found


def main() -> None:
    """Print the probe's answer after a marker line (torch may print to stdout too)."""
    _isolate()
    try:
        data = probe()
    except BaseException as exc:  # the probe itself must always answer
        data = {"probe_error": _text(exc), "python": sys.executable}
    # a newline first: torch or a sitecustomize may have printed without one
    sys.stdout.write("\n" + MARK + json.dumps(data, default=str) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()

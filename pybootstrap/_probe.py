"""Runs INSIDE the target interpreter (standard library and torch only) and prints one JSON object.

Kept importable without torch and compatible with old Pythons: every torch access is guarded, every
failure is reported as data.
"""

import json
import os
import sys
import traceback
import warnings

MARK = "PYBOOTSTRAP-PROBE "


def _isolate():
    """Drop this script's folder from sys.path: pybootstrap's modules (errors, report, settings, ...) must not
    shadow same-named top-level modules that torch or its dependencies import."""
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]


def _text(exc):
    return "".join(traceback.format_exception_only(type(exc), exc)).strip()


def probe():
    out = {"python": sys.executable, "python_version": ".".join(map(str, sys.version_info[:3])),
           "torch_version": None, "torch_file": None, "cuda_build": None, "cuda_available": False,
           "device_count": 0, "devices": [], "arch_list": [], "cudnn": None, "matmul": [],
           "import_error": None, "cuda_init_error": None, "errors": [], "warnings": []}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            import torch
        except BaseException as exc:  # ImportError, OSError (DLL load), anything the import raises
            out["import_error"] = _text(exc)
            out["import_traceback"] = traceback.format_exc()[-4000:]
            out["warnings"] = [str(w.message) for w in caught]
            return out
        out["torch_version"] = str(getattr(torch, "__version__", None))
        out["torch_file"] = getattr(torch, "__file__", None)
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
            backends = getattr(torch, "backends", None)
            cudnn = getattr(backends, "cudnn", None)
            out["cudnn"] = cudnn.version() if cudnn is not None and out["cuda_available"] else None
        except BaseException as exc:
            out["errors"].append("cudnn: " + _text(exc))
        for index in range(out["device_count"]):
            device = {"index": index, "name": None, "compute_capability": None}
            try:
                device["name"] = str(torch.cuda.get_device_name(index))
                major, minor = torch.cuda.get_device_capability(index)
                device["compute_capability"] = "%d.%d" % (major, minor)
            except BaseException as exc:
                out["errors"].append("device %d: %s" % (index, _text(exc)))
            out["devices"].append(device)
            out["matmul"].append(_matmul(torch, index))
        out["warnings"] = [str(w.message) for w in caught]
    return out


def _matmul(torch, index):
    """A small matrix product on the GPU, compared with the same product on the CPU."""
    result = {"device": index, "ok": False, "max_abs_err": None, "error": None}
    try:
        a = torch.arange(64, dtype=torch.float32).reshape(8, 8) / 64.0
        b = torch.arange(64, dtype=torch.float32).flip(0).reshape(8, 8) / 64.0
        expected = a @ b
        got = (a.to("cuda:%d" % index) @ b.to("cuda:%d" % index)).cpu()
        if hasattr(torch.cuda, "synchronize"):
            torch.cuda.synchronize(index)
        err = float((got - expected).abs().max())
        result["max_abs_err"] = err
        result["ok"] = err < 1e-3  # TF32 is off for matmul by default; float32 on 8x8 is far below this
    except BaseException as exc:
        result["error"] = _text(exc)
    return result


def main():
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

"""nvidia_smi: the corpus of real outputs in tests/data/nvidia-smi, each parser on its own, the error texts."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pybootstrap import _subprocess, nvidia_smi
from pybootstrap.failures import detection_kind
from pybootstrap.nvidia_smi import (
    is_invalid_field_error,
    parse_any,
    parse_capability,
    parse_csv,
    parse_list,
    parse_memory_mib,
    parse_proc_version,
    parse_table,
)

CORPUS = Path(__file__).parent / "data" / "nvidia-smi"
INDEX: List[Dict[str, Any]] = json.loads((CORPUS / "INDEX.json").read_text(encoding="utf-8"))
KINDS = {"nvidia-smi-not-found", "driver-not-loaded", "driver-library-mismatch", "no-devices", "gpu-unavailable",
         "timeout", "unparseable"}


def read_corpus(name: str) -> str:
    """A corpus file as detect reads it: bytes, then the one decoder of tool output."""
    return _subprocess.decode_output((CORPUS / name).read_bytes())


# Facts the INDEX does not record, decided here. Where the INDEX is debatable, the reason is given.
# smi_version differs from the driver in old drivers ("5.325.15") and in WSL (Linux shim vs Windows driver).
SMI_VERSION = {
    "linux-3x-gtx-titan-smi5.325.15-driver325.15.txt": "5.325.15",
    "linux-warnings-3x-gtx680-smi5.325.15.txt": "5.325.15",
    "linux-wsl-rtx3060-cuda-err-smi545.46-driver546.80.txt": "545.46",
    "linux-wsl-rtx3070-smi530.47-driver531.68.txt": "530.47",
    "linux-wsl-rtx4070-smi555.52.01-driver555.99.txt": "555.52.01",
    "linux-wsl-rtx5090-smi570.124.06-driver572.70.txt": "570.124.06",
    # No header line in the paste: nothing to read the nvidia-smi version from.
    "linux-a100-mig-only-devices-table.txt": None,
    "linux-fragment-err-power-v100.txt": None,
}
# MIG slices are counted, never listed as GPUs (CONTRACT: gpus lists physical GPUs only).
MIG_DEVICES = {
    "linux-a100-mig-only-devices-table.txt": 2,
    "linux-h200-mig-610.43.02-kmd.txt": 1,
    "list-4x-a100-80gb-gpu0-mig.txt": 4,
    "list-a100-80gb-7x-mig-1g.10gb.txt": 7,
    "list-h200-mig-610.43.02.txt": 1,
}
WARNINGS = {
    "linux-warnings-3x-gtx680-smi5.325.15.txt": [
        "Warning: untrusted X11 forwarding setup failed: xauth key data not generated",
        "Warning: No xauth data; using fake authentication data for X11 forwarding."],
}
FORM_OF_KIND = {"table": "table", "csv": "csv", "csv-noheader": "csv", "list": "list", "error": "error"}
# Debatable expectations, kept as the INDEX records them, and why a demanding user wants exactly that:
# - linux-a100-mig-only-devices-table: no GPU row was pasted, so gpus == [] (a MIG slice is not a GPU) and
#   no error: the output reports none; the two slices are counted (MIG_DEVICES) and hardware notes it.
# - fail-compute-cap-invalid-field: the driver refused a query field; the text says nothing about the
#   hardware, so "unparseable" (detect itself retries without compute_cap, see test_hardware).
# - csv-header-v100-*-partial, linux-2x-rtx4090-*, linux-warnings-*: partial pastes report exactly what
#   the text shows: no GPU invented, no memory copied from a sibling GPU.
# - csv-noheader-compute-cap-only-4x: one GPU per capability line, name None (nothing printed it).
FORM = {"fail-compute-cap-invalid-field.txt": "unknown"}


def _facts(report: nvidia_smi.SmiReport) -> Dict[str, Any]:
    return {"driver_version": report.driver_version, "cuda_version": report.cuda_version,
            "gpus": [{"name": g.name, "compute_capability": g.compute_capability, "memory_mib": g.memory_mib}
                     for g in report.gpus],
            "error_kind": report.error_kind}


def test_corpus_is_indexed_and_sourced() -> None:
    files = sorted(p.name for p in CORPUS.glob("*.txt"))
    assert len(files) >= 30
    assert sorted(e["file"] for e in INDEX) == files
    for entry in INDEX:
        assert entry["source_url"].startswith("https://"), entry["file"]


@pytest.mark.parametrize("entry", INDEX, ids=[e["file"] for e in INDEX])
def test_corpus_file_yields_recorded_facts(entry: Dict[str, Any]) -> None:
    report = parse_any(read_corpus(entry["file"]))
    expected = {"driver_version": entry["driver_version"], "cuda_version": entry["cuda_version"],
                "gpus": [{k: g[k] for k in ("name", "compute_capability", "memory_mib")} for g in entry["gpus"]],
                "error_kind": entry["error_kind"]}
    assert _facts(report) == expected
    assert report.form == FORM.get(entry["file"], FORM_OF_KIND[entry["kind"]])
    assert report.mig_devices == MIG_DEVICES.get(entry["file"], 0)
    assert list(report.warnings) == WARNINGS.get(entry["file"], [])
    if report.form == "table":
        assert report.smi_version == SMI_VERSION.get(entry["file"], entry["driver_version"])
    for gpu in report.gpus:
        assert gpu.name_truncated == bool(gpu.name and gpu.name.endswith("..."))


@pytest.mark.parametrize("entry", [e for e in INDEX if e["kind"] == "table" and e["gpus"]],
                         ids=lambda e: e["file"])
def test_corpus_table_survives_windows_line_endings_and_bom(entry: Dict[str, Any]) -> None:
    text = read_corpus(entry["file"])
    assert _facts(parse_any("\ufeff" + text.replace("\n", "\r\n"))) == _facts(parse_any(text))


def test_gpu_indices_in_order() -> None:
    assert [g.index for g in parse_any(read_corpus("linux-fragment-err-power-v100.txt")).gpus] == [1]
    assert [g.index for g in parse_any(read_corpus("csv-compute-cap-2x-mixed-570.86.15.txt")).gpus] == [0, 1]
    assert [g.index for g in parse_any(read_corpus("list-4x-a100-80gb-gpu0-mig.txt")).gpus] == [0, 1, 2, 3]
    assert [g.index for g in parse_any(read_corpus("csv-noheader-compute-cap-only-4x.txt")).gpus] == [0, 1, 2, 3]


# --- CSV --------------------------------------------------------------------------------------

HEADER = "index, name, driver_version, memory.total [MiB], compute_cap\n"
CSV_CASES = [
    ("our-query", HEADER + "0, NVIDIA GeForce RTX 3060, 531.41, 12288, 8.6\n",
     "531.41", [(0, "NVIDIA GeForce RTX 3060", 12288, "8.6")]),
    ("our-query-no-cc", "index, name, driver_version, memory.total [MiB]\n0, Tesla K80, 470.82.01, 11441\n"
     "1, Tesla K80, 470.82.01, 11441\n", "470.82.01", [(0, "Tesla K80", 11441, None), (1, "Tesla K80", 11441, None)]),
    ("noheader-with-units", "0, NVIDIA A100-SXM4-80GB, 535.54.03, 81920 MiB, 8.0\n",
     "535.54.03", [(0, "NVIDIA A100-SXM4-80GB", 81920, "8.0")]),
    ("cc-na-and-empty-memory", HEADER + "0, Quadro K2200, 390.144, , N/A\n",
     "390.144", [(0, "Quadro K2200", None, None)]),
    ("kmd-version-only", "index, name, kmd_version\n0, NVIDIA H200, 610.43.02\n",
     "610.43.02", [(0, "NVIDIA H200", None, None)]),
    ("driver-na-falls-back-to-kmd", "index, name, driver_version, kmd_version\n0, NVIDIA L4, [N/A], 610.1.2\n",
     "610.1.2", [(0, "NVIDIA L4", None, None)]),
    ("header-pasted-twice", HEADER + "0, Tesla T4, 440.64.00, 15109, 7.5\n" + HEADER
     + "1, Tesla T4, 440.64.00, 15109, 7.5\n", "440.64.00",
     [(0, "Tesla T4", 15109, "7.5"), (1, "Tesla T4", 15109, "7.5")]),
    ("row-with-bad-index-skipped", HEADER + "Warning: something, odd, x, y, z\n0, Tesla T4, 440.64.00, 15109, 7.5\n",
     "440.64.00", [(0, "Tesla T4", 15109, "7.5")]),
    ("blank-lines-and-crlf", HEADER + "\r\n\r\n0, Tesla P4, 550.135, 7680, 6.1\r\n",
     "550.135", [(0, "Tesla P4", 7680, "6.1")]),
    ("name-unknown-error", "name, memory.total [MiB]\n[Unknown Error], 8192\n", None, [(0, None, 8192, None)]),
    ("driver-only-query", "550.54.14\n", "550.54.14", []),
    ("cc-only-with-header", "compute_cap\n8.9\n9.0\n", None, [(0, None, None, "8.9"), (1, None, None, "9.0")]),
    ("index-last-column", "compute_cap, name, index\n12.0, NVIDIA GeForce RTX 5090, 3\n",
     None, [(3, "NVIDIA GeForce RTX 5090", None, "12.0")]),
]


@pytest.mark.parametrize("text, driver, gpus", [c[1:] for c in CSV_CASES], ids=[c[0] for c in CSV_CASES])
def test_parse_csv(text: str, driver: Optional[str], gpus: list) -> None:
    report = parse_csv(text)
    assert report is not None and report.form == "csv"
    assert report.driver_version == driver
    assert [(g.index, g.name, g.memory_mib, g.compute_capability) for g in report.gpus] == gpus


@pytest.mark.parametrize("text", [
    "", "   \n", "'nvidia-smi' is not recognized as an internal or external command,\noperable program or batch file.",
    "Failed to initialize NVML: Driver/library version mismatch", "| 0 | a, b |", "hello, world\n",
    "index, name\n", "No devices were found",
], ids=["empty", "blank", "cmd-not-found", "nvml", "table-pipes", "prose", "header-only", "no-devices"])
def test_parse_csv_rejects_what_is_not_csv(text: str) -> None:
    assert parse_csv(text) is None


@pytest.mark.parametrize("value, expected", [
    ("24576 MiB", 24576), ("24576MiB", 24576), ("6143MB", 6143), (" 81920 ", 81920), ("[N/A]", None),
    ("", None), ("12 GiB", None), ("-1", None), ("1" * 40, None)])
def test_parse_memory_mib(value: str, expected: Optional[int]) -> None:
    assert parse_memory_mib(value) == expected


@pytest.mark.parametrize("value, expected", [
    ("8.6", "8.6"), (" 12.0 ", "12.0"), ("08.06", "8.6"), ("N/A", None), ("[N/A]", None), ("8", None),
    ("8.6.1", None), ("", None)])
def test_parse_capability(value: str, expected: Optional[str]) -> None:
    assert parse_capability(value) == expected


# --- table ------------------------------------------------------------------------------------

def _table(header: str, rows: List[str]) -> str:
    rule = "+-----------------------------------------+------------------------+----------------------+"
    return "\n".join(["Mon Jan  1 00:00:00 2024", rule.replace("+-", "+-", 1), header, rule,
                      "|=========================================+========================+======================|",
                      *rows, rule, ""])


ROW_3070 = ["|   0  NVIDIA GeForce RTX 3070 WDDM          |   00000000:01:00.0  On |                  N/A |",
            "|  0%   45C    P8             17W /  220W |     600MiB /   8192MiB |      2%      Default |"]
ROW_ERR = ["|   1  ERR!                           ERR! |                   ERR! |                 ERR! |",
           "| ERR!  ERR! ERR!          ERR! /  ERR!   |   10MiB /   11441MiB |     ERR!        ERR! |"]
TABLE_CASES = [
    ("wddm-single-space", _table("| NVIDIA-SMI 531.41   Driver Version: 531.41   CUDA Version: 12.1 |", ROW_3070),
     "531.41", "12.1", "531.41", [(0, "NVIDIA GeForce RTX 3070", 8192)]),
    ("kmd-header-610", _table("| NVIDIA-SMI 610.1.2  KMD Version: 610.1.2   CUDA UMD Version: 13.3 |", ROW_3070),
     "610.1.2", "13.3", "610.1.2", [(0, "NVIDIA GeForce RTX 3070", 8192)]),
    ("cuda-err", _table("| NVIDIA-SMI 545.46  Driver Version: 546.80   CUDA Version: ERR! |", ROW_3070),
     "546.80", None, "545.46", [(0, "NVIDIA GeForce RTX 3070", 8192)]),
    ("driver-na", _table("| NVIDIA-SMI 535.54.03  Driver Version: N/A   CUDA Version: N/A |", ROW_3070),
     None, None, "535.54.03", [(0, "NVIDIA GeForce RTX 3070", 8192)]),
    ("gpu-fallen-off-the-bus", _table("| NVIDIA-SMI 470.82.01  Driver Version: 470.82.01  CUDA Version: 11.4 |",
                                      ROW_3070 + ["+---+"] + ROW_ERR),
     "470.82.01", "11.4", "470.82.01", [(0, "NVIDIA GeForce RTX 3070", 8192), (1, None, 11441)]),
]


@pytest.mark.parametrize("text, driver, cuda, smi, gpus", [c[1:] for c in TABLE_CASES], ids=[c[0] for c in TABLE_CASES])
def test_parse_table(text: str, driver: Optional[str], cuda: Optional[str], smi: Optional[str], gpus: list) -> None:
    report = parse_table(text)
    assert report is not None and report.form == "table"
    assert (report.driver_version, report.cuda_version, report.smi_version) == (driver, cuda, smi)
    assert [(g.index, g.name, g.memory_mib) for g in report.gpus] == gpus


def test_parse_table_reports_a_gpu_showing_err_as_a_warning() -> None:
    report = parse_table(TABLE_CASES[-1][1])
    assert report is not None
    assert report.warnings == ("GPU 1 shows ERR! instead of its name: the driver cannot read it",)


def test_parse_table_counts_mig_rows_and_ignores_process_rows() -> None:
    report = parse_table(read_corpus("linux-h200-mig-610.43.02-kmd.txt"))
    assert report is not None
    assert [g.name for g in report.gpus] == ["NVIDIA H200"]
    assert report.mig_devices == 1


@pytest.mark.parametrize("text", ["", "hello", "+------+\n|      |\n+------+",
                                  "| Processes: |\n| 0 N/A 1234 C python |"],
                         ids=["empty", "prose", "empty-box", "process-table-only"])
def test_parse_table_none_without_table(text: str) -> None:
    assert parse_table(text) is None


# --- -L -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, names, mig", [
    ("GPU 0: Tesla K80 (UUID: GPU-1)\nGPU 1: Tesla K80 (UUID: GPU-2)\n", ["Tesla K80", "Tesla K80"], 0),
    ("GPU 0: GeForce GTX 1080\r\n", ["GeForce GTX 1080"], 0),  # very old -L without UUID
    ("GPU 0: NVIDIA H200 (UUID: GPU-0)\n  MIG 3g.71gb     Device  0: (UUID: MIG-1)\n", ["NVIDIA H200"], 1),
    ("GPU 0: TITAN X (Pascal) (UUID: GPU-9)\n", ["TITAN X (Pascal)"], 0),
], ids=["two", "no-uuid-crlf", "mig", "parentheses"])
def test_parse_list(text: str, names: List[str], mig: int) -> None:
    report = parse_list(text)
    assert report is not None
    assert [g.name for g in report.gpus] == names
    assert report.mig_devices == mig


def test_parse_list_none_without_gpu_line() -> None:
    assert parse_list("  MIG 1g.10gb Device 0: (UUID: MIG-1)\n") is None


# --- errors -------------------------------------------------------------------------------------

ERROR_CASES = [
    ("bash", "bash: nvidia-smi: command not found", "nvidia-smi-not-found"),
    ("sh", "sh: 1: nvidia-smi: not found", "nvidia-smi-not-found"),
    ("zsh", "zsh: command not found: nvidia-smi", "nvidia-smi-not-found"),
    ("cmd-en", "'nvidia-smi' is not recognized as an internal or external command,\noperable program or batch file.",
     "nvidia-smi-not-found"),
    ("powershell-en", "nvidia-smi : The term 'nvidia-smi' is not recognized as the name of a cmdlet, function, "
                      "script file, or operable program.", "nvidia-smi-not-found"),
    ("cmd-de", "Der Befehl \"nvidia-smi\" ist entweder falsch geschrieben oder\nkonnte nicht gefunden werden.",
     "nvidia-smi-not-found"),
    ("cmd-de-win10", "'nvidia-smi' wird nicht als interner oder externer Befehl, betriebsf\u00e4higes Programm "
                     "oder Batch-Datei erkannt.", "nvidia-smi-not-found"),
    ("powershell-de", "nvidia-smi : Die Benennung \"nvidia-smi\" wurde nicht als Name eines Cmdlet, einer Funktion, "
                      "einer Skriptdatei oder eines ausf\u00fchrbaren Programms erkannt.", "nvidia-smi-not-found"),
    ("cmd-fr", "'nvidia-smi' n\u2019est pas reconnu en tant que commande interne\nou externe, un programme "
               "ex\u00e9cutable ou un fichier de commandes.", "nvidia-smi-not-found"),
    ("cmd-fr-ascii-quote", "'nvidia-smi' n'est pas reconnu en tant que commande interne", "nvidia-smi-not-found"),
    ("cmd-es", "\"nvidia-smi\" no se reconoce como un comando interno o externo,\nprograma o archivo por lotes "
               "ejecutable.", "nvidia-smi-not-found"),
    ("cmd-pt", "'nvidia-smi' n\u00e3o \u00e9 reconhecido como um comando interno\nou externo, um programa "
               "oper\u00e1vel ou um arquivo em lotes.", "nvidia-smi-not-found"),
    ("cmd-pt-replacement-chars", "'nvidia-smi' n\ufffdo \ufffd reconhecido como um comando interno",
     "nvidia-smi-not-found"),
    ("cmd-pt-cp850-read-as-cp1252", "'nvidia-smi' n\u00c6o \u201a reconhecido como um comando interno",
     "nvidia-smi-not-found"),
    ("cmd-pt-utf8-read-as-cp1252", "'nvidia-smi' n\u00c3\u00a3o \u00c3\u00a9 reconhecido como um comando interno",
     "nvidia-smi-not-found"),
    ("cmd-it", "'nvidia-smi' non \u00e8 riconosciuto come comando interno o esterno", "nvidia-smi-not-found"),
    ("cmd-zh", "'nvidia-smi' \u4e0d\u662f\u5185\u90e8\u6216\u5916\u90e8\u547d\u4ee4\uff0c\u4e5f\u4e0d\u662f"
               "\u53ef\u8fd0\u884c\u7684\u7a0b\u5e8f", "nvidia-smi-not-found"),
    ("cmd-ja", "'nvidia-smi' \u306f\u3001\u5185\u90e8\u30b3\u30de\u30f3\u30c9\u307e\u305f\u306f\u5916\u90e8"
               "\u30b3\u30de\u30f3\u30c9\u3001\u64cd\u4f5c\u53ef\u80fd\u306a\u30d7\u30ed\u30b0\u30e9\u30e0",
     "nvidia-smi-not-found"),
    ("cmd-ru", "\"nvidia-smi\" \u043d\u0435 \u044f\u0432\u043b\u044f\u0435\u0442\u0441\u044f "
               "\u0432\u043d\u0443\u0442\u0440\u0435\u043d\u043d\u0435\u0439 \u0438\u043b\u0438 "
               "\u0432\u043d\u0435\u0448\u043d\u0435\u0439 \u043a\u043e\u043c\u0430\u043d\u0434\u043e\u0439",
     "nvidia-smi-not-found"),
    ("cmd-pl", "'nvidia-smi' nie jest rozpoznawany jako polecenie wewn\u0119trzne lub zewn\u0119trzne",
     "nvidia-smi-not-found"),
    ("not-loaded", "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that "
                   "the latest NVIDIA driver is installed and running.", "driver-not-loaded"),
    ("nvml-unknown-error", "Failed to initialize NVML: Unknown Error", "driver-not-loaded"),
    ("no-libnvidia-ml", "NVIDIA-SMI couldn't find libnvidia-ml.so library in your system. Please make sure that "
                        "the NVIDIA Display Driver is properly installed and present in your system.",
     "driver-not-loaded"),
    ("mismatch", "Failed to initialize NVML: Driver/library version mismatch\nNVML library version: 550.144",
     "driver-library-mismatch"),
    ("no-devices", "No devices were found", "no-devices"),
    ("handle", "Unable to determine the device handle for GPU0000:07:00.0: Unknown Error", "gpu-unavailable"),
    ("gpu-lost", "Unable to determine the device handle for GPU 0000:02:00.0: GPU is lost. Reboot the system "
                 "to recover this GPU", "gpu-unavailable"),
    ("wsl-blocked", "Failed to initialize NVML: GPU access blocked by the operating system", "gpu-unavailable"),
    ("permissions", "Failed to initialize NVML: Insufficient Permissions", "gpu-unavailable"),
    ("handle-then-no-devices", "Unable to determine the device handle for gpu 0000:03:00.0: Unknown Error\n"
                               "No devices were found", "gpu-unavailable"),
    ("unrelated", "Sat Apr 19 10:08:49 2014", None),
    ("empty", "", None),
    ("invalid-field", 'Field "compute_cap" is not a valid field to query.', None),
]


@pytest.mark.parametrize("text, kind", [c[1:] for c in ERROR_CASES], ids=[c[0] for c in ERROR_CASES])
def test_detection_kind(text: str, kind: Optional[str]) -> None:
    assert detection_kind(text) == kind


@pytest.mark.parametrize("text, kind", [c[1:] for c in ERROR_CASES if c[2]], ids=[c[0] for c in ERROR_CASES if c[2]])
def test_parse_any_reports_the_error_kind(text: str, kind: str) -> None:
    report = parse_any(text)
    assert (report.form, report.error_kind, report.gpus) == ("error", kind, ())


def test_table_with_error_words_in_process_rows_is_not_an_error() -> None:
    report = parse_any(read_corpus("win-rtx2070-460.15-tcc-wddm.txt"))
    assert "Insufficient Permissions" in read_corpus("win-rtx2070-460.15-tcc-wddm.txt")
    assert report.error_kind is None


@pytest.mark.parametrize("text, expected", [
    ('Field "compute_cap" is not a valid field to query.', True),
    ('Field "compute_cap" is not a valid field to query.\n\n', True),
    ("Invalid combination of input arguments. Please run 'nvidia-smi -h' for help.", True),
    ("No devices were found", False), ("", False),
    ("0, NVIDIA GeForce RTX 3060, 531.41, 12288, 8.6", False),
])
def test_is_invalid_field_error(text: str, expected: bool) -> None:
    assert is_invalid_field_error(text) is expected


@pytest.mark.parametrize("text, expected", [
    ("Model: \t\t NVIDIA GeForce RTX 3090\nIRQ:   \t\t 130\nGPU UUID: \t GPU-5e1a\nBus Type: \t PCIe\n",
     "NVIDIA GeForce RTX 3090"),
    ("IRQ: 130\nModel:   Tesla T4  \n", "Tesla T4"), ("Model: \n", None), ("", None),
], ids=["driver-550", "model-not-first", "empty-model", "empty"])
def test_parse_proc_model(text: str, expected: Optional[str]) -> None:
    assert nvidia_smi.parse_proc_model(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("NVRM version: NVIDIA UNIX x86_64 Kernel Module  535.104.05  Sat Aug 19 01:15:15 UTC 2023\n"
     "GCC version:  gcc version 12.3.0 (Ubuntu 12.3.0-1ubuntu1~22.04)\n", "535.104.05"),
    ("NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  550.54.14  Release Build  "
     "(dvs-builder@U16-I3-B03-4-3)  Thu Feb 22 01:25:25 UTC 2024\n", "550.54.14"),
    ("NVRM version: NVIDIA UNIX Open Kernel Module for aarch64  580.65.06  Release Build\n", "580.65.06"),
    ("NVRM version: NVIDIA UNIX x86_64 Kernel Module  340.108  Wed Dec 11 15:00:00 PST 2019\n", "340.108"),
    ("GCC version:  gcc version 12.3.0\n", None), ("", None), ("Kernel Module 12.3", None),
])
def test_parse_proc_version(text: str, expected: Optional[str]) -> None:
    assert parse_proc_version(text) == expected


# --- never raise ----------------------------------------------------------------------------------

PARSERS = [parse_any, parse_csv, parse_table, parse_list, detection_kind, parse_proc_version,
           nvidia_smi.parse_proc_model, is_invalid_field_error]
LINES = sorted({ln for e in INDEX for ln in read_corpus(e["file"]).splitlines()})
_rule = st.integers(1, 120).map(lambda n: "+" + "-" * n + "+")
_pipes = st.lists(st.text(max_size=12), max_size=6).map(lambda cells: "|" + "|".join(cells) + "|")
_cut = st.tuples(st.sampled_from(LINES), st.integers(0, 120)).map(lambda t: t[0][:t[1]])
_line = st.one_of(st.sampled_from(LINES), _cut, _rule, _pipes, st.text(max_size=40))


def _check(report: Any) -> None:
    if isinstance(report, nvidia_smi.SmiReport):
        assert report.error_kind in KINDS | {None}
        assert all(g.name is None or g.name.strip() for g in report.gpus)
        if report.gpus:
            assert report.error_kind is None


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text())
def test_arbitrary_text_never_raises(text: str) -> None:
    for parser in PARSERS:
        _check(parser(text))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=st.lists(_line, max_size=40), newline=st.sampled_from(["\n", "\r\n", "\r"]))
def test_garbled_real_output_never_raises(lines: List[str], newline: str) -> None:
    text = newline.join(lines)
    for parser in PARSERS:
        _check(parser(text))


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2 ** 32), name=st.sampled_from([e["file"] for e in INDEX]))
def test_shuffled_corpus_file_never_raises(seed: int, name: str) -> None:
    lines = read_corpus(name).splitlines()
    random.Random(seed).shuffle(lines)
    for parser in PARSERS:
        _check(parser("\n".join(lines)))

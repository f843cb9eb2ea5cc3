"""Pure parsers for nvidia-smi output: the CSV query, the default table and ``-L``.

Every function here takes text and returns values; none runs anything, none raises on bad input. What an
error text means is decided by pybootstrap.failures, the classifier diagnose uses too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Dict, List, Optional, Tuple

from pybootstrap.failures import detection_kind

#: The structured query, first choice (compute_cap needs driver 510+; older drivers refuse the field).
QUERY_FIELDS = ("index", "name", "driver_version", "memory.total", "compute_cap")
QUERY_FIELDS_NO_CC = QUERY_FIELDS[:-1]

#: Values nvidia-smi prints where it has none (CSV cells and table cells alike).
_NULLISH = {"", "n/a", "[n/a]", "err!", "[unknown error]", "[not supported]", "not supported",
            "unknown error", "[gpu is lost]", "[insufficient permissions]",
            "[requested functionality has been deprecated]"}


@dataclass(frozen=True)
class SmiGpu:
    """One physical GPU as nvidia-smi printed it (name None when the output does not say)."""

    index: int
    name: Optional[str]
    memory_mib: Optional[int] = None
    compute_capability: Optional[str] = None
    name_truncated: bool = False


@dataclass(frozen=True)
class SmiReport:
    """What one piece of nvidia-smi output says."""

    form: str  # "csv" | "table" | "list" | "error" | "unknown"
    driver_version: Optional[str] = None
    cuda_version: Optional[str] = None
    smi_version: Optional[str] = None
    gpus: Tuple[SmiGpu, ...] = ()
    mig_devices: int = 0
    error_kind: Optional[str] = None
    warnings: Tuple[str, ...] = ()


def is_invalid_field_error(text: str) -> bool:
    """True when an older driver refused a --query-gpu field (e.g. compute_cap before 510)."""
    return bool(re.search(r"is not a valid field to query|Invalid combination of input arguments",
                          text or "", re.I))


# --- small value parsers -------------------------------------------------------------------

def _clean(value: str) -> Optional[str]:
    value = value.strip()
    return None if value.lower() in _NULLISH else value


def parse_memory_mib(value: str) -> Optional[int]:
    """'24576 MiB', '24576MiB', '6143MB' (drivers before ~340 said MB and meant MiB) or '24576' -> int."""
    match = re.fullmatch(r"\s*([0-9]{1,9})\s*(?:MiB|MB)?\s*", value or "", re.I)
    return int(match.group(1)) if match else None


def parse_capability(value: str) -> Optional[str]:
    """'8.6' -> '8.6'; 'N/A' or junk -> None."""
    match = re.fullmatch(r"\s*([0-9]{1,2})\.([0-9]{1,2})\s*", value or "")
    return f"{int(match.group(1))}.{int(match.group(2))}" if match else None


def _is_driver_version(value: str) -> bool:
    return bool(re.fullmatch(r"[0-9]{3,4}\.[0-9]{1,3}(?:\.[0-9]{1,3})?", value.strip()))


# --- CSV (--query-gpu) ------------------------------------------------------------------------

_HEADER_KEYS = {"index": "index", "name": "name", "driver_version": "driver_version",
                "kmd_version": "kmd_version", "memory.total": "memory", "compute_cap": "compute_cap",
                "uuid": "uuid", "pci.bus_id": "pci"}


def _csv_header_map(cells: List[str]) -> Optional[Dict[int, str]]:
    mapping: Dict[int, str] = {}
    for pos, cell in enumerate(cells):
        key = re.sub(r"\s*\[.*\]$", "", cell.strip().lower())
        if key in _HEADER_KEYS and _HEADER_KEYS[key] not in mapping.values():
            mapping[pos] = _HEADER_KEYS[key]
    wanted = {"name", "driver_version", "kmd_version", "compute_cap", "memory"}
    return mapping if wanted & set(mapping.values()) else None


def _guess_csv_columns(cells: List[str]) -> Dict[int, str]:
    """Assign columns of a header-less row by the shape of each value (the last memory-like one wins)."""
    mapping: Dict[int, str] = {}
    for pos, cell in enumerate(c.strip() for c in cells):
        if pos == 0 and re.fullmatch(r"[0-9]{1,3}", cell) and len(cells) > 1:
            mapping[pos] = "index"
        elif _is_driver_version(cell):
            mapping[pos] = "driver_version"
        elif re.fullmatch(r"[0-9]{1,9}\s*MiB", cell, re.I) or (re.fullmatch(r"[0-9]{3,7}", cell) and pos > 0):
            mapping[pos] = "memory"
        elif parse_capability(cell) is not None:
            mapping[pos] = "compute_cap"
        elif cell.upper().startswith("GPU-") or re.fullmatch(r"[0-9A-Fa-f]{4,8}:[0-9A-Fa-f:.]+", cell):
            mapping[pos] = "uuid"
        elif "name" not in mapping.values() and re.search(r"[A-Za-z]", cell):
            mapping[pos] = "name"
    return mapping


def parse_csv(text: str) -> Optional[SmiReport]:
    """Parse ``--query-gpu=... --format=csv[,noheader][,nounits]`` output; None if it is not CSV."""
    text = text or ""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines or "|" in text:
        return None
    # A one-field query (e.g. --query-gpu=compute_cap) prints no comma at all.
    single_column = not any("," in ln for ln in lines)
    rows = [[c.strip() for c in ln.split(",")] for ln in lines if single_column or "," in ln]
    header = _csv_header_map(rows[0])
    if header is not None:
        rows = rows[1:]
    gpus: List[SmiGpu] = []
    driver_version: Optional[str] = None
    for cells in rows:
        if header is not None and _csv_header_map(cells) is not None:
            continue  # the header again (outputs pasted one after another)
        mapping = header if header is not None else _guess_csv_columns(cells)
        if header is None and set(mapping.values()) <= {"name"}:
            continue  # a line of prose (an error message with a comma), not a row of values
        values = {key: cells[pos] for pos, key in mapping.items() if pos < len(cells)}
        index_text = values.get("index", "").strip()
        if "index" in values and not index_text.isdigit():
            continue
        driver = _clean(values.get("driver_version", "")) or _clean(values.get("kmd_version", ""))
        if driver and _is_driver_version(driver) and driver_version is None:
            driver_version = driver
        name = _clean(values.get("name", ""))
        memory = parse_memory_mib(values.get("memory", ""))
        capability = parse_capability(values.get("compute_cap", ""))
        if name or capability or memory is not None:
            index = int(index_text) if index_text.isdigit() and len(index_text) < 6 else len(gpus)
            gpus.append(SmiGpu(index=index, name=name, memory_mib=memory, compute_capability=capability))
    if not gpus and driver_version is None:
        return None
    return SmiReport(form="csv", driver_version=driver_version, gpus=tuple(gpus))


# --- default table ----------------------------------------------------------------------------

_HEADER_RE = re.compile(r"NVIDIA-SMI\s+(?P<smi>[\w.]+)")
_DRIVER_RE = re.compile(r"(?:Driver|KMD)\s+Version:\s*(?P<v>[\w.!]+)", re.I)
_CUDA_RE = re.compile(r"CUDA(?:\s+UMD)?\s+Version:\s*(?P<v>[\w./!]+)", re.I)
_GPU_CELL_RE = re.compile(r"^\s*(?P<index>[0-9]{1,3})\s+(?P<rest>.*?[A-Za-z!].*?)\s*$")
# The bus id ("00000000:01:00.0", "0000:03:00.0", "00008ED0:00:00.0") marks a GPU row; "ERR!" stands in
# for it when the GPU has fallen off the bus.
_BUS_RE = re.compile(r"^\s*(?:[0-9A-Fa-f]{4,8}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.[0-7]|ERR!)")
_MEMORY_RE = re.compile(r"(?P<used>[0-9]{1,9})\s*(?:MiB|MB)\s*/\s*(?P<total>[0-9]{1,9})\s*(?:MiB|MB)", re.I)
_MIG_ROW_RE = re.compile(r"^\|\s+[0-9]+\s+[0-9]+\s+[0-9]+\s+[0-9]+\s+\|")
_TIMESTAMP_RE = re.compile(r"^\w{3} \w{3}\s+\d+ \d\d:\d\d:\d\d \d{4}$")
# The last word of the name cell may be a column of its own: persistence mode, or TCC/WDDM/MCDM.
_MODE_TOKENS = {"on", "off", "wddm", "tcc", "mcdm", "n/a", "err!", "[n/a]"}


def _version_or_none(value: Optional[str]) -> Optional[str]:
    if not value:
        return None
    return value if re.fullmatch(r"[0-9]{1,4}(?:\.[0-9]{1,4}){1,3}", value) else None


def _split_name(cell: str) -> Tuple[Optional[str], bool]:
    """Split 'NVIDIA GeForce RTX 3070      WDDM' into the name and whether it was cut off."""
    words = cell.split()
    if len(words) > 1 and words[-1].lower() in _MODE_TOKENS:
        words = words[:-1]
    name = _clean(" ".join(words))
    return name, bool(name and name.endswith("..."))


def parse_table(text: str) -> Optional[SmiReport]:
    """Parse the default ``nvidia-smi`` table (or a fragment of it); None if it holds none."""
    lines = [ln.rstrip() for ln in (text or "").splitlines()]
    header_at = next((i for i, ln in enumerate(lines) if _HEADER_RE.search(ln)), None)
    smi = driver = cuda = None
    warnings: List[str] = []
    if header_at is not None:
        smi, driver, cuda = (_version_or_none(m.group(group)) if m else None
                             for m, group in ((_HEADER_RE.search(lines[header_at]), "smi"),
                                              (_DRIVER_RE.search(lines[header_at]), "v"),
                                              (_CUDA_RE.search(lines[header_at]), "v")))
        warnings = [ln.strip() for ln in lines[:header_at]
                    if ln.strip() and not ln.lstrip().startswith(("+", "|")) and not _TIMESTAMP_RE.match(ln.strip())]
    mig_at = next((i for i, ln in enumerate(lines) if "MIG devices:" in ln), len(lines))
    gpus: List[SmiGpu] = []
    in_block = False  # inside the block of gpus[-1]: its memory is on a later line
    for line in lines[:mig_at]:
        if not line.startswith("|"):
            in_block = False  # a "+---" rule or a blank line ends a GPU's block
            continue
        cells = line.split("|")
        match = _GPU_CELL_RE.match(cells[1]) if len(cells) > 3 else None
        if match and _BUS_RE.match(cells[2]):
            name, truncated = _split_name(match.group("rest"))
            gpus.append(SmiGpu(index=int(match.group("index")), name=name, name_truncated=truncated))
            in_block = True
            if name is None:
                warnings.append(f"GPU {gpus[-1].index} shows ERR! instead of its name: the driver cannot read it")
            continue
        found = _MEMORY_RE.search(line)
        if in_block and gpus[-1].memory_mib is None and found:
            gpus[-1] = replace(gpus[-1], memory_mib=int(found.group("total")))
    mig_devices = sum(1 for ln in lines[mig_at:] if _MIG_ROW_RE.match(ln))
    if header_at is None and not gpus and not mig_devices:
        return None
    return SmiReport(form="table", driver_version=driver, cuda_version=cuda, smi_version=smi, gpus=tuple(gpus),
                     mig_devices=mig_devices, warnings=tuple(warnings))


# --- nvidia-smi -L ----------------------------------------------------------------------------

_LIST_RE = re.compile(r"^GPU\s+(?P<index>[0-9]{1,3}):\s*(?P<name>.+?)\s*(?:\(UUID:.*\))?\s*$")
_MIG_LIST_RE = re.compile(r"^\s+MIG\s+")


def parse_list(text: str) -> Optional[SmiReport]:
    """Parse ``nvidia-smi -L``; MIG lines count as slices, not GPUs. None if no GPU line."""
    gpus: List[SmiGpu] = []
    mig_devices = 0
    for line in (text or "").splitlines():
        if _MIG_LIST_RE.match(line):
            mig_devices += 1
            continue
        match = _LIST_RE.match(line.strip())
        if match:
            name = _clean(match.group("name"))
            gpus.append(SmiGpu(index=int(match.group("index")), name=name,
                               name_truncated=bool(name and name.endswith("..."))))
    return SmiReport(form="list", gpus=tuple(gpus), mig_devices=mig_devices) if gpus else None


# --- any form ---------------------------------------------------------------------------------

def parse_any(text: str) -> SmiReport:
    """Parse saved output of any supported form; an unknown form gives form='unknown'."""
    text = (text or "").replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    for parser in (parse_table, parse_list, parse_csv):
        report = parser(text)
        if report is not None and (report.gpus or report.driver_version or report.mig_devices):
            # A table with GPUs can still mention an error word (a process named "Insufficient
            # Permissions"); only output without any GPU is asked what went wrong.
            if not report.gpus and not report.mig_devices:
                return replace(report, error_kind=detection_kind(text))
            return report
    kind = detection_kind(text)
    if kind is not None:
        return SmiReport(form="error", error_kind=kind)
    return SmiReport(form="unknown", error_kind="unparseable")


def parse_proc_model(text: str) -> Optional[str]:
    """The GPU name from Linux ``/proc/driver/nvidia/gpus/<bus id>/information`` ("Model: ...")."""
    match = re.search(r"^Model:[ \t]*(\S.*?)[ \t]*$", text or "", re.M)
    return match.group(1) if match else None


def parse_proc_version(text: str) -> Optional[str]:
    """Driver version from Linux ``/proc/driver/nvidia/version``."""
    match = re.search(r"Kernel Module(?:\s+for\s+\S+)?\s+([0-9]{3,4}\.[0-9]{1,3}(?:\.[0-9]{1,3})?)\b", text or "")
    return match.group(1) if match else None

"""Pure parsers for nvidia-smi output: the CSV query, the default table, ``-L``, and its errors.

Every function here takes text and returns values; none runs anything, none raises on bad input.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

#: The structured query, first choice (compute_cap needs driver 510+; older drivers refuse the field).
QUERY_FIELDS = ("index", "name", "driver_version", "memory.total", "compute_cap")
QUERY_FIELDS_NO_CC = QUERY_FIELDS[:-1]

_NULLISH = {"", "n/a", "[n/a]", "err!", "[unknown error]", "[not supported]", "not supported",
            "unknown error", "[gpu is lost]", "[insufficient permissions]"}


@dataclass
class SmiGpu:
    """One physical GPU as nvidia-smi printed it."""

    index: int
    name: str
    memory_mib: Optional[int] = None
    compute_capability: Optional[str] = None
    name_truncated: bool = False


@dataclass
class SmiReport:
    """What one piece of nvidia-smi output says."""

    form: str  # "csv" | "table" | "list" | "error" | "unknown"
    driver_version: Optional[str] = None
    cuda_version: Optional[str] = None
    smi_version: Optional[str] = None
    gpus: List[SmiGpu] = field(default_factory=list)
    mig_devices: int = 0
    error_kind: Optional[str] = None
    warnings: List[str] = field(default_factory=list)


# --- errors ---------------------------------------------------------------------------------

_ERROR_PATTERNS: Tuple[Tuple[str, "re.Pattern[str]"], ...] = (
    ("driver-library-mismatch", re.compile(r"Driver/library version mismatch", re.I)),
    ("driver-not-loaded", re.compile(
        r"couldn'?t communicate with the NVIDIA driver|NVIDIA kernel module.*not loaded|"
        r"Failed to initialize NVML(?!: Driver/library)|NVML library not found|"
        r"Unable to load the NVIDIA driver|nvidia-smi has failed", re.I)),
    ("no-devices", re.compile(r"No devices were found|No NVIDIA GPU(?:s)? (?:found|detected)", re.I)),
    ("gpu-unavailable", re.compile(
        r"Unable to determine the device handle|GPU is lost|Insufficient Permissions|"
        r"GPU access blocked by the operating system|Unable to query", re.I)),
    ("nvidia-smi-not-found", re.compile(
        r"is not recognized as an internal or external command|command not found|"
        r"No such file or directory|not found in PATH|The term 'nvidia-smi' is not recognized|"
        r"n'est pas reconnu en tant que commande|wird nicht als interner oder externer Befehl|"
        r"no se reconoce como un comando interno|non . riconosciuto come comando interno|"
        r"n.o . reconhecido como um comando interno|nie jest rozpoznawane jako polecenie|"
        r"\u043d\u0435 \u044f\u0432\u043b\u044f\u0435\u0442\u0441\u044f \u0432\u043d\u0443\u0442\u0440\u0435\u043d\u043d\u0435\u0439|"
        r"\u4e0d\u662f\u5185\u90e8\u6216\u5916\u90e8\u547d\u4ee4|\u5185\u90e8\u30b3\u30de\u30f3\u30c9\u307e\u305f\u306f\u5916\u90e8\u30b3\u30de\u30f3\u30c9",
        re.I)),
)


def classify_error(text: str) -> Optional[str]:
    """The contract error kind that this nvidia-smi output reports, or None if it reports none."""
    for kind, pattern in _ERROR_PATTERNS:
        if pattern.search(text or ""):
            return kind
    return None


def is_invalid_field_error(text: str) -> bool:
    """True when an older driver refused a --query-gpu field (e.g. compute_cap before 510)."""
    return bool(re.search(r"is not a valid field to query|Invalid combination of input arguments",
                          text or "", re.I))


# --- small value parsers -------------------------------------------------------------------

def _clean(value: str) -> Optional[str]:
    value = value.strip()
    return None if value.lower() in _NULLISH else value


def parse_memory_mib(value: str) -> Optional[int]:
    """'24576 MiB', '24576MiB' or '24576' -> 24576; anything else -> None."""
    match = re.fullmatch(r"\s*(\d+)\s*(MiB)?\s*", value or "", re.I)
    return int(match.group(1)) if match else None


def parse_capability(value: str) -> Optional[str]:
    """'8.6' -> '8.6'; 'N/A' or junk -> None."""
    match = re.fullmatch(r"\s*(\d{1,2})\.(\d{1,2})\s*", value or "")
    return f"{int(match.group(1))}.{int(match.group(2))}" if match else None


def _is_driver_version(value: str) -> bool:
    match = re.fullmatch(r"(\d{3,4})\.\d{1,3}(\.\d{1,3})?", value.strip())
    return bool(match)


# --- CSV (--query-gpu) ------------------------------------------------------------------------

_HEADER_KEYS = {"index": "index", "name": "name", "driver_version": "driver_version",
                "memory.total": "memory", "compute_cap": "compute_cap",
                "uuid": "uuid", "pci.bus_id": "pci"}


def _csv_header_map(cells: List[str]) -> Optional[Dict[int, str]]:
    mapping: Dict[int, str] = {}
    for pos, cell in enumerate(cells):
        key = re.sub(r"\s*\[.*\]$", "", cell.strip().lower())
        if key in _HEADER_KEYS:
            mapping[pos] = _HEADER_KEYS[key]
    return mapping if "name" in mapping.values() or "driver_version" in mapping.values() else None


def _guess_csv_columns(cells: List[str]) -> Dict[int, str]:
    """Assign columns of a header-less row by the shape of each value."""
    mapping: Dict[int, str] = {}
    for pos, cell in enumerate(c.strip() for c in cells):
        if pos == 0 and re.fullmatch(r"\d+", cell) and len(cells) > 1:
            mapping[pos] = "index"
        elif _is_driver_version(cell):
            mapping[pos] = "driver_version"
        elif re.fullmatch(r"\d+\s*MiB", cell, re.I) or (re.fullmatch(r"\d{3,7}", cell) and pos > 0):
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
    lines = [ln for ln in (text or "").splitlines() if ln.strip()]
    rows = [[c.strip() for c in ln.split(",")] for ln in lines if "," in ln]
    if not rows or "|" in text:
        return None
    header = _csv_header_map(rows[0])
    if header is not None:
        rows = rows[1:]
    report = SmiReport(form="csv")
    for row_no, cells in enumerate(rows):
        mapping = header if header is not None else _guess_csv_columns(cells)
        values = {key: cells[pos] for pos, key in mapping.items() if pos < len(cells)}
        name = _clean(values.get("name", "")) or ""
        if not name and "driver_version" not in values:
            continue
        index_text = values.get("index", "")
        index = int(index_text) if index_text.isdigit() else row_no
        driver = _clean(values.get("driver_version", ""))
        if driver and _is_driver_version(driver) and report.driver_version is None:
            report.driver_version = driver
        if name:
            report.gpus.append(SmiGpu(index=index, name=name,
                                      memory_mib=parse_memory_mib(values.get("memory", "")),
                                      compute_capability=parse_capability(values.get("compute_cap", ""))))
    if not report.gpus and report.driver_version is None:
        return None
    return report


# --- default table ----------------------------------------------------------------------------

_HEADER_RE = re.compile(r"NVIDIA-SMI\s+(?P<smi>[\w.]+)")
_DRIVER_RE = re.compile(r"(?:Driver|KMD)\s+Version:\s*(?P<v>[\w.]+)", re.I)
_CUDA_RE = re.compile(r"CUDA(?:\s+UMD)?\s+Version:\s*(?P<v>[\w./]+)", re.I)
_GPU_ROW_RE = re.compile(r"^\|\s*(?P<index>\d+)\s+(?P<rest>.*?)\s*$")
_MEMORY_RE = re.compile(r"(?P<used>\d+)\s*MiB\s*/\s*(?P<total>\d+)\s*MiB", re.I)
_MODE_TOKENS = {"on", "off", "wddm", "tcc", "mcdm", "n/a", "err!", "[n/a]"}


def _version_or_none(value: Optional[str]) -> Optional[str]:
    if not value:
        return None
    return value if re.fullmatch(r"\d+(\.\d+)+", value) else None


def _split_name(cell: str) -> Tuple[str, bool]:
    """Split 'NVIDIA GeForce RTX 3070      WDDM' into the name and whether it was cut off."""
    parts = [p for p in re.split(r"\s{2,}", cell.strip()) if p]
    if len(parts) > 1 and parts[-1].lower() in _MODE_TOKENS:
        parts = parts[:-1]
    name = " ".join(parts).strip()
    truncated = name.endswith("...")
    return name, truncated


def parse_table(text: str) -> Optional[SmiReport]:
    """Parse the default ``nvidia-smi`` table; None if the text holds no table header."""
    lines = (text or "").splitlines()
    header_at = next((i for i, ln in enumerate(lines) if _HEADER_RE.search(ln)), None)
    if header_at is None:
        return None
    report = SmiReport(form="table")
    header = lines[header_at]
    report.smi_version = _version_or_none(_HEADER_RE.search(header).group("smi"))
    driver = _DRIVER_RE.search(header)
    report.driver_version = _version_or_none(driver.group("v")) if driver else None
    cuda = _CUDA_RE.search(header)
    report.cuda_version = _version_or_none(cuda.group("v")) if cuda else None
    report.warnings = [ln.strip() for ln in lines[:header_at]
                       if ln.strip() and not ln.lstrip().startswith(("+", "|"))
                       and not re.match(r"^\w{3} \w{3}\s+\d+ \d\d:\d\d:\d\d \d{4}", ln.strip())]
    # The GPU table runs from the first "|===" rule to the first line that is not part of a box.
    start = next((i for i in range(header_at, len(lines)) if lines[i].startswith("|=")), None)
    if start is None:
        return report
    block: List[str] = []
    blocks: List[List[str]] = []
    for line in lines[start + 1:]:
        stripped = line.rstrip()
        if not stripped.startswith(("|", "+")):
            break
        if stripped.startswith("+"):
            if block:
                blocks.append(block)
            block = []
            continue
        block.append(stripped)
    if block:
        blocks.append(block)
    for rows in blocks:
        cells = rows[0].split("|")
        match = _GPU_ROW_RE.match("|" + cells[1]) if len(cells) > 2 else None
        if not match:
            continue
        name, truncated = _split_name(match.group("rest"))
        memory = None
        for row in rows[1:]:
            found = _MEMORY_RE.search(row)
            if found:
                memory = int(found.group("total"))
                break
        report.gpus.append(SmiGpu(index=int(match.group("index")), name=name,
                                  memory_mib=memory, name_truncated=truncated))
    report.mig_devices = _count_mig_rows(lines)
    return report


def _count_mig_rows(lines: List[str]) -> int:
    try:
        start = next(i for i, ln in enumerate(lines) if "MIG devices:" in ln)
    except StopIteration:
        return 0
    return sum(1 for ln in lines[start:] if re.match(r"^\|\s+\d+\s+\d+\s+\d+\s+\d+\s+\|", ln))


# --- nvidia-smi -L ----------------------------------------------------------------------------

_LIST_RE = re.compile(r"^GPU\s+(?P<index>\d+):\s*(?P<name>.+?)\s*(?:\(UUID:.*\))?\s*$")
_MIG_LIST_RE = re.compile(r"^\s+MIG\s+")


def parse_list(text: str) -> Optional[SmiReport]:
    """Parse ``nvidia-smi -L``; MIG lines count as slices, not GPUs. None if no GPU line."""
    report = SmiReport(form="list")
    for line in (text or "").splitlines():
        if _MIG_LIST_RE.match(line):
            report.mig_devices += 1
            continue
        match = _LIST_RE.match(line.strip())
        if match:
            report.gpus.append(SmiGpu(index=int(match.group("index")), name=match.group("name")))
    return report if report.gpus else None


# --- any form ---------------------------------------------------------------------------------

def parse_any(text: str) -> SmiReport:
    """Parse saved output of any supported form; an unknown form gives form='unknown'."""
    text = (text or "").replace("\r\n", "\n").lstrip("\ufeff")
    for parser in (parse_table, parse_list, parse_csv):
        report = parser(text)
        if report is not None and (report.gpus or report.driver_version):
            report.error_kind = None if report.gpus else classify_error(text)
            return report
    kind = classify_error(text)
    if kind is not None:
        return SmiReport(form="error", error_kind=kind)
    table = parse_table(text)
    if table is not None:
        table.error_kind = "no-devices" if not table.gpus else None
        return table
    return SmiReport(form="unknown", error_kind="unparseable")


def parse_proc_version(text: str) -> Optional[str]:
    """Driver version from Linux ``/proc/driver/nvidia/version``."""
    match = re.search(r"Kernel Module(?:\s+for\s+\S+)?\s+(\d{3,4}\.\d+(?:\.\d+)?)", text or "")
    return match.group(1) if match else None

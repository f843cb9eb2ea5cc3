"""From the manifest people write to the model the planner reads: what a schema cannot check, then expansion.

The document has already passed manifests/schema.json (manifest_schema.validate). Here: names that refer to
other entries (a release's matrix, a matrix's `extends`, a variant's arch list), unique releases and table rows,
a driver floor for every CUDA major and OS a variant is published on, conda selectors that match their variant,
Python ranges that cover every published OS; then each release gets its matrix's variants. Errors name the field
by its dotted path in the written document.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Tuple

from packaging.version import Version

from pybootstrap.manifest_model import (
    OSES,
    VARIANT_KINDS,
    ArchDriver,
    ArchList,
    Capability,
    CondaSelector,
    CudaFamily,
    DriverVersion,
    GpuEntry,
    Manifest,
    Release,
    ToolkitDriver,
    Variant,
    parse_variant_name,
    python_key,
)
from pybootstrap.manifest_schema import FieldError, describe, join

ArchSets = Mapping[str, Mapping[str, ArchList]]
Platforms = Mapping[str, Tuple[str, ...]]


@dataclass(frozen=True)
class Matrix:
    """A build matrix after `extends`: its variants (in canonical order) and how pip addresses its index."""

    name: str
    pip_style: str
    variants: Tuple[Variant, ...]
    source: str

    @property
    def on_conda(self) -> bool:
        """True when the pytorch conda channel has this matrix's builds (a variant has a conda selector)."""
        return any(v.conda is not None for v in self.variants)


def expand(doc: Mapping[str, Any], origin: str) -> Manifest:
    """The expanded Manifest of a document that passed the schema; FieldError for what the schema cannot say."""
    families = _families(doc["cuda_families"])
    tables = _Tables(families, _arch_sets(doc["arch_lists"]),
                     {name: {k: tuple(v) for k, v in p.items()} for name, p in doc["platforms"].items()})
    matrices = {name: _matrix(name, doc["matrices"], tables) for name in doc["matrices"]}
    releases = [_release(raw, f"releases[{i}]", matrices) for i, raw in enumerate(doc["releases"])]
    seen: Dict[Version, int] = {}
    for i, release in enumerate(releases):
        if release.torch in seen:
            raise FieldError(f"releases[{i}].torch",
                             f"duplicate release {release.torch} (also releases[{seen[release.torch]}])")
        seen[release.torch] = i
    return Manifest(
        schema_version=doc["schema_version"], updated=_date(doc.get("updated"), "updated"),
        index_base=doc["index_base"].rstrip("/"),
        releases=tuple(sorted(releases, key=lambda r: r.torch, reverse=True)),
        cuda_families=families, toolkits=_toolkits(doc["cuda_toolkits"]), gpus=_gpus(doc["gpus"]),
        sources=dict(doc.get("sources", {})), origin=origin, arch_drivers=_arch_drivers(doc.get("arch_drivers", [])))


# --- tables -------------------------------------------------------------------------------------

def _date(value: Optional[str], path: str) -> Optional[datetime.date]:
    if value is None:
        return None
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise FieldError(path, f"not a calendar date: {describe(value)}") from None


def _capability(text: str) -> Capability:
    major, minor = text.split(".")
    return int(major), int(minor)


def _drivers(floors: Mapping[str, Optional[str]]) -> Dict[str, Optional[DriverVersion]]:
    return {os_name: None if value is None else DriverVersion(value) for os_name, value in floors.items()}


def _families(items: List[Mapping[str, Any]]) -> Dict[int, CudaFamily]:
    families: Dict[int, CudaFamily] = {}
    for i, item in enumerate(items):
        if item["major"] in families:
            raise FieldError(f"cuda_families[{i}].major", f"duplicate CUDA family {item['major']}")
        floors = {k: DriverVersion(v) for k, v in item["min_driver"].items()}
        families[item["major"]] = CudaFamily(item["major"], floors, item.get("source", ""))
    return families


def _toolkits(items: List[Mapping[str, Any]]) -> Tuple[ToolkitDriver, ...]:
    out: List[ToolkitDriver] = []
    for i, item in enumerate(items):
        cuda = Version(item["cuda"])
        if any(t.cuda == cuda for t in out):
            raise FieldError(f"cuda_toolkits[{i}].cuda", f"duplicate CUDA toolkit {cuda}")
        out.append(ToolkitDriver(cuda, _drivers(item["min_driver"]), item.get("source", "")))
    return tuple(sorted(out, key=lambda t: t.cuda, reverse=True))


def _arch_drivers(items: List[Mapping[str, Any]]) -> Tuple[ArchDriver, ...]:
    out: List[ArchDriver] = []
    for i, item in enumerate(items):
        cc = _capability(item["compute_capability"])
        if any(a.compute_capability == cc for a in out):
            raise FieldError(f"arch_drivers[{i}].compute_capability",
                             f"duplicate architecture {item['compute_capability']}")
        floors = {k: DriverVersion(v) for k, v in item["min_driver"].items()}
        out.append(ArchDriver(cc, floors, item.get("source", "")))
    return tuple(out)


def _gpus(table: Mapping[str, List[str]]) -> Tuple[GpuEntry, ...]:
    out: List[GpuEntry] = []
    seen: Dict[str, str] = {}
    for cc_text, names in table.items():
        for j, name in enumerate(names):
            path = f"{join('gpus', cc_text)}[{j}]"
            if name.lower() in seen:
                raise FieldError(path, f"duplicate GPU name {describe(name)} (also {seen[name.lower()]})")
            seen[name.lower()] = path
            out.append(GpuEntry(name.lower(), _capability(cc_text)))
    return tuple(sorted(out, key=lambda g: len(g.match), reverse=True))


def _arch_sets(table: Mapping[str, Mapping[str, str]]) -> Dict[str, Dict[str, ArchList]]:
    out: Dict[str, Dict[str, ArchList]] = {}
    for name, lists in table.items():
        path = join("arch_lists", name)
        if not any(os_name in lists for os_name in OSES):
            raise FieldError(path, f"names no OS (expected a list for {' and/or '.join(OSES)})")
        out[name] = {}
        for os_name in OSES:
            if os_name in lists:
                try:
                    out[name][os_name] = ArchList.parse(lists[os_name])
                except ValueError as exc:
                    raise FieldError(join(path, os_name), str(exc)) from None
    return out


# --- matrices -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Tables:
    """The named tables a variant refers to."""

    families: Mapping[int, CudaFamily]
    arch_sets: ArchSets
    platforms: Mapping[str, Platforms]


def _matrix(name: str, matrices: Mapping[str, Mapping[str, Any]], tables: _Tables) -> Matrix:
    """Follow `extends` down to the first matrix, then apply each level's variants (null removes one)."""
    chain: List[str] = [name]
    while "extends" in matrices[chain[-1]]:
        parent = matrices[chain[-1]]["extends"]
        path = join(join("matrices", chain[-1]), "extends")
        if parent not in matrices:
            raise FieldError(path, f"no matrix named {describe(parent)} in matrices")
        if parent in chain:
            raise FieldError(path, f"matrices extend each other in a circle ({' -> '.join(chain + [parent])})")
        chain.append(parent)
    raw: Dict[str, Tuple[Mapping[str, Any], str]] = {}
    pip_style, source = "index-url", ""
    for level in reversed(chain):
        matrix = matrices[level]
        pip_style = matrix.get("pip_style", pip_style)
        source = matrix.get("source", source)
        for variant_name, definition in matrix.get("variants", {}).items():
            path = join(join(join("matrices", level), "variants"), variant_name)
            if definition is None:
                if variant_name not in raw:
                    raise FieldError(path, f"removes {variant_name}, which {describe(matrix.get('extends'))} "
                                           "does not have")
                del raw[variant_name]
            else:
                raw[variant_name] = (definition, path)
    if not raw:
        raise FieldError(join("matrices", name), "has no variants")
    variants = [_variant(variant_name, definition, path, tables)
                for variant_name, (definition, path) in raw.items()]
    variants.sort(key=_variant_order)
    return Matrix(name, pip_style, tuple(variants), source)


def _variant_order(variant: Variant) -> Tuple[int, Version]:
    """cpu, then CUDA by version, ROCm by version, xpu: the order `manifest show` lists them in."""
    parsed = parse_variant_name(variant.name)
    version = (parsed.cuda or parsed.rocm) if parsed else None
    return VARIANT_KINDS.index(variant.kind), version or Version("0")


def _variant(name: str, raw: Mapping[str, Any], path: str, tables: _Tables) -> Variant:
    parsed = parse_variant_name(name)
    if parsed is None:  # the schema's variant_name pattern already refused it; kept for documents built in code
        raise FieldError(path, f"not a variant name: {describe(name)}")
    platforms = tables.platforms.get(raw["platforms"])
    if platforms is None:
        raise FieldError(join(path, "platforms"), f"no entry named {describe(raw['platforms'])} in platforms")
    archs: Dict[str, ArchList] = {}
    if parsed.kind == "cuda":
        assert parsed.cuda is not None
        archs = _variant_archs(raw, path, platforms, tables.arch_sets)
        family = tables.families.get(parsed.cuda.major)
        for os_name in platforms:
            if family is None or os_name not in family.min_driver:
                raise FieldError(path, f"no {os_name} driver floor for CUDA {parsed.cuda.major}.x in cuda_families "
                                       "(every CUDA variant needs one per OS it is published for)")
    elif "archs" in raw:
        raise FieldError(join(path, "archs"), f"only CUDA variants have arch lists ({name} is a {parsed.kind} variant)")
    return Variant(name=name, kind=parsed.kind, cuda=parsed.cuda, platforms=platforms, archs=archs,
                   conda=_selector(raw.get("conda"), join(path, "conda"), parsed.kind, parsed.cuda),
                   python=_python(raw["python"], join(path, "python"), tuple(platforms)) if "python" in raw else None,
                   note=raw.get("note"))


def _variant_archs(raw: Mapping[str, Any], path: str, platforms: Platforms, arch_sets: ArchSets) -> Dict[str, ArchList]:
    where = join(path, "archs")
    if "archs" not in raw:
        raise FieldError(where, "missing (every CUDA variant names its entry in arch_lists)")
    lists = arch_sets.get(raw["archs"])
    if lists is None:
        raise FieldError(where, f"no arch list named {describe(raw['archs'])} in arch_lists")
    for os_name in platforms:
        if os_name not in lists:
            raise FieldError(where, f"{join('arch_lists', raw['archs'])} has no {os_name} list, but the variant is "
                                    f"published for {os_name}")
    return {os_name: lists[os_name] for os_name in platforms}


def _selector(raw: Optional[Mapping[str, Any]], path: str, kind: str,
              cuda: Optional[Version]) -> Optional[CondaSelector]:
    if raw is None:
        return None
    package = raw["package"]
    if kind == "cuda" and not package.endswith(f"={cuda}"):
        raise FieldError(join(path, "package"), f"{describe(package)} does not select CUDA {cuda}")
    if kind == "cpu" and package != "cpuonly":
        raise FieldError(join(path, "package"), f'the cpu variant is selected by "cpuonly", got {describe(package)}')
    return CondaSelector(package, tuple(raw["channels"]))


def _python(raw: Any, path: str, oses: Tuple[str, ...]) -> Dict[str, Tuple[str, ...]]:
    """'3.10-3.14' (every OS in oses) or {"linux": "3.9-3.13", "windows": "3.9-3.12"} -> X.Y tuples per OS."""
    if isinstance(raw, str):
        versions = _python_range(raw, path)
        return {os_name: versions for os_name in oses}
    return {os_name: _python_range(text, join(path, os_name)) for os_name, text in raw.items()}


def _python_range(text: str, path: str) -> Tuple[str, ...]:
    low, _, high = text.partition("-")
    first, last = python_key(low), python_key(high or low)
    if last < first:
        raise FieldError(path, f"the range {describe(text)} ends before it starts")
    return tuple(f"3.{minor}" for minor in range(first[1], last[1] + 1))


# --- releases -----------------------------------------------------------------------------------

def _release(raw: Mapping[str, Any], path: str, matrices: Mapping[str, Matrix]) -> Release:
    matrix = matrices.get(raw["matrix"])
    if matrix is None:
        raise FieldError(join(path, "matrix"), f"no matrix named {describe(raw['matrix'])} in matrices")
    python = _python(raw["python"], join(path, "python"), OSES)
    for variant in matrix.variants:
        for os_name in variant.platforms:
            if os_name not in python and not (variant.python and os_name in variant.python):
                raise FieldError(join(path, "python"), f"no Python range for {os_name}, where {variant.name} of "
                                                       f"matrix {describe(matrix.name)} is published")
    torchvision, torchaudio = _companion(raw["torchvision"]), _companion(raw["torchaudio"])
    conda = raw.get("conda")
    if conda is not None and not matrix.on_conda:
        raise FieldError(join(path, "conda"), f"matrix {describe(matrix.name)} has no conda selectors, so the "
                                              "release has no conda companions")
    # on the conda channel the companions are pip's unless the release says otherwise (2.0.0)
    conda_tv, conda_ta = ((_companion(conda["torchvision"]), _companion(conda["torchaudio"])) if conda
                          else (torchvision, torchaudio) if matrix.on_conda else (None, None))
    return Release(
        torch=Version(raw["torch"]), date=_date(raw.get("date"), join(path, "date")),
        torchvision=torchvision, torchaudio=torchaudio, conda_torchvision=conda_tv, conda_torchaudio=conda_ta,
        on_conda=matrix.on_conda, python=python, pip_style=matrix.pip_style, variants=matrix.variants,
        source="; ".join(s for s in (matrix.source, raw.get("source", "")) if s), notes=tuple(raw.get("notes", ())),
        matrix=matrix.name)


def _companion(value: Optional[str]) -> Optional[Version]:
    return None if value is None else Version(value)

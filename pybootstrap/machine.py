"""The machine as the planner sees it: frozen value objects (GPUs, the detection error, the whole hardware).

Plain data with no I/O: pybootstrap.hardware fills them (probes, parsers, what-if flags), the planner reads them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple

from pybootstrap.manifest_model import Capability, DriverVersion


@dataclass(frozen=True)
class Gpu:
    """One physical GPU (or, with another vendor, a display adapter)."""

    index: int
    name: Optional[str]  # None when the output gives no name (a compute_cap-only query)
    vendor: str = "nvidia"
    compute_capability: Optional[Capability] = None
    cc_source: Optional[str] = None  # "nvidia-smi", "name table", "--compute-capability"
    memory_mib: Optional[int] = None

    def cc_text(self) -> Optional[str]:
        """The capability as 'X.Y', or None."""
        return f"{self.compute_capability[0]}.{self.compute_capability[1]}" if self.compute_capability else None

    def to_dict(self) -> Dict[str, Any]:
        """The gpus[] entry of the detect document."""
        return {"index": self.index, "name": self.name, "compute_capability": self.cc_text(),
                "memory_mib": self.memory_mib, "vendor": self.vendor, "compute_capability_source": self.cc_source}


@dataclass(frozen=True)
class DetectIssue:
    """Why detection could not report an NVIDIA GPU (kind: one of failures.DETECTION_KINDS)."""

    kind: str
    message: str
    advice: str

    def to_dict(self) -> Dict[str, Any]:
        """The error object of the detect document."""
        return {"kind": self.kind, "message": self.message, "advice": self.advice}


@dataclass(frozen=True)
class Hardware:
    """Everything the planner needs to know about the machine."""

    os: str
    arch: str
    python_version: str
    driver_version: Optional[DriverVersion] = None
    cuda_version: Optional[str] = None
    cuda_version_source: Optional[str] = None
    gpus: Tuple[Gpu, ...] = ()
    other_adapters: Tuple[Gpu, ...] = ()
    source: str = "nvidia-smi"
    error: Optional[DetectIssue] = None
    notes: Tuple[str, ...] = ()
    overrides: Tuple[str, ...] = ()

    @property
    def nvidia_gpus(self) -> Tuple[Gpu, ...]:
        """The NVIDIA GPUs (the ones CUDA can use)."""
        return tuple(g for g in self.gpus if g.vendor == "nvidia")

    def to_dict(self) -> Dict[str, Any]:
        """The detect document (without the schema key)."""
        return {"os": self.os, "arch": self.arch, "python_version": self.python_version,
                "driver_version": str(self.driver_version) if self.driver_version else None,
                "cuda_version": self.cuda_version, "cuda_version_source": self.cuda_version_source,
                "gpus": [g.to_dict() for g in self.gpus],
                "other_adapters": [g.to_dict() for g in self.other_adapters],
                "source": self.source, "error": self.error.to_dict() if self.error else None,
                "notes": list(self.notes), "overrides": list(self.overrides)}

"""What the planner takes and returns: the request, the build, rejections, and the plan (Chosen or NoBuild).

A plan is either Chosen (status "ok", with its build and commands) or NoBuild (status "no-compatible-build",
with advice); the two are told apart by `status` (or isinstance), so code that reads a build has checked that
there is one (mypy narrows `Plan` on `status`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Callable, Dict, Literal, Mapping, Optional, Tuple, Union

from pybootstrap.manifest_model import DriverVersion, Release, Variant

if TYPE_CHECKING:  # pragma: no cover - only for annotations: the planner never runs detection
    from pybootstrap.machine import Hardware

PACKAGES = ("torch", "torchvision", "torchaudio")

Command = Tuple[str, ...]


@dataclass(frozen=True)
class Request:
    """What the user asked for; None means "choose automatically"."""

    torch: Optional[str] = None  # "2.5.1" exact, or "2.5" = the newest 2.5.x
    variant: Optional[str] = None
    installer: Optional[str] = None  # "pip" | "conda"
    packages: Tuple[str, ...] = PACKAGES
    packages_explicit: bool = False
    index_url: Optional[str] = None
    mirror: Optional[str] = None
    find_links: Tuple[str, ...] = ()
    offline: bool = False
    variant_from: str = "--variant"  # where `variant` came from, named in reasons (a flag, a variable, a folder)


@dataclass(frozen=True)
class Build:
    """The chosen build and where it comes from."""

    torch: str
    torchvision: Optional[str]
    torchaudio: Optional[str]
    variant: str
    cuda: Optional[str]
    installer: str  # "pip" | "conda"
    index_url: Optional[str]
    conda_channels: Optional[Tuple[str, ...]]
    conda_cuda_package: Optional[str]
    environment: str  # "venv" | "conda": where pip runs; conda-only for installer conda
    pip_style: str = "index-url"
    archs: Tuple[str, ...] = ()

    def to_dict(self) -> Dict[str, Any]:
        """The build object of the plan document."""
        return {"torch": self.torch, "torchvision": self.torchvision, "torchaudio": self.torchaudio,
                "variant": self.variant, "cuda": self.cuda, "installer": self.installer,
                "index_url": self.index_url,
                "conda_channels": list(self.conda_channels) if self.conda_channels else None,
                "conda_cuda_package": self.conda_cuda_package, "environment": self.environment,
                "arch_list": list(self.archs)}


#: Builds the install commands of a build for a machine's architecture (installers.build_commands): the planner is
#: handed it, so that it never imports the installers (which run processes).
CommandBuilder = Callable[[Build, Request, str], Tuple[Command, ...]]


@dataclass(frozen=True)
class Rejection:
    """A candidate that failed a rule, and the rule with its numbers."""

    build: str
    reason: str
    rule: str  # platform | python | packages | gpu | driver | arch

    def to_dict(self) -> Dict[str, str]:
        """The rejected[] entry of the plan document."""
        return {"build": self.build, "reason": self.reason, "rule": self.rule}


@dataclass(frozen=True)
class Chosen:
    """A plan with a build: the build, the exact commands, and why."""

    build: Build
    commands: Tuple[Command, ...]
    reasons: Tuple[str, ...]
    rejected: Tuple[Rejection, ...]
    hardware: "Hardware"
    request: Request
    manifest: Mapping[str, Any]  # which manifest was used, and why (Manifest.describe())
    warnings: Tuple[str, ...] = ()
    status: Literal["ok"] = "ok"

    def with_reasons(self, *more: str) -> "Chosen":
        """The same plan with more reasons at the end."""
        return replace(self, reasons=self.reasons + more)

    def to_dict(self) -> Dict[str, Any]:
        """The plan document without its schema key."""
        return {"status": self.status, "build": self.build.to_dict(), "commands": [list(c) for c in self.commands],
                "reasons": list(self.reasons), "rejected": [r.to_dict() for r in self.rejected],
                "warnings": list(self.warnings), "advice": None, "manifest": dict(self.manifest),
                "hardware": self.hardware.to_dict()}


@dataclass(frozen=True)
class NoBuild:
    """A plan without a build: why, every rejection, and what to do."""

    reasons: Tuple[str, ...]
    rejected: Tuple[Rejection, ...]
    hardware: "Hardware"
    request: Request
    manifest: Mapping[str, Any]
    advice: str
    warnings: Tuple[str, ...] = ()
    status: Literal["no-compatible-build"] = "no-compatible-build"

    def with_reasons(self, *more: str) -> "NoBuild":
        """The same plan with more reasons at the end."""
        return replace(self, reasons=self.reasons + more)

    def to_dict(self) -> Dict[str, Any]:
        """The plan document without its schema key (build null, no commands)."""
        return {"status": self.status, "build": None, "commands": [], "reasons": list(self.reasons),
                "rejected": [r.to_dict() for r in self.rejected], "warnings": list(self.warnings),
                "advice": self.advice, "manifest": dict(self.manifest), "hardware": self.hardware.to_dict()}


Plan = Union[Chosen, NoBuild]


@dataclass(frozen=True)
class Outcome:
    """One candidate's verdict while planning: the first rule it broke, if any (the wording reads these)."""

    release: Release
    variant: Variant
    failure: Optional[Rejection] = None
    driver_only: bool = False  # broke the driver floor and no other rule: a newer driver would unlock it
    floor: Optional[DriverVersion] = None  # the driver a CUDA candidate needs here (family and GPU floors)
    notes: Tuple[str, ...] = ()  # what could not be checked, said with the choice

"""Installer back ends: build_command is pure (used by plan and --dry-run); run executes it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Tuple

if TYPE_CHECKING:  # pragma: no cover
    from pybootstrap.plan_model import Build, Request


def build_commands(build: "Build", request: "Request") -> Tuple[Tuple[str, ...], ...]:
    """The package-install commands of a plan, with 'python' / 'conda' standing for the target's tools."""
    if build.installer == "conda":
        from pybootstrap.installers.conda import build_command as conda_command

        return (conda_command(build, request),)
    from pybootstrap.installers.pip import build_command as pip_command

    return (pip_command(build, request),)

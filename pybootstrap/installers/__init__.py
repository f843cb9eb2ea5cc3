"""Installer back ends: build_command (pure) makes a plan's commands, shown by plan and --dry-run and run by
install; 'python' / 'conda' in them stand for the target's interpreter and conda."""

from __future__ import annotations

from typing import Tuple

from pybootstrap.installers import conda, pip
from pybootstrap.plan_model import Build, Request


def build_commands(build: Build, request: Request, arch: str) -> Tuple[Tuple[str, ...], ...]:
    """The package-install commands of a plan's build, in order (arch: the target machine's, which decides some
    pip pins)."""
    if build.installer == "conda":
        return (conda.build_command(build, request),)
    return (pip.build_command(build, request, arch=arch),)

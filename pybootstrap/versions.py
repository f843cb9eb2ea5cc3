"""The one rule for "does this version match what was asked": an exact version, or a release meaning any of
its patches (--torch 2.5 = 2.5.x), as PEP 440 specifiers (packaging.specifiers)."""

from __future__ import annotations

from typing import Union

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version


def wanted_spec(wanted: str) -> SpecifierSet:
    """'2.5.1' -> ==2.5.1; a release '2.5' -> ==2.5.* (InvalidSpecifier for junk)."""
    wanted = wanted.strip()
    return SpecifierSet(f"=={wanted}.*" if len(Version(wanted).release) < 3 else f"=={wanted}")


def matches(version: Union[str, Version], wanted: str) -> bool:
    """True when the version is the wanted one (a local label such as +cu124 is not compared)."""
    try:
        return wanted_spec(wanted).contains(Version(str(version)).public, prereleases=True)
    except (InvalidSpecifier, InvalidVersion):
        return False

"""versions: an exact version, or a release meaning any of its patches (PEP 440 specifiers)."""

from __future__ import annotations

import pytest

from pybootstrap.versions import matches


@pytest.mark.parametrize("version, wanted, expected", [
    ("2.5.1", "2.5.1", True),
    ("2.5.1+cu124", "2.5.1", True),     # the local label is the build, not the version
    ("2.5.10", "2.5.1", False),         # no prefix match on an exact version
    ("2.5.7", "2.5", True),             # --torch 2.5: any 2.5.x
    ("2.5.0+cpu", "2.5", True),
    ("2.6.0", "2.5", False),
    ("2.50.0", "2.5", False),
    ("2.6.0rc1", "2.6", True),          # a pre-release of the release asked for
    ("2.6.0.dev20250101", "2.6.0.dev20250101", True),
    ("not a version", "2.5", False),
    ("2.5.1", "two", False),
], ids=lambda v: str(v))
def test_matches(version: str, wanted: str, expected: bool) -> None:
    assert matches(version, wanted) is expected

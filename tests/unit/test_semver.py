"""Issue 26: the semver ranges a consumer names for the producer contracts it accepts."""

from __future__ import annotations

import pytest

from floe.contracts.semver import parse_range


@pytest.mark.parametrize(
    ("accepted", "version", "inside"),
    [
        ("^1", "1.0.0", True),
        ("^1", "1.9.3", True),
        ("^1", "2.0.0", False),
        ("^1", "0.9.0", False),
        ("^1.2", "1.1.9", False),
        ("^0.2.3", "0.2.9", True),
        ("^0.2.3", "0.3.0", False),
        (">=1.2,<2", "1.2.0", True),
        (">=1.2,<2", "1.1.9", False),
        (">=1.2 <2", "1.5.0", True),
        (">= 1.2, < 2", "2.0.0", False),
        ("~1.2", "1.2.9", True),
        ("~1.2", "1.3.0", False),
        ("1.x", "1.4.0", True),
        ("1.2.*", "1.3.0", False),
        ("*", "9.0.0", True),
        ("1.2.3", "1.2.3", True),
        ("1.2.3", "1.2.4", False),
        (">1.2", "1.2.5", False),
        ("<=1.2", "1.2.7", True),
        ("^1 || ^3", "3.1.0", True),
        ("^1 || ^3", "2.1.0", False),
        ("^1", "2.0.0-rc.1", False),
        ("^2.0.0-rc.1", "2.0.0-rc.2", True),
    ],
)
def test_ranges(accepted: str, version: str, inside: bool) -> None:
    assert parse_range(accepted).contains(version) is inside


@pytest.mark.parametrize("text", ["^", "one", ">=1.2,<", "", "^1 ||"])
def test_a_range_that_does_not_parse_says_how_to_write_one(text: str) -> None:
    with pytest.raises(ValueError, match="version range"):
        parse_range(text)

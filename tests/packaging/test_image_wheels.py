"""Issue 12: every pin of the image installs on CPython 3.10 without a compiler.

These ask the package index itself (``pip download --only-binary :all:`` for the image's
Python and platform), because a host install with gcc would quietly build an sdist.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from floe.packaging.wheels import (
    PLATFORMS,
    PURE_PYTHON_SDISTS,
    missing_wheels,
    pins,
    sdist_only,
)
from sessions.config import IMAGE_REQUIREMENTS


@pytest.mark.parametrize("arch", sorted(PLATFORMS))
def test_bc_11_4_every_image_pin_has_a_cp310_wheel_or_is_a_reviewed_sdist(
    arch: str, tmp_path: Path
) -> None:
    assert missing_wheels(IMAGE_REQUIREMENTS, arch, tmp_path) == []


def test_reviewed_sdists_are_pinned_and_still_lack_wheels(tmp_path: Path) -> None:
    """The allow-list holds exactly the pins with no wheel: one that gained a wheel, or
    left the requirements, must leave the list."""
    assert set(PURE_PYTHON_SDISTS) <= set(pins(IMAGE_REQUIREMENTS))
    assert sdist_only(IMAGE_REQUIREMENTS, "x86_64", tmp_path) == sorted(PURE_PYTHON_SDISTS)


def test_a_pin_without_a_cp310_wheel_is_named(tmp_path: Path) -> None:
    """sqlglotc 30.26.0+ ships no CPython 3.10 wheel (the image build failed on 30.30.0)."""
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("sqlglot==30.25.0\nsqlglotc==30.30.0\n")
    assert missing_wheels(requirements, "x86_64", tmp_path / "dl") == ["sqlglotc==30.30.0"]


def test_a_line_that_is_not_an_exact_pin_is_rejected(tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("duckdb>=1.5\n")
    with pytest.raises(ValueError, match="not an exact pin"):
        pins(requirements)

"""The e2e tier here, without a cluster: it collects, it refuses to pass vacuously, and the
suite allows no xfail (AC-10.2, BC-10.2, issue 7)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from sessions.e2e import split_repeat
from tests.conftest import PRODUCTS, ROOT, run_python


def _pytest(
    *args: str, path: str | None = None, cwd: Path = ROOT
) -> subprocess.CompletedProcess[str]:
    extra = {"PATH": path} if path is not None else {}
    return run_python("-m", "pytest", *args, cwd=cwd, **extra)


def test_e2e_suite_collects() -> None:
    done = _pytest("tests/e2e", "--collect-only", "-q", "-m", "e2e")
    assert done.returncode == 0, done.stdout + done.stderr
    # 8 platform-wide tests (one: runs in Job pods, issue 27) and 3 per demo product
    assert f"{8 + 3 * len(PRODUCTS)} tests collected" in done.stdout


def test_e2e_without_cluster_fails_fast_naming_what_is_missing(tmp_path: Path) -> None:
    done = _pytest("tests/e2e", "-q", "-m", "e2e", path=str(tmp_path))
    assert done.returncode == 8
    output = done.stdout + done.stderr
    assert "missing prerequisites for this session: kubectl, helm" in output
    assert " passed" not in output


def test_xfail_markers_are_rejected_at_collection(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "__init__.py").write_text("")
    (tmp_path / "tests" / "conftest.py").write_text((ROOT / "tests" / "conftest.py").read_text())
    (tmp_path / "tests" / "test_x.py").write_text(
        "import pytest\n\n@pytest.mark.xfail(strict=True)\ndef test_x():\n    assert 1 == 2\n"
    )
    done = _pytest("tests", "-q", "-p", "no:cacheprovider", cwd=tmp_path)
    assert done.returncode != 0
    assert (
        "xfail markers are not allowed (AC-10.2): tests/test_x.py::test_x"
        in done.stdout + done.stderr
    )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], (1, [])),
        (["--repeat", "3"], (3, [])),
        (["-k", "x", "--repeat", "2", "-x"], (2, ["-k", "x", "-x"])),
    ],
)
def test_repeat_option(args: list[str], expected: tuple[int, list[str]]) -> None:
    assert split_repeat(args) == expected


@pytest.mark.parametrize("args", [["--repeat"], ["--repeat", "x"], ["--repeat", "0"]])
def test_bad_repeat_is_rejected(args: list[str]) -> None:
    with pytest.raises(ValueError, match="--repeat"):
        split_repeat(args)

"""Issue 28 (5): the audit never passes by not looking, and never ends in a traceback.

`nox -s audit` for real, in a copy of the project's tracked files that is not a git
checkout (an unpacked archive), against the dated advisory snapshot served on loopback:

- a secret planted in a file: detect-secrets outside git scans every file .gitignore
  keeps, so the audit fails naming it (it used to scan nothing and pass);
- image requirements pip cannot resolve (a planted jinja2==2.10 beside the pins that
  need jinja2 3): the audit fails naming the conflicting pins, file and line, with no
  traceback (it used to end in FileNotFoundError).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sessions.config import IMAGE_REQUIREMENTS
from tests.conftest import ROOT, copy_tracked
from tests.unit.test_osv_mirror import _snapshot

NOX_TIMEOUT_S = 900


@pytest.fixture(scope="module")
def envdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One nox environment for both runs (the audit session installs into it each time)."""
    return tmp_path_factory.mktemp("audit-envs")


def _unpacked(dest: Path) -> Path:
    """The tracked files, as an archive unpacks them: no .git."""
    copy_tracked(dest)
    assert not (dest / ".git").exists()
    return dest


def _audit(project: Path, envdir: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env["GIT_CEILING_DIRECTORIES"] = str(project.parent)  # no repository above it either
    nox = [sys.executable, "-m", "nox", "--envdir", str(envdir), "-s", "audit"]
    return subprocess.run(
        [*nox, "--", "--advisory-db", str(_snapshot())],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=NOX_TIMEOUT_S,
        check=False,
    )


def test_issue28_outside_git_every_file_is_scanned_for_secrets(
    tmp_path: Path, envdir: Path
) -> None:
    project = _unpacked(tmp_path / "floe")
    planted = project / "demo" / "customer-360" / "settings.env"
    key = "AKIA" + "IOSFODNN7EXAMPLE"  # split: the repository's own scan must not see it
    planted.write_text(f"AWS_ACCESS_KEY_ID={key}\n")
    ignored = project / ".nox" / "leftover.env"  # what .gitignore excludes stays unscanned
    ignored.parent.mkdir()
    ignored.write_text(f"AWS_ACCESS_KEY_ID={key}\n")
    done = _audit(project, envdir)
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    assert "not a git checkout: scanning all" in output
    assert "secret not in the audited baseline: demo/customer-360/settings.env:1" in output
    assert "leftover.env" not in output
    assert "Traceback" not in output


def test_issue28_unresolvable_requirements_are_named_not_a_traceback(
    tmp_path: Path, envdir: Path
) -> None:
    project = _unpacked(tmp_path / "floe")
    requirements = project / IMAGE_REQUIREMENTS.relative_to(ROOT)
    lines = requirements.read_text().splitlines()
    requirements.write_text("\n".join([*lines, "jinja2==2.10"]) + "\n")
    done = _audit(project, envdir)
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    assert "Traceback" not in output and "FileNotFoundError" not in output
    assert "image requirements: pip cannot resolve the requirements" in output
    assert "jinja2==2.10" in output
    # the pins it conflicts with, by file and line and the pin written there
    named = next(line for line in output.splitlines() if "pip cannot resolve" in line)
    assert f"{requirements}:" in named
    assert any(
        f"{requirements}:{number} ({pin.strip()})" in named
        for number, pin in enumerate(lines, start=1)
        if pin.strip() and not pin.startswith("#")
    )

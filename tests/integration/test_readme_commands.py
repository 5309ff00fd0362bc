"""Issue 12: every command README.md documents that needs no cluster runs, exactly as
written, in a fresh copy of the repository's tracked files (as a new user's clone).

Commands are read from README.md's indented code blocks, so a command added there without
a case here fails ``test_every_readme_command_is_accounted_for``.  Commands that need a
cluster or a Docker engine, and the ones .ci/run itself runs, say what proves them.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, copy_tracked

README = ROOT / "README.md"
COMMAND_WORDS = ("nox", "floe", "python3", "python", "docker", "bash", "mkdir", "cp")

# Commands proved somewhere other than here, and why.
ELSEWHERE = {
    "python3 -m pip install nox==2026.10.20 && python3 -m nox -s tests": ".ci/run runs it",
    "nox -s tests": "the session running this test; .ci/run runs it",
    "nox -s audit": "needs a vulnerability service; fails here by design (no service answers)",
    "nox -s audit -- --advisory-db ../shared/advisory-database": ".ci/run runs it",
    "nox -s image_smoke": "needs a Docker engine; .ci/run runs it under .ci/with-docker-engine",
    "nox -s demo": "needs kind, helm, kubectl and a Docker engine (dry run tested here)",
    "nox -s e2e": "needs the live deployment `nox -s demo` makes",
    "nox -s demo_down -- --delete-cluster": "needs helm and kind",
    "nox -s run_demo": "the same session as the first set-up command, run here",
}
# Commands run here whose documented result is not exit 0.
EXPECTED_EXIT = {
    # no platform service runs here: exit 10, every service named in the JSON
    "floe platform status": 10,
}


def readme_commands(text: str | None = None) -> list[str]:
    """Shell commands in README.md's indented code blocks (continuations joined, trailing
    comments dropped)."""
    lines = (text if text is not None else README.read_text(encoding="utf-8")).splitlines()
    commands: list[str] = []
    pending = ""
    for line in lines:
        if not line.startswith("    "):
            continue
        body = re.sub(r"\s+#.*$", "", line.strip())
        if pending:
            pending += " " + body.rstrip("\\").strip()
        elif body.split(" ", 1)[0] in COMMAND_WORDS:
            pending = body.rstrip("\\").strip()
        else:
            continue
        if not body.endswith("\\"):
            commands.append(pending)
            pending = ""
    return commands


def _kind(command: str) -> str:
    if command in ELSEWHERE:
        return "elsewhere"
    if command.startswith(("docker ", "python benchmarks/")):
        return "elsewhere"
    return "run"


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The repository's tracked files, as a fresh clone has them."""
    return copy_tracked(tmp_path_factory.mktemp("clone"))


def _run(command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")}
    env.pop("NOX_CURRENT_SESSION", None)
    # `python3` in a command is this interpreter (the one with nox and floe installed)
    return subprocess.run(
        command.replace("python3 ", f"{sys.executable} "),
        shell=True,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=1500,
    )


def test_readme_parser_joins_continuations_and_drops_comments() -> None:
    text = "text\n\n    floe a \\\n        --b c   # note\n    noxfile.py  sessions\n    nox -l\n"
    assert readme_commands(text) == ["floe a --b c", "nox -l"]


def test_every_readme_command_is_accounted_for() -> None:
    commands = readme_commands()
    assert "nox -s demo -- --dry-run" in commands
    assert "python3 -m pip install nox==2026.10.20 && python3 -m nox -s run_demo" in commands
    stale = sorted(set(ELSEWHERE) - set(commands))
    assert stale == [], f"ELSEWHERE names commands README.md no longer has: {stale}"


RUN_HERE = [c for c in readme_commands() if _kind(c) == "run"]


@pytest.mark.slow
@pytest.mark.parametrize("command", RUN_HERE)
def test_readme_command_runs_as_written(command: str, clone: Path) -> None:
    done = _run(command, clone)
    expected = next(
        (code for prefix, code in EXPECTED_EXIT.items() if command.startswith(prefix)), 0
    )
    output = done.stdout + done.stderr
    assert done.returncode == expected, f"{command}\n{output[-3000:]}"
    assert "Traceback" not in output
    if command == "nox -s demo -- --dry-run":
        # the full plan: compile, cluster, image, load, helm, readiness; nothing run
        for expected_line in (
            "would compile the demo products",
            "$ kind create cluster --name floe",
            "$ kind load docker-image floe-dagster-demo:",
            "$ helm upgrade --install floe-platform helm/floe-platform",
            "[ready?] Dagster code locations loaded",
        ):
            assert expected_line in output, expected_line
        assert re.search(r"\$ docker (buildx )?build ", output)
    if command == "floe run --platform-dir my-platform":
        assert "jaffle: ok" in output and "main.customers" in output
        fixture = ROOT / "tests" / "fixtures" / "byo" / "jaffle" / "profiles.yml"
        assert (clone / "my-platform" / "jaffle" / "profiles.yml").read_bytes() == (
            fixture.read_bytes()
        )
    if command.startswith("floe platform status"):
        checks = json.loads(done.stdout)
        assert checks and all(not check["healthy"] for check in checks)
    if command.endswith("nox -s run_demo"):
        assert "mart_customer_360" in output

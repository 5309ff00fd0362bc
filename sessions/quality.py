"""tests and lint."""

from __future__ import annotations

import nox

DEFAULT_PYTEST_ARGS = ["tests", "--ignore=tests/e2e", "-q"]
LINT_TARGETS = ["floe", "sessions", "noxfile.py", "tests", "benchmarks"]


def tests(session: nox.Session) -> None:
    session.install("-e", ".[stack,dev]")
    session.run("pytest", *(session.posargs or DEFAULT_PYTEST_ARGS))


def lint(session: nox.Session) -> None:
    session.install("-e", ".[stack,lint]")
    session.run("ruff", "check", *LINT_TARGETS)
    session.run("ruff", "format", "--check", *LINT_TARGETS)
    session.run("mypy", "floe", "sessions")
    # floe must import on Python 3.10 too (the demo image installs it with --no-deps)
    session.run("vermin", "--no-tips", "--violations", "-t=3.10-", "floe", "sessions")

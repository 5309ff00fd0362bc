"""The local demo: compile_demo, run_demo, dev (no Docker, no cluster)."""

from __future__ import annotations

import nox

from sessions.config import DEMO_DIR


def _install(session: nox.Session) -> None:
    session.install("-e", ".[stack]")


def compile_demo(session: nox.Session) -> None:
    _install(session)
    session.run("floe", "demo", "compile", "--demo-dir", str(DEMO_DIR), *session.posargs)


def run_demo(session: nox.Session) -> None:
    _install(session)
    session.run("floe", "demo", "run", "--demo-dir", str(DEMO_DIR), *session.posargs)


def dev(session: nox.Session) -> None:
    _install(session)
    session.run("floe", "demo", "compile", "--demo-dir", str(DEMO_DIR))
    session.run("floe", "demo", "dev", "--demo-dir", str(DEMO_DIR), *session.posargs)

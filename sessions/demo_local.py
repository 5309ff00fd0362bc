"""The local demo: compile_demo, run_demo, dev (no Docker, no cluster)."""

from __future__ import annotations

from collections.abc import Sequence

import nox

from sessions.config import DEMO_DIR

# Options of the sessions that require compile_demo (build_demo_image, demo, image_smoke):
# nox hands every session in a chain the same posargs, so compile_demo leaves these to
# them (the number is how many values follow the option).
CHAIN_OPTIONS = {
    "--dry-run": 0,
    "--values": 1,
    "--delete-cluster": 0,
    "--base-image": 1,
    "--python310": 1,
}


def split_chain_args(posargs: Sequence[str]) -> tuple[bool, list[str]]:
    """(whether --dry-run was given, the arguments meant for `floe demo compile`)."""
    own: list[str] = []
    dry_run = False
    skip = 0
    for arg in posargs:
        if skip:
            skip -= 1
            continue
        name = arg.split("=", 1)[0]
        if name in CHAIN_OPTIONS:
            dry_run = dry_run or name == "--dry-run"
            skip = CHAIN_OPTIONS[name] if "=" not in arg else 0
            continue
        own.append(arg)
    return dry_run, own


def _install(session: nox.Session) -> None:
    session.install("-e", ".[stack]")


def compile_demo(session: nox.Session) -> None:
    dry_run, args = split_chain_args(session.posargs)
    command = ["floe", "demo", "compile", "--demo-dir", str(DEMO_DIR), *args]
    if dry_run:
        session.log("dry run: would compile the demo products:\n    $ " + " ".join(command))
        return
    _install(session)
    session.run(*command)


def run_demo(session: nox.Session) -> None:
    _install(session)
    session.run("floe", "demo", "run", "--demo-dir", str(DEMO_DIR), *session.posargs)


def dev(session: nox.Session) -> None:
    _install(session)
    session.run("floe", "demo", "compile", "--demo-dir", str(DEMO_DIR))
    session.run("floe", "demo", "dev", "--demo-dir", str(DEMO_DIR), *session.posargs)

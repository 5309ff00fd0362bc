"""build_demo_image, demo, demo_down: thin wrappers over floe.packaging.deploy.

`-- --dry-run` prints the exact commands without running them.
"""

from __future__ import annotations

import nox


def _deploy(session: nox.Session, action: str) -> None:
    session.install("-e", ".[stack,deploy]")
    session.run("python", "-m", "floe.packaging.deploy", action, *session.posargs)


def build_demo_image(session: nox.Session) -> None:
    _deploy(session, "build")


def demo(session: nox.Session) -> None:
    _deploy(session, "deploy")


def demo_down(session: nox.Session) -> None:
    _deploy(session, "down")

"""build_demo_image, demo, demo_down, image_smoke: thin wrappers over floe.packaging.

`-- --dry-run` prints the exact commands without running them.
"""

from __future__ import annotations

import nox

from sessions.config import IMAGE_PYTHON_VERSION, find_python


def _deploy(session: nox.Session, action: str) -> None:
    session.install("-e", ".[stack,deploy]")
    session.run("python", "-m", "floe.packaging.deploy", action, *session.posargs)


def build_demo_image(session: nox.Session) -> None:
    _deploy(session, "build")


def demo(session: nox.Session) -> None:
    _deploy(session, "deploy")


def demo_down(session: nox.Session) -> None:
    _deploy(session, "down")


def image_smoke(session: nox.Session) -> None:
    session.install("-e", ".[stack,deploy]")
    python310 = find_python(IMAGE_PYTHON_VERSION)
    session.run("python", "-m", "floe.packaging.smoke", "--python310", python310, *session.posargs)

"""The generated definitions must work with the pinned stack and with the image's.

The image's stack is installed the way the image has it: the base image's packages
(dagster's recipe for it, resolved as PyPI stood at its release: the same lock the local
stand-in of the base installs), then the image's requirements with --no-deps, then floe
with --no-deps, then `pip check` (AC-11.1, BC-11.4) - on the image's Python (3.10).
"""

from __future__ import annotations

import nox

from sessions.config import (
    BASE_LOCK,
    IMAGE_PYTHON_VERSION,
    IMAGE_REQUIREMENTS,
    PYTHON,
    find_python,
)

STACKS = ("pinned", "image")
# (python, stack): the image's stack runs on the image's Python
PARAMS = [(PYTHON, "pinned"), (find_python(IMAGE_PYTHON_VERSION), "image")]


def definitions_compat(session: nox.Session, stack: str) -> None:
    if stack == "pinned":
        session.install("-e", ".[stack,dev]")
    else:
        session.install("-r", str(BASE_LOCK))
        session.install("--no-deps", "-r", str(IMAGE_REQUIREMENTS))
        session.install("--no-deps", "-e", ".")
        session.install("pytest==9.2.0")
    session.run("pip", "check")
    session.run("pytest", "tests/compat", "-q", *session.posargs, env={"FLOE_STACK": stack})

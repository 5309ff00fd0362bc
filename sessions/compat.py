"""The generated definitions must work with the pinned stack and the image's stack."""

from __future__ import annotations

import nox

from sessions.config import (
    IMAGE_PYTHON_VERSION,
    IMAGE_REQUIREMENTS,
    PYTHON,
    find_python,
    image_base_version,
)

# stack -> how to install it; the image's pins come from its Dockerfile and requirements
STACKS: dict[str, list[str]] = {
    "pinned": ["-e", ".[stack,dev]"],
    "image": [f"dagster=={image_base_version()}", "-r", str(IMAGE_REQUIREMENTS)],
}
# (python, stack): the image's stack runs on the image's Python
PARAMS = [(PYTHON, "pinned"), (find_python(IMAGE_PYTHON_VERSION), "image")]


def definitions_compat(session: nox.Session, stack: str) -> None:
    session.install(*STACKS[stack])
    if stack == "image":
        # floe itself goes in without letting pip move the image's dagster/dbt pins
        session.install("--no-deps", "-e", ".")
        session.install("pytest==9.2.0")
    session.run("pip", "check")
    session.run("pytest", "tests/compat", "-q", *session.posargs, env={"FLOE_STACK": stack})

"""Constants the sessions share: one place for each name.

Sessions run in nox's own interpreter, where floe is not installed: nothing here imports
floe.  Values that live in a project file (the image's base) are read from that file.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = "3.11"
DEMO_DIR = ROOT / "demo"
DOCKERFILE = ROOT / "docker" / "dagster-demo" / "Dockerfile"
IMAGE_REQUIREMENTS = DOCKERFILE.parent / "requirements.txt"
# the base image's packages: dagster's recipe resolved at its release (floe.packaging.base_stack)
BASE_LOCK = ROOT / "docker" / "base-standin" / "requirements.lock"


def image_base_version(dockerfile: Path = DOCKERFILE) -> str:
    """The dagster version of the image: the tag of the Dockerfile's ``ARG BASE_IMAGE``
    default (dagster's images are tagged with the dagster version)."""
    text = dockerfile.read_text(encoding="utf-8")
    match = re.search(r"^ARG\s+BASE_IMAGE=\S+:(\S+)\s*$", text, re.MULTILINE)
    if not match:
        raise ValueError(f"{dockerfile}: no 'ARG BASE_IMAGE=<image>:<version>' line")
    return match.group(1)


IMAGE_PYTHON_VERSION = "3.10"  # the Python of dagster/dagster-celery-k8s images


def find_python(version: str) -> str:
    """An interpreter for ``version``: ``pythonX.Y`` on PATH if it runs (a pyenv shim may
    not), else one installed under pyenv's root; else the bare version, which nox then
    reports as missing."""
    on_path = shutil.which(f"python{version}")
    if on_path and subprocess.run([on_path, "-c", ""], capture_output=True).returncode == 0:
        return on_path
    root = os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv"))
    found = sorted(glob.glob(f"{root}/versions/{version}.*/bin/python{version}"))
    return found[-1] if found else version

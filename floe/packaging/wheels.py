"""Every pin of the image installs where the image runs: CPython 3.10, no C compiler.

A pin must have a CPython 3.10 wheel for manylinux x86_64 and aarch64, or be one of the
reviewed pure-Python sdists below.  A host install hides such gaps (gcc compiles the
sdist), so this asks the index itself: ``pip download --only-binary :all:`` for the
image's Python and each platform.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

IMAGE_PYTHON = "3.10"
ABI = "cp310"
# manylinux tags a glibc-2.36 (bookworm) image accepts, newest first
PLATFORMS = {
    arch: [f"manylinux_2_{minor}_{arch}" for minor in (28, 27, 26, 24, 17)]
    + [f"manylinux2014_{arch}"]
    for arch in ("x86_64", "aarch64")
}
# Reviewed pins that ship only an sdist and install without a compiler (name: why).
PURE_PYTHON_SDISTS = {
    # dbt-core 1.8 needs logbook<1.6; 1.5.3 has only an sdist. Its Cython speedups are
    # optional: without a compiler setup.py installs the pure-Python package.
    "logbook": "dbt-core 1.8 pins logbook<1.6; optional C speedups, pure-Python fallback",
    # dbt-core 1.8's anonymous-usage tracker: one release ever, sdist only, pure Python.
    "minimal-snowplow-tracker": "dbt-core 1.8 dependency; pure Python, sdist only",
}

_PIN = re.compile(r"^([A-Za-z0-9_.-]+)==(\S+)$")


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(requirements: Path) -> dict[str, str]:
    """``name==version`` lines of a requirements file (normalized name: version)."""
    found = {}
    for raw in requirements.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = _PIN.match(line)
        if not match:
            raise ValueError(f"{requirements}: not an exact pin: {raw!r}")
        found[normalize(match.group(1))] = match.group(2)
    return found


def _download(
    specs: list[str], arch: str, dest: Path, python: str
) -> subprocess.CompletedProcess[str]:
    platform_args = [arg for tag in PLATFORMS[arch] for arg in ("--platform", tag)]
    return subprocess.run(
        [
            python,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--only-binary",
            ":all:",
            "--python-version",
            IMAGE_PYTHON,
            "--implementation",
            "cp",
            "--abi",
            ABI,
            *platform_args,
            "--dest",
            str(dest),
            *specs,
        ],
        capture_output=True,
        text=True,
        check=False,
    )


def missing_wheels(
    requirements: Path, arch: str, dest: Path, python: str = sys.executable
) -> list[str]:
    """Pins (outside PURE_PYTHON_SDISTS) with no wheel for the image's Python on ``arch``."""
    specs = [
        f"{name}=={version}"
        for name, version in sorted(pins(requirements).items())
        if name not in PURE_PYTHON_SDISTS
    ]
    if _download(specs, arch, dest, python).returncode == 0:
        return []
    # name the culprits one by one (the first failure stops pip's whole download)
    return [spec for spec in specs if _download([spec], arch, dest, python).returncode != 0]


def sdist_only(
    requirements: Path, arch: str, dest: Path, python: str = sys.executable
) -> list[str]:
    """Which of the reviewed sdists really lack a wheel (a listed one that gained a wheel
    should leave the list)."""
    listed = {n: v for n, v in pins(requirements).items() if n in PURE_PYTHON_SDISTS}
    return [
        name
        for name, version in sorted(listed.items())
        if _download([f"{name}=={version}"], arch, dest, python).returncode != 0
    ]

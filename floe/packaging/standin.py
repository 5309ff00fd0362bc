"""A local stand-in for the demo image's base, for machines that cannot pull it.

The recipe is docker/base-standin/ (its Dockerfile says how the stand-in differs from the
real base).  Building it takes three things the host must have: root and ``debootstrap``
(a Debian bookworm minbase root, imported as an image: nothing is pulled), a CPython 3.10
built for bookworm (``python3.10`` found as ``nox -s definitions_compat`` finds it) and
the package index.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from floe.errors import PrerequisiteError
from floe.packaging import distributions
from floe.packaging.base_stack import LOCK, UV_VERSION
from floe.packaging.image import PipSettings, build, stage_pip_settings

ROOT = Path(__file__).resolve().parents[2]
RECIPE = ROOT / "docker" / "base-standin"
SUITE = "bookworm"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
ROOTFS_IMAGE = f"floe-standin-rootfs:{SUITE}"
# Shared libraries a CPython built on bookworm links against (ssl, sqlite3, ctypes, ...).
ROOTFS_PACKAGES = (
    "ca-certificates,libssl3,libsqlite3-0,libffi8,zlib1g,libbz2-1.0,liblzma5,"
    "libreadline8,libncursesw6,libgdbm6,libuuid1,libexpat1"
)
# Parts of the host's CPython the image does not need (tests, static library, the host's
# own site additions).
PYTHON_EXCLUDES = ("test", "config-3.10-*", "__pycache__", "*.pth", "_sandboxing*")
DIFFERENCES = (
    "Debian bookworm minbase root (not python:3.10-slim); CPython 3.10 copied from this "
    "host. Its packages are the real base's: dagster's own recipe for the image "
    "(docker/base-standin/requirements.in) as PyPI stood on the release date "
    "(requirements.lock). Same /usr/local layout, pip, root user and no C compiler."
)


def standin_tag(real_base: str) -> str:
    """floe-standin/<repository>:<version> for ``real_base`` (never the real name)."""
    name, _, version = real_base.rpartition(":")
    return f"floe-standin/{name.rsplit('/', 1)[-1]}:{version}"


def check_host(python310: str | None) -> str:
    """The CPython 3.10 to copy; PrerequisiteError naming everything missing."""
    problems = []
    if os.geteuid() != 0:
        problems.append("root: debootstrap must run as root")
    if shutil.which("debootstrap") is None:
        problems.append("debootstrap: not found; on Debian: apt-get install debootstrap")
    if not python310 or not Path(python310).is_file():
        problems.append(
            f"python3.10: not found ({python310 or 'no path given'}); "
            "install it (e.g. pyenv install 3.10) or pass --python310 PATH"
        )
    if problems:
        raise PrerequisiteError(
            "cannot build the stand-in base image",
            details=problems,
            hint="or make the real base available: docker pull / docker load it, or pass "
            "--base-image with your registry's mirror",
        )
    assert python310 is not None
    return python310


def _python_prefix(python310: str) -> Path:
    done = subprocess.run(
        [python310, "-c", "import sys; print(sys.base_prefix)"],
        capture_output=True,
        text=True,
        check=True,
    )
    return Path(done.stdout.strip())


def _stage_python(python310: str, dest: Path) -> None:
    """Copy the host's CPython to ``dest`` (it becomes /usr/local); scripts such as pip
    get the image's interpreter in their ``#!`` line instead of the host's path."""
    prefix = _python_prefix(python310)
    ignore = shutil.ignore_patterns(*PYTHON_EXCLUDES)
    for part in ("bin", "lib", "include"):
        if (prefix / part).is_dir():
            shutil.copytree(prefix / part, dest / part, ignore=ignore, symlinks=True)
    host_shebang = f"#!{prefix}/bin/".encode()
    for script in (dest / "bin").iterdir():
        if script.is_symlink() or not script.is_file():
            continue
        head = script.read_bytes()
        if head.startswith(host_shebang):
            _, _, rest = head.partition(b"\n")
            script.write_bytes(b"#!/usr/local/bin/python3.10\n" + rest)


def build_rootfs_image(work: Path, echo: Callable[[str], None]) -> None:
    from python_on_whales import docker

    rootfs = work / "rootfs"
    echo(f"stand-in: debootstrap --variant=minbase {SUITE} (about 40 s)")
    subprocess.run(
        [
            "debootstrap",
            "--variant=minbase",
            f"--include={ROOTFS_PACKAGES}",
            SUITE,
            str(rootfs),
            DEBIAN_MIRROR,
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    tarball = work / "rootfs.tar"
    subprocess.run(["tar", "-C", str(rootfs), "-cf", str(tarball), "."], check=True)
    docker.image.import_(tarball, tag=ROOTFS_IMAGE)
    shutil.rmtree(rootfs, ignore_errors=True)
    tarball.unlink()


def build_standin(
    real_base: str,
    python310: str | None,
    settings: PipSettings,
    echo: Callable[[str], None] = print,
) -> str:
    """Build the stand-in for ``real_base``; its tag."""
    from python_on_whales import docker

    python = check_host(python310)
    tag = standin_tag(real_base)
    with tempfile.TemporaryDirectory(prefix="floe-standin-") as tmp:
        work = Path(tmp)
        if not docker.image.exists(ROOTFS_IMAGE):
            build_rootfs_image(work, echo)
        context = work / "context"
        context.mkdir()
        shutil.copy2(RECIPE / "Dockerfile", context / "Dockerfile")
        shutil.copy2(LOCK, context / LOCK.name)
        shutil.copy2(Path(distributions.__file__), context / "distributions.py")
        _stage_python(python, context / "python")
        stage_pip_settings(context, settings)
        echo(f"stand-in: building {tag} from {RECIPE.relative_to(ROOT)} with {python}")
        build(
            context,
            [tag],
            dockerfile=Path("Dockerfile"),
            build_args={"ROOTFS_IMAGE": ROOTFS_IMAGE, "UV_VERSION": UV_VERSION},
            echo=echo,
        )
    return tag


if __name__ == "__main__":  # pragma: no cover - manual use
    print(build_standin(sys.argv[1], sys.argv[2], PipSettings()))

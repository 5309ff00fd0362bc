"""The demo image's base as a set of packages, and how the image's own pins relate to it.

- ``docker/base-standin/requirements.in``: dagster's own recipe for the base image
  (``dagster/dagster-celery-k8s:<version>``), the one source of the base's package list.
- ``docker/base-standin/requirements.lock``: that recipe resolved for CPython 3.10 (every
  platform, uv's universal mode) as PyPI stood on the release date.  The local stand-in of
  the base and ``nox -s definitions_compat(image)`` both install it, so the compat session
  and the image smoke test see the same base.  ``python -m floe.packaging.base_stack
  --lock`` regenerates it (needs uv and the package index).
- :data:`OVERRIDES`: the base's packages the image deliberately installs at another
  version, each with its reason.  Every other image pin is a package the base lacks.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from floe.packaging.wheels import normalize, pins

ROOT = Path(__file__).resolve().parents[2]
RECIPE = ROOT / "docker" / "base-standin" / "requirements.in"
LOCK = ROOT / "docker" / "base-standin" / "requirements.lock"
IMAGE_REQUIREMENTS = ROOT / "docker" / "dagster-demo" / "requirements.txt"
IMAGE_PYTHON = "3.10"
# dagster version -> the day after its release: uv's --exclude-newer takes packages
# uploaded before that moment, as the release's image build saw the index.
RELEASE_CUTOFF = {"1.9.6": "2024-12-20"}
UV_VERSION = "0.13.8"
LOCK_COMMAND = "python -m floe.packaging.base_stack --lock"
# The base's packages the image installs at another version (name: why).  The image's
# build uninstalls the base's version first (floe.packaging.distributions).
OVERRIDES = {
    "isodate": (
        "dbt-common (1.0.4 to 1.37, what dbt-core 1.8 can use with dagster-dbt 0.25) needs "
        "isodate<0.7; the base has 0.7.2 from the Azure libraries, which need only "
        ">=0.6.1. dbt-common 1.28+ takes isodate 0.7 but needs protobuf 6, and the base's "
        "grpcio-status and googleapis-common-protos hold protobuf at 5.29.2: one "
        "package downgraded instead of the base's gRPC stack replaced"
    ),
}

_LOCK_LINE = re.compile(r"^([A-Za-z0-9_.-]+)==(\S+?)\s*(?:;\s*(.+))?$")


@dataclass(frozen=True)
class Locked:
    name: str  # normalized
    version: str
    marker: str | None
    via: tuple[str, ...]  # normalized names (or "-r requirements.in") that require it


def recipe() -> list[str]:
    """The recipe's requirement lines, as written (comments dropped)."""
    lines = [
        raw.split("#", 1)[0].strip() for raw in RECIPE.read_text(encoding="utf-8").splitlines()
    ]
    return [line for line in lines if line]


def recipe_names() -> set[str]:
    return {normalize(re.split(r"[\[=<>!~ ]", line, maxsplit=1)[0]) for line in recipe()}


def parse_lock(path: Path = LOCK) -> dict[str, Locked]:
    """The lock's pins with their markers and ``# via`` parents (uv's format)."""
    out: dict[str, Locked] = {}
    current: dict[str, object] | None = None
    vias: list[str] = []

    def flush() -> None:
        if current is not None:
            name = str(current["name"])
            out[name] = Locked(name, str(current["version"]), current["marker"], tuple(vias))  # type: ignore[arg-type]

    for raw in path.read_text(encoding="utf-8").splitlines():
        match = _LOCK_LINE.match(raw)
        if match:
            flush()
            current = {
                "name": normalize(match.group(1)),
                "version": match.group(2),
                "marker": match.group(3),
            }
            vias = []
            continue
        text = raw.strip().lstrip("#").strip()
        if current is None or not raw.startswith("    #") or not text:
            continue
        if text.startswith("via "):
            text = text[4:]
        if text != "via":
            vias.append(text if text.startswith("-r ") else normalize(text.split()[0]))
    flush()
    return out


def base_versions(path: Path = LOCK) -> dict[str, str]:
    """normalized name -> version of every package the base has on Linux (entries whose
    marker only holds on Windows or other interpreters are left out)."""
    linux = {"sys_platform": "linux", "platform_python_implementation": "CPython"}
    out = {}
    for entry in parse_lock(path).values():
        if entry.marker and not _holds_on(entry.marker, linux):
            continue
        out[entry.name] = entry.version
    return out


def _holds_on(marker: str, env: dict[str, str]) -> bool:
    from packaging.markers import Marker

    return bool(Marker(marker).evaluate({"python_full_version": "3.10.16", **env}))


@dataclass(frozen=True)
class PinReport:
    overridden: dict[str, tuple[str, str]]  # name: (base version, image version)
    unexplained: dict[str, tuple[str, str]]  # differs from the base, not in OVERRIDES
    redundant: dict[str, str]  # pinned at the base's own version (the base has it already)
    stale_overrides: list[str]  # in OVERRIDES but no longer differing


def compare_pins(requirements: Path = IMAGE_REQUIREMENTS, lock: Path = LOCK) -> PinReport:
    base = base_versions(lock)
    image = pins(requirements)
    overridden, unexplained, redundant = {}, {}, {}
    for name, version in sorted(image.items()):
        if name not in base:
            continue
        if base[name] == version:
            redundant[name] = version
        elif name in OVERRIDES:
            overridden[name] = (base[name], version)
        else:
            unexplained[name] = (base[name], version)
    stale = sorted(n for n in OVERRIDES if n not in overridden)
    return PinReport(overridden, unexplained, redundant, stale)


def release_cutoff(dagster_version: str) -> str:
    try:
        return RELEASE_CUTOFF[dagster_version]
    except KeyError:
        raise SystemExit(
            f"no release date known for dagster {dagster_version}: add it to "
            "RELEASE_CUTOFF in floe/packaging/base_stack.py"
        ) from None


def recipe_dagster_version() -> str:
    for line in recipe():
        if normalize(line.split("==")[0]) == "dagster" and "==" in line:
            return line.split("==", 1)[1].strip()
    raise ValueError(f"{RECIPE}: no dagster==<version> line")


def uv_command() -> list[str]:
    found = shutil.which("uv")
    if found:
        return [found]
    probe = subprocess.run([sys.executable, "-m", "uv", "--version"], capture_output=True)
    if probe.returncode == 0:
        return [sys.executable, "-m", "uv"]
    raise SystemExit(f"uv is needed to resolve the recipe: pip install uv=={UV_VERSION}")


def compile_lock(dest: Path) -> subprocess.CompletedProcess[str]:
    """Resolve the recipe as PyPI stood on the base's release date into ``dest``."""
    cutoff = release_cutoff(recipe_dagster_version())
    return subprocess.run(
        [
            *uv_command(),
            "pip",
            "compile",
            str(RECIPE),
            "--universal",
            "--python-version",
            IMAGE_PYTHON,
            "--exclude-newer",
            cutoff,
            "--custom-compile-command",
            f"{LOCK_COMMAND}   (dagster's recipe, PyPI as of {cutoff})",
            "--quiet",
            "-o",
            str(dest),
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=RECIPE.parent,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m floe.packaging.base_stack", description=__doc__
    )
    parser.add_argument("--lock", action="store_true", help="regenerate requirements.lock")
    parser.add_argument("--check", action="store_true", help="fail if the lock is not current")
    args = parser.parse_args(argv)
    if args.lock or args.check:
        with tempfile.TemporaryDirectory() as tmp:
            fresh = Path(tmp) / LOCK.name
            done = compile_lock(fresh)
            if done.returncode != 0:
                print(done.stderr, file=sys.stderr)
                return 1
            if args.check:
                same = fresh.read_text() == LOCK.read_text()
                print(f"{LOCK.relative_to(ROOT)}: {'current' if same else 'STALE'}")
                return 0 if same else 1
            shutil.copyfile(fresh, LOCK)
            print(f"wrote {LOCK.relative_to(ROOT)} ({len(parse_lock())} packages)")
    report = compare_pins()
    for name, (old, new) in report.overridden.items():
        print(f"override {name}: base {old}, image {new} ({OVERRIDES[name]})")
    for name, (old, new) in report.unexplained.items():
        print(f"UNEXPLAINED {name}: base {old}, image {new}")
    for name, version in report.redundant.items():
        print(f"redundant pin {name}=={version} (the base has it)")
    return 1 if report.unexplained or report.redundant or report.stale_overrides else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

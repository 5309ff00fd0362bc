"""dbt packages a product declares (issue 29): installed with ``dbt deps`` before dbt
parses the project, when they are missing or out of date, as dagster-dbt's
``DbtProject.prepare`` does.

* Declared: ``packages.yml`` or ``dependencies.yml`` (its ``packages:`` key), dbt's two
  places; nothing declared = nothing to do.
* Up to date: dbt's own rule - ``package-lock.yml`` carries the hash dbt computes over the
  declared packages, and ``dbt deps`` re-resolves when they differ - plus every locked
  package present in the install path (``packages-install-path``, default
  ``dbt_packages``; a local package is a symlink there, and a dangling one is missing).
* Installing never loses what was there: the previous install directory and lock file are
  set aside first and put back when ``dbt deps`` fails (dbt itself deletes the directory
  before installing).  A hub or git package that cannot be fetched is a located error
  naming it; local-path packages install offline.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from floe.errors import DbtError, Location
from floe.sources import parse_yaml, read_text

PACKAGE_FILES = ("packages.yml", "dependencies.yml")
LOCK_FILE = "package-lock.yml"
DEFAULT_INSTALL_PATH = "dbt_packages"
DBT_HUB = "https://hub.getdbt.com/"  # dbt's default; DBT_PACKAGE_HUB_URL overrides it
_KINDS = ("package", "git", "local", "tarball", "private")


@dataclass(frozen=True)
class DeclaredPackage:
    """One entry of packages.yml / dependencies.yml, where it is written."""

    kind: str  # hub ("package:"), git, local, tarball, private
    spec: str  # as written: dbt-labs/dbt_utils, a URL, a path
    location: Location

    @property
    def offline(self) -> bool:
        return self.kind == "local"

    def describe(self) -> str:
        kind = "hub" if self.kind == "package" else self.kind
        return f"{self.spec} ({kind} package, {self.location})"


def declared_packages(project_dir: Path) -> list[DeclaredPackage]:
    """The packages the project declares, in file order (empty when none)."""
    out: list[DeclaredPackage] = []
    for name in PACKAGE_FILES:
        path = project_dir / name
        if not path.is_file():
            continue
        data, positions = parse_yaml(read_text(path), path)
        entries = data.get("packages") if isinstance(data, dict) else None
        if not isinstance(entries, list):
            continue  # dependencies.yml may hold only ``projects:`` (dbt Mesh)
        for index, entry in enumerate(entries):
            line, col = positions.get(("packages", index), (1, 1))
            kind = next((k for k in _KINDS if isinstance(entry, dict) and k in entry), None)
            if kind is None:
                raise DbtError(
                    f"{name}: packages[{index}] names no package",
                    Location(path, line, col, f"packages[{index}]"),
                    expected="one of: " + ", ".join(f"{k}:" for k in _KINDS),
                    found=str(entry),
                )
            out.append(DeclaredPackage(kind, str(entry[kind]), Location(path, line, col)))
    return out


def install_path(project_dir: Path) -> Path:
    """dbt_project.yml's ``packages-install-path`` (default ``dbt_packages``)."""
    path = project_dir / "dbt_project.yml"
    data, _ = parse_yaml(read_text(path), path)
    value = data.get("packages-install-path") if isinstance(data, dict) else None
    return project_dir / (value if isinstance(value, str) else DEFAULT_INSTALL_PATH)


def _lock(project_dir: Path) -> dict[str, Any]:
    path = project_dir / LOCK_FILE
    if not path.is_file():
        return {}
    data, _ = parse_yaml(read_text(path), path)
    return data if isinstance(data, dict) else {}


def missing_installs(project_dir: Path) -> list[str]:
    """Locked packages absent from the install path (no dbt import: the cheap check)."""
    install = install_path(project_dir)
    names = [
        str(entry["name"])
        for entry in _lock(project_dir).get("packages") or []
        if isinstance(entry, dict) and entry.get("name")
    ]
    return [name for name in names if not (install / name).is_dir()]


def packages_installed(project_dir: Path) -> bool:
    """Whether what package-lock.yml locks is installed (True when nothing is declared)."""
    if not declared_packages(project_dir):
        return True
    return bool(_lock(project_dir)) and not missing_installs(project_dir)


def _declared_hash(project_dir: Path, dbt_vars: dict[str, Any]) -> str | None:
    """The hash ``dbt deps`` writes to package-lock.yml for the packages as declared now
    (dbt's own functions, so the rule is dbt's); None when dbt cannot say."""
    try:
        from dbt.config.project import package_and_project_data_from_root, package_config_from_data
        from dbt.config.renderer import PackageRenderer
        from dbt.task.deps import _create_sha1_hash
    except ImportError:  # pragma: no cover - another dbt layout: treat as out of date
        return None
    try:
        data, _ = package_and_project_data_from_root(str(project_dir))  # type: ignore[no-untyped-call]
        packages = package_config_from_data(PackageRenderer(dbt_vars).render_data(data), data)
        return str(_create_sha1_hash(packages.packages))
    except Exception:
        return None


def why_install(project_dir: Path, dbt_vars: dict[str, Any] | None = None) -> str | None:
    """Why ``dbt deps`` must run now, or None when the installed packages are current."""
    if not declared_packages(project_dir):
        return None
    lock = _lock(project_dir)
    if not lock:
        return f"no {LOCK_FILE} yet"
    if lock.get("sha1_hash") != _declared_hash(project_dir, dbt_vars or {}):
        return f"the declared packages changed since {LOCK_FILE} was written"
    missing = missing_installs(project_dir)
    if missing:
        where = install_path(project_dir).name
        return f"not installed in {where}/: {', '.join(missing)}"
    return None


def ensure_packages(
    project_dir: Path, profiles_dir: Path, dbt_vars: dict[str, Any] | None = None
) -> str | None:
    """Run ``dbt deps`` when needed; a one-line notice of what was done, or None."""
    from floe.compiler.dbt import run_dbt

    project_dir = project_dir.resolve()
    reason = why_install(project_dir, dbt_vars)
    if reason is None:
        return None
    declared = declared_packages(project_dir)
    install = install_path(project_dir)
    lock = project_dir / LOCK_FILE
    kept = install.with_name(install.name + ".floe-previous")
    lock_before = lock.read_bytes() if lock.is_file() else None
    shutil.rmtree(kept, ignore_errors=True)
    if install.exists():
        install.rename(kept)
    start = time.perf_counter()
    args = ["deps"]
    if dbt_vars:
        args += ["--vars", json.dumps(dbt_vars, sort_keys=True)]
    try:
        run_dbt(project_dir, args, profiles_dir)
    except DbtError as exc:
        shutil.rmtree(install, ignore_errors=True)
        if kept.exists():
            kept.rename(install)
        if lock_before is None:
            lock.unlink(missing_ok=True)
        else:
            lock.write_bytes(lock_before)
        raise _fetch_error(project_dir, declared, exc) from None
    shutil.rmtree(kept, ignore_errors=True)
    lock_note = ""
    if lock_before is not None and lock.read_bytes() != lock_before:
        lock_note = f"; dbt deps updated {LOCK_FILE}"
    elif lock_before is None:
        lock_note = f"; dbt deps wrote {LOCK_FILE}"
    installed = sorted(p.name for p in install.iterdir()) if install.is_dir() else []
    return (
        f"installed dbt packages with dbt deps ({reason}): {', '.join(installed) or 'none'} "
        f"in {time.perf_counter() - start:.1f}s{lock_note}"
    )


_HOST = re.compile(r"host='([^']+)'")


def _fetch_error(project_dir: Path, declared: list[DeclaredPackage], exc: DbtError) -> DbtError:
    """dbt deps failed: name the packages that needed the network, and where they are."""
    text = str(exc)
    online = [p for p in declared if not p.offline]
    host = _HOST.search(text)
    if host:
        hub_host = urlparse(os.environ.get("DBT_PACKAGE_HUB_URL") or DBT_HUB).hostname
        hub = [p for p in online if p.kind == "package"]
        by_host = [p for p in online if host.group(1) in p.spec]
        online = by_host or (hub if host.group(1) == hub_host else online)
    if not online:
        return exc
    first = online[0]
    reached = f"{host.group(1)} cannot be reached" if host else "it could not be fetched"
    return DbtError(
        f"cannot install the dbt packages of {project_dir.name}: {first.spec} ({reached})",
        first.location,
        hint="fetch needs the network (hub and git packages); local-path packages install "
        "offline. Install them where the network is reachable (dbt deps) and keep "
        f"{install_path(project_dir).name}/ beside the project; nothing was changed",
        details=[f"needs the network: {p.describe()}" for p in online]
        + [line for line in [exc.message.strip()] if line][:1],
    )

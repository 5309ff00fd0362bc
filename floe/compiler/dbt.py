"""Running dbt for one product, in-process, and reading what it wrote."""

from __future__ import annotations

import contextlib
import io
import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from floe.compiler.loader import parse_yaml, read_text
from floe.errors import ConfigFileNotFound, ConfigValidationError, DbtError, Location

_CWD_LOCK = threading.Lock()


@dataclass(frozen=True)
class DbtProjectInfo:
    """What floe needs from ``dbt_project.yml``."""

    path: Path
    name: str
    profile: str
    model_paths: list[str]
    macro_paths: list[str]


def read_dbt_project(project_dir: Path) -> DbtProjectInfo:
    path = project_dir / "dbt_project.yml"
    if not path.is_file():
        raise ConfigFileNotFound(
            "no dbt project beside floe.yaml", Location(path), expected="dbt_project.yml"
        )
    data, positions = parse_yaml(read_text(path), path)
    if not isinstance(data, dict) or not isinstance(data.get("name"), str):
        raise ConfigValidationError("dbt_project.yml has no 'name'", Location(path, 1, 1, "name"))
    name = data["name"]
    profile = data.get("profile", name)
    if not isinstance(profile, str):
        line, col = positions.get(("profile",), (1, 1))
        raise ConfigValidationError(
            "'profile' must be a string", Location(path, line, col, "profile")
        )
    return DbtProjectInfo(
        path=path,
        name=name,
        profile=profile,
        model_paths=list(data.get("model-paths", ["models"])),
        macro_paths=list(data.get("macro-paths", ["macros"])),
    )


@contextlib.contextmanager
def _in_dir(directory: Path) -> Iterator[None]:
    """dbt-duckdb resolves relative database paths against the working directory."""
    with _CWD_LOCK:
        previous = Path.cwd()
        os.chdir(directory)
        try:
            yield
        finally:
            os.chdir(previous)


def run_dbt(project_dir: Path, args: list[str], profiles_dir: Path) -> Any:
    """Run one dbt command in-process for ``project_dir``; what dbt returns (``dbt ls``:
    the listed names); raise DbtError on failure."""
    from dbt.cli.main import dbtRunner  # heavy import: only when dbt actually runs

    project_dir = project_dir.resolve()
    full = [
        *args,
        "--project-dir",
        str(project_dir),
        "--profiles-dir",
        str(profiles_dir.resolve()),
        "--quiet",
        "--no-use-colors",
        "--log-path",
        str(project_dir / "target" / "logs"),
    ]
    (project_dir / "target").mkdir(parents=True, exist_ok=True)  # BC-11.3
    captured = io.StringIO()
    with _in_dir(project_dir), contextlib.redirect_stdout(captured):
        try:
            result = dbtRunner().invoke(full)
        finally:
            _release_duckdb()
    if not result.success:
        _raise_disk_error(result.exception, project_dir)
        detail = str(result.exception) if result.exception else _failed_nodes(result.result)
        output = captured.getvalue().strip().splitlines()[-8:]
        raise DbtError(
            f"dbt {args[0]} failed for {project_dir.name}: {detail.strip() or 'see output'}",
            Location(project_dir / "dbt_project.yml"),
            details=output,
        )
    return result.result


def _raise_disk_error(exc: BaseException | None, project_dir: Path) -> None:
    """A full or read-only disk under dbt is floe's located write error (exit 9)."""
    from floe.disk import disk_error, disk_path

    if exc is not None:
        path = disk_path(exc, project_dir / "target", project_dir)
        error = disk_error(exc, path, "dbt's compiled files (target/)")
        if error is not None:
            raise error from exc


def _release_duckdb() -> None:
    """dbt-duckdb keeps its DuckDB database open in a class attribute after an in-process
    run; close it so the file is not locked for the next product or for a later run."""
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    except ImportError:  # pragma: no cover - another adapter
        return
    with DuckDBConnectionManager._LOCK:
        env = DuckDBConnectionManager._ENV
        DuckDBConnectionManager._ENV = None
    if env is not None:
        with contextlib.suppress(Exception):
            env.close()


def _failed_nodes(result: Any) -> str:
    try:
        return "; ".join(
            f"{r.node.name}: {r.message}" for r in result if str(r.status) in {"error", "fail"}
        )
    except TypeError:
        return ""


def dbt_compile(
    project_dir: Path,
    profiles_dir: Path,
    dbt_vars: dict[str, Any] | None = None,
    target: str | None = None,
) -> Path:
    """``dbt compile``; returns the path of the ``target/manifest.json`` it wrote.

    ``dbt_vars`` and ``target`` should be what later runs pass (the generated definitions
    pass both), so dbt's partial parse stays valid for them.
    """
    args = ["compile"]
    if target:
        args += ["--target", target]
    if dbt_vars:
        args += ["--vars", json.dumps(dbt_vars, sort_keys=True)]
    run_dbt(project_dir, args, profiles_dir)
    manifest = project_dir / "target" / "manifest.json"
    if not manifest.is_file():
        raise DbtError("dbt compile wrote no target/manifest.json", Location(project_dir))
    return manifest


def select_models(
    project_dir: Path,
    profiles_dir: Path,
    selector: str,
    dbt_vars: dict[str, Any] | None = None,
    target: str | None = None,
) -> set[str]:
    """The models a named selector of the project's selectors.yml selects (``dbt ls``)."""
    args = ["ls", "--selector", selector, "--resource-type", "model", "--output", "name"]
    if target:
        args += ["--target", target]
    if dbt_vars:
        args += ["--vars", json.dumps(dbt_vars, sort_keys=True)]
    listed = run_dbt(project_dir, args, profiles_dir) or []
    return {str(name).rsplit(".", 1)[-1] for name in listed}


def load_dbt_manifest(path: Path) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DbtError(f"cannot read dbt manifest: {exc}", Location(path)) from exc
    return data

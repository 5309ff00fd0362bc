"""dbt ``profiles.yml`` from the compute plugin (DuckDB)."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

import yaml

from floe.errors import ConfigValidationError, Location
from floe.schemas.manifest import PluginSelection

DEFAULT_DUCKDB_PATH = "target/demo.duckdb"
_PROFILE_KEYS = {"path", "threads", "target", "extensions"}


def duckdb_path(compute: PluginSelection) -> str:
    """The DuckDB file, relative to the dbt project dir so it is writable in a container."""
    raw = str(compute.config.get("path", DEFAULT_DUCKDB_PATH))
    pure = PurePosixPath(raw)
    if pure.is_absolute() or ".." in pure.parts or raw.startswith("~"):
        raise ConfigValidationError(
            "compute path must stay inside the dbt project directory",
            Location(field_path="plugins.compute.config.path"),
            expected="a relative path such as target/demo.duckdb",
            found=raw,
        )
    return raw


def target_name(compute: PluginSelection) -> str:
    """The profile target: the compute plugin's ``config.target``, else its type."""
    return str(compute.config.get("target", compute.type))


def build_profiles(profile_name: str, compute: PluginSelection) -> dict[str, Any]:
    """The profiles.yml content for one dbt project."""
    target = target_name(compute)
    output: dict[str, Any] = {
        "type": compute.type,
        "path": duckdb_path(compute),
        "threads": int(compute.config.get("threads", 1)),
    }
    if "extensions" in compute.config:
        output["extensions"] = list(compute.config["extensions"])
    settings = {k: v for k, v in sorted(compute.config.items()) if k not in _PROFILE_KEYS}
    if settings:
        output["settings"] = settings
    return {profile_name: {"target": target, "outputs": {target: output}}}


def render_profiles(profiles: dict[str, Any], header: str) -> str:
    return header + yaml.safe_dump(profiles, sort_keys=True, default_flow_style=False)

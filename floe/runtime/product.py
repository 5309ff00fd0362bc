"""What the runtime reads about a compiled product: its compiled_artifacts.json, its
DuckDB file, the relation of each dbt model, and which models it publishes.

Standard library only; every runtime package (dbt, publish, observe) reads these.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from floe.errors import LakehouseError, Location
from floe.product_files import ARTIFACTS_FILE
from floe.schemas.spec import is_published


def read_artifacts(product_dir: Path) -> dict[str, Any]:
    return dict(json.loads((Path(product_dir) / ARTIFACTS_FILE).read_text(encoding="utf-8")))


def published_models(artifacts: Mapping[str, Any]) -> list[str]:
    """Gold-tier models, plus any with ``publish: true``, minus any with ``publish: false``."""
    return [
        str(m["name"])
        for m in artifacts["transforms"]["models"]
        if is_published(m["tier"], m.get("publish"))
    ]


def namespace_of(artifacts: Mapping[str, Any]) -> str:
    return str(artifacts["identity"]["module_name"])


def relation_of(product_dir: Path, model: str) -> str:
    """The model's relation in DuckDB, from dbt's target/manifest.json."""
    manifest = json.loads((product_dir / "target" / "manifest.json").read_text(encoding="utf-8"))
    for node in (manifest.get("nodes") or {}).values():
        if node.get("resource_type") == "model" and node.get("name") == model:
            return str(node.get("relation_name") or f'"{node["schema"]}"."{node["alias"]}"')
    raise LakehouseError(f"model {model} is not in target/manifest.json", Location(product_dir))


def duckdb_file(product_dir: Path, artifacts: Mapping[str, Any]) -> Path:
    for profile in artifacts["dbt_profiles"].values():
        return product_dir / str(profile["outputs"][profile["target"]]["path"])
    raise LakehouseError("no dbt profile in compiled_artifacts.json", Location(product_dir))


def open_duckdb(product_dir: Path, artifacts: Mapping[str, Any], read_only: bool = True) -> Any:
    """The product's DuckDB file with the databases its profile attaches (dbt-duckdb's
    ``attach``, which the manifest allows and floe.yaml chooses), each read-only, so views
    over them resolve as they did in dbt."""
    import duckdb

    con = duckdb.connect(str(duckdb_file(product_dir, artifacts)), read_only=read_only)
    for profile in artifacts["dbt_profiles"].values():
        for entry in profile["outputs"][profile["target"]].get("attach") or []:
            path = Path(str(entry["path"]))
            path = path if path.is_absolute() else Path(product_dir) / path
            kind = f"TYPE {entry['type']}, " if entry.get("type") else ""
            alias = str(entry["alias"]).replace('"', "")
            try:
                con.execute(f'ATTACH ? AS "{alias}" ({kind}READ_ONLY)', [str(path)])
            except duckdb.Error as exc:
                con.close()
                raise LakehouseError(
                    f"cannot attach {alias} ({path}) as the profile does: {exc}",
                    Location(Path(product_dir)),
                ) from None
    return con

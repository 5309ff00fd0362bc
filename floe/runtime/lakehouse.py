"""The lakehouse: a product's published models leave DuckDB as Arrow and are committed to
an Iceberg catalog with PyIceberg; `floe catalog` reads them back through this module.

Which catalog is the environment's choice, from the same compiled_artifacts.json:

- ``FLOE_CATALOG=local`` (the default): an embedded SQL catalog (SQLite) with a file
  warehouse under the platform directory (``<platform>/.floe/lakehouse``, or
  ``FLOE_LAKEHOUSE_DIR``); no server.
- ``FLOE_CATALOG=platform`` (the chart sets it for Dagster's pods): the manifest's Polaris
  REST catalog and S3/MinIO storage, credentials resolved at run time from their
  references (``{env: VAR}``, or ``{secret: {name, key}}`` from ``FLOE_SECRET_<NAME>_<KEY>``
  or the file ``<FLOE_SECRETS_DIR>/<name>/<key>``).  They are never written anywhere.

Each publication is one commit of one OVERWRITE snapshot (schema evolution included):
readers see the old snapshot or the new one, never a half-written table.
Python 3.10, standard library at import (pyiceberg and duckdb load when used).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from floe.errors import FloeError, Location

if TYPE_CHECKING:  # pragma: no cover
    from pyiceberg.catalog import Catalog

ARTIFACTS_FILE = "compiled_artifacts.json"
CATALOG_ENV = "FLOE_CATALOG"
LAKEHOUSE_DIR_ENV = "FLOE_LAKEHOUSE_DIR"
SECRETS_DIR_ENV = "FLOE_SECRETS_DIR"  # pragma: allowlist secret (a variable name)
DEFAULT_SECRETS_DIR = "/var/run/secrets/floe"
LOCAL, PLATFORM = "local", "platform"
LOCAL_CATALOG_NAME = "floe_local"
BATCH_ROWS = 250_000  # Arrow batches streamed from DuckDB (benchmarks/lakehouse.py)
# Properties of the tables floe creates: data files of at most 128 MiB, so a large
# publication is written as several files in parallel (PyIceberg writes one file per
# thread); snappy, DuckDB's own Parquet default: 5M rows publish at ~0.76x the rate of
# DuckDB's COPY TO parquet, against ~0.47x with zstd (benchmarks/lakehouse.py).
TABLE_PROPERTIES = {
    "write.target-file-size-bytes": str(128 * 1024 * 1024),
    "write.parquet.compression-codec": "snappy",
}


class LakehouseError(FloeError):
    """The catalog or a publication failed; the message names the table and column."""

    code = "FLOE900"
    exit_code = 6


@dataclass(frozen=True)
class CatalogTarget:
    kind: str  # local | platform
    name: str
    description: str  # what the output says (never a credential)
    namespace_uri: str  # the dataset namespace lineage uses for tables of this catalog
    properties: Mapping[str, str]


def local_target(lakehouse_dir: Path) -> CatalogTarget:
    root = lakehouse_dir.resolve()
    return CatalogTarget(
        kind=LOCAL,
        name=LOCAL_CATALOG_NAME,
        description=f"embedded catalog {root / 'catalog.db'} (warehouse {root / 'warehouse'})",
        namespace_uri=f"iceberg+file://{root / 'warehouse'}",
        properties={
            "type": "sql",
            "uri": f"sqlite:///{root / 'catalog.db'}",
            "warehouse": (root / "warehouse").as_uri(),
        },
    )


def secret_env_name(name: str, key: str) -> str:
    """FLOE_SECRET_<NAME>_<KEY>, upper case, every other character an underscore."""
    return "FLOE_SECRET_" + re.sub(r"[^A-Za-z0-9]", "_", f"{name}_{key}").upper()


def resolve_reference(ref: Mapping[str, Any], env: Mapping[str, str], what: str) -> str:
    """The value behind a credential reference, at run time."""
    if ref.get("env"):
        value = env.get(str(ref["env"]))
        if value:
            return value
        raise LakehouseError(f"{what}: environment variable {ref['env']} is not set")
    secret = ref.get("secret") or {}
    name, key = str(secret.get("name", "")), str(secret.get("key", ""))
    variable = secret_env_name(name, key)
    if env.get(variable):
        return env[variable]
    path = Path(env.get(SECRETS_DIR_ENV, DEFAULT_SECRETS_DIR)) / name / key
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError:
        raise LakehouseError(
            f"{what}: secret {name}/{key} is neither in ${variable} nor mounted at {path}"
        ) from None


def platform_target(artifacts: Mapping[str, Any], env: Mapping[str, str]) -> CatalogTarget:
    plugins = artifacts["plugins"]
    catalog = plugins.get("catalog")
    if not catalog:
        raise LakehouseError(
            f"{CATALOG_ENV}=platform but the manifest declares no catalog plugin",
            hint=f"declare plugins.catalog, or publish locally with {CATALOG_ENV}=local",
        )
    config = catalog["config"]
    client = resolve_reference(config["client_id"], env, "catalog client_id")
    secret = resolve_reference(config["client_secret"], env, "catalog client_secret")
    properties = {
        "type": "rest",
        "uri": config["uri"],
        "warehouse": config["warehouse"],
        "credential": f"{client}:{secret}",
        "scope": config.get("scope", "PRINCIPAL_ROLE:ALL"),
    }
    storage = (plugins.get("storage") or {}).get("config") or {}
    if storage:
        properties["s3.region"] = storage.get("region", "us-east-1")
        if storage.get("endpoint"):
            properties["s3.endpoint"] = storage["endpoint"]
        properties["s3.path-style-access"] = str(storage.get("path_style_access", True)).lower()
        for key, prop in (
            ("access_key_id", "s3.access-key-id"),
            ("secret_access_key", "s3.secret-access-key"),
        ):
            if storage.get(key):
                properties[prop] = resolve_reference(storage[key], env, f"storage {key}")
    return CatalogTarget(
        kind=PLATFORM,
        name=str(config["warehouse"]),
        description=f"Polaris REST catalog {config['uri']} (warehouse {config['warehouse']})",
        namespace_uri=f"iceberg+{config['uri']}/{config['warehouse']}",
        properties=properties,
    )


def catalog_target(
    product_dir: Path, artifacts: Mapping[str, Any], env: Mapping[str, str] | None = None
) -> CatalogTarget:
    env = os.environ if env is None else env
    kind = env.get(CATALOG_ENV, LOCAL)
    if kind == PLATFORM:
        return platform_target(artifacts, env)
    if kind != LOCAL:
        raise LakehouseError(f"{CATALOG_ENV}={kind!r}: expected {LOCAL!r} or {PLATFORM!r}")
    default = product_dir.resolve().parent / ".floe" / "lakehouse"
    return local_target(Path(env.get(LAKEHOUSE_DIR_ENV, str(default))))


def catalog_namespace(
    product_dir: Path, artifacts: Mapping[str, Any], env: Mapping[str, str] | None = None
) -> str:
    """The lineage namespace of this product's published tables (no credential needed)."""
    env = os.environ if env is None else env
    if env.get(CATALOG_ENV, LOCAL) == PLATFORM and artifacts["plugins"].get("catalog"):
        config = artifacts["plugins"]["catalog"]["config"]
        return f"iceberg+{config['uri']}/{config['warehouse']}"
    default = product_dir.resolve().parent / ".floe" / "lakehouse"
    root = Path(env.get(LAKEHOUSE_DIR_ENV, str(default))).resolve()
    return f"iceberg+file://{root / 'warehouse'}"


def local_catalog_exists(target: CatalogTarget) -> bool:
    return Path(target.properties["uri"].removeprefix("sqlite:///")).is_file()


def open_catalog(target: CatalogTarget) -> Catalog:
    """The catalog; a local one is created on first use (runs), so readers check
    :func:`local_catalog_exists` first."""
    from pyiceberg.catalog import load_catalog

    if target.kind == LOCAL:
        Path(target.properties["warehouse"].removeprefix("file://")).mkdir(
            parents=True, exist_ok=True
        )
    try:
        return load_catalog(target.name, **dict(target.properties))
    except Exception as exc:  # connection, auth, sqlite: say which catalog
        raise LakehouseError(f"cannot open {target.description}: {exc}") from exc


def published_models(artifacts: Mapping[str, Any]) -> list[str]:
    """Gold-tier models, plus any with ``publish: true``, minus any with ``publish: false``."""
    out = []
    for model in artifacts["transforms"]["models"]:
        publish = model.get("publish")
        if publish is True or (publish is None and model["tier"] == "gold"):
            out.append(str(model["name"]))
    return out


def namespace_of(artifacts: Mapping[str, Any]) -> str:
    return str(artifacts["identity"]["module_name"])


@dataclass(frozen=True)
class Published:
    identifier: str
    catalog: str
    snapshot_id: int
    rows: int
    location: str
    schema_changed: bool
    namespace_uri: str = ""
    columns: tuple[tuple[str, str], ...] = ()  # the table's (name, Iceberg type), in order

    def metadata(self) -> dict[str, Any]:
        return {
            "catalog": self.catalog,
            "table": self.identifier,
            "snapshot_id": str(self.snapshot_id),
            "rows": self.rows,
            "location": self.location,
        }


def _schema_error(identifier: str, exc: Exception) -> LakehouseError:
    text = str(exc)
    column = re.search(r"column type: ([^:]+):", text) or re.search(r"field[: ]+'?([\w.]+)", text)
    where = f" column {column.group(1)}:" if column else ""
    return LakehouseError(
        f"cannot publish {identifier}:{where} incompatible schema change ({text}); "
        "the table keeps its current snapshot",
        hint="make the change compatible (add columns, widen int->long, float->double), "
        "or drop the table to recreate it",
    )


def publish_arrow(
    catalog: Catalog, identifier: str, data: Any, properties: Mapping[str, str]
) -> Published:
    """Overwrite ``identifier`` with ``data`` (an Arrow table or RecordBatchReader) in one
    commit; create the table and its namespace on first publication; evolve the schema
    by name.  Any failure leaves the table on its previous snapshot."""
    from pyiceberg.exceptions import NoSuchTableError, ResolveError, ValidationError
    from pyiceberg.io.pyarrow import _check_pyarrow_schema_compatible, _dataframe_to_data_files

    namespace = identifier.rsplit(".", 1)[0]
    catalog.create_namespace_if_not_exists(namespace)
    try:
        table = catalog.load_table(identifier)
        transaction = table.transaction()
        current = [task.file for task in table.scan().plan_files()]
        before = table.schema()
    except NoSuchTableError:  # created by the same commit that writes its first snapshot
        transaction = catalog.create_table_transaction(
            identifier, schema=data.schema, properties=TABLE_PROPERTIES
        )
        current, before = [], None
    io = transaction._table.io
    written = 0
    try:
        with transaction as tx:
            try:
                with tx.update_schema() as update:
                    update.union_by_name(data.schema)
                _check_pyarrow_schema_compatible(
                    tx.table_metadata.schema(), data.schema, downcast_ns_timestamp_to_us=True
                )
            except (ValueError, ValidationError, ResolveError) as exc:
                raise _schema_error(identifier, exc) from exc
            with tx.update_snapshot(snapshot_properties=dict(properties)).overwrite() as commit:
                for old in current:
                    commit.delete_data_file(old)
                for new in _dataframe_to_data_files(
                    table_metadata=tx.table_metadata,
                    write_uuid=commit.commit_uuid,
                    df=data,
                    io=io,
                ):
                    written += new.record_count
                    commit.append_data_file(new)
    except LakehouseError:
        raise
    except OSError as exc:
        raise LakehouseError(f"cannot write {identifier}: {exc}") from exc
    table = catalog.load_table(identifier)
    snapshot = table.current_snapshot()
    assert snapshot is not None
    return Published(
        identifier=identifier,
        catalog="",
        snapshot_id=snapshot.snapshot_id,
        rows=written,
        location=table.location(),
        schema_changed=before is not None and table.schema() != before,
        columns=tuple((f.name, str(f.field_type)) for f in table.schema().fields),
    )


def arrow_batches(relation: Any) -> Any:
    """A DuckDB relation as a stream of Arrow record batches (bounded memory); duckdb 1.x
    (the image's) names the call fetch_record_batch, duckdb 2 to_arrow_reader."""
    to_reader = getattr(relation, "to_arrow_reader", None) or relation.fetch_record_batch
    return to_reader(BATCH_ROWS)


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


def publish_model(
    product_dir: Path, model: str, run_id: str, env: Mapping[str, str] | None = None
) -> Published:
    """Publish one dbt model of a product (after its dbt build) to the catalog."""
    import duckdb

    product_dir = Path(product_dir).resolve()
    artifacts = json.loads((product_dir / ARTIFACTS_FILE).read_text(encoding="utf-8"))
    target = catalog_target(product_dir, artifacts, env)
    catalog = open_catalog(target)
    identifier = f"{namespace_of(artifacts)}.{model}"
    metadata = artifacts["metadata"]
    properties = {
        "floe.run_id": run_id,
        "floe.product": str(metadata["product_name"]),
        "floe.product_version": str(metadata["product_version"]),
        "floe.model": model,
    }
    with duckdb.connect(str(duckdb_file(product_dir, artifacts)), read_only=True) as con:
        relation = con.sql(f"select * from {relation_of(product_dir, model)}")
        published = publish_arrow(catalog, identifier, arrow_batches(relation), properties)
    return Published(
        **{
            **published.__dict__,
            "catalog": target.description,
            "namespace_uri": target.namespace_uri,
        }
    )


def publish_and_report(
    product_dir: Path, model: str, run_id: str, env: Mapping[str, str] | None = None
) -> Published:
    """publish_model, with OpenLineage START and COMPLETE (or FAIL) events naming the
    Iceberg table as the output dataset."""
    from floe.runtime.report import report_publication

    product_dir = Path(product_dir).resolve()
    artifacts = json.loads((product_dir / ARTIFACTS_FILE).read_text(encoding="utf-8"))
    identifier = f"{namespace_of(artifacts)}.{model}"
    report_publication(product_dir, model, identifier, run_id, None, env=env)
    try:
        published = publish_model(product_dir, model, run_id, env)
    except Exception as exc:
        report_publication(product_dir, model, identifier, run_id, exc, env=env)
        raise
    report_publication(product_dir, model, identifier, run_id, published, env=env)
    return published


# ---------------------------------------------------------------- reading back


@dataclass(frozen=True)
class TableInfo:
    identifier: str
    snapshot_id: int | None
    committed_at: str | None
    rows: int | None
    location: str

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _snapshot_time(ms: int) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).isoformat().replace("+00:00", "Z")


def list_tables(catalog: Catalog) -> list[TableInfo]:
    out = []
    for namespace in sorted(catalog.list_namespaces()):
        for ident in sorted(catalog.list_tables(namespace)):
            table = catalog.load_table(ident)
            snap = table.current_snapshot()
            total = (
                snap.summary.additional_properties.get("total-records")
                if snap and snap.summary
                else None
            )
            out.append(
                TableInfo(
                    identifier=".".join(ident),
                    snapshot_id=snap.snapshot_id if snap else None,
                    committed_at=_snapshot_time(snap.timestamp_ms) if snap else None,
                    rows=int(total) if total is not None else None,
                    location=table.location(),
                )
            )
    return out


def history(catalog: Catalog, identifier: str) -> list[dict[str, Any]]:
    from pyiceberg.exceptions import NoSuchTableError

    try:
        table = catalog.load_table(identifier)
    except NoSuchTableError:
        raise LakehouseError(f"no table {identifier} in the catalog") from None
    current = table.current_snapshot()
    rows = []
    for snap in table.snapshots():
        props = snap.summary.additional_properties if snap.summary else {}
        rows.append(
            {
                "snapshot_id": snap.snapshot_id,
                "committed_at": _snapshot_time(snap.timestamp_ms),
                "operation": str(snap.summary.operation.value) if snap.summary else None,
                "rows": int(props["total-records"]) if "total-records" in props else None,
                "run_id": props.get("floe.run_id"),
                "product_version": props.get("floe.product_version"),
                "current": current is not None and snap.snapshot_id == current.snapshot_id,
            }
        )
    return rows

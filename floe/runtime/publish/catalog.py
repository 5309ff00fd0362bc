"""The lakehouse catalog: which one a run publishes to, and reading it back.

Which catalog is the environment's choice, from the same compiled_artifacts.json:

- ``FLOE_CATALOG=local`` (the default): an embedded SQL catalog (SQLite) with a file
  warehouse under the platform directory (``<platform>/.floe/lakehouse``, or
  ``FLOE_LAKEHOUSE_DIR``); no server.
- ``FLOE_CATALOG=platform`` (the chart sets it for Dagster's pods): the manifest's Polaris
  REST catalog and S3/MinIO storage, credentials resolved at run time from their
  references (``{env: VAR}``, or ``{secret: {name, key}}`` from ``FLOE_SECRET_<NAME>_<KEY>``
  or the file ``<FLOE_SECRETS_DIR>/<name>/<key>``).  They are never written anywhere.

`floe catalog` reads through this module, the runs write through floe.runtime.publish.
Python 3.10, standard library at import (pyiceberg loads when used).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from floe.errors import LakehouseError


class RollbackError(LakehouseError):
    """A rollback that names no usable snapshot."""

    code = "FLOE940"
    exit_code = 4


class RollbackRefused(LakehouseError):
    """A rollback to a snapshot whose schema breaks the table's data contract."""

    code = "FLOE941"
    exit_code = 11


if TYPE_CHECKING:  # pragma: no cover
    from pyiceberg.catalog import Catalog

    from floe.contracts.model import PublishedContract

CATALOG_ENV = "FLOE_CATALOG"
LAKEHOUSE_DIR_ENV = "FLOE_LAKEHOUSE_DIR"
SECRETS_DIR_ENV = "FLOE_SECRETS_DIR"  # pragma: allowlist secret (a variable name)
DEFAULT_SECRETS_DIR = "/var/run/secrets/floe"
LOCAL, PLATFORM = "local", "platform"
LOCAL_CATALOG_NAME = "floe_local"


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


# ---------------------------------------------------------------- reading back


@dataclass(frozen=True)
class TableInfo:
    identifier: str
    snapshot_id: int | None
    committed_at: str | None
    rows: int | None
    location: str
    contract: str | None = None  # "<id> <version>" it was last published under

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _snapshot_time(ms: int) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).isoformat().replace("+00:00", "Z")


def _contract_label(properties: Mapping[str, str]) -> str | None:
    from floe.contracts.model import published_contract

    found = published_contract(properties)
    return f"{found.id} {found.version}" if found else None


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
                    contract=_contract_label(table.properties),
                )
            )
    return out


def _load(catalog: Catalog, identifier: str) -> Any:
    from pyiceberg.exceptions import NoSuchNamespaceError, NoSuchTableError

    try:
        return catalog.load_table(identifier)
    except (NoSuchTableError, NoSuchNamespaceError):
        raise LakehouseError(f"no table {identifier} in the catalog") from None


def _rollbacks(table: Any) -> list[dict[str, Any]]:
    try:
        found = json.loads(table.properties.get("floe.rollbacks", "[]"))
    except ValueError:
        return []
    return [r for r in found if isinstance(r, dict)]


def history(catalog: Catalog, identifier: str) -> dict[str, Any]:
    """The table's snapshots, oldest first, each with what became of it: ``published``
    (main moved to it after its audit), ``rolled back to``, ``audit failed`` (with why;
    its audit branch is kept), ``audit pending`` (written, never published: the run
    stopped before publishing) or ``not published``; plus the audit branches that remain
    and the rollbacks recorded."""
    from floe.runtime.publish.wap import FAILED_PREFIX, audit_branches

    table = _load(catalog, identifier)
    current = table.current_snapshot()
    main_log = [entry.snapshot_id for entry in table.metadata.snapshot_log]
    rollbacks = _rollbacks(table)
    rolled_to = {str(r.get("to")): r for r in rollbacks}
    branches = audit_branches(table)
    by_snapshot = {snapshot: name for name, snapshot in branches.items()}
    rows = []
    for snap in table.snapshots():
        props = snap.summary.additional_properties if snap.summary else {}
        branch = by_snapshot.get(snap.snapshot_id)
        failed = table.properties.get(f"{FAILED_PREFIX}{branch}") if branch else None
        if snap.snapshot_id in main_log:
            status = "published"
        elif failed:
            status = "audit failed"
        elif branch:
            status = "audit pending"
        else:
            status = "not published"
        rollback = rolled_to.get(str(snap.snapshot_id))
        rows.append(
            {
                "snapshot_id": snap.snapshot_id,
                "committed_at": _snapshot_time(snap.timestamp_ms),
                "operation": str(snap.summary.operation.value) if snap.summary else None,
                "rows": int(props["total-records"]) if "total-records" in props else None,
                "run_id": props.get("floe.run_id"),
                "product_version": props.get("floe.product_version"),
                "contract_version": props.get("floe.contract.version"),
                "status": status,
                "audit_branch": branch,
                "audit_failure": failed,
                "rolled_back_to": rollback,
                "current": current is not None and snap.snapshot_id == current.snapshot_id,
            }
        )
    return {
        "table": identifier,
        "snapshots": rows,
        "audit_branches": sorted(branches),
        "rollbacks": rollbacks,
    }


def _target_snapshot(table: Any, to: int | None, steps: int | None) -> Any:
    current = table.current_snapshot()
    if current is None:
        raise LakehouseError(f"{table.name()}: nothing has been published yet")
    if to is not None:
        found = table.snapshot_by_id(to)
        if found is None:
            known = ", ".join(str(s.snapshot_id) for s in table.snapshots()[-5:])
            raise RollbackError(
                f"no snapshot {to} in {'.'.join(table.name())}",
                hint=f"`floe catalog history` lists them (the latest: {known})",
            )
        return found
    log: list[int] = []
    for entry in table.metadata.snapshot_log:  # main's history, without repeats
        if not log or log[-1] != entry.snapshot_id:
            log.append(entry.snapshot_id)
    position = len(log) - 1 - (steps or 0)
    if position < 0:
        raise RollbackError(
            f"{'.'.join(table.name())} has {len(log) - 1} earlier current snapshot(s), not {steps}",
        )
    return table.snapshot_by_id(log[position])


def contract_breaks(table: Any, snapshot: Any) -> list[str]:
    """How ``snapshot``'s schema breaks the contract the table is published under."""
    from floe.contracts.checks import iceberg_type_matches
    from floe.contracts.model import published_contract

    contract = published_contract(table.properties)
    if contract is None:
        return []
    schema = next((s for s in table.schemas().values() if s.schema_id == snapshot.schema_id), None)
    schema = schema or table.schema()
    columns = {f.name.lower(): str(f.field_type) for f in schema.fields}
    out = []
    for term in contract.terms:
        name = str(term["name"])
        found = columns.get(name.lower())
        if found is None:
            out.append(f"column {name} is not in snapshot {snapshot.snapshot_id}")
        elif term.get("logicalType") and not iceberg_type_matches(str(term["logicalType"]), found):
            out.append(f"column {name} is {found} there, the contract says {term['logicalType']}")
    return out


def rollback(
    catalog: Catalog,
    identifier: str,
    *,
    to: int | None = None,
    steps: int | None = None,
    by: str,
    why: str,
    force: bool = False,
) -> dict[str, Any]:
    """Make an earlier snapshot current in one commit, recording who and why; refused
    (RollbackRefused) when its schema breaks the table's current contract, unless
    ``force``."""
    from pyiceberg.table.update.snapshot import ManageSnapshots

    from floe.runtime.publish.wap import rollback_record

    table = _load(catalog, identifier)
    target = _target_snapshot(table, to, steps)
    current = table.current_snapshot()
    if target.snapshot_id == current.snapshot_id:
        raise RollbackError(f"snapshot {target.snapshot_id} is already current in {identifier}")
    breaks = contract_breaks(table, target)
    if breaks and not force:
        version = table.properties.get("floe.contract.version")
        raise RollbackRefused(
            f"refusing to roll {identifier} back to snapshot {target.snapshot_id}: its schema "
            f"breaks the table's contract {version}",
            hint="consumers rely on that contract; --force rolls back anyway",
            details=breaks,
        )
    tx = table.transaction()
    tx.set_properties(rollback_record(table, target.snapshot_id, by, why))
    ManageSnapshots(tx).set_current_snapshot(snapshot_id=target.snapshot_id)
    tx.commit_transaction()
    return {
        "table": identifier,
        "from": current.snapshot_id,
        "to": target.snapshot_id,
        "by": by,
        "why": why,
        "forced_past": breaks,
    }


def published_contracts(
    product_dir: Path,
    artifacts: Mapping[str, Any],
    models: list[str],
    env: Mapping[str, str] | None = None,
) -> dict[str, PublishedContract]:
    """model -> the contract its table was last published under, read from the catalog
    the product's runs publish to ({} before anything was published locally)."""
    from floe.contracts.model import published_contract
    from floe.runtime.product import namespace_of

    target = catalog_target(product_dir, artifacts, env)
    if target.kind == LOCAL and not local_catalog_exists(target):
        return {}
    catalog = open_catalog(target)
    from pyiceberg.exceptions import NoSuchNamespaceError, NoSuchTableError

    out = {}
    for model in models:
        try:
            table = catalog.load_table(f"{namespace_of(artifacts)}.{model}")
        except (NoSuchTableError, NoSuchNamespaceError):
            continue
        found = published_contract(table.properties)
        if found is not None:
            out[model] = found
    return out

"""A product's inputs: other products' published tables, read through the catalog.

Before the consumer's dbt build, each input's current snapshot is streamed from the
catalog (PyIceberg, Arrow batches) into the consumer's own DuckDB file as
``floe_inputs.<producer module>__<table>``, the relation its dbt source points at.  The
same catalog module publishes and reads, locally and in the cluster (credentials from the
same references); no DuckDB extension is needed (none is on the package index for
DuckDB 2.0), and the snapshot read is exact and recorded: in
``floe_inputs._floe_snapshots``, in the run log and as the lineage event of the load.

A producer table that is not published, or is published under a contract version
outside the accepted range, stops the consumer's run (InputNotReady) before dbt starts.
Python 3.10, standard library at import.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from floe.errors import LakehouseError
from floe.runtime.product import duckdb_file, read_artifacts
from floe.runtime.publish.catalog import catalog_namespace, catalog_target, open_catalog

SNAPSHOTS_TABLE = "_floe_snapshots"


class InputNotReady(LakehouseError):
    """An input table is not published, or not under an accepted contract version."""

    code = "FLOE950"


@dataclass(frozen=True)
class LoadedInput:
    identifier: str  # the producer's table in the catalog
    relation: str  # floe_inputs.<module>__<table> in the consumer's DuckDB
    snapshot_id: int
    rows: int
    contract_version: str | None
    namespace: str  # the catalog's lineage namespace

    def line(self) -> str:
        return (
            f"input {self.identifier}: snapshot {self.snapshot_id}, {self.rows} rows, "
            f"contract {self.contract_version} -> {self.relation}"
        )


def _quoted(relation: str) -> str:
    schema, _, table = relation.partition(".")
    return f'"{schema}"."{table}"'


def load_inputs(
    product_dir: Path, run_id: str, env: Mapping[str, str] | None = None
) -> list[LoadedInput]:
    """Load every input's current snapshot into the product's DuckDB file (before dbt)."""
    product_dir = Path(product_dir).resolve()
    artifacts = read_artifacts(product_dir)
    inputs = artifacts.get("inputs") or []
    if not inputs:
        return []
    import duckdb

    catalog = open_catalog(catalog_target(product_dir, artifacts, env))
    namespace = catalog_namespace(product_dir, artifacts, env)
    database = duckdb_file(product_dir, artifacts)
    database.parent.mkdir(parents=True, exist_ok=True)
    loaded: list[LoadedInput] = []
    con = duckdb.connect(str(database))
    try:
        schema = inputs[0]["relation"].split(".")[0]
        con.execute(f'create schema if not exists "{schema}"')
        con.execute(
            f'create table if not exists "{schema}"."{SNAPSHOTS_TABLE}" (identifier varchar, '
            "snapshot_id bigint, contract_version varchar, rows bigint, run_id varchar, "
            "loaded_at timestamp)"
        )
        for item in inputs:
            loaded.append(_load(con, catalog, item, namespace, run_id))
    finally:
        con.close()
    _report(product_dir, loaded, run_id, env)
    return loaded


def _load(
    con: Any, catalog: Any, item: Mapping[str, Any], namespace: str, run_id: str
) -> LoadedInput:
    from floe.contracts.model import published_contract
    from floe.contracts.semver import parse_range
    from floe.runtime.publish.wap import load_table

    identifier = str(item["identifier"])
    table = load_table(catalog, identifier)
    snapshot = table.current_snapshot() if table is not None else None
    if table is None or snapshot is None:
        raise InputNotReady(
            f"input {identifier} is not published yet: its producer {item['product']} has "
            "not published it",
            hint=f"run {item['product']} first (floe run orders producers before consumers)",
        )
    published = published_contract(table.properties)
    if published is None or not parse_range(item["contract_range"]).contains(published.version):
        found = f"contract {published.version}" if published else "no contract"
        raise InputNotReady(
            f"input {identifier} is published under {found}, outside the accepted range "
            f"{item['contract_range']}",
            hint="the consumer's floe.yaml inputs name the contract versions it accepts",
        )
    reader = table.scan(snapshot_id=snapshot.snapshot_id).to_arrow_batch_reader()
    relation = _quoted(str(item["relation"]))
    con.register("floe_input_stream", reader)
    try:
        con.execute(f"create or replace table {relation} as select * from floe_input_stream")
    finally:
        con.unregister("floe_input_stream")
    rows = int(con.execute(f"select count(*) from {relation}").fetchall()[0][0])
    schema = str(item["relation"]).split(".")[0]
    con.execute(
        f'insert into "{schema}"."{SNAPSHOTS_TABLE}" values (?, ?, ?, ?, ?, ?)',
        [
            identifier,
            snapshot.snapshot_id,
            published.version,
            rows,
            run_id,
            datetime.now(timezone.utc).replace(tzinfo=None),
        ],
    )
    return LoadedInput(
        identifier=identifier,
        relation=str(item["relation"]),
        snapshot_id=snapshot.snapshot_id,
        rows=rows,
        contract_version=published.version,
        namespace=namespace,
    )


def _report(
    product_dir: Path, loaded: list[LoadedInput], run_id: str, env: Mapping[str, str] | None
) -> None:
    from floe.runtime.observe.report import report_input_load

    for item in loaded:
        report_input_load(
            product_dir,
            (item.namespace, item.identifier),
            item.relation,
            str(item.snapshot_id),
            run_id,
            env=env,
        )

"""What a lineage user wants to know about each dbt node of a run, read from the run's own
artifacts (target/manifest.json, run_results.json) and the DuckDB catalog it built:
physical dataset identity, columns and types, compiled SQL, the tests that ran on it and
column lineage (sqlglot, where the SQL can be traced).  Works on dbt 1.8 and 1.11 (the
image's and the development stack's) because it reads only artifact fields both write.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RELATION_KINDS = {"model", "seed", "snapshot"}


@dataclass(frozen=True)
class Relation:
    """A dbt relation by physical identity in DuckDB."""

    database: str
    schema: str
    table: str

    @property
    def name(self) -> str:
        return f"{self.database}.{self.schema}.{self.table}"


@dataclass
class NodeFacts:
    unique_id: str
    kind: str
    relation: Relation
    sql: str | None
    inputs: list[Relation]
    columns: dict[str, str]
    assertions: list[tuple[str, bool, str | None]] = field(default_factory=list)
    column_lineage: dict[str, list[tuple[Relation, str]]] = field(default_factory=dict)


def _relation(node: Mapping[str, Any]) -> Relation:
    return Relation(
        str(node.get("database") or ""),
        str(node.get("schema") or ""),
        str(node.get("alias") or node.get("identifier") or node.get("name")),
    )


def duckdb_columns(database: Path) -> dict[tuple[str, str], dict[str, str]]:
    """(schema, table) -> {column: type} for every table and view of a DuckDB file."""
    import duckdb

    if not database.is_file():
        return {}
    with duckdb.connect(str(database), read_only=True) as con:
        rows = con.execute(
            "select table_schema, table_name, column_name, data_type "
            "from information_schema.columns where table_catalog = current_database() "
            "order by table_schema, table_name, ordinal_position"
        ).fetchall()
    out: dict[tuple[str, str], dict[str, str]] = {}
    for schema, table, column, kind in rows:
        out.setdefault((str(schema), str(table)), {})[str(column)] = str(kind)
    return out


def node_facts(
    manifest_path: Path, run_results: Mapping[str, Any], database: Path
) -> dict[str, NodeFacts]:
    """unique_id -> facts, for every model/seed/snapshot in the run's results."""
    manifest = (
        json.loads(manifest_path.read_text(encoding="utf-8")) if manifest_path.is_file() else {}
    )
    nodes: dict[str, Any] = {**(manifest.get("nodes") or {}), **(manifest.get("sources") or {})}
    columns = duckdb_columns(database)
    status = {r["unique_id"]: str(r.get("status")) for r in run_results.get("results", [])}
    facts: dict[str, NodeFacts] = {}
    for unique_id in status:
        node = nodes.get(unique_id)
        kind = unique_id.split(".")[0]
        if node is None or kind not in RELATION_KINDS:
            continue
        relation = _relation(node)
        deps = (node.get("depends_on") or {}).get("nodes") or []
        facts[unique_id] = NodeFacts(
            unique_id=unique_id,
            kind=kind,
            relation=relation,
            sql=node.get("compiled_code") or node.get("compiled_sql") or None,
            inputs=[_relation(nodes[d]) for d in sorted(deps) if d in nodes],
            columns=columns.get((relation.schema, relation.table), {}),
        )
    for unique_id, node in nodes.items():
        attached = node.get("attached_node") or _single_model_dependency(node)
        if not unique_id.startswith("test.") or attached not in facts or unique_id not in status:
            continue
        test_name = (node.get("test_metadata") or {}).get("name") or node.get("name")
        facts[attached].assertions.append(
            (str(test_name), status[unique_id] == "pass", node.get("column_name") or None)
        )
    for fact in facts.values():
        fact.column_lineage = column_lineage(fact, columns)
    return facts


def _single_model_dependency(node: Mapping[str, Any]) -> str | None:
    deps = [d for d in (node.get("depends_on") or {}).get("nodes") or [] if d.startswith("model.")]
    return deps[0] if len(deps) == 1 else None


def column_lineage(
    fact: NodeFacts, columns: Mapping[tuple[str, str], Mapping[str, str]]
) -> dict[str, list[tuple[Relation, str]]]:
    """Output column -> the input (relation, column) pairs it is computed from; empty when
    sqlglot cannot parse or trace the SQL (the facet is then left out, not guessed)."""
    if fact.kind != "model" or not fact.sql or not fact.columns:
        return {}
    try:
        from sqlglot import exp, parse_one
        from sqlglot.lineage import lineage
    except ImportError:  # pragma: no cover - sqlglot comes with dbt/dagster-dbt
        return {}
    by_table = {(r.schema, r.table): r for r in fact.inputs}
    schema: dict[str, dict[str, dict[str, str]]] = {}
    for r in fact.inputs:
        schema.setdefault(r.schema, {})[r.table] = dict(columns.get((r.schema, r.table), {}))
    out: dict[str, list[tuple[Relation, str]]] = {}
    try:
        parsed = parse_one(fact.sql, dialect="duckdb")
        for column in fact.columns:
            root = lineage(column, parsed, schema=schema, dialect="duckdb")
            sources = []
            for node in root.walk():
                if node.downstream or not isinstance(node.source, exp.Table):
                    continue
                relation = by_table.get((node.source.db, node.source.name))
                if relation is not None:
                    sources.append((relation, node.name.split(".")[-1]))
            if sources:
                out[column] = sorted(set(sources), key=lambda s: (s[0].name, s[1]))
    except Exception:
        return {}
    return out

"""Run state at compile (issue 29 point 3): which dbt nodes carry state from run to run
(snapshots, incremental models) and where the manifest keeps it.

A run pod starts with an empty DuckDB file, so without a state store an incremental
model silently rebuilds in full and a snapshot loses its history.  A product with such
nodes on a platform whose manifest configures no ``state:`` gets a FLOE-S001 finding per
node (a warning at ``warn``, blocking at ``strict``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from floe.compiler.governance.policies import Violation
from floe.schemas.artifacts import ResolvedState, StatefulRelation
from floe.schemas.manifest import RunStateConfig


def stateful_relations(dbt_manifest: Mapping[str, Any]) -> list[StatefulRelation]:
    """Snapshots and incremental models of the root project, by unique_id."""
    project = (dbt_manifest.get("metadata") or {}).get("project_name")
    out = []
    for uid, node in sorted((dbt_manifest.get("nodes") or {}).items()):
        if project and node.get("package_name") != project:
            continue
        materialized = (node.get("config") or {}).get("materialized")
        kind: Literal["snapshot", "incremental"]
        if node.get("resource_type") == "snapshot":
            kind = "snapshot"
        elif node.get("resource_type") == "model" and materialized == "incremental":
            kind = "incremental"
        else:
            continue
        out.append(
            StatefulRelation(
                node=uid,
                name=str(node["name"]),
                kind=kind,
                schema_name=str(node["schema"]),
                identifier=str(node.get("alias") or node["name"]),
            )
        )
    return out


def resolve_state(
    config: RunStateConfig | None, relations: list[StatefulRelation]
) -> ResolvedState | None:
    if config is None or not relations:
        return None
    return ResolvedState(store=config.store, prefix=config.prefix, relations=relations)


def state_findings(
    config: RunStateConfig | None,
    relations: list[StatefulRelation],
    dbt_manifest: Mapping[str, Any],
) -> list[Violation]:
    """FLOE-S001 for each stateful node when the manifest configures no state store."""
    if config is not None:
        return []
    nodes = dbt_manifest.get("nodes") or {}
    return [
        Violation(
            code="FLOE-S001",
            policy="state",
            severity="error",
            model=relation.name,
            message=(
                f"{relation.kind} keeps its state in the DuckDB file, which every run pod "
                "starts without, and the manifest configures no state store"
                + (
                    ": each run would rebuild it in full"
                    if relation.kind == "incremental"
                    else ": its history would be lost"
                )
            ),
            expected="state: {store: storage} in manifest.yaml",
            found="no state: in manifest.yaml",
            suggestion="add `state: {store: storage}` to manifest.yaml",
            file=str(nodes.get(relation.node, {}).get("original_file_path") or "floe.yaml"),
        )
        for relation in relations
    ]

"""The parts of a dbt ``manifest.json`` that policies look at."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class DbtModel:
    unique_id: str
    name: str
    layer: str | None
    description: str
    columns: dict[str, str]  # column -> description
    tested_columns: frozenset[str]
    model_tests: int
    depends_on_models: frozenset[str]
    sql_path: str  # relative to the dbt project dir
    patch_path: str | None
    # column -> the generic tests on it (not_null, unique, accepted_values, ...) and the
    # constraints of a dbt model contract (not_null, unique, primary_key)
    column_tests: dict[str, frozenset[str]] = field(default_factory=dict)
    column_constraints: dict[str, frozenset[str]] = field(default_factory=dict)
    declared_types: dict[str, str] = field(default_factory=dict)  # column -> data_type
    compiled_sql: str = ""
    tags: frozenset[str] = frozenset()  # the model's dbt tags (config and dbt_project.yml)


@dataclass(frozen=True)
class DbtGraph:
    project: str
    models: dict[str, DbtModel] = field(default_factory=dict)


def _column_of(test: dict[str, Any]) -> str | None:
    column = test.get("column_name")
    if column:
        return str(column)
    kwargs = (test.get("test_metadata") or {}).get("kwargs") or {}
    value = kwargs.get("column_name")
    return str(value) if value else None


def build_graph(manifest: dict[str, Any]) -> DbtGraph:
    """Models of the root project with their columns, tests and model dependencies."""
    project = str((manifest.get("metadata") or {}).get("project_name") or "")
    nodes: dict[str, dict[str, Any]] = manifest.get("nodes") or {}
    models = {
        uid: node
        for uid, node in nodes.items()
        if node.get("resource_type") == "model"
        and (not project or node.get("package_name") == project)
    }
    tested: dict[str, set[str]] = {uid: set() for uid in models}
    tests_by_column: dict[str, dict[str, set[str]]] = {uid: {} for uid in models}
    model_tests: dict[str, int] = dict.fromkeys(models, 0)
    for node in nodes.values():
        if node.get("resource_type") != "test":
            continue
        attached = node.get("attached_node") or next(
            (d for d in (node.get("depends_on") or {}).get("nodes", []) if d in models), None
        )
        if attached not in models:
            continue
        column = _column_of(node)
        if column:
            key = column.strip('"').lower()
            tested[attached].add(key)
            name = str((node.get("test_metadata") or {}).get("name") or "")
            tests_by_column[attached].setdefault(key, set()).add(name.split(".")[-1])
        else:
            model_tests[attached] += 1
    out: dict[str, DbtModel] = {}
    for uid, node in models.items():
        fqn = node.get("fqn") or []
        out[node["name"]] = DbtModel(
            unique_id=uid,
            name=node["name"],
            layer=fqn[1] if len(fqn) > 2 else None,
            description=str(node.get("description") or ""),
            columns={
                str(c).lower(): str((meta or {}).get("description") or "")
                for c, meta in (node.get("columns") or {}).items()
            },
            tested_columns=frozenset(tested[uid]),
            model_tests=model_tests[uid],
            depends_on_models=frozenset(
                nodes[d]["name"]
                for d in (node.get("depends_on") or {}).get("nodes", [])
                if d in models
            ),
            sql_path=str(node.get("original_file_path") or node.get("path") or ""),
            patch_path=(
                str(node["patch_path"]).split("://", 1)[-1] if node.get("patch_path") else None
            ),
            column_tests={c: frozenset(t) for c, t in tests_by_column[uid].items()},
            column_constraints={
                str(c).lower(): frozenset(
                    str(k.get("type")) for k in (meta or {}).get("constraints") or []
                )
                for c, meta in (node.get("columns") or {}).items()
                if (meta or {}).get("constraints")
            },
            declared_types={
                str(c).lower(): str(meta["data_type"])
                for c, meta in (node.get("columns") or {}).items()
                if (meta or {}).get("data_type")
            },
            compiled_sql=str(node.get("compiled_code") or ""),
            tags=frozenset(str(t) for t in node.get("tags") or []),
        )
    return DbtGraph(project=project, models=out)

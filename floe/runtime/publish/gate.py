"""Per-table gating: which failures of this run's ``dbt build`` stop a table's publication.

A published model is blocked by a failure of the model itself or of anything upstream of
it in the dbt graph (a model, seed or snapshot that errored or was skipped, a test on any
of them that failed or errored) and by nothing else: the product's other tables still
publish.  Read from the run's ``run_results.json`` and the ``manifest.json`` beside it.

Standard library only; Python 3.10.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from floe.errors import LakehouseError

BLOCKING = {"error", "fail", "runtime error", "skipped"}  # a built node's own status
FAILED_TEST = {"error", "fail", "runtime error"}
BUILT = ("model.", "seed.", "snapshot.")


class PublicationBlocked(LakehouseError):
    """A table was not published: something it depends on failed in this run."""

    code = "FLOE930"


def _upstream(unique_id: str, nodes: Mapping[str, Any]) -> set[str]:
    """``unique_id`` and every built node above it."""
    seen: set[str] = set()
    todo = [unique_id]
    while todo:
        uid = todo.pop()
        if uid in seen:
            continue
        seen.add(uid)
        node = nodes.get(uid) or {}
        todo += [
            d for d in (node.get("depends_on") or {}).get("nodes") or [] if d.startswith(BUILT)
        ]
    return seen


def _describe(uid: str, result: Mapping[str, Any], nodes: Mapping[str, Any]) -> str:
    node = nodes.get(uid) or {}
    kind = uid.split(".")[0]
    name = node.get("name") or uid.split(".")[-1]
    status = str(result.get("status"))
    if kind == "test":
        failures = result.get("failures")
        rows = f", {failures} failing row(s)" if failures else ""
        return f"test {name} ({status}{rows})"
    return f"{kind} {name} ({status})"


def blockers(manifest: Mapping[str, Any], results: Mapping[str, Any], model: str) -> list[str]:
    """What in this run blocks ``model``'s publication (empty: nothing)."""
    nodes = dict(manifest.get("nodes") or {})
    target = next(
        (
            uid
            for uid, n in nodes.items()
            if n.get("resource_type") == "model" and n.get("name") == model
        ),
        None,
    )
    if target is None:
        return []
    upstream = _upstream(target, nodes)
    out = []
    for result in results.get("results") or []:
        uid = str(result.get("unique_id"))
        status = str(result.get("status"))
        if status not in BLOCKING:
            continue
        node = nodes.get(uid) or {}
        if uid in upstream:  # the model, or a model/seed/snapshot above it
            out.append(_describe(uid, result, nodes))
            continue
        tested = node.get("attached_node") or next(
            (d for d in (node.get("depends_on") or {}).get("nodes") or [] if d.startswith(BUILT)),
            None,
        )
        if uid.startswith("test.") and tested in upstream and status in FAILED_TEST:
            out.append(_describe(uid, result, nodes))
    return out


def read_blockers(run_results: Path, model: str) -> list[str]:
    """:func:`blockers` of the invocation that wrote ``run_results``."""
    results = json.loads(run_results.read_text(encoding="utf-8"))
    manifest = json.loads((run_results.parent / "manifest.json").read_text(encoding="utf-8"))
    return blockers(manifest, results, model)


def this_runs_results(
    product_dir: Path, run_id: str, env: Mapping[str, str] | None = None
) -> Path | None:
    """The run_results.json the dbt step of Dagster run ``run_id`` wrote (None when that
    step did not report one: nothing is known to block)."""
    from floe.runtime.observe.report import LAST_RUN_FILE, ObservabilitySettings

    settings = ObservabilitySettings.load(Path(product_dir), env)
    last = settings.output_dir / LAST_RUN_FILE
    if not last.is_file():
        return None
    data = json.loads(last.read_text(encoding="utf-8"))
    if data.get("run_id") != run_id:
        return None
    path = Path(str(data.get("run_results", "")))
    return path if path.is_file() else None


def dbt_build_problems(results_path: Path | None) -> list[str]:
    """Every node that failed or errored in the invocation (tests included)."""
    if results_path is None:
        return []
    results = json.loads(results_path.read_text(encoding="utf-8"))
    manifest = json.loads((results_path.parent / "manifest.json").read_text(encoding="utf-8"))
    nodes = dict(manifest.get("nodes") or {})
    return [
        _describe(str(r.get("unique_id")), r, nodes)
        for r in results.get("results") or []
        if str(r.get("status")) in FAILED_TEST
    ]


def every_table_blocked(product_dir: Path, run_id: str, models: list[str]) -> bool:
    """Whether no published table can publish after this run's dbt build (True with no
    published tables: the dbt step then fails the run itself, as dagster-dbt does)."""
    results = this_runs_results(product_dir, run_id)
    if results is None:
        return True
    return all(read_blockers(results, model) for model in models)


def build_problems(product_dir: Path, run_id: str) -> list[str]:
    """What failed in this run's dbt build (empty when it passed)."""
    return dbt_build_problems(this_runs_results(product_dir, run_id))


def proven_guarantees(run_results: Path | None, model: str) -> dict[str, set[str]]:
    """column -> the generic tests (``not_null``, ``unique``) on ``model`` that passed in
    the invocation that wrote ``run_results`` (the same relation a publication reads)."""
    if run_results is None:
        return {}
    results = json.loads(run_results.read_text(encoding="utf-8"))
    manifest = json.loads((run_results.parent / "manifest.json").read_text(encoding="utf-8"))
    nodes = dict(manifest.get("nodes") or {})
    passed = {
        str(r.get("unique_id")) for r in results.get("results") or [] if r.get("status") == "pass"
    }
    out: dict[str, set[str]] = {}
    for uid in passed:
        node = nodes.get(uid) or {}
        meta = node.get("test_metadata") or {}
        attached = nodes.get(str(node.get("attached_node"))) or {}
        column = node.get("column_name") or (meta.get("kwargs") or {}).get("column_name")
        if attached.get("name") == model and column and meta.get("name") in ("not_null", "unique"):
            out.setdefault(str(column).strip('"').lower(), set()).add(str(meta["name"]))
    return out

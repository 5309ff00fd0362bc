"""Turn a finished dbt invocation (``run_results.json``) and each lakehouse publication into
OpenLineage events (openlineage-python, floe.runtime.observe.lineage) and spans (the OpenTelemetry
SDK, floe.runtime.observe.tracing)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from floe.runtime.observe.otlp import traces_url
from floe.runtime.product import duckdb_file, read_artifacts, relation_of

PRODUCER = "https://github.com/floe-data/floe/tree/main/floe/runtime"
LAST_RUN_FILE = "last_run.json"


@dataclass(frozen=True)
class ObservabilitySettings:
    """Resolved from compiled_artifacts.json, overridable by FLOE_* environment variables."""

    product: str
    namespace: str
    lineage_transport: str  # http | file | console | none
    lineage_endpoint: str | None
    span_exporter: str  # otlp | file | console | none
    span_endpoint: str | None
    service_version: str | None
    output_dir: Path

    @classmethod
    def load(
        cls,
        product_dir: Path,
        env: Mapping[str, str] | None = None,
        artifacts: Mapping[str, Any] | None = None,
    ) -> ObservabilitySettings:
        """``artifacts``: compiled_artifacts.json when the caller has already read it."""
        env = dict(os.environ if env is None else env)
        if artifacts is None:
            artifacts = read_artifacts(product_dir)
        obs = artifacts["observability"]
        transport = obs.get("lineage_transport") or (
            "http" if obs.get("lineage_endpoint") else "file"
        )
        if not obs.get("lineage", True):
            transport = "none"
        telemetry = obs["telemetry"]
        exporter = telemetry.get("exporter", "otlp") if telemetry.get("enabled", True) else "none"
        return cls(
            product=artifacts["metadata"]["product_name"],
            namespace=obs["lineage_namespace"],
            lineage_transport=env.get("FLOE_LINEAGE_TRANSPORT", transport),
            lineage_endpoint=env.get("FLOE_LINEAGE_ENDPOINT", obs.get("lineage_endpoint")),
            span_exporter=env.get("FLOE_SPAN_EXPORTER", exporter),
            span_endpoint=traces_url(env.get("FLOE_OTLP_ENDPOINT", telemetry["otlp_endpoint"])),
            service_version=telemetry.get("resource_attributes", {}).get("service_version"),
            output_dir=Path(
                env.get("FLOE_OBSERVABILITY_DIR", str(product_dir / "target" / "observability"))
            ),
        )


def report_dbt_run(
    product_dir: Path, run_results: Path, run_id: str, *, env: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Lineage (START + COMPLETE/FAIL per model, seed and snapshot, with facets) and a trace
    (a span per node under one span for the run) for one finished dbt invocation.

    Returns (and writes to ``<output_dir>/last_run.json``) where each went and the test
    counts, for logs and the local run summary.
    """
    from floe.runtime.observe.dbt_facets import node_facts

    env = os.environ if env is None else env
    artifacts = read_artifacts(product_dir)
    settings = ObservabilitySettings.load(product_dir, env, artifacts)
    results = json.loads(run_results.read_text(encoding="utf-8"))
    database = duckdb_file(product_dir, artifacts).resolve()
    facts = node_facts(run_results.parent / "manifest.json", results, database)
    by_id = {r["unique_id"]: r for r in results.get("results", [])}
    job_name = f"{settings.product}.{artifacts['identity']['module_name']}_build"
    emitter = _lineage(settings, env)
    if emitter.kind != "none":
        _emit_dbt_lineage(emitter, settings, facts, by_id, run_id, job_name, database)
    exporter = _trace_dbt_run(settings, env, artifacts, facts, by_id, run_id)
    tests = [r for r in results.get("results", []) if r["unique_id"].startswith("test.")]
    passed = sum(1 for r in tests if r.get("status") == "pass")
    summary = {
        "run_id": run_id,
        "lineage": emitter.describe(),
        "spans": exporter.describe() if exporter is not None else "disabled",
        "tests_passed": passed,
        "tests_failed": len(tests) - passed,
        "run_results": str(run_results),
    }
    from floe.atomic import write_atomic

    write_atomic(
        settings.output_dir / LAST_RUN_FILE, json.dumps(summary, indent=2, sort_keys=True) + "\n"
    )
    return summary


def _lineage(settings: ObservabilitySettings, env: Mapping[str, str]) -> Any:
    from floe.runtime.observe.lineage import LineageEmitter

    return LineageEmitter.create(
        settings.lineage_transport, settings.output_dir, settings.lineage_endpoint, env
    )


FAILED_STATUSES = {"error", "fail", "runtime error"}


def _node_name(unique_id: str) -> str:
    """model.pkg.name[.v2] / test.pkg.name.hash -> name"""
    parts = unique_id.split(".")
    return parts[2] if len(parts) > 2 else parts[-1]


def _ok(result: Mapping[str, Any]) -> bool:
    return str(result.get("status")) in {"success", "pass"}


def _times(result: Mapping[str, Any]) -> tuple[str | None, str | None]:
    timing = {t["name"]: t for t in result.get("timing", [])}
    started = (timing.get("compile") or timing.get("execute") or {}).get("started_at")
    ended = (timing.get("execute") or timing.get("compile") or {}).get("completed_at")
    return started, ended


def _emit_dbt_lineage(
    emitter: Any,
    settings: ObservabilitySettings,
    facts: Mapping[str, Any],
    by_id: Mapping[str, Mapping[str, Any]],
    run_id: str,
    job_name: str,
    database: Path,
) -> None:
    from floe.runtime.observe import lineage as ol

    namespace = f"duckdb://{database}"
    parent = ol.parent_facet(settings.namespace, job_name, run_id)
    emitter.emit(
        ol.run_event(
            "START",
            ol.iso(None),
            ol.node_run_id(run_id, "run"),
            settings.namespace,
            job_name,
            job_facets={"jobType": ol.job_type("DAGSTER")},
        )
    )
    failed = False
    for unique_id, fact in facts.items():
        result = by_id[unique_id]
        started, ended = _times(result)
        inputs = [ol.InputDataset(namespace=namespace, name=r.name) for r in fact.inputs]
        output_facets: dict[str, Any] = {}
        if fact.columns:
            output_facets["schema"] = ol.schema_facet(fact.columns)
        if fact.assertions:
            output_facets["dataQualityAssertions"] = ol.assertions_facet(fact.assertions)
        if fact.column_lineage:
            output_facets["columnLineage"] = ol.column_lineage_facet(
                {
                    c: [(namespace, r.name, f) for r, f in src]
                    for c, src in fact.column_lineage.items()
                }
            )
        outputs = [
            ol.OutputDataset(namespace=namespace, name=fact.relation.name, facets=output_facets)
        ]
        job_facets: dict[str, Any] = {"jobType": ol.job_type("DBT", fact.kind.upper())}
        if fact.sql:
            job_facets["sql"] = ol.sql_facet(fact.sql)
        node_job = f"{settings.product}.{unique_id.split('.')[-1]}"
        node_run = ol.node_run_id(run_id, unique_id)
        common: dict[str, Any] = {"inputs": inputs, "outputs": outputs, "job_facets": job_facets}
        emitter.emit(
            ol.run_event(
                "START",
                ol.iso(started),
                node_run,
                settings.namespace,
                node_job,
                run_facets={"parent": parent},
                **common,
            )
        )
        end_facets: dict[str, Any] = {"parent": parent}
        if not _ok(result):
            failed = True
            end_facets["errorMessage"] = ol.error_facet(str(result.get("message") or ""))
        emitter.emit(
            ol.run_event(
                "COMPLETE" if _ok(result) else "FAIL",
                ol.iso(ended),
                node_run,
                settings.namespace,
                node_job,
                run_facets=end_facets,
                **common,
            )
        )
    emitter.emit(
        ol.run_event(
            "FAIL" if failed else "COMPLETE",
            ol.iso(None),
            ol.node_run_id(run_id, "run"),
            settings.namespace,
            job_name,
            job_facets={"jobType": ol.job_type("DAGSTER")},
        )
    )


def _nanos(text: str | None) -> int:
    from floe.runtime.observe.lineage import iso

    moment = datetime.fromisoformat(iso(text).replace("Z", "+00:00"))
    return int(moment.timestamp() * 1_000_000_000)


def _trace_dbt_run(
    settings: ObservabilitySettings,
    env: Mapping[str, str],
    artifacts: Mapping[str, Any],
    facts: Mapping[str, Any],
    by_id: Mapping[str, Mapping[str, Any]],
    run_id: str,
) -> Any:
    if settings.span_exporter == "none":
        return None
    from opentelemetry import trace
    from opentelemetry.trace import Status, StatusCode

    from floe.runtime.observe.tracing import FallbackExporter, tracer_provider

    telemetry = artifacts["observability"]["telemetry"]
    resource = {
        "service.name": settings.product,
        "service.version": settings.service_version,
        **{
            f"floe.{k}": v
            for k, v in (telemetry.get("resource_attributes") or {}).items()
            if k != "service_version"
        },
        "floe.product": settings.product,
        "floe.run_id": run_id,
    }
    provider, buffer = tracer_provider(resource)
    tracer = provider.get_tracer("floe.runtime")
    spans_window = [_times(result) for result in by_id.values()]
    start_ns = min((_nanos(s) for s, _ in spans_window), default=_nanos(None))
    end_ns = max((_nanos(e) for _, e in spans_window), default=start_ns)
    root = tracer.start_span(
        f"floe.run {settings.product}", start_time=start_ns, attributes={"floe.run_id": run_id}
    )
    context = trace.set_span_in_context(root)
    failed = False
    for unique_id, result in by_id.items():  # every node dbt ran: models, seeds, tests...
        started, ended = _times(result)
        status = str(result.get("status"))
        attributes: dict[str, Any] = {"dbt.unique_id": unique_id, "dbt.status": status}
        fact = facts.get(unique_id)
        if fact is not None:
            attributes["db.system"] = "duckdb"
            attributes["db.collection.name"] = fact.relation.name
        rows = (result.get("adapter_response") or {}).get("rows_affected")
        if rows is not None:
            attributes["dbt.rows_affected"] = int(rows)
        span = tracer.start_span(
            f"dbt.{unique_id.split('.')[0]} {_node_name(unique_id)}",
            context=context,
            start_time=_nanos(started),
            attributes=attributes,
        )
        if status in FAILED_STATUSES:
            failed = True
            message = str(result.get("message") or "failed")
            span.record_exception(RuntimeError(message))
            span.set_status(Status(StatusCode.ERROR, message))
        elif status != "skipped":  # skipped: neither ok nor failed (status stays UNSET)
            span.set_status(Status(StatusCode.OK))
        span.end(end_time=max(_nanos(ended), _nanos(started)))
    root.set_status(Status(StatusCode.ERROR if failed else StatusCode.OK))
    root.end(end_time=end_ns)
    use_env = any(k.startswith("OTEL_EXPORTER_OTLP_") for k in env)
    exporter = FallbackExporter(
        settings.output_dir / "spans.jsonl",
        settings.span_endpoint if settings.span_exporter == "otlp" else None,
        use_env=use_env and settings.span_exporter == "otlp",
    )
    exporter.export(buffer.spans)
    exporter.shutdown()
    provider.shutdown()
    return exporter


def report_publication(
    product_dir: Path,
    model: str,
    dataset: tuple[str, str],
    run_id: str,
    outcome: Any,
    *,
    env: Mapping[str, str] | None = None,
) -> None:
    """OpenLineage for one publication: START when ``outcome`` is None, COMPLETE when it
    is the Published result, FAIL (with the error) when it is an exception.  The input is
    the dbt model's DuckDB relation, the output the Iceberg table by its catalog identity
    (with its schema once published): ``dataset`` is its (namespace, name) in lineage."""
    from floe.runtime.observe import lineage as ol

    env = os.environ if env is None else env
    artifacts = read_artifacts(product_dir)
    settings = ObservabilitySettings.load(product_dir, env, artifacts)
    emitter = _lineage(settings, env)
    if emitter.kind == "none":
        return
    database = duckdb_file(product_dir, artifacts).resolve()
    try:
        relation = relation_of(product_dir, model).replace('"', "")
    except Exception:
        relation = model
    source = f"duckdb://{database}"
    kind = (
        "START" if outcome is None else "FAIL" if isinstance(outcome, BaseException) else "COMPLETE"
    )
    run_facets: dict[str, Any] = {
        "parent": ol.parent_facet(
            settings.namespace,
            f"{settings.product}.{artifacts['identity']['module_name']}_build",
            run_id,
        )
    }
    if isinstance(outcome, BaseException):
        run_facets["errorMessage"] = ol.error_facet(str(outcome))
    emitter.emit(
        ol.run_event(
            kind,
            ol.iso(None),
            ol.node_run_id(run_id, f"publish/{dataset[1]}"),
            settings.namespace,
            f"{settings.product}.publish.{model}",
            inputs=[ol.InputDataset(namespace=source, name=relation)],
            outputs=[
                ol.OutputDataset(
                    namespace=dataset[0],
                    name=dataset[1],
                    facets=_published_facets(outcome, source, relation),
                )
            ],
            run_facets=run_facets,
            job_facets={"jobType": ol.job_type("ICEBERG")},
        )
    )


def _published_facets(outcome: Any, source: str, relation: str) -> dict[str, Any]:
    """Once published: the Iceberg table's schema, each column's lineage from the
    same-named column of the dbt relation it was copied from, and the data contract it
    was checked against (when it has one)."""
    from floe.runtime.observe import lineage as ol

    columns = dict(getattr(outcome, "columns", ()) or ())
    if not columns:
        return {}
    facets: dict[str, Any] = {
        "schema": ol.schema_facet(columns),
        "columnLineage": ol.column_lineage_facet({c: [(source, relation, c)] for c in columns}),
    }
    contract = getattr(outcome, "contract", None)
    if contract:
        facets["dataContract"] = ol.contract_facet(contract)
    return facets


def report_input_load(
    product_dir: Path,
    dataset: tuple[str, str],
    relation: str,
    snapshot_id: str,
    run_id: str,
    *,
    env: Mapping[str, str] | None = None,
) -> None:
    """OpenLineage for one input loaded before the dbt build: the producer's published
    table as the input dataset, by the same catalog identity its publication names as
    output (so lineage backends join the two products' graphs), with the snapshot read as
    its dataset version; the consumer's DuckDB relation as the output."""
    from openlineage.client.facet_v2 import dataset_version_dataset

    from floe.runtime.observe import lineage as ol

    env = os.environ if env is None else env
    artifacts = read_artifacts(product_dir)
    settings = ObservabilitySettings.load(product_dir, env, artifacts)
    emitter = _lineage(settings, env)
    if emitter.kind == "none":
        return
    database = duckdb_file(product_dir, artifacts).resolve()
    job = f"{settings.product}.load_input.{dataset[1]}"
    parent = ol.parent_facet(
        settings.namespace,
        f"{settings.product}.{artifacts['identity']['module_name']}_build",
        run_id,
    )
    version = dataset_version_dataset.DatasetVersionDatasetFacet(datasetVersion=snapshot_id)
    common: dict[str, Any] = {
        "inputs": [
            ol.InputDataset(namespace=dataset[0], name=dataset[1], facets={"version": version})
        ],
        "outputs": [
            ol.OutputDataset(namespace=f"duckdb://{database}", name=f"{database.stem}.{relation}")
        ],
        "run_facets": {"parent": parent},
        "job_facets": {"jobType": ol.job_type("ICEBERG")},
    }
    node_run = ol.node_run_id(run_id, f"load/{dataset[1]}")
    for kind in ("START", "COMPLETE"):
        emitter.emit(ol.run_event(kind, ol.iso(None), node_run, settings.namespace, job, **common))

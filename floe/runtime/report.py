"""Turn a finished dbt invocation (``run_results.json``) into OpenLineage events and spans."""

from __future__ import annotations

import json
import os
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from floe.runtime.otlp import export_request, span, traces_url

PRODUCER = "https://github.com/floe-data/floe/tree/main/floe/runtime"
RUN_EVENT_SCHEMA = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
ARTIFACTS_FILE = "compiled_artifacts.json"
SPAN_TRANSPORT = {"otlp": "http"}  # exporter -> Sink kind
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
    def load(cls, product_dir: Path, env: Mapping[str, str] | None = None) -> ObservabilitySettings:
        env = dict(os.environ if env is None else env)
        artifacts = json.loads((product_dir / ARTIFACTS_FILE).read_text(encoding="utf-8"))
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


def _iso(text: str | None) -> str:
    if not text:
        return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")
    return text if text.endswith("Z") or "+" in text[10:] else text + "Z"


def _nanos(text: str | None) -> int:
    moment = datetime.fromisoformat(_iso(text).replace("Z", "+00:00"))
    return int(moment.timestamp() * 1_000_000_000)


def _lineage_event(
    settings: ObservabilitySettings,
    kind: str,
    when: str,
    run_id: str,
    node: dict[str, Any],
    inputs: list[str],
) -> dict[str, Any]:
    name = node["unique_id"].split(".")[-1]
    return {
        "eventType": kind,
        "eventTime": when,
        "producer": PRODUCER,
        "schemaURL": RUN_EVENT_SCHEMA,
        "run": {"runId": run_id},
        "job": {"namespace": settings.namespace, "name": f"{settings.product}.{name}"},
        "inputs": [
            {"namespace": settings.namespace, "name": f"{settings.product}.{i}"} for i in inputs
        ],
        "outputs": [{"namespace": settings.namespace, "name": f"{settings.product}.{name}"}],
    }


def report_dbt_run(
    product_dir: Path, run_results: Path, run_id: str, *, env: dict[str, str] | None = None
) -> dict[str, Any]:
    """Emit lineage (START + COMPLETE/FAIL per model and seed) and one span per node.

    Returns (and writes to ``<output_dir>/last_run.json``) where each went and the test
    counts, for logs and the local run summary.
    """
    from floe.runtime.transports import Sink

    settings = ObservabilitySettings.load(product_dir, env)
    lineage = Sink(
        settings.lineage_transport,
        settings.output_dir / "openlineage.jsonl",
        settings.lineage_endpoint,
        unit="events",
    )
    spans = Sink(
        SPAN_TRANSPORT.get(settings.span_exporter, settings.span_exporter),
        settings.output_dir / "spans.jsonl",
        settings.span_endpoint,
        unit="spans",
    )
    results = json.loads(run_results.read_text(encoding="utf-8"))
    parents = _parents(run_results.parent / "manifest.json")
    trace_id = secrets.token_hex(16)
    root_id = secrets.token_hex(8)
    common = {"service.name": settings.product, "floe.run_id": run_id}
    children: list[dict[str, Any]] = []
    for result in results.get("results", []):
        unique_id = result["unique_id"]
        kind = unique_id.split(".")[0]
        if kind not in {"model", "seed", "snapshot"}:
            continue
        timing = {t["name"]: t for t in result.get("timing", [])}
        started = (timing.get("compile") or timing.get("execute") or {}).get("started_at")
        ended = (timing.get("execute") or timing.get("compile") or {}).get("completed_at")
        ok = str(result.get("status")) in {"success", "pass"}
        node_run = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{run_id}/{unique_id}"))
        node = {"unique_id": unique_id}
        inputs = parents.get(unique_id, [])
        lineage.emit(_lineage_event(settings, "START", _iso(started), node_run, node, inputs))
        lineage.emit(
            _lineage_event(
                settings, "COMPLETE" if ok else "FAIL", _iso(ended), node_run, node, inputs
            )
        )
        rows = (result.get("adapter_response") or {}).get("rows_affected")
        children.append(
            span(
                trace_id,
                secrets.token_hex(8),
                f"dbt.{kind} {unique_id.split('.')[-1]}",
                _nanos(started),
                _nanos(ended),
                parent_id=root_id,
                status="OK" if ok else "ERROR",
                message=str(result.get("message") or ""),
                attrs={**common, "dbt.unique_id": unique_id, "dbt.rows_affected": rows},
            )
        )
    start_ns = min((int(c["startTimeUnixNano"]) for c in children), default=_nanos(None))
    end_ns = max((int(c["endTimeUnixNano"]) for c in children), default=start_ns)
    failed = any(c["status"]["code"] == 2 for c in children)
    root = span(
        trace_id,
        root_id,
        f"floe.run {settings.product}",
        start_ns,
        end_ns,
        status="ERROR" if failed else "OK",
        attrs=common,
    )
    all_spans = [root, *children]
    spans.emit(
        export_request(settings.product, settings.service_version, all_spans), len(all_spans)
    )
    tests = [r for r in results.get("results", []) if r["unique_id"].startswith("test.")]
    passed = sum(1 for r in tests if r.get("status") == "pass")
    summary = {
        "run_id": run_id,
        "lineage": lineage.describe(),
        "spans": spans.describe(),
        "tests_passed": passed,
        "tests_failed": len(tests) - passed,
        "run_results": str(run_results),
    }
    settings.output_dir.mkdir(parents=True, exist_ok=True)
    (settings.output_dir / LAST_RUN_FILE).write_text(
        json.dumps(summary, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    return summary


def report_publication(
    product_dir: Path,
    model: str,
    identifier: str,
    run_id: str,
    outcome: Any,
    *,
    env: Mapping[str, str] | None = None,
) -> None:
    """OpenLineage for one publication: START when ``outcome`` is None, COMPLETE when it
    is the Published result, FAIL (with the error) when it is an exception.  The input is
    the dbt model's dataset, the output the Iceberg table by its catalog identity."""
    from floe.runtime.lakehouse import catalog_namespace
    from floe.runtime.transports import Sink

    settings = ObservabilitySettings.load(product_dir, env)
    if settings.lineage_transport == "none":
        return
    artifacts = json.loads((product_dir / ARTIFACTS_FILE).read_text(encoding="utf-8"))
    namespace = catalog_namespace(product_dir, artifacts, env)
    node_run = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{run_id}/publish/{identifier}"))
    kind = (
        "START" if outcome is None else "FAIL" if isinstance(outcome, BaseException) else "COMPLETE"
    )
    event = _lineage_event(
        settings, kind, _iso(None), node_run, {"unique_id": f"publish.{model}"}, [model]
    )
    event["job"]["name"] = f"{settings.product}.publish.{model}"
    event["outputs"] = [{"namespace": namespace, "name": identifier}]
    if isinstance(outcome, BaseException):
        event["run"]["facets"] = {
            "errorMessage": {
                "_producer": PRODUCER,
                "_schemaURL": "https://openlineage.io/spec/facets/1-0-0/ErrorMessageRunFacet.json",
                "message": str(outcome)[:2000],
                "programmingLanguage": "python",
            }
        }
    Sink(
        settings.lineage_transport,
        settings.output_dir / "openlineage.jsonl",
        settings.lineage_endpoint,
        unit="events",
    ).emit(event)


def _parents(manifest_path: Path) -> dict[str, list[str]]:
    """unique_id -> names of the models/seeds it reads (from dbt's manifest)."""
    if not manifest_path.is_file():
        return {}
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    out: dict[str, list[str]] = {}
    for uid, node in (manifest.get("nodes") or {}).items():
        deps = (node.get("depends_on") or {}).get("nodes") or []
        out[uid] = sorted(d.split(".")[-1] for d in deps if d.split(".")[0] in {"model", "seed"})
    return out

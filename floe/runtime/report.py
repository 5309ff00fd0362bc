"""Turn a finished dbt invocation (``run_results.json``) into OpenLineage events and spans."""

from __future__ import annotations

import json
import os
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

PRODUCER = "https://github.com/floe-data/floe/tree/main/floe/runtime"
RUN_EVENT_SCHEMA = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
ARTIFACTS_FILE = "compiled_artifacts.json"
LAST_RUN_FILE = "last_run.json"


@dataclass(frozen=True)
class ObservabilitySettings:
    """Resolved from compiled_artifacts.json, overridable by FLOE_* environment variables."""

    product: str
    namespace: str
    lineage_transport: str  # http | file | console | none
    lineage_endpoint: str | None
    span_exporter: str  # file | console | none
    output_dir: Path

    @classmethod
    def load(cls, product_dir: Path, env: dict[str, str] | None = None) -> ObservabilitySettings:
        env = dict(os.environ if env is None else env)
        artifacts = json.loads((product_dir / ARTIFACTS_FILE).read_text(encoding="utf-8"))
        obs = artifacts["observability"]
        transport = obs.get("lineage_transport") or (
            "http" if obs.get("lineage_endpoint") else "file"
        )
        if not obs.get("lineage", True):
            transport = "none"
        exporter = obs["telemetry"].get("exporter", "otlp")
        if not obs["telemetry"].get("enabled", True):
            exporter = "none"
        elif exporter == "otlp":
            # OTLP needs the OpenTelemetry SDK, which the runtime does not assume; spans
            # are kept in the file exporter so nothing is lost.
            exporter = "file"
        return cls(
            product=artifacts["metadata"]["product_name"],
            namespace=obs["lineage_namespace"],
            lineage_transport=env.get("FLOE_LINEAGE_TRANSPORT", transport),
            lineage_endpoint=env.get("FLOE_LINEAGE_ENDPOINT", obs.get("lineage_endpoint")),
            span_exporter=env.get("FLOE_SPAN_EXPORTER", exporter),
            output_dir=Path(
                env.get("FLOE_OBSERVABILITY_DIR", str(product_dir / "target" / "observability"))
            ),
        )


def _iso(text: str | None) -> str:
    if not text:
        return datetime.now(UTC).isoformat().replace("+00:00", "Z")
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
    )
    spans = Sink(settings.span_exporter, settings.output_dir / "spans.jsonl")
    results = json.loads(run_results.read_text(encoding="utf-8"))
    manifest_path = run_results.parent / "manifest.json"
    parents = _parents(manifest_path)
    trace_id = secrets.token_hex(16)
    root_span = secrets.token_hex(8)
    first, last = None, None
    for result in results.get("results", []):
        unique_id = result["unique_id"]
        if unique_id.split(".")[0] not in {"model", "seed", "snapshot"}:
            continue
        timing = {t["name"]: t for t in result.get("timing", [])}
        started = (timing.get("compile") or timing.get("execute") or {}).get("started_at")
        ended = (timing.get("execute") or timing.get("compile") or {}).get("completed_at")
        status = str(result.get("status"))
        ok = status in {"success", "pass"}
        node_run = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{run_id}/{unique_id}"))
        node = {"unique_id": unique_id}
        inputs = parents.get(unique_id, [])
        lineage.emit(_lineage_event(settings, "START", _iso(started), node_run, node, inputs))
        lineage.emit(
            _lineage_event(
                settings, "COMPLETE" if ok else "FAIL", _iso(ended), node_run, node, inputs
            )
        )
        spans.emit(
            {
                "traceId": trace_id,
                "spanId": secrets.token_hex(8),
                "parentSpanId": root_span,
                "name": f"dbt.{unique_id.split('.')[0]} {unique_id.split('.')[-1]}",
                "startTimeUnixNano": _nanos(started),
                "endTimeUnixNano": _nanos(ended),
                "status": {"code": "OK" if ok else "ERROR", "message": result.get("message") or ""},
                "attributes": {
                    "service.name": settings.product,
                    "floe.run_id": run_id,
                    "dbt.unique_id": unique_id,
                    "dbt.rows_affected": (result.get("adapter_response") or {}).get(
                        "rows_affected"
                    ),
                },
            }
        )
        first = started if first is None else min(first, started or first)
        last = ended if last is None else max(last, ended or last)
    spans.emit(
        {
            "traceId": trace_id,
            "spanId": root_span,
            "name": f"floe.run {settings.product}",
            "startTimeUnixNano": _nanos(first),
            "endTimeUnixNano": _nanos(last),
            "status": {"code": "OK" if results.get("results") else "UNSET"},
            "attributes": {"service.name": settings.product, "floe.run_id": run_id},
        }
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

"""Issue 17: lineage (openlineage-python) and spans (OpenTelemetry SDK, OTLP/HTTP protobuf)
to real receivers on 127.0.0.1 (one taking POST /api/v1/lineage as Marquez does, one
decoding ExportTraceServiceRequest with opentelemetry-proto); the facets a lineage user
expects; FAIL + error facet and an ERROR span for a failing model; nothing lost when the
receiver is down (floe.runtime, used by the generated definitions)."""

from __future__ import annotations

import http.server
import json
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar

import jsonschema
import pytest

from floe.local.run import run_product
from floe.runtime.observe.otlp import traces_url
from floe.runtime.observe.report import report_dbt_run
from tests.openlineage_schema import RUN_EVENT


class _Receiver(http.server.BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[str, dict]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Type") == "application/x-protobuf":
            from google.protobuf.json_format import MessageToDict
            from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
                ExportTraceServiceRequest,
            )

            request = ExportTraceServiceRequest()
            request.ParseFromString(body)
            self.received.append((self.path, MessageToDict(request)))
        else:
            self.received.append((self.path, json.loads(body)))
        self.send_response(201 if "lineage" in self.path else 200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_args: object) -> None:
        return


@contextmanager
def receiver() -> Iterator[tuple[str, list[tuple[str, dict]]]]:
    handler = type("Handler", (_Receiver,), {"received": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler.received
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def finished_run(compiled_demo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A product copy with a finished dbt build (its run_results.json)."""
    product = tmp_path_factory.mktemp("rt") / "financial-risk"
    shutil.copytree(compiled_demo / "financial-risk", product)
    (product.parent / "macros").symlink_to(compiled_demo / "macros")
    assert run_product(product).success
    return product


def _run_results(product: Path) -> Path:
    return next(product.glob("target/*/run_results.json"))


def _report(product: Path, run_id: str, out: Path, **env: str) -> dict:
    """report_dbt_run on the product's finished run, its files under ``out``."""
    return report_dbt_run(
        product, _run_results(product), run_id, env={**env, "FLOE_OBSERVABILITY_DIR": str(out)}
    )


def _http(base: str) -> dict[str, str]:
    """Lineage and spans over HTTP to ``base`` (Marquez's path, the OTLP/HTTP port)."""
    return {
        "FLOE_LINEAGE_TRANSPORT": "http",
        "FLOE_LINEAGE_ENDPOINT": f"{base}/api/v1/lineage",
        "FLOE_SPAN_EXPORTER": "otlp",
        "FLOE_OTLP_ENDPOINT": base,
    }


@pytest.mark.parametrize(
    ("endpoint", "url"),
    [
        ("http://collector:4317", "http://collector:4318/v1/traces"),
        ("http://collector:4318", "http://collector:4318/v1/traces"),
        ("http://collector:4318/v1/traces", "http://collector:4318/v1/traces"),
    ],
)
def test_traces_url_maps_the_grpc_port_to_otlp_http(endpoint: str, url: str) -> None:
    assert traces_url(endpoint) == url


def test_lineage_and_spans_are_posted_to_their_endpoints(
    finished_run: Path, tmp_path: Path
) -> None:
    with receiver() as (base, received):
        sent = _report(finished_run, "run-1", tmp_path, **_http(base))
    lineage = [body for path, body in received if path == "/api/v1/lineage"]
    traces = [body for path, body in received if path == "/v1/traces"]
    # START + COMPLETE for 3 seeds and 6 models, and for the product's run
    assert len(lineage) == 20
    assert {e["eventType"] for e in lineage} == {"START", "COMPLETE"}
    for event in lineage:
        jsonschema.validate(event, RUN_EVENT)
    assert len(traces) == 1  # one OTLP/HTTP protobuf request
    resource = traces[0]["resourceSpans"][0]
    names = {a["key"]: a["value"]["stringValue"] for a in resource["resource"]["attributes"]}
    assert names["service.name"] == "financial-risk"
    spans = resource["scopeSpans"][0]["spans"]
    nodes = json.loads(_run_results(finished_run).read_text())["results"]
    assert len(spans) == 1 + len(nodes)  # the run + every seed, model and test dbt ran
    assert (
        sum(s["name"].startswith("dbt.test ") for s in spans)
        == sum(n["unique_id"].startswith("test.") for n in nodes)
        > 0
    )
    root = next(s for s in spans if s["name"] == "floe.run financial-risk")
    assert all(s.get("parentSpanId") == root["spanId"] for s in spans if s is not root)
    assert {s["status"].get("code") for s in spans} == {"STATUS_CODE_OK"}
    assert sent["lineage"] == f"{base}/api/v1/lineage (20 events sent)"
    assert sent["spans"] == f"{base}/v1/traces ({len(spans)} spans sent)"
    assert not (tmp_path / "openlineage.jsonl").exists()


def test_unreachable_endpoints_fall_back_to_files(finished_run: Path, tmp_path: Path) -> None:
    with receiver() as (base, _received):
        dead = base  # closed as soon as the block ends
    sent = _report(finished_run, "run-2", tmp_path, **_http(dead))
    events = (tmp_path / "openlineage.jsonl").read_text().splitlines()
    assert len(events) == 20  # every event, none lost
    for line in events:
        jsonschema.validate(json.loads(line), RUN_EVENT)
    assert len((tmp_path / "spans.jsonl").read_text().splitlines()) == 1
    assert "unreachable, 20 events written to" in sent["lineage"]
    nodes = json.loads(_run_results(finished_run).read_text())["results"]
    assert f"unreachable, {1 + len(nodes)} spans written to" in sent["spans"]


def _dagster_run_id() -> str:
    return "8d1e2f6a-3b4c-4d5e-8f90-a1b2c3d4e5f6"


def test_events_carry_the_facets_a_lineage_user_expects(finished_run: Path, tmp_path: Path) -> None:
    """Schema with types, compiled SQL, test assertions, column lineage, the parent Dagster
    run, physical DuckDB identity."""
    _report(
        finished_run,
        _dagster_run_id(),
        tmp_path,
        FLOE_LINEAGE_TRANSPORT="file",
        FLOE_SPAN_EXPORTER="file",
    )
    events = [
        json.loads(line) for line in (tmp_path / "openlineage.jsonl").read_text().splitlines()
    ]
    for event in events:
        jsonschema.validate(event, RUN_EVENT)
    complete = {e["job"]["name"]: e for e in events if e["eventType"] == "COMPLETE"}
    mart = complete["financial-risk.mart_risk_dashboard"]
    output = mart["outputs"][0]
    database = (finished_run / "target" / "demo.duckdb").resolve()
    assert output["namespace"] == f"duckdb://{database}"
    assert output["name"] == "demo.main.mart_risk_dashboard"
    fields = {f["name"]: f["type"] for f in output["facets"]["schema"]["fields"]}
    assert fields and all(fields.values())
    assert "select" in mart["job"]["facets"]["sql"]["query"].lower()
    assertions = output["facets"]["dataQualityAssertions"]["assertions"]
    assert assertions and all(a["success"] for a in assertions)
    assert {a["assertion"] for a in assertions} >= {"not_null"}
    lineage = output["facets"]["columnLineage"]["fields"]
    assert lineage and all(
        f["inputFields"] and all(i["name"].startswith("demo.main.") for i in f["inputFields"])
        for f in lineage.values()
    )
    inputs = {i["name"] for i in mart["inputs"]}
    assert {i["name"] for f in lineage.values() for i in f["inputFields"]} <= inputs
    for event in events:
        if event["job"]["name"] != "financial-risk.financial_risk_build":
            parent = event["run"]["facets"]["parent"]
            assert parent["run"]["runId"] == _dagster_run_id()
            assert parent["job"]["name"] == "financial-risk.financial_risk_build"
    spans = json.loads((tmp_path / "spans.jsonl").read_text())
    attributes = spans["resourceSpans"][0]["resource"]["attributes"]
    assert {"key": "service.name", "value": {"stringValue": "financial-risk"}} in attributes


def test_a_failing_model_gives_a_fail_event_with_its_error_and_an_error_span(
    compiled_demo: Path, tmp_path: Path
) -> None:
    demo = tmp_path / "demo"
    shutil.copytree(compiled_demo, demo)
    product = demo / "iot-telemetry"
    mart = product / "models" / "marts" / "mart_equipment_health.sql"
    mart.write_text("select cast('not a number' as integer) as broken\n", encoding="utf-8")
    assert not run_product(product).success
    out = product / "target" / "observability"
    events = [json.loads(line) for line in (out / "openlineage.jsonl").read_text().splitlines()]
    for event in events:
        jsonschema.validate(event, RUN_EVENT)
    failed = [e for e in events if e["eventType"] == "FAIL"]
    by_job = {e["job"]["name"]: e for e in failed}
    error = by_job["iot-telemetry.mart_equipment_health"]["run"]["facets"]["errorMessage"]
    assert "Conversion Error" in error["message"] or "not a number" in error["message"]
    assert "iot-telemetry.iot_telemetry_build" in by_job  # the product's run failed too
    spans = json.loads((out / "spans.jsonl").read_text().splitlines()[-1])
    span = next(
        s
        for s in spans["resourceSpans"][0]["scopeSpans"][0]["spans"]
        if s["name"] == "dbt.model mart_equipment_health"
    )
    assert span["status"]["code"] == 2  # ERROR
    assert span["events"][0]["name"] == "exception"


def test_the_standard_openlineage_environment_configures_the_client(
    finished_run: Path, tmp_path: Path
) -> None:
    with receiver() as (base, received):
        sent = _report(
            finished_run,
            "run-3",
            tmp_path,
            FLOE_LINEAGE_TRANSPORT="file",
            FLOE_SPAN_EXPORTER="none",
            OPENLINEAGE_URL=base,
        )
    assert len([p for p, _ in received if p == "/api/v1/lineage"]) == 20
    assert sent["lineage"] == "OPENLINEAGE_* configuration (20 events)"
    assert not (tmp_path / "openlineage.jsonl").exists()


def test_the_image_self_check_sees_the_facets_of_a_real_run(
    finished_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """image_smoke's in-container check (floe.packaging.container_check) passes on a real
    run's files and fails once a model event loses its schema facet."""
    from floe.packaging.container_check import check_observability

    assert check_observability(finished_run)
    product = tmp_path / finished_run.name
    out = product / "target" / "observability"
    out.mkdir(parents=True)
    source = finished_run / "target" / "observability"
    shutil.copy(source / "spans.jsonl", out / "spans.jsonl")
    events = [json.loads(line) for line in (source / "openlineage.jsonl").read_text().splitlines()]
    model = next(
        e for e in events if e["eventType"] == "COMPLETE" and "sql" in e["job"].get("facets", {})
    )
    del model["outputs"][0]["facets"]["schema"]
    (out / "openlineage.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    assert not check_observability(product)
    assert '"ok": false' in capsys.readouterr().out

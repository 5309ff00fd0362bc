"""Lineage and spans over HTTP to real receivers on 127.0.0.1, and nothing lost when the
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

import pytest

from floe.local.run import run_product
from floe.runtime.otlp import traces_url
from floe.runtime.report import report_dbt_run


class _Receiver(http.server.BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[str, dict]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
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
        sent = report_dbt_run(
            finished_run,
            _run_results(finished_run),
            "run-1",
            env={
                "FLOE_LINEAGE_TRANSPORT": "http",
                "FLOE_LINEAGE_ENDPOINT": f"{base}/api/v1/lineage",
                "FLOE_SPAN_EXPORTER": "otlp",
                "FLOE_OTLP_ENDPOINT": base,
                "FLOE_OBSERVABILITY_DIR": str(tmp_path),
            },
        )
    lineage = [body for path, body in received if path == "/api/v1/lineage"]
    traces = [body for path, body in received if path == "/v1/traces"]
    assert len(lineage) == 18  # START + COMPLETE for 3 seeds and 6 models
    assert {e["eventType"] for e in lineage} == {"START", "COMPLETE"}
    assert len(traces) == 1
    spans = traces[0]["resourceSpans"][0]["scopeSpans"][0]["spans"]
    assert len(spans) == 10 and spans[0]["name"] == "floe.run financial-risk"
    assert sent["lineage"] == f"{base}/api/v1/lineage (18 events sent)"
    assert sent["spans"] == f"{base}/v1/traces (10 spans sent)"
    assert not (tmp_path / "openlineage.jsonl").exists()


def test_unreachable_endpoints_fall_back_to_files(finished_run: Path, tmp_path: Path) -> None:
    with receiver() as (base, _received):
        dead = base  # closed as soon as the block ends
    sent = report_dbt_run(
        finished_run,
        _run_results(finished_run),
        "run-2",
        env={
            "FLOE_LINEAGE_TRANSPORT": "http",
            "FLOE_LINEAGE_ENDPOINT": f"{dead}/api/v1/lineage",
            "FLOE_SPAN_EXPORTER": "otlp",
            "FLOE_OTLP_ENDPOINT": dead,
            "FLOE_OBSERVABILITY_DIR": str(tmp_path),
        },
    )
    events = (tmp_path / "openlineage.jsonl").read_text().splitlines()
    assert len(events) == 18
    assert len((tmp_path / "spans.jsonl").read_text().splitlines()) == 1
    assert "unreachable, 18 events written to" in sent["lineage"]
    assert "unreachable, 10 spans written to" in sent["spans"]

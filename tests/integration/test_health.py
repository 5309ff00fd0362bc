"""Health checks against real servers on 127.0.0.1 (AC-10.4: no MagicMock comparisons)."""

from __future__ import annotations

import http.server
import json
import socket
import socketserver
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner

from floe.cli import main
from floe.health.checks import CheckResult, http_check, postgres_check, run_checks
from tests.conftest import ROOT


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path.startswith("/slow"):
            time.sleep(2)
        status = 500 if self.path.startswith("/fail") else 403 if self.path == "/private" else 200
        if self.path.startswith("/missing"):
            status = 404
        body = b'{"status": "UP"}'
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        return


@contextmanager
def http_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed again when the block ends


def test_healthy_endpoint() -> None:
    with http_server() as base:
        result = http_check("svc", f"{base}/ready", timeout_s=2, retries=0)
    assert result.healthy and result.detail == "HTTP 200" and result.attempts == 1
    assert 0 < result.latency_ms < 2000


def test_failing_endpoint_is_retried_then_unhealthy() -> None:
    with http_server() as base:
        result = http_check("svc", f"{base}/fail", timeout_s=2, retries=2, backoff_s=0.01)
    assert not result.healthy and result.detail == "HTTP 500" and result.attempts == 3


def test_slow_endpoint_times_out_within_the_bound() -> None:
    with http_server() as base:
        start = time.perf_counter()
        result = http_check("svc", f"{base}/slow", timeout_s=0.3, retries=1, backoff_s=0.01)
        elapsed = time.perf_counter() - start
    assert not result.healthy and result.detail == "timed out after 0.3s"
    assert elapsed < 1.5  # two bounded tries, not the server's 2 s each


def test_refused_connection_is_unreachable() -> None:
    result = http_check("svc", f"http://127.0.0.1:{_closed_port()}/", timeout_s=1, retries=0)
    assert not result.healthy and result.detail.startswith("unreachable:")


def test_bucket_check_accepts_forbidden_but_not_missing() -> None:
    with http_server() as base:
        private = http_check("bucket", f"{base}/private", ok_status=(200, 403), retries=0)
        missing = http_check("bucket", f"{base}/missing", ok_status=(200, 403), retries=0)
    assert private.healthy and not missing.healthy and missing.detail == "HTTP 404"


class _PgLike(socketserver.BaseRequestHandler):
    reply = b"N"

    def handle(self) -> None:
        request = self.request.recv(8)
        if request == (8).to_bytes(4, "big") + (80877103).to_bytes(4, "big"):
            self.request.sendall(self.reply)


@pytest.mark.parametrize(("reply", "healthy"), [(b"N", True), (b"S", True), (b"H", False)])
def test_postgres_check_speaks_the_ssl_request(reply: bytes, healthy: bool) -> None:
    handler = type("Handler", (_PgLike,), {"reply": reply})
    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        result = postgres_check("pg", "127.0.0.1", server.server_address[1], retries=0)
        server.shutdown()
    assert result.healthy is healthy


def test_checks_run_concurrently_and_keep_order() -> None:
    with http_server() as base:
        checks = [lambda: http_check("slow", f"{base}/slow", timeout_s=3, retries=0)] * 3
        checks = [*checks, lambda: http_check("fast", f"{base}/ok", retries=0)]
        start = time.perf_counter()
        results = run_checks(checks)
        elapsed = time.perf_counter() - start
    assert [r.name for r in results] == ["slow", "slow", "slow", "fast"]
    assert all(isinstance(r, CheckResult) and r.healthy for r in results)
    assert elapsed < 5  # in parallel: about one slow request, not three


def test_status_cli_reports_json_and_exits_10_when_unhealthy(tmp_path: Path) -> None:
    """Endpoints from a compiled artifacts file; every service here refuses connections."""
    from floe.compiler.builder import build_artifacts
    from floe.schemas import FloeSpec, PlatformManifest
    from tests.conftest import customer_spec_data, demo_manifest_data

    port = _closed_port()
    manifest = demo_manifest_data()
    manifest["observability"]["tracing"]["endpoint"] = f"http://127.0.0.1:{port}"
    manifest["observability"]["lineage"]["endpoint"] = f"http://127.0.0.1:{port}/api/v1/lineage"
    manifest["plugins"]["catalog"]["config"]["uri"] = f"http://127.0.0.1:{port}/api/catalog"
    manifest["plugins"]["storage"]["config"]["endpoint"] = f"http://127.0.0.1:{port}"
    artifacts = build_artifacts(
        FloeSpec.model_validate(customer_spec_data()), PlatformManifest.model_validate(manifest)
    )
    path = tmp_path / "compiled_artifacts.json"
    path.write_text(artifacts.to_json())
    values = ROOT / "helm" / "floe-platform" / "values.yaml"
    result = CliRunner().invoke(
        main,
        [
            "platform",
            "status",
            "--artifacts",
            str(path),
            "--values",
            str(values),
            "--timeout",
            "0.5",
            "--retries",
            "0",
            "--json",
        ],
    )
    assert result.exit_code == 10, result.output
    payload = json.loads(result.output[: result.output.rindex("]") + 1])
    assert [r["name"] for r in payload] == [
        "polaris",
        "minio",
        "minio-bucket",
        "marquez",
        "otel-collector",
        "postgresql",
    ]
    assert not any(r["healthy"] for r in payload)
    assert "FLOE700 unhealthy: polaris" in result.output

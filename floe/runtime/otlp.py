"""Spans as OTLP/JSON (the OpenTelemetry protocol's JSON encoding), standard library only.

One dbt invocation becomes one ExportTraceServiceRequest: a root span for the run and a
child per model/seed.  Sent over OTLP/HTTP to the collector; the same request is what the
file exporter writes, one per line (the collector's own file format).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse, urlunparse

OTLP_GRPC_PORT = 4317
OTLP_HTTP_PORT = 4318
STATUS = {"UNSET": 0, "OK": 1, "ERROR": 2}


def traces_url(endpoint: str) -> str:
    """The OTLP/HTTP traces URL for a configured endpoint.

    Manifests name the collector's gRPC endpoint (port 4317, the OTLP default); the same
    collector takes OTLP/HTTP on 4318, the protocol's default HTTP port.
    """
    parsed = urlparse(endpoint)
    port = parsed.port
    netloc = parsed.netloc
    if port == OTLP_GRPC_PORT:
        netloc = f"{parsed.hostname}:{OTLP_HTTP_PORT}"
    path = parsed.path.rstrip("/")
    if not path.endswith("/v1/traces"):
        path += "/v1/traces"
    return urlunparse(parsed._replace(netloc=netloc, path=path))


def _value(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    return {"stringValue": str(value)}


def attributes(values: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": k, "value": _value(v)} for k, v in sorted(values.items()) if v is not None]


def span(
    trace_id: str,
    span_id: str,
    name: str,
    start_ns: int,
    end_ns: int,
    *,
    parent_id: str | None = None,
    status: str = "OK",
    message: str = "",
    attrs: dict[str, Any] | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "traceId": trace_id,
        "spanId": span_id,
        "name": name,
        "kind": 1,  # SPAN_KIND_INTERNAL
        "startTimeUnixNano": str(start_ns),
        "endTimeUnixNano": str(max(end_ns, start_ns)),
        "attributes": attributes(attrs or {}),
        "status": {"code": STATUS[status], "message": message},
    }
    if parent_id:
        out["parentSpanId"] = parent_id
    return out


def export_request(
    service: str, version: str | None, spans: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": attributes({"service.name": service, "service.version": version})
                },
                "scopeSpans": [{"scope": {"name": "floe.runtime"}, "spans": spans}],
            }
        ]
    }

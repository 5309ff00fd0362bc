"""Where OTLP/HTTP traces go for a manifest's telemetry endpoint (the spans themselves are
made and exported by the OpenTelemetry SDK: floe.runtime.observe.tracing)."""

from __future__ import annotations

from urllib.parse import urlparse, urlunparse

OTLP_GRPC_PORT = 4317
OTLP_HTTP_PORT = 4318


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

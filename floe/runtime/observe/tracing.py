"""Spans of a dbt run with the OpenTelemetry SDK: one trace per product run, a span per
dbt node with its status (ERROR with the exception on failure), the resource from the
artifacts; exported with the OTLP/HTTP exporter, or to a JSON-lines file in the OTLP/JSON
encoding (the collector's file format) locally.  A collector that fails makes the spans
land in that file instead, so none is lost.  The standard ``OTEL_EXPORTER_OTLP_*``
environment configures the exporter as usual.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

SPANS_FILE = "spans.jsonl"
SCOPE = "floe.runtime"
EXPORT_TIMEOUT_S = 3.0


def otlp_json(spans: Sequence[ReadableSpan]) -> dict[str, Any]:
    """An ExportTraceServiceRequest in OTLP/JSON: hex trace and span ids and integer
    enums, as the spec requires (protobuf's own JSON writes ids base64, enums by name)."""
    from google.protobuf.json_format import MessageToDict

    request = MessageToDict(encode_spans(spans), use_integers_for_enums=True)
    for resource_spans in request.get("resourceSpans", []):
        for scope_spans in resource_spans.get("scopeSpans", []):
            for span in scope_spans.get("spans", []):
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in span:
                        span[key] = _b64_to_hex(span[key])
    return dict(request)


def _b64_to_hex(text: str) -> str:
    import base64

    return base64.b64decode(text).hex()


@dataclass
class FallbackExporter(SpanExporter):
    """OTLP/HTTP first (when ``endpoint`` is set), the file otherwise or when it fails."""

    file: Path
    endpoint: str | None = None
    use_env: bool = False
    sent: int = 0
    fell_back: int = 0
    errors: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _otlp: Any = None

    def __post_init__(self) -> None:
        if self.endpoint or self.use_env:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            kwargs: dict[str, Any] = {"timeout": EXPORT_TIMEOUT_S}
            if not self.use_env:
                kwargs["endpoint"] = self.endpoint
            self._otlp = OTLPSpanExporter(**kwargs)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        with self._lock:
            if self._otlp is not None and not self.errors:
                try:
                    result = self._otlp.export(spans)
                except Exception as exc:
                    result, detail = SpanExportResult.FAILURE, str(exc)
                else:
                    detail = "export failed"
                if result is SpanExportResult.SUCCESS:
                    self.sent += len(spans)
                    return result
                self.errors.append(f"{self.endpoint or 'OTEL_EXPORTER_OTLP_*'}: {detail}")
            self.file.parent.mkdir(parents=True, exist_ok=True)
            with self.file.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(otlp_json(spans), sort_keys=True) + "\n")
            if self._otlp is not None:
                self.fell_back += len(spans)
            else:
                self.sent += len(spans)
            return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        if self._otlp is not None:
            self._otlp.shutdown()

    def describe(self) -> str:
        if self._otlp is None:
            return f"{self.file} ({self.sent} spans)"
        text = f"{self.endpoint or 'OTEL_EXPORTER_OTLP_*'} ({self.sent} spans sent)"
        if self.fell_back:
            text += f"; unreachable, {self.fell_back} spans written to {self.file}"
        return text


@dataclass
class BufferedExporter(SpanExporter):
    """Collects a run's spans so they leave in one request at the end."""

    spans: list[ReadableSpan] = field(default_factory=list)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.spans.extend(spans)
        return SpanExportResult.SUCCESS


def tracer_provider(attributes: dict[str, Any]) -> tuple[TracerProvider, BufferedExporter]:
    """A provider of its own (not the process's global one) whose spans are buffered."""
    provider = TracerProvider(
        resource=Resource.create({k: v for k, v in attributes.items() if v is not None})
    )
    buffer = BufferedExporter()
    provider.add_span_processor(SimpleSpanProcessor(buffer))
    return provider, buffer

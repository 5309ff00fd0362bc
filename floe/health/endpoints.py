"""Which checks a compiled platform needs, from compiled_artifacts.json and chart values."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

import yaml

from floe.health.checks import CheckResult, dagster_check, http_check, postgres_check
from floe.schemas.artifacts import CompiledArtifacts

Check = Callable[[], CheckResult]


def _with_port(url: str, port: int, path: str) -> str:
    parsed = urlparse(url)
    return urlunparse(parsed._replace(netloc=f"{parsed.hostname}:{port}", path=path))


def platform_checks(
    artifacts: CompiledArtifacts,
    values: dict[str, Any],
    *,
    dagster_url: str | None,
    locations: list[str],
    timeout_s: float,
    retries: int,
) -> list[Check]:
    """Endpoints come from the artifacts (what the product uses); health ports and paths
    come from the chart's values (how each service reports health)."""
    opts = {"timeout_s": timeout_s, "retries": retries}
    checks: list[Check] = []
    if dagster_url:
        checks.append(functools.partial(dagster_check, "dagster", dagster_url, locations, **opts))
    plugins = artifacts.plugins
    if plugins.catalog is not None and "uri" in plugins.catalog.config:
        uri = str(plugins.catalog.config["uri"])
        port = int(values["polaris"]["managementPort"])
        checks.append(
            functools.partial(
                http_check, "polaris", _with_port(uri, port, "/q/health/ready"), **opts
            )
        )
    if plugins.storage is not None and "endpoint" in plugins.storage.config:
        endpoint = str(plugins.storage.config["endpoint"]).rstrip("/")
        checks.append(
            functools.partial(http_check, "minio", endpoint + "/minio/health/ready", **opts)
        )
        bucket = plugins.storage.config.get("bucket")
        if bucket:
            # An existing bucket answers 200 (public) or 403 (private); a missing one 404.
            checks.append(
                functools.partial(
                    http_check, "minio-bucket", f"{endpoint}/{bucket}", ok_status=(200, 403), **opts
                )
            )
    obs = artifacts.observability
    if obs.lineage and obs.lineage_endpoint:
        port = int(values["marquez"]["adminPort"])
        checks.append(
            functools.partial(
                http_check,
                "marquez",
                _with_port(obs.lineage_endpoint, port, "/healthcheck"),
                **opts,
            )
        )
    if obs.telemetry.enabled:
        port = int(values["otel"]["healthPort"])
        checks.append(
            functools.partial(
                http_check,
                "otel-collector",
                _with_port(obs.telemetry.otlp_endpoint, port, "/"),
                **opts,
            )
        )
    if plugins.catalog is not None and "uri" in plugins.catalog.config:
        host = urlparse(str(plugins.catalog.config["uri"])).hostname or "localhost"
        release = host.rsplit("-", 1)[0]
        pg_host = f"{release}-postgresql"
        checks.append(
            functools.partial(
                postgres_check, "postgresql", pg_host, int(values["postgresql"]["port"]), **opts
            )
        )
    return checks


def load_values(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not a mapping")
    return data

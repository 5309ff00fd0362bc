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
OK_2XX = tuple(range(200, 300))


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
    come from the chart's values (how each service reports health).

    Each check is a ``functools.partial`` whose positional args are (name, url) or, for
    PostgreSQL, (name, host, port).
    """
    bounds: dict[str, Any] = {"timeout_s": timeout_s, "retries": retries}
    checks: list[Check] = []

    def http(name: str, url: str, ok_status: tuple[int, ...] = OK_2XX) -> None:
        checks.append(functools.partial(http_check, name, url, ok_status=ok_status, **bounds))

    if dagster_url:
        checks.append(functools.partial(dagster_check, "dagster", dagster_url, locations, **bounds))
    catalog, storage = artifacts.plugins.catalog, artifacts.plugins.storage
    catalog_uri = str(catalog.config["uri"]) if catalog and "uri" in catalog.config else None
    if catalog_uri:
        http(
            "polaris",
            _with_port(catalog_uri, int(values["polaris"]["managementPort"]), "/q/health/ready"),
        )
    if storage is not None and "endpoint" in storage.config:
        endpoint = str(storage.config["endpoint"]).rstrip("/")
        http("minio", endpoint + "/minio/health/ready")
        if storage.config.get("bucket"):
            # An existing bucket answers 200 (public) or 403 (private); a missing one 404.
            http("minio-bucket", f"{endpoint}/{storage.config['bucket']}", ok_status=(200, 403))
    obs = artifacts.observability
    if obs.lineage and obs.lineage_endpoint:
        http(
            "marquez",
            _with_port(obs.lineage_endpoint, int(values["marquez"]["adminPort"]), "/healthcheck"),
        )
    if obs.telemetry.enabled:
        http(
            "otel-collector",
            _with_port(obs.telemetry.otlp_endpoint, int(values["otel"]["healthPort"]), "/"),
        )
    if catalog_uri:
        # Services are named <release>-<component> (helm/floe-platform/_helpers.tpl).
        release = (urlparse(catalog_uri).hostname or "localhost").rsplit("-", 1)[0]
        checks.append(
            functools.partial(
                postgres_check,
                "postgresql",
                f"{release}-postgresql",
                int(values["postgresql"]["port"]),
                **bounds,
            )
        )
    return checks


def load_values(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not a mapping")
    return data

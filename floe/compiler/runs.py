"""A product's run pod resources (issue 27): the manifest's defaults with what floe.yaml
asks laid over them, each within the manifest's maximum."""

from __future__ import annotations

from pathlib import Path

from floe.compiler.loader import Loaded
from floe.errors import ConfigValidationError
from floe.schemas.manifest import RunResources, RunsConfig
from floe.schemas.spec import FloeSpec


def resolve_run_resources(
    spec: Loaded[FloeSpec], runs: RunsConfig, manifest_path: Path
) -> RunResources:
    """The run pod's resources; ConfigValidationError at the floe.yaml field that asks
    above ``plugins.orchestrator.runs.max_resources`` (naming both values)."""
    asked = spec.model.runs
    if asked is None:
        return runs.resources
    where = f"plugins.orchestrator.runs.max_resources in {manifest_path.name}"
    for kind in ("requests", "limits"):
        for name, mine, most in getattr(asked.resources, kind).exceeding(runs.max_resources):
            raise ConfigValidationError(
                f"runs: resources.{kind}.{name} {mine} is above the platform's maximum {most}",
                spec.locate(("runs", "resources", kind, name)),
                expected=f"at most {most} ({where})",
                found=mine,
                hint="ask the platform team to raise the maximum, or ask for less",
            )
    merged = asked.resources.over(runs.resources)
    for name, request, limit in merged.requests.exceeding(merged.limits):
        kind = "requests" if getattr(asked.resources.requests, name) else "limits"
        raise ConfigValidationError(
            f"runs: requests.{name} {request} would be above limits.{name} {limit} "
            "(the platform's default fills what floe.yaml leaves out)",
            spec.locate(("runs", "resources", kind, name)),
            expected=f"requests.{name} at most limits.{name}",
            found=f"requests.{name} {request}, limits.{name} {limit}",
            hint=f"set both requests.{name} and limits.{name}",
        )
    return merged

"""build_artifacts: assemble the CompiledArtifacts contract from resolved parts."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

from floe import __version__
from floe.compiler.resolve import resolve_observability, resolve_plugins
from floe.contracts.model import DataContract
from floe.schemas.artifacts import (
    ArtifactsMetadata,
    CompiledArtifacts,
    EnforcementResultSummary,
    ObservabilityConfig,
    ProductIdentity,
    ResolvedGovernance,
    ResolvedInput,
    ResolvedModel,
    ResolvedState,
    ResolvedTransforms,
)
from floe.schemas.manifest import PlatformManifest, RunResources
from floe.schemas.spec import FloeSpec, module_name
from floe.schemas.versions import COMPILED_ARTIFACTS_VERSION


def source_hash(parts: Iterable[bytes]) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return f"sha256:{digest.hexdigest()}"


def build_artifacts(
    spec: FloeSpec,
    manifest: PlatformManifest,
    *,
    dbt_profiles: dict[str, Any] | None = None,
    governance: ResolvedGovernance | None = None,
    enforcement_result: EnforcementResultSummary | None = None,
    observability: ObservabilityConfig | None = None,
    compiled_at: datetime | None = None,
    content_hash: str | None = None,
    contract: DataContract | None = None,
    inputs: list[ResolvedInput] | None = None,
    state: ResolvedState | None = None,
    run_resources: RunResources | None = None,
) -> CompiledArtifacts:
    """The contract for one product; ``governance`` is carried through as given (AC-9.7)."""
    compute = manifest.plugins.compute
    return CompiledArtifacts(
        version=COMPILED_ARTIFACTS_VERSION,
        metadata=ArtifactsMetadata(
            compiled_at=compiled_at or datetime.now(timezone.utc),
            floe_version=__version__,
            source_hash=content_hash
            or source_hash(
                [
                    spec.model_dump_json(by_alias=True).encode(),
                    manifest.model_dump_json(by_alias=True).encode(),
                ]
            ),
            product_name=spec.metadata.name,
            product_version=spec.metadata.version,
        ),
        identity=ProductIdentity(
            product_id=f"{manifest.metadata.name}.{spec.metadata.name}",
            module_name=module_name(spec.metadata.name),
            domain=spec.metadata.labels.get("domain"),
            owner=spec.metadata.owner,
        ),
        plugins=resolve_plugins(manifest),
        transforms=ResolvedTransforms(
            models=[
                ResolvedModel(
                    name=t.name,
                    tier=t.tier,
                    tags=t.tags,
                    depends_on=t.depends_on,
                    publish=t.publish,
                )
                for t in spec.transforms
            ],
            default_compute=compute.type,
        ),
        dbt_profiles=dbt_profiles or {},
        governance=governance,
        enforcement_result=enforcement_result or EnforcementResultSummary(),
        observability=observability or resolve_observability(manifest, spec),
        schedule=spec.schedule,
        contract=contract,
        inputs=inputs or [],
        state=state,
        run_resources=run_resources or manifest.plugins.orchestrator.runs.resources,
    )

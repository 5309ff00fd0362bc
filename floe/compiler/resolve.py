"""Resolution: plugins, observability and governance from manifest + spec.

Governance follows "stricter wins": the manifest is authoritative and a spec can only
strengthen it (AC-9.5, BC-9.4).
"""

from __future__ import annotations

from typing import cast

from floe.schemas._base import EnforcementLevel, stricter
from floe.schemas.artifacts import (
    ObservabilityConfig,
    ResolvedGovernance,
    ResolvedPlugins,
    ResourceAttributes,
    TelemetryConfig,
)
from floe.schemas.manifest import ObservabilityManifestConfig, PlatformManifest, QualityGatesConfig
from floe.schemas.spec import FloeSpec, SpecQualityGates

DEFAULT_ENFORCEMENT_LEVEL = "warn"


def resolve_plugins(manifest: PlatformManifest) -> ResolvedPlugins:
    """The manifest's plugin choices as plain selections (the contract's own type)."""
    # product_options bound floe.yaml at compile; what a product chose is in its profile;
    # the orchestrator's runs become the product's run_resources and the chart's queue
    plugins = manifest.plugins.model_dump(
        exclude_none=True, exclude={"compute": {"product_options"}, "orchestrator": {"runs"}}
    )
    return ResolvedPlugins.model_validate(plugins)


def resolve_observability(manifest: PlatformManifest, spec: FloeSpec) -> ObservabilityConfig:
    """Observability from ``manifest.observability``; every absent part takes its default."""
    obs = manifest.observability or ObservabilityManifestConfig()
    lineage = obs.lineage
    transport = lineage.transport or ("http" if lineage.endpoint else None)
    return ObservabilityConfig(
        telemetry=TelemetryConfig(
            enabled=obs.tracing.enabled,
            exporter=obs.tracing.exporter,
            otlp_endpoint=obs.tracing.endpoint,
            resource_attributes=ResourceAttributes(
                service_name=spec.metadata.name, service_version=spec.metadata.version
            ),
        ),
        lineage=lineage.enabled,
        lineage_namespace=manifest.metadata.name,
        lineage_endpoint=lineage.endpoint,
        lineage_transport=transport,
        logging=obs.logging,
    )


def effective_enforcement_level(
    manifest_level: EnforcementLevel | None, spec_level: EnforcementLevel | None
) -> EnforcementLevel:
    """Stricter wins; with neither set the level is ``warn`` (AC-9.5)."""
    level = stricter(manifest_level, spec_level) or DEFAULT_ENFORCEMENT_LEVEL
    return cast(EnforcementLevel, level)


def _strengthen_gates(
    base: QualityGatesConfig | None, extra: SpecQualityGates | None
) -> QualityGatesConfig | None:
    if extra is None:
        return base
    base = base or QualityGatesConfig()
    coverage = dict(base.min_test_coverage)
    for layer, pct in extra.min_test_coverage.items():
        coverage[layer] = max(pct, coverage.get(layer, 0.0))
    return QualityGatesConfig(
        require_model_descriptions=base.require_model_descriptions
        or bool(extra.require_model_descriptions),
        require_column_descriptions=base.require_column_descriptions
        or bool(extra.require_column_descriptions),
        min_test_coverage=coverage,
    )


def resolve_governance(manifest: PlatformManifest, spec: FloeSpec) -> ResolvedGovernance | None:
    """The manifest's governance, strengthened (never weakened) by the spec's.

    None when neither document has a governance section (AC-9.4 backwards compatibility).
    """
    base = manifest.governance
    extra = spec.governance
    if base is None and extra is None:
        return None
    level = stricter(
        base.policy_enforcement_level if base else None,
        extra.policy_enforcement_level if extra else None,
    )
    return ResolvedGovernance(
        policy_enforcement_level=level,
        audit_logging=base.audit_logging if base else None,
        data_retention_days=base.data_retention_days if base else None,
        naming=base.naming if base else None,
        quality_gates=_strengthen_gates(
            base.quality_gates if base else None, extra.quality_gates if extra else None
        ),
        require_contracts=bool(base and base.require_contracts)
        or bool(extra and extra.require_contracts)
        or None,
        audit_branch_retention_days=base.audit_branch_retention_days if base else None,
    )

"""The version of the CompiledArtifacts contract and its history (newest last)."""

from typing import Final

COMPILED_ARTIFACTS_VERSION: Final = "0.12.0"

VERSION_HISTORY: Final[dict[str, str]] = {
    "0.1.0": "Initial contract: metadata, identity, plugins, transforms, dbt_profiles",
    "0.2.0": "Add observability (telemetry, lineage, lineage_namespace)",
    "0.3.0": "Add governance (ResolvedGovernance)",
    "0.4.0": "Add enforcement_result (EnforcementResultSummary)",
    "0.5.0": "Add plugins.storage and plugins.catalog",
    "0.6.0": "Add schedule (cron, timezone, enabled)",
    "0.7.0": "Add logging and tracing.enabled to ObservabilityConfig",
    "0.8.0": "Add lineage_endpoint, lineage_transport to ObservabilityConfig",
    "0.9.0": "Add contract (the product's ODCS data contract), governance.require_contracts "
    "and governance.audit_branch_retention_days",
    "0.10.0": "Add inputs (published tables of other products, read through the catalog)",
    "0.11.0": "Add state (snapshots and incremental models saved and restored around runs)",
    "0.12.0": "Add run_resources (the run pod's container resources in the cluster)",
}

MANIFEST_API_VERSION: Final = "floe.dev/v1"

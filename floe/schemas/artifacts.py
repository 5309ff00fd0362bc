"""CompiledArtifacts: the versioned JSON contract the compiler produces."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field, field_validator

from floe.contracts.model import DataContract
from floe.schemas._base import EnforcementLevel, FrozenModel
from floe.schemas.manifest import (
    DEFAULT_OTLP_ENDPOINT,
    LoggingConfig,
    NamingConfig,
    PluginSelection,
    QualityGatesConfig,
    RunResources,
)
from floe.schemas.spec import ScheduleSpec, Tier
from floe.schemas.versions import COMPILED_ARTIFACTS_VERSION


class ArtifactsMetadata(FrozenModel):
    compiled_at: datetime
    floe_version: str
    source_hash: str = Field(pattern=r"^sha256:[0-9a-f]{64}$")
    product_name: str
    product_version: str

    @field_validator("compiled_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None or value.utcoffset() is None or value.utcoffset().total_seconds():  # type: ignore[union-attr]
            raise ValueError("compiled_at must be timezone-aware UTC")
        return value


class ProductIdentity(FrozenModel):
    product_id: str
    module_name: str
    domain: str | None = None
    owner: str


class ResolvedPlugins(FrozenModel):
    compute: PluginSelection
    orchestrator: PluginSelection
    catalog: PluginSelection | None = None
    storage: PluginSelection | None = None
    lineage_backend: PluginSelection | None = None
    telemetry_backend: PluginSelection | None = None


class ResolvedModel(FrozenModel):
    name: str
    tier: Tier
    tags: list[str] = Field(default_factory=list)
    depends_on: list[str] = Field(default_factory=list)
    publish: bool | None = None  # None: published when tier is gold


class ResolvedInput(FrozenModel):
    """A table of another product this one reads, as compile found it."""

    product: str
    product_module: str
    table: str
    identifier: str  # <product_module>.<table> in the catalog
    contract_range: str  # the producer contract versions accepted
    contract_version: str  # the producer's contract version at compile
    source: str  # the dbt source name (the producer's module)
    relation: str  # floe_inputs.<product_module>__<table> in this product's DuckDB


class StatefulRelation(FrozenModel):
    """A dbt node whose relation carries state from run to run."""

    node: str  # dbt unique_id
    name: str
    kind: Literal["snapshot", "incremental"]
    schema_name: str  # the relation in the product's DuckDB file: schema_name.identifier
    identifier: str


class ResolvedState(FrozenModel):
    """The manifest's state store and the relations saved to it after each run."""

    store: Literal["storage"] = "storage"
    prefix: str
    relations: list[StatefulRelation]


class ResolvedTransforms(FrozenModel):
    models: list[ResolvedModel]
    default_compute: str


class ResolvedGovernance(FrozenModel):
    policy_enforcement_level: EnforcementLevel | None = None
    audit_logging: Literal["enabled", "disabled"] | None = None
    data_retention_days: int | None = None
    naming: NamingConfig | None = None
    quality_gates: QualityGatesConfig | None = None
    require_contracts: bool | None = None
    audit_branch_retention_days: float | None = None

    def dbt_vars(self) -> dict[str, Any]:
        """dbt vars that carry governance into SQL (the shared floe_retention macro)."""
        if self.data_retention_days is None:
            return {}
        return {"floe_data_retention_days": self.data_retention_days}


class EnforcementResultSummary(FrozenModel):
    passed: bool = True
    enforcement_level: EnforcementLevel = "warn"
    models_validated: int = 0
    error_count: int = 0
    warning_count: int = 0
    policy_types_checked: list[str] = Field(default_factory=list)


class ResourceAttributes(FrozenModel):
    service_name: str
    service_version: str | None = None
    deployment_environment: str = "dev"


class TelemetryConfig(FrozenModel):
    enabled: bool = True
    exporter: Literal["otlp", "console", "file"] = "otlp"
    otlp_endpoint: str = DEFAULT_OTLP_ENDPOINT
    resource_attributes: ResourceAttributes


class ObservabilityConfig(FrozenModel):
    telemetry: TelemetryConfig
    lineage: bool = True
    lineage_namespace: str
    lineage_endpoint: str | None = None
    lineage_transport: Literal["http", "console", "file"] | None = None
    logging: LoggingConfig = Field(default_factory=LoggingConfig)


class CompiledArtifacts(FrozenModel):
    """Everything the runtime needs about one data product, resolved and versioned."""

    version: str = COMPILED_ARTIFACTS_VERSION
    metadata: ArtifactsMetadata
    identity: ProductIdentity
    plugins: ResolvedPlugins
    transforms: ResolvedTransforms
    dbt_profiles: dict[str, Any]
    governance: ResolvedGovernance | None = None
    enforcement_result: EnforcementResultSummary = Field(default_factory=EnforcementResultSummary)
    observability: ObservabilityConfig
    schedule: ScheduleSpec | None = None
    # the product's data contract (datacontract.yaml), normalized; checked at publication
    contract: DataContract | None = None
    # published tables of other products this one reads through the catalog
    inputs: list[ResolvedInput] = Field(default_factory=list)
    # snapshots and incremental models whose state is saved and restored around each run
    state: ResolvedState | None = None
    # the run pod's container resources in the cluster (the manifest's defaults with what
    # floe.yaml asked laid over them); the generated job's dagster-k8s/config tag
    run_resources: RunResources | None = None

    def to_json(self) -> str:
        """Stable JSON (sorted keys, two-space indent, trailing newline)."""
        import json

        return json.dumps(self.model_dump(mode="json"), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> CompiledArtifacts:
        return cls.model_validate_json(text)

"""PlatformManifest: what the platform team writes in ``manifest.yaml``."""

from __future__ import annotations

import re
import warnings
from pathlib import PurePosixPath
from typing import Any, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from floe.schemas._base import (
    EnforcementLevel,
    FrozenModel,
    HttpUrl,
    SecretReference,
    SemVer,
    is_secret_key,
)
from floe.schemas.quantity import Quantity, parse_quantity
from floe.schemas.versions import MANIFEST_API_VERSION

DEFAULT_OTLP_ENDPOINT = "http://localhost:4317"

# ---------------------------------------------------------------- plugins


class PluginSelection(FrozenModel):
    """One plugin choice: its type, optional version, and free-form config."""

    type: str = Field(min_length=1)
    version: str | None = None
    config: dict[str, Any] = Field(default_factory=dict)

    @field_validator("config", mode="before")
    @classmethod
    def _no_literal_credentials(cls, config: Any) -> Any:
        """Before any typed check: a literal credential is FLOE104 at its own key."""
        _reject_literal_secrets(config, "config")
        return config


def _reject_literal_secrets(value: Any, path: str) -> None:
    """Credentials must be references ({env: NAME} or {secret: {name, key}}), never literals."""
    if isinstance(value, dict):
        if value and set(value) <= {"env", "secret"}:  # already a reference
            SecretReference.model_validate(value)
            return
        for key, item in value.items():
            here = f"{path}.{key}"
            if is_secret_key(str(key)):
                if isinstance(item, dict):
                    SecretReference.model_validate(item)
                    continue
                raise PydanticCustomError(
                    "literal_secret",
                    "'{path}' holds a literal credential; reference it instead as "
                    "{{env: VAR_NAME}} or {{secret: {{name: k8s-secret, key: field}}}}",
                    {"path": here},
                )
            _reject_literal_secrets(item, here)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _reject_literal_secrets(item, f"{path}[{index}]")


class AttachableDatabase(FrozenModel):
    """A database products may attach to their DuckDB (dbt-duckdb ``attach``), by alias."""

    alias: str = Field(pattern=r"^[a-z_][a-z0-9_]*$")
    path: str = Field(min_length=1)
    read_only: bool = True
    type: str | None = None  # dbt-duckdb's attach type (sqlite, postgres, ...); None: duckdb


def _inside_project(value: str) -> str:
    parts = PurePosixPath(value).parts
    if value.startswith(("/", "~")) or ".." in parts:
        raise ValueError(f"{value!r} must be a relative path inside the dbt project")
    return value


class ProductComputeOptions(FrozenModel):
    """The dbt-duckdb profile options a product's floe.yaml may choose (``compute:``),
    and their bounds; the plugin's ``config`` holds the defaults every product gets."""

    max_threads: int | None = Field(default=None, ge=1, le=256)
    settings: list[str] = Field(default_factory=list)  # DuckDB setting names
    extensions: list[str] = Field(default_factory=list)
    attach: list[AttachableDatabase] = Field(default_factory=list)
    external_roots: list[str] = Field(default_factory=list)  # for external materializations

    @field_validator("external_roots")
    @classmethod
    def _roots_inside(cls, roots: list[str]) -> list[str]:
        return [_inside_project(r) for r in roots]

    @model_validator(mode="after")
    def _unique_aliases(self) -> ProductComputeOptions:
        aliases = [a.alias for a in self.attach]
        twice = sorted({a for a in aliases if aliases.count(a) > 1})
        if twice:
            raise ValueError(f"attach aliases must be unique: {', '.join(twice)}")
        return self


class ComputePlugin(PluginSelection):
    type: Literal["duckdb"]
    # what products may choose beyond the defaults in config (none: nothing)
    product_options: ProductComputeOptions | None = None


class ResourceAmounts(FrozenModel):
    """CPU and memory as Kubernetes quantities (``500m``, ``2``; ``512Mi``, ``4Gi``)."""

    cpu: Quantity | None = None
    memory: Quantity | None = None

    def exceeding(self, bound: ResourceAmounts) -> list[tuple[str, str, str]]:
        """(resource, this amount, the bound) for each amount above ``bound``'s."""
        out = []
        for name in ("cpu", "memory"):
            mine, most = getattr(self, name), getattr(bound, name)
            if (
                mine is not None
                and most is not None
                and parse_quantity(mine) > parse_quantity(most)
            ):
                out.append((name, mine, most))
        return out


class RunResources(FrozenModel):
    """A run pod's container resources: what the scheduler reserves (requests) and the
    most it may use (limits; memory above it is an OOM kill)."""

    requests: ResourceAmounts = Field(default_factory=ResourceAmounts)
    limits: ResourceAmounts = Field(default_factory=ResourceAmounts)

    @model_validator(mode="after")
    def _limits_cover_requests(self) -> RunResources:
        for name, request, limit in self.requests.exceeding(self.limits):
            raise ValueError(f"requests.{name} {request} is above limits.{name} {limit}")
        return self

    def over(self, base: RunResources) -> RunResources:
        """``base`` with what this one sets laid over it (not validated: the caller says
        which field made requests exceed limits)."""
        return RunResources.model_construct(
            requests=base.requests.model_copy(update=self.requests.model_dump(exclude_none=True)),
            limits=base.limits.model_copy(update=self.limits.model_dump(exclude_none=True)),
        )

    def k8s(self) -> dict[str, dict[str, str]]:
        """The container ``resources`` object."""
        return {
            kind: amounts
            for kind, amounts in (
                ("requests", self.requests.model_dump(exclude_none=True)),
                ("limits", self.limits.model_dump(exclude_none=True)),
            )
            if amounts
        }


DEFAULT_RUN_RESOURCES = RunResources(
    requests=ResourceAmounts(cpu="250m", memory="512Mi"),
    limits=ResourceAmounts(cpu="1", memory="2Gi"),
)
DEFAULT_MAX_RUN_RESOURCES = ResourceAmounts(cpu="2", memory="4Gi")


class RunsConfig(FrozenModel):
    """Where and how many runs execute in the cluster: each run is its own Kubernetes Job
    (Dagster's K8s run launcher), sized by ``resources`` unless a product's floe.yaml asks
    for more (up to ``max_resources``), queued by Dagster's run coordinator."""

    resources: RunResources = DEFAULT_RUN_RESOURCES
    max_resources: ResourceAmounts = DEFAULT_MAX_RUN_RESOURCES
    max_concurrent_runs: int = Field(default=4, ge=1, le=1000)
    # two runs of one product would fight over its published tables
    per_product_concurrency: int = Field(default=1, ge=1, le=100)

    @model_validator(mode="after")
    def _defaults_within_max(self) -> RunsConfig:
        for kind in ("requests", "limits"):
            for name, mine, most in getattr(self.resources, kind).exceeding(self.max_resources):
                raise ValueError(
                    f"resources.{kind}.{name} {mine} is above max_resources.{name} {most}"
                )
        return self


class OrchestratorPlugin(PluginSelection):
    type: Literal["dagster"]
    # the cluster's runs (defaults when absent: RunsConfig())
    runs: RunsConfig = Field(default_factory=RunsConfig)


class PolarisConfig(FrozenModel):
    """The Iceberg REST catalog (Apache Polaris) the cluster's runs publish to."""

    uri: HttpUrl
    warehouse: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    client_id: SecretReference
    client_secret: SecretReference
    scope: str = Field(default="PRINCIPAL_ROLE:ALL", min_length=1)


class CatalogPlugin(PluginSelection):
    type: Literal["polaris"]
    config: PolarisConfig  # type: ignore[assignment]


class StorageConfig(FrozenModel):
    """The object storage under the catalog's warehouse (S3 or MinIO)."""

    endpoint: HttpUrl | None = None  # required for MinIO; AWS S3 uses its own
    bucket: str = Field(pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
    region: str = Field(default="us-east-1", min_length=1)
    access_key_id: SecretReference | None = None
    secret_access_key: SecretReference | None = None
    path_style_access: bool = True


class StoragePlugin(PluginSelection):
    type: Literal["s3", "minio"]
    config: StorageConfig  # type: ignore[assignment]

    @model_validator(mode="after")
    def _minio_needs_an_endpoint(self) -> StoragePlugin:
        if self.type == "minio" and self.config.endpoint is None:
            raise PydanticCustomError(
                "minio_endpoint", "MinIO storage needs config.endpoint (e.g. http://minio:9000)"
            )
        return self


class LineagePlugin(PluginSelection):
    type: Literal["marquez", "openlineage"]


class TelemetryPlugin(PluginSelection):
    type: Literal["opentelemetry", "jaeger"]


class PluginsConfig(FrozenModel):
    compute: ComputePlugin
    orchestrator: OrchestratorPlugin
    catalog: CatalogPlugin | None = None
    storage: StoragePlugin | None = None
    lineage_backend: LineagePlugin | None = None
    telemetry_backend: TelemetryPlugin | None = None


class RunStateConfig(FrozenModel):
    """Where dbt snapshots and incremental models keep their state between runs (each run
    pod starts with an empty DuckDB file): saved after a run and restored before the
    next, in the storage plugin's bucket under ``prefix`` in the cluster
    (``FLOE_CATALOG=platform``), under the platform's ``.floe/state`` locally."""

    store: Literal["storage"] = "storage"
    prefix: str = Field(default="floe-state", pattern=r"^[a-z0-9][a-z0-9._-]*(/[a-z0-9._-]+)*$")


# ---------------------------------------------------------------- observability


class TracingConfig(FrozenModel):
    enabled: bool = True
    exporter: Literal["otlp", "console", "file"] = "otlp"
    endpoint: HttpUrl = DEFAULT_OTLP_ENDPOINT


class LineageManifestConfig(FrozenModel):
    enabled: bool = True
    transport: Literal["http", "console", "file"] | None = None
    endpoint: HttpUrl | None = None

    @model_validator(mode="after")
    def _http_needs_endpoint(self) -> LineageManifestConfig:
        if self.transport == "http" and self.endpoint is None:
            raise ValueError("lineage.transport 'http' needs lineage.endpoint")
        return self


class LoggingConfig(FrozenModel):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["json", "text"] = "json"


class ObservabilityManifestConfig(FrozenModel):
    """Tracing, lineage and logging settings; every part has a documented default."""

    tracing: TracingConfig = Field(default_factory=TracingConfig)
    lineage: LineageManifestConfig = Field(default_factory=LineageManifestConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)


# ---------------------------------------------------------------- governance

_MAX_PATTERN = 200
# Nested quantifiers such as (a+)+ or (a*)* backtrack exponentially.
_NESTED_QUANTIFIER = re.compile(r"\([^()]*[+*][^()]*\)\s*[+*{]")


def check_safe_regex(pattern: str) -> str:
    """Compile a user regex, refusing over-long or catastrophically backtracking ones."""
    if len(pattern) > _MAX_PATTERN:
        raise ValueError(f"pattern longer than {_MAX_PATTERN} characters")
    if _NESTED_QUANTIFIER.search(pattern):
        raise ValueError(f"pattern {pattern!r} nests quantifiers, e.g. (a+)+, which can hang")
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"pattern {pattern!r} is not a valid regex: {exc}") from exc
    return pattern


NAMING_PRESETS: dict[str, dict[str, str]] = {
    # dbt's layer folders and the prefixes the demo uses.
    "layered": {
        "staging": r"^stg_[a-z0-9_]+$",
        "intermediate": r"^int_[a-z0-9_]+$",
        "marts": r"^mart_[a-z0-9_]+$",
    },
    "medallion": {
        "bronze": r"^bronze_[a-z0-9_]+$",
        "silver": r"^silver_[a-z0-9_]+$",
        "gold": r"^gold_[a-z0-9_]+$",
    },
}


class NamingConfig(FrozenModel):
    """Model-name convention per layer (the folder under ``models/``)."""

    convention: Literal["layered", "medallion", "custom"] = "layered"
    patterns: dict[str, str] = Field(default_factory=dict)

    @field_validator("patterns")
    @classmethod
    def _safe_patterns(cls, patterns: dict[str, str]) -> dict[str, str]:
        for pattern in patterns.values():
            check_safe_regex(pattern)
        return patterns

    @model_validator(mode="after")
    def _custom_needs_patterns(self) -> NamingConfig:
        if self.convention == "custom" and not self.patterns:
            raise ValueError("naming.convention 'custom' needs naming.patterns")
        return self

    def effective_patterns(self) -> dict[str, str]:
        """Layer -> regex: the preset, overridden by explicit patterns."""
        return {**NAMING_PRESETS.get(self.convention, {}), **self.patterns}


class QualityGatesConfig(FrozenModel):
    require_model_descriptions: bool = False
    require_column_descriptions: bool = False
    # Minimum percentage of a model's columns that carry at least one test, per layer
    # ("default" applies to layers not listed).
    min_test_coverage: dict[str, float] = Field(default_factory=dict)

    @field_validator("min_test_coverage")
    @classmethod
    def _percentages(cls, value: dict[str, float]) -> dict[str, float]:
        for layer, pct in value.items():
            if not 0 <= pct <= 100:
                raise ValueError(f"min_test_coverage.{layer} must be between 0 and 100")
        return value


class GovernanceConfig(FrozenModel):
    policy_enforcement_level: EnforcementLevel | None = None
    audit_logging: Literal["enabled", "disabled"] | None = None
    data_retention_days: int | None = Field(default=None, ge=1, le=36500)
    naming: NamingConfig | None = None
    quality_gates: QualityGatesConfig | None = None
    # every published table needs a data contract (datacontract.yaml) of its product
    require_contracts: bool | None = None
    # audit branches of publications (kept for inspection when an audit fails) older than
    # this are removed by the table's next publication (default 7 days)
    audit_branch_retention_days: float | None = Field(default=None, ge=0, le=3650)


# ---------------------------------------------------------------- manifest


class ManifestMetadata(FrozenModel):
    name: str = Field(pattern=r"^[a-z][a-z0-9-]{0,62}$")
    version: SemVer
    owner: str = Field(min_length=1)
    description: str | None = None


KNOWN_MANIFEST_FIELDS = frozenset(
    {"apiVersion", "kind", "metadata", "plugins", "observability", "governance"}
)


class PlatformManifest(FrozenModel):
    """The platform team's ``manifest.yaml``.

    Unknown top-level keys are kept in ``model_extra`` and reported with a warning
    (forward compatibility); unknown keys below the top level are errors.
    """

    model_config = ConfigDict(frozen=True, extra="allow", populate_by_name=True)

    api_version: Literal["floe.dev/v1"] = Field(default=MANIFEST_API_VERSION, alias="apiVersion")
    kind: Literal["PlatformManifest"] = "PlatformManifest"
    metadata: ManifestMetadata
    plugins: PluginsConfig
    observability: ObservabilityManifestConfig | None = None
    governance: GovernanceConfig | None = None
    # persistent state of snapshots and incremental models; none = none configured
    state: RunStateConfig | None = None

    def unknown_fields(self) -> list[str]:
        """Top-level keys this version of floe does not know (sorted)."""
        return sorted((self.model_extra or {}).keys())

    @model_validator(mode="after")
    def warn_on_extra_fields(self) -> PlatformManifest:
        unknown = self.unknown_fields()
        if unknown:
            warnings.warn(
                f"manifest has unknown top-level fields (ignored): {', '.join(unknown)}",
                UserWarning,
                stacklevel=2,
            )
        return self

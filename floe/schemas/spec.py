"""FloeSpec: what a data team writes in ``floe.yaml`` beside its dbt project."""

from __future__ import annotations

import keyword
import re
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from floe.schemas._base import EnforcementLevel, FrozenModel, ModelName, ProductName, SemVer
from floe.schemas.manifest import RunResources

Tier = Literal["bronze", "silver", "gold"]

_CRON_FIELD = re.compile(r"^(\*|\d+(-\d+)?)(/\d+)?(,(\*|\d+(-\d+)?)(/\d+)?)*$")
_CRON_NAMED = re.compile(r"^@(hourly|daily|weekly|monthly|yearly|annually|midnight)$")
_CRON_RANGES = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]


def check_cron(expr: str) -> str:
    """Validate a five-field cron expression (or @daily and friends)."""
    if _CRON_NAMED.match(expr):
        return expr
    fields = expr.split()
    if len(fields) != 5:
        raise ValueError(f"cron {expr!r} must have 5 fields (minute hour day month weekday)")
    for text, (low, high) in zip(fields, _CRON_RANGES, strict=True):
        if not _CRON_FIELD.match(text):
            raise ValueError(f"cron field {text!r} in {expr!r} is not valid")
        for number in re.findall(r"\d+", text.split("/")[0]):
            if not low <= int(number) <= high:
                raise ValueError(f"cron field {text!r} in {expr!r} is outside {low}-{high}")
    return expr


def module_name(product: str) -> str:
    """The Python package name of a product directory inside the image (``-`` -> ``_``)."""
    return product.replace("-", "_")


class SpecMetadata(FrozenModel):
    name: ProductName
    version: SemVer
    owner: str = Field(min_length=1)
    description: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _importable(cls, name: str) -> str:
        mod = module_name(name)
        if keyword.iskeyword(mod) or not mod.isidentifier():
            raise ValueError(f"product name {name!r} becomes {mod!r}, not a Python module name")
        return name


class PlatformRef(FrozenModel):
    manifest: str = Field(default="../manifest.yaml", min_length=1)


def is_published(tier: str, publish: bool | None) -> bool:
    """Whether a model is published to the lakehouse: gold-tier models unless
    ``publish: false``, others only with ``publish: true``."""
    return publish if publish is not None else tier == "gold"


class TransformSpec(FrozenModel):
    """One dbt model the product declares."""

    name: ModelName
    tier: Tier = "silver"
    tags: list[str] = Field(default_factory=list)
    depends_on: list[ModelName] = Field(default_factory=list, alias="dependsOn")
    # published to the lakehouse catalog: gold models by default; true/false overrides
    publish: bool | None = None

    @property
    def published(self) -> bool:
        return is_published(self.tier, self.publish)


class TransformSelection(FrozenModel):
    """dbt models declared together, by selection (floe.yaml ``select:``), with the tier
    and publish flag they share: a folder (``path``, relative to the dbt project, as dbt's
    ``path:`` method), a dbt tag (``tag``) or a named selector of the project's
    selectors.yml (``selector``).  A model named in ``transforms`` takes its own entry."""

    path: str | None = Field(default=None, min_length=1)
    tag: str | None = Field(default=None, min_length=1)
    selector: str | None = Field(default=None, min_length=1)
    tier: Tier = "silver"
    tags: list[str] = Field(default_factory=list)
    publish: bool | None = None

    @model_validator(mode="after")
    def _one_method(self) -> TransformSelection:
        given = [k for k in ("path", "tag", "selector") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                "a selection names exactly one of path, tag, selector"
                + (f" (found {', '.join(given)})" if given else "")
            )
        if self.path is not None and (self.path.startswith("/") or ".." in self.path.split("/")):
            raise ValueError(f"path {self.path!r} must be a folder inside the dbt project")
        return self

    def describe(self) -> str:
        method = "path" if self.path else "tag" if self.tag else "selector"
        return f"{method}: {getattr(self, method)}"


# The schema, in a consumer's DuckDB, of the tables it reads from other products (each
# as <producer module>__<table>); its dbt project declares them as sources.
INPUT_SCHEMA = "floe_inputs"


class InputSpec(FrozenModel):
    """A published table of another data product this one reads, through the catalog."""

    product: ProductName
    table: ModelName
    # the producer's contract versions this product accepts (semver range: ^1, >=1.2,<2)
    contract: str = Field(default="*", min_length=1)

    @field_validator("contract")
    @classmethod
    def _range(cls, value: str) -> str:
        from floe.contracts.semver import parse_range

        parse_range(value)
        return value

    @property
    def source_name(self) -> str:
        """The dbt source the consumer's models read it from (the producer's module)."""
        return module_name(self.product)

    @property
    def relation(self) -> str:
        """Its table in the consumer's DuckDB (schema floe_inputs)."""
        return f"{module_name(self.product)}__{self.table}"


class ScheduleSpec(FrozenModel):
    cron: str
    timezone: str = "UTC"
    enabled: bool = True

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        return check_cron(value)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown timezone {value!r}") from exc
        return value


class SpecQualityGates(FrozenModel):
    """What a product may add on top of the platform's gates (it can only strengthen)."""

    require_model_descriptions: bool | None = None
    require_column_descriptions: bool | None = None
    min_test_coverage: dict[str, float] = Field(default_factory=dict)


class ProductCompute(FrozenModel):
    """dbt-duckdb profile options this product chooses, among those the manifest's compute
    plugin allows (``product_options``); checked at compile."""

    threads: int | None = Field(default=None, ge=1)
    settings: dict[str, str | int | float | bool] = Field(default_factory=dict)
    extensions: list[str] = Field(default_factory=list)
    attach: list[str] = Field(default_factory=list)  # aliases the manifest defines
    external_root: str | None = Field(default=None, min_length=1)


class SpecGovernance(FrozenModel):
    policy_enforcement_level: EnforcementLevel | None = None
    quality_gates: SpecQualityGates | None = None
    require_contracts: bool | None = None  # may only strengthen the manifest


class ProductRuns(FrozenModel):
    """The product's run pod in the cluster: resources beyond the platform's defaults, up
    to the manifest's ``plugins.orchestrator.runs.max_resources`` (checked at compile)."""

    resources: RunResources = Field(default_factory=RunResources)


class FloeSpec(FrozenModel):
    """A data team's ``floe.yaml``."""

    api_version: Literal["floe.dev/v1"] = Field(default="floe.dev/v1", alias="apiVersion")
    kind: Literal["FloeSpec"] = "FloeSpec"
    metadata: SpecMetadata
    platform: PlatformRef = Field(default_factory=PlatformRef)
    # models by name (with their own settings and dependsOn) ...
    transforms: list[TransformSpec] = Field(default_factory=list)
    # ... and by selection; a model neither names nor selects takes defaultTier, if set
    select: list[TransformSelection] = Field(default_factory=list)
    default_tier: Tier | None = Field(default=None, alias="defaultTier")
    # published tables of other products this one reads (a data mesh, under contract)
    inputs: list[InputSpec] = Field(default_factory=list)
    schedule: ScheduleSpec | None = None
    governance: SpecGovernance | None = None
    compute: ProductCompute | None = None
    runs: ProductRuns | None = None

    @property
    def by_selection(self) -> bool:
        """Whether models are declared beyond ``transforms`` (known from the dbt graph)."""
        return bool(self.select or self.default_tier)

    @model_validator(mode="after")
    def _transform_graph(self) -> FloeSpec:
        if not (self.transforms or self.select or self.default_tier):
            raise ValueError("declare the product's models: transforms, select or defaultTier")
        names = [t.name for t in self.transforms]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate transform names: {', '.join(dupes)}")
        known = set(names)
        for t in self.transforms:
            missing = [d for d in t.depends_on if d not in known]
            if missing and not self.by_selection:  # selected models are known at compile
                raise ValueError(
                    f"transform {t.name!r} dependsOn unknown transform(s): {', '.join(missing)}"
                )
        cycle = find_cycle({t.name: list(t.depends_on) for t in self.transforms})
        if cycle:
            raise ValueError(f"transforms form a cycle: {' -> '.join(cycle)}")
        reads = [(i.product, i.table) for i in self.inputs]
        twice = sorted({f"{p}.{t}" for p, t in reads if reads.count((p, t)) > 1})
        if twice:
            raise ValueError(f"inputs list a table twice: {', '.join(twice)}")
        own = [f"{i.product}.{i.table}" for i in self.inputs if i.product == self.metadata.name]
        if own:
            raise ValueError(f"a product cannot read its own tables as inputs: {', '.join(own)}")
        return self


def find_cycle(graph: dict[str, list[str]]) -> list[str] | None:
    """A cycle in ``node -> dependencies`` as a path that starts and ends on one node."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph.get(node, [])):
            if state.get(dep) == 1:
                return [*stack[stack.index(dep) :], dep]
            if dep not in state:
                found = visit(dep)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None

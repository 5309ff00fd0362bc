"""A product's data contract as floe uses it: the ODCS v3 document (datacontract.yaml),
normalized to what floe checks and records.

Compiled into ``compiled_artifacts.json`` (``contract``), so the runtime checks a
publication against the contract of the same compile without reading YAML or the ODCS
library.  Standard library and pydantic only; Python 3.10.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

CONTRACT_FILE = "datacontract.yaml"
LogicalType = Literal[
    "string", "date", "timestamp", "time", "number", "integer", "object", "array", "boolean",
    "map", "vector",
]  # fmt: skip
Metric = Literal["nullValues", "missingValues", "invalidValues", "duplicateValues", "rowCount"]
# ODCS comparison operators (DataQualityOperators), as floe evaluates them
OPERATORS = (
    "mustBe",
    "mustNotBe",
    "mustBeGreaterThan",
    "mustBeGreaterOrEqualTo",
    "mustBeLessThan",
    "mustBeLessOrEqualTo",
    "mustBeBetween",
    "mustNotBeBetween",
)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class QualityRule(_Frozen):
    """One executable ODCS quality rule: a library metric or a SQL query, with one
    operator.  ``source`` is where it is written (``datacontract.yaml:LINE``)."""

    id: str | None = None
    name: str | None = None
    kind: Literal["library", "sql"]
    metric: Metric | None = None
    query: str | None = None
    arguments: dict[str, Any] = Field(default_factory=dict)
    operator: str
    threshold: Any
    unit: Literal["rows", "percent"] = "rows"
    column: str | None = None  # property-level rules
    source: str

    def describe(self) -> str:
        what = self.metric if self.kind == "library" else "sql"
        label = f" {self.id or self.name}" if (self.id or self.name) else ""
        unit = "%" if self.unit == "percent" else ""
        return f"{what}{label} {operator_text(self.operator, self.threshold)}{unit}"

    def passes(self, observed: float | int | bool | str | None) -> bool:
        return compare(self.operator, observed, self.threshold)


def operator_text(operator: str, threshold: Any) -> str:
    symbols = {
        "mustBe": "=",
        "mustNotBe": "!=",
        "mustBeGreaterThan": ">",
        "mustBeGreaterOrEqualTo": ">=",
        "mustBeLessThan": "<",
        "mustBeLessOrEqualTo": "<=",
    }
    if operator == "mustBeBetween":
        return f"between {threshold[0]} and {threshold[1]}"
    if operator == "mustNotBeBetween":
        return f"not between {threshold[0]} and {threshold[1]}"
    return f"{symbols[operator]} {threshold}"


def compare(operator: str, observed: Any, threshold: Any) -> bool:
    """ODCS operator semantics (between is inclusive of both ends)."""
    if observed is None:
        return False
    if operator == "mustBe":
        return bool(observed == threshold)
    if operator == "mustNotBe":
        return bool(observed != threshold)
    value = float(observed)
    if operator == "mustBeGreaterThan":
        return value > float(threshold)
    if operator == "mustBeGreaterOrEqualTo":
        return value >= float(threshold)
    if operator == "mustBeLessThan":
        return value < float(threshold)
    if operator == "mustBeLessOrEqualTo":
        return value <= float(threshold)
    low, high = (float(t) for t in threshold)
    inside = low <= value <= high
    return inside if operator == "mustBeBetween" else not inside


class ContractColumn(_Frozen):
    name: str
    logical_type: LogicalType | None = None
    required: bool = False
    unique: bool = False
    primary_key: bool = False
    description: str | None = None
    classification: str | None = None
    source: str  # datacontract.yaml:LINE

    def schema_terms(self) -> dict[str, Any]:
        """What consumers rely on (the fingerprint and the diff): name, type, guarantees."""
        return {
            "name": self.name,
            "logicalType": self.logical_type,
            "required": self.required or self.primary_key,
            "unique": self.unique or self.primary_key,
            "primaryKey": self.primary_key,
        }


class ContractTable(_Frozen):
    """One ODCS schema object: a published dbt model (``physicalName``, else ``name``)."""

    name: str  # the ODCS object name
    model: str  # the dbt model it describes (= the published table's name)
    description: str | None = None
    columns: list[ContractColumn] = Field(default_factory=list)
    quality: list[QualityRule] = Field(default_factory=list)  # table rules, then columns'
    source: str

    def column(self, name: str) -> ContractColumn | None:
        return next((c for c in self.columns if c.name.lower() == name.lower()), None)

    def schema_terms(self) -> list[dict[str, Any]]:
        return [c.schema_terms() for c in self.columns]

    def fingerprint(self) -> str:
        """sha256 of what consumers rely on (column order, names, types, guarantees)."""
        return schema_fingerprint(self.schema_terms())


def schema_fingerprint(terms: list[dict[str, Any]]) -> str:
    text = json.dumps(terms, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


class DataContract(_Frozen):
    """The product's contract: ODCS id, semver version, the tables it promises."""

    id: str
    version: str
    name: str | None = None
    status: str | None = None
    file: str = CONTRACT_FILE  # relative to the product directory
    version_source: str = ""  # datacontract.yaml:LINE of the version
    tables: list[ContractTable] = Field(default_factory=list)

    def table(self, model: str) -> ContractTable | None:
        return next((t for t in self.tables if t.model == model), None)


# ---------------------------------------------------------------- semver

_SEMVER = re.compile(r"^(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$")


def parse_semver(text: str) -> tuple[int, int, int, str]:
    """(major, minor, patch, pre-release) of a semantic version; ValueError otherwise."""
    match = _SEMVER.match(str(text).strip())
    if not match:
        raise ValueError(f"{text!r} is not a semantic version (MAJOR.MINOR.PATCH)")
    return int(match.group(1)), int(match.group(2)), int(match.group(3)), match.group(4) or ""


def version_key(text: str) -> tuple[int, int, int, int, str]:
    major, minor, patch, pre = parse_semver(text)
    # a pre-release sorts before its release
    return major, minor, patch, 0 if pre else 1, pre


# ---------------------------------------------------------------- what a publication records

PROPERTY_PREFIX = "floe.contract."


@dataclass(frozen=True)
class PublishedContract:
    """The contract a table was last published under (its Iceberg table properties)."""

    id: str
    version: str
    fingerprint: str
    terms: list[dict[str, Any]]


def table_properties(contract: DataContract, table: ContractTable) -> dict[str, str]:
    """Iceberg table properties recording the contract a publication kept."""
    return {
        f"{PROPERTY_PREFIX}id": contract.id,
        f"{PROPERTY_PREFIX}version": contract.version,
        f"{PROPERTY_PREFIX}fingerprint": table.fingerprint(),
        f"{PROPERTY_PREFIX}schema": json.dumps(table.schema_terms(), separators=(",", ":")),
    }


def snapshot_properties(contract: DataContract, table: ContractTable) -> dict[str, str]:
    """The same, minus the schema, for the snapshot summary."""
    props = table_properties(contract, table)
    props.pop(f"{PROPERTY_PREFIX}schema")
    return props


def published_contract(properties: Mapping[str, str]) -> PublishedContract | None:
    """What :func:`table_properties` recorded, or None for a table published without one."""
    version = properties.get(f"{PROPERTY_PREFIX}version")
    if not version:
        return None
    try:
        terms = json.loads(properties.get(f"{PROPERTY_PREFIX}schema") or "[]")
    except ValueError:
        terms = []
    return PublishedContract(
        id=properties.get(f"{PROPERTY_PREFIX}id", ""),
        version=version,
        fingerprint=properties.get(f"{PROPERTY_PREFIX}fingerprint", ""),
        terms=terms if isinstance(terms, list) else [],
    )

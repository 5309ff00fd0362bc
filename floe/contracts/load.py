"""Reading ``datacontract.yaml``: an ODCS v3 document, validated with the standard's own
JSON Schema and pydantic models (the ``open-data-contract-standard`` package), then
normalized to :class:`floe.contracts.model.DataContract`.

Every problem is a :class:`floe.errors.ContractError` naming the file, line, column and
field (exit 4, as other configuration errors): malformed YAML, a document that is not
ODCS v3, an unknown logical type, a version that is not semver, a quality rule floe does
not run.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from floe.contracts.model import (
    CONTRACT_FILE,
    OPERATORS,
    ContractColumn,
    ContractTable,
    DataContract,
    QualityRule,
    parse_semver,
)
from floe.errors import ConfigSyntaxError, ContractError, FloeError, Location
from floe.sources import FieldPath, locate, parse_yaml, read_text

SUPPORTED_API = re.compile(r"^v3\.\d+\.\d+$")
COLUMN_METRICS = {"nullValues", "missingValues", "invalidValues", "duplicateValues"}
TABLE_METRICS = {"rowCount", "duplicateValues"}
_MODEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@functools.lru_cache(maxsize=1)
def _validator() -> Any:
    """The ODCS JSON Schema (draft 2019-09) as shipped by the standard's package."""
    from importlib import resources

    import jsonschema

    text = resources.files("open_data_contract_standard").joinpath("schema.json").read_text()
    schema = _with_upstream_fixes(json.loads(text))
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema)


def _with_upstream_fixes(schema: dict[str, Any]) -> dict[str, Any]:
    """The fix the standard made after the 3.2.0 package shipped (bitol-io/
    open-data-contract-standard#322, fixed by #324 and #328): a ``logicalType``
    conditional whose ``then`` requires a block (``map``, ``vector``) applies only when
    ``logicalType`` is present.  Without it every property that leaves ``logicalType``
    out, which the standard allows, fails with "'map' is a required property"."""
    branches = schema.get("$defs", {}).get("SchemaBaseProperty", {}).get("allOf", [])
    for branch in branches:
        condition = branch.get("if") or {}
        guards_type = "logicalType" in (condition.get("properties") or {})
        if guards_type and (branch.get("then") or {}).get("required"):
            condition.setdefault("required", ["logicalType"])
    return schema


def _where(path: Path, positions: Mapping[FieldPath, tuple[int, int]], field: FieldPath) -> str:
    line = locate(path, dict(positions), field).line
    return f"{path.name}:{line}" if line else path.name


def load_contract(path: Path) -> DataContract:
    """Parse, validate and normalize one contract file."""
    path = Path(path)
    try:
        text = read_text(path)
        data, positions = parse_yaml(text, path)
    except ConfigSyntaxError as exc:
        raise ContractError(
            f"data contract: {exc.message}", exc.location, hint="fix the YAML"
        ) from None
    except FloeError as exc:
        raise ContractError(f"data contract: {exc.message}", exc.location) from None
    if not isinstance(data, dict):
        raise ContractError(
            "data contract: not an ODCS document",
            Location(path, 1, 1),
            expected="a mapping with apiVersion, kind, id, version, schema",
            found=type(data).__name__,
        )
    data = _as_json(data)
    _check_odcs_v3(data, path, positions)
    _check_schema(data, path, positions)
    from open_data_contract_standard.model import OpenDataContractStandard

    document = OpenDataContractStandard.model_validate(data)
    try:
        parse_semver(str(document.version))
    except ValueError as exc:
        raise ContractError(
            "data contract: version must be semver",
            locate(path, positions, ("version",)),
            expected="MAJOR.MINOR.PATCH (a breaking change needs a new MAJOR)",
            found=str(exc).split(" is not")[0],
        ) from None
    tables = [
        _table(obj, index, data["schema"][index], path, positions)
        for index, obj in enumerate(document.schema_ or [])
    ]
    seen: dict[str, int] = {}
    for index, table in enumerate(tables):
        if table.model in seen:
            raise ContractError(
                f"data contract: two schema objects describe model {table.model}",
                locate(path, positions, ("schema", index, "name")),
                hint=f"merge it with schema[{seen[table.model]}]",
            )
        seen[table.model] = index
    return DataContract(
        id=str(document.id),
        version=str(document.version),
        name=document.name,
        status=document.status,
        file=path.name if path.name else CONTRACT_FILE,
        version_source=_where(path, positions, ("version",)),
        tables=tables,
    )


def _as_json(value: Any) -> Any:
    """The document as JSON sees it (the standard's schema is JSON Schema): YAML dates
    and timestamps become ISO strings."""
    import datetime

    if isinstance(value, dict):
        return {k: _as_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_json(v) for v in value]
    if isinstance(value, datetime.date | datetime.datetime):
        return value.isoformat()
    return value


def _check_odcs_v3(data: dict[str, Any], path: Path, positions: Any) -> None:
    api = data.get("apiVersion")
    if api is None or not SUPPORTED_API.match(str(api)):
        raise ContractError(
            "data contract: not an ODCS v3 document",
            locate(path, positions, ("apiVersion",)),
            expected="apiVersion v3.x.y (Open Data Contract Standard 3)",
            found=repr(api) if api is not None else "no apiVersion",
        )
    if data.get("kind") != "DataContract":
        raise ContractError(
            "data contract: not an ODCS data contract",
            locate(path, positions, ("kind",)),
            expected="kind: DataContract",
            found=repr(data.get("kind")),
        )


def _check_schema(data: dict[str, Any], path: Path, positions: Any) -> None:
    """The standard's JSON Schema; the most specific error heads, up to five follow."""
    import jsonschema

    errors = list(_validator().iter_errors(data))
    if not errors:
        return
    best = jsonschema.exceptions.best_match(errors)
    ordered = [best, *[e for e in errors if e is not best]]

    def describe(error: Any) -> tuple[Location, str]:
        leaf = error
        while leaf.context:  # anyOf/oneOf: the branch that got furthest
            leaf = jsonschema.exceptions.best_match(leaf.context)
        field = tuple(leaf.absolute_path)
        return locate(path, positions, field), _message(leaf)

    location, message = describe(best)
    details = [f"{loc}: {msg}" for loc, msg in (describe(e) for e in ordered[1:6])]
    raise ContractError(
        f"data contract does not follow ODCS {data.get('apiVersion')}: {message}",
        location,
        details=details,
    )


def _message(error: Any) -> str:
    if error.validator == "enum":
        allowed = ", ".join(str(v) for v in error.validator_value)
        return f"{error.instance!r} is not one of {allowed}"
    if error.validator in ("unevaluatedProperties", "additionalProperties"):
        return f"unknown field: {error.message.split('(')[-1].rstrip(')')}"
    return str(error.message)


def _name_of(obj: Any, raw: Mapping[str, Any]) -> str:
    return str(raw.get("physicalName") or obj.name)


def _table(
    obj: Any, index: int, raw: Mapping[str, Any], path: Path, positions: Any
) -> ContractTable:
    here: FieldPath = ("schema", index)
    model = _name_of(obj, raw)
    if not _MODEL_NAME.match(model):
        field = "physicalName" if raw.get("physicalName") else "name"
        raise ContractError(
            f"data contract: {model!r} cannot name a dbt model",
            locate(path, positions, (*here, field)),
            expected="the published dbt model's name (letters, digits, underscores)",
        )
    columns: list[ContractColumn] = []
    rules: list[QualityRule] = []
    for rule_index, rule in enumerate(raw.get("quality") or []):
        built = _rule(rule, (*here, "quality", rule_index), None, path, positions)
        if built is not None:
            rules.append(built)
    for col_index, prop in enumerate(obj.properties or []):
        raw_prop = raw["properties"][col_index]
        at: FieldPath = (*here, "properties", col_index)
        name = str(raw_prop.get("physicalName") or prop.name or "")
        if not name:
            raise ContractError(
                "data contract: a property needs a name", locate(path, positions, at)
            )
        columns.append(
            ContractColumn(
                name=name,
                logical_type=prop.logicalType,
                required=bool(prop.required),
                unique=bool(prop.unique),
                primary_key=bool(prop.primaryKey),
                description=prop.description,
                classification=prop.classification,
                source=_where(path, positions, at),
            )
        )
        for rule_index, rule in enumerate(raw_prop.get("quality") or []):
            built = _rule(rule, (*at, "quality", rule_index), name, path, positions)
            if built is not None:
                rules.append(built)
    names = [c.name.lower() for c in columns]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ContractError(
            f"data contract: {model} lists column(s) twice: {', '.join(twice)}",
            locate(path, positions, (*here, "properties")),
        )
    for rule in rules:
        for column in rule.arguments.get("properties") or []:
            if str(column).lower() not in names:
                raise ContractError(
                    f"data contract: quality rule on {model} names column {column}, "
                    "which the table does not list",
                    Location(path, int(rule.source.rsplit(":", 1)[-1] or 0)),
                )
    return ContractTable(
        name=str(obj.name),
        model=model,
        description=obj.description,
        columns=columns,
        quality=rules,
        source=_where(path, positions, here),
    )


def _rule(
    raw: Mapping[str, Any],
    at: FieldPath,
    column: str | None,
    path: Path,
    positions: Any,
) -> QualityRule | None:
    """An executable rule; None for ``type: text`` (a description, nothing to run)."""
    kind = raw.get("type") or ("library" if raw.get("metric") or raw.get("rule") else None)
    where = locate(path, positions, at)
    if kind == "text":
        return None
    if kind not in ("library", "sql"):
        engine = f" (engine {raw.get('engine')})" if raw.get("engine") else ""
        raise ContractError(
            f"data contract: quality rule type {kind!r}{engine} is not supported by floe",
            locate(path, positions, (*at, "type")),
            expected="a library metric (rowCount, nullValues, missingValues, invalidValues, "
            "duplicateValues) or type: sql; type: text is kept as documentation",
        )
    operators = [op for op in OPERATORS if op in raw]
    if len(operators) != 1:
        raise ContractError(
            "data contract: a quality rule needs exactly one operator",
            where,
            expected=", ".join(OPERATORS),
            found=", ".join(operators) or "none",
        )
    operator = operators[0]
    metric = raw.get("metric") or raw.get("rule")
    arguments = dict(raw.get("arguments") or {})
    if kind == "library":
        allowed = COLUMN_METRICS if column else TABLE_METRICS
        if metric not in allowed:
            level = f"column {column}" if column else "a table"
            raise ContractError(
                f"data contract: metric {metric} does not apply to {level}",
                locate(path, positions, (*at, "metric")),
                expected=", ".join(sorted(allowed)),
            )
        if metric == "duplicateValues" and column is None and not arguments.get("properties"):
            raise ContractError(
                "data contract: a table-level duplicateValues rule needs arguments.properties",
                where,
                expected="arguments: {properties: [column, ...]}",
            )
        if metric == "invalidValues":
            if "validValues" not in arguments and "pattern" not in arguments:
                raise ContractError(
                    "data contract: invalidValues needs arguments.validValues or .pattern",
                    where,
                )
            if "pattern" in arguments:
                try:
                    re.compile(str(arguments["pattern"]))
                except re.error as exc:
                    raise ContractError(
                        f"data contract: pattern is not a regular expression: {exc}",
                        locate(path, positions, (*at, "arguments", "pattern")),
                    ) from None
    elif not str(raw.get("query") or "").strip():
        raise ContractError("data contract: a sql rule needs a query", where)
    unit = str(raw.get("unit") or "rows")
    if unit not in ("rows", "percent"):
        raise ContractError(
            f"data contract: unit {unit!r} is not one floe computes",
            locate(path, positions, (*at, "unit")),
            expected="rows or percent",
        )
    return QualityRule(
        id=raw.get("id"),
        name=raw.get("name"),
        kind=kind,
        metric=metric if kind == "library" else None,
        query=str(raw["query"]) if kind == "sql" else None,
        arguments=arguments,
        operator=operator,
        threshold=raw[operator],
        unit=unit,
        column=column,
        source=_where(path, positions, at),
    )


def find_contract(product_dir: Path) -> Path | None:
    """The product's datacontract.yaml, when it has one."""
    path = Path(product_dir) / CONTRACT_FILE
    return path if path.is_file() else None

"""Checking data against a contract table, in DuckDB, where the data already is.

One aggregate query over the relation computes every column guarantee (``required``:
no nulls; ``unique``/``primaryKey``: no duplicates) and every library metric
(``nullValues``, ``missingValues``, ``invalidValues``, ``duplicateValues``,
``rowCount``); each ``type: sql`` rule is one more query.  The column set and each
column's logical type are checked against the relation's own types first.

Standard library at import (the caller passes a DuckDB connection); Python 3.10.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from floe.contracts.model import ContractColumn, ContractTable, QualityRule, operator_text

# DuckDB type (as DESCRIBE names it, upper case, parameters stripped) per logical type
_INTEGERS = {
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
    "UHUGEINT",
}
_LOGICAL_TYPES: dict[str, set[str]] = {
    "string": {"VARCHAR", "UUID", "JSON", "ENUM"},
    "integer": _INTEGERS,
    "number": _INTEGERS | {"FLOAT", "DOUBLE", "DECIMAL"},
    "boolean": {"BOOLEAN"},
    "date": {"DATE"},
    "timestamp": {
        "TIMESTAMP",
        "TIMESTAMP_S",
        "TIMESTAMP_MS",
        "TIMESTAMP_NS",
        "TIMESTAMP WITH TIME ZONE",
    },
    "time": {"TIME", "TIME WITH TIME ZONE"},
    "object": {"STRUCT"},
    "map": {"MAP"},
}


def type_family(duckdb_type: str) -> str:
    """'DECIMAL(18,2)' -> 'DECIMAL', 'VARCHAR[]' -> 'LIST', 'STRUCT(a INTEGER)' -> 'STRUCT'."""
    text = duckdb_type.strip().upper()
    if text.endswith("]"):
        return "LIST"
    return re.split(r"[(]", text, maxsplit=1)[0].strip()


def type_matches(logical: str, duckdb_type: str) -> bool:
    family = type_family(duckdb_type)
    if logical in ("array", "vector"):
        return family in ("LIST", "ARRAY")
    return family in _LOGICAL_TYPES.get(logical, set())


def logical_type_of(duckdb_type: str) -> str | None:
    """The ODCS logical type of a DuckDB column type (None when none fits)."""
    family = type_family(duckdb_type)
    if family in ("LIST", "ARRAY"):
        return "array"
    for logical in ("integer", "number", "string", "boolean", "date", "timestamp", "time"):
        if family in _LOGICAL_TYPES[logical]:
            return logical
    return {"STRUCT": "object", "MAP": "map"}.get(family)


_ICEBERG_TYPES: dict[str, set[str]] = {
    "string": {"string", "uuid"},
    "integer": {"int", "long"},
    "number": {"int", "long", "float", "double", "decimal"},
    "boolean": {"boolean"},
    "date": {"date"},
    "timestamp": {"timestamp", "timestamptz", "timestamp_ns", "timestamptz_ns"},
    "time": {"time"},
    "array": {"list"},
    "vector": {"list"},
    "object": {"struct"},
    "map": {"map"},
}


def iceberg_type_matches(logical: str, iceberg_type: str) -> bool:
    """Whether an Iceberg column type (as PyIceberg prints it) holds the logical type."""
    family = iceberg_type.strip().lower().split("<", 1)[0].split("(", 1)[0].split("[", 1)[0]
    return family in _ICEBERG_TYPES.get(logical, set())


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


@dataclass(frozen=True)
class Breach:
    """One broken promise: what the contract says and what the data has."""

    rule: str
    column: str | None
    expected: str
    observed: str
    source: str  # datacontract.yaml:LINE

    def __str__(self) -> str:
        where = f"column {self.column}: " if self.column else ""
        return (
            f"{self.source} {where}{self.rule}: expected {self.expected}, observed {self.observed}"
        )


@dataclass
class CheckReport:
    table: ContractTable
    rows: int = 0
    breaches: list[Breach] = field(default_factory=list)
    checked: int = 0  # guarantees and rules evaluated
    proven: list[str] = field(default_factory=list)  # by this run's passed dbt tests

    @property
    def ok(self) -> bool:
        return not self.breaches


class RuleError(Exception):
    """A SQL rule that does not run (its source and DuckDB's message)."""

    def __init__(self, rule: QualityRule, message: str) -> None:
        super().__init__(f"{rule.source}: sql rule does not run: {message}")
        self.rule = rule


def _columns(con: Any, relation: str) -> dict[str, str]:
    rows = con.execute(f"describe select * from {relation}").fetchall()
    return {str(r[0]).lower(): str(r[1]) for r in rows}


def _metric_sql(rule: QualityRule, column: str | None) -> str:
    """A SQL aggregate expression that computes the rule's metric over the relation."""
    metric = rule.metric
    col = quote(column) if column else None
    if metric == "rowCount":
        return "count(*)"
    if metric == "nullValues":
        return f"count(*) - count({col})"
    if metric == "duplicateValues":
        if column:
            return f"count({col}) - count(distinct {col})"
        keys = ", ".join(quote(str(c)) for c in rule.arguments["properties"])
        return f"count(*) - count(distinct ({keys}))"
    if metric == "missingValues":
        values = list(rule.arguments.get("missingValues") or [None, ""])
        listed = [v for v in values if v is not None]
        terms = [f"{col} is null"] if None in values else []
        if listed:
            terms.append(f"cast({col} as varchar) in ({', '.join(_literal(v) for v in listed)})")
        return f"count(*) filter (where {' or '.join(terms) or 'false'})"
    if metric == "invalidValues":
        valid = rule.arguments.get("validValues")
        pattern = rule.arguments.get("pattern")
        tests = []
        if valid is not None:
            listed = [v for v in valid if v is not None]
            in_list = ", ".join(_literal(v) for v in listed) or "null"
            tests.append(f"cast({col} as varchar) not in ({in_list})")
        if pattern is not None:
            tests.append(f"not regexp_full_match(cast({col} as varchar), {_literal(pattern)})")
        return f"count(*) filter (where {col} is not null and ({' or '.join(tests)}))"
    raise ValueError(f"metric {metric} is not computed by floe")


def check_relation(
    con: Any,
    relation: str,
    table: ContractTable,
    proven: Mapping[str, set[str]] | None = None,
) -> CheckReport:
    """Every guarantee and quality rule of ``table`` on the DuckDB ``relation``.

    ``proven``: column -> the guarantees (``not_null``, ``unique``) a dbt test of the same
    relation passed in the same run; those are not computed again (a distinct count over
    millions of rows is the costliest check) and are listed in ``report.proven``."""
    report = CheckReport(table=table)
    proven = {k.lower(): v for k, v in (proven or {}).items()}
    present = _columns(con, relation)
    usable: list[ContractColumn] = []
    for column in table.columns:
        found = present.get(column.name.lower())
        report.checked += 1
        if found is None:
            report.breaches.append(
                Breach("column present", column.name, "the column", "absent", column.source)
            )
            continue
        if column.logical_type and not type_matches(column.logical_type, found):
            report.breaches.append(
                Breach(
                    "logicalType",
                    column.name,
                    column.logical_type,
                    found,
                    column.source,
                )
            )
        usable.append(column)
    absent = {b.column.lower() for b in report.breaches if b.column and b.rule == "column present"}

    # one scan: row count, guarantees, library metrics
    expressions = ["count(*)"]
    labels: list[tuple[str, Any]] = []
    for column in usable:
        col = quote(column.name)
        tested = proven.get(column.name.lower(), set())
        if column.required or column.primary_key:
            if "not_null" in tested:
                report.proven.append(f"{column.name} not null (dbt test)")
                report.checked += 1
            else:
                expressions.append(f"count(*) - count({col})")
                labels.append(("required", column))
        if column.unique or column.primary_key:
            if "unique" in tested:
                report.proven.append(f"{column.name} unique (dbt test)")
                report.checked += 1
            else:
                expressions.append(f"count({col}) - count(distinct {col})")
                labels.append(("unique", column))
    library = [
        r
        for r in table.quality
        if r.kind == "library" and not (r.column and r.column.lower() in absent)
    ]
    for rule in library:
        expressions.append(_metric_sql(rule, rule.column))
        labels.append(("rule", rule))
    values = con.execute(f"select {', '.join(expressions)} from {relation}").fetchall()[0]
    report.rows = int(values[0])
    for (kind, item), value in zip(labels, values[1:], strict=True):
        report.checked += 1
        if kind in ("required", "unique"):
            if int(value):
                what = "null" if kind == "required" else "duplicate"
                label = "primaryKey" if item.primary_key else kind
                report.breaches.append(
                    Breach(
                        label, item.name, f"no {what} values", f"{value} {what} row(s)", item.source
                    )
                )
            continue
        _judge(report, item, value)
    for rule in table.quality:
        if rule.kind != "sql" or (rule.column and rule.column.lower() in absent):
            continue
        report.checked += 1
        query = rule_sql(rule, relation)
        try:
            rows = con.execute(query).fetchall()
        except Exception as exc:  # DuckDB's own error: the rule is broken, not the data
            raise RuleError(rule, str(exc).splitlines()[0]) from None
        if len(rows) != 1 or len(rows[0]) != 1:
            raise RuleError(rule, "the query must return one row with one value")
        row = rows[0]
        _judge(report, rule, row[0])
    return report


def rule_sql(rule: QualityRule, relation: str) -> str:
    """The rule's query with {object} / {property} (also {table}, {column} and the ${...}
    forms) replaced by the relation and the quoted column."""
    query = str(rule.query)
    column = quote(rule.column) if rule.column else ""
    for placeholder, value in (
        ("{object}", relation),
        ("${object}", relation),
        ("{table}", relation),
        ("${table}", relation),
        ("{property}", column),
        ("${property}", column),
        ("{column}", column),
        ("${column}", column),
    ):
        query = query.replace(placeholder, value)
    return query


def _judge(report: CheckReport, rule: QualityRule, value: Any) -> None:
    observed: Any = value
    if rule.unit == "percent" and rule.kind == "library":
        observed = 0.0 if report.rows == 0 else round(100.0 * float(value) / report.rows, 4)
    if rule.passes(observed):
        return
    name = rule.metric if rule.kind == "library" else "sql"
    label = f"{name} ({rule.id or rule.name})" if (rule.id or rule.name) else str(name)
    unit = "%" if rule.unit == "percent" else ""
    expected = operator_text(rule.operator, rule.threshold) + unit
    report.breaches.append(Breach(label, rule.column, expected, f"{observed}{unit}", rule.source))

"""Compile-time checks of a product's data contract against its real dbt project.

- Every contract table is a model the product publishes (else a located ContractError:
  a promise floe would never keep).
- Every published model has a contract table when governance requires contracts
  (``require_contracts``; finding FLOE-C001).
- Every contract column is produced by its model: the compiled SQL's output columns
  where sqlglot can read them, else the columns the model's YAML declares (FLOE-C002).
- ``required`` columns have a ``not_null`` test (or constraint) and ``unique`` /
  ``primaryKey`` columns a ``unique`` test (or constraint), else the guarantee is only
  checked at publication (FLOE-C003, a warning).
- SQL quality rules parse as DuckDB SQL (FLOE-C004).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from floe.compiler.governance.graph import DbtGraph, DbtModel
from floe.compiler.governance.policies import Violation
from floe.compiler.sql_reads import parse_statement
from floe.contracts.checks import quote, rule_sql
from floe.contracts.load import find_contract, load_contract
from floe.contracts.model import ContractColumn, ContractTable, DataContract
from floe.errors import ContractError, Location

POLICY = "contracts"
NOT_NULL = {"not_null"}
UNIQUE = {"unique", "primary_key"}


def output_columns(sql: str) -> set[str] | None:
    """The lower-cased output column names of a model's compiled SQL, from DuckDB's own
    parser (``json_serialize_sql``: no table needs to exist); None when they cannot be
    known without running it (``select *``, SQL DuckDB does not parse)."""
    if not sql.strip():
        return None
    node = parse_statement(sql)
    if node is None:
        return None
    while node.get("type") == "SET_OPERATION_NODE":  # a union's columns are its first side's
        node = node.get("left") or (node.get("children") or [{}])[0]
    if node.get("type") != "SELECT_NODE":
        return None
    names = set()
    for item in node.get("select_list") or []:
        if item.get("class") in ("STAR", "COLUMNS"):
            return None
        if item.get("alias"):
            names.add(str(item["alias"]).lower())
        elif item.get("class") == "COLUMN_REF" and item.get("column_names"):
            names.add(str(item["column_names"][-1]).lower())
    return names or None


def _violation(
    code: str,
    severity: str,
    table: ContractTable,
    message: str,
    expected: str,
    found: str,
    suggestion: str,
    column: ContractColumn | None = None,
    source: str | None = None,
) -> Violation:
    where = source or (column.source if column else table.source)
    file, _, line = where.rpartition(":")
    return Violation(
        code=code,
        policy=POLICY,
        severity=severity,  # type: ignore[arg-type]
        model=table.model,
        column=column.name if column else None,
        message=message,
        expected=expected,
        found=found,
        suggestion=suggestion,
        file=file or where,
        line=int(line) if line.isdigit() else None,
    )


def _guarantees(table: ContractTable, column: ContractColumn, model: DbtModel) -> list[Violation]:
    key = column.name.lower()
    tests = model.column_tests.get(key, frozenset()) | model.column_constraints.get(
        key, frozenset()
    )
    out = []
    if (column.required or column.primary_key) and not tests & (NOT_NULL | {"primary_key"}):
        out.append(
            _violation(
                "FLOE-C003",
                "warning",
                table,
                "required: no not_null test in dbt; checked only when the table is published",
                "a not_null test (or constraint) on the column",
                ", ".join(sorted(tests)) or "no test",
                f"add `- not_null` to {column.name}'s tests in {model.patch_path or 'its YAML'}",
                column,
            )
        )
    if (column.unique or column.primary_key) and not tests & UNIQUE:
        guarantee = "primaryKey" if column.primary_key else "unique"
        out.append(
            _violation(
                "FLOE-C003",
                "warning",
                table,
                f"{guarantee}: no unique test in dbt; checked only when the table is published",
                "a unique test (or constraint) on the column",
                ", ".join(sorted(tests)) or "no test",
                f"add `- unique` to {column.name}'s tests in {model.patch_path or 'its YAML'}",
                column,
            )
        )
    return out


def _sql_rules(table: ContractTable) -> list[Violation]:
    import duckdb

    out = []
    for rule in table.quality:
        if rule.kind != "sql":
            continue
        try:
            statements = duckdb.extract_statements(rule_sql(rule, quote(table.model)))
        except Exception as exc:  # DuckDB's parser error
            statements = []
            message = str(exc).splitlines()[0]
        else:
            message = "" if len(statements) == 1 else f"{len(statements)} statements"
        if message:
            out.append(
                _violation(
                    "FLOE-C004",
                    "error",
                    table,
                    f"sql quality rule does not parse: {message}",
                    "one DuckDB SELECT returning one value ({object} and {property} "
                    "stand for the table and column)",
                    str(rule.query).strip()[:120],
                    "fix the query",
                    source=rule.source,
                )
            )
    return out


def check_contract(
    contract: DataContract,
    graph: DbtGraph,
    published: Iterable[str],
    *,
    contract_path: Path,
) -> list[Violation]:
    """Findings of the contract against the dbt project (ContractError when a table is
    not one the product publishes)."""
    published = list(published)
    out: list[Violation] = []
    for table in contract.tables:
        model = graph.models.get(table.model)
        if model is None or table.model not in published:
            why = "is not a model of this dbt project" if model is None else "is not published"
            line = int(table.source.rpartition(":")[2] or 0)
            raise ContractError(
                f"data contract: table {table.model} {why}",
                Location(contract_path, line, 0, f"schema[{contract.tables.index(table)}]"),
                expected=f"one of the published models: {', '.join(published) or 'none'}",
                found=table.model,
                hint="a contract promises tables floe publishes (gold tier, or publish: true "
                "in floe.yaml); set physicalName to the dbt model",
            )
        produced = output_columns(model.compiled_sql)
        known = produced if produced is not None else (set(model.columns) or None)
        for column in table.columns:
            if known is not None and column.name.lower() not in known:
                origin = "its compiled SQL" if produced is not None else "its YAML columns"
                out.append(
                    _violation(
                        "FLOE-C002",
                        "error",
                        table,
                        f"contract column is not produced by model {table.model}",
                        f"a column {column.name} in {origin}",
                        ", ".join(sorted(known)),
                        "add the column to the model, or remove it from the contract "
                        "(a removal is a breaking change: a new major version)",
                        column,
                    )
                )
                continue
            out.extend(_guarantees(table, column, model))
        out.extend(_sql_rules(table))
    return out


def missing_contracts(
    contract: DataContract | None, published: Iterable[str], graph: DbtGraph, spec_file: str
) -> list[Violation]:
    """FLOE-C001 for each published model without a contract table."""
    out = []
    for model in published:
        if contract is not None and contract.table(model) is not None:
            continue
        node = graph.models.get(model)
        out.append(
            Violation(
                code="FLOE-C001",
                policy=POLICY,
                severity="error",
                model=model,
                message="published model has no data contract",
                expected="a schema entry with physicalName: " + model + " in datacontract.yaml",
                found="no datacontract.yaml" if contract is None else "no entry for the model",
                suggestion="`floe contract init <product dir>` writes a first contract",
                file=node.sql_path if node else spec_file,
            )
        )
    return out


def load_product_contract(product_dir: Path) -> tuple[DataContract | None, Path | None]:
    path = find_contract(product_dir)
    return (load_contract(path), path) if path else (None, None)

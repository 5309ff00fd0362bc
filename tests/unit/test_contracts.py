"""Issue 24: data contracts - reading ODCS v3, checking data in DuckDB, diff and semver.

Real DuckDB; the contract files are ODCS v3 documents validated by the standard's own
JSON Schema and models (open-data-contract-standard).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from floe.contracts.checks import RuleError, check_relation, logical_type_of, type_matches
from floe.contracts.diff import diff_contracts, diff_table, needed_version, verdict
from floe.contracts.load import load_contract
from floe.contracts.model import (
    DataContract,
    compare,
    published_contract,
    table_properties,
)
from floe.contracts.versioning import check_version
from floe.errors import ContractError, ContractVersionError
from tests.conftest import ROOT

ORDERS = ROOT / "tests" / "fixtures" / "contracts" / "orders.yaml"


@pytest.fixture
def contract() -> DataContract:
    return load_contract(ORDERS)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "datacontract.yaml"
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------- loading


def test_an_odcs_v3_contract_is_normalized_with_its_lines(contract: DataContract) -> None:
    assert (contract.id, contract.version) == ("orders-contract", "1.2.0")
    assert contract.version_source == "orders.yaml:8"
    [table] = contract.tables
    assert (table.name, table.model) == ("orders", "mart_orders")
    columns = {c.name: c for c in table.columns}
    assert columns["order_id"].primary_key and columns["customer_id"].required
    assert columns["email"].classification == "restricted"
    assert columns["order_id"].source == "orders.yaml:25"
    kinds = [(r.kind, r.metric, r.column) for r in table.quality]
    assert kinds == [
        ("library", "rowCount", None),
        ("library", "duplicateValues", None),
        ("library", "invalidValues", "status"),
        ("library", "missingValues", "status"),
        ("library", "invalidValues", "email"),  # the type: text rule is documentation only
        ("sql", None, "amount"),
        ("library", "nullValues", "amount"),
    ]
    assert table.quality[0].describe() == "rowCount some_orders between 1 and 1000"


BAD = {
    "malformed YAML": ("apiVersion: v3.1.0\nkind: [DataContract\n", 3, "malformed YAML"),
    "not ODCS v3": (
        "apiVersion: v2.2.2\nkind: DataContract\nid: x\nversion: 1.0.0\n",
        1,
        "not an ODCS v3 document",
    ),
    "unknown logical type": (
        "apiVersion: v3.1.0\nkind: DataContract\nid: x\nversion: 1.0.0\nschema:\n"
        "  - name: t\n    properties:\n      - name: c\n        logicalType: decimal\n",
        9,
        "'decimal' is not one of string, date, timestamp",
    ),
    "version not semver": (
        "apiVersion: v3.1.0\nkind: DataContract\nid: x\nversion: one\n",
        4,
        "version must be semver",
    ),
    "unsupported rule": (
        "apiVersion: v3.1.0\nkind: DataContract\nid: x\nversion: 1.0.0\nschema:\n"
        "  - name: t\n    quality:\n      - type: custom\n        engine: soda\n"
        "        implementation: 'x'\n",
        8,
        "quality rule type 'custom' (engine soda) is not supported by floe",
    ),
    "rowCount on a column": (
        "apiVersion: v3.1.0\nkind: DataContract\nid: x\nversion: 1.0.0\nschema:\n"
        "  - name: t\n    properties:\n      - name: c\n        quality:\n"
        "          - metric: rowCount\n            mustBe: 1\n",
        10,
        "metric rowCount does not apply to column c",
    ),
    "unknown field": (
        "apiVersion: v3.1.0\nkind: DataContract\nid: x\nversion: 1.0.0\nschema:\n"
        "  - name: t\n    colour: red\n",
        6,
        "unknown field",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_contracts_are_located_errors(case: str, tmp_path: Path) -> None:
    """Issue 24 bad input: each a ContractError (exit 4) naming file and line."""
    text, line, message = BAD[case]
    path = _write(tmp_path, text)
    with pytest.raises(ContractError) as raised:
        load_contract(path)
    error = raised.value
    assert error.exit_code == 4
    assert error.location is not None and error.location.file == path
    assert error.location.line == line, str(error)
    assert message in str(error)


# ---------------------------------------------------------------- checks in DuckDB


def _orders(con: duckdb.DuckDBPyConnection, rows: str) -> None:
    con.execute(
        "create table mart_orders (order_id integer, customer_id integer, status varchar, "
        "email varchar, amount decimal(10, 2), placed_at timestamp, placed_on date)"
    )
    con.execute(f"insert into mart_orders values {rows}")


GOOD = (
    "(1, 10, 'placed', 'a@x.io', 5.0, '2026-01-01 10:00', '2026-01-01'),"
    "(2, 11, 'shipped', 'b@x.io', 7.5, '2026-01-02 10:00', '2026-01-02'),"
    "(3, 10, 'returned', 'c@x.io', 1.0, '2026-01-03 10:00', '2026-01-03')"
)


def test_data_that_keeps_every_promise_passes(contract: DataContract) -> None:
    con = duckdb.connect()
    _orders(con, GOOD)
    report = check_relation(con, "mart_orders", contract.tables[0])
    assert report.ok, [str(b) for b in report.breaches]
    assert report.rows == 3
    assert report.checked == 7 + 3 + 7  # columns, guarantees (pk twice, required), rules


def test_each_broken_promise_names_rule_column_threshold_and_observed(
    contract: DataContract,
) -> None:
    con = duckdb.connect()
    _orders(
        con,
        "(1, null, 'lost', 'not-an-email', -5.0, null, null),"
        "(1, 11, 'n/a', 'b@x.io', null, null, null),"
        "(2, 12, '', 'c@x.io', 1.0, null, null)",
    )
    breaches = {
        (b.rule, b.column): (b.expected, b.observed)
        for b in check_relation(con, "mart_orders", contract.tables[0]).breaches
    }
    assert breaches == {
        ("primaryKey", "order_id"): ("no duplicate values", "1 duplicate row(s)"),
        ("required", "customer_id"): ("no null values", "1 null row(s)"),
        ("invalidValues (known_status)", "status"): ("= 0", "3"),
        ("missingValues", "status"): ("< 50%", "66.6667%"),
        ("invalidValues", "email"): ("<= 0", "1"),
        ("sql (no_negative_amounts)", "amount"): ("= 0", "1"),
        ("nullValues", "amount"): ("< 10%", "33.3333%"),
    }


def test_missing_columns_and_wrong_types_are_breaches(contract: DataContract) -> None:
    con = duckdb.connect()
    con.execute(
        "create table mart_orders as select 1 as order_id, 'ten' as customer_id, 'placed' as "
        "status, 'a@x.io' as email, 1.0::double as amount, current_date as placed_at"
    )
    breaches = [str(b) for b in check_relation(con, "mart_orders", contract.tables[0]).breaches]
    assert "orders.yaml:28 column customer_id: logicalType: expected integer, observed VARCHAR" in (
        breaches
    )
    assert any("placed_at: logicalType: expected timestamp, observed DATE" in b for b in breaches)
    assert any(
        "column placed_on: column present: expected the column, observed absent" in b
        for b in breaches
    )


def test_a_property_may_leave_its_logical_type_out(tmp_path: Path) -> None:
    """ODCS makes logicalType optional; the 3.2.0 package's schema required a map block
    of such a property until the standard's fix (#322), which floe applies."""
    path = _write(
        tmp_path,
        "apiVersion: v3.2.0\nkind: DataContract\nid: x\nversion: 1.0.0\nschema:\n"
        "  - name: t\n    properties:\n      - name: c\n        physicalType: varchar\n"
        "      - name: m\n        logicalType: map\n",
    )
    with pytest.raises(ContractError, match="'map' is a required property") as raised:
        load_contract(path)  # a declared map still needs its map block
    assert raised.value.location is not None and raised.value.location.line == 10
    path.write_text(path.read_text().replace("      - name: m\n        logicalType: map\n", ""))
    [column] = load_contract(path).tables[0].columns
    assert column.logical_type is None


def test_a_sql_rule_that_does_not_run_is_named(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "apiVersion: v3.1.0\nkind: DataContract\nid: x\nversion: 1.0.0\nschema:\n"
        "  - name: t\n    quality:\n      - type: sql\n"
        "        query: select count(*) from {object} where no_such_column > 0\n"
        "        mustBe: 0\n",
    )
    table = load_contract(path).tables[0]
    con = duckdb.connect()
    con.execute("create table t as select 1 as a")
    with pytest.raises(
        RuleError, match=r"datacontract.yaml:8: sql rule does not run: .*no_such_column"
    ):
        check_relation(con, "t", table)


@pytest.mark.parametrize(
    ("operator", "threshold", "observed", "ok"),
    [
        ("mustBe", 0, 0, True),
        ("mustNotBe", 0, 0, False),
        ("mustBeGreaterThan", 5, 5, False),
        ("mustBeGreaterOrEqualTo", 5, 5, True),
        ("mustBeLessThan", 5, 4.9, True),
        ("mustBeLessOrEqualTo", 5, 6, False),
        ("mustBeBetween", [1, 3], 3, True),
        ("mustNotBeBetween", [1, 3], 2, False),
        ("mustBe", True, True, True),
    ],
)
def test_odcs_operators(operator: str, threshold: object, observed: object, ok: bool) -> None:
    assert compare(operator, observed, threshold) is ok


@pytest.mark.parametrize(
    ("duckdb_type", "logical"),
    [
        ("INTEGER", "integer"),
        ("BIGINT", "integer"),
        ("DECIMAL(18,2)", "number"),
        ("DOUBLE", "number"),
        ("VARCHAR", "string"),
        ("BOOLEAN", "boolean"),
        ("DATE", "date"),
        ("TIMESTAMP WITH TIME ZONE", "timestamp"),
        ("VARCHAR[]", "array"),
        ("STRUCT(a INTEGER)", "object"),
    ],
)
def test_logical_types_of_duckdb_types(duckdb_type: str, logical: str) -> None:
    assert logical_type_of(duckdb_type) == logical
    assert type_matches(logical, duckdb_type)


def test_an_integer_column_satisfies_number_but_not_string() -> None:
    assert type_matches("number", "BIGINT")
    assert not type_matches("string", "BIGINT")
    assert not type_matches("integer", "DOUBLE")


# ---------------------------------------------------------------- diff and semver


def _terms(**columns: dict[str, object]) -> list[dict[str, object]]:
    return [{"name": n, **t} for n, t in columns.items()]


def test_diff_classifies_each_change() -> None:
    old = _terms(
        a={"logicalType": "integer", "required": True, "unique": True},
        b={"logicalType": "string"},
        c={"logicalType": "number"},
        d={"logicalType": "string", "required": False},
        gone={"logicalType": "string"},
    )
    new = _terms(
        a={"logicalType": "integer", "required": True, "unique": False},
        b={"logicalType": "integer"},
        c={"logicalType": "number", "unique": True},
        d={"logicalType": "string", "required": True},
        added={"logicalType": "string"},
    )
    changes = {(c.column, c.what): c.breaking for c in diff_table("t", old, new)}
    assert changes == {
        ("a", "unique guarantee dropped"): True,
        ("b", "logical type string -> integer"): True,
        ("c", "unique guarantee added"): False,
        ("d", "made required"): True,
        ("gone", "column removed (or renamed)"): True,
        ("added", "column added"): False,
    }


@pytest.mark.parametrize(
    ("old", "new", "breaking", "need"),
    [
        ("1.2.0", "1.2.0", True, "2.0.0"),
        ("1.2.0", "1.9.0", True, "2.0.0"),
        ("1.2.0", "2.0.0", True, None),
        ("1.2.0", "1.2.1", False, "1.3.0"),
        ("1.2.0", "1.3.0", False, None),
        ("1.2.0", "2.0.0-rc.1", True, "2.0.0"),
    ],
)
def test_the_version_a_change_needs(old: str, new: str, breaking: bool, need: str | None) -> None:
    changes = diff_table(
        "t",
        _terms(a={"logicalType": "integer"}),
        _terms(a={"logicalType": "string"})
        if breaking
        else _terms(a={"logicalType": "integer"}, b={}),
    )
    assert any(c.breaking for c in changes) is breaking
    assert needed_version(old, new, changes) == need


def test_no_change_needs_no_version() -> None:
    terms = _terms(a={"logicalType": "integer"})
    assert needed_version("1.0.0", "1.0.0", diff_table("t", terms, terms)) is None
    assert verdict("1.0.0", "1.0.0", []) == "no change consumers rely on (1.0.0 -> 1.0.0)"


def test_tables_removed_from_a_contract_break_it(contract: DataContract) -> None:
    emptied = contract.model_copy(update={"tables": []})
    [change] = diff_contracts(contract, emptied)
    assert change.breaking and change.what == "table removed from the contract"


def test_what_a_publication_records_round_trips(contract: DataContract) -> None:
    table = contract.tables[0]
    recorded = published_contract(table_properties(contract, table))
    assert recorded is not None
    assert (recorded.id, recorded.version) == ("orders-contract", "1.2.0")
    assert recorded.fingerprint == table.fingerprint()
    assert diff_table(table.model, recorded.terms, table.schema_terms()) == []
    assert published_contract({}) is None


def test_a_removed_column_without_a_major_version_is_refused(contract: DataContract) -> None:
    table = contract.tables[0]
    published = published_contract(table_properties(contract, table))
    narrowed = table.model_copy(update={"columns": table.columns[1:]})
    with pytest.raises(ContractVersionError) as raised:
        check_version(contract, narrowed, published, "shop.mart_orders")
    assert raised.value.exit_code == 11
    assert "needs version 2.0.0" in str(raised.value)
    assert "mart_orders.order_id: column removed (or renamed)" in str(raised.value)
    bumped = contract.model_copy(update={"version": "2.0.0"})
    assert check_version(bumped, narrowed, published, "shop.mart_orders")

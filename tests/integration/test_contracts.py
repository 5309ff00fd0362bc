"""Issue 24: data contracts checked at compile (against the real dbt project) and enforced
at publication (against the data, in DuckDB), versioned by semver against what the
catalog recorded.

Real dbt, DuckDB and PyIceberg (the embedded SQL catalog); tables are read back with a
catalog opened afresh, as another reader would.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from floe.cli import main
from floe.compiler.pipeline import compile_product
from floe.errors import ContractError, ContractVersionError, DbtError, PolicyViolationError
from floe.local.compile_all import compile_all
from floe.local.run import run_all
from floe.runtime.publish.catalog import local_target, open_catalog
from tests.conftest import DEMO, PRODUCTS, ROOT, copy_demo

PRODUCT = "customer-360"
TABLE = "customer_360.mart_customer_360"
FACET_SCHEMA = ROOT / "floe" / "runtime" / "observe" / "DataContractDatasetFacet.json"


def _contract(demo: Path) -> Path:
    return demo / PRODUCT / "datacontract.yaml"


def _edit_contract(demo: Path, change: object) -> None:
    path = _contract(demo)
    data = yaml.safe_load(path.read_text())
    change(data)  # type: ignore[operator]
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def _column(data: dict, name: str) -> dict:  # type: ignore[type-arg]
    return next(p for p in data["schema"][0]["properties"] if p["name"] == name)


def _compile(demo: Path, **env: str) -> None:
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        compile_all(demo, only=[PRODUCT], progress=lambda _l: None, jobs=1, force=True)
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _run(demo: Path) -> None:
    run_all([demo / PRODUCT], progress=lambda _l: None, jobs=1)


def _table(demo: Path):  # type: ignore[no-untyped-def]
    """The published table, from a catalog opened afresh (another reader)."""
    return open_catalog(local_target(demo / ".floe" / "lakehouse")).load_table(TABLE)


@pytest.fixture
def published(tmp_path: Path) -> Path:
    """The demo with customer-360 compiled and run once: published under its contract."""
    demo = copy_demo(tmp_path / "demo")
    _compile(demo)
    _run(demo)
    return demo


def test_demo_contracts_compile_clean_at_strict(tmp_path: Path) -> None:
    """Issue 24 point 7: every demo product ships a contract for its gold table and
    compiles with no finding at strict (require_contracts is on in the demo manifest)."""
    demo = copy_demo(tmp_path / "demo")
    manifest = yaml.safe_load((demo / "manifest.yaml").read_text())
    assert manifest["governance"]["require_contracts"] is True
    manifest["governance"]["policy_enforcement_level"] = "strict"
    (demo / "manifest.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))
    done = compile_all(demo, progress=lambda _l: None, jobs=1)
    assert [d.name for d in done] == list(PRODUCTS)
    for compiled in done:
        assert compiled.result is not None
        assert compiled.result.enforcement.violations == []
        assert "contracts" in compiled.result.enforcement.policy_types
        artifacts = json.loads((demo / compiled.name / "compiled_artifacts.json").read_text())
        [table] = artifacts["contract"]["tables"]
        assert table["model"].startswith("mart_") and table["columns"]
    rules = [
        r
        for p in PRODUCTS
        for t in yaml.safe_load((DEMO / p / "datacontract.yaml").read_text())["schema"]
        for r in [
            *t.get("quality", []),
            *(q for c in t["properties"] for q in c.get("quality", [])),
        ]
    ]
    assert len(rules) >= 9 and {r.get("type", "library") for r in rules} == {"library", "sql"}


def test_a_contract_for_a_table_floe_does_not_publish_is_a_located_error(
    demo_copy: Path,
) -> None:
    _edit_contract(demo_copy, lambda d: d["schema"][0].update(physicalName="stg_customers"))
    with pytest.raises(ContractError) as raised:
        compile_product(demo_copy / PRODUCT / "floe.yaml")
    error = raised.value
    assert error.exit_code == 4
    assert "table stg_customers is not published" in error.message
    assert error.location is not None and error.location.file == _contract(demo_copy)
    assert error.location.line > 0


def test_a_published_model_without_a_contract_is_a_finding_strict_blocks(
    demo_copy: Path,
) -> None:
    _contract(demo_copy).unlink()
    result = compile_product(demo_copy / PRODUCT / "floe.yaml")
    assert [(v.code, v.model) for v in result.enforcement.violations] == [
        ("FLOE-C001", "mart_customer_360")
    ]
    spec = demo_copy / PRODUCT / "floe.yaml"
    data = yaml.safe_load(spec.read_text())
    data["governance"] = {"policy_enforcement_level": "strict"}
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(PolicyViolationError, match="FLOE-C001"):
        compile_product(spec)


def test_contract_columns_and_guarantees_are_checked_against_the_dbt_project(
    demo_copy: Path, tmp_path: Path
) -> None:
    """A column the model does not produce is FLOE-C002 at its line in
    datacontract.yaml (text and SARIF); a guarantee no dbt test checks is FLOE-C003."""

    def change(data: dict) -> None:  # type: ignore[type-arg]
        data["schema"][0]["properties"].append({"name": "nickname", "logicalType": "string"})
        _column(data, "country_code")["required"] = True

    _edit_contract(demo_copy, change)
    report = tmp_path / "report.sarif"
    result = CliRunner().invoke(
        main,
        [
            "platform",
            "compile",
            "--spec",
            str(demo_copy / PRODUCT / "floe.yaml"),
            "--enforcement-report",
            str(report),
            "--enforcement-format",
            "sarif",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "FLOE-C002 mart_customer_360.nickname: contract column is not produced" in result.output
    assert "FLOE-C003 mart_customer_360.country_code: required: no not_null test" in (result.output)
    sarif = json.loads(report.read_text())
    lines = _contract(demo_copy).read_text().splitlines()
    nickname_line = next(i for i, line in enumerate(lines, 1) if "name: nickname" in line)
    located = {
        r["ruleId"]: r["locations"][0]["physicalLocation"] for r in sarif["runs"][0]["results"]
    }
    assert located["FLOE-C002"]["artifactLocation"]["uri"] == "datacontract.yaml"
    assert located["FLOE-C002"]["region"]["startLine"] == nickname_line


def test_publication_records_the_contract_in_the_catalog_and_lineage(published: Path) -> None:
    """Issue 24 points 5 and 6: table properties and snapshot summary carry the contract;
    the publication event has a dataContract facet valid against its own schema; `floe
    catalog tables` shows the version."""
    table = _table(published)
    assert table.properties["floe.contract.id"] == "customer-360"
    assert table.properties["floe.contract.version"] == "1.0.0"
    assert table.properties["floe.contract.fingerprint"].startswith("sha256:")
    terms = json.loads(table.properties["floe.contract.schema"])
    assert {"name": "customer_id", "logicalType": "integer"}.items() <= terms[0].items()
    summary = table.current_snapshot().summary.additional_properties
    assert summary["floe.contract.version"] == "1.0.0"
    events = [
        json.loads(line)
        for line in (published / PRODUCT / "target" / "observability" / "openlineage.jsonl")
        .read_text()
        .splitlines()
    ]
    done = [
        e
        for e in events
        if e["job"]["name"] == "customer-360.publish.mart_customer_360"
        and e["eventType"] == "COMPLETE"
    ]
    facet = done[-1]["outputs"][0]["facets"]["dataContract"]
    schema = json.loads(FACET_SCHEMA.read_text())
    assert facet["_schemaURL"].split("#")[0] == schema["$id"]
    own = schema["$defs"]["DataContractDatasetFacet"]["allOf"][1]
    jsonschema.validate(facet, own)
    assert facet["version"] == "1.0.0" and facet["checks"] > 10
    out = CliRunner().invoke(main, ["catalog", "tables", "--platform-dir", str(published)])
    assert out.exit_code == 0, out.output
    assert re.search(
        r"customer_360\.mart_customer_360 .* contract customer-360 1\.0\.0", out.output
    )


def _failed_run(demo: Path) -> str:
    with pytest.raises(DbtError) as raised:
        _run(demo)
    return str(raised.value)


def test_a_null_in_a_required_column_fails_publication_keeping_the_snapshot(
    published: Path,
) -> None:
    before = _table(published).current_snapshot().snapshot_id

    def change(data: dict) -> None:  # type: ignore[type-arg]
        _column(data, "avg_satisfaction")["required"] = True
        data["version"] = "2.0.0"  # newly required is a breaking change

    _edit_contract(published, change)
    _compile(published)
    message = _failed_run(published)
    assert "FLOE910" in message and "breaks contract customer-360 2.0.0" in message
    assert re.search(
        r"column avg_satisfaction: required: expected no null values, observed \d+ null", message
    )
    assert _table(published).current_snapshot().snapshot_id == before


def test_a_quality_rule_violation_names_its_figures(published: Path) -> None:
    before = _table(published).current_snapshot().snapshot_id

    def change(data: dict) -> None:  # type: ignore[type-arg]
        data["schema"][0]["quality"] = [
            {"id": "many_customers", "metric": "rowCount", "mustBeGreaterThan": 100000}
        ]

    _edit_contract(published, change)
    _compile(published)
    message = _failed_run(published)
    assert "rowCount (many_customers): expected > 100000, observed 500" in message
    assert "datacontract.yaml:" in message
    assert _table(published).current_snapshot().snapshot_id == before


def test_a_removed_column_needs_a_major_version_at_compile_and_at_publication(
    published: Path, tmp_path: Path
) -> None:
    """Compile compares with the catalog; a compile that cannot see it (another machine)
    still cannot publish: the publication compares again.  With 2.0.0 it publishes."""
    before = _table(published).current_snapshot().snapshot_id
    _edit_contract(
        published,
        lambda d: d["schema"][0].update(
            properties=[p for p in d["schema"][0]["properties"] if p["name"] != "email"]
        ),
    )
    with pytest.raises(ContractVersionError) as raised:
        _compile(published)
    assert raised.value.exit_code == 11
    assert "needs version 2.0.0" in str(raised.value)
    assert "mart_customer_360.email: column removed (or renamed)" in str(raised.value)
    _compile(published, FLOE_LAKEHOUSE_DIR=str(tmp_path / "elsewhere"))
    message = _failed_run(published)
    assert "FLOE410" in message and "needs version 2.0.0" in message
    assert _table(published).current_snapshot().snapshot_id == before
    _edit_contract(published, lambda d: d.update(version="2.0.0"))
    _compile(published)
    _run(published)
    table = _table(published)
    assert table.current_snapshot().snapshot_id != before
    assert table.properties["floe.contract.version"] == "2.0.0"


def test_an_added_optional_column_publishes_with_a_minor_bump(published: Path) -> None:
    model = published / PRODUCT / "models" / "marts" / "mart_customer_360.sql"
    model.write_text(model.read_text().replace("    c.segment,", "    c.segment,\n    1 as tier,"))

    def add(version: str) -> None:
        def change(data: dict) -> None:  # type: ignore[type-arg]
            data["version"] = version
            props = data["schema"][0]["properties"]
            if not any(p["name"] == "tier" for p in props):
                props.append({"name": "tier", "logicalType": "integer"})

        _edit_contract(published, change)

    add("1.0.0")
    with pytest.raises(ContractVersionError, match=r"needs version 1\.1\.0"):
        _compile(published)
    add("1.1.0")
    _compile(published)
    _run(published)
    table = _table(published)
    assert table.properties["floe.contract.version"] == "1.1.0"
    assert "tier" in table.schema().column_names


def test_contract_diff_exit_codes(published: Path, tmp_path: Path) -> None:
    """0 when the version allows the changes, 11 when it does not (CI gates on it)."""
    product = str(published / PRODUCT)
    runner = CliRunner()
    same = runner.invoke(main, ["contract", "diff", product])
    assert same.exit_code == 0, same.output
    assert "no change consumers rely on (1.0.0 -> 1.0.0)" in same.output
    old = tmp_path / "old.yaml"
    old.write_text(_contract(published).read_text())
    _edit_contract(published, lambda d: _column(d, "segment").update(logicalType="integer"))
    broken = runner.invoke(main, ["contract", "diff", product])
    assert broken.exit_code == 11, broken.output
    assert "breaking     mart_customer_360.segment: logical type string -> integer" in (
        broken.output
    )
    as_json = runner.invoke(main, ["contract", "diff", product, "--against", str(old), "--json"])
    assert as_json.exit_code == 11
    report = json.loads(as_json.output.split("\nFLOE410")[0])
    assert report["needed_versions"] == {"*": "2.0.0"} and not report["ok"]
    _edit_contract(published, lambda d: d.update(version="2.0.0"))
    bumped = runner.invoke(main, ["contract", "diff", product, "--against", str(old)])
    assert bumped.exit_code == 0, bumped.output


def test_contract_init_writes_a_valid_contract_and_never_overwrites(published: Path) -> None:
    """Issue 24 point 2: from the built table (types), the tests (guarantees) and docs."""
    path = _contract(published)
    path.unlink()
    runner = CliRunner()
    done = runner.invoke(main, ["contract", "init", str(published / PRODUCT)])
    assert done.exit_code == 0, done.output
    assert "guessed: mart_customer_360.customer_id: primaryKey from its unique and not_null" in (
        done.output
    )
    data = yaml.safe_load(path.read_text())
    [table] = data["schema"]
    columns = {p["name"]: p for p in table["properties"]}
    assert table["physicalName"] == "mart_customer_360"
    assert columns["customer_id"]["logicalType"] == "integer"
    assert columns["customer_id"]["primaryKey"] is True
    assert columns["email"]["required"] is True
    assert columns["lifetime_value"]["logicalType"] == "number"
    assert columns["email"]["description"] == "Contact e-mail."
    compile_product(published / PRODUCT / "floe.yaml")  # it compiles as written
    again = runner.invoke(main, ["contract", "init", str(published / PRODUCT)])
    assert again.exit_code == 9
    assert "refusing to replace an existing data contract" in again.output

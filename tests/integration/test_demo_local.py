"""The local path (issue 3): compile_demo on a fresh copy, then materialize in-process.

AC-11.2 (target/manifest.json per product), BC-11.3 (target/ created when absent),
AC-10.6 / AC-11.9 (profiles target and a project-relative DuckDB path).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from floe.compiler.pipeline import compile_product
from floe.errors import PolicyViolationError
from floe.local.run import ProductRun, load_definitions_module, run_product
from floe.schemas import CompiledArtifacts
from tests.conftest import PRODUCTS, demo_shape

# rows in each product's mart, fixed by demo/scripts/generate_seeds.py
MART_ROWS = {
    "customer-360": ("main.mart_customer_360", 500),
    "iot-telemetry": ("main.mart_equipment_health", 20),
    "financial-risk": ("main.mart_risk_dashboard", 40),
    "risk-overview": ("main.mart_risk_overview", 2),
}


@pytest.mark.parametrize("product", PRODUCTS)
def test_ac_11_2_bc_11_3_compile_demo_writes_manifest_artifacts_definitions(
    compiled_demo: Path, product: str
) -> None:
    product_dir = compiled_demo / product
    manifest = json.loads((product_dir / "target" / "manifest.json").read_text())
    models = [n for n in manifest["nodes"].values() if n["resource_type"] == "model"]
    assert len(models) == demo_shape(product).models
    artifacts = CompiledArtifacts.from_json((product_dir / "compiled_artifacts.json").read_text())
    assert artifacts.metadata.product_name == product
    # the demo products pass governance under the demo manifest's level (issue 4)
    summary = artifacts.enforcement_result
    assert (summary.error_count, summary.warning_count, summary.passed) == (0, 0, True)
    module = load_definitions_module(product_dir)
    assert type(module.defs).__name__ == "Definitions"


@pytest.mark.parametrize("product", PRODUCTS)
def test_ac_10_6_ac_11_9_profile_matches_compute_plugin(compiled_demo: Path, product: str) -> None:
    profiles = yaml.safe_load((compiled_demo / product / ".floe" / "profiles.yml").read_text())
    project = yaml.safe_load((compiled_demo / product / "dbt_project.yml").read_text())
    profile = profiles[project["profile"]]
    assert profile["target"] == "duckdb"  # compute plugin type
    output = profile["outputs"][profile["target"]]
    assert output["type"] == "duckdb"
    assert output["path"] == "target/demo.duckdb"  # relative: writable inside the container
    assert output["threads"] == 2 and output["settings"] == {"memory_limit": "1GB"}
    assert project["macro-paths"] == ["../macros"]


def test_definitions_schedule_comes_from_floe_yaml(compiled_demo: Path) -> None:
    defs = load_definitions_module(compiled_demo / "iot-telemetry").defs
    schedules = list(defs.schedules)
    assert len(schedules) == 1
    assert schedules[0].cron_schedule == "*/30 * * * *"
    assert schedules[0].execution_timezone == "Europe/Berlin"
    stopped = list(load_definitions_module(compiled_demo / "financial-risk").defs.schedules)
    assert stopped[0].default_status.value == "STOPPED"


@pytest.fixture(scope="module")
def demo_runs(compiled_demo: Path) -> dict[str, ProductRun]:
    return {p: run_product(compiled_demo / p) for p in PRODUCTS}


@pytest.mark.parametrize("product", PRODUCTS)
def test_run_demo_materializes_every_asset_with_real_rows(
    demo_runs: dict[str, ProductRun], product: str
) -> None:
    run = demo_runs[product]
    assert run.success, run.errors
    table, rows = MART_ROWS[product]
    assert run.tables[table] == rows
    shape = demo_shape(product)
    # seeds, models, and each input loaded from the catalog (plus the record of what was read)
    inputs = shape.inputs + 1 if shape.inputs else 0
    assert len(run.tables) == shape.seeds + shape.models + inputs
    assert all(count > 0 for count in run.tables.values())
    assert run.tests_failed == 0 and run.tests_passed >= 10


def test_run_demo_writes_lineage_and_spans_locally(
    compiled_demo: Path, demo_runs: dict[str, ProductRun]
) -> None:
    out = compiled_demo / "customer-360" / "target" / "observability"
    events = [json.loads(line) for line in (out / "openlineage.jsonl").read_text().splitlines()]
    completes = {e["job"]["name"] for e in events if e["eventType"] == "COMPLETE"}
    assert "customer-360.mart_customer_360" in completes
    mart = next(e for e in events if e["job"]["name"] == "customer-360.mart_customer_360")
    assert {i["name"] for i in mart["inputs"]} == {
        "demo.main.stg_customers",  # the physical DuckDB relations (issue 17)
        "demo.main.int_customer_orders",
        "demo.main.int_customer_support",
    }
    database = (compiled_demo / "customer-360" / "target" / "demo.duckdb").resolve()
    assert {i["namespace"] for i in mart["inputs"]} == {f"duckdb://{database}"}
    assert mart["job"]["namespace"] == "floe-demo"
    requests = [json.loads(line) for line in (out / "spans.jsonl").read_text().splitlines()]
    spans = [
        span
        for request in requests
        for resource in request["resourceSpans"]
        for scope in resource["scopeSpans"]
        for span in scope["spans"]
    ]
    roots = [s for s in spans if "parentSpanId" not in s]
    assert len(roots) == 1 and roots[0]["name"] == "floe.run customer-360"
    assert all(s["traceId"] == roots[0]["traceId"] for s in spans)
    last = json.loads((out / "last_run.json").read_text())
    nodes = json.loads(Path(last["run_results"]).read_text())["results"]
    assert len(spans) == 1 + len(nodes)  # the run + every seed, model and test dbt ran
    service = requests[0]["resourceSpans"][0]["resource"]["attributes"]
    assert {"key": "service.name", "value": {"stringValue": "customer-360"}} in service
    assert demo_runs["customer-360"].lineage.startswith(str(out / "openlineage.jsonl"))


def test_strict_violation_fails_compile_and_writes_nothing(
    compiled_demo: Path, demo_copy: Path
) -> None:
    """financial-risk is strict in floe.yaml: a violation there fails and names model + rule."""
    schema = demo_copy / "financial-risk" / "models" / "marts" / "_markets__marts.yml"
    schema.write_text(
        schema.read_text().replace(
            "One row per counterparty — exposure, value-at-risk, concentration and risk tier.",
            "TODO",
        ),
        encoding="utf-8",
    )
    with pytest.raises(PolicyViolationError) as info:
        compile_product(demo_copy / "financial-risk" / "floe.yaml")
    assert info.value.exit_code == 7
    assert "mart_risk_dashboard" in str(info.value) and "FLOE-D001" in str(info.value)
    assert not (demo_copy / "financial-risk" / "compiled_artifacts.json").exists()

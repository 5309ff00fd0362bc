"""Issue 26: data products that build on each other - inputs read through the catalog,
under the producer's contract, ordered, and joined in lineage.

The demo's risk-overview reads customer-360's and financial-risk's published tables.
Real dbt, DuckDB and PyIceberg (the embedded catalog); lineage from the real event files.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
import yaml
from click.testing import CliRunner

from floe.cli import main
from floe.compiler.pipeline import compile_product
from floe.errors import ConfigValidationError, DbtError, FloeError, InputError
from floe.local.compile_all import compile_all
from floe.local.run import run_all
from floe.runtime.publish.catalog import catalog_namespace, local_target, open_catalog
from tests.conftest import copy_demo

CONSUMER = "risk-overview"
READS = {
    "customer_360.mart_customer_360": "floe_inputs.customer_360__mart_customer_360",
    "financial_risk.mart_risk_dashboard": "floe_inputs.financial_risk__mart_risk_dashboard",
}
TRIO = ["customer-360", "financial-risk", CONSUMER]


def _events(product: Path) -> list[dict]:  # type: ignore[type-arg]
    path = product / "target" / "observability" / "openlineage.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """The demo's three linked products compiled and run at -j 2: (demo, progress)."""
    demo = copy_demo(tmp_path_factory.mktemp("inputs") / "demo")
    compile_all(demo, only=TRIO, progress=lambda _l: None)
    lines: list[str] = []
    run_all([demo / p for p in TRIO], progress=lines.append, jobs=2)
    return demo, lines


def test_the_consumer_runs_after_its_producers_and_reads_their_published_snapshots(
    ran: tuple[Path, list[str]],
) -> None:
    """Issue 26 points 2 and 4: the inputs come from the catalog (the snapshot that is
    current there, recorded in the consumer's DuckDB), never from the producers' files."""
    demo, lines = ran
    finished = [line.split("] ")[1].split()[0] for line in lines if " finished" in line]
    assert finished.index(CONSUMER) == 2  # after both producers, though -j 2
    catalog = open_catalog(local_target(demo / ".floe" / "lakehouse"))
    database = demo / CONSUMER / "target" / "demo.duckdb"
    with duckdb.connect(str(database), read_only=True) as con:
        recorded = {
            row[0]: (row[1], row[2])
            for row in con.execute(
                "select identifier, snapshot_id, contract_version from floe_inputs._floe_snapshots"
            ).fetchall()
        }
        for identifier, relation in READS.items():
            table = catalog.load_table(identifier)
            assert recorded[identifier] == (table.current_snapshot().snapshot_id, "1.0.0")
            copied = con.execute(f"select count(*) from {relation}").fetchall()[0][0]
            assert copied == table.scan().to_arrow().num_rows > 0
        overview = con.execute("select indicator, entities from main.mart_risk_overview").fetchall()
    assert len(overview) == 2
    published = catalog.load_table("risk_overview.mart_risk_overview")
    assert published.properties["floe.contract.version"] == "1.0.0"


def test_the_consumer_reads_the_producer_table_by_the_identity_its_publication_names(
    ran: tuple[Path, list[str]],
) -> None:
    """Issue 26 point 5: the consumer's input dataset has the namespace and name of the
    producer's publication output (lineage backends join the two graphs there)."""
    demo, _ = ran
    produced = {
        (o["namespace"], o["name"])
        for e in _events(demo / "customer-360")
        if e["eventType"] == "COMPLETE" and e["job"]["name"].startswith("customer-360.publish.")
        for o in e["outputs"]
    }
    loads = [
        e
        for e in _events(demo / CONSUMER)
        if e["eventType"] == "COMPLETE" and ".load_input." in e["job"]["name"]
    ]
    read = {(i["namespace"], i["name"]) for e in loads for i in e["inputs"]}
    warehouse = (demo / ".floe" / "lakehouse" / "warehouse").resolve()
    joined = (f"iceberg+file://{warehouse}", "customer_360.mart_customer_360")
    assert joined in produced and joined in read
    artifacts = json.loads((demo / CONSUMER / "compiled_artifacts.json").read_text())
    assert catalog_namespace(demo / CONSUMER, artifacts, {}) == joined[0]
    version = next(
        i["facets"]["version"]["datasetVersion"]
        for e in loads
        for i in e["inputs"]
        if i["name"] == joined[1]
    )
    catalog = open_catalog(local_target(demo / ".floe" / "lakehouse"))
    assert version == str(catalog.load_table(joined[1]).current_snapshot().snapshot_id)
    # the consumer's models read the loaded relation, as their own lineage says
    model_inputs = {
        i["name"]
        for e in _events(demo / CONSUMER)
        if e["job"]["name"].endswith("stg_customer_churn")
        for i in e["inputs"]
    }
    assert "demo.floe_inputs.customer_360__mart_customer_360" in model_inputs


def test_the_consumer_depends_on_the_producers_assets_and_is_started_by_their_sensor(
    ran: tuple[Path, list[str]],
) -> None:
    """Issue 26 point 4 in Dagster: the asset graph spans products, and an asset sensor
    on each input starts the consumer's job when the producer publishes."""
    from floe.local.run import load_definitions_module

    demo, _ = ran
    defs = load_definitions_module(demo / CONSUMER).defs
    graph = defs.resolve_asset_graph()
    upstream = {
        key.to_user_string()
        for key in graph.get(
            next(k for k in graph.get_all_asset_keys() if k.path[-1] == "stg_customer_churn")
        ).parent_keys
    }
    assert upstream == {"lakehouse/customer_360/mart_customer_360"}
    sensors = {s.name: s for s in defs.sensors}
    assert set(sensors) == {
        "risk_overview_after_customer_360__mart_customer_360",
        "risk_overview_after_financial_risk__mart_risk_dashboard",
    }
    assert all(s.job_name == "risk_overview_build" for s in sensors.values())


def test_a_failed_producer_table_marks_its_consumer_not_run(tmp_path: Path) -> None:
    demo = copy_demo(tmp_path / "demo")
    schema = demo / "customer-360" / "models" / "marts" / "_retail__marts.yml"
    text = schema.read_text()
    schema.write_text(text.replace("values: [inactive, low, medium, high]", "values: [low]"))
    compile_all(demo, only=TRIO, progress=lambda _l: None, jobs=1)
    lines: list[str] = []
    with pytest.raises(DbtError) as raised:
        run_all([demo / p for p in TRIO], progress=lines.append, jobs=1)
    block = "\n".join(lines)
    assert f"{CONSUMER}: NOT RUN" in block
    assert (
        "not run: input customer_360.mart_customer_360 was not published by customer-360 in "
        "this run: blocked" in block
    )
    assert CONSUMER in str(raised.value)  # among the failed products
    catalog = open_catalog(local_target(demo / ".floe" / "lakehouse"))
    assert catalog.load_table("financial_risk.mart_risk_dashboard").current_snapshot()
    assert not (demo / CONSUMER / "target" / "observability" / "last_run.json").exists()


def _inputs(demo: Path, change: object) -> Path:
    spec = demo / CONSUMER / "floe.yaml"
    data = yaml.safe_load(spec.read_text())
    change(data["inputs"])  # type: ignore[operator]
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    return spec


def _line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


BAD_INPUTS = {
    "unknown product": (lambda i: i[0].update(product="nope"), "no product nope", "product: nope"),
    "unknown table": (
        lambda i: i[0].update(table="mart_nope"),
        "customer-360 has no model mart_nope",
        "table: mart_nope",
    ),
    "table not published": (
        lambda i: i[0].update(table="stg_customers"),
        "customer-360 does not publish stg_customers",
        "table: stg_customers",
    ),
    "contract outside the range": (
        lambda i: i[0].update(contract="^2"),
        "is at version 1.0.0, outside the accepted range ^2",
        "contract: ^2",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_an_input_that_does_not_resolve_is_a_located_error(case: str, demo_copy: Path) -> None:
    change, message, line = BAD_INPUTS[case]
    spec = _inputs(demo_copy, change)
    with pytest.raises(InputError) as raised:
        compile_product(spec)
    assert message in str(raised.value)
    assert raised.value.exit_code == 4
    location = raised.value.location
    assert location is not None and location.file == spec
    assert location.line == _line_of(spec, line)


def test_a_version_range_that_does_not_parse_is_a_located_error(demo_copy: Path) -> None:
    spec = _inputs(demo_copy, lambda i: i[0].update(contract="^one"))
    with pytest.raises(ConfigValidationError) as raised:
        compile_product(spec)
    assert "'^one' is not a version range" in str(raised.value)
    assert raised.value.location is not None
    assert raised.value.location.line == _line_of(spec, "contract: ^one")


def test_a_column_the_producer_does_not_promise_is_an_error_naming_model_and_column(
    demo_copy: Path,
) -> None:
    model = demo_copy / CONSUMER / "models" / "staging" / "stg_customer_churn.sql"
    model.write_text(model.read_text().replace("    segment,", "    segment,\n    secret_score,"))
    with pytest.raises(InputError) as raised:
        compile_product(demo_copy / CONSUMER / "floe.yaml")
    error = raised.value
    assert "model stg_customer_churn reads secret_score from customer-360.mart_customer_360" in (
        error.message
    )
    assert "contract customer-360 1.0.0 does not promise" in error.message
    assert error.location is not None and error.location.file == model


def test_a_breaking_change_of_the_producer_fails_the_consumers_compile(demo_copy: Path) -> None:
    """The producer moves to 2.0.0 (a column dropped): the consumer accepting ^1 fails to
    compile, and `floe contract diff` on the producer names the consumer it breaks."""
    contract = demo_copy / "customer-360" / "datacontract.yaml"
    old = demo_copy.parent / "old.yaml"
    old.write_text(contract.read_text())
    data = yaml.safe_load(contract.read_text())
    data["version"] = "2.0.0"
    data["schema"][0]["properties"] = [
        p for p in data["schema"][0]["properties"] if p["name"] != "segment"
    ]
    contract.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(InputError, match=r"at version 2\.0\.0, outside the accepted range \^1"):
        compile_product(demo_copy / CONSUMER / "floe.yaml")
    out = CliRunner().invoke(
        main, ["contract", "diff", str(demo_copy / "customer-360"), "--against", str(old)]
    )
    assert out.exit_code == 0, out.output  # 2.0.0 is enough for the producer itself
    assert "consumer risk-overview reads mart_customer_360: 2.0.0 is outside the ^1 it accepts" in (
        out.output
    )


def test_products_that_read_each_other_in_a_circle_are_refused(demo_copy: Path) -> None:
    spec = demo_copy / "customer-360" / "floe.yaml"
    data = yaml.safe_load(spec.read_text())
    data["inputs"] = [{"product": CONSUMER, "table": "mart_risk_overview", "contract": "^1"}]
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(
        FloeError,
        match="products read each other in a circle: customer-360 -> risk-overview -> customer-360",
    ):
        compile_product(spec)


def test_an_input_without_its_dbt_source_says_how_to_add_it(demo_copy: Path) -> None:
    (demo_copy / CONSUMER / "models" / "_floe_inputs__financial_risk.yml").unlink()
    model = demo_copy / CONSUMER / "models" / "staging" / "stg_counterparty_exposure.sql"
    model.write_text(
        "select 1 as counterparty_id, 'x' as sector, 'high' as risk_tier, 1.0 as net_exposure\n"
    )
    with pytest.raises(InputError) as raised:
        compile_product(demo_copy / CONSUMER / "floe.yaml")
    assert "declares no source financial_risk.mart_risk_dashboard" in str(raised.value)
    assert "floe input add" in str(raised.value)


def test_input_add_appends_to_floe_yaml_keeping_it_and_writes_the_source_once(
    demo_copy: Path,
) -> None:
    spec = demo_copy / CONSUMER / "floe.yaml"
    data = yaml.safe_load(spec.read_text())
    data["inputs"] = data["inputs"][:1]
    text = "# my comment stays\n" + yaml.safe_dump(data, sort_keys=False)
    spec.write_text(text)
    sources = demo_copy / CONSUMER / "models" / "_floe_inputs__iot_telemetry.yml"
    runner = CliRunner()
    done = runner.invoke(
        main, ["input", "add", str(demo_copy / CONSUMER), "iot-telemetry.mart_equipment_health"]
    )
    assert done.exit_code == 0, done.output
    after = spec.read_text()
    kept = after.splitlines()
    at = next(i for i, line in enumerate(kept) if line.endswith("- product: iot-telemetry"))
    assert [line.strip() for line in kept[at + 1 : at + 3]] == [
        "table: mart_equipment_health",
        'contract: "^1"',
    ]
    assert kept[:at] + kept[at + 3 :] == text.splitlines()  # nothing of the team's text changed
    added = yaml.safe_load(after)["inputs"][-1]
    assert added == {"product": "iot-telemetry", "table": "mart_equipment_health", "contract": "^1"}
    source = yaml.safe_load(sources.read_text())["sources"][0]
    assert source["schema"] == "floe_inputs"
    assert source["tables"][0]["identifier"] == "iot_telemetry__mart_equipment_health"
    before = sources.read_text()
    again = runner.invoke(
        main, ["input", "add", str(demo_copy / CONSUMER), "iot-telemetry.mart_equipment_health"]
    )
    assert again.exit_code == 0
    assert "lists iot-telemetry.mart_equipment_health already" in again.output
    assert sources.read_text() == before and spec.read_text() == after
    unknown = runner.invoke(main, ["input", "add", str(demo_copy / CONSUMER), "nope.x"])
    assert unknown.exit_code == 4 and "no product 'nope'" in unknown.output

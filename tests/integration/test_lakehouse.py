"""Issue 13: every product's published models are Iceberg tables in the embedded catalog.

Real files only: the demo is compiled and materialized in-process (the generated
definitions publish through floe.runtime.publish with PyIceberg's SQL catalog on
SQLite), then read back with PyIceberg and compared with the DuckDB marts.
"""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
import yaml
from click.testing import CliRunner

from floe.cli import main
from floe.compiler.loader import load_manifest
from floe.errors import ConfigValidationError, LakehouseError, SecretLiteralError
from floe.local.compile_all import compile_all
from floe.local.run import run_product
from floe.runtime.product import published_models
from floe.runtime.publish.catalog import (
    catalog_target,
    local_target,
    open_catalog,
    resolve_reference,
    secret_env_name,
)
from floe.runtime.publish.lakehouse import publish_model
from tests.conftest import DEMO_MANIFEST, PRODUCTS, copy_demo, demo_shape

GOLD = {p: f"{p.replace('-', '_')}.{demo_shape(p).gold}" for p in PRODUCTS}


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo, compiled and run once: every product published to <demo>/.floe/lakehouse."""
    demo = copy_demo(tmp_path_factory.mktemp("lakehouse") / "demo")
    compile_all(demo, progress=lambda _line: None, jobs=1)
    for product in PRODUCTS:
        run = run_product(demo / product)
        assert run.success, run.errors
    return demo


def _catalog(demo: Path):  # type: ignore[no-untyped-def]
    return open_catalog(local_target(demo / ".floe" / "lakehouse"))


def _duckdb_mart(product_dir: Path, table: str) -> pa.Table:
    with duckdb.connect(str(product_dir / "target" / "demo.duckdb"), read_only=True) as con:
        return con.sql(f'select * from main."{table}"').to_arrow_table()


def _sorted(table: pa.Table) -> pa.Table:
    return table.sort_by([(name, "ascending") for name in table.column_names])


@pytest.mark.parametrize("product", PRODUCTS)
def test_gold_marts_are_published_and_read_back_equal(published: Path, product: str) -> None:
    identifier = GOLD[product]
    table = _catalog(published).load_table(identifier)
    iceberg = table.scan().to_arrow()
    mart = _duckdb_mart(published / product, identifier.split(".")[1])
    assert iceberg.num_rows == mart.num_rows > 0
    assert iceberg.column_names == mart.column_names
    assert _sorted(iceberg).equals(_sorted(mart.cast(iceberg.schema)))
    # snapshot summary carries the run and the product version, nothing secret
    summary = table.current_snapshot().summary.additional_properties  # type: ignore[union-attr]
    assert summary["floe.product_version"] == "1.0.0" and summary["floe.run_id"]
    assert not {k for k in summary if "secret" in k or "credential" in k}


def test_only_gold_models_are_published(published: Path) -> None:
    catalog = _catalog(published)
    tables = sorted(
        ".".join(t) for ns in catalog.list_namespaces() for t in catalog.list_tables(ns)
    )
    assert tables == sorted(GOLD.values())


def test_lineage_names_the_published_table_by_its_iceberg_identity(published: Path) -> None:
    """Issues 13 and 17: the output is the Iceberg table by catalog identity, with its
    schema and column lineage from the dbt relation it was copied from."""
    events = [
        json.loads(line)
        for line in (published / "customer-360" / "target" / "observability" / "openlineage.jsonl")
        .read_text()
        .splitlines()
    ]
    done = [e for e in events if e["job"]["name"] == "customer-360.publish.mart_customer_360"]
    assert [e["eventType"] for e in done] == ["START", "COMPLETE"]
    warehouse = (published / ".floe" / "lakehouse" / "warehouse").resolve()
    assert [(o["namespace"], o["name"]) for o in done[1]["outputs"]] == [
        (f"iceberg+file://{warehouse}", "customer_360.mart_customer_360")
    ]
    assert done[1]["inputs"][0]["name"] == "demo.main.mart_customer_360"
    output = done[1]["outputs"][0]["facets"]  # issue 17: the Iceberg table's own schema
    columns = {f["name"]: f["type"] for f in output["schema"]["fields"]}
    assert columns["customer_id"] in {"long", "int"}
    lineage = output["columnLineage"]["fields"]
    assert set(lineage) == set(columns)
    database = (published / "customer-360" / "target" / "demo.duckdb").resolve()
    assert lineage["customer_id"]["inputFields"] == [
        {
            "namespace": f"duckdb://{database}",
            "name": "demo.main.mart_customer_360",
            "field": "customer_id",
            "transformations": [],
        }
    ]


@pytest.fixture
def product(published: Path, tmp_path: Path) -> Path:
    """A private copy of the compiled demo whose customer-360 has published once to the
    copy's own catalog."""
    demo = tmp_path / "demo"
    shutil.copytree(published, demo, ignore=shutil.ignore_patterns("lakehouse"))
    run = run_product(demo / "customer-360")
    assert run.success, run.errors
    return demo / "customer-360"


def _history(product_dir: Path) -> list[dict]:  # type: ignore[type-arg]
    result = CliRunner().invoke(
        main,
        [
            "catalog",
            "history",
            "customer_360.mart_customer_360",
            "--platform-dir",
            str(product_dir.parent),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.output)["snapshots"]  # type: ignore[no-any-return]


def test_a_second_run_adds_one_snapshot_and_the_previous_one_keeps_the_old_data(
    product: Path,
) -> None:
    old_mart = _duckdb_mart(product, "mart_customer_360")
    seed = product / "seeds" / "raw_transactions.csv"
    lines = seed.read_text().splitlines()
    seed.write_text("\n".join(lines[:-1000]) + "\n")  # a thousand transactions fewer
    before = _history(product)
    run = run_product(product)
    assert run.success, run.errors
    after = _history(product)
    assert len(after) == len(before) + 1
    assert after[-1]["current"] and after[-1]["operation"] == "overwrite"
    table = open_catalog(local_target(product.parent / ".floe" / "lakehouse")).load_table(
        "customer_360.mart_customer_360"
    )
    new_mart = _duckdb_mart(product, "mart_customer_360")
    assert not _sorted(new_mart).equals(_sorted(old_mart))
    current = table.scan().to_arrow()
    assert _sorted(current).equals(_sorted(new_mart.cast(current.schema)))
    previous = table.scan(snapshot_id=before[-1]["snapshot_id"]).to_arrow()
    assert _sorted(previous).equals(_sorted(old_mart.cast(previous.schema)))
    assert run.published and run.published[0]["table"] == "customer_360.mart_customer_360"


def _publish(product: Path) -> None:
    publish_model(
        product, "mart_customer_360", run_id=str(uuid.uuid4()), env={"FLOE_CATALOG": "local"}
    )


def _alter(product: Path, sql: str) -> None:
    with duckdb.connect(str(product / "target" / "demo.duckdb")) as con:
        con.execute(sql)


def test_an_added_column_evolves_the_table_schema(product: Path) -> None:
    _alter(
        product, "alter table main.mart_customer_360 add column loyalty_tier varchar default 'gold'"
    )
    _publish(product)
    table = open_catalog(local_target(product.parent / ".floe" / "lakehouse")).load_table(
        "customer_360.mart_customer_360"
    )
    assert table.schema().find_field("loyalty_tier").field_type.__class__.__name__ == "StringType"
    current = table.scan().to_arrow()
    assert set(current.column("loyalty_tier").to_pylist()) == {"gold"}
    old = table.scan(snapshot_id=table.snapshots()[0].snapshot_id).to_arrow()
    assert old.num_rows == 500


def test_an_incompatible_change_fails_naming_table_and_column_and_keeps_the_snapshot(
    product: Path,
) -> None:
    before = _history(product)
    _alter(
        product,
        "alter table main.mart_customer_360 alter column customer_id set data type varchar",
    )
    with pytest.raises(LakehouseError) as info:
        _publish(product)
    message = str(info.value)
    assert "customer_360.mart_customer_360" in message and "column customer_id" in message
    assert "keeps its current snapshot" in message
    assert _history(product) == before
    table = open_catalog(local_target(product.parent / ".floe" / "lakehouse")).load_table(
        "customer_360.mart_customer_360"
    )
    assert table.scan().to_arrow().num_rows == 500


def test_an_unwritable_warehouse_fails_the_run_clearly_and_loses_no_snapshot(
    product: Path,
) -> None:
    data = (
        product.parent
        / ".floe"
        / "lakehouse"
        / "warehouse"
        / "customer_360"
        / "mart_customer_360"
        / "data"
    )
    before = _history(product)
    moved = data.with_name("data-aside")
    data.rename(moved)
    data.write_text("not a directory")  # the warehouse cannot take new data files
    try:
        run = run_product(product)
    finally:
        data.unlink()
        moved.rename(data)
    assert not run.success
    assert any("cannot write customer_360.mart_customer_360" in e for e in run.errors), run.errors
    assert _history(product) == before
    table = open_catalog(local_target(product.parent / ".floe" / "lakehouse")).load_table(
        "customer_360.mart_customer_360"
    )
    assert table.scan().to_arrow().num_rows == 500


def test_catalog_tables_on_an_empty_platform_says_so(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["catalog", "tables", "--platform-dir", str(tmp_path)])
    assert result.exit_code == 0
    assert "no tables published yet" in result.output
    assert not (tmp_path / ".floe").exists()  # reading creates nothing


def test_catalog_tables_lists_every_published_table(published: Path) -> None:
    result = CliRunner().invoke(
        main, ["catalog", "tables", "--platform-dir", str(published), "--json"]
    )
    assert result.exit_code == 0, result.output
    tables = {t["identifier"]: t for t in json.loads(result.output)}
    assert set(tables) == set(GOLD.values())
    assert tables["customer_360.mart_customer_360"]["rows"] == 500
    assert all(t["snapshot_id"] and t["committed_at"] and t["location"] for t in tables.values())


# ---------------------------------------------------------------- configuration


def test_published_models_default_to_gold_and_follow_publish_flags() -> None:
    artifacts = {
        "transforms": {
            "models": [
                {"name": "a", "tier": "gold"},
                {"name": "b", "tier": "gold", "publish": False},
                {"name": "c", "tier": "silver", "publish": True},
                {"name": "d", "tier": "bronze"},
            ]
        }
    }
    assert published_models(artifacts) == ["a", "c"]


def test_platform_catalog_resolves_credentials_at_run_time(tmp_path: Path) -> None:
    artifacts = json.loads(
        json.dumps(
            {
                "plugins": load_manifest(DEMO_MANIFEST).model.plugins.model_dump(
                    mode="json", exclude_none=True
                )
            }
        )
    )
    secrets = tmp_path / "secrets" / "floe-demo-credentials"
    secrets.mkdir(parents=True)
    (secrets / "polaris-client-secret").write_text("from-a-mounted-file\n")
    env = {
        "FLOE_CATALOG": "platform",
        "FLOE_SECRETS_DIR": str(tmp_path / "secrets"),
        secret_env_name("floe-demo-credentials", "polaris-client-id"): "client-from-env",
        secret_env_name("floe-demo-credentials", "minio-root-user"): "minio-user",
        secret_env_name("floe-demo-credentials", "minio-root-password"): "minio-pass",
    }
    target = catalog_target(tmp_path, artifacts, env)
    assert target.properties["credential"] == "client-from-env:from-a-mounted-file"
    assert target.properties["uri"] == "http://floe-platform-polaris:8181/api/catalog"
    assert target.properties["s3.endpoint"] == "http://floe-platform-minio:9000"
    assert "client-from-env" not in target.description and "minio-pass" not in target.description


def test_a_missing_secret_names_both_places_it_was_looked_for(tmp_path: Path) -> None:
    ref = {"secret": {"name": "creds", "key": "pw"}}
    with pytest.raises(LakehouseError) as info:
        resolve_reference(ref, {"FLOE_SECRETS_DIR": str(tmp_path)}, "catalog client_secret")
    assert "$FLOE_SECRET_CREDS_PW" in str(info.value) and str(tmp_path / "creds" / "pw") in str(
        info.value
    )


@pytest.mark.parametrize(
    ("path", "value", "error", "field"),
    [
        (
            ("plugins", "catalog", "config", "uri"),
            "not a url",
            ConfigValidationError,
            "plugins.catalog.config.uri",
        ),
        (
            ("plugins", "catalog", "config", "warehouse"),
            "",
            ConfigValidationError,
            "plugins.catalog.config.warehouse",
        ),
        (
            ("plugins", "storage", "config", "bucket"),
            "Bad_Bucket",
            ConfigValidationError,
            "plugins.storage.config.bucket",
        ),
        (
            ("plugins", "catalog", "config", "client_secret"),
            "hunter2",
            SecretLiteralError,
            "plugins.catalog.config.client_secret",
        ),
        (
            ("plugins", "storage", "config", "endpointt"),
            "http://x:9000",
            ConfigValidationError,
            "plugins.storage.config.endpointt",
        ),
    ],
)
def test_bad_catalog_or_storage_configuration_is_a_located_compile_error(
    tmp_path: Path, path: tuple[str, ...], value: str, error: type, field: str
) -> None:
    data = yaml.safe_load(DEMO_MANIFEST.read_text())
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    manifest = tmp_path / "manifest.yaml"
    manifest.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(error) as info:
        load_manifest(manifest)
    location = info.value.location  # type: ignore[attr-defined]
    assert location.file == manifest and location.line > 0 and field in str(info.value)
    assert "hunter2" not in str(info.value)

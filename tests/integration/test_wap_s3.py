"""Issue 25: write-audit-publish on S3 storage, as FLOE_CATALOG=platform configures it.

An S3-compatible server (moto's, on loopback, started by the test) stands in for MinIO.
The catalog properties come from the demo manifest through ``platform_target`` (the
storage endpoint, path-style access and the credentials resolved at run time from their
Secret references); Polaris itself cannot run here, so the catalog metadata is kept by
PyIceberg's SQL catalog while every data and metadata file goes to S3 through PyIceberg's
pyarrow FileIO with those properties.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from floe.local.compile_all import compile_all
from floe.runtime.publish.catalog import platform_target
from floe.runtime.publish.lakehouse import publish_arrow
from floe.runtime.publish.wap import AuditFailed
from tests.conftest import copy_demo

BUCKET = "floe-demo"
PREFIX = "FLOE_SECRET_FLOE_DEMO_CREDENTIALS_"
SECRETS = {
    f"{PREFIX}POLARIS_CLIENT_ID": "polaris",
    f"{PREFIX}POLARIS_CLIENT_SECRET": "unused",  # pragma: allowlist secret
    f"{PREFIX}MINIO_ROOT_USER": "floe-test-key",
    f"{PREFIX}MINIO_ROOT_PASSWORD": "floe-test-value",  # pragma: allowlist secret
}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def s3() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    import boto3

    boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=SECRETS[f"{PREFIX}MINIO_ROOT_USER"],
        aws_secret_access_key=SECRETS[f"{PREFIX}MINIO_ROOT_PASSWORD"],
        region_name="us-east-1",
    ).create_bucket(Bucket=BUCKET)
    try:
        yield endpoint
    finally:
        server.stop()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, s3: str) -> tuple[Path, dict]:  # type: ignore[type-arg]
    """The demo's customer-360 compiled (its manifest pointing storage at the S3 server)
    and its mart built in DuckDB."""
    demo = copy_demo(tmp_path_factory.mktemp("s3") / "demo")
    manifest = demo / "manifest.yaml"
    manifest.write_text(manifest.read_text().replace("http://floe-platform-minio:9000", s3))
    compile_all(demo, only=["customer-360"], progress=lambda _l: None, jobs=1)
    from floe.local.run import run_all

    run_all([demo / "customer-360"], progress=lambda _l: None, jobs=1)
    artifacts = json.loads((demo / "customer-360" / "compiled_artifacts.json").read_text())
    return demo, artifacts


def _catalog(artifacts: dict, tmp_path: Path):  # type: ignore[no-untyped-def,type-arg]
    from pyiceberg.catalog import load_catalog

    target = platform_target(artifacts, SECRETS)
    storage = {k: v for k, v in target.properties.items() if k.startswith("s3.")}
    return load_catalog(
        "s3_test",
        type="sql",
        uri=f"sqlite:///{tmp_path / 'catalog.db'}",
        warehouse=f"s3://{BUCKET}/warehouse",
        **storage,
    ), storage


def _mart(demo: Path):  # type: ignore[no-untyped-def]
    database = demo / "customer-360" / "target" / "demo.duckdb"
    with duckdb.connect(str(database), read_only=True) as con:
        return con.sql("select * from main.mart_customer_360").to_arrow_table()


def test_the_platform_storage_settings_reach_s3_with_the_resolved_credentials(
    built: tuple[Path, dict],  # type: ignore[type-arg]
    s3: str,
    tmp_path: Path,
) -> None:
    demo, artifacts = built
    catalog, storage = _catalog(artifacts, tmp_path)
    assert storage["s3.endpoint"] == s3 and storage["s3.path-style-access"] == "true"
    assert storage["s3.access-key-id"] == "floe-test-key"
    mart = _mart(demo)
    first = publish_arrow(catalog, "customer_360.mart_customer_360", mart, {}, run_id="one")
    second = publish_arrow(catalog, "customer_360.mart_customer_360", mart, {}, run_id="two")
    table = catalog.load_table("customer_360.mart_customer_360")
    assert table.location().startswith(f"s3://{BUCKET}/warehouse/")
    assert table.current_snapshot().snapshot_id == second.snapshot_id
    assert table.current_snapshot().parent_snapshot_id == first.snapshot_id
    assert set(table.metadata.refs) == {"main"}
    # read back from S3 with a catalog opened afresh
    again, _ = _catalog(artifacts, tmp_path)
    assert again.load_table("customer_360.mart_customer_360").scan().to_arrow().num_rows == 500
    import boto3

    keys = [
        o["Key"]
        for o in boto3.client(
            "s3",
            endpoint_url=s3,
            aws_access_key_id="floe-test-key",
            aws_secret_access_key="floe-test-value",  # pragma: allowlist secret
            region_name="us-east-1",
        ).list_objects_v2(Bucket=BUCKET)["Contents"]
    ]
    assert any(k.endswith(".parquet") for k in keys) and any(k.endswith(".avro") for k in keys)


def test_a_failed_audit_on_s3_keeps_main_and_the_branch(
    built: tuple[Path, dict],  # type: ignore[type-arg]
    tmp_path: Path,
) -> None:
    demo, artifacts = built
    catalog, _ = _catalog(artifacts, tmp_path)
    mart = _mart(demo)
    good = publish_arrow(catalog, "customer_360.audited", mart, {}, run_id="good")

    def reject(written) -> None:  # type: ignore[no-untyped-def]
        raise AuditFailed(f"{written.identifier}: audit 'test' failed")

    with pytest.raises(AuditFailed):
        publish_arrow(
            catalog, "customer_360.audited", mart.slice(0, 10), {}, run_id="bad", audit=reject
        )
    table = catalog.load_table("customer_360.audited")
    assert table.current_snapshot().snapshot_id == good.snapshot_id
    assert table.scan().to_arrow().num_rows == 500
    branch = table.snapshot_by_name("audit-bad")
    assert branch is not None
    assert table.scan(snapshot_id=branch.snapshot_id).to_arrow().num_rows == 10
    assert table.properties["floe.audit.failed.audit-bad"].endswith("audit 'test' failed")

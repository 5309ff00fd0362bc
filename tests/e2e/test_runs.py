"""Materialize each product in the cluster; lineage reaches Marquez, spans the collector."""

from __future__ import annotations

import json
import time
import urllib.request

import pytest

from floe.local.products import discover_products
from floe.packaging.deploy import RELEASE
from tests.conftest import DEMO
from tests.e2e.conftest import kubectl, port_forward

pytestmark = pytest.mark.e2e
PRODUCTS = [p.name for p in discover_products(DEMO)]
RUN_TIMEOUT_S = 900

LAUNCH = """
mutation($selector: JobOrPipelineSelector!) {
  launchRun(executionParams: {selector: $selector, mode: "default"}) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on InvalidSubsetError { message }
    ... on RunConfigValidationInvalid { errors { message } }
  }
}"""
STATUS = "query($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }"


def _graphql(base: str, query: str, variables: dict) -> dict:
    request = urllib.request.Request(
        f"{base}/graphql",
        data=json.dumps({"query": query, "variables": variables}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["data"]


@pytest.fixture(scope="module")
def runs() -> dict[str, str]:
    """Launch every product's build job and wait for each to finish: product -> status."""
    out: dict[str, str] = {}
    with port_forward("dagster-webserver", 80) as base:
        ids = {}
        for product in PRODUCTS:
            selector = {
                "repositoryLocationName": product,
                "repositoryName": "__repository__",
                "jobName": f"{product.replace('-', '_')}_build",
            }
            launched = _graphql(base, LAUNCH, {"selector": selector})["launchRun"]
            assert launched["__typename"] == "LaunchRunSuccess", launched
            ids[product] = launched["run"]["runId"]
        deadline = time.monotonic() + RUN_TIMEOUT_S
        while len(out) < len(ids) and time.monotonic() < deadline:
            for product, run_id in ids.items():
                status = _graphql(base, STATUS, {"id": run_id})["runOrError"]["status"]
                if status in {"SUCCESS", "FAILURE", "CANCELED"}:
                    out[product] = status
            time.sleep(5)
    return out


@pytest.mark.parametrize("product", PRODUCTS)
def test_materialization_succeeds(runs: dict[str, str], product: str) -> None:
    assert runs.get(product) == "SUCCESS"


@pytest.mark.parametrize("product", PRODUCTS)
def test_lineage_events_reach_marquez(runs: dict[str, str], product: str) -> None:
    assert runs.get(product) == "SUCCESS"
    with (
        port_forward("marquez", 5000) as base,
        urllib.request.urlopen(
            f"{base}/api/v1/namespaces/floe-demo/jobs?limit=200", timeout=30
        ) as response,
    ):
        jobs = {job["name"] for job in json.loads(response.read())["jobs"]}
    assert any(name.startswith(f"{product}.mart_") for name in jobs), sorted(jobs)


def test_spans_reach_the_collector(runs: dict[str, str]) -> None:
    assert set(runs.values()) == {"SUCCESS"}
    logs = kubectl("logs", f"deployment/{RELEASE}-otel", "--tail=20000")
    for product in PRODUCTS:
        assert f"floe.run {product}" in logs


def test_published_tables_read_back_through_polaris(
    runs: dict[str, str], credentials: dict[str, str]
) -> None:
    """Issue 13: after the runs, each product's gold models are Iceberg tables in the
    manifest's Polaris catalog, with data in MinIO, readable by any PyIceberg client."""
    from pyiceberg.catalog import load_catalog

    from floe.runtime.product import namespace_of, published_models
    from floe.schemas import CompiledArtifacts

    assert set(runs.values()) == {"SUCCESS"}, runs
    artifacts = [
        json.loads(
            CompiledArtifacts.from_json(
                (DEMO / p / "compiled_artifacts.json").read_text()
            ).to_json()
        )
        for p in PRODUCTS
    ]
    catalog_config = artifacts[0]["plugins"]["catalog"]["config"]
    storage = artifacts[0]["plugins"]["storage"]["config"]
    with port_forward("polaris", 8181) as polaris, port_forward("minio", 9000) as minio:
        catalog = load_catalog(
            "floe",
            type="rest",
            uri=f"{polaris}/api/catalog",
            warehouse=catalog_config["warehouse"],
            credential=f"{credentials['polaris-client-id']}:{credentials['polaris-client-secret']}",
            scope="PRINCIPAL_ROLE:ALL",
            **{
                "s3.endpoint": minio,
                "s3.access-key-id": credentials["minio-root-user"],
                "s3.secret-access-key": credentials["minio-root-password"],
                "s3.region": storage["region"],
                "s3.path-style-access": "true",
            },
        )
        for product in artifacts:
            for model in published_models(product):
                table = catalog.load_table(f"{namespace_of(product)}.{model}")
                assert table.scan().to_arrow().num_rows > 0
                summary = table.current_snapshot().summary.additional_properties
                assert summary["floe.product_version"] == product["metadata"]["product_version"]


def test_each_run_ran_in_a_job_pod_of_its_own_not_in_the_daemon(runs: dict[str, str]) -> None:
    """Issue 27: Dagster's K8s run launcher started one Kubernetes Job per run (pods
    labelled by the launcher with the run's job), each finished; the daemon's own log
    shows no run worker executing a step."""
    assert set(runs.values()) == {"SUCCESS"}, runs
    pods = json.loads(
        kubectl("get", "pods", "-l", "app.kubernetes.io/component=run_worker", "-o", "json")
    )["items"]
    jobs = {pod["metadata"]["labels"].get("dagster/job"): pod for pod in pods}
    for product in PRODUCTS:
        pod = jobs.get(f"{product.replace('-', '_')}_build")
        assert pod is not None, sorted(k for k in jobs if k)
        assert pod["status"]["phase"] == "Succeeded"
        assert pod["metadata"]["ownerReferences"][0]["kind"] == "Job"
    daemon = kubectl("logs", f"deployment/{RELEASE}-dagster-daemon", "--tail=20000")
    assert "STEP_START" not in daemon and "Executing steps" not in daemon

"""The deployed platform (AC-10.1, AC-10.3, AC-11.4, BC-10.1). Needs `nox -s demo` first."""

from __future__ import annotations

import pytest

from floe.health.checks import dagster_check, http_check
from floe.local.products import discover_products
from floe.packaging.deploy import RELEASE
from floe.schemas import CompiledArtifacts
from tests.conftest import DEMO
from tests.e2e.conftest import kubectl, port_forward

pytestmark = pytest.mark.e2e
LOCATIONS = [p.name for p in discover_products(DEMO)]


def _image(deployment: str) -> str:
    return kubectl(
        "get",
        "deployment",
        f"{RELEASE}-{deployment}",
        "-o",
        "jsonpath={.spec.template.spec.containers[0].image}",
    )


@pytest.mark.parametrize("component", ["dagster-webserver", "dagster-daemon"])
def test_ac_11_4_dagster_runs_the_demo_image(component: str) -> None:
    assert _image(component).startswith("floe-dagster-demo:")


def test_ac_11_4_all_code_locations_load_without_module_errors() -> None:
    with port_forward("dagster-webserver", 80) as base:
        result = dagster_check("dagster", base, LOCATIONS, timeout_s=10, retries=5)
    assert result.healthy, result.detail
    logs = kubectl("logs", f"deployment/{RELEASE}-dagster-webserver", "--tail=2000")
    assert "ModuleNotFoundError" not in logs


def test_ac_10_1_bc_10_1_polaris_is_pinned_and_ready() -> None:
    assert _image("polaris").endswith(":1.2.1-incubating")
    kubectl("rollout", "status", f"deployment/{RELEASE}-polaris", "--timeout=300s", timeout=320)


@pytest.mark.parametrize("product", LOCATIONS)
def test_ac_10_3_storage_comes_from_compiled_artifacts(product: str) -> None:
    """Storage is validated through CompiledArtifacts.plugins.storage, not a plugin registry."""
    artifacts = CompiledArtifacts.from_json(
        (DEMO / product / "compiled_artifacts.json").read_text()
    )
    storage = artifacts.plugins.storage
    assert storage is not None and storage.type in {"minio", "s3"}
    bucket = storage.config["bucket"]
    with port_forward("minio", 9000) as base:
        assert http_check("bucket", f"{base}/{bucket}", ok_status=(200, 403), retries=3).healthy


def test_ac_10_1_pyiceberg_lists_the_polaris_catalog(credentials: dict[str, str]) -> None:
    from pyiceberg.catalog import load_catalog

    artifacts = CompiledArtifacts.from_json(
        (DEMO / LOCATIONS[0] / "compiled_artifacts.json").read_text()
    )
    assert artifacts.plugins.catalog is not None
    warehouse = artifacts.plugins.catalog.config["warehouse"]
    with port_forward("polaris", 8181) as base:
        catalog = load_catalog(
            "floe",
            type="rest",
            uri=f"{base}/api/catalog",
            warehouse=warehouse,
            credential=f"{credentials['polaris-client-id']}:{credentials['polaris-client-secret']}",
            scope="PRINCIPAL_ROLE:ALL",
        )
        probe = ("floe_e2e_probe",)
        if probe not in catalog.list_namespaces():
            catalog.create_namespace(probe)  # the write that failed with "PUT method" before
        assert probe in catalog.list_namespaces()
        catalog.drop_namespace(probe)

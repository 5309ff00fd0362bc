"""compile_pipeline on the real demo files (runs dbt): AC-9.4, AC-9.6, lineage checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from floe.compiler.pipeline import compile_pipeline, compile_product
from floe.errors import LineageMismatchError


@pytest.fixture(scope="module")
def demo_artifacts(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    from tests.conftest import copy_demo

    demo = copy_demo(tmp_path_factory.mktemp("pipeline") / "demo")
    return compile_pipeline(demo / "customer-360" / "floe.yaml", demo / "manifest.yaml")


def test_ac_9_4_governance_flows_from_demo_manifest(demo_artifacts) -> None:  # type: ignore[no-untyped-def]
    gov = demo_artifacts.governance
    assert gov is not None
    assert gov.policy_enforcement_level == "warn"
    assert gov.audit_logging == "enabled"
    assert gov.data_retention_days == 1


def test_ac_9_6_observability_comes_from_demo_manifest(demo_artifacts) -> None:  # type: ignore[no-untyped-def]
    obs = demo_artifacts.observability
    assert obs.telemetry.otlp_endpoint == "http://floe-platform-otel:4317"
    assert obs.lineage is True
    assert obs.lineage_endpoint == "http://floe-platform-marquez:5000/api/v1/lineage"
    assert obs.lineage_transport == "http"
    assert obs.telemetry.resource_attributes.service_name == "customer-360"


def test_enforcement_summary_counts_real_dbt_models(demo_artifacts) -> None:  # type: ignore[no-untyped-def]
    summary = demo_artifacts.enforcement_result
    assert summary.models_validated == 6
    assert summary.enforcement_level == "warn"
    assert set(summary.policy_types_checked) == {
        "lineage",
        "naming",
        "documentation",
        "test_coverage",
        "contracts",  # issue 24: the demo product's datacontract.yaml
    }
    assert summary.passed is True


def test_ac_9_4_no_governance_section_gives_none(demo_copy: Path) -> None:
    manifest = demo_copy / "manifest.yaml"
    data = yaml.safe_load(manifest.read_text(encoding="utf-8"))
    del data["governance"]
    manifest.write_text(yaml.safe_dump(data), encoding="utf-8")
    artifacts = compile_pipeline(demo_copy / "customer-360" / "floe.yaml", manifest)
    assert artifacts.governance is None
    assert artifacts.enforcement_result.enforcement_level == "warn"  # AC-9.5 default


def test_manifest_path_defaults_to_spec_platform_ref(demo_copy: Path) -> None:
    artifacts = compile_pipeline(demo_copy / "iot-telemetry" / "floe.yaml")
    assert artifacts.metadata.product_name == "iot-telemetry"
    assert artifacts.schedule is not None and artifacts.schedule.timezone == "Europe/Berlin"


def test_transform_missing_from_dbt_is_an_error_naming_the_model(demo_copy: Path) -> None:
    spec = demo_copy / "customer-360" / "floe.yaml"
    text = spec.read_text(encoding="utf-8").replace(
        "    dependsOn: [stg_customers, int_customer_orders, int_customer_support]\n",
        "    dependsOn: [stg_customers, int_customer_orders, int_customer_support]\n"
        "  - name: mart_ghost\n    tier: gold\n",
    )
    spec.write_text(text, encoding="utf-8")
    with pytest.raises(LineageMismatchError) as info:
        compile_pipeline(spec)
    assert "mart_ghost" in str(info.value)
    assert info.value.location is not None and info.value.location.field_path == "transforms"


def test_wrong_depends_on_is_an_error_with_expected_refs(demo_copy: Path) -> None:
    spec = demo_copy / "customer-360" / "floe.yaml"
    spec.write_text(
        spec.read_text(encoding="utf-8").replace(
            "dependsOn: [stg_support_tickets]", "dependsOn: [stg_transactions]"
        ),
        encoding="utf-8",
    )
    with pytest.raises(LineageMismatchError) as info:
        compile_pipeline(spec)
    message = str(info.value)
    assert "int_customer_support" in message and "stg_support_tickets" in message


def test_dbt_model_missing_from_floe_yaml_is_an_error(demo_copy: Path) -> None:
    (demo_copy / "customer-360" / "models" / "marts" / "mart_extra.sql").write_text(
        "select 1 as id\n", encoding="utf-8"
    )
    with pytest.raises(LineageMismatchError, match="mart_extra"):
        compile_pipeline(demo_copy / "customer-360" / "floe.yaml")


def test_compile_product_writes_only_dbt_target(demo_copy: Path) -> None:
    product = demo_copy / "customer-360"
    result = compile_product(product / "floe.yaml")
    assert result.dbt_manifest_path == product / "target" / "manifest.json"
    assert not (product / "compiled_artifacts.json").exists()
    assert not (product / ".floe" / "profiles.yml").exists()
    assert (
        json.loads(result.dbt_manifest_path.read_text())["metadata"]["project_name"]
        == "customer_360"
    )

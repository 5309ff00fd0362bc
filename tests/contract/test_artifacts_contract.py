"""The CompiledArtifacts contract: AC-9.2, AC-9.3, round trips and JSON Schema export."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from floe.cli import main
from floe.compiler.builder import build_artifacts
from floe.schemas import CompiledArtifacts, FloeSpec, PlatformManifest
from floe.schemas.artifacts import ObservabilityConfig, ResourceAttributes, TelemetryConfig
from floe.schemas.versions import COMPILED_ARTIFACTS_VERSION, VERSION_HISTORY
from tests.conftest import customer_spec_data, demo_manifest_data

TELEMETRY = TelemetryConfig(resource_attributes=ResourceAttributes(service_name="svc"))


def _artifacts() -> CompiledArtifacts:
    return build_artifacts(
        FloeSpec.model_validate(customer_spec_data()),
        PlatformManifest.model_validate(demo_manifest_data()),
        compiled_at=datetime(2026, 2, 15, 12, 0, tzinfo=timezone.utc),
    )


def test_ac_9_2_observability_config_accepts_lineage_endpoint_and_transport() -> None:
    config = ObservabilityConfig(
        telemetry=TELEMETRY,
        lineage_namespace="x",
        lineage_endpoint="http://marquez:5000/api/v1/lineage",
        lineage_transport="http",
    )
    assert config.lineage_endpoint == "http://marquez:5000/api/v1/lineage"
    assert config.lineage_transport == "http"


def test_ac_9_2_lineage_fields_default_to_none() -> None:
    config = ObservabilityConfig(telemetry=TELEMETRY, lineage_namespace="x")
    assert config.lineage_endpoint is None
    assert config.lineage_transport is None


def test_ac_9_2_unknown_transport_is_rejected() -> None:
    with pytest.raises(ValidationError):
        ObservabilityConfig(telemetry=TELEMETRY, lineage_namespace="x", lineage_transport="pigeon")


def test_ac_9_3_version_is_0_12_0_with_history_entry() -> None:
    """Issues 24, 26, 29 and 27: the contract, the inputs, the run state and the run
    resources are backwards-compatible additions, each a minor bump with its history."""
    assert COMPILED_ARTIFACTS_VERSION == "0.12.0"
    assert "contract" in VERSION_HISTORY["0.9.0"]
    assert "inputs" in VERSION_HISTORY["0.10.0"]
    assert "state" in VERSION_HISTORY["0.11.0"]
    assert "run_resources" in VERSION_HISTORY["0.12.0"]
    assert list(VERSION_HISTORY)[-1] == COMPILED_ARTIFACTS_VERSION
    assert _artifacts().version == "0.12.0"


def test_artifacts_written_before_run_resources_still_load() -> None:
    """Issue 27: a 0.11-shaped document (no run_resources) loads with none."""
    data = json.loads(_artifacts().to_json())
    data.pop("run_resources", None)
    data["version"] = "0.11.0"
    assert CompiledArtifacts.model_validate(data).run_resources is None


def test_artifacts_written_before_state_still_load() -> None:
    """Issue 29: a 0.10-shaped document (no state) loads with no state."""
    data = json.loads(_artifacts().to_json())
    data.pop("state", None)
    data["version"] = "0.10.0"
    assert CompiledArtifacts.model_validate(data).state is None


def test_artifacts_written_before_inputs_still_load() -> None:
    """Issue 26: a 0.9-shaped document (no inputs) loads with no inputs."""
    data = json.loads(_artifacts().to_json())
    data.pop("inputs", None)
    data["version"] = "0.9.0"
    assert CompiledArtifacts.model_validate(data).inputs == []


def test_artifacts_written_before_contracts_still_load() -> None:
    """Issue 24: a 0.8-shaped document (no contract, no require_contracts) loads."""
    data = json.loads(_artifacts().to_json())
    data.pop("contract", None)
    data["version"] = "0.8.0"
    loaded = CompiledArtifacts.model_validate(data)
    assert loaded.contract is None


def test_ac_9_2_artifacts_json_round_trip_is_lossless() -> None:
    artifacts = _artifacts()
    again = CompiledArtifacts.from_json(artifacts.to_json())
    assert again == artifacts
    assert again.to_json() == artifacts.to_json()


def test_ac_9_2_artifacts_written_before_lineage_fields_still_load() -> None:
    """Backwards compatible: a 0.7-shaped document (no lineage_endpoint/transport) loads."""
    data = json.loads(_artifacts().to_json())
    del data["observability"]["lineage_endpoint"]
    del data["observability"]["lineage_transport"]
    data["version"] = "0.7.0"
    loaded = CompiledArtifacts.model_validate(data)
    assert loaded.observability.lineage_endpoint is None
    assert loaded.observability.lineage_transport is None


def test_compiled_at_must_be_utc() -> None:
    data = json.loads(_artifacts().to_json())
    data["metadata"]["compiled_at"] = "2026-02-15T12:00:00+02:00"
    with pytest.raises(ValidationError, match="UTC"):
        CompiledArtifacts.model_validate(data)


def test_artifacts_carry_storage_plugin_and_schedule() -> None:
    artifacts = _artifacts()
    assert artifacts.plugins.storage is not None
    assert artifacts.plugins.storage.config["bucket"] == "floe-demo"
    assert artifacts.schedule is not None and artifacts.schedule.cron == "0 6 * * *"


@pytest.mark.parametrize(
    ("document", "title", "required"),
    [
        ("manifest", "PlatformManifest", {"metadata", "plugins"}),
        # models are declared by transforms, select or defaultTier (issue 29): none required
        ("spec", "FloeSpec", {"metadata"}),
        ("artifacts", "CompiledArtifacts", {"metadata", "observability", "plugins"}),
    ],
)
def test_json_schema_export_for_each_document(
    document: str, title: str, required: set[str]
) -> None:
    result = CliRunner().invoke(main, ["schema", document])
    assert result.exit_code == 0, result.output
    schema = json.loads(result.output)
    assert schema["title"] == title
    assert required <= set(schema["required"])
    if document == "spec":
        assert {"transforms", "select", "defaultTier"} <= set(schema["properties"])


def test_manifest_json_schema_uses_yaml_key_names() -> None:
    schema = PlatformManifest.model_json_schema(by_alias=True)
    assert "apiVersion" in schema["properties"]
    assert "observability" in schema["properties"]

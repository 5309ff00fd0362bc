"""WU-9 manifest schema: AC-9.1, BC-9.1, BC-9.2, BC-9.3 on the real demo manifest."""

from __future__ import annotations

import warnings

import pytest

from floe.compiler.loader import load_manifest
from floe.errors import SecretLiteralError
from floe.schemas.manifest import (
    DEFAULT_OTLP_ENDPOINT,
    ObservabilityManifestConfig,
    PlatformManifest,
)
from tests.conftest import DEMO_MANIFEST, demo_manifest_data


def test_ac_9_1_demo_manifest_observability_is_typed() -> None:
    manifest = load_manifest(DEMO_MANIFEST).model
    assert isinstance(manifest.observability, ObservabilityManifestConfig)
    assert manifest.observability.tracing.endpoint == "http://floe-platform-otel:4317"
    assert (
        manifest.observability.lineage.endpoint
        == "http://floe-platform-marquez:5000/api/v1/lineage"
    )
    assert manifest.observability.logging.level == "INFO"
    assert "observability" not in (manifest.model_extra or {})


def test_ac_9_1_manifest_without_observability_still_loads() -> None:
    data = demo_manifest_data()
    del data["observability"]
    manifest = PlatformManifest.model_validate(data)
    assert manifest.observability is None


def test_ac_9_1_warn_on_extra_fields_lists_unknown_but_not_observability() -> None:
    data = demo_manifest_data()
    data["future_section"] = {"x": 1}
    data["another_one"] = True
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        manifest = PlatformManifest.model_validate(data)
    assert manifest.unknown_fields() == ["another_one", "future_section"]
    messages = [str(w.message) for w in caught]
    assert len(messages) == 1
    assert "another_one, future_section" in messages[0]
    assert "observability" not in messages[0]


def test_ac_9_1_demo_manifest_loads_without_any_warning() -> None:
    assert load_manifest(DEMO_MANIFEST).warnings == []


def test_ac_9_1_loader_locates_unknown_top_level_fields(write_yaml) -> None:  # type: ignore[no-untyped-def]
    text = DEMO_MANIFEST.read_text(encoding="utf-8") + "\nfuture_section: 1\n"
    loaded = load_manifest(write_yaml("manifest.yaml", text))
    assert [w.location.field_path for w in loaded.warnings] == ["future_section"]
    assert loaded.warnings[0].location.line == len(text.splitlines())


def test_bc_9_1_empty_observability_uses_all_defaults() -> None:
    data = demo_manifest_data()
    data["observability"] = {}
    obs = PlatformManifest.model_validate(data).observability
    assert obs is not None
    assert obs.tracing.enabled is True
    assert obs.tracing.endpoint == DEFAULT_OTLP_ENDPOINT
    assert obs.lineage.enabled is True
    assert obs.lineage.endpoint is None
    assert obs.logging.level == "INFO"


def test_bc_9_2_tracing_only_leaves_lineage_and_logging_default() -> None:
    data = demo_manifest_data()
    data["observability"] = {"tracing": {"endpoint": "http://collector:4317", "enabled": False}}
    obs = PlatformManifest.model_validate(data).observability
    assert obs is not None
    assert obs.tracing.endpoint == "http://collector:4317"
    assert obs.tracing.enabled is False
    assert obs.lineage.enabled is True and obs.lineage.transport is None
    assert obs.logging.level == "INFO" and obs.logging.format == "json"


def test_bc_9_3_governance_without_level_defaults_to_none() -> None:
    data = demo_manifest_data()
    data["governance"] = {"audit_logging": "enabled", "data_retention_days": 7}
    gov = PlatformManifest.model_validate(data).governance
    assert gov is not None
    assert gov.policy_enforcement_level is None
    assert gov.data_retention_days == 7


def test_literal_password_in_manifest_is_a_located_error(write_yaml) -> None:  # type: ignore[no-untyped-def]
    text = DEMO_MANIFEST.read_text(encoding="utf-8").replace(
        "      secret_access_key: "
        "{secret: {name: floe-demo-credentials, key: minio-root-password}}",
        "      secret_access_key: hunter2-not-a-reference",
    )
    path = write_yaml("manifest.yaml", text)
    with pytest.raises(SecretLiteralError) as info:
        load_manifest(path)
    err = info.value
    assert err.location is not None
    assert err.location.file == path
    assert err.location.line == 1 + text.splitlines().index(
        "      secret_access_key: hunter2-not-a-reference"
    )
    assert "secret_access_key" in str(err) and "{env: VAR_NAME}" in str(err)
    assert "hunter2" not in str(err)


def test_naming_pattern_that_backtracks_is_rejected() -> None:
    data = demo_manifest_data()
    data["governance"]["naming"] = {"convention": "custom", "patterns": {"staging": "^(a+)+$"}}
    with pytest.raises(ValueError, match="nests quantifiers"):
        PlatformManifest.model_validate(data)

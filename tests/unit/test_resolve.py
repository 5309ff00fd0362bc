"""Resolution rules: AC-9.5 (stricter wins), BC-9.4, AC-9.6 defaults, AC-9.7 build_artifacts."""

from __future__ import annotations

import pytest

from floe.compiler.builder import build_artifacts
from floe.compiler.resolve import (
    effective_enforcement_level,
    resolve_governance,
    resolve_observability,
)
from floe.schemas.artifacts import ResolvedGovernance
from floe.schemas.manifest import PlatformManifest
from floe.schemas.spec import FloeSpec
from tests.conftest import customer_spec_data, demo_manifest_data


def _manifest(**changes: object) -> PlatformManifest:
    data = demo_manifest_data()
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return PlatformManifest.model_validate(data)


def _spec(governance: dict | None = None) -> FloeSpec:
    data = customer_spec_data()
    if governance is not None:
        data["governance"] = governance
    return FloeSpec.model_validate(data)


@pytest.mark.parametrize(
    ("manifest_level", "spec_level", "expected"),
    [
        ("warn", None, "warn"),  # AC-9.5 manifest=warn, spec=None
        ("warn", "strict", "strict"),  # AC-9.5 spec strengthens
        ("strict", "warn", "strict"),  # AC-9.5 manifest wins, cannot weaken
        (None, None, "warn"),  # AC-9.5 default
        ("strict", "off", "strict"),  # BC-9.4 spec tries to switch it off
        ("warn", "off", "warn"),  # BC-9.4
        ("off", "warn", "warn"),
    ],
)
def test_ac_9_5_enforcement_level_stricter_wins(
    manifest_level: str | None, spec_level: str | None, expected: str
) -> None:
    assert effective_enforcement_level(manifest_level, spec_level) == expected


def test_bc_9_4_spec_cannot_weaken_manifest_governance() -> None:
    manifest = _manifest(governance={"policy_enforcement_level": "strict"})
    spec = _spec(
        {"policy_enforcement_level": "off", "quality_gates": {"min_test_coverage": {"marts": 10}}}
    )
    gov = resolve_governance(manifest, spec)
    assert gov is not None and gov.policy_enforcement_level == "strict"


def test_spec_quality_gates_only_strengthen() -> None:
    manifest = _manifest()
    spec = _spec(
        {
            "quality_gates": {
                "require_column_descriptions": True,
                "require_model_descriptions": False,
                "min_test_coverage": {"marts": 90, "staging": 10},
            }
        }
    )
    gates = resolve_governance(manifest, spec).quality_gates  # type: ignore[union-attr]
    assert gates is not None
    assert gates.require_model_descriptions is True  # manifest said true; spec cannot drop it
    assert gates.require_column_descriptions is True  # spec added it
    assert gates.min_test_coverage == {"marts": 90, "staging": 50}


def test_ac_9_6_without_observability_section_defaults_apply() -> None:
    obs = resolve_observability(_manifest(observability=None), _spec())
    assert obs.telemetry.otlp_endpoint == "http://localhost:4317"
    assert obs.lineage is True
    assert obs.lineage_endpoint is None
    assert obs.telemetry.resource_attributes.service_name == "customer-360"


def test_ac_9_6_logging_and_tracing_enabled_are_carried_not_dropped() -> None:
    manifest = _manifest(
        observability={
            "tracing": {"enabled": False},
            "logging": {"level": "DEBUG", "format": "text"},
        }
    )
    obs = resolve_observability(manifest, _spec())
    assert obs.telemetry.enabled is False
    assert (obs.logging.level, obs.logging.format) == ("DEBUG", "text")


def test_ac_9_7_build_artifacts_passes_governance_through() -> None:
    artifacts = build_artifacts(
        _spec(), _manifest(), governance=ResolvedGovernance(policy_enforcement_level="strict")
    )
    assert artifacts.governance is not None
    assert artifacts.governance.policy_enforcement_level == "strict"


def test_ac_9_7_build_artifacts_without_governance_is_none() -> None:
    assert build_artifacts(_spec(), _manifest()).governance is None


def test_schedule_reaches_the_artifacts() -> None:
    artifacts = build_artifacts(_spec(), _manifest())
    assert artifacts.schedule is not None
    assert (artifacts.schedule.cron, artifacts.schedule.timezone, artifacts.schedule.enabled) == (
        "0 6 * * *",
        "UTC",
        True,
    )

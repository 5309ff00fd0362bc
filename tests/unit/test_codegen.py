"""Generated definitions.py: deterministic, escaped, golden-tested (AC-11.8)."""

from __future__ import annotations

import ast
import os
from datetime import datetime, timezone
from typing import Any

import pytest

from floe.codegen.definitions import py_literal, render_definitions
from floe.compiler.builder import build_artifacts
from floe.compiler.profiles import build_profiles
from floe.compiler.resolve import resolve_governance
from floe.schemas import FloeSpec, PlatformManifest
from tests.conftest import ROOT, customer_spec_data, demo_manifest_data

GOLDEN = ROOT / "tests" / "golden" / "customer_360_definitions.py"
COMMAND = (
    "floe platform compile --spec floe.yaml --manifest ../manifest.yaml --generate-definitions"
)


def _render(spec_data: dict | None = None, profile: str = "customer_360", **extra: Any) -> str:
    manifest = PlatformManifest.model_validate(demo_manifest_data())
    spec = FloeSpec.model_validate(spec_data or customer_spec_data())
    artifacts = build_artifacts(
        spec,
        manifest,
        dbt_profiles=build_profiles(profile, manifest.plugins.compute),
        governance=resolve_governance(manifest, spec),
        compiled_at=datetime(2026, 2, 15, tzinfo=timezone.utc),
        content_hash="sha256:" + "0" * 64,
        **extra,
    )
    pinned = artifacts.metadata.model_copy(update={"floe_version": "0.1.0"})
    return render_definitions(artifacts.model_copy(update={"metadata": pinned}), COMMAND)


def test_ac_11_8_generated_definitions_match_golden_file() -> None:
    """Regenerate with FLOE_UPDATE_GOLDEN=1 after an intended template change."""
    text = _render()
    if os.environ.get("FLOE_UPDATE_GOLDEN") == "1":
        GOLDEN.write_text(text, encoding="utf-8")
    assert text == GOLDEN.read_text(encoding="utf-8")


CONSUMER_GOLDEN = ROOT / "tests" / "golden" / "risk_overview_definitions.py"


def _render_consumer() -> str:
    """risk-overview: a product with inputs (issue 26)."""
    import yaml

    from floe.schemas.artifacts import ResolvedInput
    from floe.schemas.spec import module_name

    data = yaml.safe_load((ROOT / "demo" / "risk-overview" / "floe.yaml").read_text())
    spec = FloeSpec.model_validate(data)
    inputs = [
        ResolvedInput(
            product=i.product,
            product_module=module_name(i.product),
            table=i.table,
            identifier=f"{module_name(i.product)}.{i.table}",
            contract_range=i.contract,
            contract_version="1.0.0",
            source=i.source_name,
            relation=f"floe_inputs.{i.relation}",
        )
        for i in spec.inputs
    ]
    return _render(data, "risk_overview", inputs=inputs)


def test_issue_26_definitions_of_a_product_with_inputs_match_golden_file() -> None:
    """The inputs are loaded before dbt, the dbt sources map to the producers' lakehouse
    assets, and an asset sensor per input starts the job (FLOE_UPDATE_GOLDEN=1 updates)."""
    text = _render_consumer()
    if os.environ.get("FLOE_UPDATE_GOLDEN") == "1":
        CONSUMER_GOLDEN.write_text(text, encoding="utf-8")
    assert text == CONSUMER_GOLDEN.read_text(encoding="utf-8")
    assert "load_inputs(PRODUCT_DIR, context.run.run_id)" in text
    ast.parse(text)


STATEFUL_GOLDEN = ROOT / "tests" / "golden" / "stateful_definitions.py"


def test_issue_29_definitions_of_a_stateful_product_match_golden_file() -> None:
    """Snapshots and incremental models: their state is restored before the dbt build and
    saved after it (FLOE_UPDATE_GOLDEN=1 updates)."""
    from floe.schemas.artifacts import ResolvedState, StatefulRelation

    relation = StatefulRelation(
        node="snapshot.customer_360.customers_snapshot",
        name="customers_snapshot",
        kind="snapshot",
        schema_name="main",
        identifier="customers_snapshot",
    )
    text = _render(state=ResolvedState(prefix="floe-state", relations=[relation]))
    if os.environ.get("FLOE_UPDATE_GOLDEN") == "1":
        STATEFUL_GOLDEN.write_text(text, encoding="utf-8")
    assert text == STATEFUL_GOLDEN.read_text(encoding="utf-8")
    restore = text.index("restore_state(PRODUCT_DIR, context.run.run_id)")
    build = text.index('["build", "--vars"')
    save = text.index("save_state(PRODUCT_DIR, context.run.run_id, run_results)")
    assert restore < build < save
    assert "restore_state" not in _render()  # only products with state
    ast.parse(text)


def test_generation_is_deterministic() -> None:
    assert _render() == _render()


def test_ac_11_8_generated_code_uses_dbt_assets_with_project_and_exports_defs() -> None:
    tree = ast.parse(_render())
    decorated = [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.FunctionDef)
        and n.decorator_list
        and ast.unparse(n.decorator_list[0]).startswith("dbt_assets(")
    ]
    assert len(decorated) == 1
    # issue 8: the decorator runs inside select_all_from_manifest(), so the import does not
    # load dbt's selection engine (tests/compat/test_select_all.py proves the assets match).
    scope = next(n for n in tree.body if isinstance(n, ast.With))
    assert ast.unparse(scope.items[0].context_expr) == "select_all_from_manifest()"
    assert decorated[0] in scope.body
    call = decorated[0].decorator_list[0]
    assert isinstance(call, ast.Call) and ast.unparse(call.func) == "dbt_assets"
    keywords = {k.arg: ast.unparse(k.value) for k in call.keywords}
    assert keywords["project"] == "dbt_project"  # a DbtProject, not a DbtCliResource
    assert keywords["manifest"] == "dbt_project.manifest_path"
    targets = {
        t.id
        for n in tree.body
        if isinstance(n, ast.Assign)
        for t in n.targets
        if isinstance(t, ast.Name)
    }
    assert "defs" in targets


def test_header_names_the_regenerate_command() -> None:
    head = _render().splitlines()[:3]
    assert head[0].startswith("# Generated by floe")
    assert COMMAND in head[2]


def test_disabled_schedule_is_generated_stopped() -> None:
    data = customer_spec_data()
    data["schedule"]["enabled"] = False
    assert "DefaultScheduleStatus.STOPPED" in _render(data)
    assert "DefaultScheduleStatus.RUNNING" not in _render(data)


def test_no_schedule_generates_no_schedule_definition() -> None:
    data = customer_spec_data()
    del data["schedule"]
    tree = ast.parse(_render(data))
    calls = {ast.unparse(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    assert "ScheduleDefinition" not in calls
    assert "define_asset_job" in calls


def test_retention_days_flow_into_dbt_vars() -> None:
    tree = ast.parse(_render())
    values = {
        t.id: ast.literal_eval(n.value)
        for n in tree.body
        if isinstance(n, ast.Assign)
        for t in n.targets
        if isinstance(t, ast.Name) and t.id == "DBT_VARS"
    }
    assert values == {"DBT_VARS": {"floe_data_retention_days": 1}}


@pytest.mark.parametrize(
    "value",
    ["it's", 'say "hi"', "line\nbreak", "back\\slash", "{{ jinja }}", "\u00e9t\u00e9", "'''"],
)
def test_values_are_escaped_as_python_literals(value: str) -> None:
    assert ast.literal_eval(py_literal(value)) == value
    assert ast.literal_eval(py_literal({"k": [value, 1, None]})) == {"k": [value, 1, None]}


def test_issue_13_gold_models_become_lakehouse_assets_downstream_of_their_dbt_asset() -> None:
    """Each published model is an @asset keyed lakehouse/<module>/<model> whose dependency
    is the dbt model's own asset key; the job and Definitions carry them."""
    text = _render()
    tree = ast.parse(text)
    published = next(
        n
        for n in tree.body
        if isinstance(n, ast.Assign) and ast.unparse(n.targets[0]) == "PUBLISHED_MODELS"
    )
    assert ast.literal_eval(published.value) == ["mart_customer_360"]  # the gold tier
    publication = next(
        n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "_publication"
    )
    inner = next(n for n in publication.body if isinstance(n, ast.FunctionDef))
    keywords = {k.arg: ast.unparse(k.value) for k in inner.decorator_list[0].keywords}  # type: ignore[attr-defined]
    assert keywords["key_prefix"] == "['lakehouse', GROUP_NAME]"
    assert keywords["deps"] == "[get_asset_key_for_model([customer_360_dbt_assets], model)]"
    assert "*lakehouse_assets" in text.split("defs = Definitions(")[1]


def test_issue_13_publish_overrides_the_tier() -> None:
    data = customer_spec_data()
    for transform in data["transforms"]:
        if transform["name"] == "mart_customer_360":
            transform["publish"] = False
        if transform["name"] == "int_customer_orders":
            transform["publish"] = True
    assert "PUBLISHED_MODELS = ['int_customer_orders']" in _render(data)

"""Issue 29 point 2: floe.yaml declares models by selection (select: path / tag /
selector, defaultTier) as well as by name; selections expand against the dbt graph into
one transform per model.  Bad input: a selection matching nothing, two selections
claiming one model, a selection naming no or two methods, a folder outside the project.
The dbt graphs here are built by hand; tests/integration/test_transform_selection.py runs
the same on real dbt."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from floe.compiler.governance.graph import DbtGraph, DbtModel
from floe.compiler.loader import load_spec
from floe.compiler.selection import product_transforms, resolve_transforms
from floe.errors import ConfigValidationError, InputError, LineageMismatchError
from floe.product_files import ARTIFACTS_FILE

HEAD = (
    "apiVersion: floe.dev/v1\nkind: FloeSpec\n"
    "metadata: {name: shop, version: 1.0.0, owner: a@example.com}\n"
)


def _model(
    name: str, path: str, deps: tuple[str, ...] = (), tags: tuple[str, ...] = ()
) -> DbtModel:
    return DbtModel(
        unique_id=f"model.shop.{name}",
        name=name,
        layer=None,
        description="",
        columns={},
        tested_columns=frozenset(),
        model_tests=0,
        depends_on_models=frozenset(deps),
        sql_path=path,
        patch_path=None,
        tags=frozenset(tags),
    )


GRAPH = DbtGraph(
    "shop",
    {
        m.name: m
        for m in [
            _model("stg_orders", "models/staging/stg_orders.sql"),
            _model("stg_customers", "models/staging/stg_customers.sql"),
            _model("orders", "models/marts/orders.sql", ("stg_orders",), ("finance",)),
            _model("customers", "models/marts/customers.sql", ("stg_customers", "orders")),
            _model("staging_report", "models/staging_report.sql", ("orders",)),
        ]
    },
)


def _spec(tmp_path: Path, body: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "floe.yaml"
    path.write_text(HEAD + body)
    return load_spec(path)


def test_selections_expand_to_one_transform_per_model_with_graph_dependencies(
    tmp_path: Path,
) -> None:
    spec = _spec(
        tmp_path,
        "select:\n"
        "  - {path: models/staging, tier: bronze}\n"
        "  - {path: models/marts/, tier: gold, tags: [mart]}\n"
        "transforms:\n"
        "  - {name: staging_report, tier: silver, dependsOn: [orders], publish: true}\n",
    )
    resolved = {t.name: t for t in resolve_transforms(spec, GRAPH).model.transforms}
    assert set(resolved) == set(GRAPH.models)
    assert resolved["stg_orders"].tier == "bronze" and not resolved["stg_orders"].published
    assert resolved["customers"].tier == "gold" and resolved["customers"].tags == ["mart"]
    assert resolved["customers"].depends_on == ["orders", "stg_customers"]
    # the named model keeps its own entry; a folder prefix is not a folder
    assert resolved["staging_report"].tier == "silver" and resolved["staging_report"].published


def test_a_named_model_wins_over_the_selection_that_covers_it(tmp_path: Path) -> None:
    spec = _spec(
        tmp_path,
        "select: [{path: models/marts, tier: gold}]\n"
        "transforms: [{name: customers, tier: gold, publish: false, "
        "dependsOn: [stg_customers, orders]}]\ndefaultTier: silver\n",
    )
    resolved = {t.name: t for t in resolve_transforms(spec, GRAPH).model.transforms}
    assert not resolved["customers"].published and resolved["orders"].published
    assert resolved["stg_orders"].tier == "silver"  # defaultTier covers the rest


def test_tag_and_selector_selections(tmp_path: Path) -> None:
    spec = _spec(
        tmp_path,
        "select:\n  - {tag: finance, tier: gold}\n  - {selector: nightly, tier: silver}\n",
    )
    asked: list[str] = []

    def run_selector(name: str) -> set[str]:
        asked.append(name)
        return {"customers", "not_a_model"}

    resolved = {
        t.name: t.tier for t in resolve_transforms(spec, GRAPH, run_selector).model.transforms
    }
    assert asked == ["nightly"]
    assert resolved == {"orders": "gold", "customers": "silver"}  # the rest is undeclared


def test_two_selections_claiming_one_model_name_both(tmp_path: Path) -> None:
    """Issue 29 bad input: two declarations claim the same model."""
    spec = _spec(
        tmp_path,
        "select:\n  - {path: models/marts, tier: gold}\n  - {tag: finance, tier: silver}\n",
    )
    with pytest.raises(LineageMismatchError) as caught:
        resolve_transforms(spec, GRAPH)
    text = str(caught.value)
    assert "orders is selected by two declarations: select[0] (path: models/marts) and " in text
    assert "select[1] (tag: finance)" in text and f"{tmp_path / 'floe.yaml'}:6:5" in text


def test_a_selection_matching_nothing_is_located_and_lists_what_exists(tmp_path: Path) -> None:
    """Issue 29 bad input: a selection that matches nothing."""
    spec = _spec(tmp_path, "select:\n  - {path: models/mart, tier: gold}\n")
    with pytest.raises(LineageMismatchError) as caught:
        resolve_transforms(spec, GRAPH)
    text = str(caught.value)
    assert "select[0] (path: models/mart) matches no dbt model" in text
    assert "models/marts, models/staging" in text and ":5:5" in text


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("{tier: gold}", "a selection names exactly one of path, tag, selector"),
        ("{path: models, tag: x}", "exactly one of path, tag, selector (found path, tag)"),
        ("{path: ../other/models}", "must be a folder inside the dbt project"),
    ],
)
def test_a_malformed_selection_is_a_located_load_error(
    tmp_path: Path, entry: str, message: str
) -> None:
    with pytest.raises(ConfigValidationError) as caught:
        _spec(tmp_path, f"select:\n  - {entry}\n")
    assert message in str(caught.value) and "floe.yaml:5" in str(caught.value)


def test_a_spec_must_declare_models_somehow(tmp_path: Path) -> None:
    with pytest.raises(ConfigValidationError) as caught:
        _spec(tmp_path, "platform: {manifest: ../manifest.yaml}\n")
    assert "declare the product's models: transforms, select or defaultTier" in str(caught.value)


def test_a_producer_declared_by_selection_is_read_from_its_compile(tmp_path: Path) -> None:
    spec = _spec(tmp_path, "defaultTier: gold\n").model
    with pytest.raises(InputError) as caught:
        product_transforms(tmp_path, spec)
    assert "declares its models by selection and has not been compiled" in str(caught.value)
    models = [{"name": "orders", "tier": "gold", "depends_on": [], "publish": None, "tags": []}]
    (tmp_path / ARTIFACTS_FILE).write_text(json.dumps({"transforms": {"models": models}}))
    assert [(t.name, t.published) for t in product_transforms(tmp_path, spec)] == [("orders", True)]

"""Issue 29 point 2 on real dbt, through the CLI: floe.yaml describes the product by
selection (a folder, a dbt tag, a named selector of selectors.yml) and names only the
model that needs its own settings; a new model in a covered folder compiles with no edit
to floe.yaml; `floe init --update` adds a model nothing covers and keeps the team's
comments, and writes nothing when there is nothing new."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.test_byo_project import OWNER, _floe, make_platform

SPEC = f"""\
apiVersion: floe.dev/v1
kind: FloeSpec
metadata:
  name: jaffle
  version: 2.1.0
  owner: {OWNER}
# one line per folder, not per model
select:
  - selector: staging_models   # selectors.yml
    tier: bronze
  - tag: mart
    tier: gold
transforms:
  - name: order_facts   # its own settings: not published
    tier: gold
    publish: false
    dependsOn: [stg_orders]
"""
SELECTORS = """\
selectors:
  - name: staging_models
    definition:
      method: path
      value: models/staging
"""


def _models(product: Path) -> dict[str, tuple[str, bool | None]]:
    data = json.loads((product / "compiled_artifacts.json").read_text())
    return {m["name"]: (m["tier"], m["publish"]) for m in data["transforms"]["models"]}


@pytest.fixture()
def platform(tmp_path: Path) -> Path:
    platform = make_platform(tmp_path / "p")
    product = platform / "jaffle"
    (product / "floe.yaml").write_text(SPEC)
    (product / "selectors.yml").write_text(SELECTORS)
    project = product / "dbt_project.yml"
    project.write_text(project.read_text() + "      +tags: [mart]\n")  # under marts:
    return platform


def test_selections_compile_and_a_new_model_in_a_covered_folder_needs_no_edit(
    platform: Path,
) -> None:
    product = platform / "jaffle"
    code, out, err = _floe("compile", cwd=platform)
    assert code == 0, out + err
    assert _models(product) == {
        "order_facts": ("gold", False),
        "customers": ("gold", None),
        "stg_customers": ("bronze", None),
        "stg_orders": ("bronze", None),
    }
    spec_before = (product / "floe.yaml").read_bytes()
    (product / "models" / "staging" / "stg_payments.sql").write_text(
        "select id as payment_id, amount from {{ ref('raw_orders') }}\n"
    )
    code, out, err = _floe("compile", cwd=platform)
    assert code == 0, out + err
    assert _models(product)["stg_payments"] == ("bronze", None)
    assert (product / "floe.yaml").read_bytes() == spec_before
    code, out, err = _floe("run", "--skip-compile", "--no-history", cwd=platform)
    assert code == 0, out + err
    code, tables, _err = _floe("catalog", "tables", "--json", cwd=platform)
    assert sorted(t["identifier"] for t in json.loads(tables)) == ["jaffle.customers"]


def test_a_model_nothing_covers_fails_compile_until_init_update_adds_it(platform: Path) -> None:
    product = platform / "jaffle"
    (product / "models" / "vip_customers.sql").write_text(
        "select * from {{ ref('customers') }} where number_of_orders > 1\n"
    )
    code, _out, err = _floe("compile", cwd=platform)
    assert code == 5
    assert "vip_customers: dbt model is not declared in floe.yaml transforms" in err
    assert "floe init --update" in err
    code, out, err = _floe("init", "jaffle", "--update", cwd=platform)
    assert code == 0, err
    assert "added to jaffle/floe.yaml: vip_customers (gold)" in out
    text = (product / "floe.yaml").read_text()
    assert text.startswith(SPEC)  # every line the team wrote, comments included
    assert text[len(SPEC) :] == (
        "  - name: vip_customers\n    tier: gold\n    dependsOn: [customers]\n"
    )
    code, out, err = _floe("compile", cwd=platform)
    assert code == 0, out + err
    assert _models(product)["vip_customers"] == ("gold", None)
    code, out, _err = _floe("init", "jaffle", "--update", cwd=platform)
    assert code == 0 and "already covers every dbt model; nothing written" in out
    assert (product / "floe.yaml").read_text() == text


def test_init_update_without_a_floe_yaml_says_what_to_run(tmp_path: Path) -> None:
    platform = make_platform(tmp_path / "p")
    code, _out, err = _floe("init", "jaffle", "--update", cwd=platform)
    assert code == 9 and "no floe.yaml to update" in err and "floe init jaffle" in err
    assert not (platform / "jaffle" / "floe.yaml").exists()

"""Generated definitions build their dbt assets without dbt's selection engine (issue 8).

`floe.runtime.select_all_from_manifest` answers dagster-dbt's select-everything case from
manifest.json. These tests prove, on whichever stack runs them (pinned, and the image's
dagster-dbt 0.25 through `nox -s definitions_compat(image)`), that the assets, their
dependencies and their checks are exactly what dagster-dbt's own selection gives, on the
demo products and on a fixture holding every kind of node (source + source test, ephemeral,
disabled, snapshot, unit test, singular test, two-parent test, exposure); that any other
selection still goes to dagster-dbt; and that importing a generated module loads neither
networkx nor dbt.graph (nor anything else that is not floe's runtime).
"""

from __future__ import annotations

import contextlib
import importlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from floe.compiler.dbt import run_dbt
from floe.runtime import select_all_from_manifest
from floe.runtime.dbt import selection as dbt_selection
from tests.conftest import PRODUCTS, ROOT, demo_shape, run_python

EDGES = ROOT / "tests" / "fixtures" / "selection" / "edges"
PROFILES = """edges:
  target: dev
  outputs:
    dev:
      type: duckdb
      path: target/edges.duckdb
"""


@pytest.fixture(scope="module")
def edges_manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = tmp_path_factory.mktemp("selection") / "edges"
    shutil.copytree(EDGES, project)
    (project / "profiles.yml").write_text(PROFILES, encoding="utf-8")
    run_dbt(project, ["parse"], profiles_dir=project)
    return project / "target" / "manifest.json"


def _assets_shape(manifest: Path, *, stand_in: bool, select: str = "fqn:*") -> dict[str, Any]:
    """Asset keys, dependencies and check keys of ``@dbt_assets`` over ``manifest``."""
    from dagster_dbt import dbt_assets

    scope = select_all_from_manifest() if stand_in else contextlib.nullcontext()
    with scope:

        @dbt_assets(manifest=manifest, select=select, name="probe_dbt_assets")
        def probe(context):  # type: ignore[no-untyped-def]
            yield from ()

    return {
        "keys": sorted(key.to_user_string() for key in probe.keys),
        "deps": {
            key.to_user_string(): sorted(dep.to_user_string() for dep in deps)
            for key, deps in probe.asset_deps.items()
        },
        "checks": sorted(str(check) for check in probe.check_keys),
    }


def test_select_all_matches_dagster_dbt_on_every_node_kind(edges_manifest: Path) -> None:
    """Same assets/deps/checks as dagster-dbt's own selection, on the edge-case fixture."""
    ours = _assets_shape(edges_manifest, stand_in=True)
    theirs = _assets_shape(edges_manifest, stand_in=False)
    assert ours == theirs
    # The fixture really holds what it claims: seed, view models, snapshot; no ephemeral or
    # disabled model; tests on the models become checks.
    assert ours["keys"] == ["items_snapshot", "mart_items", "raw_items", "stg_items"]
    assert len(ours["checks"]) >= 3
    manifest = json.loads(edges_manifest.read_text(encoding="utf-8"))
    assert manifest["unit_tests"] and manifest["sources"] and manifest["exposures"]
    assert manifest["disabled"]


@pytest.mark.parametrize("product", PRODUCTS)
def test_select_all_matches_dagster_dbt_on_demo_products(compiled_demo: Path, product: str) -> None:
    manifest = compiled_demo / product / "target" / "manifest.json"
    ours = _assets_shape(manifest, stand_in=True)
    assert ours == _assets_shape(manifest, stand_in=False)
    shape = demo_shape(product)
    assert len(ours["keys"]) == shape.seeds + shape.models


def test_other_selections_still_go_to_dagster_dbt(edges_manifest: Path) -> None:
    """A real selection string is dbt's to evaluate; the stand-in only answers fqn:*."""
    shape = _assets_shape(edges_manifest, stand_in=True, select="stg_items")
    assert shape["keys"] == ["stg_items"]
    assert shape == _assets_shape(edges_manifest, stand_in=False, select="stg_items")


def test_dagster_dbt_function_is_put_back() -> None:
    asset_utils = importlib.import_module("dagster_dbt.asset_utils")
    with select_all_from_manifest() as name:
        assert name is not None, "this dagster-dbt has neither known selection function"
        original = getattr(asset_utils, name).__wrapped__
    assert getattr(asset_utils, name) is original


def test_unknown_dagster_dbt_layout_changes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """If dagster-dbt renames its function, dagster-dbt's own (slower) path runs untouched."""
    asset_utils = importlib.import_module("dagster_dbt.asset_utils")
    before = dict(vars(asset_utils))
    monkeypatch.setattr(dbt_selection, "_SELECTION_FUNCTIONS", ("no_such_function",))
    with select_all_from_manifest() as name:
        assert name is None
        assert dict(vars(asset_utils)) == before


IMPORT_PROBE = """
import importlib.util, json, socket, sys
import dagster, dagster_dbt
network = []
def refuse(name):
    def call(*args, **kwargs):
        network.append(f"{name}{args!r}")
        raise OSError("network use during import")
    return call
socket.socket.connect = refuse("connect")
socket.socket.connect_ex = refuse("connect_ex")
socket.getaddrinfo = refuse("getaddrinfo")
before = set(sys.modules)
spec = importlib.util.spec_from_file_location("defs_probe", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
added = sorted(set(sys.modules) - before)
keys = sorted(k.to_user_string() for a in module.defs.assets for k in a.keys)
print(json.dumps({"added": added, "keys": keys, "network": network}))
"""


@pytest.mark.parametrize("product", PRODUCTS)
def test_definitions_import_loads_no_dbt_selection_engine_and_no_network(
    compiled_demo: Path, product: str
) -> None:
    """After `import dagster, dagster_dbt`, the module adds only floe's stdlib runtime (no
    networkx, no dbt.graph, no dbt parsing) and opens no connection, not even a DNS lookup."""
    out = run_python("-c", IMPORT_PROBE, str(compiled_demo / product / "definitions.py"))
    assert out.returncode == 0, out.stderr[-2000:]
    probe = json.loads(out.stdout.strip().splitlines()[-1])
    assert "floe.runtime" in probe["added"]
    assert [m for m in probe["added"] if m.partition(".")[0] != "floe"] == []
    shape = demo_shape(product)
    assert len(probe["keys"]) == shape.seeds + shape.models + len(shape.published)
    assert [k for k in probe["keys"] if k.startswith("lakehouse/")] == [
        f"lakehouse/{product.replace('-', '_')}/{shape.gold}"
    ]
    assert probe["network"] == []

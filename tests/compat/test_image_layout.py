"""Generated definitions inside the image's layout, on whichever stack runs the tests.

`nox -s definitions_compat` runs this file with the pinned stack and with the image's
(dagster 1.9.6 / dagster-dbt 0.25.x); `nox -s tests` runs it with the pinned one.
AC-11.5 (module paths under /app/demo), AC-11.8, AC-11.9 (../macros resolves there).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from floe.packaging.layout import code_locations, stage_image_layout
from tests.conftest import PRODUCTS, demo_shape, run_python

PROBE = """
import importlib, json, sys
module = importlib.import_module(sys.argv[1])
defs = getattr(module, "defs")
jobs = [j.name for j in defs.jobs]
schedules = [(s.name, s.cron_schedule) for s in defs.schedules]
assets = sorted(k.to_user_string() for a in defs.assets for k in a.keys)
print(json.dumps({"file": module.__file__, "jobs": jobs, "schedules": schedules, "assets": assets}))
"""


@pytest.fixture(scope="module")
def app_demo(compiled_demo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return stage_image_layout(compiled_demo, tmp_path_factory.mktemp("app") / "demo")


def test_ac_11_1_layout_has_underscored_packages_shared_manifest_and_macros(app_demo: Path) -> None:
    for product in PRODUCTS:
        package = app_demo / product.replace("-", "_")
        assert (package / "__init__.py").is_file()
        assert (package / "target" / "manifest.json").is_file()
        assert (package / "definitions.py").is_file()
    assert (app_demo / "manifest.yaml").is_file()
    assert (app_demo / "macros" / "safe_divide.sql").is_file()


@pytest.mark.parametrize("product", PRODUCTS)
def test_ac_11_5_module_imports_from_working_directory(
    app_demo: Path, compiled_demo: Path, product: str
) -> None:
    """As Dagster does for python_module: working_directory on sys.path, import module."""
    app_demo_source = compiled_demo
    location = next(c for c in code_locations(app_demo_source) if c.product == product)
    module = location.module
    out = run_python("-c", PROBE, module, cwd=app_demo, PYTHONPATH=str(app_demo))
    assert out.returncode == 0, out.stderr[-2000:]
    assert "ModuleNotFoundError" not in out.stderr
    info = json.loads(out.stdout.strip().splitlines()[-1])
    assert Path(info["file"]) == app_demo / product.replace("-", "_") / "definitions.py"
    assert info["jobs"] == [f"{product.replace('-', '_')}_build"]
    assert len(info["schedules"]) == 1
    shape = demo_shape(product)
    assert len(info["assets"]) == shape.seeds + shape.models + len(shape.published)
    assert sum(1 for key in info["assets"] if key.startswith("lakehouse/")) == 1
    assert (location.working_directory, location.attribute) == ("/app/demo", "defs")


def test_ac_11_9_materialize_from_image_layout(app_demo: Path) -> None:
    """dbt inside /app/demo/<product>/ finds ../macros and writes target/demo.duckdb."""
    from floe.local.run import run_product

    run = run_product(app_demo / "customer_360")
    assert run.success, run.errors
    assert run.tables["main.mart_customer_360"] == 500
    # issue 13: the gold mart is published on this stack exactly as on the pinned one
    assert [(p["table"], p["rows"]) for p in run.published] == [
        ("customer_360.mart_customer_360", 500)
    ]
    assert (app_demo / ".floe" / "lakehouse" / "catalog.db").is_file()
    assert (app_demo / "customer_360" / "target" / "demo.duckdb").is_file()

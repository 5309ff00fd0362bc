"""Issue 15: products run concurrently (one worker process each, bounded by -j); the
output stays one block per product; a failing product does not stop the others and the
exit code reports it.  Speed is measured by benchmarks/run_path.py, not here."""

from __future__ import annotations

import shutil
from pathlib import Path

from floe.runtime.lakehouse import list_tables, local_target, open_catalog
from tests.conftest import PRODUCTS, run_python


def _run(demo: Path, *args: str) -> tuple[int, str, str]:
    done = run_python(
        "-m", "floe.cli", "demo", "run", "--skip-compile", "--demo-dir", str(demo), *args
    )
    return done.returncode, done.stdout, done.stderr


def test_two_workers_run_every_product_one_summary_block_each(
    compiled_demo: Path, tmp_path: Path
) -> None:
    demo = tmp_path / "demo"
    shutil.copytree(compiled_demo, demo)
    code, out, err = _run(demo, "-j", "2")
    assert code == 0, out + err
    assert "materializing 3 product(s) with 2 worker(s)" in out
    for product in PRODUCTS:
        assert out.count(f"  {product}: ok in ") == 1
        assert out.count(f"{product} finished") == 1
    # every block is contiguous: a product's tables follow its own header line
    lines = out.splitlines()
    for product in PRODUCTS:
        start = next(i for i, line in enumerate(lines) if line.startswith(f"  {product}: ok"))
        block = []
        for line in lines[start + 1 :]:
            if not line.startswith("    "):
                break
            block.append(line)
        assert any(line.strip().startswith("dbt log -> ") and product in line for line in block)
    assert "materialized 3 product(s): 27 tables/views, 92 tests passed" in out
    tables = list_tables(open_catalog(local_target(demo / ".floe" / "lakehouse")))
    assert len(tables) == 3  # three processes published to one embedded catalog


def test_a_failing_product_does_not_stop_the_others(compiled_demo: Path, tmp_path: Path) -> None:
    demo = tmp_path / "demo"
    shutil.copytree(compiled_demo, demo)
    mart = demo / "iot-telemetry" / "models" / "marts" / "mart_equipment_health.sql"
    mart.write_text("select cast('not a number' as integer) as broken\n")
    code, out, err = _run(demo, "-j", "2")
    assert code == 6
    assert "  iot-telemetry: FAILED" in out
    assert "  customer-360: ok" in out and "  financial-risk: ok" in out
    assert "iot-telemetry: dbt build: 1 model failed" in err
    assert "models/marts/mart_equipment_health.sql" in err
    tables = {
        t.identifier for t in list_tables(open_catalog(local_target(demo / ".floe" / "lakehouse")))
    }
    assert "customer_360.mart_customer_360" in tables
    assert "financial_risk.mart_risk_dashboard" in tables

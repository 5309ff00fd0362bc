"""Issue 15: products run concurrently (one worker process each, bounded by -j); the
output stays one block per product; a failing product does not stop the others and the
exit code reports it.  Speed is measured by benchmarks/run_path.py, not here."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from floe.runtime.publish.catalog import list_tables, local_target, open_catalog
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
    assert f"materializing {len(PRODUCTS)} product(s) with 2 worker(s)" in out
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
    # the demo: 27 tables/views and 92 tests of the three independent products, then
    # risk-overview's 3 models, 2 inputs and the record of what it read, and 11 tests
    assert "materialized 4 product(s): 33 tables/views, 103 tests passed" in out
    tables = list_tables(open_catalog(local_target(demo / ".floe" / "lakehouse")))
    assert len(tables) == len(PRODUCTS)  # every process published to one embedded catalog


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


def _break_definitions(product: Path, code: str) -> None:
    """Put ``code`` at the top of a compiled product's generated definitions.py."""
    definitions = product / "definitions.py"
    definitions.write_text(code + "\n" + definitions.read_text())


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_product_whose_definitions_raise_fails_alone(
    compiled_demo: Path, tmp_path: Path, jobs: str
) -> None:
    """In process (-j 1) and in a worker (-j 2): an exception where a product's job should
    have run (not a dbt failure) fails that product, with where it was raised and what it
    says in its block and in the error; the other products still run."""
    demo = tmp_path / "demo"
    shutil.copytree(compiled_demo, demo)
    _break_definitions(demo / "financial-risk", "raise ValueError('definitions broke here')")
    code, out, err = _run(demo, "-j", jobs)
    assert code == 6, out + err
    assert "  customer-360: ok" in out and "  iot-telemetry: ok" in out
    assert "  financial-risk: FAILED" in out
    where = f'File "{(demo / "financial-risk" / "definitions.py").resolve()}", line 1'
    for text in (out, err):
        assert where in text and "ValueError: definitions broke here" in text
    assert "financial-risk: materialization failed" in err
    assert "Traceback" not in out + err


def test_a_killed_worker_is_reported_not_a_traceback(compiled_demo: Path, tmp_path: Path) -> None:
    """A worker killed outright (here by its own SIGKILL; in practice the out-of-memory
    killer) stops the pool: every product it left unfinished gets one block saying so, and
    the run exits 6 with a hint about memory and -j 1 instead of a Python traceback."""
    demo = tmp_path / "demo"
    shutil.copytree(compiled_demo, demo)
    _break_definitions(demo / "customer-360", "import os, signal; os.kill(os.getpid(), 9)")
    code, out, err = _run(demo, "-j", "2")
    assert code == 6, out + err
    assert "Traceback" not in out + err
    for product in PRODUCTS:
        assert out.count(f"  {product}: ") == 1  # one block each, finished or not
    assert "  customer-360: FAILED" in out
    assert "worker process ended abruptly" in out
    assert "customer-360: materialization failed" in err
    assert "rerun with -j 1, or give the run more memory" in err

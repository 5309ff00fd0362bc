"""Issue 25: publication by write-audit-publish on Iceberg branches, per-table gating,
rollback, housekeeping, and publications that fault or race.

Real dbt, DuckDB and PyIceberg's embedded SQL catalog; tables are read back with a
catalog opened afresh (another reader); the kill and the race run publications in child
processes (tests/integration/wap_probe.py).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from floe.cli import main
from floe.errors import DbtError, LakehouseError
from floe.local.compile_all import compile_all
from floe.local.run import run_all, run_locks
from floe.runtime.publish.catalog import local_target, open_catalog
from floe.runtime.publish.lakehouse import publish_model
from tests.conftest import ROOT, copy_demo

PRODUCT = "customer-360"
TABLE = "customer_360.mart_customer_360"


def _compile(demo: Path) -> None:
    compile_all(demo, only=[PRODUCT], progress=lambda _l: None, jobs=1, force=True)


def _run(demo: Path, progress: object = None) -> list[object]:
    lines: list[str] = []
    try:
        run_all([demo / PRODUCT], progress=lines.append, jobs=1)
    finally:
        if progress is not None:
            progress.extend(lines)  # type: ignore[attr-defined]
    return lines  # type: ignore[return-value]


def _table(demo: Path, identifier: str = TABLE):  # type: ignore[no-untyped-def]
    return open_catalog(local_target(demo / ".floe" / "lakehouse")).load_table(identifier)


def _history(demo: Path, identifier: str = TABLE) -> dict:  # type: ignore[type-arg]
    out = CliRunner().invoke(
        main, ["catalog", "history", identifier, "--platform-dir", str(demo), "--json"]
    )
    assert out.exit_code == 0, out.output
    return json.loads(out.output)  # type: ignore[no-any-return]


def _edit_contract(demo: Path, change: object) -> None:
    path = demo / PRODUCT / "datacontract.yaml"
    data = yaml.safe_load(path.read_text())
    change(data)  # type: ignore[operator]
    path.write_text(yaml.safe_dump(data, sort_keys=False))


@pytest.fixture
def published(tmp_path: Path) -> Path:
    demo = copy_demo(tmp_path / "demo")
    _compile(demo)
    _run(demo)
    return demo


def test_a_publication_is_written_to_an_audit_branch_then_made_current(published: Path) -> None:
    """The new snapshot's parent is the previous one, its summary names the audit branch,
    and the branch is gone once main points at it."""
    first = _table(published).current_snapshot()
    _run(published)
    table = _table(published)
    snapshot = table.current_snapshot()
    summary = snapshot.summary.additional_properties
    assert snapshot.parent_snapshot_id == first.snapshot_id
    assert summary["floe.audit.branch"] == f"audit-{summary['floe.run_id']}"
    assert set(table.metadata.refs) == {"main"}
    found = _history(published)
    assert [s["status"] for s in found["snapshots"]] == ["published", "published"]
    assert found["audit_branches"] == []


def test_a_failed_audit_leaves_main_as_it_was_and_keeps_the_branch(published: Path) -> None:
    before = _table(published)
    before_id = before.current_snapshot().snapshot_id
    before_rows = before.scan().to_arrow().num_rows

    def impossible(data: dict) -> None:  # type: ignore[type-arg]
        data["schema"][0]["quality"] = [
            {"id": "a_million", "metric": "rowCount", "mustBeGreaterThan": 1000000}
        ]

    _edit_contract(published, impossible)
    _compile(published)
    with pytest.raises(DbtError) as raised:
        _run(published)
    assert "rowCount (a_million): expected > 1000000, observed 500" in str(raised.value)
    assert "kept on the audit branch audit-" in str(raised.value)
    table = _table(published)
    assert table.current_snapshot().snapshot_id == before_id
    assert table.scan().to_arrow().num_rows == before_rows
    found = _history(published)
    [branch] = found["audit_branches"]
    failed = [s for s in found["snapshots"] if s["status"] == "audit failed"]
    assert len(failed) == 1 and failed[0]["audit_branch"] == branch
    assert "a_million" in failed[0]["audit_failure"]
    assert table.snapshot_by_name(branch).snapshot_id == failed[0]["snapshot_id"]
    text = CliRunner().invoke(main, ["catalog", "history", TABLE, "--platform-dir", str(published)])
    assert "audit failed" in text.output and "1 audit branch(es) remain" in text.output


def test_old_audit_branches_are_removed_by_the_next_publication(published: Path) -> None:
    """Issue 25 point 4: the manifest's retention (0 days here) is applied at the next
    publication of the table."""

    def impossible(data: dict) -> None:  # type: ignore[type-arg]
        data["schema"][0]["quality"] = [{"metric": "rowCount", "mustBe": 1}]

    original = (published / PRODUCT / "datacontract.yaml").read_text()
    _edit_contract(published, impossible)
    _compile(published)
    with pytest.raises(DbtError):
        _run(published)
    assert len(_history(published)["audit_branches"]) == 1
    (published / PRODUCT / "datacontract.yaml").write_text(original)
    manifest = yaml.safe_load((published / "manifest.yaml").read_text())
    manifest["governance"]["audit_branch_retention_days"] = 0
    (published / "manifest.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))
    _compile(published)
    _run(published)
    found = _history(published)
    assert found["audit_branches"] == []
    assert [s["status"] for s in found["snapshots"]] == ["published", "not published", "published"]
    assert not any(k.startswith("floe.audit.failed.") for k in _table(published).properties)


def _two_gold_tables(demo: Path) -> None:
    """customer-360 with a second gold table that does not depend on int_customer_orders,
    and a failing test on int_customer_orders (upstream of mart_customer_360 only)."""
    product = demo / PRODUCT
    (product / "models" / "marts" / "mart_support_summary.sql").write_text(
        "select customer_id, tickets_opened from {{ ref('int_customer_support') }}\n"
    )
    (product / "models" / "marts" / "_support__marts.yml").write_text(
        "version: 2\nmodels:\n  - name: mart_support_summary\n"
        "    description: Support tickets per customer.\n    columns:\n"
        "      - name: customer_id\n        description: The customer.\n"
        "        data_tests: [unique, not_null]\n"
    )
    spec = yaml.safe_load((product / "floe.yaml").read_text())
    spec["transforms"].append(
        {"name": "mart_support_summary", "tier": "gold", "dependsOn": ["int_customer_support"]}
    )
    (product / "floe.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    schema = product / "models" / "intermediate" / "_retail__intermediate.yml"
    text = schema.read_text()
    old = "      - name: completed_orders\n        description: Number of completed orders.\n"
    assert old in text
    schema.write_text(
        text.replace(
            old,
            old + "        data_tests:\n          - accepted_values:\n              values: [0]\n",
            1,
        )
    )


def test_a_failing_test_blocks_only_the_tables_downstream_of_it(tmp_path: Path) -> None:
    """Issue 25 point 2: one of two gold tables has a failing upstream test: the other one
    publishes, the run summary shows each, and the run still fails."""
    demo = copy_demo(tmp_path / "demo")
    _two_gold_tables(demo)
    _compile(demo)
    lines: list[str] = []
    with pytest.raises(DbtError) as raised:
        _run(demo, lines)
    assert raised.value.exit_code == 6
    block = "\n".join(lines)
    assert "blocked   -> customer_360.mart_customer_360: by test accepted_values_int_customer_" in (
        block
    )
    assert "published -> customer_360.mart_support_summary: 401 rows" in block
    catalog = open_catalog(local_target(demo / ".floe" / "lakehouse"))
    tables = {".".join(t) for ns in catalog.list_namespaces() for t in catalog.list_tables(ns)}
    assert tables == {"customer_360.mart_support_summary"}
    assert catalog.load_table("customer_360.mart_support_summary").scan().to_arrow().num_rows == 401


def test_rollback_makes_an_earlier_snapshot_current_and_records_who_and_why(
    published: Path,
) -> None:
    first = _table(published).current_snapshot().snapshot_id
    _run(published)
    second = _table(published).current_snapshot().snapshot_id
    runner = CliRunner()
    done = runner.invoke(
        main,
        [
            "catalog",
            "rollback",
            TABLE,
            "--steps",
            "1",
            "--reason",
            "bad upstream feed",
            "--platform-dir",
            str(published),
        ],
    )
    assert done.exit_code == 0, done.output
    assert _table(published).current_snapshot().snapshot_id == first
    found = _history(published)
    back = next(s for s in found["snapshots"] if s["snapshot_id"] == first)
    assert back["current"] and back["rolled_back_to"]["why"] == "bad upstream feed"
    assert back["rolled_back_to"]["from"] == str(second) and "@" in back["rolled_back_to"]["by"]
    unknown = runner.invoke(
        main,
        [
            "catalog",
            "rollback",
            TABLE,
            "--to",
            "42",
            "--reason",
            "x",
            "--platform-dir",
            str(published),
        ],
    )
    assert unknown.exit_code == 4 and "no snapshot 42" in unknown.output
    neither = runner.invoke(
        main, ["catalog", "rollback", TABLE, "--reason", "x", "--platform-dir", str(published)]
    )
    assert neither.exit_code == 2
    missing = runner.invoke(
        main,
        [
            "catalog",
            "rollback",
            "customer_360.nope",
            "--steps",
            "1",
            "--reason",
            "x",
            "--platform-dir",
            str(published),
        ],
    )
    assert missing.exit_code == 6 and "no table customer_360.nope" in missing.output


def test_a_rollback_across_a_contract_break_is_refused_unless_forced(published: Path) -> None:
    """Snapshot 1 lacks a column the current contract (1.1.0) promises."""
    old = _table(published).current_snapshot().snapshot_id
    model = published / PRODUCT / "models" / "marts" / "mart_customer_360.sql"
    model.write_text(model.read_text().replace("    c.segment,", "    c.segment,\n    1 as tier,"))

    def add(data: dict) -> None:  # type: ignore[type-arg]
        data["version"] = "1.1.0"
        data["schema"][0]["properties"].append({"name": "tier", "logicalType": "integer"})

    _edit_contract(published, add)
    _compile(published)
    _run(published)
    args = [
        "catalog",
        "rollback",
        TABLE,
        "--to",
        str(old),
        "--reason",
        "x",
        "--platform-dir",
        str(published),
    ]
    refused = CliRunner().invoke(main, args)
    assert refused.exit_code == 11, refused.output
    assert "breaks the table's contract 1.1.0" in refused.output
    assert f"column tier is not in snapshot {old}" in refused.output
    assert _table(published).current_snapshot().snapshot_id != old
    forced = CliRunner().invoke(main, [*args, "--force"])
    assert forced.exit_code == 0, forced.output
    assert _table(published).current_snapshot().snapshot_id == old


def _probe(mode: str, product: Path, run_id: str, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from tests.integration.wap_probe import main; main()",
            mode,
            str(product),
            run_id,
            *extra,
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def test_a_publication_killed_between_write_and_publish_leaves_main_readable(
    published: Path,
) -> None:
    """SIGKILL after the branch write: main is on its committed snapshot (read back
    afresh), the branch shows as an audit pending, and the next publication works."""
    before = _table(published)
    before_id = before.current_snapshot().snapshot_id
    rows = before.scan().to_arrow().num_rows
    run_id = str(uuid.uuid4())
    child = _probe("kill", published / PRODUCT, run_id)
    out, _ = child.communicate(timeout=300)
    assert child.returncode == -signal.SIGKILL, out
    assert "branch written; killing myself" in out
    table = _table(published)
    assert table.current_snapshot().snapshot_id == before_id
    assert table.scan().to_arrow().num_rows == rows
    found = _history(published)
    assert found["audit_branches"] == [f"audit-{run_id}"]
    assert [s["status"] for s in found["snapshots"]][-1] == "audit pending"
    after = publish_model(published / PRODUCT, "mart_customer_360", str(uuid.uuid4()))
    assert _table(published).current_snapshot().snapshot_id == after.snapshot_id != before_id


def test_two_publications_of_one_table_at_once_lose_no_snapshot(
    published: Path, tmp_path: Path
) -> None:
    """Both write their branch, then publish at the same moment: one commits, the other
    meets the catalog's commit conflict and publishes on top of it (or fails clearly);
    every snapshot either made stays in the table's history."""
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    runs = [str(uuid.uuid4()), str(uuid.uuid4())]
    children = [_probe("race", published / PRODUCT, r, str(barrier)) for r in runs]
    outs = [c.communicate(timeout=300)[0] for c in children]
    codes = [c.returncode for c in children]
    assert all(code == 0 or "FLOE921" in out for code, out in zip(codes, outs, strict=True)), outs
    assert 0 in codes
    table = _table(published)
    made = {
        s.summary.additional_properties.get("floe.run_id")
        for s in table.snapshots()
        if s.summary is not None
    }
    published_ids = [
        int(o.split("published snapshot ")[1].split()[0]) for o in outs if "published snapshot" in o
    ]
    main_log = {e.snapshot_id for e in table.metadata.snapshot_log}
    assert set(runs) <= made
    assert set(published_ids) <= main_log
    assert table.current_snapshot().snapshot_id in published_ids
    assert table.scan().to_arrow().num_rows == 500


def test_a_second_floe_run_of_a_platform_waits_for_the_first(published: Path) -> None:
    """Issue 25 point 5: a product's DuckDB file takes one writer: the second run queues
    on the product's run lock and says whose run it waits for."""
    lines: list[str] = []
    released = threading.Event()

    def second() -> None:
        run_all([published / PRODUCT], progress=lines.append, jobs=1)
        released.set()

    with run_locks([published / PRODUCT], progress=lambda _l: None):
        thread = threading.Thread(target=second)
        thread.start()
        deadline = time.monotonic() + 30
        while not lines and time.monotonic() < deadline:
            time.sleep(0.05)
        assert lines and f"another floe run (pid {os.getpid()}) is running it" in lines[0]
        assert not released.is_set()
    thread.join(timeout=300)
    assert released.is_set()


def test_an_unreachable_catalog_fails_the_publication_clearly(published: Path) -> None:
    prefix = "FLOE_SECRET_FLOE_DEMO_CREDENTIALS_"
    env = {
        "FLOE_CATALOG": "platform",
        f"{prefix}POLARIS_CLIENT_ID": "id",
        f"{prefix}POLARIS_CLIENT_SECRET": "s",  # pragma: allowlist secret
        f"{prefix}MINIO_ROOT_USER": "u",
        f"{prefix}MINIO_ROOT_PASSWORD": "p",  # pragma: allowlist secret
    }
    with pytest.raises(LakehouseError, match="cannot open Polaris REST catalog"):
        publish_model(published / PRODUCT, "mart_customer_360", "r1", env)

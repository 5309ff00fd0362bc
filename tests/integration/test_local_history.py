"""Issue 30 (1, 2): `floe run` records its runs in the local Dagster instance `floe dev`
shows, and shows each product's dbt nodes as they finish.

One `floe demo run` in a child process (output piped, so not a terminal), then the
instance is read through Dagster's Python API and through the webserver's GraphQL, as
the UI reads it.  --no-history records nothing."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from floe.local.dev import webserver_command, write_workspace
from floe.local.products import local_instance_home
from floe.local.run import load_definitions_module
from tests.conftest import PRODUCTS
from tests.integration.test_dev_webserver import LOAD_TIMEOUT_S, _free_port

ASSETS_QUERY = """
{ assetNodes { assetKey { path } assetMaterializations(limit: 1) { runId } } }
"""


def _floe(demo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    command = [sys.executable, "-m", "floe.cli", "demo", "run", "--skip-compile"]
    return subprocess.run(
        [*command, "--demo-dir", str(demo), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.fixture(scope="module")
def ran_demo(compiled_demo: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    demo = tmp_path_factory.mktemp("history") / "demo"
    shutil.copytree(compiled_demo, demo)
    shutil.rmtree(demo / ".floe" / "dagster_home", ignore_errors=True)
    done = _floe(demo, "-j", "2")
    assert done.returncode == 0, done.stdout + done.stderr
    return demo, done.stdout


def _asset_graph(product_dir: Path):  # type: ignore[no-untyped-def]
    return load_definitions_module(product_dir).defs.get_repository_def().asset_graph


def test_issue30_run_records_every_asset_and_check_in_the_dev_instance(
    ran_demo: tuple[Path, str],
) -> None:
    from dagster import DagsterInstance

    demo, _ = ran_demo
    home = demo / ".floe" / "dagster_home"
    with DagsterInstance.from_config(str(home)) as instance:
        runs = instance.get_runs()
        assert sorted(r.tags.get("floe/product") for r in runs) == sorted(PRODUCTS)
        assert all(r.is_success for r in runs)
        for product in PRODUCTS:
            graph = _asset_graph(demo / product)
            keys = graph.materializable_asset_keys
            assert keys
            for key in keys:
                event = instance.get_latest_materialization_event(key)
                assert event is not None, f"{product}: {key.to_user_string()} never materialized"
            published = [k for k in keys if k.path[0] == "lakehouse"]
            assert len(published) == 1
            record = instance.get_latest_materialization_event(published[0])
            assert record is not None and record.asset_materialization is not None
            metadata = {k: v.value for k, v in record.asset_materialization.metadata.items()}
            assert int(metadata["rows"]) > 0 and int(metadata["snapshot_id"]) != 0
            assert metadata["contract"] == f"{product} 1.0.0"
            checks = list(graph.asset_check_keys)
            assert checks  # dbt tests and the dbt_build check of the published table
            latest = instance.event_log_storage.get_latest_asset_check_execution_by_key(checks)
            assert set(latest) == set(checks)
            assert {r.status.value for r in latest.values()} == {"SUCCEEDED"}


def test_issue30_the_dev_webserver_shows_the_materializations(
    ran_demo: tuple[Path, str], tmp_path: Path
) -> None:
    """What the UI shows: the webserver `floe dev` starts, on the same instance."""
    demo, _ = ran_demo
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    home = local_instance_home(demo)  # what `floe dev` hands the webserver
    assert home == (demo / ".floe" / "dagster_home").resolve()
    port = _free_port()
    log = (tmp_path / "webserver.log").open("w")
    proc = subprocess.Popen(
        webserver_command(write_workspace(demo), "127.0.0.1", port),
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=demo,
        env={**env, "DAGSTER_HOME": str(home)},
    )
    nodes: list[dict] = []
    expected = sum(len(_asset_graph(demo / p).materializable_asset_keys) for p in PRODUCTS)
    try:
        deadline = time.monotonic() + LOAD_TIMEOUT_S
        while time.monotonic() < deadline and len(nodes) < expected:
            assert proc.poll() is None, (tmp_path / "webserver.log").read_text()[-3000:]
            try:
                request = urllib.request.Request(
                    f"http://127.0.0.1:{port}/graphql",
                    data=json.dumps({"query": ASSETS_QUERY}).encode(),
                    headers={"Content-Type": "application/json"},
                )
                with urllib.request.urlopen(request, timeout=30) as response:
                    nodes = json.loads(response.read())["data"]["assetNodes"]
            except (OSError, KeyError, TypeError):
                nodes = []
            time.sleep(1)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
    assert len(nodes) >= expected
    never = [n["assetKey"]["path"] for n in nodes if not n["assetMaterializations"]]
    # a consumer's inputs are the producers' assets: materialized by the producers' runs
    assert never == []


def test_issue30_progress_lines_per_node_when_not_a_terminal(
    ran_demo: tuple[Path, str],
) -> None:
    demo, out = ran_demo
    lines = out.splitlines()
    for product in PRODUCTS:
        last = json.loads(
            (demo / product / "target" / "observability" / "last_run.json").read_text()
        )
        results = json.loads(Path(last["run_results"]).read_text())["results"]
        total = len(results)
        shown = [
            m.groups()
            for line in lines
            if (m := re.fullmatch(rf"  {product}: (\d+)/(\d+) (\w+) (\S+) (\w+)", line))
        ]
        assert [int(done) for done, *_ in shown] == list(range(1, total + 1))
        assert {int(of) for _, of, *_ in shown} == {total}
        names = {r["unique_id"].split(".")[-1] for r in results if "model." in r["unique_id"]}
        assert names <= {name for _, _, kind, name, _ in shown if kind == "model"}
        # every note comes before the product's summary block
        summary = lines.index(next(line for line in lines if line.startswith(f"  {product}: ok")))
        assert all(
            i < summary
            for i, line in enumerate(lines)
            if line.startswith(f"  {product}: ") and "/" in line.split()[1]
        )


def test_issue30_no_history_records_nothing(ran_demo: tuple[Path, str], tmp_path: Path) -> None:
    from dagster import DagsterInstance

    demo, _ = ran_demo
    home = demo / ".floe" / "dagster_home"
    with DagsterInstance.from_config(str(home)) as instance:
        before = len(instance.get_runs())
    done = _floe(demo, "--product", "iot-telemetry", "--no-history")
    assert done.returncode == 0, done.stdout + done.stderr
    # one product runs in this process (its output goes to its run log meanwhile): the
    # progress lines still reach the terminal's stream, before the summary
    lines = done.stdout.splitlines()
    notes = [i for i, line in enumerate(lines) if line.startswith("  iot-telemetry: 1/")]
    assert notes and notes[0] < lines.index(
        next(line for line in lines if line.startswith("  iot-telemetry: ok"))
    )
    with DagsterInstance.from_config(str(home)) as instance:
        assert len(instance.get_runs()) == before
    done = _floe(demo, "--product", "iot-telemetry")
    assert done.returncode == 0, done.stdout + done.stderr
    with DagsterInstance.from_config(str(home)) as instance:
        assert len(instance.get_runs()) == before + 1


def test_issue30_parallel_workers_find_the_instance_created(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Workers of one run open the platform's instance at once: it is created first, in
    one process (two creating it together collide in Dagster's schema migrations)."""
    from floe.local.run import _prepare_shared_stores

    platform = tmp_path / "platform"
    (platform / "a").mkdir(parents=True)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    _prepare_shared_stores([platform / "a"], history=True)
    home = platform / ".floe" / "dagster_home"
    for database in ("history/runs.db", "history/runs/index.db", "schedules/schedules.db"):
        assert (home / database).is_file(), database
    assert (platform / ".floe" / "lakehouse" / "catalog.db").is_file()

"""Issue 15: by default the dbt commands of the generated definitions run on a thread of
the running process (dbt already imported, no second process holding a second copy of
it), with dagster-dbt's event stream, exit codes, cancellation and errors unchanged, and
with dbt's files where a dbt process would have put them. A second command while one runs
starts as a process. Speed and memory are measured by benchmarks/run_path.py, not here."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import duckdb
import pytest

from floe.errors import FloeError
from floe.runtime.dbt import thread as dbt_thread
from floe.runtime.dbt.fork import EXIT_ERROR, EXIT_NODE_FAILURE, EXIT_SUCCESS, own_dbt_executable
from floe.runtime.dbt.launch import RUNNER_SWITCH, chosen_runner, runner_for
from floe.runtime.dbt.thread import DbtThread
from tests.integration.dbt_fork_probe import build_args, events, resource_settings


@pytest.fixture
def product(compiled_demo: Path, tmp_path: Path) -> Path:
    demo = tmp_path / "demo"  # the whole platform: products share its macros/
    shutil.copytree(compiled_demo, demo)
    return demo / "iot-telemetry"


def _run(args: list[str], product: Path) -> tuple[int, list[dict]]:
    process = DbtThread(args, cwd=product, env=dict(os.environ))
    seen = events(process)
    return process.wait(timeout=300), seen


def test_dbt_on_a_thread_streams_dbts_json_events_and_exit_codes(product: Path) -> None:
    """Success is 0 with dbt's JSON log lines on the pipe; a failing model is 1 with
    error-level events; a command dbt cannot start is 2 (dbt's own exit codes)."""
    code, seen = _run(build_args(product), product)
    assert code == EXIT_SUCCESS
    names = {e["info"]["name"] for e in seen}
    assert {"MainReportVersion", "LogModelResult", "LogTestResult"} <= names
    nodes = {e["data"].get("node_info", {}).get("unique_id") for e in seen}
    assert "model.iot_telemetry.mart_equipment_health" in nodes
    mart = product / "models" / "marts" / "mart_equipment_health.sql"
    mart.write_text("select cast('not a number' as integer) as broken\n", encoding="utf-8")
    code, seen = _run(build_args(product), product)
    assert code == EXIT_NODE_FAILURE and "error" in {e["info"]["level"] for e in seen}
    code, _ = _run([*build_args(product), "--project-dir", str(product / "missing")], product)
    assert code == EXIT_ERROR
    assert not dbt_thread.busy()


def test_dbt_on_a_thread_leaves_the_process_as_it_found_it(
    product: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The command's environment and working directory last as long as dbt; afterwards
    the DuckDB file dbt wrote opens read-only in this process (dbt-duckdb's open database
    is released, as a dbt process's exit releases it) and dbt logs nowhere."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    env = {**os.environ, "FLOE_PROBE_ONLY_FOR_DBT": "1", "DBT_TARGET_PATH": "target/probe"}
    process = DbtThread(build_args(product), cwd=product, env=env)
    assert events(process) and process.wait(timeout=300) == EXIT_SUCCESS
    assert os.getcwd() == str(elsewhere) and "FLOE_PROBE_ONLY_FOR_DBT" not in os.environ
    assert (product / "target" / "probe" / "run_results.json").is_file()
    assert not (elsewhere / "target").exists()
    con = duckdb.connect(str(product / "target" / "demo.duckdb"), read_only=True)
    try:
        assert con.execute("select count(*) from main.mart_equipment_health").fetchone()[0] > 0
    finally:
        con.close()
    from dbt_common.events.event_manager_client import get_event_manager

    assert not get_event_manager().loggers  # none left on the closed pipe


def test_the_resource_runs_dbt_on_a_thread_in_the_project_directory(
    product: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """FloeDbtCliResource: dagster-dbt's command line, success and node statuses, with dbt
    on a thread. dagster-dbt creates the process inside pushd(project_dir) and changes
    back at once; dbt still writes its target and DuckDB file in the project (a bug the
    first version of this had: they landed in the caller's directory)."""
    from dagster_dbt import DbtCliResource

    from floe.runtime.dbt.resource import FloeDbtCliResource

    monkeypatch.chdir(tmp_path)
    database = product / "target" / "demo.duckdb"
    before = database.stat().st_mtime_ns if database.exists() else 0
    manifest = product / "target" / "manifest.json"
    floe_run = FloeDbtCliResource(**resource_settings(product)).cli(["build"], manifest=manifest)
    assert isinstance(floe_run.process, DbtThread)
    floe_run.wait()
    assert database.stat().st_mtime_ns > before
    assert not (tmp_path / "target").exists()
    plain = DbtCliResource(**resource_settings(product)).cli(["build"], manifest=manifest).wait()
    assert floe_run.is_successful() and plain.is_successful()
    assert floe_run.dbt_command.split()[1:] == plain.dbt_command.split()[1:]
    statuses = [
        {r["unique_id"]: r["status"] for r in run.get_artifact("run_results.json")["results"]}
        for run in (floe_run, plain)
    ]
    assert statuses[0] == statuses[1]


def test_interrupting_dbt_on_a_thread_ends_the_command(product: Path) -> None:
    """dagster-dbt cancels with send_signal(SIGINT) + wait(timeout): dbt stops as on
    Ctrl-C, with a failing exit code, and the process can run dbt again."""
    import signal

    process = DbtThread(build_args(product), cwd=product, env=dict(os.environ))
    first_node = threading.Event()

    def read() -> None:
        for line in process.stdout:
            if b'"LogStartLine"' in line:
                first_node.set()

    reader = threading.Thread(target=read)
    reader.start()
    assert first_node.wait(timeout=120)
    start = time.monotonic()
    process.send_signal(signal.SIGINT)
    code = process.wait(timeout=60)
    reader.join(timeout=60)
    assert code not in (EXIT_SUCCESS, None) and time.monotonic() - start < 60
    assert not dbt_thread.busy()
    code, _ = _run(build_args(product), product)
    assert code == EXIT_SUCCESS


def test_a_second_command_while_dbt_runs_on_a_thread_starts_as_a_process(
    tmp_path: Path,
) -> None:
    own = str(own_dbt_executable())
    assert runner_for(own, {}) == "thread"
    first = DbtThread([own, "--version"], cwd=tmp_path, env=dict(os.environ))
    assert dbt_thread.busy()
    assert runner_for(own, {}) in {"fork", "subprocess"}
    with pytest.raises(RuntimeError, match="already runs"):
        DbtThread([own, "--version"], cwd=tmp_path, env=dict(os.environ))
    assert first.wait(timeout=120) == EXIT_SUCCESS
    assert runner_for(own, {}) == "thread"


def test_the_runner_switch_names_its_choices(tmp_path: Path) -> None:
    own = str(own_dbt_executable())
    assert chosen_runner({}) == "thread"
    assert runner_for(own, {RUNNER_SWITCH: "subprocess"}) == "subprocess"
    elsewhere = tmp_path / "dbt"
    elsewhere.write_text("#!/bin/sh\n")
    assert runner_for(str(elsewhere), {}) == "subprocess"  # another environment's dbt
    with pytest.raises(FloeError, match="thread, fork, subprocess"):
        chosen_runner({RUNNER_SWITCH: "threads"})


def test_dbt_json_lines_from_a_thread_match_a_processes(product: Path) -> None:
    """The lines dagster-dbt parses are dbt's own JSON log format, the same events with the
    same fields as a ``dbt`` process prints (not a re-encoding), deprecation warnings
    included on every command (dbt keeps the ones it warned of per process)."""
    args = [*build_args(product), "--no-partial-parse"]  # both parse (and warn) alike
    _, threaded = _run(args, product)
    done = subprocess.run(args, cwd=product, capture_output=True, check=True, timeout=300)
    process = [json.loads(line) for line in done.stdout.splitlines() if line.startswith(b"{")]

    def shape(seen: list[dict]) -> list[tuple[str, str, tuple[str, ...]]]:
        return sorted(
            (e["info"]["name"], e["info"]["level"], tuple(sorted(e["data"]))) for e in seen
        )

    assert shape(threaded) == shape(process)
    _, again = _run(args, product)  # dbt warns once per process: here, once per command
    assert shape(again) == shape(process)


def test_a_dbt_thread_dagster_dbt_never_started_does_not_block_the_next_command(
    tmp_path: Path,
) -> None:
    """dagster-dbt failing between "starting" dbt and returning the invocation leaves no
    dbt thread holding the process: the next command runs on a thread again."""
    from dagster_dbt.core import dbt_cli_invocation

    from floe.runtime.dbt.launch import dbt_started_here

    own = str(own_dbt_executable())
    with pytest.raises(ValueError, match="after Popen"), dbt_started_here():
        made = dbt_cli_invocation.subprocess.Popen(
            [own, "--version"], cwd=tmp_path, env=dict(os.environ)
        )
        assert isinstance(made, DbtThread) and dbt_thread.busy()
        raise ValueError("dagster-dbt failed after Popen")
    assert not dbt_thread.busy() and runner_for(own, {}) == "thread"
    assert made.poll() == EXIT_ERROR

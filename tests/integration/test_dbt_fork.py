"""Issue 15: dbt commands of the generated definitions start as a fork of the running
process (dbt already imported) instead of a fresh interpreter, with dagster-dbt's event
stream, exit codes and errors unchanged; FLOE_DBT_FORK=0 restores a plain subprocess.
Speed is measured by benchmarks/run_path.py, not here."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from floe.runtime.dbt_fork import (
    EXIT_ERROR,
    EXIT_NODE_FAILURE,
    EXIT_SUCCESS,
    FORK_SWITCH,
    ForkedDbt,
    dbt_forked_from_here,
    forking_enabled,
    own_dbt_executable,
)


@pytest.fixture
def product(compiled_demo: Path, tmp_path: Path) -> Path:
    demo = tmp_path / "demo"  # the whole platform: products share its macros/
    shutil.copytree(compiled_demo, demo)
    return demo / "iot-telemetry"


def _build_args(product: Path) -> list[str]:
    artifacts = json.loads((product / "compiled_artifacts.json").read_text(encoding="utf-8"))
    target = next(iter(artifacts["dbt_profiles"].values()))["target"]
    return [
        str(own_dbt_executable()),
        "--log-format",
        "json",
        "build",
        "--profiles-dir",
        str(product / ".floe"),
        "--target",
        target,
    ]


def _events(process: ForkedDbt) -> list[dict]:
    with process.stdout:
        return [json.loads(line) for line in process.stdout if line.strip().startswith(b"{")]


def test_only_this_interpreters_dbt_forks_and_the_switch_turns_it_off(tmp_path: Path) -> None:
    own = str(own_dbt_executable())
    assert forking_enabled(own, {})
    assert not forking_enabled(own, {FORK_SWITCH: "0"})
    assert not forking_enabled(own, {FORK_SWITCH: "off"})
    elsewhere = tmp_path / "dbt"
    elsewhere.write_text("#!/bin/sh\n")
    assert not forking_enabled(str(elsewhere), {})  # another environment's dbt


def test_forked_dbt_streams_dbts_json_events_and_exit_codes(product: Path) -> None:
    """Success is 0 with dbt's JSON log lines on the pipe and run_results.json written; a
    failing model is 1 (dbt's own code); a command dbt cannot start is 2."""
    done = ForkedDbt(_build_args(product), cwd=product, env=dict(os.environ))
    events = _events(done)
    assert done.wait() == EXIT_SUCCESS
    names = [event["info"]["name"] for event in events]
    assert "MainReportVersion" in names and names.count("LogTestResult") > 0
    assert any(
        event["data"].get("node_info", {}).get("unique_id")
        == "model.iot_telemetry.mart_equipment_health"
        for event in events
    )
    results = json.loads((product / "target" / "run_results.json").read_text(encoding="utf-8"))
    assert all(result["status"] in {"success", "pass"} for result in results["results"])

    mart = product / "models" / "marts" / "mart_equipment_health.sql"
    mart.write_text("select cast('not a number' as integer) as broken\n", encoding="utf-8")
    failed = ForkedDbt(_build_args(product), cwd=product, env=dict(os.environ))
    events = _events(failed)
    assert failed.wait() == EXIT_NODE_FAILURE
    assert any(event["info"]["level"] == "error" for event in events)

    broken = ForkedDbt(
        [*_build_args(product), "--project-dir", str(product / "missing")],
        cwd=product,
        env=dict(os.environ),
    )
    _events(broken)
    assert broken.wait() == EXIT_ERROR


def test_a_forked_dbt_can_be_stopped_like_a_subprocess(product: Path) -> None:
    """dagster-dbt cancels with send_signal(SIGINT) + wait(timeout)."""
    running = ForkedDbt(_build_args(product), cwd=product, env=dict(os.environ))
    running.terminate()
    assert running.wait(timeout=30) != EXIT_SUCCESS
    assert running.poll() == running.returncode


def test_dagster_dbt_starts_this_interpreters_dbt_as_a_fork_only_while_patched(
    product: Path,
) -> None:
    from dagster_dbt.core import dbt_cli_invocation

    args = [str(own_dbt_executable()), "--version"]
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT, "cwd": product}
    with dbt_forked_from_here():
        forked = dbt_cli_invocation.subprocess.Popen(args, env=dict(os.environ), **pipes)
        plain = dbt_cli_invocation.subprocess.Popen(
            args, env={**os.environ, FORK_SWITCH: "0"}, **pipes
        )
    assert dbt_cli_invocation.subprocess is subprocess
    assert isinstance(forked, ForkedDbt)
    assert isinstance(plain, subprocess.Popen)
    for process in (forked, plain):
        output = process.stdout.read().decode()
        assert process.wait() == 0
        assert "Core:" in output and "duckdb" in output


def test_the_generated_definitions_resource_forks_and_keeps_dagster_dbts_events(
    product: Path,
) -> None:
    """FloeDbtCliResource: same command line, events and success as DbtCliResource."""
    from dagster_dbt import DbtCliResource

    from floe.runtime.dbt_resource import FloeDbtCliResource

    settings = {
        "project_dir": str(product),
        "profiles_dir": str(product / ".floe"),
        "target": _build_args(product)[-1],
        "dbt_executable": str(own_dbt_executable()),
    }
    manifest = product / "target" / "manifest.json"
    floe_run = FloeDbtCliResource(**settings).cli(["build"], manifest=manifest).wait()
    assert isinstance(floe_run.process, ForkedDbt)
    plain_run = DbtCliResource(**settings).cli(["build"], manifest=manifest).wait()
    assert isinstance(plain_run.process, subprocess.Popen)
    assert floe_run.is_successful() and plain_run.is_successful()
    assert floe_run.dbt_command.split()[1:] == plain_run.dbt_command.split()[1:]

    def statuses(invocation: object) -> dict[str, str]:
        results = invocation.get_artifact("run_results.json")  # type: ignore[attr-defined]
        return {r["unique_id"]: r["status"] for r in results["results"]}

    assert statuses(floe_run) == statuses(plain_run)

"""Issue 15: with FLOE_DBT_RUNNER=fork (and whenever a dbt command already runs on a
thread of the process), dbt commands of the generated definitions start as a fork of the
running process (dbt already imported) instead of a fresh interpreter, with dagster-dbt's
event stream, exit codes and errors unchanged; FLOE_DBT_RUNNER=subprocess restores a plain
subprocess, and so does any native thread pool in the process (forking would deadlock
the child).
The fork cases run in a fresh interpreter (dbt_fork_probe.py): this pytest process has run
dbt in-process, so it is exactly the kind of process that must not fork.
Speed is measured by benchmarks/run_path.py, not here."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from floe.runtime.dbt import fork as dbt_fork
from floe.runtime.dbt.fork import (
    EXIT_ERROR,
    EXIT_NODE_FAILURE,
    EXIT_SUCCESS,
    ForkedDbt,
    own_dbt_executable,
)
from floe.runtime.dbt.launch import RUNNER_SWITCH, dbt_started_here, runner_for
from tests.conftest import run_python

PROBE = Path(__file__).with_name("dbt_fork_probe.py")


@pytest.fixture
def product(compiled_demo: Path, tmp_path: Path) -> Path:
    demo = tmp_path / "demo"  # the whole platform: products share its macros/
    shutil.copytree(compiled_demo, demo)
    return demo / "iot-telemetry"


def _probe(case: str, product: Path) -> dict:
    done = run_python(str(PROBE), case, str(product), timeout=600, **{RUNNER_SWITCH: "fork"})
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_only_this_interpreters_dbt_forks_and_the_switch_turns_it_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dbt_fork, "fork_safe", lambda: True)
    own = str(own_dbt_executable())
    assert runner_for(own, {RUNNER_SWITCH: "fork"}) == "fork"
    assert runner_for(own, {RUNNER_SWITCH: "subprocess"}) == "subprocess"
    elsewhere = tmp_path / "dbt"
    elsewhere.write_text("#!/bin/sh\n")
    assert runner_for(str(elsewhere), {RUNNER_SWITCH: "fork"}) == "subprocess"  # another env
    monkeypatch.setattr(dbt_fork, "fork_safe", lambda: False)
    assert runner_for(own, {RUNNER_SWITCH: "fork"}) == "subprocess"  # a native thread pool


def test_forked_dbt_streams_dbts_json_events_and_exit_codes(product: Path) -> None:
    """Success is 0 with dbt's JSON log lines on the pipe; a failing model is 1 (dbt's own
    code) with error-level events; a command dbt cannot start is 2; a terminated fork
    reports its signal like a subprocess (dagster-dbt cancels with a signal + wait)."""
    seen = _probe("exit_codes", product)
    assert seen["success"] == EXIT_SUCCESS
    assert "MainReportVersion" in seen["names"] and "LogTestResult" in seen["names"]
    assert "model.iot_telemetry.mart_equipment_health" in seen["nodes"]
    results = json.loads((product / "target" / "run_results.json").read_text(encoding="utf-8"))
    assert results["results"]  # the failing build rewrote it; the first one wrote it too
    assert seen["failed"] == EXIT_NODE_FAILURE and "error" in seen["failed_levels"]
    assert seen["broken"] == EXIT_ERROR
    assert seen["terminated"] not in (EXIT_SUCCESS, None)
    assert seen["poll_after"] == seen["terminated"]


def test_the_generated_definitions_resource_forks_and_keeps_dagster_dbts_events(
    product: Path,
) -> None:
    """FloeDbtCliResource: same command line, success and node statuses as dagster-dbt's
    DbtCliResource, with dbt forked instead of started."""
    seen = _probe("resource", product)
    assert seen["floe_process"] == "ForkedDbt" and seen["plain_process"] == "Popen"
    assert seen["successful"] == [True, True]
    assert seen["commands"][0] == seen["commands"][1]
    assert seen["same_statuses"]


def test_a_process_that_ran_dbt_parsing_starts_dbt_as_a_subprocess(product: Path) -> None:
    """The hang this guards against: dbt's static parser leaves a rayon thread pool in a
    process that parsed in-process; a fork of it waited forever for the pool's threads."""
    seen = _probe("after_parse", product)
    assert seen["safe_before"] and seen["parsed"]
    assert not seen["safe_after"] and seen["native_threads"]
    assert seen["is_popen"] and seen["successful"]


def test_forked_dbt_refuses_a_process_with_a_native_thread_pool(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(dbt_fork, "fork_safe", lambda: False)
    with pytest.raises(RuntimeError, match="not safe to fork dbt"):
        ForkedDbt([str(own_dbt_executable()), "--version"], cwd=tmp_path, env=dict(os.environ))


def test_dagster_dbt_starts_this_interpreters_dbt_here_only_while_patched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dagster_dbt.core import dbt_cli_invocation

    args = [str(own_dbt_executable()), "--version"]
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT, "cwd": tmp_path}
    with dbt_started_here():
        plain = dbt_cli_invocation.subprocess.Popen(
            args, env={**os.environ, RUNNER_SWITCH: "subprocess"}, **pipes
        )
        patched = dbt_cli_invocation.subprocess
    assert dbt_cli_invocation.subprocess is subprocess
    assert patched is not subprocess and patched.PIPE == subprocess.PIPE
    assert isinstance(plain, subprocess.Popen)
    output = plain.stdout.read().decode()
    assert plain.wait() == 0 and "Core:" in output

"""Issue 28 point 6: `floe run` (and `floe compile`) while `floe dev` materializes the same
product, and a run launched from the UI while a floe run holds the product.

Real processes throughout: `floe dev` serves the platform, a run is launched through the
webserver's GraphQL API as the UI's Materialize button does, and its dbt build is held at
a gate (a dbt Python model that waits for a file) so that the other command meets it
mid-build, not by timing luck.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from floe.local.products import local_instance_home
from floe.run_lock import RUN_LOCK
from tests.conftest import ROOT, floe_cli
from tests.integration.test_byo_project import make_platform
from tests.integration.test_stopping import SERVING, free_port, start_floe

PRODUCT = "jaffle"
JOB = "jaffle_build"
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
GATE_MODEL = '''
import os
import time


def model(dbt, session):
    """Waits until the test opens the gate (the build is then mid-way, holding its lock)."""
    gate = os.path.join(os.environ["FLOE_TEST_GATE_DIR"], "open")
    deadline = time.monotonic() + 240
    while not os.path.exists(gate) and time.monotonic() < deadline:
        time.sleep(0.1)
    return session.sql("select 1 as opened")
'''
HOLDER = """
import sys
from pathlib import Path
from floe.run_lock import run_lock
with run_lock(Path(sys.argv[1]), print):
    print("holding", flush=True)
    sys.stdin.read()
"""


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, int, Path]]:
    """(platform, port, gate dir): the fixture project with a gated model, compiled and
    served by `floe dev`."""
    root = tmp_path_factory.mktemp("ui")
    platform = make_platform(root / "platform")
    (platform / PRODUCT / "models" / "gate.py").write_text(GATE_MODEL)
    assert floe_cli(platform, "init", PRODUCT, "--owner", "shop@example.com").returncode == 0
    done = floe_cli(platform, "compile", "--platform-dir", ".")
    assert done.returncode == 0, done.stdout + done.stderr
    gate = root / "gate"
    gate.mkdir()
    port = free_port()
    os.environ["FLOE_TEST_GATE_DIR"] = str(gate)  # inherited by floe dev's run workers
    server = start_floe(["dev", "--platform-dir", ".", "--port", str(port)], platform)
    assert server.stdout is not None
    try:
        for line in server.stdout:
            if re.search(SERVING, line):
                break
        yield platform, port, gate
    finally:
        os.environ.pop("FLOE_TEST_GATE_DIR", None)
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=60)


def _launch(port: int) -> str:
    """Launch the product's job as the UI does, once its code location has loaded (the
    webserver serves before its code servers are up)."""
    from dagster_graphql import DagsterGraphQLClient, DagsterGraphQLClientError

    client = DagsterGraphQLClient("127.0.0.1", port_number=port)
    deadline = time.monotonic() + 180
    while True:
        try:
            return client.submit_job_execution(JOB, repository_location_name=PRODUCT)
        except DagsterGraphQLClientError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


def _finished(port: int, run_id: str) -> str:
    from dagster_graphql import DagsterGraphQLClient

    client = DagsterGraphQLClient("127.0.0.1", port_number=port)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        status = client.get_run_status(run_id).value
        if status in {"SUCCESS", "FAILURE", "CANCELED"}:
            return str(status)
        time.sleep(0.5)
    raise AssertionError(f"run {run_id} did not finish")


def _run_messages(platform: Path, run_id: str) -> str:
    from dagster import DagsterInstance

    with DagsterInstance.from_config(str(local_instance_home(platform))) as instance:
        out = []
        for entry in instance.all_logs(run_id):
            out.append(entry.user_message)
            data = entry.dagster_event and entry.dagster_event.event_specific_data
            error = getattr(data, "error", None)
            if error is not None:  # a failure's exception, with its causes
                out.append(error.to_string())
        return "\n".join(out)


def _lock_holder(platform: Path, timeout: float = 240) -> str:
    """Wait until a process holds the product's run lock; its line (pid, what)."""
    path = platform / PRODUCT / RUN_LOCK
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = path.read_text().strip() if path.is_file() else ""
        if text:
            return text
        time.sleep(0.1)
    raise AssertionError("nothing took the run lock")


def test_floe_run_while_the_ui_builds_the_product_waits_naming_it(
    served: tuple[Path, int, Path],
) -> None:
    """A UI run mid-build: `floe compile` is refused naming it, `floe run` waits for it
    (saying so) and then runs; both runs succeed."""
    platform, port, gate = served
    (gate / "open").unlink(missing_ok=True)
    run_id = _launch(port)
    holder = _lock_holder(platform)
    pid, what = holder.split(" ", 1)
    assert what == f"a Dagster run ({run_id[:8]})"
    refused = floe_cli(platform, "compile", "--platform-dir", ".", "--force")
    assert refused.returncode == 9
    assert f"{what} (pid {pid}) is running {PRODUCT}" in refused.stderr
    runner = subprocess.Popen(
        [sys.executable, "-m", "floe.cli", "run", "--platform-dir", "."],
        cwd=platform,
        env={**ENV, "FLOE_TEST_GATE_DIR": str(gate)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert runner.stdout is not None
    lines = []
    for line in runner.stdout:
        lines.append(line)
        if "waiting for it to finish" in line:
            break
    assert f"{PRODUCT}: {what} (pid {pid}) is running it; waiting for it to finish" in lines[-1]
    (gate / "open").touch()
    rest = runner.stdout.read()
    assert runner.wait(timeout=300) == 0, "".join(lines) + rest
    assert _finished(port, run_id) == "SUCCESS"


def test_a_ui_run_while_a_floe_run_holds_the_product_fails_naming_it(
    served: tuple[Path, int, Path],
) -> None:
    """The other way round: the UI run's dbt step refuses, naming the floe run's pid; the
    DuckDB file is not touched."""
    platform, port, gate = served
    (gate / "open").touch()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(platform / PRODUCT)],
        env=ENV,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdin is not None
    assert holder.stdout.readline().strip() == "holding"
    database = platform / PRODUCT / "target" / "demo.duckdb"
    before = database.stat().st_mtime_ns if database.exists() else None
    try:
        run_id = _launch(port)
        assert _finished(port, run_id) == "FAILURE"
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)
    messages = _run_messages(platform, run_id)
    assert f"a floe run (pid {holder.pid}) is running {PRODUCT}" in messages
    assert (database.stat().st_mtime_ns if database.exists() else None) == before

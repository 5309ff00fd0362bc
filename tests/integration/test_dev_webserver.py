"""`nox -s dev`: the Dagster webserver on loopback loads all three code locations."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

from floe.health.checks import dagster_check
from floe.local.dev import webserver_command, write_workspace
from tests.conftest import PRODUCTS

QUERY = """
{ workspaceOrError { __typename
    ... on Workspace { locationEntries { name loadStatus
        locationOrLoadError { __typename
          ... on RepositoryLocation { repositories { jobs { name } schedules { name } } }
          ... on PythonError { message } } } } } }
"""
LOAD_TIMEOUT_S = 240


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _graphql(port: int) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": QUERY}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def test_dev_webserver_loads_every_code_location(compiled_demo: Path, tmp_path: Path) -> None:
    port = _free_port()
    workspace = write_workspace(compiled_demo)
    log = (tmp_path / "webserver.log").open("w")
    proc = subprocess.Popen(
        webserver_command(workspace, "127.0.0.1", port),
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=compiled_demo,
        env={**os.environ, "DAGSTER_HOME": str(tmp_path)},
    )
    entries: list[dict] = []
    try:
        deadline = time.monotonic() + LOAD_TIMEOUT_S
        while time.monotonic() < deadline:
            assert proc.poll() is None, (tmp_path / "webserver.log").read_text()[-3000:]
            try:
                entries = _graphql(port)["data"]["workspaceOrError"]["locationEntries"]
            except OSError:
                entries = []
            if len(entries) == len(PRODUCTS) and all(e["loadStatus"] == "LOADED" for e in entries):
                break
            time.sleep(1)
        # the `floe platform status` Dagster check, against this live webserver (issue 7)
        names = list(PRODUCTS)
        healthy = dagster_check("dagster", f"http://127.0.0.1:{port}", names, retries=0)
        missing = dagster_check("dagster", f"http://127.0.0.1:{port}", [*names, "ghost"], retries=0)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
    assert sorted(e["name"] for e in entries) == list(PRODUCTS)
    for entry in entries:
        loaded = entry["locationOrLoadError"]
        assert loaded["__typename"] == "RepositoryLocation", loaded
        jobs = {j["name"] for r in loaded["repositories"] for j in r["jobs"]}
        assert f"{entry['name'].replace('-', '_')}_build" in jobs
    assert "ModuleNotFoundError" not in (tmp_path / "webserver.log").read_text()
    assert healthy.healthy, healthy.detail
    assert healthy.detail == f"{len(names)} code locations loaded: " + ", ".join(names)
    assert not missing.healthy and "ghost: not loaded" in missing.detail

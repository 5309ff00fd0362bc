"""Run by tests/integration/test_dbt_fork.py in a fresh interpreter (forking dbt needs a
process without native thread pools, which a pytest process that ran dbt is not):

    python dbt_fork_probe.py CASE PRODUCT_DIR  ->  one JSON object on stdout
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from floe.runtime.dbt.fork import ForkedDbt, fork_safe, native_threads, own_dbt_executable


def build_args(product: Path) -> list[str]:
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


def events(process: ForkedDbt) -> list[dict[str, Any]]:
    with process.stdout:
        return [json.loads(line) for line in process.stdout if line.strip().startswith(b"{")]


def exit_codes(product: Path) -> dict[str, Any]:
    done = ForkedDbt(build_args(product), cwd=product, env=dict(os.environ))
    seen = events(done)
    out: dict[str, Any] = {
        "success": done.wait(),
        "names": [e["info"]["name"] for e in seen],
        "nodes": sorted({e["data"].get("node_info", {}).get("unique_id", "") for e in seen}),
    }
    mart = product / "models" / "marts" / "mart_equipment_health.sql"
    mart.write_text("select cast('not a number' as integer) as broken\n", encoding="utf-8")
    failed = ForkedDbt(build_args(product), cwd=product, env=dict(os.environ))
    out["failed_levels"] = sorted({e["info"]["level"] for e in events(failed)})
    out["failed"] = failed.wait()
    broken = ForkedDbt(
        [*build_args(product), "--project-dir", str(product / "missing")],
        cwd=product,
        env=dict(os.environ),
    )
    events(broken)
    out["broken"] = broken.wait()
    running = ForkedDbt(build_args(product), cwd=product, env=dict(os.environ))
    running.terminate()
    out["terminated"] = running.wait(timeout=30)
    out["poll_after"] = running.poll()
    return out


def resource_settings(product: Path) -> dict[str, str]:
    return {
        "project_dir": str(product),
        "profiles_dir": str(product / ".floe"),
        "target": build_args(product)[-1],
        "dbt_executable": str(own_dbt_executable()),
    }


def _statuses(invocation: Any) -> dict[str, str]:
    results = invocation.get_artifact("run_results.json")
    return {r["unique_id"]: r["status"] for r in results["results"]}


def resource(product: Path) -> dict[str, Any]:
    from dagster_dbt import DbtCliResource

    from floe.runtime.dbt.resource import FloeDbtCliResource

    manifest = product / "target" / "manifest.json"
    floe_run = FloeDbtCliResource(**resource_settings(product)).cli(["build"], manifest=manifest)
    floe_run.wait()
    plain_run = DbtCliResource(**resource_settings(product)).cli(["build"], manifest=manifest)
    plain_run.wait()
    return {
        "floe_process": type(floe_run.process).__name__,
        "plain_process": type(plain_run.process).__name__,
        "successful": [floe_run.is_successful(), plain_run.is_successful()],
        "commands": [floe_run.dbt_command.split()[1:], plain_run.dbt_command.split()[1:]],
        "same_statuses": _statuses(floe_run) == _statuses(plain_run),
    }


def after_inprocess_parse(product: Path) -> dict[str, Any]:
    """dbt parsing in this process starts dbt_extractor's rayon pool: no more forks."""
    from dbt.cli.main import dbtRunner

    from floe.runtime.dbt.resource import FloeDbtCliResource

    before = fork_safe()
    os.chdir(product)
    parsed = dbtRunner().invoke(
        [
            "parse",
            "--no-partial-parse",
            "--profiles-dir",
            str(product / ".floe"),
            "--target",
            build_args(product)[-1],
        ]
    )
    manifest = product / "target" / "manifest.json"
    invocation = FloeDbtCliResource(**resource_settings(product)).cli(["build"], manifest=manifest)
    return {
        "safe_before": before,
        "parsed": parsed.success,
        "safe_after": fork_safe(),
        "native_threads": native_threads(),
        "process": type(invocation.process).__name__,
        "is_popen": isinstance(invocation.process, subprocess.Popen),
        "successful": invocation.wait().is_successful(),
    }


CASES = {"exit_codes": exit_codes, "resource": resource, "after_parse": after_inprocess_parse}

if __name__ == "__main__":
    print(json.dumps(CASES[sys.argv[1]](Path(sys.argv[2]))))

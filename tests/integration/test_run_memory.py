"""Issue 27 point 2, locally: the run resources compiled for a product's run pod bound
what its local run reports.  Each product's summary gives the resident peak of the
process that ran it and how it compares with its run pod's memory limit; a product whose
local peak is above that limit is told that in the cluster it would be OOM-killed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import copy_demo, floe_cli

TINY = "runs:\n  resources:\n    requests: {memory: 16Mi}\n    limits: {memory: 32Mi}\n"
MEMORY = re.compile(r"^    memory  -> (.*)$", re.MULTILINE)


def summaries(out: str) -> dict[str, str]:
    """product -> its summary's memory line."""
    found: dict[str, str] = {}
    product = None
    for line in out.splitlines():
        head = re.match(r"^  ([a-z0-9-]+): (ok|FAILED|NOT RUN) in ", line)
        if head:
            product = head.group(1)
        memory = MEMORY.match(line)
        if memory and product:
            found[product] = memory.group(1)
    return found


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_product_above_its_run_pod_memory_limit_is_told_it_would_be_oom_killed(
    tmp_path: Path, jobs: str
) -> None:
    """In-process (-j 1) and in workers (-j 2): iot-telemetry asks for a 32Mi limit, which
    no Python process running dbt fits; customer-360 keeps the manifest's 2Gi default."""
    demo = copy_demo(tmp_path / "demo")
    spec = demo / "iot-telemetry" / "floe.yaml"
    spec.write_text(spec.read_text(encoding="utf-8") + TINY, encoding="utf-8")
    done = floe_cli(
        demo, "run", "--platform-dir", str(demo), "-j", jobs,
        "--product", "iot-telemetry", "--product", "customer-360",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    lines = summaries(done.stdout)
    tiny = lines["iot-telemetry"]
    assert tiny.startswith("WARNING peak "), tiny
    assert "above its run pod's 32Mi memory limit" in tiny
    assert "would be OOM-killed" in tiny and "limits.memory" in tiny
    default = re.fullmatch(
        r"peak (\d+) MiB resident, (\d+)% of its run pod's 2Gi limit", lines["customer-360"]
    )
    assert default is not None, lines["customer-360"]
    assert 50 < int(default.group(1)) < 2048

"""What a dbt build did, read from its run_results.json and manifest.json: as clear as
``dbt build`` itself about what failed, where, and what it skipped."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BUILT_KINDS = {"model", "seed", "snapshot"}


@dataclass(frozen=True)
class Problem:
    """A node that failed: a model/seed that errored or a test that failed."""

    kind: str  # model, seed, snapshot, test
    name: str
    file: str  # the node's file, relative to the dbt project
    message: str
    model: str | None = None  # for a test: the model it tests
    failures: int | None = None  # for a failing test: rows returned

    def lines(self) -> list[str]:
        if self.kind == "test" and self.failures is not None:
            head = (
                f"test {self.name} failed on model {self.model or '?'}: "
                f"{self.failures} failing row(s) ({self.file})"
            )
            return [head]
        head = f"{self.kind} {self.name} failed ({self.file})"
        return [head, *(f"  {line}" for line in self.message.strip().splitlines()[:6])]


@dataclass(frozen=True)
class DbtOutcome:
    built: frozenset[str] = frozenset()  # names of models/seeds/snapshots rebuilt
    problems: list[Problem] = field(default_factory=list)
    tests_passed: int = 0
    tests_failed: int = 0
    tests_warned: int = 0
    tests_skipped: int = 0
    nodes_skipped: int = 0  # models/seeds dbt skipped because something upstream failed

    @property
    def failed_nodes(self) -> list[Problem]:
        return [p for p in self.problems if p.kind != "test"]


def _nodes(manifest_path: Path) -> dict[str, dict[str, Any]]:
    if not manifest_path.is_file():
        return {}
    data = json.loads(manifest_path.read_text(encoding="utf-8"))
    return dict(data.get("nodes") or {})


def _tested_model(node: dict[str, Any], nodes: dict[str, dict[str, Any]]) -> str | None:
    attached = node.get("attached_node")
    candidates = [attached] if attached else (node.get("depends_on") or {}).get("nodes", [])
    for uid in candidates:
        if uid and uid.split(".")[0] in BUILT_KINDS:
            return str(nodes.get(uid, {}).get("name") or uid.split(".")[-1])
    return None


def read_outcome(run_results: Path) -> DbtOutcome:
    """The outcome of the dbt invocation that wrote ``run_results`` (its manifest.json
    beside it names files and tested models)."""
    results = json.loads(run_results.read_text(encoding="utf-8")).get("results", [])
    nodes = _nodes(run_results.parent / "manifest.json")
    built: set[str] = set()
    problems: list[Problem] = []
    counts = {"pass": 0, "fail": 0, "warn": 0, "skipped": 0}
    skipped_nodes = 0
    for result in results:
        uid = str(result["unique_id"])
        kind = uid.split(".")[0]
        status = str(result.get("status"))
        node = nodes.get(uid, {})
        name = str(node.get("name") or uid.split(".")[-1])
        file = str(node.get("original_file_path") or node.get("path") or "?")
        message = str(result.get("message") or "")
        if kind == "test":
            bucket = "fail" if status in {"fail", "error"} else status
            counts[bucket] = counts.get(bucket, 0) + 1
            if status in {"fail", "error"}:
                failures = result.get("failures") if status == "fail" else None
                problems.append(
                    Problem(
                        "test",
                        name,
                        file,
                        message,
                        model=_tested_model(node, nodes),
                        failures=int(failures) if failures is not None else None,
                    )
                )
            continue
        if kind not in BUILT_KINDS:
            continue
        if status == "success":
            built.add(name)
        elif status == "skipped":
            skipped_nodes += 1
        elif status == "error":
            problems.append(Problem(kind, name, file, message))
    return DbtOutcome(
        built=frozenset(built),
        problems=problems,
        tests_passed=counts["pass"],
        tests_failed=counts["fail"],
        tests_warned=counts["warn"],
        tests_skipped=counts["skipped"],
        nodes_skipped=skipped_nodes,
    )

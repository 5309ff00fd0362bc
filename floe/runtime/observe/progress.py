"""Live progress of a dbt build: one note per node as dbt finishes it.

Whoever runs the product (floe's local runner) sets a sink; floe's dbt resource then
watches the invocation's dbt events (dagster-dbt's own stream, whatever runs dbt) and
sends the sink ``(product, Progress)`` for every node dbt finishes.  No sink, no cost.
Standard library only; Python 3.10.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

COUNTED = ("model", "seed", "snapshot", "test")


@dataclass(frozen=True)
class Progress:
    product: str
    done: int
    total: int
    kind: str  # model, seed, snapshot, test
    name: str
    status: str  # success, pass, fail, error, skipped, warn

    def line(self) -> str:
        return f"  {self.product}: {self.done}/{self.total} {self.kind} {self.name} {self.status}"


Sink = Callable[[Progress], None]
_sink: Sink | None = None


def sink() -> Sink | None:
    return _sink


@contextlib.contextmanager
def progress_sink(new: Sink | None) -> Iterator[None]:
    """``new`` hears of every node while the block runs (None: nobody); then the sink
    that was set before is back."""
    global _sink
    before, _sink = _sink, new
    try:
        yield
    finally:
        _sink = before


def node_total(manifest_path: Path) -> int:
    """Nodes a select-everything ``dbt build`` of the project runs."""
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return 0
    project = (manifest.get("metadata") or {}).get("project_name")
    return sum(
        1
        for node in (manifest.get("nodes") or {}).values()
        if node.get("resource_type") in COUNTED
        and (not project or node.get("package_name") == project)
    )


UNFINISHED = ("", "started", "compiling", "executing")


def watch(invocation: Any, product: str, total: int) -> None:
    """Tee the invocation's dbt events: a Progress to the sink per finished node.

    A node is finished on the first event carrying its ``node_info`` with a finish time
    and a final status (dbt's ``Log*Result`` events, ``NodeFinished`` where dbt emits
    it); the total is dbt's own count of the nodes it runs when an event says it."""
    current = _sink
    if current is None:
        return
    original = invocation.stream_raw_events
    finished: set[str] = set()
    counted = [total]

    def stream_raw_events(*args: Any, **kwargs: Any) -> Iterator[Any]:
        for event in original(*args, **kwargs):
            data = (getattr(event, "raw_event", None) or {}).get("data") or {}
            node = data.get("node_info") or {}
            status = str(node.get("node_status") or "")
            unique_id = str(node.get("unique_id") or "")
            if isinstance(data.get("total"), int) and data["total"] > 0:
                counted[0] = data["total"]
            done = bool(node.get("node_finished_at")) and status not in UNFINISHED
            if done and unique_id and unique_id not in finished:
                finished.add(unique_id)
                note = Progress(
                    product,
                    len(finished),
                    max(counted[0], len(finished)),
                    str(node.get("resource_type") or "node"),
                    str(node.get("node_name") or unique_id),
                    status,
                )
                with contextlib.suppress(Exception):  # progress never fails a build
                    current(note)
            yield event

    invocation.stream_raw_events = stream_raw_events

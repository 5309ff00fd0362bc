"""Issue 30 (2): live progress of a run.  The real run is proven in
tests/integration/test_local_history.py (one line per node in piped output); here the
parts: counting dbt's finished nodes once each, and the view on a terminal and off it."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from floe.local.progress_view import ProgressView
from floe.runtime.observe import progress
from floe.runtime.observe.progress import Progress


@dataclass
class Event:
    raw_event: dict[str, Any]


def _node(unique_id: str, status: str, finished: bool) -> dict[str, Any]:
    kind, _, name = unique_id.split(".")
    return {
        "unique_id": unique_id,
        "resource_type": kind,
        "node_name": name,
        "node_status": status,
        "node_finished_at": "2026-12-06T17:34:30" if finished else "",
    }


class Invocation:
    """What dbt streams for two nodes, in the shapes dbt 1.10 emits (LogStartLine, then
    Log*Result carrying the run's total, then NodeFinished for the same node)."""

    def stream_raw_events(self) -> Iterator[Event]:
        for unique_id, status in (("model.p.stg_a", "success"), ("test.p.unique_a", "fail")):
            yield Event(
                {
                    "info": {"name": "LogStartLine"},
                    "data": {"node_info": _node(unique_id, "started", False), "total": 2},
                }
            )
            result = "LogModelResult" if unique_id.startswith("model") else "LogTestResult"
            yield Event(
                {
                    "info": {"name": result},
                    "data": {"node_info": _node(unique_id, status, True), "total": 2},
                }
            )
            yield Event(
                {
                    "info": {"name": "NodeFinished"},
                    "data": {"node_info": _node(unique_id, status, True)},
                }
            )
        yield Event({"info": {"name": "EndOfRunSummary"}, "data": {}})


def test_issue30_each_finished_node_is_noted_once_with_dbts_total() -> None:
    notes: list[Progress] = []
    invocation = Invocation()
    with progress.progress_sink(notes.append):
        progress.watch(invocation, "p", total=0)
        events = list(invocation.stream_raw_events())
    assert len(events) == 7  # every event still reaches dagster-dbt
    assert [(n.done, n.total, n.kind, n.name, n.status) for n in notes] == [
        (1, 2, "model", "stg_a", "success"),
        (2, 2, "test", "unique_a", "fail"),
    ]
    assert progress.sink() is None  # the sink is gone with its block


def test_issue30_without_a_sink_nothing_is_wrapped() -> None:
    invocation = Invocation()
    original = invocation.stream_raw_events
    progress.watch(invocation, "p", total=0)
    assert invocation.stream_raw_events == original


def test_issue30_a_failing_sink_never_fails_the_build() -> None:
    def broken(note: Progress) -> None:
        raise RuntimeError("terminal gone")

    invocation = Invocation()
    with progress.progress_sink(broken):
        progress.watch(invocation, "p", total=0)
        assert len(list(invocation.stream_raw_events())) == 7


def test_issue30_plain_view_writes_a_line_per_node_and_blocks_whole() -> None:
    stream = io.StringIO()
    said: list[str] = []
    with ProgressView(said.append, live=False, stream=stream) as view:
        view.note(Progress("a", 1, 2, "model", "stg_a", "success"))
        view.finished("a", "  a: ok in 1.0s\n    main.stg_a  3 rows")
        view.note(Progress("a", 2, 2, "test", "late", "pass"))  # after its summary: dropped
    assert stream.getvalue() == "  a: 1/2 model stg_a success\n"
    assert said == ["  a: ok in 1.0s\n    main.stg_a  3 rows"]


def test_issue30_live_view_prints_blocks_above_the_running_products() -> None:
    stream = io.StringIO()
    with ProgressView(print, live=True, stream=stream) as view:
        view.note(Progress("a", 1, 45, "model", "stg_a", "success"))
        view.note(Progress("b", 3, 37, "seed", "raw_b", "success"))
        view.finished("a", "  a: ok in 1.0s\n    main.stg_a  3 rows")
        view.note(Progress("a", 2, 45, "test", "late", "pass"))
        view.note(Progress("b", 4, 37, "model", "stg_b", "success"))
    out = stream.getvalue()
    assert "  a: ok in 1.0s\n    main.stg_a  3 rows\n" in out  # the block, whole
    assert "3/37" in out and "stg_b" in out
    assert "late" not in out

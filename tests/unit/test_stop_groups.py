"""Issue 28 point 1, the mechanism under ``floe dev``'s stop: a server is asked to stop
before the processes it started are (a Dagster daemon mid-tick must not see its code
servers vanish: that is the traceback clean-clone CI met), and whatever it leaves behind
is still stopped within the bound."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from floe import stopping

# a leader with one child in its process group; on SIGTERM it writes whether the child
# was still alive when it was asked to stop, then exits (leaving the child, or not)
LEADER = """
import signal, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", {child!r}])
def stop(signum, frame):
    time.sleep(0.3)  # a daemon finishing a tick
    with open({report!r}, "w") as out:
        out.write("alive" if child.poll() is None else "gone")
    if {own_children}:
        child.terminate()
        child.wait()
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
print(child.pid, flush=True)
while True:
    time.sleep(0.1)
"""
# a leader that, asked to stop, waits for its child to end (a Dagster daemon waiting on
# code servers that are still starting) and then writes how many times it was asked
WAITER = """
import signal, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", {child!r}])
asked = 0
def stop(signum, frame):
    global asked
    asked += 1
signal.signal(signal.SIGTERM, stop)
print(child.pid, flush=True)
while not asked:
    time.sleep(0.05)
child.wait()
with open({report!r}, "w") as out:
    out.write(str(asked))
"""
SLEEPER = "import time\nwhile True: time.sleep(0.1)"
STUBBORN = "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n" + SLEEPER


def start_leader(
    tmp_path: Path, child: str, own_children: bool, template: str = LEADER
) -> tuple[subprocess.Popen[str], int]:
    report = tmp_path / "report"
    source = template.format(child=child, report=str(report), own_children=own_children)
    leader = subprocess.Popen(
        [sys.executable, "-c", source], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    assert leader.stdout is not None
    child_pid = int(leader.stdout.readline())
    return leader, child_pid


def test_the_leader_stops_its_own_children_before_the_group_is_signalled(
    tmp_path: Path,
) -> None:
    """BC-28.1: the server's children are alive while it stops them itself."""
    leader, child = start_leader(tmp_path, SLEEPER, own_children=True)
    assert child in stopping.group_members(leader.pid)
    stopping.stop_groups([(leader, "the leader")])
    assert (tmp_path / "report").read_text() == "alive"
    assert stopping.group_members(leader.pid) == []
    assert any(line.startswith("the leader (pid ") for line in stopping.stopped())


def test_what_the_leader_leaves_behind_is_stopped_then_killed_at_the_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """BC-28.1: a child that outlives its server, even one ignoring SIGTERM, is gone at
    STOP_SECONDS."""
    monkeypatch.setattr(stopping, "STOP_SECONDS", 2.0)
    leader, child = start_leader(tmp_path, STUBBORN, own_children=False)
    assert child in stopping.group_members(leader.pid)
    time.sleep(0.3)  # the child has set its SIGTERM disposition
    start = time.monotonic()
    stopping.stop_groups([(leader, "the leader")])
    took = time.monotonic() - start
    assert (tmp_path / "report").read_text() == "alive"
    assert stopping.group_members(leader.pid) == []
    assert 1.0 < took < 5.0  # waited for the stubborn child, killed it at the bound


def test_a_leader_still_stopping_is_not_signalled_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """BC-28.1: a leader still waiting on its children at half the bound is asked once
    (a second SIGTERM is a KeyboardInterrupt in the middle of a Dagster daemon's own
    shutdown, which it prints as a traceback); its children are stopped for it."""
    monkeypatch.setattr(stopping, "STOP_SECONDS", 2.0)
    leader, child = start_leader(tmp_path, SLEEPER, own_children=False, template=WAITER)
    assert child in stopping.group_members(leader.pid)
    start = time.monotonic()
    stopping.stop_groups([(leader, "the leader")])
    took = time.monotonic() - start
    assert (tmp_path / "report").read_text() == "1"
    assert leader.returncode == 0  # it ended by itself, not killed at the bound
    assert stopping.group_members(leader.pid) == []
    assert 0.8 < took < 2.0  # its child was stopped at half the bound

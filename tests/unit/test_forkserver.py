"""Issue 26's run path: the forkserver ``floe run`` starts early, before it takes the run
locks and checks what needs compiling, preloads both the compile's and the run's
modules, so the run's workers fork from a server that imported Dagster, dbt and
pyiceberg once (and froze that heap) even when a compile pool used the server first; a
stop before the workers started ends the server instead of leaving it importing.

Each case runs in a fresh interpreter: Python's forkserver is one per process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

SCRIPT = '''
import gc, os, sys, time
from concurrent.futures import ProcessPoolExecutor
from floe.local import forkserver


def frozen(context):
    """Whether a worker forked from this server sees the run preload's frozen heap."""
    with ProcessPoolExecutor(1, mp_context=context) as pool:
        return pool.submit(gc.get_freeze_count).result() > 0


def compile_then_run():
    compile_pool = frozen(forkserver.context(forkserver.COMPILE_PRELOAD))
    run_pool = frozen(forkserver.context(forkserver.RUN_PRELOAD))
    print(compile_pool, run_pool)


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


if __name__ == "__main__":
    if sys.argv[1] == "early":
        with forkserver.start_early(forkserver.both()):
            compile_then_run()
    elif sys.argv[1] == "late":
        compile_then_run()
    else:  # a stop while the server is still importing
        try:
            with forkserver.start_early(forkserver.both()):
                pid = forkserver._pid()
                raise KeyboardInterrupt
        except KeyboardInterrupt:
            start = time.monotonic()
            while alive(pid) and time.monotonic() - start < 30:
                time.sleep(0.02)
            print(alive(pid), round(time.monotonic() - start, 2))
'''


def run(tmp_path: Path, mode: str) -> str:
    script = tmp_path / "probe.py"
    script.write_text(SCRIPT)
    done = subprocess.run(
        [sys.executable, str(script), mode],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip()


def test_run_workers_fork_from_the_run_preload_after_a_compile_pool(tmp_path: Path) -> None:
    """Started early with both lists, compile and run workers share one server that has
    the run's imports (its heap frozen: gc.freeze, the last preload)."""
    assert run(tmp_path, "early") == "True True"


def test_without_the_early_start_a_compile_pool_decides_the_run_preload(tmp_path: Path) -> None:
    """Why floe run starts the server itself: Python keeps the first server's preload,
    so a run pool after a compile pool would fork workers without the run's imports."""
    assert run(tmp_path, "late") == "False False"


def test_a_stop_before_the_workers_start_ends_the_importing_server(tmp_path: Path) -> None:
    """BC-28.1: nothing floe started outlives it; the server's imports take seconds."""
    still_alive, seconds = run(tmp_path, "stop").split()
    assert still_alive == "False"
    assert float(seconds) < 1.0

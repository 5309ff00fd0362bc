"""Issue 28 point 1: a worker the forkserver forks after floe began stopping dies
unpickling the pool's semaphores (already removed by its parent: FileNotFoundError in
multiprocessing.spawn._main); the forkserver prints such a death through sys.excepthook.
floe.forkserver_quiet, preloaded only into floe's forkservers, keeps that one death
silent and lets every other error print.

Each case runs multiprocessing's own spawn._main on a pipe, as the forkserver's child
does, and reports the error through sys.excepthook, as the forkserver does.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT

CHILD = """
import os, pickle, sys
from multiprocessing import spawn
if sys.argv[1] == "quiet":
    import floe.forkserver_quiet

class Gone:
    def __reduce__(self):
        return (Gone, ())
    def __setstate__(self, state):
        pass
    def __init__(self):
        if sys.argv[2] == "semaphore-gone":
            raise FileNotFoundError(2, "No such file or directory")
        raise ValueError("a real bug in a worker")

read, write = os.pipe()
os.write(write, pickle.dumps({}) + pickle.dumps(Gone.__new__(Gone)))
os.close(write)
try:
    spawn._main(read, None)
except Exception:
    sys.excepthook(*sys.exc_info())
"""


def _child(hook: str, error: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, hook, error],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    return done.stderr


def test_a_worker_whose_semaphores_are_gone_dies_silently_under_floe() -> None:
    assert "FileNotFoundError" in _child("plain", "semaphore-gone")  # what CI printed
    assert _child("quiet", "semaphore-gone") == ""


@pytest.mark.parametrize("hook", ["plain", "quiet"])
def test_any_other_worker_error_still_prints(hook: str) -> None:
    assert "ValueError: a real bug in a worker" in _child(hook, "bug")

"""Imported only by floe's forkservers (their preload lists): a worker the forkserver
forks after its parent began stopping dies unpickling the pool's semaphores, which the
parent has already removed; the forkserver would print that worker's traceback. The
parent says what it stopped, so that one death is silent (issue 28 point 1); every other
error still prints.
"""

from __future__ import annotations

import sys
from types import TracebackType

_PREVIOUS = sys.excepthook


def _in_spawn_bootstrap(trace: TracebackType | None) -> bool:
    while trace is not None:
        code = trace.tb_frame.f_code
        if code.co_name == "_main" and code.co_filename.endswith("multiprocessing/spawn.py"):
            return True
        trace = trace.tb_next
    return False


def _quiet(kind: type[BaseException], value: BaseException, trace: TracebackType | None) -> None:
    if issubclass(kind, FileNotFoundError | EOFError | ConnectionError) and _in_spawn_bootstrap(
        trace
    ):
        return  # the parent stopped before this worker could start; it says so itself
    _PREVIOUS(kind, value, trace)


sys.excepthook = _quiet

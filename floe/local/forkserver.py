"""The forkserver floe's compile and run workers fork from: one per floe process.

Python's forkserver is a process-wide singleton whose preload list is read once, when
it starts; a later ``set_forkserver_preload`` does nothing.  So ``floe run`` (which may
compile with workers, then run with workers) starts it itself, early, with both lists:
its imports (dagster, dagster-dbt, dbt, pyiceberg: about 2.5 s on one core) then proceed
while this process takes the run locks and checks what needs compiling, and the run's
workers fork from a server that has the run's imports (a compile pool started first
would otherwise leave them one without, each worker importing for itself).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.forkserver
import os
import signal
from collections.abc import Iterator
from multiprocessing.context import BaseContext

QUIET = "floe.forkserver_quiet"  # no traceback from a worker a stop caught mid-spawn
FROZEN = "floe.local.frozen_heap"  # last: gc.freeze() what the server imported

# compile workers: dbt, and what data contracts need (their schema validator, DuckDB's
# SQL parser)
COMPILE_PRELOAD = [
    QUIET,
    "dbt.cli.main",
    "floe.outputs",
    "jsonschema",
    "open_data_contract_standard.model",
    "duckdb",
]
# run workers: Dagster, dagster-dbt, dbt (its commands fork from the worker:
# floe.runtime.dbt.fork), DuckDB's adapter, the publication's catalog
RUN_PRELOAD = [
    QUIET,
    "dagster",
    "dagster_dbt",
    "floe.runtime.dbt.resource",
    "dbt.cli.main",
    "dbt.adapters.duckdb",
    "floe.runtime.publish.lakehouse",
    "pyiceberg.catalog.sql",
    "floe.local.run",
    FROZEN,
]


def context(preload: list[str]) -> BaseContext:
    """The forkserver context, with ``preload`` if the server is not running yet (when
    :func:`start_early` started it, its list already holds these modules)."""
    forkserver = multiprocessing.get_context("forkserver")
    if _pid() is None:
        forkserver.set_forkserver_preload(preload)
    return forkserver


def both() -> list[str]:
    """What a ``floe run`` preloads: the run's modules and the compile's, frozen last."""
    modules = [m for m in COMPILE_PRELOAD + RUN_PRELOAD if m != FROZEN]
    return [*dict.fromkeys(modules), FROZEN]


@contextlib.contextmanager
def start_early(preload: list[str], wanted: bool = True) -> Iterator[None]:
    """Start the forkserver now (its imports run on while the block does other work);
    if the block ends in an error or a stop, the server is ended too, not left
    importing for seconds after floe exited."""
    if wanted and _pid() is None:
        context(preload)
        multiprocessing.forkserver.ensure_running()
    try:
        yield
    except BaseException:
        _end()
        raise


def _pid() -> int | None:
    # multiprocessing keeps the running server's pid on its module-level singleton
    server = getattr(multiprocessing.forkserver, "_forkserver", None)
    pid = getattr(server, "_forkserver_pid", None)
    return pid if isinstance(pid, int) else None


def _end() -> None:
    pid = _pid()
    if pid is None:
        return
    with contextlib.suppress(OSError):  # multiprocessing reaps it (or floe's exit does)
        os.kill(pid, signal.SIGTERM)

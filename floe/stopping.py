"""Stopping cleanly (issue 28 point 1): SIGINT, SIGTERM and SIGHUP to a floe command end
every process it started, within a bounded time, with exit 128 + the signal number (130,
143, 129), one line saying what was stopped, and no traceback from any process.

* The command itself: SIGTERM and SIGHUP raise :class:`Stopped` in the main thread, as
  SIGINT raises KeyboardInterrupt; the CLI's error handler turns either into the line and
  the exit code.  Under nox (``NOX_CURRENT_SESSION``) floe also asks Linux to send it
  SIGTERM when nox dies, so ``kill <nox pid>`` stops floe's processes too.
* Worker pools (compile, run): workers ignore SIGINT (a terminal's Ctrl-C reaches the
  whole process group; the main process alone decides), and are terminated, then killed
  after :data:`STOP_SECONDS`, by :func:`terminate_pool`.
* Servers (``floe dev``): started in their own session; :func:`stop_groups` signals the
  leader (the Dagster webserver or daemon) first, so it stops the code servers it
  started itself, then whatever is left of its process group.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, NoReturn

STOP_SECONDS = 10.0  # then SIGKILL
_STOPPED: list[str] = []  # what this command stopped, for its last line


class Stopped(BaseException):
    """SIGTERM or SIGHUP, raised like KeyboardInterrupt (not caught by ``except Exception``)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _raise_stopped(signum: int, _frame: Any) -> None:
    raise Stopped(signum)


_WAKEUP: list[int] = []  # the read end of the pipe every handled signal's number goes to


def install() -> None:
    """SIGTERM and SIGHUP raise Stopped in this (main) thread; under nox, nox's death
    sends this process SIGTERM.  Every signal that arrives is also written to a pipe
    (``signal.set_wakeup_fd``), so a stop is still known when a library (Dagster, during
    an in-process run) swapped in handlers of its own: see :func:`raise_if_stopped`."""
    if threading.current_thread() is not threading.main_thread():
        return  # signal handlers belong to the main thread
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _raise_stopped)
    if not _WAKEUP:
        with contextlib.suppress(ValueError, OSError):  # not the main thread
            read, write = os.pipe()
            os.set_blocking(read, False)
            os.set_blocking(write, False)
            signal.set_wakeup_fd(write, warn_on_full_buffer=False)
            _WAKEUP.append(read)
    if os.environ.get("NOX_CURRENT_SESSION"):
        _parent_death_signal(signal.SIGTERM)


def drain() -> None:
    """Forget signals already handled (before code that may swap handlers)."""
    if _WAKEUP:
        with contextlib.suppress(BlockingIOError, OSError):
            while os.read(_WAKEUP[0], 1024):
                pass


def raise_if_stopped() -> None:
    """After code that handles SIGINT/SIGTERM itself (Dagster's execute_in_process turns
    them into a failed, interrupted run, and leaves SIGTERM mapped to SIGINT's handler):
    put floe's handlers back, and raise the stop a signal asked for meanwhile."""
    if not _WAKEUP or threading.current_thread() is not threading.main_thread():
        return
    received = b""
    with contextlib.suppress(BlockingIOError, OSError):
        received = os.read(_WAKEUP[0], 1024)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _raise_stopped)
    stops = [n for n in received if n in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)]
    if not stops:
        return
    if stops[0] == signal.SIGINT:
        raise KeyboardInterrupt
    raise Stopped(stops[0])


def _parent_death_signal(signum: int) -> None:
    with contextlib.suppress(OSError, AttributeError):
        import ctypes
        import ctypes.util

        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(1, signum)  # PR_SET_PDEATHSIG


def signal_number(exc: BaseException) -> int:
    return exc.signum if isinstance(exc, Stopped) else int(signal.SIGINT)


def exit_code(exc: BaseException) -> int:
    return 128 + signal_number(exc)


def settle() -> bool:
    """Before a stopped command exits: let dbt running on a thread of this process end
    (interrupted, at most STOP_SECONDS); whether nothing is left running in-process."""
    if "floe.runtime.dbt.thread" not in sys.modules:
        return True
    from floe.runtime.dbt.thread import stop_running

    return stop_running(STOP_SECONDS)


def leave(code: int, settled: bool) -> NoReturn:
    """Exit with ``code``; when dbt could not be stopped in time (``settled`` false, from
    :func:`settle`), without the interpreter's clean-up, which would abort the process
    under dbt's running thread."""
    if settled:
        sys.exit(code)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def note(what: str) -> None:
    """Record something this command stopped (said in its last line)."""
    _STOPPED.append(what)


def stopped() -> list[str]:
    return list(_STOPPED)


def in_worker() -> None:
    """Pool worker initializer: Ctrl-C is the main process's to handle; SIGTERM ends the
    worker at once (no handler, no traceback)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def terminate_pool(pool: Any, what: str) -> None:
    """Stop a ProcessPoolExecutor's workers: SIGINT (a Dagster run in a worker stops as
    interrupted; an idle worker ignores it), the pool's own shutdown for idle ones, then
    SIGTERM and at STOP_SECONDS SIGKILL for any still alive; nothing waits for the work
    they were doing."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    for process in processes:
        with contextlib.suppress(OSError, TypeError):
            os.kill(process.pid, signal.SIGINT)
    with contextlib.suppress(Exception):
        pool.shutdown(wait=False, cancel_futures=True)
    deadline = time.monotonic() + STOP_SECONDS
    for process in processes:
        process.join(max(0.0, deadline - STOP_SECONDS / 2 - time.monotonic()))
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            process.kill()
            process.join(1.0)
    if processes:
        note(f"{len(processes)} {what} worker(s)")


def group_members(pgid: int) -> list[int]:
    """Live processes of process group ``pgid`` (from /proc)."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            out.append(int(entry))
    return out


def stop_group(process: subprocess.Popen[Any], what: str) -> None:
    """SIGTERM to the process group ``process`` leads (started with
    ``start_new_session=True``), SIGKILL to what is left after STOP_SECONDS; reaps it."""
    stop_groups([(process, what)])


def stop_groups(groups: list[tuple[subprocess.Popen[Any], str]]) -> None:
    """:func:`stop_group` for several groups at once (one STOP_SECONDS bound for all).

    The leaders are signalled first and given half the bound to stop what they started
    themselves (a Dagster webserver or daemon ends its threads, then its code servers:
    signalling the whole group at once shuts a code server under a daemon tick that is
    still querying it, which the daemon logs as a traceback); SIGTERM then goes to
    whatever else is left in each group, and SIGKILL at the bound.  A leader is asked
    once: one still stopping at half the bound (a daemon that has ended its threads and
    not yet exited, as clean-clone CI saw) would take a second SIGTERM as a
    KeyboardInterrupt in the middle of its own shutdown, and print its traceback."""
    members = {process.pid: len(group_members(process.pid)) or 1 for process, _ in groups}
    deadline = time.monotonic() + STOP_SECONDS
    for process, _ in groups:
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGTERM)
    _wait_until(lambda: all(p.poll() is not None for p, _ in groups), deadline - STOP_SECONDS / 2)
    for process, _ in groups:
        for pid in group_members(process.pid):
            if pid != process.pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
    if not _wait_until(
        lambda: all(p.poll() is not None and not group_members(p.pid) for p, _ in groups),
        deadline,
    ):
        _signal_groups(groups, signal.SIGKILL)
        # SIGKILL is delivered asynchronously: gone a moment later, not at once
        _wait_until(lambda: not any(group_members(p.pid) for p, _ in groups), time.monotonic() + 1)
    for process, what in groups:
        process.wait()
        count = members[process.pid]
        started = f" and {count - 1} process(es) it started" if count > 1 else ""
        note(f"{what} (pid {process.pid}){started}")


def _signal_groups(groups: list[tuple[subprocess.Popen[Any], str]], signum: int) -> None:
    for process, _ in groups:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signum)


def _wait_until(done: Callable[[], bool], deadline: float) -> bool:
    """Poll ``done`` every 0.1 s until it holds (True) or ``deadline`` passes (False)."""
    while not done():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
    return True

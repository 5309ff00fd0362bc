"""dbt commands run on a thread of the running Python process.

dagster-dbt runs every dbt command as ``subprocess.Popen([dbt, ...])`` and reads dbt's JSON
log lines from the child's stdout.  ``DbtThread`` gives it the same thing without a
second process: dbt's own ``dbtRunner`` runs on a thread of this process (where dbt is
already imported) and its console logger writes the very same JSON lines to a pipe that
dagster-dbt reads as the child's stdout.  Exit codes are dbt's (0 success, 1 failed
nodes, 2 error); SIGINT/SIGTERM become a ``KeyboardInterrupt`` in dbt's thread, which dbt
handles as it handles Ctrl-C (it cancels its queries and ends the command).

One process holds one dbt invocation at a time: dbt keeps its flags, event manager,
adapters and working directory in process-wide state.  While one command runs, a second
one is refused (``busy()``: ``floe.runtime.dbt.launch`` then forks or starts a process);
the environment dagster-dbt built for the command is put in ``os.environ`` for its
duration and the previous one restored afterwards, as is the working directory.  dbt's
paths (target, log, profiles) are made absolute, but relative paths inside the project
(a DuckDB file in profiles.yml) follow the working directory: nothing else in the
process may change it while dbt runs.  Each command starts as a fresh process would,
having warned of no deprecation yet; once dbt ends, what the end of its process would
release is released here: its event loggers, dbt-duckdb's open database, freed heap.

Compared with a child process, this saves dbt's import (a fresh interpreter) and the
memory of a second copy of everything dbt touches (a forked child's copy-on-write pages).
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import os
import signal
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Mapping, Sequence
from typing import IO, Any

from floe.runtime.dbt.fork import EXIT_ERROR, PopenLike, invoke_dbt

_ONE_DBT = threading.Lock()  # one dbt invocation per process (dbt's state is global)
_LIVE: weakref.WeakSet[DbtThread] = weakref.WeakSet()  # commands created here, for a stop


def _release_process_state() -> None:
    """What the end of a dbt process would release: dbt-duckdb keeps its database
    environment (and the open DuckDB file) in a class attribute for the life of the
    process; close it, so that the database can be opened again with another
    configuration (read-only, by the row counts and the lakehouse publication)."""
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    except ImportError:  # another adapter
        pass
    else:
        with DuckDBConnectionManager._LOCK:
            env = DuckDBConnectionManager._ENV
            DuckDBConnectionManager._ENV = None
            if env is not None:
                env.close()
    _trim_heap()


def _forget_deprecations() -> None:
    """dbt warns of each deprecation once per process: start each command as a fresh
    process starts, having warned of none (dbt's own test fixture does the same)."""
    from dbt.deprecations import reset_deprecations

    reset_deprecations()  # type: ignore[no-untyped-call]


def _release_event_loggers() -> None:
    """dbt's event manager outlives the command with loggers on the pipe (closed next):
    clear them, as dbt does for the same reason between its own in-process tests."""
    from dbt_common.events.event_manager_client import cleanup_event_logger

    cleanup_event_logger()


def _trim_heap() -> None:
    """Give what dbt freed back to the system (glibc keeps freed arenas otherwise)."""
    import gc

    gc.collect()
    with contextlib.suppress(OSError, AttributeError):  # not glibc
        ctypes.CDLL("libc.so.6").malloc_trim(0)


# dbt's paths that dagster-dbt passes relative to the project directory
_PATH_VARIABLES = ("DBT_TARGET_PATH", "DBT_LOG_PATH", "DBT_PROFILES_DIR", "DBT_PROJECT_DIR")


def _absolute(path: str | os.PathLike[str] | None) -> str | None:
    return None if path is None else os.path.abspath(path)


def _absolute_paths(
    env: Mapping[str, str] | None, cwd: str | os.PathLike[str] | None
) -> dict[str, str] | None:
    """``env`` with dbt's path variables made absolute against ``cwd`` (the directory the
    process would have started in), so that they do not depend on this process's."""
    if env is None:
        return None
    base = os.path.abspath(cwd) if cwd is not None else os.getcwd()
    return {
        key: os.path.join(base, value) if key in _PATH_VARIABLES and value else value
        for key, value in env.items()
    }


class DbtThread(PopenLike):
    """dbt on a thread of this process, as dagster-dbt's ``Popen``."""

    def __init__(
        self,
        args: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        **_: Any,  # stdout=PIPE, stderr=STDOUT: that is what the pipe below is
    ) -> None:
        if not _ONE_DBT.acquire(blocking=False):
            raise RuntimeError("a dbt command already runs in this process")
        try:
            from dbt.cli.main import dbtRunner  # noqa: F401  import before the thread starts

            self.args = list(args)
            self.pid = os.getpid()
            self.returncode: int | None = None
            read_fd, self._write_fd = os.pipe()
            self._stdout: IO[bytes] = os.fdopen(read_fd, "rb")
            self._done = threading.Event()
            self._start_lock = threading.Lock()
            self._signal_lock = threading.Lock()  # an interrupt only reaches dbt itself
            self._in_dbt = False
            self._interrupted = False
            self._thread = threading.Thread(
                target=self._run,
                args=(self.args[1:], self._write_fd, _absolute(cwd), _absolute_paths(env, cwd)),
                name=f"dbt {' '.join(self.args[1:2])}",
                daemon=True,
            )
            _LIVE.add(self)
        except BaseException:
            _ONE_DBT.release()
            raise

    def start(self) -> None:
        """Start dbt (once).  The caller starts it when it is done with the working
        directory: dagster-dbt creates the process inside ``pushd(project_dir)`` and
        changes back right after, which would pull the directory from under dbt."""
        with self._start_lock:
            if self._thread.ident is None and not self._done.is_set():
                self._thread.start()

    def abandon(self) -> None:
        """Never start: close the pipe and let another command run dbt here."""
        with self._start_lock:
            if self._thread.ident is not None or self._done.is_set():
                return
            os.close(self._write_fd)
            self._stdout.close()
            self.returncode = EXIT_ERROR
            self._done.set()
            _ONE_DBT.release()

    @property
    def stdout(self) -> IO[bytes]:
        self.start()
        return self._stdout

    def _run(
        self,
        dbt_args: list[str],
        write_fd: int,
        cwd: str | os.PathLike[str] | None,
        env: Mapping[str, str] | None,
    ) -> None:
        from dbt_common.events.functions import capture_stdout_logs, stop_capture_stdout_logs

        code = EXIT_ERROR
        out = io.TextIOWrapper(
            io.FileIO(write_fd, "w", closefd=True), encoding="utf-8", line_buffering=True
        )
        old_cwd, old_env = os.getcwd(), dict(os.environ)
        try:
            if cwd is not None:
                os.chdir(cwd)
            if env is not None:
                os.environ.clear()
                os.environ.update(env)
            capture_stdout_logs(out)  # dbt's console logger: JSON lines to the pipe
            _forget_deprecations()
            with self._signal_lock:
                self._in_dbt = not self._interrupted
            if self._in_dbt:
                try:
                    code = invoke_dbt(dbt_args, out)
                finally:
                    self._leave_dbt()
        except BaseException as exc:
            with contextlib.suppress(OSError, ValueError):
                out.write(f"dbt failed: {type(exc).__name__}: {exc}\n")
        finally:
            stop_capture_stdout_logs()
            _release_event_loggers()
            os.environ.clear()
            os.environ.update(old_env)
            with contextlib.suppress(OSError):
                os.chdir(old_cwd)
            with contextlib.suppress(OSError):
                out.close()  # the reader's end of file, as when a child exits
            try:
                _release_process_state()
            except Exception as exc:
                print(f"floe: releasing dbt's DuckDB environment failed: {exc}", file=sys.stderr)
            self.returncode = code
            self._done.set()
            _ONE_DBT.release()

    def _leave_dbt(self) -> None:
        with self._signal_lock:
            self._in_dbt = False
            if self._interrupted:  # not delivered yet: it must not hit the cleanup
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(self._ident()), None)

    def _ident(self) -> int:
        assert self._thread.ident is not None
        return self._thread.ident

    def poll(self) -> int | None:
        self.start()
        return self.returncode if self._done.is_set() else None

    def wait(self, timeout: float | None = None) -> int:
        self.start()
        if not self._done.wait(timeout):
            raise subprocess.TimeoutExpired(self.args, timeout or 0)
        assert self.returncode is not None
        return self.returncode

    def send_signal(self, sig: int) -> None:
        """Interrupt dbt as Ctrl-C would: a KeyboardInterrupt raised in its thread (any
        signal: dbt's thread cannot be killed, only interrupted).  Before dbt started,
        it never starts; after it ended, nothing happens."""
        with self._signal_lock:
            self._interrupted = True
            if self._in_dbt:
                ctypes.pythonapi.PyThreadState_SetAsyncExc(
                    ctypes.c_ulong(self._ident()), ctypes.py_object(KeyboardInterrupt)
                )


def stop_running(timeout: float) -> bool:
    """Interrupt the dbt command running on a thread here, if any, and wait for it to end
    (at most ``timeout`` seconds); whether none is left running.  A process must not exit
    while dbt's thread is inside DuckDB: the runtime would abort it."""
    running = [t for t in list(_LIVE) if t._thread.ident is not None and not t._done.is_set()]
    for command in running:
        command.send_signal(signal.SIGINT)
    deadline = time.monotonic() + timeout
    for command in running:
        command._done.wait(max(0.0, deadline - time.monotonic()))
    return all(command._done.is_set() for command in running)


def busy() -> bool:
    """Whether a dbt command runs on a thread of this process now."""
    return _ONE_DBT.locked()

"""dbt commands forked from the running Python process instead of a fresh interpreter.

dagster-dbt runs every dbt command as ``subprocess.Popen([dbt, ...])``: a new Python that
imports dbt-core and its adapter again (about 3 s per product on two cores, most of a
small project's ``dbt build``). When the executable is the ``dbt`` of this very
interpreter, ``ForkedDbt`` gives dagster-dbt the same thing as a child process forked
from this one, where dbt is already imported: the child changes to the project
directory, takes the environment dagster-dbt built, writes dbt's JSON log lines to the
pipe dagster-dbt reads and exits with dbt's exit code (0 success, 1 failed nodes,
2 error). It is still a separate process (its own pid, signals, working directory and
globals; a crash in dbt cannot take the Dagster step with it), so dagster-dbt's event
stream, cancellation and error handling are unchanged.

Forking is only safe while no native thread pool lives in this process: a child gets
the pool's state but none of its threads, and waits for them forever (dbt's static
parser, dbt_extractor, uses a rayon pool that a process which ran dbt parsing in-process
keeps).  So dbt forks only when every other thread of the process is a Python thread
(idle executors, whose locks dbt never takes) or jemalloc's background thread (which
handles fork itself); otherwise it starts as a plain subprocess.

``floe.runtime.dbt.launch`` chooses between a thread (``floe.runtime.dbt.thread``), this
fork and a plain subprocess for each command.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

# dbt's own exit codes (dbt.cli.main): success, a node failed, dbt itself failed
EXIT_SUCCESS, EXIT_NODE_FAILURE, EXIT_ERROR = 0, 1, 2


def own_dbt_executable() -> Path:
    """The ``dbt`` script installed beside this interpreter."""
    return Path(sys.executable).parent / "dbt"


FORK_SAFE_NATIVE_THREADS = {"jemalloc_bg_thd"}  # jemalloc re-initialises itself at fork


def native_threads() -> list[str] | None:
    """Names of this process's threads that Python did not start (None: cannot tell)."""
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return None
    python = {t.native_id for t in threading.enumerate()}
    names = []
    for task in tasks:
        if int(task) in python:
            continue
        try:
            with open(f"/proc/self/task/{task}/comm", encoding="utf-8") as handle:
                names.append(handle.read().strip())
        except OSError:  # the thread ended meanwhile
            continue
    return names


def fork_safe() -> bool:
    """No native thread pool (other than jemalloc's) runs in this process."""
    names = native_threads()
    return names is not None and all(n in FORK_SAFE_NATIVE_THREADS for n in names)


class PopenLike:
    """The part of ``subprocess.Popen`` dagster-dbt uses: args, stdout, pid, returncode,
    poll, wait, send_signal, terminate, kill (the last two are signals, as in Popen)."""

    def send_signal(self, sig: int) -> None:
        raise NotImplementedError

    def terminate(self) -> None:
        import signal

        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        import signal

        self.send_signal(signal.SIGKILL)


class ForkedDbt(PopenLike):
    """dbt forked from this process, as dagster-dbt's ``Popen``."""

    def __init__(
        self,
        args: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        **_: Any,  # stdout=PIPE, stderr=STDOUT: that is what the pipe below is
    ) -> None:
        from dbt.cli.main import dbtRunner  # noqa: F401  import once here, not per child

        if not fork_safe():
            raise RuntimeError(
                f"not safe to fork dbt: native threads {native_threads()} run in this process"
            )
        self.args = list(args)
        self.returncode: int | None = None
        read_fd, write_fd = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child never returns (coverage cannot see it)
            os.close(read_fd)
            _run_child(self.args[1:], write_fd, cwd, env)
        os.close(write_fd)
        self.pid = pid
        self.stdout: IO[bytes] = os.fdopen(read_fd, "rb")

    def poll(self) -> int | None:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is not None:
            return self.returncode
        if timeout is None:
            _, status = os.waitpid(self.pid, 0)
            self.returncode = os.waitstatus_to_exitcode(status)
            return self.returncode
        deadline = time.monotonic() + timeout
        while self.poll() is None:
            if time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(self.args, timeout)
            time.sleep(0.05)
        assert self.returncode is not None
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, sig)


def invoke_dbt(dbt_args: list[str], report: IO[str]) -> int:
    """Run one dbt command with dbt's own runner; dbt's exit code (an error that is no
    failed node is written to ``report``, as dbt's CLI prints it)."""
    from dbt.cli.main import dbtRunner

    result = dbtRunner().invoke(dbt_args)
    if result.success:
        return EXIT_SUCCESS
    if result.exception is None:
        return EXIT_NODE_FAILURE
    print(f"dbt failed: {result.exception}", file=report)
    return EXIT_ERROR


def _run_child(
    dbt_args: list[str],
    write_fd: int,
    cwd: str | os.PathLike[str] | None,
    env: Mapping[str, str] | None,
) -> None:  # pragma: no cover - runs in the forked child only
    """Run dbt in the forked child and leave with its exit code (never returns)."""
    code = EXIT_ERROR
    try:
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(write_fd, 1)
        os.dup2(write_fd, 2)
        os.close(null)
        os.close(write_fd)
        sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115
        sys.stdout = io.TextIOWrapper(
            io.FileIO(1, "w", closefd=False), encoding="utf-8", line_buffering=True
        )
        sys.stderr = io.TextIOWrapper(
            io.FileIO(2, "w", closefd=False), encoding="utf-8", line_buffering=True
        )
        import gc

        gc.freeze()  # the inherited heap: collections in the child skip it (no copy-on-write)
        if cwd is not None:
            os.chdir(cwd)
        if env is not None:
            os.environ.clear()
            os.environ.update(env)
        code = invoke_dbt(dbt_args, sys.stderr)
    except BaseException:
        traceback.print_exc()
    finally:
        try:
            # what a normal interpreter exit does: multiprocessing's finalizers release
            # the semaphores dbt made (else its resource tracker reports them leaked)
            from multiprocessing import util

            util._exit_function()  # type: ignore[attr-defined]
        except BaseException:
            pass
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)

"""How the dbt commands of the generated definitions start.

dagster-dbt starts every dbt command as ``subprocess.Popen([dbt, ...])``: a fresh Python
that imports dbt-core and its adapter again (about 3 s per product on two cores) and
holds a second copy of everything dbt needs in memory.  While ``dbt_started_here()`` is
open, a ``Popen`` of this interpreter's own ``dbt`` starts, in order of preference:

* ``thread``: dbt's ``dbtRunner`` on a thread of this process (``dbt_thread``), if no
  other dbt command runs in the process;
* ``fork``: a child forked from this process (``dbt_fork``), if no native thread pool
  runs in it;
* ``subprocess``: what dagster-dbt starts itself.

``FLOE_DBT_RUNNER`` chooses the first one tried (``thread``, the default; ``fork``; or
``subprocess``, which turns all of this off).  Any other executable than this
interpreter's ``dbt`` always starts as a subprocess.  All three give dagster-dbt the same
command line, JSON event stream, exit codes (0, 1, 2) and cancellation.
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

from floe.errors import FloeError

RUNNER_SWITCH = "FLOE_DBT_RUNNER"
RUNNERS = ("thread", "fork", "subprocess")
_PATCH_LOCK = threading.Lock()


def chosen_runner(environ: Mapping[str, str] | None = None) -> str:
    """The runner ``FLOE_DBT_RUNNER`` asks for (``thread`` when unset)."""
    environ = os.environ if environ is None else environ
    value = environ.get(RUNNER_SWITCH, "").strip().lower() or RUNNERS[0]
    if value not in RUNNERS:
        raise FloeError(
            f"{RUNNER_SWITCH}={value!r} is not a dbt runner",
            hint=f"use one of {', '.join(RUNNERS)} (thread is the default)",
        )
    return value


def _is_own_dbt(executable: str) -> bool:
    from floe.runtime.dbt.fork import own_dbt_executable

    try:
        return Path(executable).resolve() == own_dbt_executable().resolve()
    except OSError:
        return False


def runner_for(executable: str, environ: Mapping[str, str] | None = None) -> str:
    """How a command of ``executable`` starts now: thread, fork or subprocess."""
    from floe.runtime.dbt import fork as dbt_fork
    from floe.runtime.dbt import thread as dbt_thread

    wanted = chosen_runner(environ)
    if wanted == "subprocess" or not _is_own_dbt(executable):
        return "subprocess"
    if wanted == "thread" and not dbt_thread.busy():
        return "thread"
    if hasattr(os, "fork") and dbt_fork.fork_safe():
        return "fork"
    return "subprocess"


class _SubprocessWithDbtHere(ModuleType):
    """``subprocess`` as dagster-dbt's invocation module sees it while a command starts:
    ``Popen`` of this interpreter's dbt runs here; everything else is the real module."""

    def __init__(self) -> None:
        super().__init__("subprocess")
        self.threads: list[Any] = []  # the DbtThreads made while patched

    def abandon(self) -> None:
        """Give up every DbtThread made here that never started."""
        for thread in self.threads:
            thread.abandon()

    def __getattr__(self, name: str) -> Any:
        return getattr(subprocess, name)

    def Popen(self, args: Sequence[str], **kwargs: Any) -> Any:
        if not args:
            return subprocess.Popen(args, **kwargs)
        runner = runner_for(str(args[0]), kwargs.get("env"))
        if runner == "thread":
            from floe.runtime.dbt.thread import DbtThread

            self.threads.append(DbtThread(args, **kwargs))
            return self.threads[-1]
        if runner == "fork":
            from floe.runtime.dbt.fork import ForkedDbt

            return ForkedDbt(args, **kwargs)
        return subprocess.Popen(args, **kwargs)


@contextmanager
def dbt_started_here() -> Iterator[None]:
    """While this is open, dagster-dbt runs this interpreter's dbt in this process (a
    thread) or a fork of it; a ``DbtThread`` starts when the caller calls ``start()`` or
    first reads its output."""
    from dagster_dbt.core import dbt_cli_invocation

    patched = _SubprocessWithDbtHere()
    with _PATCH_LOCK:
        real = getattr(dbt_cli_invocation, "subprocess")  # noqa: B009 - not exported
        setattr(dbt_cli_invocation, "subprocess", patched)  # noqa: B010
        try:
            yield
        except BaseException:
            patched.abandon()  # dagster-dbt failed after "starting" dbt: nothing will read it
            raise
        finally:
            setattr(dbt_cli_invocation, "subprocess", real)  # noqa: B010

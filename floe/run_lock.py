"""The per-product run lock (issue 25 point 3, issue 28 points 2 and 6): one floe run of
a product at a time (its DuckDB file takes one writer), and no compile of a product while
it runs (a compile rewrites dbt's target/ and the definitions the run is using).

An advisory ``flock`` on ``<product>/target/.floe-run.lock``: the kernel releases it when
its holder ends however it ends, so a killed run never leaves a lock to clean up; the
file names the holder (pid, then what it is) while it runs and is emptied when the run
ends, so a pid left in it is a run that was killed, said when the next run takes the lock
over.  A run Dagster starts itself (the UI of floe dev, a schedule) takes the same lock
for its whole run (:func:`build_lock`, through floe.runtime.lock), so `floe run` and the
UI never build or publish one product's DuckDB file at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from floe.atomic import pid_alive
from floe.errors import FloeError, Location

RUN_LOCK = Path("target") / ".floe-run.lock"


class ProductBusy(FloeError):
    """Another floe process is running the product."""

    code = "FLOE601"
    exit_code = 9


FLOE_RUN = "a floe run"


def _holder(text: str) -> tuple[str, str]:
    """(pid, what) from the lock file's line ("?" and "a floe run" when unsaid)."""
    pid, _, what = text.strip().partition(" ")
    return pid or "?", what or FLOE_RUN


def _ancestors() -> set[int]:
    """This process and its parents (a floe run's workers run under its lock)."""
    out, pid = set(), os.getpid()
    while pid > 1 and pid not in out:
        out.add(pid)
        try:
            with open(f"/proc/{pid}/stat", encoding="utf-8") as stat:
                pid = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return out


def _alive(pid: str) -> bool:
    return pid.isdigit() and pid_alive(int(pid))


@contextlib.contextmanager
def run_lock(
    product_dir: Path, progress: Callable[[str], Any], what: str = FLOE_RUN
) -> Iterator[None]:
    """Hold the product's run lock; a second run waits for the first, saying whose run."""
    path = product_dir / RUN_LOCK
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            pid, what = _holder(handle.read())
            what = "another floe run" if what == FLOE_RUN else what
            progress(
                f"{product_dir.name}: {what} (pid {pid}) is running it; waiting for it to finish"
            )
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        handle.seek(0)
        left = _holder(handle.read())[0]
        if left != "?" and left != str(os.getpid()) and not _alive(left):
            progress(
                f"{product_dir.name}: took over the run lock of pid {left}, which ended "
                "without releasing it (killed); its run published nothing after that"
            )
        with _held(handle, what):
            yield


@contextlib.contextmanager
def _held(handle: Any, what: str) -> Iterator[None]:
    """With the flock taken: name this process as the holder; on the way out, empty the
    file (a pid left in it means a killed holder) and release."""
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()} {what}\n")
        handle.flush()
        yield
    finally:
        handle.seek(0)
        handle.truncate()
        handle.flush()
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


@contextlib.contextmanager
def build_lock(product_dir: Path, what: str) -> Iterator[None]:
    """The run lock around a run Dagster started (``what`` names it: "a Dagster run
    (abc12345)"), refused naming the holder when another process runs the product; a
    no-op under a floe run's own lock (held by this process or one of its parents)."""
    path = product_dir / RUN_LOCK
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+") as handle:
        handle.seek(0)
        pid, _ = _holder(handle.read())
        if pid.isdigit() and int(pid) in _ancestors():
            yield
            return
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            raise _busy(
                handle, product_dir, "running it now too", "run again when it has finished"
            ) from None
        with _held(handle, what):
            yield


def _busy(handle: Any, product_dir: Path, doing: str, hint: str) -> ProductBusy:
    """ProductBusy naming the lock's holder (read from ``handle``)."""
    pid, holder = _holder(handle.read())
    return ProductBusy(
        f"{holder} (pid {pid}) is running {product_dir.name}; {doing} would change its "
        "DuckDB file, dbt target/ and definitions under it",
        Location(product_dir),
        hint=f"{hint}, or stop it (kill {pid})",
    )


def refuse_while_running(product_dir: Path, what: str) -> None:
    """ProductBusy naming the run's pid when a floe run holds the product's lock."""
    path = product_dir / RUN_LOCK
    if not path.is_file():
        return
    with path.open("r") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            raise _busy(handle, product_dir, f"{what} now", "wait for it to finish") from None
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

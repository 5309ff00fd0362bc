"""The per-product run lock (issue 25 point 3, issue 28 points 2 and 6): one floe run of
a product at a time (its DuckDB file takes one writer), and no compile of a product while
it runs (a compile rewrites dbt's target/ and the definitions the run is using).

An advisory ``flock`` on ``<product>/target/.floe-run.lock``: the kernel releases it when
its holder ends however it ends, so a killed run never leaves a lock to clean up; the
file names the holder's pid while it runs and is emptied when the run ends, so a pid
left in it is a run that was killed, said when the next run takes the lock over.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from floe.errors import FloeError, Location

RUN_LOCK = Path("target") / ".floe-run.lock"


class ProductBusy(FloeError):
    """Another floe process is running the product."""

    code = "FLOE601"
    exit_code = 9


def _alive(pid: str) -> bool:
    if not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def run_lock(product_dir: Path, progress: Callable[[str], Any]) -> Iterator[None]:
    """Hold the product's run lock; a second run waits for the first, saying whose run."""
    path = product_dir / RUN_LOCK
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "?"
            progress(
                f"{product_dir.name}: another floe run (pid {holder}) is running it; "
                "waiting for it to finish"
            )
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        handle.seek(0)
        left = handle.read().strip()
        if left and left != str(os.getpid()) and not _alive(left):
            progress(
                f"{product_dir.name}: took over the run lock of pid {left}, which ended "
                "without releasing it (killed); its run published nothing after that"
            )
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            handle.flush()
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def refuse_while_running(product_dir: Path, what: str) -> None:
    """ProductBusy naming the run's pid when a floe run holds the product's lock."""
    path = product_dir / RUN_LOCK
    if not path.is_file():
        return
    with path.open("r") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = handle.read().strip() or "?"
            raise ProductBusy(
                f"a floe run (pid {holder}) is running {product_dir.name}; {what} now would "
                "change its dbt target/ and definitions under it",
                Location(product_dir),
                hint=f"wait for it to finish, or stop it (kill {holder})",
            ) from None
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

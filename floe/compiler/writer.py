"""Atomic output: a file is either its old self or its complete new self, never half."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

from floe.atomic import write_atomic, write_error

__all__ = ["exclusive_lock", "temporary_dir", "write_all_atomic", "write_atomic"]


def write_all_atomic(files: Mapping[Path, str]) -> None:
    """Write several files; each is replaced atomically, in a stable order."""
    for path in sorted(files, key=str):
        write_atomic(path, files[path])


@contextlib.contextmanager
def exclusive_lock(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``lock_path`` (waits for other holders).

    One product compiles at a time: dbt's target/ and the generated files are written by
    one process only, so concurrent compiles of a product never interleave their output.
    """
    import fcntl

    try:
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        handle = lock_path.open("a")
    except OSError as exc:
        raise write_error(lock_path, exc) from exc
    with handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


@contextlib.contextmanager
def temporary_dir(prefix: str = "floe-") -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix=prefix) as name:
        yield Path(name)

"""Atomic output: a file is either its old self or its complete new self, never half."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

from floe.errors import Location, OutputError


def _new_file_mode(path: Path) -> int:
    """The mode a plain ``open(path, "w")`` would give: an existing file keeps its mode, a
    new one gets 0o666 less the umask (mkstemp alone would leave 0o600, unreadable to the
    image's run user or any reader other than the owner)."""
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        mask = os.umask(0o022)
        os.umask(mask)
        return 0o666 & ~mask


def write_atomic(path: Path, content: str) -> None:
    """Write ``content`` to ``path`` through a temp file in the same dir + ``os.replace``."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise OutputError(f"cannot write {path.name}: {exc}", Location(path)) from exc
    try:
        os.fchmod(fd, _new_file_mode(path))
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise OutputError(f"cannot write {path.name}: {exc}", Location(path)) from exc
        raise


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

    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


@contextlib.contextmanager
def temporary_dir(prefix: str = "floe-") -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix=prefix) as name:
        yield Path(name)

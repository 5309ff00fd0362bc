"""Atomic output: a file is either its old self or its complete new self, never half."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

from floe.errors import Location, OutputError


def write_atomic(path: Path, content: str) -> None:
    """Write ``content`` to ``path`` through a temp file in the same dir + ``os.replace``."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise OutputError(f"cannot write {path.name}: {exc}", Location(path)) from exc
    try:
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
def temporary_dir(prefix: str = "floe-") -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix=prefix) as name:
        yield Path(name)

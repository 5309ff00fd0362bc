"""Atomic file writes, shared by the compiler and the runtime: a file is either its old
self or its complete new self, never half; a temp file a killed writer left is removed by
the next write of the same file."""

from __future__ import annotations

import contextlib
import glob
import os
import tempfile
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


def _temp_prefix(path: Path, pid: int) -> str:
    return f".{path.name}.{pid}."


def sweep_temps(path: Path) -> list[Path]:
    """Remove the temp files of ``path`` that a killed writer left (the pid in their name
    is gone); returns them.  A live writer's temp file is never touched."""
    removed = []
    for temp in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        owner = temp.name[len(path.name) + 2 :].split(".", 1)[0]
        if owner.isdigit() and not pid_alive(int(owner)):
            with contextlib.suppress(OSError):
                temp.unlink()
                removed.append(temp)
    return removed


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists (one of another user's counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def write_error(path: Path, exc: OSError) -> OutputError:
    """The located error for a failed write: a full or read-only disk named as such."""
    from floe.disk import disk_error

    return disk_error(exc, path, path.name) or OutputError(
        f"cannot write {path.name}: {exc}", Location(path)
    )


def write_atomic(path: Path, content: str) -> None:
    """Write ``content`` to ``path`` through a temp file in the same dir + ``os.replace``.

    The temp file's name carries this process's pid, so one left by a killed writer is
    recognised and removed by the next write of the same file (issue 28 point 2); a full
    or read-only disk leaves the previous file and no temp file (point 3).
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        sweep_temps(path)
        fd, tmp = tempfile.mkstemp(
            prefix=_temp_prefix(path, os.getpid()), suffix=".tmp", dir=path.parent
        )
    except OSError as exc:
        raise write_error(path, exc) from exc
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
            raise write_error(path, exc) from exc
        raise

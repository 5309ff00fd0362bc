"""Full and read-only disks (issue 28 point 3): recognise them in whatever error a writer
raised (Python's OSError, pyarrow's, dbt's) and say which path and what was being written.
"""

from __future__ import annotations

import errno
from pathlib import Path

from floe.errors import Location, OutputError

PROBLEMS = {
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "read-only file system",
}
# pyarrow and DuckDB raise OSError/IOException without errno, naming the cause in text
_TEXTS = {
    "no space left on device": errno.ENOSPC,
    "disk quota exceeded": errno.EDQUOT,
    "read-only file system": errno.EROFS,
}


def disk_errno(exc: BaseException | None) -> int | None:
    """ENOSPC, EDQUOT or EROFS when ``exc`` (or what caused it) is one; else None."""
    seen = 0
    while exc is not None and seen < 8:
        number = getattr(exc, "errno", None)
        if number in PROBLEMS:
            return int(number)
        text = str(exc).lower()
        for needle, found in _TEXTS.items():
            if needle in text:
                return found
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return None


def disk_path(exc: BaseException, default: Path, cwd: Path) -> Path:
    """The file the failed call named (a relative name against ``cwd``, where the writer
    ran), or ``default``."""
    name = getattr(exc, "filename", None)
    return cwd / str(name) if name else default


def disk_error(exc: BaseException, path: Path, what: str) -> OutputError | None:
    """The error to report when ``exc`` is a full or read-only disk while writing ``what``
    at ``path``; None when it is something else."""
    number = disk_errno(exc)
    if number is None:
        return None
    if number == errno.EROFS:
        hint = "make it writable (or point floe elsewhere) and run again"
    else:
        hint = f"free space there (df -h {path.parent}) and run again"
    return OutputError(
        f"cannot write {what} ({path}): {PROBLEMS[number]}",
        Location(path),
        hint=f"{hint}; floe's previous outputs are kept, no temporary file is left",
    )

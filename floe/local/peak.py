"""A product's peak memory in a local run, against the memory limit its run pod gets in
the cluster (issue 27 point 2: the manifest's and floe.yaml's run resources bound what a
product may use; a local run says when a product would not fit).

The figure is the resident high-water mark of the process that ran the product (dbt runs
on its thread there, DuckDB in it): Linux resets the mark when ``5`` is written to
``/proc/self/clear_refs`` and reports it as ``VmHWM`` in ``/proc/self/status``.  A run
pod's container also counts the page cache it dirties, so the local figure is a floor of
what the pod uses, not a ceiling.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from floe.schemas.quantity import parse_quantity

CLEAR_REFS = Path("/proc/self/clear_refs")
STATUS = Path("/proc/self/status")
MIB = 1024 * 1024


def reset_peak() -> bool:
    """Start a new high-water mark for this process (False where Linux does not allow
    it: the peak read later then covers the process's whole life)."""
    with contextlib.suppress(OSError):
        CLEAR_REFS.write_text("5", encoding="ascii")
        return True
    return False


def peak_bytes() -> int | None:
    """This process's resident high-water mark (None: not on Linux)."""
    with contextlib.suppress(OSError):
        for line in STATUS.read_text(encoding="ascii").splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return None


def _size(count: float) -> str:
    return f"{count / 1024 / MIB:.1f} GiB" if count >= 1024 * MIB else f"{count / MIB:.0f} MiB"


def memory_line(peak: int | None, limit: str | None) -> str | None:
    """The run summary's memory line: the peak, and where a limit is compiled for the
    product's run pod, how it compares (above it: the pod would be OOM-killed)."""
    if peak is None:
        return None
    if limit is None:
        return f"peak {_size(peak)} resident"
    most = int(parse_quantity(limit))
    if most > 0 and peak <= most:
        return f"peak {_size(peak)} resident, {peak / most:.0%} of its run pod's {limit} limit"
    return (
        f"WARNING peak {_size(peak)} resident, above its run pod's {limit} memory limit: in "
        "the cluster this run would be OOM-killed (floe.yaml runs: resources: limits.memory "
        "asks for more, up to the manifest's max_resources)"
    )

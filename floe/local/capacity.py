"""How many products compile or run at once when ``-j`` is not given.

The CPUs this process may use: its affinity, and a cgroup CPU quota where one is set (a
container limited to 2 CPUs on a 64-CPU host sees 64 in its affinity).  A run's workers
are also bounded by the memory this process may still use: each holds Dagster, dbt and
the Iceberg writer at once (``benchmarks/run_path.py`` measures it), and a run that
starts more of them than memory holds is killed rather than slowed.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC_CGROUP = Path("/proc/self/cgroup")
MEMINFO = Path("/proc/meminfo")
# benchmarks/run_path.py on the demo: about 250 MiB of PSS per worker, and 170 MiB for
# the forkserver's shared imports and the main process; with headroom for larger projects
WORKER_MIB = 350
SHARED_MIB = 200
_NO_LIMIT = 1 << 60  # cgroup v1 writes "no limit" as a number near 2**63


@dataclass(frozen=True)
class Capacity:
    cpus: int
    memory_mib: int | None  # what this process may still use; None: not known


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError:
        return None


def _cgroup_dirs(controller: str, root: Path, proc_cgroup: Path) -> list[Path]:
    """Where this process's cgroup files for ``controller`` may be (v1 or v2, with or
    without a cgroup namespace), most specific first."""
    found: list[Path] = []
    for line in (_read(proc_cgroup) or "").splitlines():
        _, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        relative = path.lstrip("/")
        if controllers == "":  # v2: unified hierarchy
            bases = [root, root / "unified"]
        elif controller in controllers.split(","):
            bases = [root / controllers, root / controller]
        else:
            continue
        for base in bases:
            found += [base / relative, base] if relative else [base]
    return [d for d in dict.fromkeys(found) if d.is_dir()]


def _stat(directory: Path, key: str) -> int:
    for line in (_read(directory / "memory.stat") or "").splitlines():
        name, _, value = line.partition(" ")
        if name == key and value.strip().isdigit():
            return int(value)
    return 0


def cgroup_cpus(root: Path = CGROUP_ROOT, proc_cgroup: Path = PROC_CGROUP) -> float | None:
    """The CPU quota of this process's cgroup in CPUs (None: no quota)."""
    for directory in _cgroup_dirs("cpu", root, proc_cgroup):
        v2 = _read(directory / "cpu.max")
        if v2 is not None:
            quota, _, period = v2.partition(" ")
            if quota != "max" and quota.isdigit() and period.strip().isdigit():
                return int(quota) / int(period)
            return None
        quota_us, period_us = (
            _read(directory / "cpu.cfs_quota_us"),
            _read(directory / "cpu.cfs_period_us"),
        )
        if quota_us is not None and period_us is not None:
            if quota_us.isdigit() and period_us.isdigit() and int(period_us) > 0:
                return int(quota_us) / int(period_us)
            return None  # -1: no quota
    return None


def cgroup_memory_mib(root: Path = CGROUP_ROOT, proc_cgroup: Path = PROC_CGROUP) -> int | None:
    """Memory this process's cgroup may still use: its limit less its working set (usage
    less the reclaimable inactive page cache, as the kubelet counts it); None: no limit."""
    for directory in _cgroup_dirs("memory", root, proc_cgroup):
        for limit_file, usage_file, inactive in (
            ("memory.max", "memory.current", "inactive_file"),  # v2
            ("memory.limit_in_bytes", "memory.usage_in_bytes", "total_inactive_file"),  # v1
        ):
            limit, usage = _read(directory / limit_file), _read(directory / usage_file)
            if limit is None or usage is None:
                continue
            if not limit.isdigit() or int(limit) >= _NO_LIMIT or not usage.isdigit():
                return None
            working = max(0, int(usage) - _stat(directory, inactive))
            return max(0, int(limit) - working) // (1024 * 1024)
    return None


def available_memory_mib(meminfo: Path = MEMINFO) -> int | None:
    """The kernel's estimate of memory available without swapping (MemAvailable)."""
    for line in (_read(meminfo) or "").splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) // 1024
    return None


def usable_cpus() -> int:
    """The CPUs this process may use: its affinity, lowered to a cgroup CPU quota."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    quota = cgroup_cpus()
    if quota is not None:
        cpus = min(cpus, math.ceil(quota))
    return max(1, cpus)


def current_capacity() -> Capacity:
    known = [m for m in (available_memory_mib(), cgroup_memory_mib()) if m is not None]
    return Capacity(usable_cpus(), min(known) if known else None)


def run_workers(
    products: int, jobs: int | None, capacity: Capacity | None = None
) -> tuple[int, str | None]:
    """Workers for a run of ``products``: ``jobs`` when given; else one per CPU, no more
    than memory holds.  The second value says why memory lowered the count (else None)."""
    if jobs is not None:
        return max(1, min(jobs, products)), None
    capacity = capacity or current_capacity()
    workers = max(1, min(capacity.cpus, products))
    if capacity.memory_mib is None:
        return workers, None
    fits = max(1, (capacity.memory_mib - SHARED_MIB) // WORKER_MIB)
    if fits >= workers:
        return workers, None
    return fits, (
        f"{capacity.memory_mib} MiB of memory available holds {fits} worker(s) of about "
        f"{WORKER_MIB} MiB, not {workers}; -j N chooses"
    )

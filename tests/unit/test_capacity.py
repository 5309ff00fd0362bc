"""Issue 15: without -j, products run one per CPU the process may use (a cgroup CPU quota
included) and no more at once than the memory it may still use holds."""

from __future__ import annotations

from pathlib import Path

import pytest

from floe.local.capacity import (
    SHARED_MIB,
    WORKER_MIB,
    Capacity,
    available_memory_mib,
    cgroup_cpus,
    cgroup_memory_mib,
    run_workers,
    usable_cpus,
)

MIB = 1024 * 1024


def _tree(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def _proc_cgroup(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "proc-self-cgroup"
    path.write_text(text)
    return path


def test_cgroup_v2_quota_and_memory_limit_of_this_process_cgroup(tmp_path: Path) -> None:
    root = tmp_path / "cgroup"
    _tree(
        root,
        {
            "kubepods/pod1/cpu.max": "150000 100000\n",
            "kubepods/pod1/memory.max": f"{2048 * MIB}\n",
            "kubepods/pod1/memory.current": f"{700 * MIB}\n",
            "kubepods/pod1/memory.stat": f"anon 1\ninactive_file {200 * MIB}\n",
        },
    )
    proc = _proc_cgroup(tmp_path, "0::/kubepods/pod1\n")
    assert cgroup_cpus(root, proc) == 1.5
    # limit 2048 less the working set (700 used, 200 of it reclaimable page cache)
    assert cgroup_memory_mib(root, proc) == 2048 - 500


def test_cgroup_v2_without_limits_reports_none(tmp_path: Path) -> None:
    root = tmp_path / "cgroup"
    _tree(root, {"cpu.max": "max 100000\n", "memory.max": "max\n", "memory.current": "5\n"})
    proc = _proc_cgroup(tmp_path, "0::/\n")
    assert cgroup_cpus(root, proc) is None
    assert cgroup_memory_mib(root, proc) is None


def test_cgroup_v1_in_a_namespaced_container(tmp_path: Path) -> None:
    """/proc/self/cgroup names a host path the container does not see: the controller's
    own mount is this process's cgroup."""
    root = tmp_path / "cgroup"
    _tree(
        root,
        {
            "cpu,cpuacct/cpu.cfs_quota_us": "200000\n",
            "cpu,cpuacct/cpu.cfs_period_us": "100000\n",
            "memory/memory.limit_in_bytes": f"{1024 * MIB}\n",
            "memory/memory.usage_in_bytes": f"{300 * MIB}\n",
            "memory/memory.stat": f"cache 1\ntotal_inactive_file {100 * MIB}\n",
        },
    )
    proc = _proc_cgroup(tmp_path, "4:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n0::/\n")
    assert cgroup_cpus(root, proc) == 2.0
    assert cgroup_memory_mib(root, proc) == 1024 - 200


def test_cgroup_v1_without_limits_reports_none(tmp_path: Path) -> None:
    root = tmp_path / "cgroup"
    _tree(
        root,
        {
            "cpu/cpu.cfs_quota_us": "-1\n",
            "cpu/cpu.cfs_period_us": "100000\n",
            "memory/memory.limit_in_bytes": "9223372036854771712\n",
            "memory/memory.usage_in_bytes": "5\n",
        },
    )
    proc = _proc_cgroup(tmp_path, "4:memory:/\n1:cpu:/\n")
    assert cgroup_cpus(root, proc) is None
    assert cgroup_memory_mib(root, proc) is None


def test_no_cgroup_files_at_all(tmp_path: Path) -> None:
    proc = _proc_cgroup(tmp_path, "")
    assert cgroup_cpus(tmp_path / "missing", proc) is None
    assert cgroup_memory_mib(tmp_path / "missing", proc) is None


def test_meminfo_available(tmp_path: Path) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal: 8000000 kB\nMemFree: 100 kB\nMemAvailable: 2097152 kB\n")
    assert available_memory_mib(meminfo) == 2048
    assert available_memory_mib(tmp_path / "missing") is None


def test_this_machine_cpus_are_a_positive_count_within_the_affinity() -> None:
    import os

    assert 1 <= usable_cpus() <= len(os.sched_getaffinity(0))


@pytest.mark.parametrize(
    ("products", "jobs", "capacity", "expected"),
    [
        (3, None, Capacity(cpus=2, memory_mib=None), 2),  # one per CPU
        (1, None, Capacity(cpus=8, memory_mib=None), 1),  # never more than products
        (3, None, Capacity(cpus=2, memory_mib=64 * 1024), 2),  # plenty of memory
        (3, 5, Capacity(cpus=1, memory_mib=10), 3),  # -j is the user's choice
    ],
)
def test_workers_one_per_cpu_bounded_by_products_and_jobs(
    products: int, jobs: int | None, capacity: Capacity, expected: int
) -> None:
    assert run_workers(products, jobs, capacity) == (expected, None)


def test_memory_lowers_the_default_and_says_so() -> None:
    memory = SHARED_MIB + 2 * WORKER_MIB + WORKER_MIB // 2  # room for two workers
    workers, why = run_workers(8, None, Capacity(cpus=8, memory_mib=memory))
    assert workers == 2
    assert why is not None and f"{memory} MiB" in why and "-j N" in why
    # too little for even one: one worker still runs (the run may fail, it is not refused)
    assert run_workers(8, None, Capacity(cpus=8, memory_mib=50))[0] == 1


def test_run_all_runs_one_at_a_time_when_memory_holds_one_and_says_why(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from floe.local import capacity, run

    ran: list[str] = []

    def fake_run_product(product_dir: Path, **_options: object) -> run.ProductRun:
        ran.append(product_dir.name)
        return run.ProductRun(product_dir.name, True, {}, 0, 0, 0.1, "-", "-")

    monkeypatch.setattr(capacity, "current_capacity", lambda: Capacity(cpus=4, memory_mib=400))
    monkeypatch.setattr(run, "run_product", fake_run_product)
    lines: list[str] = []
    products = [tmp_path / "a", tmp_path / "b"]
    runs = run.run_all(products, progress=lines.append)
    assert [r.name for r in runs] == ["a", "b"] and ran == ["a", "b"]
    assert lines[0].startswith("running 1 product(s) at a time: 400 MiB of memory available")
    assert not any("worker(s):" in line for line in lines)  # no process pool was started

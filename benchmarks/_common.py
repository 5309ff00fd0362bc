"""Helpers shared by the benchmark scripts: timing subprocesses on temporary demo copies."""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "demo"
BIN = Path(sys.executable).parent
GENERATED = ("target", "logs", "profiles.yml", "compiled_artifacts.json", "definitions.py")


def fresh_demo(dest: Path) -> Path:
    """A copy of demo/ without generated files (a fresh clone)."""
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(DEMO, dest, ignore=shutil.ignore_patterns(*GENERATED, ".floe", "__pycache__"))
    return dest


def timed(argv: list[str], cwd: Path | None = None) -> float:
    """Wall seconds of one command; fails loudly if the command fails."""
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"failed: {' '.join(argv)}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return elapsed


def median_of(argv: list[str], runs: int, cwd: Path | None = None) -> float:
    return statistics.median(timed(argv, cwd) for _ in range(runs))


IMPORT_PROBE = """
import importlib.util, sys, time
start = time.perf_counter()
if sys.argv[1] == "bare":
    import dagster, dagster_dbt  # noqa
else:
    spec = importlib.util.spec_from_file_location("defs_probe", sys.argv[1])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.defs is not None
print(time.perf_counter() - start)
"""


def import_seconds(target: str, runs: int = 5) -> float:
    """Median seconds to import ``target`` (a definitions.py path, or 'bare') in a fresh
    interpreter."""
    samples = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", IMPORT_PROBE, target], capture_output=True, text=True, check=True
        )
        samples.append(float(out.stdout.strip().splitlines()[-1]))
    return statistics.median(samples)


def row(label: str, seconds: float, note: str = "") -> str:
    return f"  {label:<48} {seconds:8.2f} s  {note}"

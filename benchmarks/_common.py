"""Helpers shared by the benchmark scripts: timing subprocesses on temporary demo copies."""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "demo"
BIN = Path(sys.executable).parent
GENERATED = ("target", "logs", ".floe", "compiled_artifacts.json", "definitions.py")


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
import dagster, dagster_dbt  # noqa
bare = time.perf_counter() - start
if sys.argv[1] != "bare":
    spec = importlib.util.spec_from_file_location("defs_probe", sys.argv[1])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.defs is not None
print(bare, time.perf_counter() - start - bare)
"""


@dataclass(frozen=True)
class ImportTimes:
    """Medians, in seconds, over interleaved fresh interpreters."""

    bare: float  # `import dagster, dagster_dbt` alone
    definitions: float  # the same imports, then exec of the generated module
    module_only: float  # the generated module's own part of ``definitions``


def import_times(definitions: str, runs: int = 9) -> ImportTimes:
    """Time ``definitions`` (a definitions.py path) against the bare imports, alternating
    the two so that machine drift hits both alike."""

    def probe(target: str) -> tuple[float, float]:
        out = subprocess.run(
            [sys.executable, "-c", IMPORT_PROBE, target], capture_output=True, text=True, check=True
        )
        bare, extra = out.stdout.strip().splitlines()[-1].split()
        return float(bare), float(extra)

    bare, total, own = [], [], []
    for _ in range(runs):
        bare.append(probe("bare")[0])
        first, module = probe(definitions)
        total.append(first + module)
        own.append(module)
    median = statistics.median
    return ImportTimes(median(bare), median(total), median(own))


def row(label: str, seconds: float, note: str = "") -> str:
    return f"  {label:<48} {seconds:8.2f} s  {note}"

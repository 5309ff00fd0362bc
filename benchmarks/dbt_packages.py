"""What the dbt packages check costs a compile (issue 29 point 1).

    python benchmarks/dbt_packages.py        (from an environment with floe[stack])

On a jaffle-shop style project with one local-path package (tests/fixtures/byo):
- the up-to-date check (``why_install``: lock hash from dbt's own functions, every locked
  package present), in a process that already imported dbt, as compile has;
- ``floe compile --force`` of that project with the packages installed, against the same
  project without packages.yml (and without the macro call): the check's share of a
  whole compile;
- ``dbt deps`` of the local package (what a missing install costs once).
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import BIN, DEMO, ROOT, median_of, row, timed

FIXTURES = ROOT / "tests" / "fixtures" / "byo"
TARGET_MS = 100.0


def platform(root: Path, packages: bool) -> Path:
    shutil.copytree(FIXTURES / "jaffle", root / "jaffle")
    shutil.copy(DEMO / "manifest.yaml", root / "manifest.yaml")
    if packages:
        shutil.copytree(FIXTURES / "shop_utils", root / "shop_utils")
        (root / "jaffle" / "packages.yml").write_text("packages:\n  - local: ../shop_utils\n")
    floe = str(BIN / "floe")
    subprocess.run(
        [floe, "init", "jaffle", "--owner", "bench@example.com"],
        cwd=root,
        check=True,
        capture_output=True,
    )
    timed([floe, "compile"], cwd=root)
    return root


def check_ms(product: Path, runs: int = 20) -> tuple[float, float]:
    """(first call, median of the rest) of why_install, in ms, dbt already imported."""
    probe = (
        "import sys, time, statistics\n"
        "from dbt.cli.main import dbtRunner  # noqa: F401 - compile has imported it\n"
        "from floe.compiler.packages import why_install\n"
        "from pathlib import Path\n"
        "p = Path(sys.argv[1]); times = []\n"
        f"for _ in range({runs}):\n"
        "    s = time.perf_counter(); assert why_install(p) is None\n"
        "    times.append((time.perf_counter() - s) * 1000)\n"
        "print(times[0], statistics.median(times[1:]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe, str(product)], capture_output=True, text=True, check=True
    )
    first, rest = out.stdout.split()
    return float(first), float(rest)


def main() -> None:
    floe = str(BIN / "floe")
    with tempfile.TemporaryDirectory(prefix="floe-bench-") as tmp:
        with_packages = platform(Path(tmp) / "with", packages=True)
        without = platform(Path(tmp) / "without", packages=False)
        first, warm = check_ms(with_packages / "jaffle")
        print("dbt packages check (jaffle + one local package)")
        print(f"  up-to-date check, first call in a process    {first:8.1f} ms")
        print(f"  up-to-date check, median of 19 more          {warm:8.1f} ms")
        print(f"    [target < {TARGET_MS:.0f} ms: {'met' if first < TARGET_MS else 'NOT met'}]")
        compile_with = median_of([floe, "compile", "--force"], 5, cwd=with_packages)
        compile_without = median_of([floe, "compile", "--force"], 5, cwd=without)
        print(row("floe compile --force with packages installed, median of 5", compile_with))
        print(row("floe compile --force, no packages.yml, median of 5", compile_without))
        print(f"    packages add {compile_with / compile_without - 1:+.1%}")
        deps = []
        for _ in range(3):
            shutil.rmtree(with_packages / "jaffle" / "dbt_packages")
            start = time.perf_counter()
            timed([floe, "compile"], cwd=with_packages)
            deps.append(time.perf_counter() - start)
        print(
            row(
                "floe compile reinstalling the package (dbt deps), median of 3",
                statistics.median(deps),
            )
        )


if __name__ == "__main__":
    main()

"""compile_demo and run_demo wall times, and the import time of one generated module.

    python benchmarks/compile_demo.py        (from an environment with floe[stack])

cold = fresh copy, no target/; warm = everything compiled, recompile forced; no-op =
nothing changed.  Each figure is one run on this machine unless marked "median".
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from _common import BIN, fresh_demo, import_times, median_of, row, timed


def main() -> None:
    floe = str(BIN / "floe")
    with tempfile.TemporaryDirectory(prefix="floe-bench-") as tmp:
        demo = fresh_demo(Path(tmp) / "demo")
        compile_cmd = [floe, "demo", "compile", "--demo-dir", str(demo)]
        run_cmd = [floe, "demo", "run", "--demo-dir", str(demo)]
        print("compile_demo / run_demo (3 products, 18 models)")
        print(row("compile_demo cold", timed(compile_cmd)))
        print(
            row("compile_demo warm (--force), median of 3", median_of([*compile_cmd, "--force"], 3))
        )
        print(row("compile_demo no-op, median of 5", median_of(compile_cmd, 5)))
        with_contracts = median_of([*compile_cmd, "--force", "-j", "1"], 5)
        without = fresh_demo(Path(tmp) / "without-contracts")
        for contract in without.glob("*/datacontract.yaml"):
            contract.unlink()
        manifest = without / "manifest.yaml"
        manifest.write_text(manifest.read_text().replace("require_contracts: true", ""))
        bare_cmd = [floe, "demo", "compile", "--demo-dir", str(without)]
        timed(bare_cmd)
        no_contracts = median_of([*bare_cmd, "--force", "-j", "1"], 5)
        print(row("compile (--force -j 1) with the demo's contracts, median of 5", with_contracts))
        print(row("compile (--force -j 1) without contracts, median of 5", no_contracts))
        print(f"    contracts add {with_contracts / no_contracts - 1:+.1%}  [target <= +5%]")
        fresh_demo(demo)
        print(row("run_demo cold (compile + materialize)", timed(run_cmd)))
        print(row("run_demo warm (no-op compile + materialize)", timed(run_cmd)))
        times = import_times(str(demo / "customer-360" / "definitions.py"))
        print(row("import customer-360 definitions.py, median of 9", times.definitions))
        print(row("import dagster, dagster_dbt alone, median of 9", times.bare))
        print(row("  the module's own part, median of 9", times.module_only))


if __name__ == "__main__":
    main()

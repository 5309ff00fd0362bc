"""floe's compile against the Makefile way, at demo size and on a synthetic large tree.

    python benchmarks/compile_scale.py [--products 50] [--models 40]

(a) compile_demo cold / warm / no-op against one `dbt compile` subprocess per product
    (what the Makefile's compile-demo did), plus the no-op through `nox -R`.
(b) a generated tree of N products x M models: floe's compile (1 worker, then all
    workers) against the bare dbt work (one in-process `dbt compile` per project, what
    floe cannot avoid); floe's own overhead as a share of its total; growth per product.
(c) import of one generated definitions module against `import dagster, dagster_dbt`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import BIN, ROOT, fresh_demo, import_times, median_of, row, timed

SYNTH_MANIFEST = """\
apiVersion: floe.dev/v1
kind: PlatformManifest
metadata: {name: synthetic, version: 1.0.0, owner: bench@example.com}
plugins:
  compute: {type: duckdb, config: {threads: 1}}
  orchestrator: {type: dagster}
governance:
  policy_enforcement_level: warn
  naming: {convention: layered}
"""


def write_product(root: Path, index: int, models: int) -> None:
    """One product: 2 seeds, then staging -> intermediate -> marts chains."""
    name = f"product-{index:03d}"
    module = name.replace("-", "_")
    base = root / name
    (base / "seeds").mkdir(parents=True)
    (base / "seeds" / "raw_a.csv").write_text("id,v\n1,10\n2,20\n")
    (base / "seeds" / "raw_b.csv").write_text("id,w\n1,5\n2,6\n")
    (base / "dbt_project.yml").write_text(
        f"name: {module}\nversion: '1.0.0'\nconfig-version: 2\nprofile: {module}\n"
        f"models:\n  {module}:\n    +materialized: view\n"
    )
    stg = max(2, models // 4)
    mart = max(1, models // 4)
    inter = models - stg - mart
    transforms = []
    layers = [("staging", "stg", stg), ("intermediate", "int", inter), ("marts", "mart", mart)]
    previous: list[str] = []
    for layer, prefix, count in layers:
        (base / "models" / layer).mkdir(parents=True)
        current = []
        for i in range(count):
            model = f"{prefix}_m{i:03d}"
            if layer == "staging":
                deps: list[str] = []
                column = "v" if i % 2 == 0 else "w as v"  # raw_b's column is w
                sql = f"select id, {column} from {{{{ ref('raw_{'ab'[i % 2]}') }}}}"
            else:
                deps = sorted({previous[i % len(previous)], previous[(i + 1) % len(previous)]})
                sql = " union all ".join(f"select * from {{{{ ref('{d}') }}}}" for d in deps)
            (base / "models" / layer / f"{model}.sql").write_text(sql + "\n")
            transforms.append(f"  - name: {model}\n    dependsOn: [{', '.join(deps)}]\n")
            current.append(model)
        previous = current
    (base / "floe.yaml").write_text(
        f"apiVersion: floe.dev/v1\nkind: FloeSpec\nmetadata:\n  name: {name}\n"
        f"  version: 1.0.0\n  owner: bench@example.com\ntransforms:\n{''.join(transforms)}"
    )


def synthetic_tree(dest: Path, products: int, models: int) -> Path:
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    (dest / "manifest.yaml").write_text(SYNTH_MANIFEST)
    for index in range(products):
        write_product(dest, index, models)
    return dest


DBT_ONLY = """
import sys, time
from pathlib import Path
from floe.compiler.dbt import dbt_compile
from floe.compiler.profiles import build_profiles, render_profiles
from floe.schemas.manifest import PluginSelection
start = time.perf_counter()
for product in sorted(Path(sys.argv[1]).glob("*/dbt_project.yml")):
    project = product.parent
    module = project.name.replace("-", "_")
    profiles = project / "target" / "bench-profiles"
    profiles.mkdir(parents=True, exist_ok=True)
    compute = PluginSelection(type="duckdb", config={"threads": 1})
    (profiles / "profiles.yml").write_text(render_profiles(build_profiles(module, compute), ""))
    dbt_compile(project, profiles)
print(time.perf_counter() - start)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=50)
    parser.add_argument("--models", type=int, default=40)
    args = parser.parse_args()
    floe, dbt = str(BIN / "floe"), str(BIN / "dbt")
    cpus = len(os.sched_getaffinity(0))
    with tempfile.TemporaryDirectory(prefix="floe-scale-") as tmp:
        work = Path(tmp)
        # (a) ------------------------------------------------------------------------
        demo = fresh_demo(work / "demo")
        compile_cmd = [floe, "demo", "compile", "--demo-dir", str(demo)]
        print("(a) compile_demo against the Makefile way (3 products)")
        cold = timed(compile_cmd)
        warm = median_of([*compile_cmd, "--force"], 3)
        noop = median_of(compile_cmd, 5)
        products = sorted(p.parent for p in demo.glob("*/floe.yaml"))
        make_way = 0.0
        for product in products:  # `dbt compile` per product, as compile-demo did
            make_way += timed(
                [
                    dbt,
                    "compile",
                    "--project-dir",
                    str(product),
                    "--profiles-dir",
                    str(product),
                    "--quiet",
                ],
                cwd=product,
            )
        print(row("floe compile_demo cold", cold))
        print(
            row(
                "floe compile_demo warm (--force), median of 3",
                warm,
                f"= {warm / make_way:.2f}x the Makefile way",
            )
        )
        print(row("floe compile_demo no-op, median of 5", noop))
        print(row("Makefile way: dbt compile subprocess per product", make_way))
        nox = shutil.which("nox") or str(Path(sys.executable).parent / "nox")
        if Path(nox).exists() and (ROOT / ".nox" / "compile_demo").is_dir():
            timed([nox, "-R", "-s", "compile_demo"], cwd=ROOT)  # make sure it is a no-op
            print(
                row(
                    "nox -R -s compile_demo (no-op), median of 3",
                    median_of([nox, "-R", "-s", "compile_demo"], 3, cwd=ROOT),
                )
            )
        else:
            print("  nox -R -s compile_demo: skipped (run `nox -s compile_demo` once first)")

        # (b) ------------------------------------------------------------------------
        total_models = args.products * args.models
        print(
            f"\n(b) synthetic tree: {args.products} products x {args.models} models "
            f"= {total_models} models, {cpus} CPUs"
        )
        sizes = sorted({max(1, args.products // 5), args.products // 2, args.products})
        for size in sizes:
            tree = synthetic_tree(work / f"synth-{size}", size, args.models)
            seconds = timed([floe, "demo", "compile", "--demo-dir", str(tree), "-j", "1"])
            print(
                row(
                    f"floe compile, {size} products, 1 worker",
                    seconds,
                    f"{seconds / size:.2f} s/product",
                )
            )
        tree = synthetic_tree(work / "synth-dbt", args.products, args.models)
        start = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-c", DBT_ONLY, str(tree)], capture_output=True, text=True, check=True
        )
        dbt_only = float(out.stdout.strip().splitlines()[-1])
        dbt_process = time.perf_counter() - start
        floe_one = seconds
        print(
            row(
                "bare dbt work: in-process dbt compile per project",
                dbt_only,
                f"(process incl. imports {dbt_process:.2f} s)",
            )
        )
        overhead = floe_one - dbt_process
        print(
            row(
                "floe's own overhead (1 worker)",
                overhead,
                f"= {100 * overhead / floe_one:.1f}% of floe's total",
            )
        )
        tree = synthetic_tree(work / "synth-par", args.products, args.models)
        parallel = timed([floe, "demo", "compile", "--demo-dir", str(tree)])
        print(
            row(
                f"floe compile, {args.products} products, {cpus} workers",
                parallel,
                f"= {parallel / floe_one:.2f}x the 1-worker time",
            )
        )
        noop = median_of([floe, "demo", "compile", "--demo-dir", str(tree)], 3)
        print(row(f"floe compile no-op, {args.products} products, median of 3", noop))

        # (c) ------------------------------------------------------------------------
        print("\n(c) import time (fresh interpreters, alternating, median of 9)")
        times = import_times(str(demo / "customer-360" / "definitions.py"))
        over = 100 * (times.definitions - times.bare) / times.bare
        print(row("import customer-360 definitions.py", times.definitions, f"{over:+.1f}% vs bare"))
        print(row("import dagster, dagster_dbt", times.bare))
        print(row("  the module's own part (after those imports)", times.module_only))


if __name__ == "__main__":
    main()

"""The run path (issue 15): `floe demo run` against running dbt by hand, side by side.

(a) the demo, compiled once, then materialized (median of --runs, alternating):
      by hand: `dbt build` in each product directory, one after the other, with the same
               profile, target and vars floe's generated definitions pass (risk-overview's
               inputs copied first from its producers' DuckDB files);
      ... and publish: the same, each product followed by a Python that writes its
               published models to the embedded Iceberg catalog with floe's writer (the
               rest of what a run produces, lineage and spans aside; inputs read from
               the catalog, as a run reads them);
      floe:    `floe demo run --skip-compile` (every product through its generated
               Dagster definitions, publication to the embedded catalog included), with
               -j 1 and with the default (one worker per core), recording in the local
               Dagster instance (the default) and with --no-history.
    Wall time (of a run nobody samples) and peak memory (the largest summed PSS of the
    process tree in a second run, sampled every 20 ms: shared pages are not counted
    twice), and the memory floor: one interpreter that has imported what a run imports,
    doing nothing.  Targets: floe <= 1.0x the hand
    run (stretch 0.7x); peak memory <= 1.5x.  --runners thread,fork,subprocess adds rows
    with FLOE_DBT_RUNNER set to the others.
(b) a synthetic tree of --products products x 40 models: wall time with one worker for a
    quarter, half and all of the products (linear in products?) and with one worker per
    core for all of them (-> 1/N of one worker?).
(c) --products products in --chains chains (each reads the one before it through the
    catalog, issue 26): floe run's wall time against the critical path, the longest
    chain's summed product times as the same run reports them (target <= 1.10x), and
    beside it the fixed cost any floe run of that many workers pays around its products
    (interpreter, the workers' imports, the shared stores, the summary).  Products move
    3 rows each, or --chain-rows N rows (read from the catalog, transformed, published),
    through 3 models each, or --chain-models N + 2 (N=38: the 40 models of (b)'s products).

    python benchmarks/run_path.py [--runs 3] [--products 20] [--skip-synthetic]
                                  [--chains 2] [--chain-rows N] [--chain-models N]
                                  [--runners thread,fork]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import BIN, fresh_demo, timed
from compile_scale import synthetic_tree


@dataclass(frozen=True)
class Measure:
    wall: float
    cpu: float
    peak_mib: float


def _pss_kib(pid: int) -> int:
    """Proportional set size: shared pages (a forkserver's imports, copy-on-write in its
    workers) are split between the processes sharing them instead of counted in each."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as handle:
            for line in handle:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _tree_rss_kib(root: int) -> int:
    """Summed PSS of ``root`` and all its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                parent = int(handle.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(entry))
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += _pss_kib(pid)
        stack.extend(children.get(pid, []))
    return total


Command = tuple[list[str], Path | None]  # argv, working directory


def _sampled_peak(proc: subprocess.Popen[str]) -> int:
    """Wait for ``proc``; the largest summed PSS (KiB) of its process tree meanwhile."""
    peak = 0
    while proc.poll() is None:
        peak = max(peak, _tree_rss_kib(proc.pid))
        time.sleep(0.02)
    return peak


def _run(commands: list[Command], env: dict[str, str] | None, sample: bool) -> tuple[float, int]:
    """Run the commands one after the other: wall seconds, peak tree PSS (KiB; 0 unsampled)."""
    peak = 0
    start = time.perf_counter()
    for argv, cwd in commands:
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=None if env is None else {**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        peak = max(peak, _sampled_peak(proc)) if sample else peak
        proc.wait()
        if proc.returncode != 0:
            raise SystemExit(f"failed (exit {proc.returncode}): {' '.join(argv)}")
    return time.perf_counter() - start, peak


def measure(commands: list[Command], env: dict[str, str] | None = None) -> Measure:
    """Wall and children's CPU of one unobserved run, then peak memory from a second run:
    reading /proc every 20 ms costs a share of a core, which would slow the measured
    run (the more, the more processes it has) if both came from the same run."""
    before = os.times()
    wall, _ = _run(commands, env, sample=False)
    after = os.times()
    cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    _, peak = _run(commands, env, sample=True)
    return Measure(wall, cpu, peak / 1024)


def wall_of(commands: list[Command]) -> float:
    return _run(commands, None, sample=False)[0]


# a product reading others' tables (issue 26), by hand: each input copied from its
# producer's DuckDB file into the relation the consumer's dbt sources name
INPUTS_BY_HAND = """
import json, sys
from pathlib import Path
import duckdb
product = Path(sys.argv[1])
artifacts = json.loads((product / "compiled_artifacts.json").read_text())
con = duckdb.connect(str(product / "target" / "demo.duckdb"))
for item in artifacts["inputs"]:
    schema, table = item["relation"].split(".")
    producer = product.parent / item["product"] / "target" / "demo.duckdb"
    con.execute(f"attach '{producer}' as producer (read_only)")
    where = con.execute(
        "select table_schema from information_schema.tables "
        "where table_catalog = 'producer' and table_name = ?", [item["table"]]
    ).fetchone()[0]
    con.execute(f'create schema if not exists "{schema}"')
    con.execute(
        f'create or replace table "{schema}"."{table}" as '
        f'select * from producer."{where}"."{item["table"]}"'
    )
    con.execute("detach producer")
con.close()
"""

# the same, as a floe run does it: each input's published snapshot read from the catalog
INPUTS_FROM_CATALOG = """
import sys
from pathlib import Path
from floe.runtime.publish.inputs import load_inputs
load_inputs(Path(sys.argv[1]), "by-hand")
"""


def _products(demo: Path) -> list[tuple[Path, dict]]:
    return [
        (product, json.loads((product / "compiled_artifacts.json").read_text()))
        for product in sorted(p.parent for p in demo.glob("*/compiled_artifacts.json"))
    ]


def hand_commands(demo: Path, inputs: str = INPUTS_BY_HAND) -> list[Command]:
    """`dbt build` in each product directory (DuckDB paths are relative to it), with the
    profile, target and vars floe's generated definitions pass; a product with inputs
    gets them loaded first (``inputs``: a Python run with the product directory).
    Producers sort before their consumers in the demo."""
    commands: list[Command] = []
    for product, artifacts in _products(demo):
        if artifacts.get("inputs"):
            commands.append(([sys.executable, "-c", inputs, str(product)], product))
        profile = next(iter(artifacts["dbt_profiles"].values()))
        dbt_vars = {}
        if artifacts.get("governance") and artifacts["governance"].get("data_retention_days"):
            dbt_vars = {"floe_data_retention_days": artifacts["governance"]["data_retention_days"]}
        commands.append(
            (
                [
                    str(BIN / "dbt"),
                    "build",
                    "--project-dir",
                    str(product),
                    "--profiles-dir",
                    str(product / ".floe"),
                    "--target",
                    profile["target"],
                    "--vars",
                    json.dumps(dbt_vars, sort_keys=True),
                    "--quiet",
                ],
                product,
            )
        )
    return commands


PUBLISH_BY_HAND = """
import json, sys
from pathlib import Path
from floe.runtime.product import published_models
from floe.runtime.publish.lakehouse import publish_model
product = Path(sys.argv[1])
artifacts = json.loads((product / "compiled_artifacts.json").read_text())
for model in published_models(artifacts):
    publish_model(product, model, "by-hand")
"""


def publish_commands(demo: Path) -> list[Command]:
    """After each product's `dbt build`, a Python that writes its published models to the
    embedded Iceberg catalog (what a run does besides dbt; no lineage or spans)."""
    commands: list[Command] = []
    for argv, product in hand_commands(demo, INPUTS_FROM_CATALOG):
        commands.append((argv, product))
        if argv[0].endswith("dbt"):
            commands.append(([sys.executable, "-c", PUBLISH_BY_HAND, str(product)], product))
    return commands


def median_measure(samples: list[Measure]) -> Measure:
    return Measure(
        statistics.median(m.wall for m in samples),
        statistics.median(m.cpu for m in samples),
        statistics.median(m.peak_mib for m in samples),
    )


# what a product's run has imported by its end (Dagster, dagster-dbt, dbt, the lakehouse
# writer, lineage and spans), before it does any work
RUN_IMPORTS = (
    "dagster, dagster_dbt, dbt.cli.main, dbt.adapters.duckdb, pyarrow, pyiceberg.io.pyarrow, "
    "pyiceberg.catalog.sql, sqlglot.lineage, floe.local.run, floe.runtime.observe.report, "
    "floe.runtime.observe.lineage, floe.runtime.observe.tracing, floe.runtime.observe.dbt_facets, "
    "floe.runtime.dbt.resource, opentelemetry.sdk.trace"
)
PSS_PROBE = f"""
import {RUN_IMPORTS}
print(next(int(l.split()[1]) for l in open("/proc/self/smaps_rollup") if l.startswith("Pss:")))
"""


def import_floor_mib() -> float:
    """PSS of one interpreter that only imports what a run imports: no process that
    runs a product's Dagster job in-process can use less."""
    done = subprocess.run(
        [sys.executable, "-c", PSS_PROBE], capture_output=True, text=True, check=True
    )
    return int(done.stdout.split()[-1]) / 1024


def demo_figures(work: Path, runs: int, runners: list[str]) -> None:
    demo = fresh_demo(work / "demo")
    floe = str(BIN / "floe")
    timed([floe, "demo", "compile", "--demo-dir", str(demo)])
    by_hand = hand_commands(demo)
    same_outcome = publish_commands(demo)
    run = [floe, "demo", "run", "--skip-compile", "--demo-dir", str(demo)]
    cores = len(os.sched_getaffinity(0))
    variants: dict[str, tuple[list[str], dict[str, str] | None]] = {}
    for runner in runners:
        suffix = "" if runner == runners[0] else f" [{runner}]"
        env = None if runner == runners[0] else {"FLOE_DBT_RUNNER": runner}
        variants[f"floe run -j 1{suffix}"] = ([*run, "-j", "1"], env)
        variants[f"floe run (-j {cores}){suffix}"] = (run, env)
        if runner == runners[0]:  # recording in the local Dagster instance (the default) or not
            variants[f"floe run (-j {cores}) --no-history"] = ([*run, "--no-history"], None)
    hand: list[Measure] = []
    hand_published: list[Measure] = []
    samples: dict[str, list[Measure]] = {label: [] for label in variants}
    for _ in range(runs):
        hand.append(measure(by_hand))
        hand_published.append(measure(same_outcome))
        for label, (argv, env) in variants.items():
            samples[label].append(measure([(argv, None)], env))
    h = median_measure(hand)
    products = sum(1 for argv, _ in by_hand if argv[0].endswith("dbt"))
    print(f"(a) the demo ({products} products), median of {runs}, {cores} cores:")
    print(f"    {'dbt build by hand':<32} {h.wall:6.2f} s wall  {h.peak_mib:5.0f} MiB peak")
    hp = median_measure(hand_published)
    print(
        f"    {'... and publish to Iceberg':<32} {hp.wall:6.2f} s wall  {hp.peak_mib:5.0f} MiB peak"
        f"  = {hp.wall / h.wall:.2f}x wall, {hp.peak_mib / h.peak_mib:.2f}x memory"
    )
    for label in variants:
        x = median_measure(samples[label])
        print(
            f"    {label:<32} {x.wall:6.2f} s wall  {x.peak_mib:5.0f} MiB peak"
            f"  = {x.wall / h.wall:.2f}x wall, {x.peak_mib / h.peak_mib:.2f}x memory"
            f" ({x.wall / hp.wall:.2f}x, {x.peak_mib / hp.peak_mib:.2f}x of dbt + publish)"
        )
    floor = import_floor_mib()
    print(
        f"    floor: one interpreter with a run's imports and no work: {floor:.0f} MiB"
        f" = {floor / h.peak_mib:.2f}x the hand run's peak"
    )
    print("    targets: wall <= 1.0x (stretch 0.7x), memory <= 1.5x")


def synthetic_figures(work: Path, products: int) -> None:
    floe = str(BIN / "floe")
    tree = synthetic_tree(work / "synthetic", products, 40)
    timed([floe, "demo", "compile", "--demo-dir", str(tree)])
    names = sorted(p.parent.name for p in tree.glob("*/floe.yaml"))
    sizes = sorted({max(1, products // 4), max(1, products // 2), products})
    print(f"(b) synthetic {products} products x 40 models:")
    walls = {}
    for size in sizes:
        only = [arg for name in names[:size] for arg in ("--product", name)]
        argv = [floe, "demo", "run", "--skip-compile", "-j", "1", "--demo-dir", str(tree), *only]
        walls[size] = wall_of([(argv, None)])
        per = walls[size] / size
        print(f"    1 worker, {size:3d} products: {walls[size]:7.2f} s ({per:.2f} s per product)")
    cores = len(os.sched_getaffinity(0))
    argv = [floe, "demo", "run", "--skip-compile", "--demo-dir", str(tree)]
    parallel = wall_of([(argv, None)])
    print(
        f"    {cores} workers, {products} products: {parallel:7.2f} s = "
        f"{parallel / walls[products]:.2f}x of one worker (ideal {1 / cores:.2f}x)"
    )


CHAIN_CONTRACT = """\
apiVersion: v3.1.0
kind: DataContract
id: {name}
version: 1.0.0
schema:
  - name: mart_out
    physicalName: mart_out
    properties:
      - {{name: id, logicalType: integer, required: true}}
      - {{name: v, logicalType: integer}}
"""


def chained_tree(
    dest: Path, products: int, chains: int, rows: int = 0, models: int = 1
) -> dict[str, int]:
    """``products`` products in ``chains`` chains: each product publishes mart_out under a
    contract and reads the previous product of its chain as an input; a chain's first
    product reads a 3-row seed, or (``rows``) makes that many rows.  Between its input
    model and mart_out, ``models`` intermediate models in a line.  product -> chain."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    (dest / "manifest.yaml").write_text(
        "apiVersion: floe.dev/v1\nkind: PlatformManifest\n"
        "metadata: {name: chains, version: 1.0.0, owner: bench@example.com}\n"
        "plugins:\n  compute: {type: duckdb, config: {threads: 1}}\n"
        "  orchestrator: {type: dagster}\n"
    )
    chain_of = {}
    for index in range(products):
        chain, position = index % chains, index // chains
        name = f"c{chain}-p{position:02d}"
        module = name.replace("-", "_")
        chain_of[name] = chain
        base = dest / name
        (base / "models").mkdir(parents=True)
        (base / "dbt_project.yml").write_text(
            f"name: {module}\nversion: '1.0.0'\nconfig-version: 2\nprofile: {module}\n"
            f"models:\n  {module}:\n    +materialized: table\n"
        )
        inputs = ""
        if position == 0 and rows:
            first = f"select range::integer as id, (range % 97)::integer as v from range({rows})"
        elif position == 0:
            (base / "seeds").mkdir()
            (base / "seeds" / "raw.csv").write_text("id,v\n1,10\n2,20\n3,30\n")
            first = "select id, v from {{ ref('raw') }}"
        else:
            producer = f"c{chain}-p{position - 1:02d}"
            source = producer.replace("-", "_")
            (base / "models" / "_inputs.yml").write_text(
                f"version: 2\nsources:\n  - name: {source}\n    schema: floe_inputs\n"
                f"    tables:\n      - name: mart_out\n        identifier: {source}__mart_out\n"
            )
            first = f"select id, v from {{{{ source('{source}', 'mart_out') }}}}"
            inputs = f'inputs:\n  - product: {producer}\n    table: mart_out\n    contract: "^1"\n'
        (base / "models" / "stg_in.sql").write_text(first + "\n")
        steps = [f"int_{step:03d}" for step in range(models)]
        for step, (model, before) in enumerate(zip(steps, ["stg_in", *steps], strict=False)):
            (base / "models" / f"{model}.sql").write_text(
                f"select id, v + {step % 2} as v from {{{{ ref('{before}') }}}}\n"
            )
        (base / "models" / "mart_out.sql").write_text(
            f"select id, v from {{{{ ref('{steps[-1]}') }}}}\n"
        )
        lines = "".join(
            f"  - name: {model}\n    dependsOn: [{before}]\n"
            for model, before in zip(steps, ["stg_in", *steps], strict=False)
        )
        (base / "datacontract.yaml").write_text(CHAIN_CONTRACT.format(name=name))
        (base / "floe.yaml").write_text(
            f"apiVersion: floe.dev/v1\nkind: FloeSpec\nmetadata:\n  name: {name}\n"
            f"  version: 1.0.0\n  owner: bench@example.com\n{inputs}transforms:\n"
            f"  - name: stg_in\n{lines}"
            f"  - name: mart_out\n    tier: gold\n    dependsOn: [{steps[-1]}]\n"
        )
    return chain_of


def chain_figures(work: Path, products: int, chains: int, rows: int = 0, models: int = 1) -> None:
    """floe run on products in chains: wall time against the critical path (the longest
    chain's summed product times, as the same run reports them)."""
    import re

    floe = str(BIN / "floe")
    tree = work / "chains"
    chain_of = chained_tree(tree, products, chains, rows, models)
    timed([floe, "compile", "--platform-dir", str(tree)])
    cores = len(os.sched_getaffinity(0))
    start = time.perf_counter()
    done = subprocess.run(
        [floe, "run", "--skip-compile", "--platform-dir", str(tree)],
        capture_output=True,
        text=True,
        check=True,
    )
    wall = time.perf_counter() - start
    seconds = {
        m.group(1): float(m.group(2))
        for m in re.finditer(r"^  (\S+): ok in ([0-9.]+)s", done.stdout, re.MULTILINE)
    }
    assert len(seconds) == products, done.stdout[-2000:]
    sums = [sum(t for n, t in seconds.items() if chain_of[n] == c) for c in range(chains)]
    critical = max(sums)
    # what any floe run pays around its products (interpreter, the workers' imports, the
    # summary): the first product of each chain alone, as many workers, their time off
    firsts = [sorted(n for n in chain_of if chain_of[n] == c)[0] for c in range(chains)]
    start = time.perf_counter()
    alone = subprocess.run(
        [floe, "run", "--skip-compile", "--platform-dir", str(tree), "-j", str(chains)]
        + [arg for name in firsts for arg in ("--product", name)],
        capture_output=True,
        text=True,
        check=True,
    )
    fixed = (
        time.perf_counter()
        - start
        - max(
            float(m.group(1)) for m in re.finditer(r"^  \S+: ok in ([0-9.]+)s", alone.stdout, re.M)
        )
    )
    size = f"{rows:,} rows" if rows else "3 rows"
    print(
        f"(c) {products} products in {chains} chains of {products // chains} (each reads the "
        f"one before it through the catalog; {size} and {models + 2} models a product), "
        f"{cores} workers:"
    )
    print(
        f"    floe run {wall:.2f} s wall; critical path (longest chain's product times, "
        f"from the same run) {critical:.2f} s: {wall / critical:.2f}x  [target <= 1.10x]"
    )
    print(f"    chains' sums: {', '.join(f'{t:.1f}' for t in sums)} s")
    print(
        f"    with the {fixed:.2f} s a floe run of {chains} workers pays around its products "
        f"(the chains' first products alone, their time taken off): "
        f"{wall / (critical + fixed):.2f}x of critical path + that fixed cost"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--products", type=int, default=20)
    parser.add_argument("--skip-synthetic", action="store_true")
    parser.add_argument("--skip-demo", action="store_true")
    parser.add_argument("--skip-tree", action="store_true", help="skip (b), keep (c)")
    parser.add_argument(
        "--chains", type=int, default=2, help="(c): chains the products form (default 2)"
    )
    parser.add_argument(
        "--chain-rows",
        type=int,
        default=0,
        help="(c): rows each product reads, transforms and publishes (default: a 3-row seed)",
    )
    parser.add_argument(
        "--chain-models",
        type=int,
        default=1,
        help="(c): models between each product's input and its mart (default 1: 3 in all; "
        "38: the 40 of (b)'s products)",
    )
    parser.add_argument(
        "--runners",
        default="thread",
        help="comma-separated FLOE_DBT_RUNNER values to measure (first = the default)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="floe-bench-run-") as tmp:
        work = Path(tmp)
        if not args.skip_demo:
            demo_figures(work, args.runs, args.runners.split(","))
        if not args.skip_synthetic:
            if not args.skip_tree:
                synthetic_figures(work, args.products)
            chain_figures(work, args.products, args.chains, args.chain_rows, args.chain_models)


if __name__ == "__main__":
    main()

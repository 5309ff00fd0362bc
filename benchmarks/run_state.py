"""What keeping snapshot and incremental state across runs costs (issue 29 point 3).

    python benchmarks/run_state.py [--gib 1.0]    (from an environment with floe[stack])

(a) a real product (tests/fixtures/byo/jaffle with a snapshot and an incremental model):
    ``floe run`` with the platform's state store against the same run on a manifest with
    no ``state:`` (median of 3 each, --no-history);
(b) a DuckDB file of about --gib GiB: floe's save (Parquet of the stateful relations) and
    restore (into an empty file, as a run pod has) against copying the whole file each
    way - once with the stateful relations a tenth of the file, once with the whole file
    one stateful table (the worst case).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import BIN, DEMO, ROOT, row

FIXTURES = ROOT / "tests" / "fixtures" / "byo"
SNAPSHOT = (ROOT / "tests" / "integration" / "test_run_state.py").read_text()


def _fixture_text(name: str) -> str:
    """The snapshot and incremental model the state tests use (one source)."""
    start = SNAPSHOT.index(f'{name} = """\\\n') + len(f'{name} = """\\\n')
    return SNAPSHOT[start : SNAPSHOT.index('"""', start)]


def product_run(root: Path, state: bool) -> float:
    import yaml

    platform = root / ("with" if state else "without")
    shutil.copytree(FIXTURES / "jaffle", platform / "jaffle")
    manifest = yaml.safe_load((DEMO / "manifest.yaml").read_text())
    if not state:
        manifest.pop("state", None)
    (platform / "manifest.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))
    (platform / "jaffle" / "snapshots").mkdir()
    (platform / "jaffle" / "snapshots" / "s.yml").write_text(_fixture_text("SNAPSHOT"))
    (platform / "jaffle" / "models" / "orders_incremental.sql").write_text(
        _fixture_text("INCREMENTAL")
    )
    floe = str(BIN / "floe")
    run = [floe, "run", "--no-history"]
    subprocess.run(
        [floe, "init", "jaffle", "--owner", "b@example.com"],
        cwd=platform,
        check=True,
        capture_output=True,
    )
    subprocess.run(run, cwd=platform, check=True, capture_output=True)  # compiles, warms
    times = []
    for _ in range(3):
        start = time.perf_counter()
        subprocess.run([*run, "--skip-compile"], cwd=platform, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def big_product(root: Path, gib: float, stateful_share: float) -> Path:
    """A product directory whose DuckDB file is about ``gib`` GiB, ``stateful_share`` of
    it in the stateful table ``main.history``, the rest in ``main.rebuilt``."""
    import duckdb

    product = root / f"p{int(stateful_share * 100)}"
    (product / "target").mkdir(parents=True)
    rows = int(gib * 2**30 / 26)  # ~26 bytes a row in DuckDB's file (bigint, double, md5)
    database = product / "target" / "big.duckdb"
    with duckdb.connect(str(database)) as con:
        select = "select i, random() as x, md5(i::varchar) as h from range({n}) t(i)"
        con.execute("create table history as " + select.format(n=int(rows * stateful_share)))
        if stateful_share < 1:
            rebuilt = int(rows * (1 - stateful_share))
            con.execute("create table rebuilt as " + select.format(n=rebuilt))
        con.execute("checkpoint")
    artifacts = {
        "metadata": {"product_name": "big"},
        "plugins": {},
        "dbt_profiles": {
            "big": {"target": "duckdb", "outputs": {"duckdb": {"path": "target/big.duckdb"}}}
        },
        "state": {
            "store": "storage",
            "prefix": "floe-state",
            "relations": [
                {
                    "node": "model.big.history",
                    "name": "history",
                    "kind": "incremental",
                    "schema_name": "main",
                    "identifier": "history",
                }
            ],
        },
    }
    (product / "compiled_artifacts.json").write_text(json.dumps(artifacts))
    return product


def state_vs_copy(root: Path, gib: float, share: float) -> None:
    from floe.runtime.publish.state import restore_state, save_state

    product = big_product(root, gib, share)
    database = product / "target" / "big.duckdb"
    size = database.stat().st_size / 2**30
    env = {"FLOE_STATE_DIR": str(root / f"state{int(share * 100)}")}
    start = time.perf_counter()
    save_state(product, "bench", None, env=env)
    saved = time.perf_counter() - start
    stored = sum(p.stat().st_size for p in Path(env["FLOE_STATE_DIR"]).rglob("*.parquet"))
    database.rename(database.with_suffix(".kept"))
    start = time.perf_counter()
    restore_state(product, "bench-2", env=env)
    restored = time.perf_counter() - start
    database.unlink()
    start = time.perf_counter()
    shutil.copyfile(database.with_suffix(".kept"), root / "copy.duckdb")
    shutil.copyfile(root / "copy.duckdb", database)
    copied = time.perf_counter() - start
    (root / "copy.duckdb").unlink()
    label = f"{size:.2f} GiB file, stateful {share:.0%}"
    print(f"  {label}: state stored as {stored / 2**20:.0f} MiB of Parquet")
    print(row("    save (Parquet of the stateful relation)", saved))
    print(row("    restore into an empty file", restored))
    print(row("    save + restore", saved + restored))
    print(row("    copy the whole file out and back", copied))
    print(f"      state costs {(saved + restored) / copied:.2f}x the file copy")
    for path in product.rglob("*"):
        if path.is_file():
            path.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gib", type=float, default=1.0)
    parser.add_argument("--skip-product", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="floe-bench-") as tmp:
        root = Path(tmp)
        if not args.skip_product:
            with_state = product_run(root, state=True)
            without = product_run(root, state=False)
            print("(a) floe run of jaffle + snapshot + incremental, median of 3")
            print(row("with the state store (restore kept, save 2 relations)", with_state))
            print(row("no state: configured", without))
            print(f"    state adds {with_state - without:+.2f} s ({with_state / without - 1:+.1%})")
        print(f"(b) a {args.gib:g} GiB DuckDB file")
        for share in (0.1, 1.0):
            state_vs_copy(root, args.gib, share)


if __name__ == "__main__":
    sys.exit(main())

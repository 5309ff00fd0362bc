"""Lakehouse publication figures (issue 13), printed side by side.

(a) publication's share of `floe demo run` wall time on the demo (target < 10%): the run
    is timed whole, then each gold model is published again through the same function the
    generated asset calls (floe.runtime.publish.lakehouse.publish_model) and timed alone.
(b) write throughput of a synthetic 5,000,000-row mart published through the same code
    (DuckDB relation -> Arrow batches -> PyIceberg) against DuckDB's own
    `COPY (...) TO 'x.parquet'` of the same relation on the same disk (target >= 0.7x).
(c) peak memory of that publication (a fresh process: max RSS above its RSS after the
    imports and a warm-up publication) against the Arrow size of the table (target < 2x).
(d) write-audit-publish (audit branch, row-count audit, fast-forward) against a direct
    publication (one overwrite commit on main, floe's earlier way), same 5M rows
    (target: at most +10% wall).
(f) an input read through the catalog (issue 26: the published snapshot streamed by
    PyIceberg into the consumer's DuckDB, as floe loads inputs) against the same rows read
    from a local DuckDB table (ATTACH, CREATE TABLE AS): target at most 2x.
(e) the data-contract checks of the 5M-row table (column types, a primary key, a required
    column, rowCount / nullValues / invalidValues rules) in DuckDB, against the table's
    publication time (target: at most +15%).

    python benchmarks/lakehouse.py [--rows N]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import BIN, fresh_demo, timed

REPEATS = 5  # medians of five: the same relation, written five times each way
SYNTHETIC = """
create table mart as
select
    i::bigint as id,
    'customer_' || (i % 100000)::varchar as customer,
    (i % 1000) * 1.25 as amount,
    timestamp '2024-01-01' + to_seconds(i % 31536000) as ts,
    i % 7 = 0 as flagged
from range({rows}) t(i)
"""

CHILD = """
import json, resource, statistics, sys, time, uuid
import duckdb
from pathlib import Path
from floe.runtime.publish.catalog import local_target, open_catalog
from floe.runtime.publish.lakehouse import arrow_batches, publish_arrow
database, lakehouse, repeats = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
floor_file = lakehouse.parent / "floor.parquet"
catalog = open_catalog(local_target(lakehouse))
with duckdb.connect(database, read_only=True) as con:
    # warm-up: the first publication of a process also imports PyIceberg's writer
    small = con.sql("select * from mart limit 1000")
    start = time.perf_counter()
    publish_arrow(catalog, "bench.warmup", small.to_arrow_table(), {})
    first = time.perf_counter() - start
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
with duckdb.connect(database, read_only=True) as con:  # (c): one publication, alone
    publish_arrow(catalog, "bench.mart", arrow_batches(con.sql("select * from mart")), {})
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
times, floors = [], []
with duckdb.connect(database, read_only=True) as con:
    for _ in range(repeats):  # interleaved: the floor, then ours, on the same relation
        start = time.perf_counter()
        con.execute(f"copy (select * from mart) to '{floor_file}' (format parquet)")
        floors.append(time.perf_counter() - start)
        reader = arrow_batches(con.sql("select * from mart"))
        start = time.perf_counter()
        published = publish_arrow(catalog, "bench.mart", reader, {"floe.run_id": "bench"})
        times.append(time.perf_counter() - start)

def direct(reader):  # floe's publication before write-audit-publish: one commit on main
    from pyiceberg.io.pyarrow import _dataframe_to_data_files
    table = catalog.load_table("bench.direct")
    current = [task.file for task in table.scan().plan_files()]
    with table.transaction() as tx:
        with tx.update_snapshot().overwrite() as commit:
            for old in current:
                commit.delete_data_file(old)
            for new in _dataframe_to_data_files(
                table_metadata=tx.table_metadata, write_uuid=commit.commit_uuid, df=reader,
                io=table.io,
            ):
                commit.append_data_file(new)

from floe.contracts.checks import check_relation
from floe.contracts.model import ContractColumn, ContractTable, QualityRule
columns = [
    ContractColumn(name="id", logical_type="integer", primary_key=True, source="bench:2"),
    ContractColumn(name="customer", logical_type="string", required=True, source="bench:3"),
    ContractColumn(name="amount", logical_type="number", source="bench:4"),
    ContractColumn(name="ts", logical_type="timestamp", source="bench:5"),
    ContractColumn(name="flagged", logical_type="boolean", source="bench:6"),
]
rules = [
    QualityRule(kind="library", metric="rowCount", operator="mustBeGreaterThan", threshold=0,
                source="bench:7"),
    QualityRule(kind="library", metric="nullValues", operator="mustBe", threshold=0,
                column="amount", source="bench:8"),
    QualityRule(kind="library", metric="invalidValues", operator="mustBe", threshold=0,
                arguments={"validValues": [True, False]}, column="flagged", source="bench:9"),
]
pattern = QualityRule(kind="library", metric="invalidValues", operator="mustBe", threshold=0,
                      arguments={"pattern": "^customer_[0-9]+$"}, column="customer",
                      source="bench:10")
plain = ContractTable(name="mart", model="mart", source="bench:1", columns=columns, quality=rules)
with_pattern = plain.model_copy(update={"quality": [*rules, pattern]})
# in a floe run the key's unique and not_null dbt tests passed on the same relation
proven = {"id": {"unique", "not_null"}}
directs, cases = [], {"run": [], "alone": [], "pattern": []}
with duckdb.connect(database, read_only=True) as con:
    seed = con.sql("select * from mart limit 10").to_arrow_table()
    publish_arrow(catalog, "bench.direct", seed, {})
    for _ in range(repeats):
        reader = arrow_batches(con.sql("select * from mart"))
        start = time.perf_counter()
        direct(reader)
        directs.append(time.perf_counter() - start)
        for case, table, known in (("run", plain, proven), ("alone", plain, None),
                                   ("pattern", with_pattern, proven)):
            start = time.perf_counter()
            report = check_relation(con, "mart", table, known)
            cases[case].append(time.perf_counter() - start)
            assert report.ok, report.breaches
reads, locals_ = [], []
consumer = duckdb.connect(str(lakehouse.parent / "consumer.duckdb"))
consumer.execute(f"attach '{database}' as producer (read_only)")
for _ in range(repeats):
    table = catalog.load_table("bench.mart")
    start = time.perf_counter()
    stream = table.scan(snapshot_id=table.current_snapshot().snapshot_id).to_arrow_batch_reader()
    consumer.register("stream", stream)
    consumer.execute("create or replace table input_catalog as select * from stream")
    consumer.unregister("stream")
    reads.append(time.perf_counter() - start)
    start = time.perf_counter()
    consumer.execute("create or replace table input_local as select * from producer.mart")
    locals_.append(time.perf_counter() - start)
assert consumer.execute("select count(*) from input_catalog").fetchall() == \
    consumer.execute("select count(*) from input_local").fetchall()
print(json.dumps({"seconds": statistics.median(times), "floor": statistics.median(floors),
                  "read": statistics.median(reads), "local": statistics.median(locals_),
                  "rows": published.rows, "peak_kib": peak, "base_kib": base, "first_call": first,
                  "direct": statistics.median(directs),
                  "checks": {k: statistics.median(v) for k, v in cases.items()}}))
"""


def run_share(work: Path) -> None:
    demo = fresh_demo(work / "demo")
    floe = str(BIN / "floe")
    timed([floe, "demo", "compile", "--demo-dir", str(demo)])
    wall = timed([floe, "demo", "run", "--skip-compile", "--demo-dir", str(demo)])
    from floe.runtime.product import published_models
    from floe.runtime.publish.lakehouse import publish_model

    publish = 0.0
    tables = []
    for product in sorted(p.parent for p in demo.glob("*/compiled_artifacts.json")):
        artifacts = json.loads((product / "compiled_artifacts.json").read_text())
        for model in published_models(artifacts):
            start = time.perf_counter()
            result = publish_model(product, model, str(uuid.uuid4()), {"FLOE_CATALOG": "local"})
            publish += time.perf_counter() - start
            tables.append(f"{result.identifier} ({result.rows} rows)")
    print(f"(a) floe demo run --skip-compile: {wall:.2f} s wall")
    share = publish / wall
    print(f"    publication of {len(tables)} tables: {publish:.2f} s = {share:.1%} of the run")
    print(f"    tables: {', '.join(tables)}  [target < 10%]")


def throughput(work: Path, rows: int) -> None:
    import duckdb

    database = work / "synthetic.duckdb"
    with duckdb.connect(str(database)) as con:
        con.execute(SYNTHETIC.format(rows=rows))
        arrow_bytes = con.sql("select * from mart").to_arrow_table().nbytes
        con.execute("checkpoint")
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(database), str(work / "lakehouse"), str(REPEATS)],
        capture_output=True,
        text=True,
        check=True,
    )
    child = json.loads(done.stdout.strip().splitlines()[-1])
    ours, floor = child["seconds"], child["floor"]
    print(
        f"(b) {rows:,} rows, median of {REPEATS}: DuckDB COPY TO parquet {floor:.2f} s "
        f"({rows / floor:,.0f} rows/s); "
        f"floe publication {ours:.2f} s ({child['rows'] / ours:,.0f} rows/s) = "
        f"{floor / ours:.2f}x the floor's rate  [target >= 0.7x]"
    )
    print(
        f"    (a process's first publication also imports PyIceberg's writer: "
        f"{child['first_call']:.2f} s for a 1,000-row table, once per process)"
    )
    direct = child["direct"]
    print(
        f"(d) write-audit-publish {ours:.2f} s vs a direct publication {direct:.2f} s: "
        f"{ours / direct - 1:+.1%}  [target <= +10%]"
    )
    checks = child["checks"]
    print(
        f"(e) contract checks (5 typed columns, a primary key, a required column, rowCount, "
        f"nullValues, invalidValues by value list), as in a floe run where the key's dbt "
        f"tests passed: {checks['run']:.3f} s = {checks['run'] / ours:+.1%} of the "
        f"publication  [target <= +15%]"
    )
    print(
        f"    floe computing the key's uniqueness too (no dbt test): {checks['alone']:.3f} s = "
        f"{checks['alone'] / ours:+.1%}; adding a regex `pattern` rule: {checks['pattern']:.3f}"
        f" s = {checks['pattern'] / ours:+.1%}"
    )
    print(
        f"(f) an input of {rows:,} rows read through the catalog into the consumer's DuckDB "
        f"{child['read']:.2f} s vs from a local DuckDB table {child['local']:.2f} s: "
        f"{child['read'] / child['local']:.2f}x  [target <= 2x]"
    )
    peak_bytes = (child["peak_kib"] - child["base_kib"]) * 1024
    print(
        f"(c) peak memory of the publication {peak_bytes / 2**20:.0f} MiB above its imports vs "
        f"Arrow size {arrow_bytes / 2**20:.0f} MiB = {peak_bytes / arrow_bytes:.2f}x  [target < 2x]"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--skip-run", action="store_true", help="only (b) and (c)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="floe-bench-lakehouse-") as tmp:
        work = Path(tmp)
        if not args.skip_run:
            run_share(work)
        throughput(work, args.rows)


if __name__ == "__main__":
    main()

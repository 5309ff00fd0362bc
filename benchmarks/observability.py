"""The run-time cost of lineage and traces (issue 17) on the demo: target under 5% of the
run's wall time.

The demo is compiled and every product materialized once (`floe demo run --skip-compile
-j 1`, timed whole).  Then, for each product, the reporting the generated definitions do
after `dbt build` (floe.runtime.observe.report.report_dbt_run: facets from the manifest, run
results and DuckDB catalog, column lineage, OpenLineage events through openlineage-python,
spans through the OpenTelemetry SDK) is repeated on that run's artifacts and timed alone,
(a) to the local files, as `floe run` does, and (b) over HTTP to loopback receivers
(POST /api/v1/lineage as Marquez takes it, OTLP/HTTP protobuf on /v1/traces).
Publication events are included in (a) as the run writes them (3 per published table).

    python benchmarks/observability.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import http.server
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import BIN, fresh_demo, timed


class _Sink(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_args: object) -> None:
        return


def _time_reports(products: list[Path], repeats: int, env: dict[str, str]) -> float:
    """Median over ``repeats`` of the summed report_dbt_run time of every product."""
    from floe.runtime.observe.report import report_dbt_run

    totals = []
    for _ in range(repeats):
        total = 0.0
        for product in products:
            run_results = max(
                product.glob("target/*/run_results.json"), key=lambda p: p.stat().st_mtime
            )
            start = time.perf_counter()
            report_dbt_run(product, run_results, "00000000-0000-4000-8000-000000000000", env=env)
            total += time.perf_counter() - start
        totals.append(total)
    return statistics.median(totals)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        demo = fresh_demo(Path(tmp) / "demo")
        timed([str(BIN / "floe"), "demo", "compile", "--demo-dir", str(demo)])
        wall = timed(
            [str(BIN / "floe"), "demo", "run", "--skip-compile", "-j", "1", "--demo-dir", str(demo)]
        )
        products = sorted(p.parent for p in demo.glob("*/compiled_artifacts.json"))
        out = Path(tmp) / "observability"
        local = _time_reports(
            products,
            args.repeats,
            {
                "FLOE_LINEAGE_TRANSPORT": "file",
                "FLOE_SPAN_EXPORTER": "file",
                "FLOE_OBSERVABILITY_DIR": str(out),
            },
        )
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_address[1]}"
        try:
            remote = _time_reports(
                products,
                args.repeats,
                {
                    "FLOE_LINEAGE_TRANSPORT": "http",
                    "FLOE_LINEAGE_ENDPOINT": f"{base}/api/v1/lineage",
                    "FLOE_SPAN_EXPORTER": "otlp",
                    "FLOE_OTLP_ENDPOINT": base,
                    "FLOE_OBSERVABILITY_DIR": str(out),
                },
            )
        finally:
            server.shutdown()
    print(f"observability cost on the demo ({len(products)} products), median of {args.repeats}:")
    print(f"    floe demo run --skip-compile -j 1    {wall:6.2f} s wall (once, whole)")
    for label, seconds in (("to local files", local), ("over loopback HTTP", remote)):
        share = 100 * seconds / wall
        print(f"    lineage + spans {label:<20} {seconds:6.2f} s = {share:4.1f}% of the run")
    print("    target: under 5%")


if __name__ == "__main__":
    main()

"""The demo image's self-check, run inside a container by ``nox -s image_smoke``.

For every product under the demo root (``/app/demo``): its code location loads
(``dagster definitions validate``), every asset materializes (``dagster asset
materialize --select '*'``), the run's lineage and spans are written with their facets,
every gold-tier model has rows in the product's DuckDB file and is published, with the
same rows, to the embedded Iceberg catalog.  ``--read-only``
only reads each generated file (run it as a uid that does not own them).  Prints one
JSON object per check; exits 1 if any failed.

Standard library, duckdb and floe's runtime: this runs on the image's Python (3.10) stack.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

GENERATED = (
    "definitions.py",
    ".floe/profiles.yml",
    "compiled_artifacts.json",
    "target/manifest.json",
)


def products(root: Path) -> list[Path]:
    """Every product, producers before the products that read their tables."""
    found = sorted(p.parent for p in root.glob("*/definitions.py"))
    reads: dict[Path, set[str]] = {}
    names: dict[str, Path] = {}
    for product in found:
        artifacts = json.loads((product / "compiled_artifacts.json").read_text(encoding="utf-8"))
        names[str(artifacts["metadata"]["product_name"])] = product
        reads[product] = {str(i["product"]) for i in artifacts.get("inputs") or []}
    ordered: list[Path] = []
    while len(ordered) < len(found):
        ready = [
            p
            for p in found
            if p not in ordered and all(names.get(n) in ordered for n in reads[p] if n in names)
        ]
        ordered += ready or [p for p in found if p not in ordered]  # a circle: name order
    return ordered


def _report(check: str, product: str, ok: bool, detail: str, **extra: Any) -> bool:
    print(json.dumps({"check": check, "product": product, "ok": ok, "detail": detail, **extra}))
    sys.stdout.flush()
    return ok


def _dagster(args: list[str], cwd: Path, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    return subprocess.run(
        ["dagster", *args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )


def _tail(done: subprocess.CompletedProcess[str], lines: int = 1) -> str:
    """The last lines of a command's output, without colour codes or dagster's prefix."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", (done.stderr or done.stdout).strip())
    kept = [re.sub(r"^.* - (INFO|ERROR|WARNING) - ", "", line) for line in text.splitlines()]
    return " | ".join(kept[-lines:])


def gold_models(product: Path) -> list[str]:
    artifacts = json.loads((product / "compiled_artifacts.json").read_text(encoding="utf-8"))
    return [m["name"] for m in artifacts["transforms"]["models"] if m["tier"] == "gold"]


def duckdb_file(product: Path) -> Path:
    artifacts = json.loads((product / "compiled_artifacts.json").read_text(encoding="utf-8"))
    for profile in artifacts["dbt_profiles"].values():
        output = profile["outputs"][profile["target"]]
        return product / str(output["path"])
    raise ValueError(f"{product}: no dbt profile in compiled_artifacts.json")


def check_product(root: Path, product: Path, home: Path) -> bool:
    module = f"{product.name}.definitions"
    started = time.monotonic()
    done = _dagster(["definitions", "validate", "-m", module], root, home)
    validated = [line for line in _tail(done, 50).split(" | ") if "Validation" in line]
    detail = validated[0] if validated and done.returncode == 0 else _tail(done, 8)
    ok = _report("code location loads", product.name, done.returncode == 0, detail)
    if not ok:
        return False
    done = _dagster(["asset", "materialize", "--select", "*", "-m", module], root, home)
    ok = _report(
        "every asset materializes",
        product.name,
        done.returncode == 0,
        _tail(done, 8) if done.returncode else f"{time.monotonic() - started:.1f} s",
    )
    if not ok:
        return False
    ok = check_observability(product)
    import duckdb

    database = duckdb_file(product)
    marts: dict[str, int] = {}
    with duckdb.connect(str(database), read_only=True) as con:
        for model in gold_models(product):
            row = con.execute(f'select count(*) from "{model}"').fetchone()
            rows = marts[model] = int(row[0]) if row else 0
            ok = _report("mart has rows", product.name, rows > 0, f"{model}: {rows} rows") and ok
    return check_published(root, product, marts) and ok


def check_observability(product: Path) -> bool:
    """The run's lineage (openlineage-python) and spans (OpenTelemetry SDK) on the image's
    stack: the manifest's endpoints are unreachable under --network none, so both land in
    the fallback files; every model run carries its parent, schema and SQL facets."""
    out = product / "target" / "observability"
    try:
        events = [json.loads(line) for line in (out / "openlineage.jsonl").read_text().splitlines()]
        requests = [json.loads(line) for line in (out / "spans.jsonl").read_text().splitlines()]
    except (OSError, ValueError) as exc:
        return _report("lineage and spans written", product.name, False, str(exc))
    models = [
        e
        for e in events
        if e["eventType"] == "COMPLETE"
        and e["job"].get("facets", {}).get("jobType", {}).get("jobType") == "MODEL"
    ]
    rich = [
        e
        for e in models
        if "parent" in e["run"].get("facets", {})
        and "sql" in e["job"]["facets"]
        and "schema" in e["outputs"][0].get("facets", {})
    ]
    spans = sum(
        len(scope["spans"])
        for request in requests
        for resource in request["resourceSpans"]
        for scope in resource["scopeSpans"]
    )
    detail = f"{len(events)} events, {len(rich)}/{len(models)} model runs with parent, sql and"
    detail += f" schema facets; {spans} spans"
    return _report(
        "lineage and spans written",
        product.name,
        bool(models) and rich == models and spans > 0,
        detail,
    )


def check_published(root: Path, product: Path, marts: dict[str, int]) -> bool:
    """Each gold mart is an Iceberg table in the embedded catalog with the mart's rows,
    published (write-audit-publish) under the product's data contract when it has one."""
    from floe.runtime.publish.catalog import list_tables, local_target, open_catalog

    artifacts = json.loads((product / "compiled_artifacts.json").read_text(encoding="utf-8"))
    contract = artifacts.get("contract") or {}
    promised = {t["model"] for t in contract.get("tables", [])}
    expected = f"{contract.get('id')} {contract.get('version')}"
    catalog = open_catalog(local_target(root / ".floe" / "lakehouse"))
    tables = {t.identifier: t for t in list_tables(catalog)}
    ok = True
    for model, rows in marts.items():
        found = tables.get(f"{product.name}.{model}")
        published = found.rows if found else None
        under = found.contract if found else None
        detail = f"{product.name}.{model}: {published} rows, snapshot "
        detail += f"{found.snapshot_id if found else None}, contract {under}"
        good = published == rows and (model not in promised or under == expected)
        ok = _report("published to the lakehouse", product.name, good, detail) and ok
    return ok


def check_distributions() -> bool:
    """Every distribution on sys.path is installed once (the build replaced the base's
    versions instead of layering over them), and pip finds every requirement met, the
    base's own packages' included."""
    from floe.packaging.distributions import duplicates, installed

    twice = duplicates()
    detail = "; ".join(
        f"{name}: " + ", ".join(version for version, _ in found) for name, found in twice.items()
    )
    ok = _report(
        "each distribution installed once",
        "-",
        not twice,
        detail or f"{len(installed())} distributions, no name twice",
    )
    done = subprocess.run(
        [sys.executable, "-m", "pip", "check"], capture_output=True, text=True, check=False
    )
    return (
        _report(
            "pip check",
            "-",
            done.returncode == 0,
            (done.stdout or done.stderr).strip().replace("\n", "; ")[:500],
        )
        and ok
    )


def check_readable(product: Path) -> bool:
    ok = True
    for rel in GENERATED:
        path = product / rel
        try:
            size = len(path.read_bytes())
            ok = _report("generated file readable", product.name, True, f"{rel} ({size} B)") and ok
        except OSError as exc:
            ok = _report("generated file readable", product.name, False, f"{rel}: {exc}") and ok
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m floe.packaging.container_check")
    parser.add_argument("--root", type=Path, default=Path("/app/demo"))
    parser.add_argument("--read-only", action="store_true", help="only read generated files")
    args = parser.parse_args(argv)
    found = products(args.root)
    if not found:
        _report("products found", str(args.root), False, "no <product>/definitions.py")
        return 1
    leftovers = [
        p
        for p in ("/tmp/pip", "/tmp/floe-requirements.txt", "/tmp/replaced.txt")
        if Path(p).exists()
    ]
    leftovers += [k for k in ("PIP_CONFIG_FILE", "PIP_CERT", "PIP_INDEX_URL") if k in os.environ]
    ok = args.read_only or check_distributions()
    ok = (
        _report(
            "no build-host pip settings in the image",
            "-",
            not leftovers,
            ", ".join(leftovers) or "none of /tmp/pip, PIP_CONFIG_FILE, PIP_CERT, PIP_INDEX_URL",
        )
        and ok
    )
    for product in found:
        if args.read_only:
            ok = check_readable(product) and ok
            continue
        with tempfile.TemporaryDirectory(prefix="dagster-home-") as home:
            ok = check_product(args.root, product, Path(home)) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

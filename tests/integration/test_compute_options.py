"""Issue 29 point 4 on real dbt and DuckDB: a product chooses options its platform allows
(more threads, a DuckDB setting, a shared reference database attached read-only); the
generated profile carries them, dbt builds a model over the attached database, and floe's
own reads (row counts, publication) see it the way dbt did."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import yaml

from tests.integration.test_byo_project import OWNER, _floe, make_platform

OPTIONS = {
    "max_threads": 4,
    "settings": ["memory_limit"],
    "attach": [{"alias": "reference", "path": "../reference.duckdb"}],
}


def test_a_chosen_attached_database_is_built_over_and_published(tmp_path: Path) -> None:
    platform = make_platform(tmp_path / "p")
    manifest_path = platform / "manifest.yaml"
    manifest = yaml.safe_load(manifest_path.read_text())
    manifest["plugins"]["compute"]["product_options"] = OPTIONS
    manifest_path.write_text(yaml.safe_dump(manifest, sort_keys=False))
    with duckdb.connect(str(platform / "reference.duckdb")) as con:
        con.execute("create table rates as select * from (values (1, 0.5), (2, 0.25)) t(id, rate)")
    product = platform / "jaffle"
    (product / "models" / "marts" / "rates.sql").write_text("select * from reference.rates\n")
    assert _floe("init", "jaffle", "--owner", OWNER, cwd=platform)[0] == 0
    with (product / "floe.yaml").open("a") as spec:
        spec.write("compute:\n  threads: 3\n  settings: {memory_limit: 512MB}\n")
        spec.write("  attach: [reference]\n")
    code, out, err = _floe("run", "--no-history", cwd=platform)
    assert code == 0, out + err
    profile = yaml.safe_load((product / ".floe" / "profiles.yml").read_text())
    output = profile["jaffle_shop"]["outputs"]["duckdb"]
    assert output["threads"] == 3 and output["settings"] == {"memory_limit": "512MB"}
    assert output["attach"] == [
        {"alias": "reference", "path": "../reference.duckdb", "read_only": True}
    ]
    assert "main.rates                                           2 rows" in out
    code, tables, _err = _floe("catalog", "tables", "--json", cwd=platform)
    assert "jaffle.rates" in [t["identifier"] for t in json.loads(tables)]

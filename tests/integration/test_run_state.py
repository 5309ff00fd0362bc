"""Issue 29 point 3: dbt snapshots and incremental models keep their state across runs
whose working directories are fresh copies (as run pods are) sharing only the platform's
storage: real dbt on DuckDB through the CLI, the state store on the local filesystem
(FLOE_CATALOG=local) and on S3 (moto's server, FLOE_CATALOG=platform's storage half).
Bad input: a damaged saved state is a clear error; a stateful product on a platform with
no state store is a compile finding, blocking at strict."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest
import yaml

from floe.runtime.product import duckdb_file, read_artifacts
from floe.runtime.publish.state import restore_state, save_state
from tests.conftest import run_python
from tests.integration.test_byo_project import OWNER, make_platform
from tests.integration.test_wap_s3 import BUCKET, PREFIX, SECRETS, s3  # noqa: F401 - fixture

SNAPSHOT = """\
snapshots:
  - name: customers_snapshot
    relation: ref('raw_customers')
    config:
      unique_key: id
      strategy: check
      check_cols: [first_name, last_name]
"""
INCREMENTAL = """\
{{ config(materialized='incremental', unique_key='order_id') }}
select order_id, customer_id, amount, current_timestamp as loaded_at
from {{ ref('stg_orders') }}
{% if is_incremental() %}
where order_id > (select max(order_id) from {{ this }})
{% endif %}
"""
GENERATED = ("target", "*.duckdb", "*.wal", ".floe", "logs")


def _floe(*args: str, cwd: Path, shared: Path, **env: str) -> tuple[int, str, str]:
    done = run_python(
        "-m",
        "floe.cli",
        *args,
        cwd=cwd,
        FLOE_STATE_DIR=str(shared / "state"),
        FLOE_LAKEHOUSE_DIR=str(shared / "lakehouse"),
        **env,
    )
    return done.returncode, done.stdout, done.stderr


def stateful_platform(root: Path, *, state: bool = True, level: str | None = None) -> Path:
    platform = make_platform(root, level=level)
    manifest_path = platform / "manifest.yaml"
    manifest = yaml.safe_load(manifest_path.read_text())
    if not state:
        manifest.pop("state", None)
    manifest_path.write_text(yaml.safe_dump(manifest, sort_keys=False))
    product = platform / "jaffle"
    (product / "snapshots").mkdir()
    (product / "snapshots" / "customers_snapshot.yml").write_text(SNAPSHOT)
    (product / "models" / "orders_incremental.sql").write_text(INCREMENTAL)
    return platform


def fresh_copy(platform: Path, dest: Path) -> Path:
    """The platform's files as a new run pod has them: no DuckDB file, no target/."""
    shutil.copytree(platform, dest, ignore=shutil.ignore_patterns(*GENERATED))
    return dest


def _query(product: Path, sql: str) -> list[tuple[object, ...]]:
    database = duckdb_file(product, read_artifacts(product))
    with duckdb.connect(str(database), read_only=True) as con:
        return con.execute(sql).fetchall()


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("state")
    shared = root / "shared"
    platform = stateful_platform(root / "a")
    code, _out, err = _floe("init", "jaffle", "--owner", OWNER, cwd=platform, shared=shared)
    assert code == 0, err
    code, out, err = _floe("run", "--no-history", cwd=platform, shared=shared)
    assert code == 0, out + err
    assert "state   -> customers_snapshot: none saved yet (dbt builds it from empty)" in out
    assert "state   -> customers_snapshot: saved 4 rows to " in out
    return platform, shared


@pytest.fixture(scope="module")
def second_run(first_run: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh copy with one customer renamed and one order added, run on the same
    storage."""
    platform, shared = first_run
    fresh = fresh_copy(platform, tmp_path_factory.mktemp("pod") / "b")
    seeds = fresh / "jaffle" / "seeds"
    customers = seeds / "raw_customers.csv"
    customers.write_text(customers.read_text().replace("1,Michael,P.", "1,Michael,Q."))
    with (seeds / "raw_orders.csv").open("a") as orders:
        orders.write("6,2,2018-01-06,placed,40\n")
    code, out, err = _floe("run", "--no-history", cwd=fresh, shared=shared)
    assert code == 0, out + err
    assert "state   -> customers_snapshot: restored 4 rows from " in out
    assert "state   -> orders_incremental: restored 5 rows from " in out
    return fresh


def test_a_snapshot_accumulates_history_across_fresh_working_directories(
    second_run: Path,
) -> None:
    """Issue 29.3: a changed source row gives two snapshot rows for its key."""
    rows = _query(
        second_run / "jaffle",
        "select id, last_name, dbt_valid_to is null from customers_snapshot "
        "order by id, dbt_valid_from",
    )
    assert [r for r in rows if r[0] == 1] == [(1, "P.", False), (1, "Q.", True)]
    assert len(rows) == 5


def test_an_incremental_model_appends_across_fresh_working_directories(
    second_run: Path,
) -> None:
    """Issue 29.3: the second run adds only the new order; the first run's rows keep the
    time they were loaded at (no silent full rebuild)."""
    rows = _query(
        second_run / "jaffle",
        "select count(*), count(distinct loaded_at), "
        "min(loaded_at) filter (where order_id = 1) < max(loaded_at) filter (where order_id = 6) "
        "from orders_incremental",
    )
    assert rows == [(6, 2, True)]


def test_state_already_in_the_duckdb_file_is_kept_not_restored(
    first_run: tuple[Path, Path],
) -> None:
    """Locally the file persists: a restore costs nothing."""
    platform, shared = first_run
    code, out, err = _floe("run", "--no-history", "--skip-compile", cwd=platform, shared=shared)
    assert code == 0, out + err
    assert "state   -> customers_snapshot: kept (already in the DuckDB file)" in out


def test_a_damaged_saved_state_stops_the_run_with_a_clear_error(
    first_run: tuple[Path, Path], tmp_path: Path
) -> None:
    """Issue 29 bad input: a corrupted saved state; nothing is silently rebuilt."""
    platform, shared = first_run
    damaged = tmp_path / "shared"
    shutil.copytree(shared, damaged)
    pointer = damaged / "state" / "jaffle" / "state.json"
    pointer.write_text(pointer.read_text()[:40])
    fresh = fresh_copy(platform, tmp_path / "c")
    code, out, err = _floe("run", "--no-history", cwd=fresh, shared=damaged)
    assert code == 6
    text = out + err
    assert "FLOE960" in text and "the saved run state is unreadable" in text
    assert str(pointer) in text and "Traceback" not in text


@pytest.mark.parametrize(
    ("level", "code", "word"), [("warn", 0, "warning"), ("strict", 7, "error")]
)
def test_stateful_models_without_a_state_store_are_a_compile_finding(
    tmp_path: Path, level: str, code: int, word: str
) -> None:
    """Issue 29.3: never a silent full rebuild - a finding per stateful node, blocking
    at strict."""
    platform = stateful_platform(tmp_path / "p", state=False, level=level)
    shared = tmp_path / "shared"
    assert _floe("init", "jaffle", "--owner", OWNER, cwd=platform, shared=shared)[0] == 0
    done, out, err = _floe("compile", cwd=platform, shared=shared)
    assert done == code, out + err
    text = out + err
    assert f"{word} FLOE-S001 customers_snapshot: snapshot keeps its state in the DuckDB" in text
    assert f"{word} FLOE-S001 orders_incremental: incremental keeps its state" in text
    assert "each run would rebuild it in full" in text


def test_state_saved_to_and_restored_from_s3(
    first_run: tuple[Path, Path],
    s3: str,  # noqa: F811 - the fixture
    tmp_path: Path,
) -> None:
    """The cluster's half: FLOE_CATALOG=platform keeps the state in the storage plugin's
    bucket (moto's S3 server here), endpoint and credentials from the manifest."""
    platform, _shared = first_run
    product = platform / "jaffle"
    artifacts = json.loads((product / "compiled_artifacts.json").read_text())
    storage = artifacts["plugins"]["storage"]["config"]
    assert storage["bucket"] == BUCKET
    storage["endpoint"] = s3  # the compiled manifest's MinIO, here the S3 server
    (product / "compiled_artifacts.json").write_text(json.dumps(artifacts))
    env = {"FLOE_CATALOG": "platform", **SECRETS}
    try:
        saved = save_state(product, "run-s3", None, env=env)
        assert saved[0].startswith("state ") and f"to s3://{BUCKET}/floe-state/jaffle" in saved[0]
        fresh = fresh_copy(platform, tmp_path / "pod") / "jaffle"
        (fresh / "target").mkdir()
        shutil.copy(product / "target" / "manifest.json", fresh / "target")
        restored = restore_state(fresh, "run-s3-2", env=env)
    finally:
        artifacts["plugins"]["storage"]["config"]["endpoint"] = "http://floe-platform-minio:9000"
        (product / "compiled_artifacts.json").write_text(json.dumps(artifacts))
    assert any("customers_snapshot: restored 4 rows from s3://" in line for line in restored)
    import boto3

    listed = boto3.client(
        "s3",
        endpoint_url=s3,
        aws_access_key_id=SECRETS[f"{PREFIX}MINIO_ROOT_USER"],
        aws_secret_access_key=SECRETS[f"{PREFIX}MINIO_ROOT_PASSWORD"],
        region_name="us-east-1",
    ).list_objects_v2(Bucket=BUCKET, Prefix="floe-state/jaffle/")
    keys = sorted(o["Key"].rsplit("/", 1)[1] for o in listed["Contents"])
    assert keys == [
        "main.customers_snapshot.run-s3.parquet",
        "main.orders_incremental.run-s3.parquet",
        "state.json",
    ]
    assert _query(fresh, "select count(*) from orders_incremental") == [(5,)]

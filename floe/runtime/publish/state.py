"""Run state (issue 29 point 3): dbt snapshots and incremental models keep their state
across runs that start with an empty working directory, as every run pod does.

Why relations and not the DuckDB file: the file holds every table, view and seed a run
rebuilds anyway; only a snapshot's history and an incremental model's rows must outlive a
run.  So after a build, each stateful relation dbt built successfully is saved as Parquet
(DuckDB's own writer, zstd) to the platform's state store; before the next build, a
relation the DuckDB file lacks is restored from it (DuckDB's read_parquet).  A relation
already in the file (locally the file persists) is left alone: locally a restore costs
nothing and the save is one Parquet write per relation.  The price, measured by
benchmarks/run_state.py on a 1 GiB file: when a tenth of it is state, save + restore
take 0.6-2x a local copy of the whole file out and back and move a tenth of the bytes;
when all of it is state, re-encoding costs 5-7x the byte copy.

One mechanism, two filesystems (``pyarrow.fs``), the same switch as the catalog:
``FLOE_CATALOG=local`` -> ``<platform>/.floe/state`` (or ``FLOE_STATE_DIR``);
``FLOE_CATALOG=platform`` -> ``s3://<storage bucket>/<state prefix>`` with the storage
plugin's endpoint and credentials (resolved at run time, never written).

Layout per product: ``<root>/<product module>/state.json`` (the pointer: which file holds
each relation, which run saved it) and ``<schema>.<identifier>.<run id>.parquet``.  The
data files are written first and the pointer last (a rename locally, one PUT on S3), so
a run killed half-way leaves the previous state whole.  A pointer that does not parse or
names a missing file stops the run with a clear error: restoring nothing would silently
rebuild a snapshot without its history.
Python 3.10, standard library at import.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from floe.errors import LakehouseError, Location
from floe.runtime.product import duckdb_file, read_artifacts
from floe.runtime.publish.catalog import CATALOG_ENV, LOCAL, PLATFORM, resolve_reference

STATE_DIR_ENV = "FLOE_STATE_DIR"
POINTER = "state.json"
RUN_NOTES = Path("target") / "state_notes.json"  # this run's lines, for floe run's summary


class StateError(LakehouseError):
    """The saved state cannot be read or written."""

    code = "FLOE960"


@dataclass(frozen=True)
class StateStore:
    filesystem: Any  # pyarrow.fs.FileSystem
    root: str  # the product's folder in ``filesystem``
    description: str  # what the output says (never a credential)
    object_store: bool = False  # S3: no folders to create; one PUT replaces an object whole

    def path(self, name: str) -> str:
        return f"{self.root}/{name}"


def state_store(
    product_dir: Path, artifacts: Mapping[str, Any], env: Mapping[str, str] | None = None
) -> StateStore:
    """The product's folder in the platform's state store, for this environment."""
    from pyarrow import fs

    env = os.environ if env is None else env
    prefix = artifacts["state"]["prefix"]
    product = str(artifacts["metadata"]["product_name"]).replace("-", "_")
    kind = env.get(CATALOG_ENV, LOCAL)
    if kind == PLATFORM:
        storage = (artifacts["plugins"].get("storage") or {}).get("config")
        if not storage:
            raise StateError(
                f"{CATALOG_ENV}=platform but the manifest declares no storage plugin to keep "
                "run state in",
                hint="declare plugins.storage (the bucket state: uses)",
            )
        endpoint = urlparse(str(storage["endpoint"])) if storage.get("endpoint") else None
        keys = {
            name: resolve_reference(storage[key], env, f"storage {key}")
            for name, key in (("access_key", "access_key_id"), ("secret_key", "secret_access_key"))
            if storage.get(key)
        }
        filesystem = fs.S3FileSystem(
            region=storage.get("region", "us-east-1"),
            endpoint_override=endpoint.netloc if endpoint else None,
            scheme=endpoint.scheme if endpoint else "https",
            force_virtual_addressing=not storage.get("path_style_access", True),
            **keys,
        )
        key = f"{storage['bucket']}/{prefix}/{product}"
        return StateStore(filesystem, key, f"s3://{key}", object_store=True)
    if kind != LOCAL:
        raise StateError(f"{CATALOG_ENV}={kind!r}: expected {LOCAL!r} or {PLATFORM!r}")
    default = Path(product_dir).resolve().parent / ".floe" / "state"
    root = Path(env.get(STATE_DIR_ENV, str(default))).resolve() / product
    return StateStore(fs.LocalFileSystem(), root.as_posix(), str(root))


def _pointer(store: StateStore) -> dict[str, Any] | None:
    from pyarrow import fs

    path = store.path(POINTER)
    if store.filesystem.get_file_info(path).type == fs.FileType.NotFound:
        return None
    try:
        with store.filesystem.open_input_stream(path) as stream:
            data = json.loads(stream.read().decode("utf-8"))
        if not isinstance(data.get("relations"), dict):
            raise ValueError("no 'relations' mapping")
        return data  # type: ignore[no-any-return]
    except (OSError, ValueError, AttributeError, UnicodeDecodeError) as exc:
        raise StateError(
            f"the saved run state is unreadable: {exc}",
            Location(Path(store.path(POINTER))),
            hint="it was not written by floe, or was damaged; move it away to start the "
            "snapshots and incremental models from empty (their history is then lost)",
        ) from None


def _key(relation: Mapping[str, Any]) -> str:
    return f"{relation['schema_name']}.{relation['identifier']}"


def _quoted(relation: Mapping[str, Any]) -> str:
    return f'"{relation["schema_name"]}"."{relation["identifier"]}"'


def restore_state(
    product_dir: Path, run_id: str, env: Mapping[str, str] | None = None
) -> list[str]:
    """Before dbt: put back each stateful relation the DuckDB file lacks; one line each."""
    product_dir = Path(product_dir).resolve()
    artifacts = read_artifacts(product_dir)
    state = artifacts.get("state")
    if not state:
        return []
    import duckdb

    store = state_store(product_dir, artifacts, env)
    pointer = _pointer(store)
    saved = (pointer or {}).get("relations", {})
    database = duckdb_file(product_dir, artifacts)
    database.parent.mkdir(parents=True, exist_ok=True)
    lines = []
    con = duckdb.connect(str(database))
    try:
        present = {
            f"{schema}.{table}"
            for schema, table in con.execute(
                "select table_schema, table_name from information_schema.tables"
            ).fetchall()
        }
        for relation in state["relations"]:
            key, name = _key(relation), relation["name"]
            if key in present:
                lines.append(f"state {name}: kept (already in the DuckDB file)")
                continue
            entry = saved.get(key)
            if entry is None:
                lines.append(f"state {name}: none saved yet (dbt builds it from empty)")
                continue
            path = store.path(str(entry["file"]))
            con.execute(f'create schema if not exists "{relation["schema_name"]}"')
            try:
                with _local_copy(store, path, database.parent) as local:
                    con.execute(
                        f"create table {_quoted(relation)} as select * from read_parquet(?)",
                        [str(local)],
                    )
            except (OSError, duckdb.Error) as exc:
                raise StateError(
                    f"saved state of {name} cannot be read: {exc}",
                    Location(Path(path)),
                    hint=f"{store.path(POINTER)} names it; move that file away to start "
                    "from empty (the history is then lost)",
                ) from None
            rows = con.execute(f"select count(*) from {_quoted(relation)}").fetchone()
            lines.append(
                f"state {name}: restored {rows[0] if rows else 0} rows from "
                f"{store.description} (saved by run {entry.get('run_id', '?')})"
            )
    finally:
        con.close()
    _note(product_dir, run_id, lines, fresh=True)
    return lines


def run_notes(product_dir: Path, run_id: str) -> list[str]:
    """What restore and save said in run ``run_id`` (empty for another run)."""
    try:
        data = json.loads((Path(product_dir) / RUN_NOTES).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return [str(line) for line in data.get("lines", [])] if data.get("run_id") == run_id else []


def _note(product_dir: Path, run_id: str, lines: list[str], fresh: bool) -> None:
    kept = [] if fresh else run_notes(product_dir, run_id)
    from floe.atomic import write_atomic

    write_atomic(
        Path(product_dir) / RUN_NOTES, json.dumps({"run_id": run_id, "lines": [*kept, *lines]})
    )


def save_state(
    product_dir: Path,
    run_id: str,
    run_results: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> list[str]:
    """After dbt: save each stateful relation dbt built successfully in this run (with no
    ``run_results``, every one present); one line each.  A relation whose node failed
    keeps its previously saved state."""
    product_dir = Path(product_dir).resolve()
    artifacts = read_artifacts(product_dir)
    state = artifacts.get("state")
    if not state:
        return []
    import duckdb

    succeeded = _succeeded(run_results) if run_results is not None else None
    store = state_store(product_dir, artifacts, env)
    previous = _pointer(store) or {"relations": {}}
    relations = dict(previous["relations"])
    if not store.object_store:
        store.filesystem.create_dir(store.root, recursive=True)
    lines = []
    tag = "".join(c if c.isalnum() or c in "-_" else "_" for c in run_id)
    database = duckdb_file(product_dir, artifacts)
    scratch = database.parent
    con = duckdb.connect(str(database), read_only=True)
    try:
        for relation in state["relations"]:
            name = relation["name"]
            if succeeded is not None and relation["node"] not in succeeded:
                lines.append(f"state {name}: not saved (not built in this run); kept as it was")
                continue
            file = f"{_key(relation)}.{tag}.parquet"
            with _staged(store, store.path(file), scratch) as local:
                con.execute(
                    f"copy (select * from {_quoted(relation)}) to '{_sql_text(local)}' "
                    "(format parquet, compression zstd)"
                )
            rows = con.execute(f"select count(*) from {_quoted(relation)}").fetchone()
            count = rows[0] if rows else 0
            relations[_key(relation)] = {"file": file, "run_id": run_id, "rows": count}
            lines.append(f"state {name}: saved {count} rows to {store.description}")
    finally:
        con.close()
    _write_pointer(store, {"run_id": run_id, "saved_at": _now(), "relations": relations})
    _sweep(store, {str(v["file"]) for v in relations.values()})
    _note(product_dir, run_id, lines, fresh=False)
    return lines


def _sql_text(path: Path) -> str:
    return str(path).replace("'", "''")


@contextlib.contextmanager
def _staged(store: StateStore, path: str, scratch: Path) -> Iterator[Path]:
    """A local file to write ``path`` through: the store's own file locally, a scratch
    file uploaded afterwards (one PUT) on S3.  Nothing is left behind on failure."""
    if not store.object_store:
        local = Path(path)
        try:
            yield local
        except BaseException:
            local.unlink(missing_ok=True)
            raise
        return
    local = scratch / f".floe-state-{Path(path).name}"
    try:
        yield local
        with local.open("rb") as source, store.filesystem.open_output_stream(path) as sink:
            shutil.copyfileobj(source, sink, 8 << 20)
    finally:
        local.unlink(missing_ok=True)


@contextlib.contextmanager
def _local_copy(store: StateStore, path: str, scratch: Path) -> Iterator[Path]:
    """``path`` as a local file DuckDB can read (downloaded to scratch from S3)."""
    if not store.object_store:
        yield Path(path)
        return
    local = scratch / f".floe-state-{Path(path).name}"
    try:
        with store.filesystem.open_input_stream(path) as source, local.open("wb") as sink:
            shutil.copyfileobj(source, sink, 8 << 20)
        yield local
    finally:
        local.unlink(missing_ok=True)


def _sweep(store: StateStore, referenced: set[str]) -> None:
    """Delete the product's state files the pointer no longer names (earlier runs', and a
    killed run's half-written one)."""
    from pyarrow import fs

    try:
        listed = store.filesystem.get_file_info(fs.FileSelector(store.root))
    except OSError:
        return
    for info in listed:
        name = info.base_name
        if name.endswith(".parquet") and name not in referenced:
            with contextlib.suppress(OSError):  # gone already
                store.filesystem.delete_file(info.path)


def _succeeded(run_results: Path) -> set[str]:
    try:
        data = json.loads(Path(run_results).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    return {
        str(r.get("unique_id"))
        for r in data.get("results") or []
        if str(r.get("status")) in {"success", "pass"}
    }


def _write_pointer(store: StateStore, data: Mapping[str, Any]) -> None:
    body = (json.dumps(data, indent=2, sort_keys=True) + "\n").encode("utf-8")
    if store.object_store:
        with store.filesystem.open_output_stream(store.path(POINTER)) as stream:
            stream.write(body)  # one PUT: readers see the old or the new pointer
        return
    temporary = store.path(f".{POINTER}.tmp")
    with store.filesystem.open_output_stream(temporary) as stream:
        stream.write(body)
    store.filesystem.move(temporary, store.path(POINTER))  # a rename: atomic


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")

"""Write-audit-publish on an Iceberg table, with PyIceberg's own branches.

1. **Write**: the new data becomes one OVERWRITE snapshot on an audit branch
   (``audit-<run id>``) made at main's current snapshot, in one catalog commit (with the
   table's schema evolution, and the table itself on a first publication).  Readers of
   main see nothing of it.
2. **Audit**: the caller checks what was written (:class:`Written`: the snapshot, its
   record count) and decides.
3. **Publish**: main moves to the audited snapshot, the table properties are set and the
   audit branch is removed, in one catalog commit that asserts main did not move since
   the write.  If another publication moved it, the write is replayed on top of the new
   main with the same data files (nothing is written again) and published, up to
   :data:`ATTEMPTS` times; otherwise a clear error, with main on a committed snapshot.
   A failed audit instead records why on the table (``floe.audit.failed.<branch>``),
   keeps the branch for inspection and puts back the schema main had.

Where PyIceberg 0.12 lacks a piece: a transaction cannot create a branch ref and write
on it through the public API (``ManageSnapshots`` commits on its own), and there is no
public call to set the current schema back; floe stages those updates with the
transaction's own ``_set_ref_snapshot``/``_stage`` (the calls ``ManageSnapshots`` uses).
Iceberg keeps one schema per table, not per branch: the write's schema evolution is
visible to main's readers between the write and the audit (new columns read as nulls),
and put back when the audit fails.

Python 3.10; pyiceberg is imported when used.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from floe.errors import LakehouseError

if TYPE_CHECKING:  # pragma: no cover
    from pyiceberg.catalog import Catalog
    from pyiceberg.table import Table

AUDIT_PREFIX = "audit-"
FAILED_PREFIX = "floe.audit.failed."
ATTEMPTS = 5
DEFAULT_RETENTION_DAYS = 7
# Properties of the tables floe creates: data files of at most 128 MiB, so a large
# publication is written as several files in parallel (PyIceberg writes one file per
# thread); snappy, DuckDB's own Parquet default: 5M rows publish at ~0.76x the rate of
# DuckDB's COPY TO parquet, against ~0.47x with zstd (benchmarks/lakehouse.py).
# floe retries a conflicting commit itself (write_branch, publish_branch): PyIceberg's
# own retry rebuilds the snapshot from refreshed metadata, which does not hold for a write
# that names the files it replaces on a branch made in the same commit.
TABLE_PROPERTIES = {
    "write.target-file-size-bytes": str(128 * 1024 * 1024),
    "write.parquet.compression-codec": "snappy",
    "commit.retry.num-retries": "0",
}


def audit_branch(run_id: str) -> str:
    return f"{AUDIT_PREFIX}{run_id}"


@dataclass
class Written:
    """What the write put on the audit branch."""

    identifier: str
    branch: str
    snapshot_id: int
    rows: int  # records in the data files written
    snapshot_rows: int  # total-records of the branch snapshot, as the catalog has it
    base_snapshot_id: int | None  # main when the branch was made
    schema_before: int | None  # main's schema id before the write (None: a new table)
    schema_changed: bool
    data_files: list[Any] = field(default_factory=list)
    # False for a table's first write: PyIceberg allows no branch on a table without a
    # snapshot, so that write is a staged snapshot (no ref) until it is published, and
    # the branch is made only if its audit fails (to keep it for inspection)
    branch_exists: bool = True


class PublicationConflict(LakehouseError):
    """Other publications kept moving main; this one did not become current."""

    code = "FLOE921"


class AuditFailed(LakehouseError):
    """What was written failed an audit: main is unchanged, the audit branch is kept."""

    code = "FLOE920"


def _schema_error(identifier: str, exc: Exception) -> LakehouseError:
    import re

    text = str(exc)
    column = re.search(r"column type: ([^:]+):", text) or re.search(r"field[: ]+'?([\w.]+)", text)
    where = f" column {column.group(1)}:" if column else ""
    return LakehouseError(
        f"cannot publish {identifier}:{where} incompatible schema change ({text}); "
        "the table keeps its current snapshot",
        hint="make the change compatible (add columns, widen int->long, float->double), "
        "or drop the table to recreate it",
    )


def _branch_ref(tx: Any, snapshot_id: int, branch: str) -> None:
    """Stage ``branch`` -> ``snapshot_id`` in the transaction (created or moved)."""
    from pyiceberg.table.refs import SnapshotRefType

    updates, requirements = tx._set_ref_snapshot(
        snapshot_id=snapshot_id, ref_name=branch, type=SnapshotRefType.BRANCH
    )
    tx._stage(updates, requirements)


def _current_files(table: Table, snapshot_id: int | None) -> list[Any]:
    if snapshot_id is None:
        return []
    return [task.file for task in table.scan(snapshot_id=snapshot_id).plan_files()]


def load_table(catalog: Catalog, identifier: str) -> Table | None:
    from pyiceberg.exceptions import NoSuchNamespaceError, NoSuchTableError

    try:
        return catalog.load_table(identifier)
    except (NoSuchTableError, NoSuchNamespaceError):
        return None


def write_branch(
    catalog: Catalog,
    identifier: str,
    schema: Any,
    batches: Callable[[], Any],
    snapshot_properties: Mapping[str, str],
    branch: str,
) -> Written:
    """Write ``batches()`` (an Arrow RecordBatchReader, opened only now) as one overwrite
    snapshot on ``branch`` in one commit; main is untouched.  A commit that meets another
    writer's (the catalog's optimistic concurrency) is written again from a fresh read of
    the table, up to :data:`ATTEMPTS` times."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return _write_branch(catalog, identifier, schema, batches, snapshot_properties, branch)
        except Exception as exc:
            if not is_conflict(exc):
                raise
            if attempt == ATTEMPTS:
                raise PublicationConflict(
                    f"{identifier}: {ATTEMPTS} attempts to write the audit branch {branch} "
                    f"met other writers' commits ({exc}); main is on a committed snapshot",
                    hint="run again",
                ) from None
            time.sleep(0.05 * attempt)
    raise AssertionError("unreachable")  # pragma: no cover


def _write_branch(
    catalog: Catalog,
    identifier: str,
    schema: Any,
    batches: Callable[[], Any],
    snapshot_properties: Mapping[str, str],
    branch: str,
) -> Written:
    from pyiceberg.exceptions import ResolveError, ValidationError
    from pyiceberg.io.pyarrow import _check_pyarrow_schema_compatible, _dataframe_to_data_files

    from floe.disk import disk_errno

    catalog.create_namespace_if_not_exists(identifier.rsplit(".", 1)[0])
    table = load_table(catalog, identifier)
    transaction: Any
    if table is None:  # created by the same commit that writes its first snapshot
        transaction = catalog.create_table_transaction(
            identifier, schema=schema, properties=TABLE_PROPERTIES
        )
        base, schema_before, current = None, None, []
    else:
        transaction = table.transaction()
        main = table.current_snapshot()
        base = main.snapshot_id if main is not None else None
        schema_before = table.metadata.current_schema_id
        current = _current_files(table, base)
    io = _Recording(transaction._table.io)
    transaction._table.io = io  # manifests too: what a failed write made is removed
    rows, committing = 0, False
    files: list[Any] = []
    try:
        with transaction as tx:
            try:
                with tx.update_schema() as update:
                    update.union_by_name(schema)
                _check_pyarrow_schema_compatible(
                    tx.table_metadata.schema(), schema, downcast_ns_timestamp_to_us=True
                )
            except (ValueError, ValidationError, ResolveError) as exc:
                raise _schema_error(identifier, exc) from exc
            if base is not None:
                _branch_ref(tx, base, branch)
            producer = tx.update_snapshot(
                snapshot_properties={**snapshot_properties, "floe.audit.branch": branch},
                branch=branch if table is not None else None,
            ).overwrite()
            with producer as commit:
                for old in current:
                    commit.delete_data_file(old)
                for new in _dataframe_to_data_files(
                    table_metadata=tx.table_metadata,
                    write_uuid=commit.commit_uuid,
                    df=batches(),
                    io=io,  # type: ignore[arg-type]
                ):
                    rows += new.record_count
                    files.append(new)
                    commit.append_data_file(new)
            committing = True  # leaving the block commits to the catalog
    except BaseException as exc:
        # a failed write leaves no partial or orphaned file behind; a commit whose outcome
        # is unknown (a REST catalog that timed out) may have committed them: kept; a
        # full local disk failed the metadata write before the catalog's pointer moved
        if not committing or is_conflict(exc) or disk_errno(exc) is not None:
            io.remove_written()
        if isinstance(exc, OSError):
            location = str(transaction.table_metadata.location)
            raise _write_error(identifier, exc, location) from exc
        raise
    new_table = table is None
    table = catalog.load_table(identifier)
    snapshot = _staged(table, branch) if new_table else table.snapshot_by_name(branch)
    if snapshot is None:  # pragma: no cover - the commit above made it
        raise LakehouseError(f"{identifier}: the audit branch {branch} has no snapshot")
    return Written(
        identifier=identifier,
        branch=branch,
        snapshot_id=snapshot.snapshot_id,
        rows=rows,
        snapshot_rows=_total_records(snapshot),
        base_snapshot_id=base,
        schema_before=schema_before,
        schema_changed=schema_before is not None
        and table.metadata.current_schema_id != schema_before,
        data_files=files,
        branch_exists=not new_table,
    )


class _Recording:
    """A table's FileIO that remembers every file it opened for writing."""

    def __init__(self, io: Any) -> None:
        self._io = io
        self.written: list[str] = []

    def new_output(self, location: str) -> Any:
        self.written.append(location)  # list.append is atomic: pyiceberg writes in threads
        return self._io.new_output(location)

    def remove_written(self) -> None:
        for location in self.written:
            with contextlib.suppress(Exception):
                self._io.delete(location)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._io, name)


def _write_error(identifier: str, exc: OSError, location: str) -> LakehouseError:
    """ENOSPC/EROFS (issue 28 point 3) name the table's location and say main is kept."""
    from floe.disk import PROBLEMS, disk_errno

    number = disk_errno(exc)
    if number is None:
        return LakehouseError(f"cannot write {identifier}: {exc}")
    return LakehouseError(
        f"cannot write {identifier} to {location} (its Iceberg data files): "
        f"{PROBLEMS[number]}; main keeps its committed snapshot, the partial files were "
        "removed",
        hint="free space there (or make it writable) and run again",
    )


def _staged(table: Table, branch: str) -> Any:
    """The snapshot a first write staged (no ref points at it yet)."""
    mine = [
        snap
        for snap in table.snapshots()
        if snap.summary and snap.summary.additional_properties.get("floe.audit.branch") == branch
    ]
    return max(mine, key=lambda snap: snap.timestamp_ms) if mine else None


def _total_records(snapshot: Any) -> int:
    props = snapshot.summary.additional_properties if snapshot.summary else {}
    return int(props.get("total-records", 0))


def _rebase(catalog: Catalog, written: Written, snapshot_properties: Mapping[str, str]) -> Written:
    """The same data files as a new branch snapshot on top of main as it is now (another
    publication moved it): nothing is written again."""
    table = catalog.load_table(written.identifier)
    main = table.current_snapshot()
    base = main.snapshot_id if main is not None else None
    with table.transaction() as tx:
        if base is not None:
            _branch_ref(tx, base, written.branch)
        producer = tx.update_snapshot(
            snapshot_properties={**snapshot_properties, "floe.audit.branch": written.branch},
            branch=written.branch,
        ).overwrite()
        with producer as commit:
            for old in _current_files(table, base):
                commit.delete_data_file(old)
            for new in written.data_files:
                commit.append_data_file(new)
    table = catalog.load_table(written.identifier)
    snapshot = table.snapshot_by_name(written.branch)
    assert snapshot is not None
    written.snapshot_id = snapshot.snapshot_id
    written.snapshot_rows = _total_records(snapshot)
    written.base_snapshot_id = base
    return written


def is_conflict(exc: BaseException) -> bool:
    """Whether a failed commit met another writer's (retrying may succeed)."""
    from pyiceberg.exceptions import CommitFailedException, ValidationException

    if isinstance(exc, CommitFailedException | ValidationException):
        return True
    # the SQL catalog applies a snapshot made from metadata another writer has since
    # moved on as a ValueError ("sequence number ... older than ...")
    return isinstance(exc, ValueError) and "sequence number" in str(exc)


def publish_branch(
    catalog: Catalog,
    written: Written,
    table_properties: Mapping[str, str],
    snapshot_properties: Mapping[str, str],
    audit: Callable[[Written], None],
    retention_days: float = DEFAULT_RETENTION_DAYS,
) -> Table:
    """Audit ``written`` (``audit`` raises a LakehouseError such as AuditFailed) and make
    it main's current snapshot in one commit; old audit branches are removed in the same
    commit.  When another publication moved main meanwhile, the same data files are put
    on top of the new main first (nothing is written again)."""
    from pyiceberg.table.update.snapshot import ManageSnapshots

    for attempt in range(1, ATTEMPTS + 1):
        try:
            audit(written)
        except LakehouseError as failed:  # AuditFailed, ContractViolation: main unchanged
            why = "; ".join([failed.message, *failed.details])
            record_failed_audit(catalog, written, why)
            raise
        try:
            table = catalog.load_table(written.identifier)
            main = table.current_snapshot()
            if (main.snapshot_id if main else None) != written.base_snapshot_id:
                written = _rebase(catalog, written, snapshot_properties)
                table = catalog.load_table(written.identifier)
            tx = table.transaction()
            tx.set_properties({**dict(table_properties), "commit.retry.num-retries": "0"})
            stale = expired_branches(table, retention_days, keep=written.branch)
            records = [
                f"{FAILED_PREFIX}{b}" for b in stale if f"{FAILED_PREFIX}{b}" in table.properties
            ]
            if records:
                tx.remove_properties(*records)
            manage = ManageSnapshots(tx)
            manage.set_current_snapshot(snapshot_id=written.snapshot_id)
            if written.branch_exists:
                manage.remove_branch(written.branch)
            for branch in stale:
                manage.remove_branch(branch)
            manage.commit()
            return tx.commit_transaction()
        except Exception as exc:
            if not is_conflict(exc) or attempt == ATTEMPTS:
                if is_conflict(exc):
                    break
                raise
            time.sleep(0.05 * attempt)
    raise PublicationConflict(
        f"{written.identifier}: {ATTEMPTS} concurrent publications moved main while this "
        "one published; it did not become current (main is on a committed snapshot)",
        hint=f"its data is kept on the audit branch {written.branch}; run again",
    )


def record_failed_audit(catalog: Catalog, written: Written, reason: str) -> None:
    """Keep the branch, say why it failed, and put back main's schema."""
    from pyiceberg.table.update import AssertCurrentSchemaId, SetCurrentSchemaUpdate

    for _ in range(ATTEMPTS):
        table = catalog.load_table(written.identifier)
        tx = table.transaction()
        tx.set_properties({f"{FAILED_PREFIX}{written.branch}": reason[:1000]})
        if not written.branch_exists and written.branch not in table.metadata.refs:
            _branch_ref(tx, written.snapshot_id, written.branch)
        current_schema = table.metadata.current_schema_id
        if written.schema_before is not None and current_schema != written.schema_before:
            tx._stage(
                (SetCurrentSchemaUpdate(schema_id=written.schema_before),),
                (AssertCurrentSchemaId(current_schema_id=current_schema),),
            )
        try:
            tx.commit_transaction()
            return
        except Exception as exc:
            if not is_conflict(exc):
                raise
            time.sleep(0.05)


def audit_branches(table: Table) -> dict[str, int]:
    """audit branch -> its snapshot id."""
    return {
        name: ref.snapshot_id
        for name, ref in table.metadata.refs.items()
        if name.startswith(AUDIT_PREFIX)
    }


def expired_branches(table: Table, retention_days: float, keep: str = "") -> list[str]:
    """Audit branches whose snapshot is older than the retention."""
    cutoff_ms = (time.time() - retention_days * 86400) * 1000
    out = []
    for name, snapshot_id in sorted(audit_branches(table).items()):
        snapshot = table.snapshot_by_id(snapshot_id)
        if name != keep and (snapshot is None or snapshot.timestamp_ms < cutoff_ms):
            out.append(name)
    return out


def rollback_record(
    table: Table, to_snapshot: int, by: str, why: str, limit: int = 20
) -> dict[str, str]:
    """Table properties recording a rollback (the last ``limit`` are kept)."""
    current = table.current_snapshot()
    entry = {
        "to": str(to_snapshot),
        "from": str(current.snapshot_id) if current else None,
        "by": by,
        "why": why,
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    try:
        earlier = json.loads(table.properties.get("floe.rollbacks", "[]"))
    except ValueError:
        earlier = []
    entries = [*earlier, entry][-limit:]
    return {"floe.rollbacks": json.dumps(entries, separators=(",", ":"))}

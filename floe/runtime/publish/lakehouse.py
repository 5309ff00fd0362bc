"""Publication: a product's published models leave DuckDB as Arrow and become the current
snapshot of an Iceberg table, by write-audit-publish (floe.runtime.publish.wap).

For one model, in order:

1. **Gate**: anything the model depends on that failed in this run's ``dbt build``
   blocks it (floe.runtime.publish.gate); nothing is written.
2. **Contract** (when the product's contract has the table): the data is checked in
   DuckDB (column set and types, ``required``, ``unique``/``primaryKey``, quality rules)
   and the contract's version against the one the table was last published under (a
   version that does not allow the change fails here, before anything is written).
3. **Write** the data to the audit branch ``audit-<run id>``.
4. **Audit** what was written: its record count against the source's, and the contract
   checks.  A failure keeps main as it was and the branch for inspection.
5. **Publish**: main moves to the audited snapshot in one commit, with the contract's
   record in the table properties.

Python 3.10, standard library at import (pyiceberg and duckdb load when used).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from floe.contracts.checks import CheckReport, RuleError, check_relation
from floe.contracts.model import (
    ContractTable,
    DataContract,
    published_contract,
    snapshot_properties,
)
from floe.contracts.model import table_properties as table_properties_of
from floe.contracts.versioning import check_version
from floe.errors import ContractViolation, LakehouseError
from floe.runtime.product import (
    namespace_of,
    open_duckdb,
    read_artifacts,
    relation_of,
)
from floe.runtime.publish import wap
from floe.runtime.publish.catalog import catalog_namespace, catalog_target, open_catalog
from floe.runtime.publish.gate import (
    PublicationBlocked,
    proven_guarantees,
    read_blockers,
    this_runs_results,
)

if TYPE_CHECKING:  # pragma: no cover
    from pyiceberg.catalog import Catalog

BATCH_ROWS = 250_000  # Arrow batches streamed from DuckDB (benchmarks/lakehouse.py)
TABLE_PROPERTIES = wap.TABLE_PROPERTIES


@dataclass(frozen=True)
class Published:
    identifier: str
    catalog: str
    snapshot_id: int
    rows: int
    location: str
    schema_changed: bool
    namespace_uri: str = ""
    columns: tuple[tuple[str, str], ...] = ()  # the table's (name, Iceberg type), in order
    contract: dict[str, Any] | None = None  # id, version, fingerprint, checks passed
    audits: tuple[str, ...] = ()  # what was audited on the branch before main moved
    audit_branch: str = ""

    def metadata(self) -> dict[str, Any]:
        out = {
            "catalog": self.catalog,
            "table": self.identifier,
            "snapshot_id": str(self.snapshot_id),
            "rows": self.rows,
            "location": self.location,
            "audits": ", ".join(self.audits),
        }
        if self.contract:
            out["contract"] = f"{self.contract['id']} {self.contract['version']}"
        return out


@dataclass
class Source:
    """What is about to be published, as DuckDB has it."""

    rows: int
    schema: Any  # Arrow schema
    checked: CheckReport | None = None
    audits: list[str] = field(default_factory=list)


def arrow_batches(relation: Any) -> Any:
    """A DuckDB relation as a stream of Arrow record batches (bounded memory); duckdb 1.x
    (the image's) names the call fetch_record_batch, duckdb 2 to_arrow_reader."""
    to_reader = getattr(relation, "to_arrow_reader", None) or relation.fetch_record_batch
    return to_reader(BATCH_ROWS)


def _arrow_schema(relation: Any) -> Any:
    empty = relation.limit(0)
    to_table = getattr(empty, "to_arrow_table", None) or empty.arrow
    return to_table().schema


def publish_arrow(
    catalog: Catalog,
    identifier: str,
    data: Any,
    properties: Mapping[str, str],
    *,
    run_id: str = "direct",
    table_properties: Mapping[str, str] | None = None,
    audit: Any = None,
    retention_days: float = wap.DEFAULT_RETENTION_DAYS,
) -> Published:
    """Write-audit-publish ``data`` (an Arrow table or RecordBatchReader) as
    ``identifier``'s new current snapshot: the audit is the written record count against
    the data's (plus ``audit(written)`` when given).  Any failure leaves main on its
    previous snapshot."""
    expected = data.num_rows if hasattr(data, "num_rows") else None
    branch = wap.audit_branch(run_id)
    written = wap.write_branch(catalog, identifier, data.schema, lambda: data, properties, branch)

    def audits(w: wap.Written) -> None:
        _audit_rows(w, expected if expected is not None else w.rows)
        if audit is not None:
            audit(w)

    table = wap.publish_branch(
        catalog, written, table_properties or {}, properties, audits, retention_days
    )
    return _published(table, written, ["row count"])


def _audit_rows(written: wap.Written, expected: int) -> None:
    if written.rows != expected or written.snapshot_rows != expected:
        raise wap.AuditFailed(
            f"{written.identifier}: audit 'row count' failed: the source has {expected} rows, "
            f"the files written hold {written.rows} and the branch snapshot "
            f"{written.snapshot_id} {written.snapshot_rows}; main keeps its current snapshot",
            hint=f"the written data is kept on the audit branch {written.branch}",
        )


def _published(table: Any, written: wap.Written, audits: list[str]) -> Published:
    snapshot = table.current_snapshot()
    assert snapshot is not None
    return Published(
        identifier=written.identifier,
        catalog="",
        snapshot_id=snapshot.snapshot_id,
        rows=written.rows,
        location=table.location(),
        schema_changed=written.schema_changed,
        columns=tuple((f.name, str(f.field_type)) for f in table.schema().fields),
        audits=tuple(audits),
        audit_branch=written.branch,
    )


def product_contract(
    artifacts: Mapping[str, Any], model: str
) -> tuple[DataContract | None, ContractTable | None]:
    """The product's compiled contract and its table for ``model`` (None when absent)."""
    data = artifacts.get("contract")
    if not data:
        return None, None
    contract = DataContract.model_validate(data)
    return contract, contract.table(model)


def check_contract(
    con: Any,
    relation: str,
    contract: DataContract,
    table: ContractTable,
    identifier: str,
    proven: Mapping[str, set[str]] | None = None,
) -> CheckReport:
    """The data against its contract table (a SQL rule that does not run is a
    ContractViolation naming the rule); guarantees a dbt test proved on the same relation
    in this run (``proven``) are not computed again."""
    try:
        return check_relation(con, relation, table, proven)
    except RuleError as exc:
        raise ContractViolation(
            f"{identifier}: contract {contract.id} {contract.version}: {exc}; "
            "the table keeps its current snapshot",
            hint="fix the rule in datacontract.yaml ({object} and {property} stand for the "
            "table and the column)",
        ) from None


def contract_breaches(
    report: CheckReport, contract: DataContract, identifier: str, branch: str
) -> ContractViolation:
    return ContractViolation(
        f"{identifier} breaks contract {contract.id} {contract.version}: "
        f"{len(report.breaches)} of {report.checked} checks failed on {report.rows} rows; "
        "main keeps its current snapshot",
        hint=f"the data is kept on the audit branch {branch} for inspection",
        details=[str(b) for b in report.breaches[:20]],
    )


def retention_days(artifacts: Mapping[str, Any]) -> float:
    governance = artifacts.get("governance") or {}
    value = governance.get("audit_branch_retention_days")
    return float(value) if value is not None else float(wap.DEFAULT_RETENTION_DAYS)


def gate(
    product_dir: Path, model: str, run_id: str, identifier: str, env: Mapping[str, str] | None
) -> Path | None:
    """PublicationBlocked when something ``model`` depends on failed in this run; else the
    run's run_results.json (None when the run's dbt step reported none)."""
    results = this_runs_results(product_dir, run_id, env)
    found = read_blockers(results, model) if results is not None else []
    if found:
        raise PublicationBlocked(
            f"{identifier}: not published: blocked by {', '.join(found[:5])}"
            + (f" and {len(found) - 5} more" if len(found) > 5 else ""),
            hint="the product's other tables publish; fix what failed and run again",
            details=found[5:20],
        )
    return results


def publish_model(
    product_dir: Path, model: str, run_id: str, env: Mapping[str, str] | None = None
) -> Published:
    """Publish one dbt model of a product (after its dbt build) by write-audit-publish."""

    product_dir = Path(product_dir).resolve()
    artifacts = read_artifacts(product_dir)
    identifier = f"{namespace_of(artifacts)}.{model}"
    results = gate(product_dir, model, run_id, identifier, env)
    target = catalog_target(product_dir, artifacts, env)
    catalog = open_catalog(target)
    metadata = artifacts["metadata"]
    properties = {
        "floe.run_id": run_id,
        "floe.product": str(metadata["product_name"]),
        "floe.product_version": str(metadata["product_version"]),
        "floe.model": model,
    }
    contract, table = product_contract(artifacts, model)
    table_properties: dict[str, str] = {}
    con = open_duckdb(product_dir, artifacts)
    try:
        relation_name = relation_of(product_dir, model)
        relation = con.sql(f"select * from {relation_name}")
        source = Source(rows=0, schema=_arrow_schema(relation), audits=["row count"])
        if contract is not None and table is not None:
            proven = proven_guarantees(results, model)
            source.checked = check_contract(con, relation_name, contract, table, identifier, proven)
            source.rows = source.checked.rows
            source.audits.append(f"contract {contract.id} {contract.version}")
            current = wap.load_table(catalog, identifier)
            check_version(
                contract,
                table,
                published_contract(current.properties if current is not None else {}),
                identifier,
            )
            properties.update(snapshot_properties(contract, table))
            table_properties = table_properties_of(contract, table)
        else:
            counted = con.execute(f"select count(*) from {relation_name}").fetchall()
            source.rows = int(counted[0][0])
        branch = wap.audit_branch(run_id)
        written = wap.write_branch(
            catalog,
            identifier,
            source.schema,
            lambda: arrow_batches(con.sql(f"select * from {relation_name}")),
            properties,
            branch,
        )
    finally:
        con.close()

    def audits(w: wap.Written) -> None:
        _audit_rows(w, source.rows)
        if source.checked is not None and not source.checked.ok:
            assert contract is not None
            raise contract_breaches(source.checked, contract, identifier, w.branch)

    iceberg = wap.publish_branch(
        catalog, written, table_properties, properties, audits, retention_days(artifacts)
    )
    published = _published(iceberg, written, source.audits)
    contract_info = (
        {
            "id": contract.id,
            "version": contract.version,
            "fingerprint": table.fingerprint(),
            "checks": source.checked.checked if source.checked else 0,
        }
        if contract is not None and table is not None
        else None
    )
    return Published(
        **{
            **published.__dict__,
            "catalog": target.description,
            "namespace_uri": target.namespace_uri,
            "contract": contract_info,
        }
    )


def publish_and_report(
    product_dir: Path, model: str, run_id: str, env: Mapping[str, str] | None = None
) -> Published:
    """publish_model, with OpenLineage START and COMPLETE (or FAIL) events naming the
    Iceberg table as the output dataset."""
    from floe.runtime.observe.report import report_publication

    product_dir = Path(product_dir).resolve()
    artifacts = read_artifacts(product_dir)
    identifier = f"{namespace_of(artifacts)}.{model}"
    dataset = (catalog_namespace(product_dir, artifacts, env), identifier)
    report_publication(product_dir, model, dataset, run_id, None, env=env)
    try:
        published = publish_model(product_dir, model, run_id, env)
    except Exception as exc:
        report_publication(product_dir, model, dataset, run_id, exc, env=env)
        raise
    report_publication(product_dir, model, dataset, run_id, published, env=env)
    return published


__all__ = [
    "BATCH_ROWS",
    "TABLE_PROPERTIES",
    "LakehouseError",
    "Published",
    "arrow_batches",
    "publish_and_report",
    "publish_arrow",
    "publish_model",
]

"""`floe contract init` and `floe contract diff`: a first data contract from what floe
knows of a product, and what changed in one against another or the published one.

init reads the product's compiled dbt manifest (target/manifest.json) and, where the
product has run, its DuckDB file: the published models become the contract's tables,
their columns and types the properties (types from the built relations, else the
``data_type`` the YAML declares, else guessed), ``not_null`` tests ``required``,
``unique`` tests ``unique`` (with ``not_null`` too: ``primaryKey``), the dbt docs the
descriptions.  It never replaces an existing contract.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from floe.compiler.contracts import output_columns
from floe.compiler.governance.graph import DbtGraph, DbtModel, build_graph
from floe.compiler.loader import load_manifest, load_spec
from floe.compiler.pipeline import resolve_manifest_path
from floe.compiler.selection import product_transforms
from floe.compiler.writer import write_atomic
from floe.contracts.checks import logical_type_of
from floe.contracts.diff import Change, diff_contracts, diff_table, needed_version, verdict
from floe.contracts.load import load_contract
from floe.contracts.model import CONTRACT_FILE, DataContract
from floe.errors import (
    ConfigFileNotFound,
    ContractVersionError,
    Location,
    OutputError,
    PrerequisiteError,
)
from floe.local.products import SPEC_FILE
from floe.product_files import ARTIFACTS_FILE

ODCS_API_VERSION = "v3.1.0"
HEADER = (
    "# The data contract of {product}: what its published tables promise their consumers\n"
    "# (Open Data Contract Standard v3). Written by `floe contract init` from the dbt project\n"
    "# and its built tables; yours to edit: floe never rewrites it. floe checks it at compile\n"
    "# and before every publication; a change consumers rely on needs a new version\n"
    "# (a breaking one a new major): `floe contract diff` tells which.\n"
)


@dataclass
class Initialized:
    path: Path
    tables: list[str]
    guesses: list[str] = field(default_factory=list)


def _dbt_graph(product_dir: Path) -> tuple[DbtGraph, dict[str, Any]]:
    manifest_path = product_dir / "target" / "manifest.json"
    if not manifest_path.is_file():
        raise PrerequisiteError(
            f"{product_dir.name} has no compiled dbt manifest (target/manifest.json)",
            Location(manifest_path),
            hint=f"run `floe compile --platform-dir {product_dir.parent}` first",
        )
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    return build_graph(manifest), manifest


def _built_columns(product_dir: Path, model: DbtModel) -> dict[str, str]:
    """column -> DuckDB type of the model's built relation ({} when not built)."""
    artifacts_path = product_dir / ARTIFACTS_FILE
    if not artifacts_path.is_file():
        return {}
    from floe.runtime.product import duckdb_file, relation_of

    artifacts = json.loads(artifacts_path.read_text(encoding="utf-8"))
    database = duckdb_file(product_dir, artifacts)
    if not database.is_file():
        return {}
    import duckdb

    try:
        with duckdb.connect(str(database), read_only=True) as con:
            rows = con.execute(
                f"describe select * from {relation_of(product_dir, model.name)}"
            ).fetchall()
    except Exception:  # not built yet, or built by another schema: fall back to the manifest
        return {}
    return {str(r[0]): str(r[1]) for r in rows}


def _property(
    model: DbtModel,
    name: str,
    duckdb_type: str | None,
    guesses: list[str],
    untyped: list[str],
) -> dict[str, Any]:
    key = name.lower()
    tests = model.column_tests.get(key, frozenset()) | model.column_constraints.get(
        key, frozenset()
    )
    logical = logical_type_of(duckdb_type) if duckdb_type else None
    if logical is None and model.declared_types.get(key):
        logical = logical_type_of(model.declared_types[key])
    prop: dict[str, Any] = {"name": name}
    if logical is not None:
        prop["logicalType"] = logical
    else:
        untyped.append(name)
    if duckdb_type:
        prop["physicalType"] = duckdb_type
    description = model.columns.get(key, "")
    if description:
        prop["description"] = description
    not_null = bool(tests & {"not_null", "primary_key"})
    unique = bool(tests & {"unique", "primary_key"})
    if not_null and unique:
        prop["primaryKey"] = True
        guesses.append(f"{model.name}.{name}: primaryKey from its unique and not_null tests")
    elif unique:
        prop["unique"] = True
    if not_null:
        prop["required"] = True
    return prop


def init_contract(product_dir: Path) -> Initialized:
    """Write PRODUCT_DIR/datacontract.yaml; OutputError (exit 9) if one exists."""
    product_dir = Path(product_dir)
    path = product_dir / CONTRACT_FILE
    if path.exists():
        raise OutputError(
            "refusing to replace an existing data contract",
            Location(path),
            hint="edit it, or move it away to write a fresh one",
        )
    spec = load_spec(product_dir / SPEC_FILE).model
    graph, _manifest = _dbt_graph(product_dir)
    published = [t.name for t in product_transforms(product_dir, spec) if t.published]
    guesses: list[str] = []
    schema = []
    for name in published:
        model = graph.models.get(name)
        if model is None:
            continue
        built = _built_columns(product_dir, model)
        if built:
            columns = list(built)
        else:
            from_sql = output_columns(model.compiled_sql)
            columns = list(model.columns) or sorted(from_sql or [])
            guesses.append(
                f"{name}: columns from the dbt manifest, not a built table (after `floe "
                "run`, a fresh init reads the exact columns and types)"
            )
        entry: dict[str, Any] = {
            "name": name,
            "physicalName": name,
            "physicalType": "table",
        }
        if model.description:
            entry["description"] = model.description
        untyped: list[str] = []
        entry["properties"] = [_property(model, c, built.get(c), guesses, untyped) for c in columns]
        if untyped:
            guesses.append(
                f"{name}: no logicalType for {', '.join(untyped)} (no built table and no "
                "data_type in the YAML; types are then not checked)"
            )
        schema.append(entry)
    document: dict[str, Any] = {
        "apiVersion": ODCS_API_VERSION,
        "kind": "DataContract",
        "id": spec.metadata.name,
        "name": spec.metadata.name,
        "version": "1.0.0",
        "status": "active",
        "dataProduct": spec.metadata.name,
    }
    if spec.metadata.labels.get("domain"):
        document["domain"] = spec.metadata.labels["domain"]
    if spec.metadata.description:
        document["description"] = {"purpose": spec.metadata.description}
    document["schema"] = schema
    text = HEADER.format(product=spec.metadata.name) + yaml.safe_dump(
        document, sort_keys=False, allow_unicode=True, width=100
    )
    write_atomic(path, text)
    load_contract(path)  # what was written is a valid contract
    return Initialized(path=path, tables=[e["name"] for e in schema], guesses=guesses)


@dataclass
class DiffReport:
    against: str
    lines: list[str]
    changes: list[Change]
    needed: dict[str, str]  # table (or "*") -> the version it needs

    def to_dict(self) -> dict[str, Any]:
        return {
            "against": self.against,
            "changes": [c.to_dict() for c in self.changes],
            "needed_versions": self.needed,
            "ok": not self.needed,
        }


def diff_against_file(product_dir: Path, other: Path) -> DiffReport:
    new = load_contract(Path(product_dir) / CONTRACT_FILE)
    if not other.is_file():
        raise ConfigFileNotFound("no such contract to compare with", Location(other))
    old = load_contract(other)
    changes = diff_contracts(old, new)
    need = needed_version(old.version, new.version, changes)
    lines = [str(c) for c in changes] + [verdict(old.version, new.version, changes)]
    needed = {"*": need} if need else {}
    lines += consumers_affected(product_dir, new, changes, needed)
    return DiffReport(str(other), lines, changes, needed)


def diff_against_published(product_dir: Path, env: dict[str, str] | None = None) -> DiffReport:
    from floe.runtime.publish.catalog import catalog_target, published_contracts

    product_dir = Path(product_dir)
    new = load_contract(product_dir / CONTRACT_FILE)
    artifacts = _artifacts_for(product_dir)
    published = published_contracts(product_dir, artifacts, [t.model for t in new.tables], env)
    where = catalog_target(product_dir, artifacts, env).description
    lines: list[str] = []
    changes: list[Change] = []
    needed: dict[str, str] = {}
    for table in new.tables:
        old = published.get(table.model)
        if old is None:
            lines.append(f"{table.model}: not published under a contract yet ({where})")
            continue
        found = diff_table(table.model, old.terms, table.schema_terms())
        changes += found
        lines += [str(c) for c in found]
        lines.append(f"{table.model}: {verdict(old.version, new.version, found)}")
        need = needed_version(old.version, new.version, found)
        if need:
            needed[table.model] = need
    lines += consumers_affected(product_dir, new, changes, needed)
    return DiffReport(f"published ({where})", lines, changes, needed)


def consumers_affected(
    product_dir: Path, new: DataContract, changes: list[Change], needed: dict[str, str]
) -> list[str]:
    """The products of the platform that read a changed table of this one, and how the
    change meets them: outside the contract range they accept, or removing a column
    their models read."""
    from floe.compiler.inputs import platform_products
    from floe.compiler.sql_reads import columns_read
    from floe.contracts.semver import parse_range
    from floe.schemas.spec import INPUT_SCHEMA

    product_dir = Path(product_dir)
    products = platform_products(product_dir.parent, strict=False)
    me = next(
        (p for p in products.values() if p.directory.resolve() == product_dir.resolve()), None
    )
    if me is None:
        return []
    changed = {c.table for c in changes}
    lines = []
    for consumer in products.values():
        for wanted in consumer.spec.inputs:
            if wanted.product != me.name or wanted.table not in changed:
                continue
            need = needed.get(wanted.table) or needed.get("*")
            accepted = parse_range(wanted.contract)
            if need and not accepted.contains(need):
                verdict_text = f"the change needs {need}, outside the {wanted.contract} it accepts"
            elif not accepted.contains(new.version):
                verdict_text = f"{new.version} is outside the {wanted.contract} it accepts"
            else:
                verdict_text = f"{new.version} is inside the {wanted.contract} it accepts"
            removed = {
                str(c.column).lower()
                for c in changes
                if c.table == wanted.table and c.breaking and c.column
            }
            read: set[str] = set()
            manifest_path = consumer.directory / "target" / "manifest.json"
            if removed and manifest_path.is_file():
                manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
                for node in (manifest.get("nodes") or {}).values():
                    found = columns_read(
                        str(node.get("compiled_code") or ""), INPUT_SCHEMA, wanted.relation
                    )
                    read |= found or set()
            touched = sorted(removed & read)
            also = f"; its models read {', '.join(touched)}" if touched else ""
            lines.append(f"consumer {consumer.name} reads {wanted.table}: {verdict_text}{also}")
    return lines


def _artifacts_for(product_dir: Path) -> dict[str, Any]:
    """The product's compiled artifacts (where its catalog is), compiling nothing: the
    last compile's file."""
    path = product_dir / ARTIFACTS_FILE
    if not path.is_file():
        spec = load_spec(product_dir / SPEC_FILE)
        load_manifest(resolve_manifest_path(spec, None))
        raise PrerequisiteError(
            f"{product_dir.name} is not compiled (no {ARTIFACTS_FILE})",
            Location(path),
            hint=f"run `floe compile --platform-dir {product_dir.parent}` first",
        )
    return dict(json.loads(path.read_text(encoding="utf-8")))


def raise_if_unversioned(report: DiffReport, contract: DataContract | None = None) -> None:
    if not report.needed:
        return
    breaking = [c for c in report.changes if c.breaking]
    raise ContractVersionError(
        f"the contract's version does not allow its changes against {report.against}",
        expected=", ".join(f"{t}: {v} or later" for t, v in report.needed.items()),
        found=contract.version if contract else None,
        hint="bump the version (a breaking change needs a new major), or undo the change",
        details=[str(c) for c in (breaking or report.changes)],
    )

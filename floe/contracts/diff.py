"""What changed between two versions of a contract, and which version the change needs.

Compared per table on what consumers rely on (:meth:`ContractColumn.schema_terms`:
column names, logical types, ``required``, ``unique``/``primaryKey``).  Breaking: a table
or column removed (a rename is a removal and an addition), a type changed, a column made
``required`` that was not or no longer required, a ``unique`` guarantee dropped.  Not
breaking: a table or column added, a ``unique`` guarantee added.  Semver: a breaking
change needs a new major version; any other change of what consumers rely on needs at
least a new minor version.

Standard library only; Python 3.10.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from floe.contracts.model import DataContract, parse_semver, version_key

Terms = Sequence[Mapping[str, Any]]  # a table's columns as schema_terms()


@dataclass(frozen=True)
class Change:
    table: str
    column: str | None
    what: str
    breaking: bool

    def __str__(self) -> str:
        where = f"{self.table}.{self.column}" if self.column else self.table
        kind = "breaking" if self.breaking else "non-breaking"
        return f"{kind:<12} {where}: {self.what}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "column": self.column,
            "change": self.what,
            "breaking": self.breaking,
        }


def diff_table(table: str, old: Terms, new: Terms) -> list[Change]:
    before = {str(c["name"]).lower(): c for c in old}
    after = {str(c["name"]).lower(): c for c in new}
    out: list[Change] = []
    for key, was in before.items():
        now = after.get(key)
        name = str(was["name"])
        if now is None:
            out.append(Change(table, name, "column removed (or renamed)", True))
            continue
        if was.get("logicalType") != now.get("logicalType"):
            out.append(
                Change(
                    table,
                    name,
                    f"logical type {was.get('logicalType')} -> {now.get('logicalType')}",
                    True,
                )
            )
        if bool(was.get("required")) != bool(now.get("required")):
            what = "made required" if now.get("required") else "no longer required"
            out.append(Change(table, name, what, True))
        if bool(was.get("unique")) and not bool(now.get("unique")):
            out.append(Change(table, name, "unique guarantee dropped", True))
        elif not bool(was.get("unique")) and bool(now.get("unique")):
            out.append(Change(table, name, "unique guarantee added", False))
    for key, now in after.items():
        if key not in before:
            required = " (required)" if now.get("required") else ""
            out.append(Change(table, str(now["name"]), f"column added{required}", False))
    return out


def diff_contracts(old: DataContract, new: DataContract) -> list[Change]:
    out: list[Change] = []
    for table in old.tables:
        current = new.table(table.model)
        if current is None:
            out.append(Change(table.model, None, "table removed from the contract", True))
            continue
        out.extend(diff_table(table.model, table.schema_terms(), current.schema_terms()))
    for table in new.tables:
        if old.table(table.model) is None:
            out.append(Change(table.model, None, "table added to the contract", False))
    return out


def needed_version(old_version: str, new_version: str, changes: Sequence[Change]) -> str | None:
    """The lowest version the change needs when ``new_version`` is too low; else None."""
    major, minor, _patch, _pre = parse_semver(old_version)
    if any(c.breaking for c in changes):
        need = f"{major + 1}.0.0"
    elif changes:
        need = f"{major}.{minor + 1}.0"
    else:
        return None
    return need if version_key(new_version) < version_key(need) else None


def verdict(old_version: str, new_version: str, changes: Sequence[Change]) -> str:
    """One line: whether the version moves as the changes need."""
    need = needed_version(old_version, new_version, changes)
    breaking = sum(1 for c in changes if c.breaking)
    if need is None:
        if not changes:
            return f"no change consumers rely on ({old_version} -> {new_version})"
        return (
            f"{len(changes)} change(s), {breaking} breaking: version {old_version} -> "
            f"{new_version} is enough"
        )
    kind = "breaking" if breaking else "non-breaking"
    return (
        f"{len(changes)} change(s), {breaking} breaking: version {old_version} -> "
        f"{new_version} is not enough for a {kind} change; it needs {need} or later"
    )

"""Semver against what was published: a publication (and a compile) may only move a
table's contract the way its changes allow (floe.contracts.diff)."""

from __future__ import annotations

from floe.contracts.diff import Change, diff_table, needed_version
from floe.contracts.model import ContractTable, DataContract, PublishedContract
from floe.errors import ContractVersionError, Location


def version_problem(
    contract: DataContract, table: ContractTable, published: PublishedContract | None
) -> tuple[list[Change], str | None]:
    """(changes since the published contract, the version they need when the contract's
    is too low, else None)."""
    if published is None:
        return [], None
    changes = diff_table(table.model, published.terms, table.schema_terms())
    return changes, needed_version(published.version, contract.version, changes)


def check_version(
    contract: DataContract,
    table: ContractTable,
    published: PublishedContract | None,
    identifier: str,
    where: Location | None = None,
) -> list[Change]:
    """The changes since the published contract; ContractVersionError naming each one and
    the version the contract must move to when its version does not allow them."""
    changes, need = version_problem(contract, table, published)
    if need is None:
        return changes
    assert published is not None
    breaking = [c for c in changes if c.breaking]
    kind = "breaking change(s)" if breaking else "change(s)"
    raise ContractVersionError(
        f"{identifier}: contract {contract.id} {contract.version} has {len(breaking or changes)} "
        f"{kind} against the published {published.version} and needs version {need}",
        where,
        expected=f"version {need} or later",
        found=contract.version,
        hint="bump the contract's version (a breaking change needs a new major), or undo "
        "the change; `floe contract diff` lists them",
        details=[str(c) for c in changes],
    )

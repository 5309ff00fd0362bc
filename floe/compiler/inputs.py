"""Compile-time resolution of a product's inputs: published tables of other products of
the same platform, read through the catalog under the producer's data contract.

For each input: the producer exists in the platform directory, publishes the table, has
a data contract for it whose version is inside the accepted range; the consumer's dbt
project declares it as a source (``floe input add`` writes that file); and every column
the consumer's models read from it is in the producer's contract.  Products that read
each other in a circle are an error naming the circle.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from floe.compiler.loader import Loaded, load_spec
from floe.compiler.selection import product_transforms
from floe.compiler.sql_reads import STAR, columns_read
from floe.contracts.load import find_contract, load_contract
from floe.contracts.model import DataContract
from floe.contracts.semver import parse_range
from floe.errors import FloeError, InputError, Location
from floe.schemas.artifacts import ResolvedInput
from floe.schemas.spec import INPUT_SCHEMA, FloeSpec, InputSpec, find_cycle, module_name

SPEC_FILE = "floe.yaml"


@dataclass(frozen=True)
class Producer:
    name: str
    directory: Path
    spec: FloeSpec


def platform_products(platform_dir: Path, *, strict: bool = True) -> dict[str, Producer]:
    """product name -> the product (every directory with a floe.yaml); with ``strict``
    off, a floe.yaml that does not load is left out (its own compile reports it)."""
    out = {}
    for path in sorted(Path(platform_dir).glob(f"*/{SPEC_FILE}")):
        try:
            spec = load_spec(path).model
        except FloeError:
            if strict:
                raise
            continue
        out[spec.metadata.name] = Producer(spec.metadata.name, path.parent, spec)
    return out


def product_graph(products: Mapping[str, Producer]) -> dict[str, list[str]]:
    """consumer -> the products it reads."""
    return {
        name: sorted({i.product for i in p.spec.inputs}) for name, p in sorted(products.items())
    }


def check_no_cycle(products: Mapping[str, Producer], spec_path: Path) -> None:
    cycle = find_cycle(product_graph(products))
    if cycle:
        raise InputError(
            f"products read each other in a circle: {' -> '.join(cycle)}",
            Location(spec_path),
            hint="a product's inputs must come from products that do not read it back",
        )


def _source(manifest: Mapping[str, Any], spec_input: InputSpec) -> dict[str, Any] | None:
    for node in (manifest.get("sources") or {}).values():
        if (
            node.get("source_name") == spec_input.source_name
            and node.get("name") == spec_input.table
        ):
            return dict(node)
    return None


def _readers(manifest: Mapping[str, Any], source_id: str) -> list[dict[str, Any]]:
    return [
        dict(node)
        for node in (manifest.get("nodes") or {}).values()
        if node.get("resource_type") == "model"
        and source_id in ((node.get("depends_on") or {}).get("nodes") or [])
    ]


def resolve_inputs(
    spec: Loaded[FloeSpec], dbt_manifest: Mapping[str, Any], platform_dir: Path
) -> list[ResolvedInput]:
    """The spec's inputs resolved against the platform; InputError (located in floe.yaml,
    or at the consumer model's file) for the first that does not resolve."""
    if not spec.model.inputs:
        return []
    products = platform_products(platform_dir)
    check_no_cycle(products, spec.path)
    out = []
    for index, wanted in enumerate(spec.model.inputs):
        out.append(_resolve(spec, index, wanted, products, dbt_manifest))
    return out


def _resolve(
    spec: Loaded[FloeSpec],
    index: int,
    wanted: InputSpec,
    products: Mapping[str, Producer],
    manifest: Mapping[str, Any],
) -> ResolvedInput:
    here = ("inputs", index)
    producer = products.get(wanted.product)
    if producer is None:
        raise InputError(
            f"input {wanted.product}.{wanted.table}: no product {wanted.product} in the platform",
            spec.locate((*here, "product")),
            expected=", ".join(sorted(n for n in products if n != spec.model.metadata.name))
            or "another product directory beside this one",
            found=wanted.product,
        )
    transforms = product_transforms(producer.directory, producer.spec)
    transform = next((t for t in transforms if t.name == wanted.table), None)
    if transform is None or not transform.published:
        why = "has no model" if transform is None else "does not publish"
        raise InputError(
            f"input {wanted.product}.{wanted.table}: {wanted.product} {why} {wanted.table}",
            spec.locate((*here, "table")),
            expected="one of its published tables: "
            + (", ".join(t.name for t in transforms if t.published) or "none"),
        )
    contract = _producer_contract(spec, here, wanted, producer)
    accepted = parse_range(wanted.contract)
    if not accepted.contains(contract.version):
        raise InputError(
            f"input {wanted.product}.{wanted.table}: {wanted.product}'s contract "
            f"{contract.id} is at version {contract.version}, outside the accepted range "
            f"{wanted.contract}",
            spec.locate((*here, "contract")),
            expected=f"a contract version in {wanted.contract}",
            found=contract.version,
            hint="review what changed (floe contract diff on the producer), then widen the range",
        )
    source = _source(manifest, wanted)
    relation = f"{INPUT_SCHEMA}.{wanted.relation}"
    if source is None or (
        str(source.get("schema")).lower() != INPUT_SCHEMA
        or str(source.get("identifier") or source.get("name")).lower() != wanted.relation.lower()
    ):
        raise InputError(
            f"input {wanted.product}.{wanted.table}: the dbt project declares no source "
            f"{wanted.source_name}.{wanted.table} on {relation}",
            spec.locate(here),
            expected=f"a dbt source '{wanted.source_name}' (schema {INPUT_SCHEMA}) with table "
            f"'{wanted.table}' (identifier {wanted.relation})",
            hint=f"floe input add {spec.path.parent} {wanted.product}.{wanted.table} writes it",
        )
    table = contract.table(wanted.table)
    assert table is not None
    promised = {c.name.lower() for c in table.columns}
    for model in _readers(manifest, str(source["unique_id"])):
        read = columns_read(str(model.get("compiled_code") or ""), INPUT_SCHEMA, wanted.relation)
        missing = sorted((read or set()) - promised - {STAR})
        if missing:
            raise InputError(
                f"model {model['name']} reads {', '.join(missing)} from "
                f"{wanted.product}.{wanted.table}, which its contract {contract.id} "
                f"{contract.version} does not promise (accepted range {wanted.contract})",
                Location(spec.path.parent / str(model.get("original_file_path", ""))),
                expected=f"columns of the contract: {', '.join(sorted(promised))}",
                found=", ".join(missing),
                hint="read only what the producer's contract promises, or ask its owners to "
                "add the column to their contract",
            )
    return ResolvedInput(
        product=wanted.product,
        product_module=module_name(wanted.product),
        table=wanted.table,
        identifier=f"{module_name(wanted.product)}.{wanted.table}",
        contract_range=wanted.contract,
        contract_version=contract.version,
        source=wanted.source_name,
        relation=relation,
    )


def _producer_contract(
    spec: Loaded[FloeSpec], here: tuple[Any, ...], wanted: InputSpec, producer: Producer
) -> DataContract:
    path = find_contract(producer.directory)
    contract = load_contract(path) if path else None
    if contract is None or contract.table(wanted.table) is None:
        raise InputError(
            f"input {wanted.product}.{wanted.table}: {wanted.product} publishes {wanted.table} "
            "without a data contract; products read each other's tables under contract",
            spec.locate((*here, "table")),
            hint=f"its owners run floe contract init {producer.directory}",
        )
    return contract

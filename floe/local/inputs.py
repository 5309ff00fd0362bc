"""`floe input add PRODUCT_DIR PRODUCER.TABLE`: declare another product's published table
as an input of this one.

Two edits, each made once and never again: the input is appended to the product's
floe.yaml (its text is kept as written; floe.yaml is only touched because this command
was asked to), and the dbt source the models read it from is written as
``<model path>/_floe_inputs__<producer module>.yml``.  A sources file that already
exists is never rewritten: the command then says what to add to it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from floe.compiler.dbt import read_dbt_project
from floe.compiler.inputs import platform_products
from floe.compiler.loader import load_spec
from floe.compiler.selection import product_transforms
from floe.compiler.writer import write_atomic
from floe.contracts.load import find_contract, load_contract
from floe.contracts.model import parse_semver
from floe.errors import InputError, Location, OutputError
from floe.schemas.spec import INPUT_SCHEMA, InputSpec, module_name

SPEC_FILE = "floe.yaml"


@dataclass
class Added:
    spec: Path
    sources: Path
    wrote: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _producer_table(platform_dir: Path, reference: str) -> tuple[str, str, str, str]:
    """(producer, table, its contract version, its description) for PRODUCER.TABLE."""
    producer, _, table = reference.partition(".")
    products = platform_products(platform_dir)
    if not table or producer not in products:
        raise InputError(
            f"no product {producer!r} in {platform_dir}"
            if table
            else f"{reference!r}: name it as PRODUCER.TABLE",
            Location(platform_dir),
            expected=", ".join(f"{p}.<table>" for p in sorted(products)) or "a product",
        )
    transforms = product_transforms(products[producer].directory, products[producer].spec)
    if not any(t.name == table and t.published for t in transforms):
        raise InputError(
            f"{producer} does not publish {table}",
            Location(products[producer].directory / SPEC_FILE),
            expected=", ".join(t.name for t in transforms if t.published) or "none",
        )
    path = find_contract(products[producer].directory)
    contract = load_contract(path) if path else None
    contract_table = contract.table(table) if contract else None
    if contract is None or contract_table is None:
        raise InputError(
            f"{producer} publishes {table} without a data contract; products read each "
            "other's tables under contract",
            Location(products[producer].directory),
            hint=f"its owners run floe contract init {products[producer].directory}",
        )
    return producer, table, contract.version, contract_table.description or ""


def _append_input(spec_path: Path, entry: InputSpec) -> bool:
    """Add the entry to floe.yaml's inputs, keeping the rest of the text as it is; False
    when it is listed already."""
    text = spec_path.read_text(encoding="utf-8")
    loaded = load_spec(spec_path).model
    if any((i.product, i.table) == (entry.product, entry.table) for i in loaded.inputs):
        return False
    item = [
        f"- product: {entry.product}",
        f"  table: {entry.table}",
        f'  contract: "{entry.contract}"',
    ]
    root = yaml.compose(text)
    node = next(
        (v for k, v in (root.value if root else []) if getattr(k, "value", None) == "inputs"),
        None,
    )
    if node is None:
        block = "\n".join(["inputs:", *(f"  {line}" for line in item)])
        updated = text.rstrip("\n") + "\n" + block + "\n"
    elif isinstance(node, yaml.SequenceNode) and node.value and not node.flow_style:
        indent = node.value[0].start_mark.column - 2
        lines = text.splitlines(keepends=True)
        at = node.end_mark.line if node.end_mark.column == 0 else node.end_mark.line + 1
        new = [" " * indent + line + "\n" for line in item]
        updated = "".join(lines[:at] + new + lines[at:])
    else:
        raise OutputError(
            "floe.yaml writes inputs in a form this command does not edit",
            Location(spec_path, node.start_mark.line + 1),
            hint="add it to inputs by hand: " + "; ".join(item),
        )
    write_atomic(spec_path, updated)
    load_spec(spec_path)  # still a valid floe.yaml
    return True


def sources_text(producer: str, table: str, description: str) -> str:
    module = module_name(producer)
    document = {
        "version": 2,
        "sources": [
            {
                "name": module,
                "description": f"Published tables of {producer}, read under its data contract.",
                "schema": INPUT_SCHEMA,
                "tables": [
                    {
                        "name": table,
                        "identifier": f"{module}__{table}",
                        "description": description or f"{producer}'s {table}.",
                    }
                ],
            }
        ],
    }
    header = (
        f"# The tables of {producer} this product reads. floe loads each one's published\n"
        f"# snapshot from the catalog into {INPUT_SCHEMA} before the dbt build; models read\n"
        f"# it as {{{{ source('{module}', '<table>') }}}}. Written once by `floe input add`;\n"
        "# yours to edit (floe never rewrites it).\n"
    )
    return header + yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)


def add_input(product_dir: Path, reference: str, contract_range: str | None = None) -> Added:
    product_dir = Path(product_dir)
    spec_path = product_dir / SPEC_FILE
    load_spec(spec_path)
    producer, table, version, description = _producer_table(product_dir.parent, reference)
    major = parse_semver(version)[0]
    entry = InputSpec(product=producer, table=table, contract=contract_range or f"^{major}")
    if entry.product == load_spec(spec_path).model.metadata.name:
        raise InputError("a product cannot read its own tables as inputs", Location(spec_path))
    model_path = (read_dbt_project(product_dir).model_paths or ["models"])[0]
    sources = product_dir / model_path / f"_floe_inputs__{module_name(producer)}.yml"
    done = Added(spec=spec_path, sources=sources)
    if _append_input(spec_path, entry):
        done.wrote.append(spec_path)
    else:
        done.notes.append(f"{spec_path} lists {producer}.{table} already")
    if not sources.exists():
        write_atomic(sources, sources_text(producer, table, description))
        done.wrote.append(sources)
    else:
        declared = yaml.safe_load(sources.read_text(encoding="utf-8")) or {}
        names = {
            t.get("name")
            for s in declared.get("sources") or []
            if s.get("name") == module_name(producer)
            for t in s.get("tables") or []
        }
        if table not in names:
            done.notes.append(
                f"{sources} exists and is yours: add the table to its source "
                f"'{module_name(producer)}': - name: {table}, "
                f"identifier: {module_name(producer)}__{table}"
            )
    return done

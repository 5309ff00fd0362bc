"""`floe init --update PRODUCT_DIR`: add the dbt models an existing floe.yaml does not
cover yet (by name, selection or defaultTier) as transforms, keeping everything the team
wrote - comments, order, quoting - through a round-trip YAML library (ruamel.yaml).

Only ever asked for: plain ``floe init`` never touches an existing floe.yaml.  The new
text is validated before it replaces the old (atomically); nothing new = nothing written.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

from floe.compiler.loader import load_spec
from floe.compiler.pipeline import resolve_manifest_path
from floe.compiler.selection import resolve_transforms
from floe.compiler.writer import write_atomic
from floe.errors import FloeError, Location, OutputError, PrerequisiteError
from floe.local.init import guess_tiers, parsed_project, transform_entry
from floe.local.products import SPEC_FILE


def update_product(
    product_dir: Path, manifest_path: Path | None = None
) -> tuple[Path, list[str], list[str]]:
    """(floe.yaml, the models added, notes); floe.yaml is rewritten only when models were
    added."""
    product_dir = Path(product_dir)
    target = product_dir / SPEC_FILE
    if not target.is_file():
        raise OutputError(
            f"no {SPEC_FILE} to update",
            Location(target),
            hint=f"floe init {product_dir} writes a first one",
        )
    spec = load_spec(target)  # a floe.yaml that does not validate is reported, not edited
    manifest = Path(manifest_path) if manifest_path else resolve_manifest_path(spec, None)
    notes: list[str] = []
    with parsed_project(product_dir, manifest, notes) as (graph, run_selector):
        covered = {t.name for t in resolve_transforms(spec, graph, run_selector).model.transforms}
    new = sorted(set(graph.models) - covered)
    if not new:
        return target, [], notes
    tiers, guessed = guess_tiers(graph, new)
    entries = [transform_entry(graph, name, tier) for name, tier in tiers.items()]
    before = spec.text
    write_atomic(target, _with_transforms(before, entries, target))
    try:
        load_spec(target)
    except FloeError:
        write_atomic(target, before)  # the team's file exactly as it was
        raise
    return target, [f"{e['name']} ({e['tier']})" for e in entries], [*notes, *guessed]


def _with_transforms(text: str, entries: list[dict[str, Any]], path: Path) -> str:
    """``text`` with ``entries`` appended to its ``transforms:`` list (created if absent),
    in the list's own indentation."""
    try:
        from ruamel.yaml import YAML
        from ruamel.yaml.comments import CommentedMap, CommentedSeq
    except ImportError as exc:  # pragma: no cover - the stack extra carries it
        raise PrerequisiteError(
            "floe init --update needs ruamel.yaml", hint="pip install 'floe[stack]'"
        ) from exc
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096
    offset = _sequence_offset(text)
    yaml.indent(mapping=2, sequence=offset + 2, offset=offset)
    document = yaml.load(text)
    if not isinstance(document, dict):
        raise OutputError("floe.yaml is not a mapping", Location(path, 1, 1))
    transforms = document.get("transforms")
    if transforms is None:
        transforms = CommentedSeq()
        document["transforms"] = transforms
    for entry in entries:
        item = CommentedMap(entry)
        if "dependsOn" in item:
            depends = CommentedSeq(item["dependsOn"])
            depends.fa.set_flow_style()
            item["dependsOn"] = depends
        transforms.append(item)
    out = io.StringIO()
    yaml.dump(document, out)
    return out.getvalue()


def _sequence_offset(text: str) -> int:
    """How far the file indents a list's dashes under its key (0 or 2, as written)."""
    match = re.search(r"^[A-Za-z_]+:[ \t]*(?:#.*)?\n( *)- ", text, re.MULTILINE)
    return len(match.group(1)) if match else 0

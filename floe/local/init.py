"""`floe init PRODUCT_DIR`: a floe.yaml for an existing dbt project, from its dbt graph.

dbt parses the project (with floe's profile for the platform's compute, in a temporary
folder); the models of the root package become the transforms, their ``ref()``s the
``dependsOn``, so the compile that follows passes floe's lineage check.  Tiers come from
the model's folder or name prefix; where neither says, a model no other model reads is a
mart (gold, published) and the rest silver, and the notes list what was guessed; the
rest from dbt_project.yml.  An existing floe.yaml is
never replaced.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from floe.compiler.dbt import load_dbt_manifest, read_dbt_project, run_dbt, select_models
from floe.compiler.governance.graph import DbtGraph, DbtModel, build_graph
from floe.compiler.loader import load_manifest, load_spec, parse_yaml, read_text
from floe.compiler.packages import ensure_packages
from floe.compiler.profiles import build_profiles, render_profiles, target_name
from floe.compiler.selection import SelectorRunner
from floe.compiler.writer import temporary_dir, write_atomic
from floe.errors import Location, OutputError, UnsafeNameError
from floe.local.products import MANIFEST_FILE, SPEC_FILE
from floe.product_files import PROFILES_NAME

# folder (first level under a model path) -> tier, then name prefix -> tier
FOLDER_TIERS = {
    "staging": "bronze",
    "stg": "bronze",
    "bronze": "bronze",
    "raw": "bronze",
    "base": "bronze",
    "sources": "bronze",
    "intermediate": "silver",
    "int": "silver",
    "silver": "silver",
    "marts": "gold",
    "mart": "gold",
    "gold": "gold",
    "reporting": "gold",
}
PREFIX_TIERS = {
    "stg_": "bronze",
    "base_": "bronze",
    "raw_": "bronze",
    "int_": "silver",
    "mart_": "gold",
    "fct_": "gold",
    "dim_": "gold",
    "rpt_": "gold",
}
DEFAULT_TIER = "silver"
PLACEHOLDER_OWNER = "owner@example.com"


def infer_tier(model: DbtModel) -> str | None:
    """The tier from the model's folder, else its name prefix; None when neither says."""
    if model.layer and model.layer.lower() in FOLDER_TIERS:
        return FOLDER_TIERS[model.layer.lower()]
    return next((tier for p, tier in PREFIX_TIERS.items() if model.name.startswith(p)), None)


def product_name(product_dir: Path, dbt_name: str) -> str:
    """The directory's name (it becomes the image's module), if it is a valid product name."""
    for candidate in (product_dir.resolve().name, dbt_name.replace("_", "-")):
        name = candidate.lower()
        if re.fullmatch(r"[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*", name):
            return name
    raise UnsafeNameError(
        f"cannot derive a product name from {product_dir.name!r}",
        Location(product_dir),
        expected="lower-case letters, digits, '-' or '_' (rename the directory)",
    )


def semver(raw: Any) -> str:
    parts = re.findall(r"\d+", str(raw or ""))[:3]
    return ".".join([*parts, "0", "0", "0"][:3]) if parts else "0.1.0"


def git_email(cwd: Path) -> str | None:
    try:
        done = subprocess.run(
            ["git", "config", "user.email"], cwd=cwd, capture_output=True, text=True, check=False
        )
    except OSError:
        return None
    return done.stdout.strip() or None


@contextlib.contextmanager
def parsed_project(
    product_dir: Path, manifest_path: Path, notes: list[str] | None = None
) -> Iterator[tuple[DbtGraph, SelectorRunner]]:
    """``dbt parse`` with floe's profile for the platform's compute (in a temporary
    folder, alive while the context is): the root package's graph, and a runner of the
    project's named selectors.  Declared dbt packages are installed first (``dbt
    deps``), noted in ``notes``."""
    manifest = load_manifest(manifest_path)
    project = read_dbt_project(product_dir)
    compute = manifest.model.plugins.compute
    profiles = build_profiles(project.profile, compute)
    target = target_name(compute)
    with temporary_dir("floe-init-") as profiles_dir:
        write_atomic(profiles_dir / PROFILES_NAME, render_profiles(profiles, ""))
        installed = ensure_packages(product_dir, profiles_dir)
        if installed and notes is not None:
            notes.append(installed)
        run_dbt(product_dir, ["parse", "--target", target], profiles_dir)
        graph = build_graph(load_dbt_manifest(product_dir / "target" / "manifest.json"))
        yield graph, lambda name: select_models(product_dir, profiles_dir, name, None, target)


def parse_graph(product_dir: Path, manifest_path: Path, notes: list[str] | None = None) -> DbtGraph:
    """The root package's dbt graph (see :func:`parsed_project`)."""
    with parsed_project(product_dir, manifest_path, notes) as (graph, _select):
        return graph


def guess_tiers(graph: DbtGraph, names: list[str]) -> tuple[dict[str, str], list[str]]:
    """Tiers of ``names`` (folder, name prefix, else leaves gold and the rest silver) and
    notes on what was guessed."""
    read = {dep for model in graph.models.values() for dep in model.depends_on_models}
    tiers: dict[str, str] = {}
    guessed, leaves_gold = [], []
    for name in sorted(names):
        tier = infer_tier(graph.models[name])
        if tier is None and name not in read:
            # nothing selects from it and its folder or prefix says nothing: a mart
            leaves_gold.append(name)
            tier = "gold"
        elif tier is None:
            guessed.append(name)
            tier = DEFAULT_TIER
        tiers[name] = tier
    notes = []
    if leaves_gold:
        notes.append(
            "gold (published) because no model reads them and neither folder nor name "
            "prefix says otherwise: " + ", ".join(leaves_gold)
        )
    if guessed:
        notes.append(
            f"tier not inferred from folder or name prefix ({DEFAULT_TIER} written): "
            + ", ".join(guessed)
        )
    return tiers, notes


def transform_entry(graph: DbtGraph, name: str, tier: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": name, "tier": tier}
    if graph.models[name].depends_on_models:
        entry["dependsOn"] = sorted(graph.models[name].depends_on_models)
    return entry


def spec_document(
    product_dir: Path, manifest_path: Path, graph: DbtGraph, owner: str
) -> tuple[dict[str, Any], list[str]]:
    """The floe.yaml content and notes on what could not be inferred."""
    project_data, _ = parse_yaml(read_text(product_dir / "dbt_project.yml"), product_dir)
    dbt_name = str(project_data.get("name", product_dir.name))
    tiers, notes = guess_tiers(graph, list(graph.models))
    transforms = [transform_entry(graph, name, tier) for name, tier in tiers.items()]
    if owner == PLACEHOLDER_OWNER:
        notes.append(f"metadata.owner is a placeholder ({owner}): set your team's address")
    manifest_ref = Path(os.path.relpath(manifest_path.resolve(), product_dir.resolve()))
    document = {
        "apiVersion": "floe.dev/v1",
        "kind": "FloeSpec",
        "metadata": {
            "name": product_name(product_dir, dbt_name),
            "version": semver(project_data.get("version")),
            "owner": owner,
            "description": f"dbt project {dbt_name}",
        },
        "platform": {"manifest": manifest_ref.as_posix()},
        "transforms": transforms,
    }
    return document, notes


def init_product(
    product_dir: Path, manifest_path: Path | None = None, owner: str | None = None
) -> tuple[Path, list[str]]:
    """Write ``product_dir/floe.yaml``; the path and notes for the user."""
    product_dir = Path(product_dir)
    target = product_dir / SPEC_FILE
    if target.exists():
        raise OutputError(
            f"{SPEC_FILE} already exists; floe init never overwrites it",
            Location(target),
            hint="edit it, or move it away and run floe init again",
        )
    read_dbt_project(product_dir)  # a clear error when this is not a dbt project
    manifest = Path(manifest_path) if manifest_path else product_dir.parent / MANIFEST_FILE
    installed: list[str] = []
    graph = parse_graph(product_dir, manifest, installed)
    if not graph.models:
        raise OutputError("the dbt project has no models to declare", Location(product_dir))
    document, notes = spec_document(
        product_dir, manifest, graph, owner or git_email(product_dir) or PLACEHOLDER_OWNER
    )
    notes = [*installed, *notes]
    header = (
        f"# Written by `floe init` from the dbt graph of {product_dir.name}; yours to edit\n"
        "# (floe never rewrites it). Tiers: bronze (staging), silver, gold (published).\n"
    )
    text = header + yaml.safe_dump(document, sort_keys=False, default_flow_style=False)
    write_atomic(target, text)
    try:
        load_spec(target)  # what was written validates, or nothing stays behind
    except Exception:
        target.unlink()
        raise
    return target, notes

"""floe.yaml models by selection (issue 29 point 2): ``select:`` entries (a folder, a dbt
tag, a named dbt selector) and ``defaultTier`` expand, against the dbt graph, into one
transform per model, so everything after compile (governance, artifacts, definitions,
publication) sees the same per-model list as when every model is named.

Rules: a model named in ``transforms`` keeps its own entry; otherwise exactly one
selection may claim it (two is an error naming both); a model nothing covers takes
``defaultTier`` when set, else it stays undeclared (the lineage check names it).  A
selection that matches no model is an error: it is a typo or a stale folder.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path, PurePosixPath
from typing import Any

from floe.compiler.governance.graph import DbtGraph, DbtModel
from floe.errors import InputError, LineageMismatchError, Location
from floe.product_files import ARTIFACTS_FILE
from floe.schemas.spec import FloeSpec, TransformSelection, TransformSpec
from floe.sources import Loaded

# a named selector -> the names of the models it selects (dbt ls, only when one is used)
SelectorRunner = Callable[[str], set[str]]


def _matches(selection: TransformSelection, model: DbtModel) -> bool:
    if selection.path is not None:
        folder = PurePosixPath(selection.path.strip("/"))
        path = PurePosixPath(model.sql_path)
        return path == folder or folder in path.parents
    return selection.tag in model.tags


def selected(
    spec: Loaded[FloeSpec], graph: DbtGraph, run_selector: SelectorRunner | None
) -> list[set[str]]:
    """The models each ``select:`` entry matches, in entry order."""
    out = []
    for index, selection in enumerate(spec.model.select):
        if selection.selector is not None:
            if run_selector is None:
                raise LineageMismatchError(
                    f"select[{index}] ({selection.describe()}) needs dbt to resolve",
                    spec.locate(("select", index)),
                    hint="floe compile resolves named selectors",
                )
            names = run_selector(selection.selector) & set(graph.models)
        else:
            names = {n for n, m in graph.models.items() if _matches(selection, m)}
        if not names:
            raise LineageMismatchError(
                f"select[{index}] ({selection.describe()}) matches no dbt model",
                spec.locate(("select", index)),
                expected=_expected(selection, graph),
                found="no model",
            )
        out.append(names)
    return out


def _expected(selection: TransformSelection, graph: DbtGraph) -> str:
    if selection.path is not None:
        folders = sorted({str(PurePosixPath(m.sql_path).parent) for m in graph.models.values()})
        return "a folder holding models: " + ", ".join(folders)
    if selection.tag is not None:
        tags = sorted({t for m in graph.models.values() for t in m.tags})
        return "a tag of a model: " + (", ".join(tags) or "(no model has a tag)")
    return "a selector of selectors.yml that selects models"


def resolve_transforms(
    spec: Loaded[FloeSpec], graph: DbtGraph, run_selector: SelectorRunner | None = None
) -> Loaded[FloeSpec]:
    """``spec`` with one transform per model it covers (unchanged when it names all)."""
    model = spec.model
    if not model.by_selection:
        return spec
    named = {t.name for t in model.transforms}
    matches = selected(spec, graph, run_selector)
    added: list[TransformSpec] = []
    for name in sorted(set(graph.models) - named):
        claims = [i for i, names in enumerate(matches) if name in names]
        if len(claims) > 1:
            first, second = (model.select[i] for i in claims[:2])
            raise LineageMismatchError(
                f"{name} is selected by two declarations: select[{claims[0]}] "
                f"({first.describe()}) and select[{claims[1]}] ({second.describe()})",
                spec.locate(("select", claims[1])),
                hint=f"name {name} in transforms to give it its own settings, "
                "or narrow one of the selections",
            )
        if claims:
            chosen = model.select[claims[0]]
            tier, tags, publish = chosen.tier, chosen.tags, chosen.publish
        elif model.default_tier is not None:
            tier, tags, publish = model.default_tier, [], None
        else:
            continue  # undeclared: the lineage check reports it
        depends = sorted(graph.models[name].depends_on_models)
        added.append(
            TransformSpec.model_validate(
                {"name": name, "tier": tier, "tags": tags, "dependsOn": depends, "publish": publish}
            )
        )
    expanded = model.model_copy(update={"transforms": [*model.transforms, *added]})
    return replace(spec, model=expanded)


def product_transforms(directory: Path, spec: FloeSpec) -> list[TransformSpec]:
    """Another product's models with their tiers, for a consumer's checks: its floe.yaml
    when it names every model, else what its last compile resolved."""
    if not spec.by_selection:
        return list(spec.transforms)
    path = directory / ARTIFACTS_FILE
    try:
        data: Mapping[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        models = data["transforms"]["models"]
    except (OSError, ValueError, KeyError, TypeError):
        raise InputError(
            f"{directory.name} declares its models by selection and has not been compiled",
            Location(path),
            hint=f"compile {directory.name} first (floe compile compiles producers first)",
        ) from None
    return [
        TransformSpec.model_validate(
            {
                "name": m["name"],
                "tier": m["tier"],
                "tags": m.get("tags") or [],
                "dependsOn": m.get("depends_on") or [],
                "publish": m.get("publish"),
            }
        )
        for m in models
    ]

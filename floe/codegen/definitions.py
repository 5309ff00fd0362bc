"""Render a product's Dagster ``definitions.py`` from its CompiledArtifacts."""

from __future__ import annotations

import ast
import pprint
from pathlib import PurePosixPath
from typing import Any

import jinja2

from floe.product_files import PROFILES_FILE
from floe.runtime.product import published_models
from floe.schemas.artifacts import CompiledArtifacts

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("floe.codegen", "templates"),
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
    trim_blocks=False,
    autoescape=False,
)


def py_literal(value: Any) -> str:
    """A Python literal for a plain value (str, int, float, bool, None, list, dict)."""
    text = pprint.pformat(value, width=88, sort_dicts=True)
    if ast.literal_eval(text) != value:  # pragma: no cover - guards unusual types
        raise ValueError(f"cannot render {value!r} as a Python literal")
    return text


_ENV.filters["py"] = py_literal


def run_k8s_config(artifacts: CompiledArtifacts) -> dict[str, object] | None:
    """What the job's ``dagster-k8s/config`` tag asks of the run pod Dagster's K8s run
    launcher starts: the compiled run resources."""
    if artifacts.run_resources is None:
        return None
    return {"container_config": {"resources": artifacts.run_resources.k8s()}}


def render_definitions(artifacts: CompiledArtifacts, regenerate_command: str) -> str:
    """The ``definitions.py`` source: same artifacts in, same bytes out."""
    compute = artifacts.dbt_profiles
    profile = next(iter(compute.values())) if compute else {}
    text = _ENV.get_template("definitions.py.j2").render(
        floe_version=artifacts.metadata.floe_version,
        product_name=artifacts.metadata.product_name,
        product_version=artifacts.metadata.product_version,
        module_name=artifacts.identity.module_name,
        regenerate_command=regenerate_command,
        dbt_target=profile.get("target", artifacts.transforms.default_compute),
        dbt_vars=artifacts.governance.dbt_vars() if artifacts.governance else {},
        schedule=artifacts.schedule,
        profiles_dir=PurePosixPath(PROFILES_FILE).parent.as_posix(),
        published_models=published_models(artifacts.model_dump(mode="json")),
        input_assets={
            f"{i.source}.{i.table}": ["lakehouse", i.product_module, i.table]
            for i in artifacts.inputs
        },
        stateful=[r.name for r in artifacts.state.relations] if artifacts.state else [],
        run_k8s_config=run_k8s_config(artifacts),
    )
    ast.parse(text)  # generated code must at least be valid Python
    return text

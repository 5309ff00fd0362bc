"""Issue 27 point 2 and its bad input: run pod resources from the manifest's defaults and a
product's floe.yaml, bounded by the manifest's maximum, compiled into the job's
``dagster-k8s/config`` tag; unparseable quantities, asks above the maximum and a queue
limit below 1 are located errors."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from floe.codegen.definitions import run_k8s_config
from floe.compiler.loader import load_manifest
from floe.compiler.pipeline import compile_product
from floe.errors import FloeError
from floe.schemas.quantity import parse_quantity


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("500m", Decimal("0.5")),
        ("2", Decimal(2)),
        ("512Mi", Decimal(512 * 2**20)),
        ("1.5Gi", Decimal(3 * 2**29)),
        ("1e9", Decimal(10**9)),
        ("4G", Decimal(4 * 10**9)),
    ],
)
def test_kubernetes_quantities_parse_to_base_units(text: str, value: Decimal) -> None:
    assert parse_quantity(text) == value


@pytest.mark.parametrize("text", ["", "lots", "1.5 Gi", "-1", "2Qi", "Mi"])
def test_what_is_not_a_quantity_is_refused_naming_it(text: str) -> None:
    with pytest.raises(ValueError, match="is not a Kubernetes quantity"):
        parse_quantity(text)


def _edit(path: Path, change: dict) -> None:  # type: ignore[type-arg]
    data = yaml.safe_load(path.read_text())
    for dotted, value in change.items():
        node = data
        *parents, leaf = dotted.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def _compile_error(spec: Path) -> FloeError:
    with pytest.raises(FloeError) as caught:
        compile_product(spec)
    return caught.value


def test_a_product_asking_above_the_maximum_is_a_located_error_naming_both(
    demo_copy: Path,
) -> None:
    spec = demo_copy / "financial-risk" / "floe.yaml"
    _edit(spec, {"runs.resources.limits": {"memory": "8Gi"}})
    error = _compile_error(spec)
    text = str(error)
    assert "runs.resources.limits.memory" in text and "floe.yaml:" in text
    assert "8Gi is above the platform's maximum 4Gi" in text
    assert "plugins.orchestrator.runs.max_resources in manifest.yaml" in text
    assert not (demo_copy / "financial-risk" / "compiled_artifacts.json").exists()


def test_an_unparseable_quantity_is_a_located_error(demo_copy: Path) -> None:
    spec = demo_copy / "financial-risk" / "floe.yaml"
    _edit(spec, {"runs.resources.requests": {"cpu": "fast"}})
    text = str(_compile_error(spec))
    assert "[runs.resources.requests.cpu]" in text
    assert "'fast' is not a Kubernetes quantity" in text


def test_a_request_above_the_default_limit_says_to_set_both(demo_copy: Path) -> None:
    spec = demo_copy / "financial-risk" / "floe.yaml"
    _edit(spec, {"runs.resources": {"requests": {"memory": "3Gi"}}})
    text = str(_compile_error(spec))
    assert "requests.memory 3Gi would be above limits.memory 2Gi" in text
    assert "set both requests.memory and limits.memory" in text


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("max_concurrent_runs", 0, "max_concurrent_runs"),
        ("per_product_concurrency", 0, "per_product_concurrency"),
        ("max_resources", {"memory": "1Gi"}, "resources.limits.memory 2Gi is above"),
    ],
)
def test_manifest_run_settings_out_of_range_are_located_errors(
    demo_copy: Path, field: str, value: object, says: str
) -> None:
    manifest = demo_copy / "manifest.yaml"
    _edit(manifest, {f"plugins.orchestrator.runs.{field}": value})
    with pytest.raises(FloeError) as caught:
        load_manifest(manifest)
    text = str(caught.value)
    assert "manifest.yaml:" in text and "plugins.orchestrator.runs" in text
    assert says in text


def test_the_product_ask_lays_over_the_platform_defaults(demo_copy: Path) -> None:
    """financial-risk asks limits.memory 3Gi; the rest is the manifest's default; the
    generated job's tag carries exactly that."""
    result = compile_product(demo_copy / "financial-risk" / "floe.yaml")
    resources = result.artifacts.run_resources
    assert resources is not None
    assert resources.k8s() == {
        "requests": {"cpu": "250m", "memory": "512Mi"},
        "limits": {"cpu": "1", "memory": "3Gi"},
    }
    assert run_k8s_config(result.artifacts) == {"container_config": {"resources": resources.k8s()}}

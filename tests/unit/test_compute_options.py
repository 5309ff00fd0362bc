"""Issue 29 point 4: the manifest's compute plugin says which dbt-duckdb profile options
products may choose (threads up to a maximum, DuckDB settings, extensions, attached
databases, external roots); floe.yaml chooses among them; the generated profile carries
the choice; anything else is a located error naming what the platform allows."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from floe.compiler.loader import load_manifest, load_spec
from floe.compiler.profiles import build_profiles, check_choice
from floe.compiler.resolve import resolve_plugins
from floe.errors import ConfigValidationError
from tests.conftest import DEMO_MANIFEST

OPTIONS = {
    "max_threads": 4,
    "settings": ["memory_limit", "preserve_insertion_order"],
    "extensions": ["json"],
    "attach": [{"alias": "ref", "path": "../reference.duckdb"}],
    "external_roots": ["target/external"],
}
SPEC = (
    "apiVersion: floe.dev/v1\nkind: FloeSpec\n"
    "metadata: {name: shop, version: 1.0.0, owner: a@example.com}\n"
    "defaultTier: silver\n"
)


def _manifest(tmp_path: Path, options: dict | None = OPTIONS):  # type: ignore[no-untyped-def, type-arg]
    data = yaml.safe_load(DEMO_MANIFEST.read_text())
    if options is not None:
        data["plugins"]["compute"]["product_options"] = options
    path = tmp_path / "manifest.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return load_manifest(path)


def _spec(tmp_path: Path, compute: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "floe.yaml"
    path.write_text(SPEC + compute)
    return load_spec(path)


def test_the_profile_carries_the_products_choice_over_the_platform_defaults(
    tmp_path: Path,
) -> None:
    manifest = _manifest(tmp_path)
    spec = _spec(
        tmp_path,
        "compute:\n  threads: 4\n  settings: {memory_limit: 512MB}\n  extensions: [json]\n"
        "  attach: [ref]\n  external_root: target/external\n",
    )
    compute = manifest.model.plugins.compute
    check_choice(spec, compute, manifest.path)
    output = build_profiles("shop", compute, spec.model.compute)["shop"]["outputs"]["duckdb"]
    assert output == {
        "type": "duckdb",
        "path": "target/demo.duckdb",
        "threads": 4,
        "settings": {"memory_limit": "512MB"},  # the product's value over the default 1GB
        "extensions": ["json"],
        "attach": [{"alias": "ref", "path": "../reference.duckdb", "read_only": True}],
        "external_root": "target/external",
    }
    default = build_profiles("shop", compute)["shop"]["outputs"]["duckdb"]
    assert default["threads"] == 2 and default["settings"] == {"memory_limit": "1GB"}
    assert "attach" not in default
    assert "product_options" not in resolve_plugins(manifest.model).compute.config


@pytest.mark.parametrize(
    ("compute", "line", "found", "expected"),
    [
        ("  threads: 8\n", "6:3", "threads 8", "threads up to 4"),
        ("  settings: {threads: 9}\n", "6:14", "setting threads", "memory_limit, preserve"),
        ("  extensions: [json, spatial]\n", "6:22", "extension spatial", "json"),
        ("  attach: [warehouse]\n", "6:12", "attached database warehouse", "ref"),
        ("  external_root: /tmp/out\n", "6:3", "external_root /tmp/out", "target/external"),
    ],
)
def test_an_option_the_manifest_does_not_allow_is_a_located_error(
    tmp_path: Path, compute: str, line: str, found: str, expected: str
) -> None:
    """Issue 29 bad input: an option the manifest does not allow."""
    manifest = _manifest(tmp_path)
    spec = _spec(tmp_path, "compute:\n" + compute)
    with pytest.raises(ConfigValidationError) as caught:
        check_choice(spec, manifest.model.plugins.compute, manifest.path)
    text = str(caught.value)
    assert f"floe.yaml:{line}" in text and f"found {found}" in text
    assert expected in text and "plugins.compute.product_options in manifest.yaml" in text


def test_a_manifest_that_allows_nothing_refuses_every_choice(tmp_path: Path) -> None:
    manifest = _manifest(tmp_path, options=None)
    spec = _spec(tmp_path, "compute: {threads: 1}\n")
    with pytest.raises(ConfigValidationError) as caught:
        check_choice(spec, manifest.model.plugins.compute, manifest.path)
    assert "nothing (the manifest allows no choice)" in str(caught.value)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"external_roots": ["../outside"]}, "must be a relative path inside the dbt project"),
        ({"attach": [{"alias": "a", "path": "x"}, {"alias": "a", "path": "y"}]}, "unique"),
        ({"max_threads": 0}, "greater than or equal to 1"),
        ({"extension": ["json"]}, "extension"),
    ],
)
def test_bad_product_options_in_the_manifest_are_located(
    tmp_path: Path,
    options: dict,
    message: str,  # type: ignore[type-arg]
) -> None:
    with pytest.raises(ConfigValidationError) as caught:
        _manifest(tmp_path, options)
    text = str(caught.value)
    assert message in text and "manifest.yaml:" in text and "product_options" in text

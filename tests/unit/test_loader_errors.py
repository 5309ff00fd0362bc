"""Bad input gets a FloeError naming the file, line, column and field (house style)."""

from __future__ import annotations

from pathlib import Path

import pytest

from floe.compiler.loader import load_manifest, load_spec
from floe.errors import (
    ConfigFileNotFound,
    ConfigSyntaxError,
    ConfigValidationError,
    UnsafeNameError,
)
from tests.conftest import CUSTOMER_SPEC, DEMO_MANIFEST


def _spec_text() -> str:
    return CUSTOMER_SPEC.read_text(encoding="utf-8")


def _line_of(text: str, needle: str) -> int:
    return 1 + next(i for i, line in enumerate(text.splitlines()) if needle in line)


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigFileNotFound) as info:
        load_spec(tmp_path / "nope.yaml")
    assert str(tmp_path / "nope.yaml") in str(info.value)
    assert info.value.exit_code == 3


def test_malformed_yaml_reports_line_and_column(write_yaml) -> None:  # type: ignore[no-untyped-def]
    path = write_yaml("floe.yaml", "metadata:\n  name: [unclosed\n  version: 1\n")
    with pytest.raises(ConfigSyntaxError) as info:
        load_spec(path)
    loc = info.value.location
    assert loc is not None and loc.file == path and loc.line >= 2 and loc.column > 0
    assert "malformed YAML" in str(info.value)


def test_duplicate_key_is_an_error_at_the_second_key(write_yaml) -> None:  # type: ignore[no-untyped-def]
    text = _spec_text().replace("  version: 1.0.0\n", "  version: 1.0.0\n  version: 2.0.0\n", 1)
    path = write_yaml("floe.yaml", text)
    with pytest.raises(ConfigSyntaxError) as info:
        load_spec(path)
    assert info.value.location is not None
    assert info.value.location.line == _line_of(text, "version: 2.0.0")
    assert "duplicate key 'version'" in str(info.value)


def test_empty_file_says_a_mapping_was_expected(write_yaml) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigSyntaxError, match="empty"):
        load_spec(write_yaml("floe.yaml", "# nothing\n"))


def test_top_level_list_is_rejected(write_yaml) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigValidationError, match="mapping"):
        load_spec(write_yaml("floe.yaml", "- a\n- b\n"))


def test_unknown_nested_key_points_at_the_key(write_yaml) -> None:  # type: ignore[no-untyped-def]
    text = _spec_text().replace("  timezone: UTC\n", "  timezone: UTC\n  tiemzone: UTC\n")
    path = write_yaml("floe.yaml", text)
    with pytest.raises(ConfigValidationError) as info:
        load_spec(path)
    loc = info.value.location
    assert loc is not None
    assert (loc.line, loc.field_path) == (_line_of(text, "tiemzone"), "schedule.tiemzone")
    assert "unknown field 'tiemzone'" in str(info.value)


def test_wrong_type_names_field_path_and_line(write_yaml) -> None:  # type: ignore[no-untyped-def]
    text = _spec_text().replace("  enabled: true\n", "  enabled: [yes, please]\n")
    path = write_yaml("floe.yaml", text)
    with pytest.raises(ConfigValidationError) as info:
        load_spec(path)
    loc = info.value.location
    assert loc is not None and loc.field_path == "schedule.enabled"
    assert loc.line == _line_of(text, "enabled: [yes")


def test_bad_cron_is_located(write_yaml) -> None:  # type: ignore[no-untyped-def]
    text = _spec_text().replace('cron: "0 6 * * *"', 'cron: "0 25 * * *"')
    with pytest.raises(ConfigValidationError) as info:
        load_spec(write_yaml("floe.yaml", text))
    assert info.value.location is not None
    assert info.value.location.field_path == "schedule.cron"
    assert "outside 0-23" in str(info.value)


def test_unknown_timezone_is_rejected(write_yaml) -> None:  # type: ignore[no-untyped-def]
    text = _spec_text().replace("timezone: UTC", "timezone: Mars/Olympus")
    with pytest.raises(ConfigValidationError, match="unknown timezone"):
        load_spec(write_yaml("floe.yaml", text))


@pytest.mark.parametrize(
    "name", ["../escape", "Customer360", "a b", "x;rm", "-lead", "class", "name\nnewline"]
)
def test_unsafe_product_names_are_rejected(write_yaml, name: str) -> None:  # type: ignore[no-untyped-def]
    text = _spec_text().replace("  name: customer-360\n", f"  name: {name!r}\n", 1)
    with pytest.raises((UnsafeNameError, ConfigValidationError)) as info:
        load_spec(write_yaml("floe.yaml", text))
    assert info.value.location is not None
    assert info.value.location.field_path == "metadata.name"


def test_depends_on_unknown_transform_is_rejected(write_yaml) -> None:  # type: ignore[no-untyped-def]
    text = _spec_text().replace("dependsOn: [stg_transactions]", "dependsOn: [stg_nowhere]")
    with pytest.raises(ConfigValidationError, match="stg_nowhere"):
        load_spec(write_yaml("floe.yaml", text))


def test_transform_cycle_is_rejected(write_yaml) -> None:  # type: ignore[no-untyped-def]
    text = _spec_text().replace(
        "  - name: stg_transactions\n    tier: bronze\n",
        "  - name: stg_transactions\n    tier: bronze\n    dependsOn: [int_customer_orders]\n",
    )
    with pytest.raises(ConfigValidationError, match="cycle"):
        load_spec(write_yaml("floe.yaml", text))


def test_manifest_wrong_plugin_type_lists_what_is_supported(write_yaml) -> None:  # type: ignore[no-untyped-def]
    text = DEMO_MANIFEST.read_text(encoding="utf-8").replace("type: duckdb", "type: oracle")
    with pytest.raises(ConfigValidationError) as info:
        load_manifest(write_yaml("manifest.yaml", text))
    assert info.value.location is not None
    assert info.value.location.field_path == "plugins.compute.type"
    assert "'duckdb'" in str(info.value) and "oracle" in str(info.value)


def test_an_unknown_tag_on_a_key_is_a_located_syntax_error(tmp_path: Path) -> None:
    """Found by the fuzz test: `!The name: x` made PyYAML raise from inside the loader."""
    path = tmp_path / "floe.yaml"
    path.write_text("apiVersion: floe.dev/v1\n!The metadata: {}\n")
    with pytest.raises(ConfigSyntaxError) as info:
        load_spec(path)
    assert info.value.location is not None and info.value.location.line == 2
    assert "could not determine a constructor for the tag '!The'" in str(info.value)

"""Incremental and parallel compile_demo (issue 8)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from floe.errors import DbtError
from floe.local.compile_all import compile_all


def _compile(demo: Path, **kwargs: object) -> dict[str, bool]:
    lines: list[str] = []
    done = compile_all(demo, progress=lines.append, **kwargs)  # type: ignore[arg-type]
    return {d.name: d.skipped for d in done}


def _outputs(demo: Path) -> dict[str, bytes]:
    out = {}
    for product in sorted(p.parent for p in demo.glob("*/floe.yaml")):
        for name in ("definitions.py", ".floe/profiles.yml"):
            out[f"{product.name}/{name}"] = (product / name).read_bytes()
        artifacts = json.loads((product / "compiled_artifacts.json").read_text())
        del artifacts["metadata"]["compiled_at"]
        out[f"{product.name}/artifacts"] = json.dumps(artifacts, sort_keys=True).encode()
    return out


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.conftest import PRODUCTS, copy_demo

    demo = copy_demo(tmp_path_factory.mktemp("incr") / "demo")
    assert _compile(demo, jobs=1) == dict.fromkeys(PRODUCTS, False)
    return demo


def test_nothing_changed_skips_every_product(demo: Path) -> None:
    assert set(_compile(demo).values()) == {True}


def test_a_model_change_recompiles_only_its_product(demo: Path) -> None:
    sql = demo / "iot-telemetry" / "models" / "staging" / "stg_sensors.sql"
    sql.write_text(sql.read_text() + "\n-- touched\n")
    expected = {"customer-360": True, "financial-risk": True, "iot-telemetry": False}
    assert _compile(demo) == {**expected, "risk-overview": True}


def test_a_shared_macro_or_manifest_change_recompiles_all(demo: Path) -> None:
    macro = demo / "macros" / "safe_divide.sql"
    macro.write_text(macro.read_text() + "\n{# touched #}\n")
    assert set(_compile(demo).values()) == {False}
    manifest = demo / "manifest.yaml"
    manifest.write_text(manifest.read_text() + "\n# touched\n")
    assert set(_compile(demo).values()) == {False}


def test_a_missing_output_recompiles_and_force_recompiles(demo: Path) -> None:
    (demo / "customer-360" / "definitions.py").unlink()
    assert _compile(demo)["customer-360"] is False
    assert (demo / "customer-360" / "definitions.py").is_file()
    assert set(_compile(demo, force=True).values()) == {False}


def test_a_truncated_or_edited_output_is_rebuilt_with_a_notice(demo: Path) -> None:
    """Issue 28 point 4: generated files are checked against what floe wrote, not
    trusted; a damaged fingerprint cache means compiling again, never a traceback."""
    definitions = demo / "iot-telemetry" / "definitions.py"
    good = definitions.read_bytes()
    definitions.write_bytes(good[: len(good) // 2])  # truncated, as by a full disk
    lines: list[str] = []
    done = compile_all(demo, progress=lines.append)
    assert {d.name: d.skipped for d in done}["iot-telemetry"] is False
    assert (
        "iot-telemetry: definitions.py changed since floe wrote it (edited or truncated): "
        "rebuilding" in lines
    )
    assert definitions.read_bytes() == good
    stamp = demo / "iot-telemetry" / "target" / ".floe-fingerprint"
    stamp.write_bytes(b"\xff\xfe garbage")
    assert _compile(demo)["iot-telemetry"] is False
    assert _compile(demo)["iot-telemetry"] is True


def test_parallel_output_equals_sequential_output(demo: Path) -> None:
    _compile(demo, force=True, jobs=1)
    sequential = _outputs(demo)
    _compile(demo, force=True, jobs=3)
    assert _outputs(demo) == sequential


def test_parallel_failure_names_the_product(demo: Path) -> None:
    sql = demo / "financial-risk" / "models" / "staging" / "stg_positions.sql"
    good = sql.read_text()
    sql.write_text("select {{ ref('missing_model') }}\n")
    try:
        with pytest.raises(DbtError) as info:
            _compile(demo, force=True, jobs=2)
        assert str(info.value).startswith("FLOE300") and "financial-risk:" in str(info.value)
    finally:
        sql.write_text(good)

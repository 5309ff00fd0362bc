"""The floe CLI: one- or two-line messages, a distinct exit code per failure class."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from floe.cli import main
from floe.schemas.versions import COMPILED_ARTIFACTS_VERSION
from tests.conftest import DEMO_MANIFEST


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output  # click >= 8.2 mixes stderr into output


def test_validate_ok_on_demo_files() -> None:
    code, out = _run("validate", "--spec", "demo/customer-360/floe.yaml")
    assert code == 0, out
    assert "ok demo/customer-360/floe.yaml" in out


def test_validate_missing_file_exit_3_no_traceback(tmp_path: Path) -> None:
    code, out = _run("validate", "--manifest", str(tmp_path / "missing.yaml"))
    assert code == 3
    assert "FLOE100" in out and "Traceback" not in out
    assert len(out.strip().splitlines()) <= 2


def test_validate_invalid_exit_4_names_file_line_field(tmp_path: Path) -> None:
    bad = tmp_path / "manifest.yaml"
    bad.write_text(
        DEMO_MANIFEST.read_text().replace("level: INFO", "level: LOUD"), encoding="utf-8"
    )
    code, out = _run("validate", "--manifest", str(bad))
    assert code == 4
    line = 1 + bad.read_text().splitlines().index("    level: LOUD")
    assert f"{bad}:{line}:" in out and "observability.logging.level" in out
    assert "Traceback" not in out


def test_usage_error_without_arguments_exit_2() -> None:
    code, out = _run("validate")
    assert code == 2 and "give --spec, --manifest or both" in out


def test_platform_compile_writes_outputs_and_report(demo_copy: Path, tmp_path: Path) -> None:
    spec = demo_copy / "customer-360" / "floe.yaml"
    report = tmp_path / "report.json"
    code, out = _run(
        "platform",
        "compile",
        "--spec",
        str(spec),
        "--generate-definitions",
        "--enforcement-report",
        str(report),
    )
    assert code == 0, out
    for name in ("compiled_artifacts.json", ".floe/profiles.yml", "definitions.py"):
        assert (spec.parent / name).is_file()
    data = json.loads(report.read_text())
    assert data["summary"]["models_validated"] == 6 and data["violations"] == []


def test_platform_compile_without_generate_definitions_writes_no_code(demo_copy: Path) -> None:
    spec = demo_copy / "iot-telemetry" / "floe.yaml"
    out_file = demo_copy / "out" / "artifacts.json"
    code, out = _run("platform", "compile", "--spec", str(spec), "--output", str(out_file))
    assert code == 0, out
    assert json.loads(out_file.read_text())["version"] == COMPILED_ARTIFACTS_VERSION
    assert not (spec.parent / "definitions.py").exists()


def test_dbt_failure_exit_6_names_the_product(demo_copy: Path) -> None:
    sql = demo_copy / "customer-360" / "models" / "staging" / "stg_customers.sql"
    sql.write_text("select {{ ref('no_such_model') }}\n", encoding="utf-8")
    code, out = _run("platform", "compile", "--spec", str(demo_copy / "customer-360" / "floe.yaml"))
    assert code == 6
    assert "FLOE300" in out and "customer-360" in out and "no_such_model" in out


def test_lineage_mismatch_exit_5(demo_copy: Path) -> None:
    spec = demo_copy / "customer-360" / "floe.yaml"
    spec.write_text(
        spec.read_text().replace("dependsOn: [stg_support_tickets]", "dependsOn: []"),
        encoding="utf-8",
    )
    code, out = _run("platform", "compile", "--spec", str(spec))
    assert code == 5 and "int_customer_support" in out

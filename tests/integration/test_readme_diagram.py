"""Issue 30 point 5: the README's picture of the demo's asset graph is generated from the
compiled artifacts and kept current: this test fails when a product, model, publication
or input changes and the diagram was not redrawn (`floe diagram --platform-dir demo
--readme README.md`)."""

from __future__ import annotations

import shutil
from pathlib import Path

from click.testing import CliRunner

from floe.cli import main
from floe.local.diagram import current_block, mermaid, readme_block
from tests.conftest import PRODUCTS, ROOT

README = ROOT / "README.md"


def test_the_readme_diagram_is_the_compiled_demo(compiled_demo: Path) -> None:
    assert current_block(README.read_text(encoding="utf-8")) == readme_block(compiled_demo)


def test_the_diagram_shows_every_product_its_publications_and_its_inputs(
    compiled_demo: Path,
) -> None:
    text = mermaid(compiled_demo)
    for product in PRODUCTS:
        assert f'["{product}"]' in text
    assert "lakehouse__customer_360__mart_customer_360 --> risk_overview" in text
    assert "lakehouse__financial_risk__mart_risk_dashboard --> risk_overview" in text
    assert mermaid(compiled_demo) == text  # deterministic


def test_a_product_added_without_redrawing_is_caught(compiled_demo: Path, tmp_path: Path) -> None:
    platform = tmp_path / "demo"
    shutil.copytree(compiled_demo, platform, ignore=shutil.ignore_patterns("*.duckdb", "target"))
    shutil.copytree(platform / "iot-telemetry", platform / "iot-telemetry-2")
    artifacts = platform / "iot-telemetry-2" / "compiled_artifacts.json"
    artifacts.write_text(
        artifacts.read_text()
        .replace('"product_name": "iot-telemetry"', '"product_name": "iot-telemetry-2"')
        .replace('"module_name": "iot_telemetry"', '"module_name": "iot_telemetry_2"')
    )
    assert readme_block(platform) != current_block(README.read_text(encoding="utf-8"))
    readme = tmp_path / "README.md"
    readme.write_text(README.read_text(encoding="utf-8"))
    done = CliRunner().invoke(
        main, ["diagram", "--platform-dir", str(platform), "--readme", str(readme)]
    )
    assert done.exit_code == 0, done.output
    assert "updated" in done.output
    assert current_block(readme.read_text()) == readme_block(platform)
    assert '["iot-telemetry-2"]' in readme.read_text()

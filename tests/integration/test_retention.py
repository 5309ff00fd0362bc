"""governance.data_retention_days runs: the shared floe_retention post-hook (issue 4)."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from floe.compiler.dbt import run_dbt
from floe.compiler.profiles import build_profiles, render_profiles
from floe.schemas.manifest import PluginSelection
from tests.conftest import DEMO, ROOT

FIXTURE = ROOT / "tests" / "fixtures" / "retention"


def _build(tmp_path: Path, vars_json: str | None) -> dict[str, int]:
    shutil.copytree(DEMO / "macros", tmp_path / "macros")
    project = tmp_path / "project"
    shutil.copytree(FIXTURE, project)
    profiles = build_profiles("retention_fixture", PluginSelection(type="duckdb"))
    (project / "profiles.yml").write_text(render_profiles(profiles, "# test\n"))
    args = ["build"] + (["--vars", vars_json] if vars_json else [])
    run_dbt(project, args, project)
    con = duckdb.connect(str(project / "target" / "demo.duckdb"), read_only=True)
    try:
        return {
            name: con.execute(f"select count(*) from main.{name}").fetchone()[0]  # type: ignore[index]
            for name in ("with_timestamp", "without_timestamp", "as_view")
        }
    finally:
        con.close()


@pytest.mark.parametrize(("days", "kept"), [(1, 2), (7, 3), (30, 4)])
def test_retention_deletes_rows_older_than_the_retention_days(
    tmp_path: Path, days: int, kept: int
) -> None:
    counts = _build(tmp_path, f'{{"floe_data_retention_days": {days}}}')
    assert counts["with_timestamp"] == kept


def test_retention_is_safe_on_models_without_the_column_and_on_views(tmp_path: Path) -> None:
    counts = _build(tmp_path, '{"floe_data_retention_days": 1}')
    assert counts["without_timestamp"] == 4
    assert counts["as_view"] == 4


def test_no_retention_configured_keeps_everything(tmp_path: Path) -> None:
    assert _build(tmp_path, None) == {"with_timestamp": 4, "without_timestamp": 4, "as_view": 4}

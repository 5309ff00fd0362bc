"""Issue 14: floe on a team's own dbt project (tests/fixtures/byo/jaffle, a jaffle-shop
style project with its own committed profiles.yml and no floe.yaml).

Everything runs for real: `floe init` parses the project with dbt, `floe compile` and
`floe run` compile and materialize it on DuckDB, through the CLI as a user calls it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from floe.product_files import GENERATED_MARK, PROFILES_FILE
from tests.conftest import DEMO_MANIFEST, ROOT, run_python

FIXTURE = ROOT / "tests" / "fixtures" / "byo" / "jaffle"
OWNER = "shop-team@example.com"


def _floe(*args: str, cwd: Path) -> tuple[int, str, str]:
    done = run_python("-m", "floe.cli", *args, cwd=cwd)
    return done.returncode, done.stdout, done.stderr


def make_platform(root: Path, *, level: str | None = None) -> Path:
    """A platform directory: the demo manifest plus a copy of the fixture project."""
    root.mkdir(parents=True)
    manifest = yaml.safe_load(DEMO_MANIFEST.read_text())
    if level:
        manifest["governance"]["policy_enforcement_level"] = level
    (root / "manifest.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))
    shutil.copytree(FIXTURE, root / "jaffle")
    return root


@pytest.fixture(scope="module")
def initialised(tmp_path_factory: pytest.TempPathFactory) -> Path:
    platform = make_platform(tmp_path_factory.mktemp("byo") / "platform")
    code, _out, err = _floe("init", "jaffle", "--owner", OWNER, cwd=platform)
    assert code == 0, err
    return platform


def test_init_writes_floe_yaml_from_the_dbt_graph(initialised: Path) -> None:
    spec = yaml.safe_load((initialised / "jaffle" / "floe.yaml").read_text())
    assert spec["metadata"] == {
        "name": "jaffle",
        "version": "2.1.0",  # dbt_project.yml's "2.1"
        "owner": OWNER,
        "description": "dbt project jaffle_shop",
    }
    assert spec["platform"] == {"manifest": "../manifest.yaml"}
    assert spec["transforms"] == [
        {"name": "customers", "tier": "gold", "dependsOn": ["stg_customers", "stg_orders"]},
        {"name": "order_facts", "tier": "gold", "dependsOn": ["stg_orders"]},  # a leaf
        {"name": "stg_customers", "tier": "bronze"},
        {"name": "stg_orders", "tier": "bronze"},
    ]


def test_init_never_overwrites_floe_yaml(initialised: Path) -> None:
    spec = initialised / "jaffle" / "floe.yaml"
    before = spec.read_bytes()
    code, _out, err = _floe("init", "jaffle", cwd=initialised)
    assert code == 9
    assert "floe.yaml already exists; floe init never overwrites it" in err
    assert spec.read_bytes() == before


def test_init_names_models_whose_tier_it_guessed(tmp_path: Path) -> None:
    """Issue 30 point 3: a model at the top of models/ that nothing reads is a mart."""
    platform = make_platform(tmp_path / "p")
    code, _out, err = _floe("init", "jaffle", "--owner", OWNER, cwd=platform)
    assert code == 0
    assert (
        "gold (published) because no model reads them and neither folder nor name prefix "
        "says otherwise: order_facts"
    ) in err


def test_init_outside_a_dbt_project_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    code, _out, err = _floe("init", "empty", cwd=tmp_path)
    assert code == 3 and "dbt_project.yml" in err and "Traceback" not in err


@pytest.fixture(scope="module")
def compiled(initialised: Path) -> tuple[Path, str, str]:
    """`floe compile` run inside the platform directory (the default --platform-dir)."""
    code, out, err = _floe("compile", cwd=initialised)
    assert code == 0, err
    return initialised, out, err


def test_compile_after_init_passes_the_lineage_check(compiled: tuple[Path, str, str]) -> None:
    platform, out, _err = compiled
    assert "[1/1] jaffle: ok" in out
    assert (platform / "jaffle" / "compiled_artifacts.json").is_file()


def test_the_projects_own_profiles_yml_is_left_byte_identical(
    compiled: tuple[Path, str, str],
) -> None:
    platform, _out, _err = compiled
    product = platform / "jaffle"
    assert (product / "profiles.yml").read_bytes() == (FIXTURE / "profiles.yml").read_bytes()
    generated = (product / PROFILES_FILE).read_text()
    assert generated.startswith(GENERATED_MARK)
    assert yaml.safe_load(generated)["jaffle_shop"]["target"] == "duckdb"
    definitions = (product / "definitions.py").read_text()
    assert definitions.startswith(GENERATED_MARK)
    assert "PROFILES_DIR = PRODUCT_DIR / '.floe'" in definitions


def test_warn_findings_read_as_warnings_and_unchecked_models_are_listed_once(
    compiled: tuple[Path, str, str],
) -> None:
    _platform, out, _err = compiled
    findings = [line.strip() for line in out.splitlines() if "FLOE-" in line]
    assert findings and all(f.startswith("warning FLOE-") for f in findings)
    assert all(f.endswith("[not enforced: governance is warn]") for f in findings)
    assert "warning FLOE-N001 customers: model name does not follow the marts convention" in out
    notes = [line for line in out.splitlines() if "not checked for naming" in line]
    assert [n.strip() for n in notes] == [
        "note: not checked for naming (no convention for their folder): order_facts"
    ]


def test_strict_findings_read_as_blocking_failures(tmp_path: Path) -> None:
    platform = make_platform(tmp_path / "p", level="strict")
    assert _floe("init", "jaffle", "--owner", OWNER, cwd=platform)[0] == 0
    code, _out, err = _floe("platform", "compile", "--spec", "jaffle/floe.yaml", cwd=platform)
    assert code == 7
    assert "error FLOE-N001 customers" in err
    assert not (platform / "jaffle" / "compiled_artifacts.json").exists()


def test_a_file_floe_did_not_write_is_never_replaced(tmp_path: Path) -> None:
    """A hand-written definitions.py at floe's path: exit 9 naming it, nothing written."""
    platform = make_platform(tmp_path / "p")
    assert _floe("init", "jaffle", "--owner", OWNER, cwd=platform)[0] == 0
    mine = platform / "jaffle" / "definitions.py"
    mine.write_text("# my own Dagster code\ndefs = None\n")
    code, _out, err = _floe("compile", "--platform-dir", str(platform), cwd=tmp_path)
    assert code == 9
    assert str(mine) in err and "refusing to replace a file floe did not generate" in err
    assert mine.read_text() == "# my own Dagster code\ndefs = None\n"
    assert not (platform / "jaffle" / "compiled_artifacts.json").exists()
    assert not (platform / "jaffle" / PROFILES_FILE).exists()


def test_a_profiles_yml_floe_wrote_earlier_is_removed(tmp_path: Path) -> None:
    """Earlier floe versions wrote profiles.yml at the project root; that file (and only
    such a file, with floe's mark) is cleaned up."""
    platform = make_platform(tmp_path / "p")
    product = platform / "jaffle"
    (product / "profiles.yml").write_text(f"{GENERATED_MARK} (older version)\nx: 1\n")
    assert _floe("init", "jaffle", "--owner", OWNER, cwd=platform)[0] == 0
    assert _floe("compile", "--platform-dir", "p", cwd=tmp_path)[0] == 0
    assert not (product / "profiles.yml").exists()
    assert (product / PROFILES_FILE).is_file()


@pytest.fixture(scope="module")
def ran(compiled: tuple[Path, str, str]) -> Path:
    platform, _out, _err = compiled
    code, out, err = _floe("run", "--skip-compile", cwd=platform)
    assert code == 0, out + err
    assert "jaffle: ok" in out and "tests 8 passed, 0 failed, 0 skipped" in out
    return platform


def test_the_first_run_publishes_the_marts_init_found(ran: Path) -> None:
    """Issue 30 point 3: the gold tier init gave the leaves is what the run publishes."""
    code, out, _err = _floe("catalog", "tables", "--json", cwd=ran)
    assert code == 0
    published = sorted(t["identifier"] for t in json.loads(out))
    assert published == ["jaffle.customers", "jaffle.order_facts"]


def _broken_copy(ran: Path, tmp_path: Path) -> Path:
    platform = tmp_path / "p"
    shutil.copytree(ran, platform)
    return platform


def test_a_failing_model_is_named_with_its_file_and_the_database_error(
    ran: Path, tmp_path: Path
) -> None:
    platform = _broken_copy(ran, tmp_path)
    mart = platform / "jaffle" / "models" / "marts" / "customers.sql"
    mart.write_text(mart.read_text().replace("c.first_name,", "cast(c.last_name as integer),"))
    code, out, err = _floe("run", cwd=platform)
    assert code == 6
    assert "jaffle: dbt build: 1 model failed" in err
    assert "model customers failed (models/marts/customers.sql)" in err
    assert "Conversion Error" in err and "INT32" in err
    assert "Traceback" not in out + err
    # dbt skipped the customers tests: skipped, not failed; the old table is stale
    assert "tests 5 passed, 0 failed, 3 skipped" in out
    stale = [line for line in out.splitlines() if "(stale: not rebuilt in this run)" in line]
    assert [line.split()[0] for line in stale] == ["main.customers"]


def test_a_failing_test_is_named_with_its_model_and_row_count(ran: Path, tmp_path: Path) -> None:
    platform = _broken_copy(ran, tmp_path)
    schema = platform / "jaffle" / "models" / "staging" / "schema.yml"
    schema.write_text(schema.read_text().replace("values: ['placed', ", "values: ["))
    code, out, err = _floe("run", cwd=platform)
    assert code == 6
    assert "jaffle: dbt build: 1 test failed" in err
    assert "failed on model stg_orders: 1 failing row(s) (models/staging/schema.yml)" in err
    assert "tests 4 passed, 1 failed, 3 skipped" in out


def test_platform_commands_have_help_naming_the_platform_dir() -> None:
    for command in ("compile", "run", "dev"):
        done = run_python("-m", "floe.cli", command, "--help")
        assert done.returncode == 0
        assert "--platform-dir" in done.stdout and "current directory" in done.stdout
    demo = run_python("-m", "floe.cli", "demo", "run", "--help")
    assert "--demo-dir" in demo.stdout

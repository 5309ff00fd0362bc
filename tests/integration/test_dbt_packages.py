"""Issue 29 point 1: dbt packages.  A jaffle-shop style project (tests/fixtures/byo/jaffle)
that uses a macro from a local-path package (tests/fixtures/byo/shop_utils) compiles and
runs from a clean checkout through the real CLI: floe runs ``dbt deps`` when the packages
are missing or out of date, and not when they are current.  A hub package that cannot be
fetched (the hub pointed at a closed loopback port, as offline) is a clear located error
that keeps what was installed.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from floe.compiler.packages import LOCK_FILE, why_install
from floe.runtime.product import duckdb_file, read_artifacts
from tests.conftest import ROOT
from tests.integration.test_byo_project import OWNER, _floe, make_platform

SHOP_UTILS = ROOT / "tests" / "fixtures" / "byo" / "shop_utils"
LOCAL = "packages:\n  - local: ../shop_utils\n"
HUB = LOCAL + '  - package: dbt-labs/dbt_utils\n    version: [">=1.0.0", "<2.0.0"]\n'
OFFLINE = {"DBT_PACKAGE_HUB_URL": "http://127.0.0.1:9/"}  # nothing listens on port 9


def with_package(root: Path) -> Path:
    """The byo platform, its jaffle project using shop_utils.cents_to_dollars."""
    platform = make_platform(root)
    shutil.copytree(SHOP_UTILS, platform / "shop_utils")
    product = platform / "jaffle"
    (product / "packages.yml").write_text(LOCAL)
    facts = product / "models" / "order_facts.sql"
    facts.write_text(
        "select order_id, customer_id, amount * 1.0 as amount,\n"
        "  {{ shop_utils.cents_to_dollars('amount') }} as amount_dollars\n"
        "from {{ ref('stg_orders') }}\n"
    )
    return platform


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    platform = with_package(tmp_path_factory.mktemp("packages") / "platform")
    code, _out, init_err = _floe("init", "jaffle", "--owner", OWNER, cwd=platform)
    assert code == 0, init_err
    shutil.rmtree(platform / "jaffle" / "dbt_packages")  # a clean checkout has none
    (platform / "jaffle" / LOCK_FILE).unlink()
    code, out, err = _floe("run", cwd=platform)
    assert code == 0, out + err
    return platform, init_err, out


def test_local_package_compiles_and_runs_from_a_clean_checkout(
    ran: tuple[Path, str, str],
) -> None:
    """Issue 29.1: init and run install the local package (saying so); the model that
    calls its macro is built and published."""
    platform, init_err, out = ran
    assert "installed dbt packages with dbt deps (no package-lock.yml yet): shop_utils" in init_err
    assert "installed dbt packages with dbt deps (no package-lock.yml yet): shop_utils" in out
    product = platform / "jaffle"
    assert (product / "dbt_packages" / "shop_utils" / "macros" / "cents.sql").is_file()
    database = duckdb_file(product, read_artifacts(product))
    with duckdb.connect(str(database), read_only=True) as con:
        rows = con.execute(
            "select amount, amount_dollars from order_facts order by order_id"
        ).fetchall()
    assert rows and all(
        float(dollars) == pytest.approx(float(amount) / 100) for amount, dollars in rows
    )
    code, tables, _err = _floe("catalog", "tables", cwd=platform)
    assert code == 0 and "jaffle.order_facts" in tables


def test_current_packages_are_not_installed_again(ran: tuple[Path, str, str]) -> None:
    """Issue 29.1: with the lock current and every package present, no dbt deps runs."""
    platform, _init_err, _out = ran
    product = platform / "jaffle"
    assert why_install(product) is None
    link = (product / "dbt_packages" / "shop_utils").lstat()
    code, out, err = _floe("compile", "--force", cwd=platform)
    assert code == 0, err
    assert "dbt deps" not in out + err
    assert (product / "dbt_packages" / "shop_utils").lstat().st_ino == link.st_ino


def test_a_removed_install_is_reinstalled_even_when_nothing_else_changed(
    ran: tuple[Path, str, str], tmp_path: Path
) -> None:
    """The up-to-date skip of floe compile does not hide a deleted dbt_packages/."""
    platform = tmp_path / "p"
    shutil.copytree(ran[0], platform, symlinks=True)
    product = platform / "jaffle"
    shutil.rmtree(product / "dbt_packages")
    assert why_install(product) == "not installed in dbt_packages/: shop_utils"
    code, out, err = _floe("compile", cwd=platform)
    assert code == 0, err
    assert "installed dbt packages with dbt deps (not installed in dbt_packages/: " in out
    assert (product / "dbt_packages" / "shop_utils").is_dir()


def test_an_unreachable_hub_package_is_a_located_error_and_keeps_the_install(
    ran: tuple[Path, str, str], tmp_path: Path
) -> None:
    """Issue 29.1, bad input: the hub package is named with its packages.yml line; the
    installed local package and the lock file stay as they were; no traceback."""
    platform = tmp_path / "p"
    shutil.copytree(ran[0], platform, symlinks=True)
    product = platform / "jaffle"
    lock_before = (product / LOCK_FILE).read_bytes()
    (product / "packages.yml").write_text(HUB)
    assert (
        why_install(product) == "the declared packages changed since package-lock.yml was written"
    )
    done = _floe_env("compile", cwd=platform)
    assert done[0] == 6, done
    err = done[2]
    assert "cannot install the dbt packages of jaffle: dbt-labs/dbt_utils (127.0.0.1" in err
    assert f"{product / 'packages.yml'}:3:5" in err
    assert "needs the network: dbt-labs/dbt_utils (hub package" in err
    assert "local-path packages install offline" in err and "Traceback" not in err
    assert (product / LOCK_FILE).read_bytes() == lock_before
    assert (product / "dbt_packages" / "shop_utils").is_dir()
    assert not (product / "dbt_packages.floe-previous").exists()


def _floe_env(*args: str, cwd: Path) -> tuple[int, str, str]:
    from tests.conftest import run_python

    done = run_python("-m", "floe.cli", *args, cwd=cwd, **OFFLINE)
    return done.returncode, done.stdout, done.stderr

"""Issue 29 point 1, the image half: the build context carries each product's installed
dbt packages (a local package dbt deps linked in goes in as its files), and staging the
context fails first, naming the product, when declared packages are not installed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from floe.packaging.context import context_files
from floe.packaging.image import BuildError, PipSettings, stage_context
from tests.conftest import DEMO_MANIFEST, ROOT

SHOP_UTILS = ROOT / "tests" / "fixtures" / "byo" / "shop_utils"
LOCK = "packages:\n  - local: ../shop_utils\n    name: shop_utils\nsha1_hash: x\n"


def _root(tmp_path: Path) -> Path:
    """A build root whose demo/ holds one product declaring a local package."""
    root = tmp_path / "root"
    product = root / "demo" / "shop"
    shutil.copytree(ROOT / "tests" / "fixtures" / "byo" / "jaffle", product)
    (root / "demo" / "manifest.yaml").write_bytes(DEMO_MANIFEST.read_bytes())
    (product / "floe.yaml").write_text("# declared\n")
    (product / "packages.yml").write_text("packages:\n  - local: ../../shop_utils\n")
    (product / "package-lock.yml").write_text(LOCK)
    shutil.copytree(SHOP_UTILS, root / "shop_utils")
    (root / ".dockerignore").write_text("shop_utils/\n")
    return root


def test_a_linked_local_package_enters_the_context_as_its_files(tmp_path: Path) -> None:
    root = _root(tmp_path)
    install = root / "demo" / "shop" / "dbt_packages"
    install.mkdir()
    (install / "shop_utils").symlink_to(root / "shop_utils")  # as dbt deps installs it
    files = [p.as_posix() for p in context_files(root)]
    assert "demo/shop/dbt_packages/shop_utils/macros/cents.sql" in files
    assert not [f for f in files if f.startswith("shop_utils/")]  # the source: ignored
    staged = stage_context(root, tmp_path / "ctx", PipSettings())
    copied = staged / "demo/shop/dbt_packages/shop_utils/macros/cents.sql"
    assert not copied.parent.parent.is_symlink() and "cents_to_dollars" in copied.read_text()


def test_staging_fails_first_naming_the_product_whose_packages_are_missing(
    tmp_path: Path,
) -> None:
    root = _root(tmp_path)
    with pytest.raises(BuildError) as caught:
        stage_context(root, tmp_path / "ctx", PipSettings())
    assert "dbt packages declared but not installed: shop (dbt_packages/)" in str(caught.value)
    assert "floe compile --platform-dir demo installs them" in str(caught.value)
    assert not (tmp_path / "ctx").exists()

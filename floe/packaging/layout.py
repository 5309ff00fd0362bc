"""The demo's layout inside the image: ``/app/demo/<module_name>/`` per product (AC-11.1).

One function says where each file goes; the Dockerfile, the chart's workspace and the
tests that stage a copy of ``/app/demo`` all follow it.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from floe.local.products import MANIFEST_FILE, discover_products
from floe.schemas.spec import module_name

IMAGE_DEMO_ROOT = "/app/demo"
SHARED = (MANIFEST_FILE, "macros")
# What a product needs at run time; everything else (logs, local DuckDB files, per-run
# target folders) stays out of the image.
PRODUCT_EXCLUDES = ("logs", "__pycache__", "*.duckdb", "*.duckdb.wal", "observability")


@dataclass(frozen=True)
class CodeLocation:
    """One product as a Dagster code location inside the image (AC-11.5)."""

    product: str
    module_name: str
    location_name: str
    working_directory: str = IMAGE_DEMO_ROOT
    attribute: str = "defs"

    @property
    def module(self) -> str:
        return f"{self.module_name}.definitions"


def code_locations(demo_dir: Path) -> list[CodeLocation]:
    return [
        CodeLocation(product=p.name, module_name=module_name(p.name), location_name=p.name)
        for p in discover_products(demo_dir)
    ]


def stage_image_layout(demo_dir: Path, dest: Path) -> Path:
    """Copy ``demo_dir`` to ``dest`` laid out as ``/app/demo`` is in the image."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(demo_dir / MANIFEST_FILE, dest / MANIFEST_FILE)
    shutil.copytree(demo_dir / "macros", dest / "macros", dirs_exist_ok=True)
    ignore = shutil.ignore_patterns(*PRODUCT_EXCLUDES)
    for location in code_locations(demo_dir):
        target = dest / location.module_name
        shutil.copytree(demo_dir / location.product, target, ignore=ignore, dirs_exist_ok=True)
        (target / "__init__.py").touch()
    return dest

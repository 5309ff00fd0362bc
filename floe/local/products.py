"""Finding the data products of a demo tree (directories holding a floe.yaml)."""

from __future__ import annotations

import os
from pathlib import Path

from floe.errors import ConfigFileNotFound, Location, UnsafeNameError
from floe.schemas.spec import module_name

SPEC_FILE = "floe.yaml"
MANIFEST_FILE = "manifest.yaml"
FLOE_DIR = ".floe"


def local_instance_home(platform_dir: Path) -> Path:
    """The platform's local Dagster instance, shared by `floe run` (which records there)
    and `floe dev` (which shows it): $DAGSTER_HOME when set, else <platform>/.floe/
    dagster_home."""
    home = Path(os.environ.get("DAGSTER_HOME") or Path(platform_dir) / FLOE_DIR / "dagster_home")
    home = home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    return home


def discover_products(demo_dir: Path, only: list[str] | None = None) -> list[Path]:
    """Product directories under ``demo_dir``, sorted by name; ``only`` filters by name."""
    demo_dir = Path(demo_dir)
    if not (demo_dir / MANIFEST_FILE).is_file():
        raise ConfigFileNotFound(
            f"no {MANIFEST_FILE} in {demo_dir}",
            Location(demo_dir / MANIFEST_FILE),
            hint="pass the directory that holds manifest.yaml and the product folders",
        )
    products = sorted(p.parent for p in demo_dir.glob(f"*/{SPEC_FILE}"))
    seen: dict[str, Path] = {}
    for product in products:
        mod = module_name(product.name)
        if mod in seen:
            raise UnsafeNameError(
                f"products {seen[mod].name!r} and {product.name!r} both become module {mod!r}",
                Location(product / SPEC_FILE),
                hint="rename one of the product directories",
            )
        seen[mod] = product
    if only:
        unknown = sorted(set(only) - {p.name for p in products})
        if unknown:
            raise ConfigFileNotFound(
                f"no product named {', '.join(unknown)} in {demo_dir}",
                Location(demo_dir),
                expected=", ".join(p.name for p in products) or "a product folder with floe.yaml",
            )
        products = [p for p in products if p.name in only]
    if not products:
        raise ConfigFileNotFound(
            f"no product folders with {SPEC_FILE} in {demo_dir}", Location(demo_dir)
        )
    return products

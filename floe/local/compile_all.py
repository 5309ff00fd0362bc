"""Compile every product of a demo tree: validate, profiles, dbt compile, artifacts, code."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from floe.compiler.pipeline import CompileResult
from floe.errors import FloeError
from floe.local.products import MANIFEST_FILE, SPEC_FILE, discover_products
from floe.outputs import compile_and_write

Progress = Callable[[str], None]


@dataclass(frozen=True)
class ProductCompiled:
    name: str
    result: CompileResult
    written: list[Path]
    seconds: float


def compile_all(
    demo_dir: Path, *, only: list[str] | None = None, progress: Progress = print
) -> list[ProductCompiled]:
    """Compile each product in turn; the first failure stops with the product's name."""
    demo_dir = Path(demo_dir)
    products = discover_products(demo_dir, only)
    done: list[ProductCompiled] = []
    for index, product in enumerate(products, 1):
        progress(f"[{index}/{len(products)}] {product.name}: validate, dbt compile, generate ...")
        start = time.perf_counter()
        try:
            result, written = compile_and_write(
                product / SPEC_FILE, demo_dir / MANIFEST_FILE, generate_definitions=True
            )
        except FloeError as exc:
            exc.message = f"{product.name}: {exc.message}"
            raise
        seconds = time.perf_counter() - start
        summary = result.enforcement.summary()
        models = len(result.artifacts.transforms.models)
        progress(
            f"[{index}/{len(products)}] {product.name}: ok in {seconds:.1f}s ({models} models; "
            f"governance {summary.enforcement_level}: "
            f"{summary.error_count} errors, {summary.warning_count} warnings)"
        )
        for violation in result.enforcement.violations:
            progress(f"      {violation}")
        done.append(ProductCompiled(product.name, result, written, seconds))
    return done

"""Writing a compiled product's files (sits above compiler and codegen)."""

from __future__ import annotations

from pathlib import Path

from floe.codegen.definitions import render_definitions
from floe.compiler.pipeline import (
    ARTIFACTS_FILE,
    DEFINITIONS_FILE,
    PROFILES_FILE,
    CompileResult,
    compile_product,
    regenerate_command,
)
from floe.compiler.writer import exclusive_lock, write_all_atomic


def write_outputs(
    result: CompileResult, *, output: Path | None = None, generate_definitions: bool = False
) -> list[Path]:
    """Write profiles.yml, compiled_artifacts.json and (optionally) definitions.py.

    Each file is replaced atomically; returns the paths written.
    """
    product_dir = result.product_dir
    files = {
        product_dir / PROFILES_FILE: result.profiles_text,
        Path(output) if output else product_dir / ARTIFACTS_FILE: result.artifacts.to_json(),
    }
    if generate_definitions:
        command = regenerate_command(result.spec.path, result.manifest.path)
        files[product_dir / DEFINITIONS_FILE] = render_definitions(result.artifacts, command)
    write_all_atomic(files)
    return sorted(files, key=str)


LOCK_FILE = Path("target") / ".floe-compile.lock"


def compile_and_write(
    spec_path: Path,
    manifest_path: Path | None = None,
    *,
    output: Path | None = None,
    generate_definitions: bool = False,
) -> tuple[CompileResult, list[Path]]:
    """Compile one product and write its files, holding the product's lock throughout.

    Two compiles of one product (two terminals, parallel CI jobs) run one after the other;
    their outputs never interleave.
    """
    with exclusive_lock(Path(spec_path).resolve().parent / LOCK_FILE):
        result = compile_product(spec_path, manifest_path)
        written = write_outputs(result, output=output, generate_definitions=generate_definitions)
    return result, written

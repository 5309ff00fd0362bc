"""Writing a compiled product's files (sits above compiler and codegen)."""

from __future__ import annotations

from pathlib import Path

from floe.codegen.definitions import render_definitions
from floe.compiler.pipeline import (
    ARTIFACTS_FILE,
    DEFINITIONS_FILE,
    PROFILES_FILE,
    CompileResult,
    regenerate_command,
)
from floe.compiler.writer import write_all_atomic


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

"""Writing a compiled product's files (sits above compiler and codegen)."""

from __future__ import annotations

from pathlib import Path

from floe.codegen.definitions import render_definitions
from floe.compiler.pipeline import CompileResult, compile_product, regenerate_command
from floe.compiler.writer import exclusive_lock, write_all_atomic
from floe.errors import Location, OutputError
from floe.product_files import (
    ARTIFACTS_FILE,
    DEFINITIONS_FILE,
    GENERATED_MARK,
    PROFILES_FILE,
    PROFILES_NAME,
    is_floe_generated,
)
from floe.run_lock import refuse_while_running


def refuse_foreign(paths: list[Path]) -> None:
    """OutputError (exit 9) naming the first path that holds a file floe did not write."""
    for path in sorted(paths, key=str):
        if path.exists() and not is_floe_generated(path):
            raise OutputError(
                "refusing to replace a file floe did not generate",
                Location(path),
                expected=f"no file here, or one floe wrote (first line '{GENERATED_MARK}...')",
                found="a file without floe's mark (yours?)",
                hint="move it away or rename it; floe never overwrites a file it did not create",
            )


def remove_legacy_profiles(product_dir: Path) -> None:
    """Earlier floe versions wrote profiles.yml at the project root: remove that file only
    if floe wrote it (a team's own profiles.yml stays byte-identical)."""
    legacy = product_dir / PROFILES_NAME
    if legacy.is_file() and is_floe_generated(legacy):
        legacy.unlink()


def write_outputs(
    result: CompileResult, *, output: Path | None = None, generate_definitions: bool = False
) -> list[Path]:
    """Write .floe/profiles.yml, compiled_artifacts.json and (optionally) definitions.py.

    Each file is replaced atomically, and only if floe wrote what is there (exit 9
    otherwise, before anything is written); returns the paths written.
    """
    product_dir = result.product_dir
    files = {
        product_dir / PROFILES_FILE: result.profiles_text,
        Path(output) if output else product_dir / ARTIFACTS_FILE: result.artifacts.to_json(),
    }
    if generate_definitions:
        command = regenerate_command(result.spec.path, result.manifest.path)
        files[product_dir / DEFINITIONS_FILE] = render_definitions(result.artifacts, command)
    refuse_foreign(list(files))
    write_all_atomic(files)
    remove_legacy_profiles(product_dir)
    return sorted(files, key=str)


LOCK_FILE = Path("target") / ".floe-compile.lock"


def compile_and_write(
    spec_path: Path,
    manifest_path: Path | None = None,
    *,
    output: Path | None = None,
    generate_definitions: bool = False,
    run_locked: bool = False,
) -> tuple[CompileResult, list[Path]]:
    """Compile one product and write its files, holding the product's lock throughout.

    Two compiles of one product (two terminals, parallel CI jobs) run one after the other;
    their outputs never interleave; a compile while a floe run runs the product is refused
    (``run_locked``: the run lock is this command's own, floe run compiling first).
    """
    product_dir = Path(spec_path).resolve().parent
    with exclusive_lock(product_dir / LOCK_FILE):
        if not run_locked:
            refuse_while_running(product_dir, "compiling it")
        result = compile_product(spec_path, manifest_path)
        written = write_outputs(result, output=output, generate_definitions=generate_definitions)
    return result, written

"""Up-to-date checks for compile_demo (Make had them; nox does not).

A product's fingerprint covers everything its compile reads: floe.yaml, the dbt project
(models, seeds, macros, dbt_project.yml), the platform manifest, the shared macros the
project points at, and floe itself (version and code templates).  Unchanged fingerprint +
all outputs present = nothing to do.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

from floe import __version__
from floe.product_files import ARTIFACTS_FILE, DEFINITIONS_FILE, PROFILES_FILE

FINGERPRINT_FILE = Path("target") / ".floe-fingerprint"
SKIP_DIRS = {"target", "logs", "dbt_packages", "__pycache__", ".floe"}
GENERATED = {ARTIFACTS_FILE, DEFINITIONS_FILE}  # PROFILES_FILE is under .floe/, skipped
OUTPUTS = (
    Path("target") / "manifest.json",
    Path(PROFILES_FILE),
    Path(ARTIFACTS_FILE),
    Path(DEFINITIONS_FILE),
)
_TEMPLATES = Path(__file__).resolve().parents[1] / "codegen" / "templates"


def _files(root: Path, top_level_generated: bool) -> Iterable[Path]:
    for directory, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith("."))
        for name in sorted(filenames):
            if top_level_generated and Path(directory) == root and name in GENERATED:
                continue
            yield Path(directory) / name


def fingerprint(
    product_dir: Path,
    manifest_path: Path,
    extra_dirs: Iterable[Path],
    extra_files: Iterable[Path] = (),
) -> str:
    """``extra_files``: files of other products the compile reads (the floe.yaml and data
    contract of each product whose tables this one reads)."""
    digest = hashlib.sha256(f"floe {__version__}\n".encode())

    def add(path: Path, label: str) -> None:
        digest.update(f"{label}\0".encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())

    for path in _files(product_dir, top_level_generated=True):
        add(path, path.relative_to(product_dir).as_posix())
    add(manifest_path, "@manifest")
    for extra in sorted({p.resolve() for p in extra_dirs}):
        for path in _files(extra, top_level_generated=False):
            add(path, f"@{extra.name}/{path.relative_to(extra).as_posix()}")
    for path in sorted({p.resolve() for p in extra_files}):
        if path.is_file():
            add(path, f"@{path.parent.name}/{path.name}")
    for path in sorted(_TEMPLATES.glob("*.j2")):
        add(path, f"@template/{path.name}")
    return digest.hexdigest()


def shared_dirs(product_dir: Path, macro_paths: list[str]) -> list[Path]:
    """Macro paths outside the product directory (e.g. ../macros)."""
    out = []
    for entry in macro_paths:
        path = (product_dir / entry).resolve()
        if path.is_dir() and not path.is_relative_to(product_dir.resolve()):
            out.append(path)
    return out


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _stamp(product_dir: Path) -> list[str]:
    try:
        return (product_dir / FINGERPRINT_FILE).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return []  # none, or unreadable: compile again


def is_up_to_date(product_dir: Path, current: str) -> bool:
    """The inputs are what the last compile read, and its outputs are as it wrote them."""
    lines = _stamp(product_dir)
    if not lines or lines[0].strip() != current:
        return False
    return not changed_outputs(product_dir)


def is_up_to_date_inputs(product_dir: Path, current: str) -> bool:
    """The inputs are what the last compile read (whatever became of its outputs)."""
    lines = _stamp(product_dir)
    return bool(lines) and lines[0].strip() == current


def changed_outputs(product_dir: Path) -> list[str]:
    """Outputs missing, or not what the last compile wrote (truncated, edited): issue 28
    point 4 - they are rebuilt, not trusted."""
    recorded = dict(line.split(" ", 1)[::-1] for line in _stamp(product_dir)[1:] if " " in line)
    out = []
    for output in OUTPUTS:
        path = product_dir / output
        if not path.is_file() or recorded.get(output.as_posix()) != _digest(path):
            out.append(output.as_posix())
    return out


def record(product_dir: Path, current: str) -> None:
    """The fingerprint of the inputs, then each output's sha256 as written."""
    from floe.compiler.writer import write_atomic

    lines = [current]
    for output in OUTPUTS:
        path = product_dir / output
        if path.is_file():
            lines.append(f"{_digest(path)} {output.as_posix()}")
    write_atomic(product_dir / FINGERPRINT_FILE, "\n".join(lines) + "\n")

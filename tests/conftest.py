"""Shared fixtures: the real demo files, temporary copies of them, and YAML helpers."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "demo"
DEMO_MANIFEST = DEMO / "manifest.yaml"
CUSTOMER_SPEC = DEMO / "customer-360" / "floe.yaml"
# every demo product, in name order (the producers of risk-overview's inputs come first)
PRODUCTS = tuple(sorted(p.parent.name for p in DEMO.glob("*/floe.yaml")))
GENERATED = ("target", "logs", ".floe", "compiled_artifacts.json", "definitions.py")


@dataclass(frozen=True)
class Shape:
    """What a demo product holds, read from its own files (the counts tests expect)."""

    models: int
    seeds: int
    published: tuple[str, ...]  # model names
    inputs: int

    @property
    def gold(self) -> str:
        return self.published[0]


def demo_shape(product: str) -> Shape:
    base = DEMO / product
    spec = yaml.safe_load((base / "floe.yaml").read_text(encoding="utf-8"))
    published = tuple(
        t["name"]
        for t in spec["transforms"]
        if t.get("publish") is True or (t.get("publish") is None and t.get("tier") == "gold")
    )
    return Shape(
        models=len(list((base / "models").rglob("*.sql"))),
        seeds=len(list((base / "seeds").glob("*.csv"))) if (base / "seeds").is_dir() else 0,
        published=published,
        inputs=len(spec.get("inputs") or []),
    )


def copy_demo(dest: Path) -> Path:
    """A copy of demo/ without anything generated (as on a fresh clone)."""
    shutil.copytree(DEMO, dest, ignore=shutil.ignore_patterns(*GENERATED, ".floe", "__pycache__"))
    return dest


@pytest.fixture
def demo_copy(tmp_path: Path) -> Path:
    return copy_demo(tmp_path / "demo")


@pytest.fixture
def write_yaml(tmp_path: Path) -> Callable[[str, object], Path]:
    def write(name: str, data: object) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        text = data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False)
        path.write_text(text, encoding="utf-8")
        return path

    return write


def demo_manifest_data() -> dict:
    return yaml.safe_load(DEMO_MANIFEST.read_text(encoding="utf-8"))


def customer_spec_data() -> dict:
    return yaml.safe_load(CUSTOMER_SPEC.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def compiled_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh copy of demo/ compiled once per test session (like `nox -s compile_demo`)."""
    from floe.local.compile_all import compile_all

    demo = copy_demo(tmp_path_factory.mktemp("compiled") / "demo")
    assert not any((demo / p / "target").exists() for p in PRODUCTS)  # BC-11.3 precondition
    compile_all(demo, progress=lambda _line: None)
    return demo


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """AC-10.2: no xfail markers anywhere; a test either proves something or is removed."""
    marked = [item.nodeid for item in items if item.get_closest_marker("xfail")]
    if marked:
        raise pytest.UsageError(f"xfail markers are not allowed (AC-10.2): {', '.join(marked)}")


def copy_tracked(dest: Path) -> Path:
    """The repository's tracked files (as the working tree has them) copied to ``dest``:
    a fresh clone's files, without its .git."""
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split("\0")
    for rel in filter(None, tracked):
        source = ROOT / rel
        if source.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / rel)
    return dest


def run_python(
    *args: str, cwd: Path = ROOT, timeout: float = 300, **env_overrides: str
) -> subprocess.CompletedProcess[str]:
    """This interpreter with ``args`` in a child process (env overrides such as PATH)."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env={**os.environ, **env_overrides},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def floe_cli(cwd: Path, *argv: str, **env_overrides: str) -> subprocess.CompletedProcess[str]:
    """``floe argv`` as a user runs it, in a child process in ``cwd`` (this checkout's
    floe on the path; env overrides such as FLOE_LAKEHOUSE_DIR)."""
    return run_python(
        "-m", "floe.cli", *argv, cwd=cwd, timeout=600, PYTHONPATH=str(ROOT), **env_overrides
    )

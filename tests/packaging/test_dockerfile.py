"""docker/dagster-demo/Dockerfile and its build context.

AC-11.1, AC-11.2, AC-11.7, BC-11.2, BC-11.4.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from floe.packaging.context import context_files, is_excluded, parse_dockerignore
from floe.packaging.image import base_image
from floe.packaging.layout import code_locations
from sessions.config import DOCKERFILE, IMAGE_REQUIREMENTS
from tests.conftest import DEMO, PRODUCTS, ROOT, copy_demo


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def _copies() -> list[tuple[str, str]]:
    return [tuple(shlex.split(args)[-2:]) for word, args in _instructions() if word == "COPY"]  # type: ignore[misc]


def test_ac_11_1_extends_the_celery_k8s_base_through_one_build_argument() -> None:
    """Issue 12: the base is one ARG (an organisation passes its mirror); every stage is
    built FROM it, so the dagster version is stated once."""
    instructions = _instructions()
    assert instructions[0] == ("ARG", "BASE_IMAGE=dagster/dagster-celery-k8s:1.9.6")
    froms = [args for word, args in instructions if word == "FROM"]
    assert len(froms) == 2
    assert all(f.split()[0] == "${BASE_IMAGE}" for f in froms)
    assert base_image() == "dagster/dagster-celery-k8s:1.9.6"


def test_build_host_pip_settings_are_read_only_by_the_first_stage() -> None:
    """Issue 12: the staged pip settings (index, certificate bundle) never reach the image:
    only stage 1 copies them, and the image takes nothing from stage 1 but /install."""
    instructions = _instructions()
    second = [i for i, (word, _) in enumerate(instructions) if word == "FROM"][1]
    final = instructions[second:]
    assert not any("docker/dagster-demo/pip" in args for _word, args in final)
    assert [args for word, args in final if word == "COPY" and "--from" in args] == [
        "--from=packages /install/replaced.txt /tmp/replaced.txt",
        "--from=packages /install/deps/ /usr/local/",
        "--from=packages /install/floe/ /usr/local/",
    ]
    first = instructions[:second]
    assert ("COPY", "docker/dagster-demo/pip/ /tmp/pip/") in first


def test_ac_11_1_products_copied_to_underscored_dirs_matching_the_layout() -> None:
    copies = dict(_copies())
    for location in code_locations(DEMO):
        assert copies[f"demo/{location.product}/"] == f"/app/demo/{location.module_name}/"


def test_ac_11_1_init_py_created_for_every_product_package() -> None:
    runs = " ".join(args for word, args in _instructions() if word == "RUN")
    loop = re.search(r"for p in ([a-z0-9_ ]+); do", runs)
    assert loop is not None
    assert sorted(loop.group(1).split()) == sorted(c.module_name for c in code_locations(DEMO))
    assert 'touch "/app/demo/$p/__init__.py"' in runs
    assert 'test -f "/app/demo/$p/target/manifest.json"' in runs


def test_ac_11_1_manifest_and_macros_at_app_demo() -> None:
    copies = dict(_copies())
    assert copies["demo/manifest.yaml"] == "/app/demo/manifest.yaml"
    assert copies["demo/macros/"] == "/app/demo/macros/"


def test_ac_11_1_bc_11_4_no_deps_install_from_pinned_file_then_pip_check() -> None:
    instructions = _instructions()
    runs = [args for word, args in instructions if word == "RUN"]
    install = next(r for r in runs if "floe-requirements.txt" in r)
    assert "pip install --no-deps --ignore-installed --prefix /install/deps" in install
    assert "-r /tmp/floe-requirements.txt" in install
    for prefix in ("deps", "floe"):
        copy = instructions.index(("COPY", f"--from=packages /install/{prefix}/ /usr/local/"))
        assert instructions[copy + 1][1].startswith("pip check")
    lines = [
        line
        for line in IMAGE_REQUIREMENTS.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines and all(re.fullmatch(r"[A-Za-z0-9_.-]+==[0-9A-Za-z.+-]+", line) for line in lines)
    assert {"dagster-dbt==0.25.6", "dbt-core==1.8.10", "dbt-duckdb==1.9.6"} <= set(lines)


def test_issue_23_base_versions_a_pin_replaces_are_uninstalled_before_the_pins_land() -> None:
    """Stage 1 names what the pins replace in the base; the image uninstalls exactly that
    before copying the pins in, and checks no distribution is installed twice."""
    instructions = _instructions()
    install = next(a for w, a in instructions if w == "RUN" and "floe-requirements.txt" in a)
    assert "distributions.py replaced /install/deps > /install/replaced.txt" in install
    final = instructions[[i for i, (w, _) in enumerate(instructions) if w == "FROM"][1] :]
    uninstall = next(i for i, (w, a) in enumerate(final) if "pip uninstall" in a)
    deps = final.index(("COPY", "--from=packages /install/deps/ /usr/local/"))
    assert uninstall < deps
    assert "pip uninstall --yes -r /tmp/replaced.txt" in final[uninstall][1]
    assert any("python -m floe.packaging.distributions check" in a for _w, a in final[deps:])


def test_bc_11_2_dependency_layers_come_before_demo_code() -> None:
    order = [dest for _src, dest in _copies()]
    first_demo = min(i for i, d in enumerate(order) if d.startswith("/app/demo"))
    assert all(not d.startswith("/app/demo") for d in order[:first_demo])
    assert order.index("/tmp/floe-requirements.txt") < first_demo


def test_runs_as_non_root_that_owns_what_runs_write() -> None:
    users = [args for word, args in _instructions() if word == "USER"]
    assert users[-1] == "10001"
    runs = " ".join(args for word, args in _instructions() if word == "RUN")
    assert "useradd --uid 10001" in runs
    assert "chown -R floe:floe /app/demo /opt/dagster/dagster_home" in runs


# ---------------------------------------------------------------- build context


@pytest.fixture(scope="module")
def context() -> list[str]:
    return [p.as_posix() for p in context_files(ROOT)]


@pytest.mark.parametrize(
    "path",
    [
        ".git/HEAD",
        ".venv/bin/python",
        "floe/__pycache__/x.pyc",
        ".mypy_cache/x",
        ".pytest_cache/x",
        ".ruff_cache/x",
        ".specwright/x",
        ".beads/x",
        ".claude/x",
        ".nox/tests/bin/python",
        "demo/customer-360/target/demo.duckdb",
        "demo/customer-360/target/run_results.json",
        "demo/customer-360/logs/dbt.log",
        "tests/unit/test_x.py",
    ],
)
def test_ac_11_7_dockerignore_excludes(path: str) -> None:
    rules = parse_dockerignore((ROOT / ".dockerignore").read_text())
    assert is_excluded(path, rules)


def test_ac_11_2_compiled_manifests_stay_in_the_context(tmp_path: Path) -> None:
    rules = parse_dockerignore((ROOT / ".dockerignore").read_text())
    for product in PRODUCTS:
        assert not is_excluded(f"demo/{product}/target/manifest.json", rules)
        assert not is_excluded(f"demo/{product}/definitions.py", rules)
        assert not is_excluded(f"demo/{product}/.floe/profiles.yml", rules)


def test_ac_11_7_context_of_a_compiled_tree_is_small_and_complete(
    compiled_demo: Path, tmp_path: Path
) -> None:
    """A tree laid out like the repo after compile_demo + run_demo: what Docker would send."""
    from floe.local.run import run_product

    root = tmp_path / "repo"
    for name in ("floe", "docker", "sessions"):
        import shutil

        shutil.copytree(ROOT / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md", ".dockerignore", "noxfile.py"):
        (root / name).write_bytes((ROOT / name).read_bytes())
    shutil.copytree(compiled_demo, root / "demo")
    run_product(root / "demo" / "customer-360")  # leaves a DuckDB file and run folders behind
    (root / ".git").mkdir()
    (root / ".git" / "big.pack").write_bytes(b"x" * 1_000_000)
    files = [p.as_posix() for p in context_files(root)]
    for product in PRODUCTS:
        assert f"demo/{product}/target/manifest.json" in files
    assert not [f for f in files if f.endswith(".duckdb") or f.startswith(".git/")]
    assert not [f for f in files if "/target/" in f and not f.endswith("/target/manifest.json")]
    size = sum((root / f).stat().st_size for f in files)
    assert size < 10 * 1024 * 1024, f"context is {size} bytes"


def test_context_digest_changes_with_demo_code_only_when_content_changes(tmp_path: Path) -> None:
    from floe.packaging.context import context_digest

    root = tmp_path / "repo"
    copy_demo(root / "demo")
    (root / ".dockerignore").write_text((ROOT / ".dockerignore").read_text())
    before = context_digest(root)
    (root / "demo" / "customer-360" / "logs").mkdir()
    (root / "demo" / "customer-360" / "logs" / "dbt.log").write_text("noise")
    assert context_digest(root) == before  # ignored files do not change the tag
    sql = root / "demo" / "customer-360" / "models" / "staging" / "stg_customers.sql"
    sql.write_text(sql.read_text() + "\n-- changed\n")
    assert context_digest(root) != before

"""Issue 23: the stand-in base is dagster's recipe for the real one, and the image's pins
agree with it.

- requirements.in is the recipe (one source); requirements.lock is its resolution at the
  release date, and it is what the stand-in and `definitions_compat(image)` install.
- Every image pin is a package the base lacks, or a deliberate override with a reason.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from floe.packaging import base_stack, standin
from floe.packaging.image import base_image
from floe.packaging.wheels import normalize
from sessions import compat
from sessions.config import BASE_LOCK, IMAGE_REQUIREMENTS


def test_recipe_installs_the_dagster_version_of_the_image_base() -> None:
    """The recipe's dagster pin is the tag of the Dockerfile's BASE_IMAGE (one version)."""
    assert base_image().rsplit(":", 1)[1] == base_stack.recipe_dagster_version()
    assert base_stack.recipe_dagster_version() in base_stack.RELEASE_CUTOFF


def test_every_recipe_package_is_locked_and_the_lock_holds_nothing_else() -> None:
    """The lock is the closure of the recipe: each entry is required by the recipe
    itself or by another entry (uv's `# via` annotations), and each recipe line is in it."""
    locked = base_stack.parse_lock()
    assert base_stack.recipe_names() <= set(locked)
    for entry in locked.values():
        assert entry.via, f"{entry.name}: in the lock, required by nothing"
        for parent in entry.via:
            assert parent.startswith("-r ") or parent in locked, (entry.name, parent)
    roots = {e.name for e in locked.values() if any(v.startswith("-r ") for v in e.via)}
    assert roots == base_stack.recipe_names()
    # the Azure and GCP libraries the earlier stand-in left out are in (the cause)
    assert {"dagster-azure", "dagster-gcp", "isodate", "pyarrow"} <= set(locked)


@pytest.mark.slow
def test_the_lock_is_the_recipe_resolved_as_pypi_stood_at_the_release(tmp_path: Path) -> None:
    """Regenerating the lock from requirements.in (uv, --exclude-newer the release date)
    gives the committed file byte for byte: the stand-in cannot drift from the recipe."""
    fresh = tmp_path / "requirements.lock"
    done = base_stack.compile_lock(fresh)
    assert done.returncode == 0, done.stderr[-2000:]
    assert fresh.read_text() == BASE_LOCK.read_text()


def test_the_uv_pin_is_the_one_the_stand_in_uses() -> None:
    pyproject = (base_stack.ROOT / "pyproject.toml").read_text()
    assert f'"uv=={base_stack.UV_VERSION}"' in pyproject


def test_image_pins_differ_from_the_base_only_by_listed_overrides() -> None:
    """Issue 23 point 3: no pin silently replaces a base package, none repeats one."""
    report = base_stack.compare_pins()
    assert report.unexplained == {}
    assert report.redundant == {}
    assert report.stale_overrides == []
    assert set(report.overridden) == set(base_stack.OVERRIDES)
    assert all(len(why) > 40 for why in base_stack.OVERRIDES.values())


def test_a_pin_that_replaces_or_repeats_a_base_package_is_named(tmp_path: Path) -> None:
    """What the old requirements.txt did: pyarrow 25 over the base's 18.1, cachetools at
    the base's own version."""
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("pyarrow==25.0.1\ncachetools==5.5.0\nisodate==0.6.1\nduckdb==1.5.6\n")
    report = base_stack.compare_pins(requirements)
    assert report.unexplained == {"pyarrow": ("18.1.0", "25.0.1")}
    assert report.redundant == {"cachetools": "5.5.0"}
    assert report.overridden == {"isodate": ("0.7.2", "0.6.1")}
    out = subprocess.run(
        [sys.executable, "-m", "floe.packaging.base_stack"],
        capture_output=True,
        text=True,
        cwd=base_stack.ROOT,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "override isodate: base 0.7.2, image 0.6.1" in out.stdout


def test_base_versions_leave_out_windows_only_entries() -> None:
    versions = base_stack.base_versions()
    locked = base_stack.parse_lock()
    assert "pywin32" in locked and "pywin32" not in versions
    assert versions["dagster"] == base_stack.recipe_dagster_version()


def test_the_stand_in_installs_the_lock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The stand-in's build context carries the lock under the name its Dockerfile
    installs, and uv's version as a build argument."""
    seen: dict[str, Any] = {}

    def fake_build(context: Path, tags: list[str], **kwargs: Any) -> str:
        seen["files"] = sorted(p.name for p in context.iterdir())
        seen["lock"] = (context / BASE_LOCK.name).read_text()
        seen["dockerfile"] = (context / "Dockerfile").read_text()
        seen["args"] = kwargs["build_args"]
        return "sha256:0"

    monkeypatch.setattr(standin, "build", fake_build)
    monkeypatch.setattr(standin, "check_host", lambda python: sys.executable)
    monkeypatch.setattr(standin, "_stage_python", lambda python, dest: dest.mkdir())
    monkeypatch.setattr(standin, "build_rootfs_image", lambda work, echo: None)

    class _Images:
        @staticmethod
        def exists(name: str) -> bool:
            return True

    import python_on_whales

    monkeypatch.setattr(python_on_whales.docker, "image", _Images)
    tag = standin.build_standin(
        "dagster/dagster-celery-k8s:1.9.6", None, standin.PipSettings(), echo=lambda _: None
    )
    assert tag == "floe-standin/dagster-celery-k8s:1.9.6"
    assert seen["lock"] == BASE_LOCK.read_text()
    joined = seen["dockerfile"].replace("\\\n", " ")
    install = re.search(r"uv pip install .*", joined)
    assert install and f"-r /tmp/standin-{BASE_LOCK.name}" in install.group(0)
    assert f"COPY {BASE_LOCK.name} /tmp/standin-{BASE_LOCK.name}" in seen["dockerfile"]
    assert seen["args"]["UV_VERSION"] == base_stack.UV_VERSION


class _Session:
    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []
        self.posargs: list[str] = []

    def install(self, *args: str) -> None:
        self.calls.append(("install", *args))

    def run(self, *args: str, **_kwargs: Any) -> None:
        self.calls.append(("run", *args))


def test_compat_session_installs_the_same_base_then_the_image_pins() -> None:
    """Issue 23 point 4: definitions_compat(image) sees the base the stand-in has, not
    dagster resolved as the index stands today."""
    session = _Session()
    compat.definitions_compat(session, "image")  # type: ignore[arg-type]
    installs = [c[1:] for c in session.calls if c[0] == "install"]
    assert installs[0] == ("-r", str(BASE_LOCK))
    assert installs[1] == ("--no-deps", "-r", str(IMAGE_REQUIREMENTS))
    assert ("run", "pip", "check") in session.calls


def test_overrides_name_packages_of_the_base() -> None:
    base = base_stack.base_versions()
    assert all(normalize(name) in base for name in base_stack.OVERRIDES)

"""Issue 23: the image never keeps two versions of one distribution.

floe.packaging.distributions names what a prefix install replaces in the base (the build
uninstalls those first) and finds any distribution installed twice (the image's
self-check).  Here on real metadata directories, as pip writes them.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from floe.packaging import distributions


def _dist(site: Path, name: str, version: str) -> None:
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (info / "RECORD").write_text("")


def _prefix_site(prefix: Path) -> Path:
    return Path(distributions.prefix_site_packages(prefix)[0])


def test_a_pin_at_another_version_than_the_base_is_named(tmp_path: Path) -> None:
    base = tmp_path / "base"
    for name, version in (("isodate", "0.7.2"), ("pyarrow", "18.1.0"), ("dagster", "1.9.6")):
        _dist(base, name, version)
    prefix = tmp_path / "install"
    site = _prefix_site(prefix)
    _dist(site, "isodate", "0.6.1")  # replaces the base's
    _dist(site, "dbt-core", "1.8.10")  # new
    _dist(site, "dagster", "1.9.6")  # same version: nothing to replace
    assert distributions.replaced(prefix, [str(base)]) == [("isodate", "0.7.2", "0.6.1")]


def test_layering_a_prefix_over_the_base_leaves_two_versions_and_is_caught(tmp_path: Path) -> None:
    """The old build's mechanism: copy the prefix over the base without uninstalling."""
    base = tmp_path / "base"
    _dist(base, "isodate", "0.7.2")
    _dist(base, "Jinja2", "3.1.4")
    prefix = tmp_path / "install"
    _dist(_prefix_site(prefix), "isodate", "0.6.1")
    assert distributions.duplicates([str(base)]) == {}
    shutil.copytree(_prefix_site(prefix), base, dirs_exist_ok=True)
    twice = distributions.duplicates([str(base), str(base)])  # a path listed twice counts once
    assert list(twice) == ["isodate"]
    assert sorted(v for v, _ in twice["isodate"]) == ["0.6.1", "0.7.2"]
    # uninstalling the base's version first, as the image's build does, leaves one
    shutil.rmtree(base / "isodate-0.7.2.dist-info")
    assert distributions.duplicates([str(base)]) == {}


def test_check_command_exits_non_zero_and_names_the_package(tmp_path: Path) -> None:
    site = tmp_path / "site"
    _dist(site, "floe-probe", "2.0")
    _dist(site, "floe-probe", "1.0")
    script = Path(distributions.__file__)
    code = f"import sys; sys.path[:0] = [{str(site)!r}]; sys.argv = ['d', 'check']; "
    code += f"exec(compile(open({str(script)!r}).read(), 'd', 'exec'))"
    done = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True)
    assert done.returncode == 1
    assert "floe-probe is installed 2 times: " in done.stderr
    clean = subprocess.run(
        [sys.executable, "-I", str(script), "check"], capture_output=True, text=True
    )
    assert clean.returncode == 0, clean.stderr
    assert "every distribution is installed once" in clean.stdout


def test_replaced_command_prints_names_for_pip_uninstall(tmp_path: Path) -> None:
    """As the Dockerfile runs it: stdout holds only names (pip uninstall -r reads it),
    stderr says what is replaced by what."""
    prefix = tmp_path / "install"
    _dist(_prefix_site(prefix), "pip", "0.0.1")  # this interpreter has a real pip
    done = subprocess.run(
        [sys.executable, "-I", distributions.__file__, "replaced", str(prefix)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["pip"]
    assert "replacing the base's pip " in done.stderr and "with 0.0.1" in done.stderr

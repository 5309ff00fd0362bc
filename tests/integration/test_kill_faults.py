"""Issue 28 point 2, by fault injection: floe SIGKILLed while it writes each kind of
output (tests/integration/kill_probe.py kills the real command at the write: half the new
version in the temp file, or all of it, not yet renamed), then:

- the output is its previous complete version (or still absent), never half;
- the command's temp file is there (the kill did land mid-write) ...
- ... and the next command works with no clean-up, removes it, and writes the new version.

The catalog's own kill (between the branch write and the publish) is in test_wap.py.
"""

from __future__ import annotations

import json
import re
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from floe.local.fingerprint import FINGERPRINT_FILE
from floe.product_files import ARTIFACTS_FILE, DEFINITIONS_FILE, PROFILES_FILE
from tests.conftest import ROOT, floe_cli, run_python
from tests.integration.test_byo_project import make_platform
from tests.integration.test_stopping import SERVING, free_port, port_is_free, start_floe

PROBE = Path(__file__).with_name("kill_probe.py")
PRODUCT = "jaffle"
MODES = ("half", "replace")


def _killed_at(platform: Path, name: str, mode: str, *argv: str) -> str:
    done = run_python(
        str(PROBE), name, mode, *argv, cwd=platform, timeout=600, PYTHONPATH=str(ROOT)
    )
    assert done.returncode == -signal.SIGKILL, done.stdout + done.stderr
    assert f"killing myself while writing {name} ({mode})" in done.stdout
    return done.stdout + done.stderr


def _temps(platform: Path) -> list[Path]:
    return sorted(platform.rglob(".*.tmp"))


def _valid(path: Path) -> None:
    """The file is a complete version of its kind."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        json.loads(text)
    elif path.suffix == ".py":
        compile(text, str(path), "exec")
    elif path.suffix in {".yml", ".yaml"}:
        assert isinstance(yaml.safe_load(text), dict)
    else:  # the fingerprint: its input digest, then one "sha256 output" line per output
        lines = text.splitlines()
        assert re.fullmatch(r"[0-9a-f]{64}", lines[0]) and len(lines) >= 2


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    platform = make_platform(tmp_path_factory.mktemp("kill") / "platform")
    assert floe_cli(platform, "init", PRODUCT, "--owner", "shop@example.com").returncode == 0
    done = floe_cli(platform, "compile", "--platform-dir", ".")
    assert done.returncode == 0, done.stderr
    yield platform


COMPILE_OUTPUTS = {
    "artifacts": ARTIFACTS_FILE,
    "definitions": DEFINITIONS_FILE,
    "profiles": PROFILES_FILE,
    "fingerprint": FINGERPRINT_FILE.as_posix(),
}


def _source_hash_of(artifacts: bytes) -> str:
    return str(json.loads(artifacts)["metadata"]["source_hash"])


def _source_hash(platform: Path) -> str:
    """What the compile read (floe.yaml included): a new compile's artifacts say so."""
    return _source_hash_of((platform / PRODUCT / ARTIFACTS_FILE).read_bytes())


def _describe(platform: Path, text: str) -> None:
    """An input change, so that the next compile's outputs differ from the last."""
    spec = platform / PRODUCT / "floe.yaml"
    data = yaml.safe_load(spec.read_text())
    data["metadata"]["description"] = text
    spec.write_text(yaml.safe_dump(data, sort_keys=False))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", sorted(COMPILE_OUTPUTS))
def test_a_compile_killed_while_writing_an_output_leaves_the_previous_one(
    platform: Path, kind: str, mode: str
) -> None:
    """Issue 28 (2): compiled_artifacts.json, definitions.py, .floe/profiles.yml and the
    fingerprint cache, each killed half-written and fully written before its rename."""
    output = platform / PRODUCT / COMPILE_OUTPUTS[kind]
    files = [platform / PRODUCT / rel for rel in COMPILE_OUTPUTS.values()]
    before = {path: path.read_bytes() for path in files}
    _describe(platform, f"killed while writing {kind} ({mode})")
    name = COMPILE_OUTPUTS[kind]
    _killed_at(platform, name, mode, "compile", "--platform-dir", ".", "--force")
    assert output.read_bytes() == before[output]  # the previous complete version
    for path in files:
        _valid(path)
    assert [t.name for t in _temps(platform)] != []  # the kill landed mid-write
    done = floe_cli(platform, "compile", "--platform-dir", ".")  # no clean-up first
    assert done.returncode == 0, done.stdout + done.stderr
    assert _temps(platform) == []
    assert _source_hash(platform) != _source_hash_of(before[platform / PRODUCT / ARTIFACTS_FILE])
    for path in files:
        _valid(path)


@pytest.mark.parametrize("mode", MODES)
def test_a_run_killed_while_writing_its_report_leaves_the_previous_one(
    platform: Path, mode: str
) -> None:
    """Issue 28 (2): the run report (last_run.json) of floe run."""
    report = platform / PRODUCT / "target" / "observability" / "last_run.json"
    if not report.is_file():
        assert floe_cli(platform, "run", "--platform-dir", ".").returncode == 0
    before = report.read_bytes()
    _killed_at(platform, "observability/last_run.json", mode, "run", "--platform-dir", ".")
    assert report.read_bytes() == before
    assert [t.name for t in _temps(platform)] != []
    done = floe_cli(platform, "run", "--platform-dir", ".")
    assert done.returncode == 0, done.stdout + done.stderr
    assert _temps(platform) == []
    assert json.loads(report.read_text())["run_id"] != json.loads(before)["run_id"]


@pytest.mark.parametrize("mode", MODES)
def test_floe_dev_killed_while_writing_its_workspace_leaves_the_previous_one(
    platform: Path, mode: str
) -> None:
    """Issue 28 (2): the workspace file floe dev writes; the next floe dev serves."""
    workspace = platform / ".floe" / "workspace.yaml"
    before = workspace.read_bytes() if workspace.is_file() else None
    port = free_port()
    argv = ["dev", "--platform-dir", ".", "--port", str(port)]
    _killed_at(platform, ".floe/workspace.yaml", mode, *argv)
    assert (workspace.read_bytes() if workspace.is_file() else None) == before
    assert [t.name for t in _temps(platform)] != []
    server = start_floe(argv, platform)
    assert server.stdout is not None
    try:
        for line in server.stdout:
            if re.search(SERVING, line):
                break
        else:
            pytest.fail("the next floe dev did not serve")
    finally:
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=60)
    assert server.returncode == 143 and port_is_free(port)
    assert _temps(platform) == []
    _valid(workspace)

"""Issue 16: `nox -s audit -- --advisory-db DIR` audits against a local PyPA advisory
database served on loopback with the part of the OSV API pip-audit calls.

pip-audit runs for real against the mirror; the advisories are the dated PyPA snapshot
that sits beside the repository (../shared/advisory-database, as on CI) or files written
here.  Loopback only.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import pytest
from packaging.version import Version

from floe.audit.advisories import AdvisoryDatabase, in_range
from floe.audit.osv_server import serving
from sessions.audit import AuditSetupError, local_osv, parse_args, read_pip_audit
from tests.conftest import ROOT, run_python


def _snapshot() -> Path:
    """Where CI finds the snapshot: beside the repository, or beside its origin."""
    found = subprocess.run(
        ["bash", str(ROOT / ".ci" / "advisory-snapshot")], capture_output=True, text=True
    )
    assert found.returncode == 0, found.stderr
    return Path(found.stdout.strip())


BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def snapshot() -> AdvisoryDatabase:
    return AdvisoryDatabase.load(_snapshot())


def _pip_audit(url: str, requirements: Path, out: Path) -> dict:
    subprocess.run(
        [
            str(BIN / "pip-audit"),
            "-s",
            "osv",
            "--osv-url",
            url,
            "--no-deps",
            "--requirement",
            str(requirements),
            "--format",
            "json",
            "--output",
            str(out),
            "--progress-spinner",
            "off",
        ],
        check=False,
        capture_output=True,
        timeout=300,
    )
    return json.loads(out.read_text())


def test_planted_jinja2_2_10_is_reported_with_ids_and_fixed_versions(
    snapshot: AdvisoryDatabase, tmp_path: Path
) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("jinja2==2.10\n")
    with serving(snapshot) as url:
        report = _pip_audit(url, requirements, tmp_path / "out.json")
    outcome = read_pip_audit(report, ignores={})
    assert outcome.unreachable == []
    assert (
        "jinja2==2.10: PYSEC-2019-217 [CVE-2019-10906, GHSA-462w-v97r-4m45] (fixed in 2.10.1)"
        in (outcome.vulnerable)
    )
    assert any(v.startswith("jinja2==2.10: PYSEC-2021-66 ") for v in outcome.vulnerable)
    assert not outcome.ok


def test_a_clean_set_passes(snapshot: AdvisoryDatabase, tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("jinja2==3.1.6\nclick==8.1.7\n")
    with serving(snapshot) as url:
        report = _pip_audit(url, requirements, tmp_path / "out.json")
    outcome = read_pip_audit(report, ignores={})
    assert outcome.ok, outcome
    assert outcome.audited >= 2


def test_snapshot_says_its_own_date(snapshot: AdvisoryDatabase) -> None:
    assert snapshot.count > 2000
    assert snapshot.newest == "2024-10-08"  # the newest 'published' in the 2024-10-10 copy


@pytest.mark.parametrize(
    ("version", "events", "affected"),
    [
        ("2.10", [{"introduced": "0"}, {"fixed": "2.10.1"}], True),
        ("2.10.1", [{"introduced": "0"}, {"fixed": "2.10.1"}], False),
        ("2.9", [{"introduced": "2.10"}, {"fixed": "2.11"}], False),  # PEP 440: 2.9 < 2.10
        ("1.0rc1", [{"introduced": "1.0"}], False),  # a pre-release sorts before its release
        ("1.5", [{"introduced": "1.0"}, {"last_affected": "1.5"}], True),
        ("1.5.1", [{"introduced": "1.0"}, {"last_affected": "1.5"}], False),
        ("3.0", [{"introduced": "1.0"}, {"limit": "3.0"}], False),
        ("4.1", [{"introduced": "1.0"}, {"fixed": "2.0"}, {"introduced": "4.0"}], True),
        ("3.0", [{"introduced": "1.0"}, {"fixed": "2.0"}, {"introduced": "4.0"}], False),
    ],
)
def test_ecosystem_ranges_follow_osv_and_pep_440(
    version: str, events: list[dict[str, str]], affected: bool
) -> None:
    assert in_range(Version(version), events) is affected


def _write_db(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / "vulns" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


ADVISORY = """id: TEST-1
affected:
- package: {{name: Demo_Pkg, ecosystem: PyPI}}
  versions: ['{listed}']
  ranges:
  - type: GIT
    events: [{{introduced: abc123}}]
published: '2024-01-02T00:00:00Z'
"""


def test_explicit_versions_and_name_normalization(tmp_path: Path) -> None:
    """A version only in the `versions` list matches; package names compare as PEP 503."""
    db = AdvisoryDatabase.load(
        _write_db(tmp_path, {"demo-pkg/TEST-1.yaml": ADVISORY.format(listed="0.9")})
    )
    assert [a.id for a in db.query("demo.pkg", "0.9")] == ["TEST-1"]
    assert db.query("demo-pkg", "1.0") == []
    assert db.newest == "2024-01-02"


def test_a_malformed_advisory_is_named_with_its_line_not_a_traceback(tmp_path: Path) -> None:
    root = _write_db(
        tmp_path,
        {
            "good/TEST-1.yaml": ADVISORY.format(listed="0.9"),
            "bad/TEST-2.yaml": "id: TEST-2\naffected:\n- package: {name: bad\n",
        },
    )
    done = run_python("-m", "floe.audit.osv_server", str(root))
    assert done.returncode == 4
    assert "Traceback" not in done.stderr
    assert f"{root / 'vulns' / 'bad' / 'TEST-2.yaml'}:4" in done.stderr
    assert "malformed YAML" in done.stderr


def test_a_record_without_an_id_is_named(tmp_path: Path) -> None:
    root = _write_db(tmp_path, {"x/TEST-3.yaml": "affected: []\n"})
    done = run_python("-m", "floe.audit.osv_server", str(root))
    assert done.returncode == 4
    assert "TEST-3.yaml" in done.stderr and "not an OSV record" in done.stderr


def _refused(url: str) -> bool:
    parsed = urlparse(url)
    with socket.socket() as probe:
        return probe.connect_ex((parsed.hostname or "", parsed.port or 0)) != 0


def test_session_server_is_gone_when_the_audit_ends_even_on_failure(tmp_path: Path) -> None:
    root = _write_db(tmp_path, {"demo-pkg/TEST-1.yaml": ADVISORY.format(listed="0.9")})
    seen = {}
    with (
        pytest.raises(RuntimeError, match="pip-audit blew up"),
        local_osv(sys.executable, root) as (url, about),
    ):
        seen["url"] = url
        assert "1 advisories, newest published 2024-01-02" in about
        assert not _refused(url)
        raise RuntimeError("pip-audit blew up")
    assert _refused(seen["url"])


def test_session_reports_a_database_it_cannot_serve(tmp_path: Path) -> None:
    with (
        pytest.raises(AuditSetupError, match="no vulns/ directory"),
        local_osv(sys.executable, tmp_path),
    ):
        pass


def test_session_options_choose_one_source() -> None:
    args = parse_args(["--advisory-db", "db"])
    assert args.advisory_db == Path("db") and args.osv_url is None
    assert parse_args(["--osv-url", "http://mirror/v1/query"]).osv_url == "http://mirror/v1/query"
    assert parse_args([]).advisory_db is None and not parse_args([]).allow_offline
    with pytest.raises(SystemExit):
        parse_args(["--osv-url", "x", "--advisory-db", "y"])


def test_the_snapshot_copy_is_not_modified(snapshot: AdvisoryDatabase, tmp_path: Path) -> None:
    """The mirror only reads: a copy served and queried stays byte-identical."""
    copy = tmp_path / "db"
    shutil.copytree(_snapshot() / "vulns" / "jinja2", copy / "vulns" / "jinja2")
    before = {p: p.read_bytes() for p in copy.rglob("*.yaml")}
    with serving(AdvisoryDatabase.load(copy)):
        pass
    assert {p: p.read_bytes() for p in copy.rglob("*.yaml")} == before

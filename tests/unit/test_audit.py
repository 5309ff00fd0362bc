"""`nox -s audit` logic (AC-10.5): real pip-audit and detect-secrets runs on planted input."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from sessions.audit import BASELINE, read_pip_audit, unaudited_secrets
from tests.conftest import ROOT

BIN = Path(sys.executable).parent


def test_planted_vulnerable_pin_fails_the_audit(tmp_path: Path) -> None:
    """jinja2 2.10 has published advisories. Where the vulnerability service answers, the
    audit lists them; where it cannot be reached (as on the CI machine) the audit fails
    saying so. It never passes."""
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("jinja2==2.10\n")
    out = tmp_path / "report.json"
    subprocess.run(
        [
            str(BIN / "pip-audit"),
            "--format",
            "json",
            "--output",
            str(out),
            "--no-deps",
            "--progress-spinner",
            "off",
            "--requirement",
            str(requirements),
        ],
        check=False,
        capture_output=True,
        timeout=300,
    )
    outcome = read_pip_audit(json.loads(out.read_text()))
    assert not outcome.ok
    if outcome.unreachable:
        assert "jinja2" in outcome.unreachable[0].lower()
    else:
        assert any(v.startswith("jinja2==2.10: ") for v in outcome.vulnerable)


def test_vulnerabilities_are_reported_and_reviewed_ignores_respected() -> None:
    report = {
        "dependencies": [
            {
                "name": "pkg",
                "version": "1.0",
                "vulns": [
                    {"id": "PYSEC-1", "aliases": ["CVE-1"], "fix_versions": ["1.1"]},
                    {"id": "GHSA-2", "aliases": ["CVE-2"], "fix_versions": []},
                ],
            },
            {"name": "ok", "version": "2.0", "vulns": []},
            {"name": "floe", "skip_reason": "distribution marked as editable"},
        ]
    }
    outcome = read_pip_audit(report, ignores={})
    assert outcome.vulnerable == [
        "pkg==1.0: PYSEC-1 [CVE-1] (fixed in 1.1)",
        "pkg==1.0: GHSA-2 [CVE-2] (fixed in no fix released)",
    ]
    assert outcome.audited == 2
    assert outcome.unreachable == []  # the editable project is skipped on purpose
    reviewed = read_pip_audit(report, ignores={"CVE-2": "no fix; reviewed"})
    assert reviewed.vulnerable == ["pkg==1.0: PYSEC-1 [CVE-1] (fixed in 1.1)"]


def _scan(repo: Path) -> list[str]:
    baseline = repo / "scanned.baseline"
    shutil.copy(BASELINE, baseline)
    subprocess.run(
        [str(BIN / "detect-secrets"), "scan", "--baseline", str(baseline)],
        cwd=repo,
        check=True,
        capture_output=True,
        timeout=300,
    )
    return unaudited_secrets(json.loads(baseline.read_text()))


def test_committed_tree_has_no_unaudited_secrets() -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        files = subprocess.run(
            ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.split()
        repo = Path(tmp)
        for name in files:
            if (ROOT / name).is_file():
                (repo / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(ROOT / name, repo / name)
        subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
        subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
        assert _scan(repo) == []


def test_planted_fake_key_fails_the_secret_scan(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "demo").mkdir(parents=True)
    shutil.copy(ROOT / "demo" / "manifest.yaml", repo / "demo" / "manifest.yaml")
    fake = "AKIA" + "IOSFODNN7" + "EXAMPLE"  # AWS's documented example key id, split
    (repo / "demo" / "leak.yaml").write_text(f"aws_access_key_id: {fake}\n")
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    found = _scan(repo)
    assert any(item.startswith("demo/leak.yaml:1: AWS Access Key") for item in found)

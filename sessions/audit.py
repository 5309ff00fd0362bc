"""`nox -s audit`: known vulnerabilities (pip-audit) and committed secrets (detect-secrets).

pip-audit runs twice: over the session's environment (the project's pinned stack, every
transitive dependency) and over the image's requirements file.  A dependency pip-audit
could not look up means the vulnerability service was unreachable: the session says so
and fails rather than pass on nothing, unless `-- --allow-offline` is given.
detect-secrets scans every tracked file against the committed, audited .secrets.baseline:
any finding not marked `"is_secret": false` there fails the session.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nox

from sessions.config import IMAGE_REQUIREMENTS, ROOT

BASELINE = ROOT / ".secrets.baseline"
ALLOW_OFFLINE = "--allow-offline"

# Reviewed advisories with no fixed release for a pin we must keep. Each entry: the id,
# the package, why it cannot be fixed now, and when it was reviewed. Empty: nothing is
# ignored.
PIP_AUDIT_IGNORES: dict[str, str] = {}


@dataclass
class AuditOutcome:
    vulnerable: list[str] = field(default_factory=list)
    unreachable: list[str] = field(default_factory=list)
    audited: int = 0

    @property
    def ok(self) -> bool:
        return not self.vulnerable and not self.unreachable


def read_pip_audit(report: dict[str, Any], ignores: dict[str, str] | None = None) -> AuditOutcome:
    """Interpret pip-audit's JSON (`-f json`)."""
    ignored = set(ignores if ignores is not None else PIP_AUDIT_IGNORES)
    outcome = AuditOutcome()
    for dep in report.get("dependencies", []):
        name, version = dep.get("name"), dep.get("version", "?")
        if "skip_reason" in dep:
            outcome.unreachable.append(str(dep["skip_reason"]))
            continue
        outcome.audited += 1
        for vuln in dep.get("vulns", []):
            if vuln["id"] in ignored or ignored & set(vuln.get("aliases", [])):
                continue
            fixes = ", ".join(vuln.get("fix_versions", [])) or "no fix released"
            outcome.vulnerable.append(f"{name}=={version}: {vuln['id']} (fixed in {fixes})")
    return outcome


def unaudited_secrets(baseline: dict[str, Any]) -> list[str]:
    """Findings not reviewed as false positives (`is_secret: false`) in a baseline."""
    return [
        f"{path}:{item['line_number']}: {item['type']}"
        for path, items in sorted(baseline.get("results", {}).items())
        for item in items
        if item.get("is_secret") is not False
    ]


def _pip_audit(session: nox.Session, out: Path, *target: str) -> AuditOutcome:
    ignores = [arg for vuln in PIP_AUDIT_IGNORES for arg in ("--ignore-vuln", vuln)]
    session.run(
        "pip-audit",
        "--format",
        "json",
        "--output",
        str(out),
        "--progress-spinner",
        "off",
        *ignores,
        *target,
        success_codes=[0, 1],
    )
    return read_pip_audit(json.loads(out.read_text(encoding="utf-8")))


def audit(session: nox.Session) -> None:
    session.install("-e", ".[stack,audit]")
    allow_offline = ALLOW_OFFLINE in session.posargs
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="floe-audit-") as tmp:
        work = Path(tmp)
        for label, target in (
            ("project (pinned stack)", ("--skip-editable",)),
            ("image requirements", ("--requirement", str(IMAGE_REQUIREMENTS), "--no-deps")),
        ):
            outcome = _pip_audit(session, work / f"{len(failures)}-{label[:5]}.json", *target)
            session.log(f"pip-audit {label}: {outcome.audited} packages audited")
            failures += [f"{label}: {v}" for v in outcome.vulnerable]
            if outcome.unreachable:
                message = (
                    f"{label}: the vulnerability service was unreachable; "
                    f"{len(outcome.unreachable)} packages could not be audited "
                    f"(first: {outcome.unreachable[0]})"
                )
                if allow_offline:
                    session.warn(message + f" -- ignored because of {ALLOW_OFFLINE}")
                else:
                    failures.append(
                        message + f"; rerun with `nox -s audit -- {ALLOW_OFFLINE}` "
                        "to accept an unaudited result explicitly"
                    )
        scanned = work / "secrets.baseline"
        shutil.copy(BASELINE, scanned)
        session.run("detect-secrets", "scan", "--baseline", str(scanned), external=False)
        new = unaudited_secrets(json.loads(scanned.read_text(encoding="utf-8")))
        failures += [f"secret not in the audited baseline: {item}" for item in new]
    if failures:
        session.error("audit failed:\n  " + "\n  ".join(failures))
    session.log("audit clean: no known vulnerabilities, no unaudited secrets")

"""`nox -s audit`: known vulnerabilities (pip-audit) and committed secrets (detect-secrets).

pip-audit runs twice: over the session's environment (the project's pinned stack, every
transitive dependency) and over the image's requirements file.  Where it looks:

- default: the online services (PyPI's JSON API); a dependency pip-audit could not look
  up means the service was unreachable, and the session fails rather than pass on
  nothing, unless `-- --allow-offline` is given;
- `-- --osv-url URL`: an OSV service at URL (an organisation's mirror);
- `-- --advisory-db DIR`: a local copy of the PyPA advisory database
  (`vulns/<package>/<ID>.yaml`), served on a loopback port for the audit's duration by
  `python -m floe.audit.osv_server`; the session names the database and the date of its
  newest advisory, so nobody mistakes a snapshot for today's truth.

detect-secrets scans every tracked file against the committed, audited .secrets.baseline:
any finding not marked `"is_secret": false` there fails the session.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nox

from sessions.config import IMAGE_REQUIREMENTS, ROOT

BASELINE = ROOT / ".secrets.baseline"
ALLOW_OFFLINE = "--allow-offline"
SERVER_START_TIMEOUT_S = 60

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
            # the project itself (--skip-editable) is skipped on purpose, not unreachable
            if "editable" not in str(dep["skip_reason"]):
                outcome.unreachable.append(str(dep["skip_reason"]))
            continue
        outcome.audited += 1
        for vuln in dep.get("vulns", []):
            if vuln["id"] in ignored or ignored & set(vuln.get("aliases", [])):
                continue
            fixes = ", ".join(vuln.get("fix_versions", [])) or "no fix released"
            aliases = ", ".join(sorted(vuln.get("aliases", [])))
            also = f" [{aliases}]" if aliases else ""
            outcome.vulnerable.append(f"{name}=={version}: {vuln['id']}{also} (fixed in {fixes})")
    return outcome


def unaudited_secrets(baseline: dict[str, Any]) -> list[str]:
    """Findings not reviewed as false positives (`is_secret: false`) in a baseline."""
    return [
        f"{path}:{item['line_number']}: {item['type']}"
        for path, items in sorted(baseline.get("results", {}).items())
        for item in items
        if item.get("is_secret") is not False
    ]


def parse_args(posargs: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="nox -s audit --", add_help=True)
    parser.add_argument(ALLOW_OFFLINE, dest="allow_offline", action="store_true")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--osv-url", help="an OSV service (your mirror) instead of PyPI's API")
    where.add_argument(
        "--advisory-db", type=Path, help="a local PyPA advisory database (vulns/<pkg>/<ID>.yaml)"
    )
    return parser.parse_args(list(posargs))


@contextmanager
def local_osv(python: str, database: Path) -> Iterator[tuple[str, str]]:
    """Serve ``database`` on loopback with floe's OSV mirror while the block runs; yields
    (query URL, description line).  The server process is stopped on exit, however the
    block ends."""
    process = subprocess.Popen(
        [python, "-m", "floe.audit.osv_server", str(database)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None and process.stderr is not None
        url = process.stdout.readline().strip()
        if not url.startswith("http://127.0.0.1:"):
            process.wait(timeout=SERVER_START_TIMEOUT_S)
            raise AuditSetupError(
                process.stderr.read().strip()
                or f"OSV mirror did not start (exit {process.returncode})"
            )
        yield url, process.stdout.readline().strip()
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


class AuditSetupError(Exception):
    """The local advisory database could not be served (message says why, file and line)."""


def _pip_audit(
    session: nox.Session, out: Path, service: Sequence[str], *target: str
) -> AuditOutcome:
    ignores = [arg for vuln in PIP_AUDIT_IGNORES for arg in ("--ignore-vuln", vuln)]
    session.run(
        "pip-audit",
        "--format",
        "json",
        "--output",
        str(out),
        "--progress-spinner",
        "off",
        *service,
        *ignores,
        *target,
        success_codes=[0, 1],
    )
    return read_pip_audit(json.loads(out.read_text(encoding="utf-8")))


TARGETS = (
    ("project (pinned stack)", ("--skip-editable",)),
    ("image requirements", ("--requirement", str(IMAGE_REQUIREMENTS), "--no-deps")),
)


def _audits(
    session: nox.Session, work: Path, service: Sequence[str], allow_offline: bool
) -> list[str]:
    failures: list[str] = []
    for index, (label, target) in enumerate(TARGETS):
        outcome = _pip_audit(session, work / f"audit-{index}.json", service, *target)
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
                    message + f"; rerun with `nox -s audit -- {ALLOW_OFFLINE}` to accept an "
                    "unaudited result explicitly, or audit against a mirror "
                    "(-- --osv-url URL) or a local database (-- --advisory-db DIR)"
                )
    return failures


def audit(session: nox.Session) -> None:
    args = parse_args(session.posargs)
    session.install("-e", ".[stack,audit]")
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="floe-audit-") as tmp:
        work = Path(tmp)
        if args.advisory_db:
            python = str(Path(session.bin) / "python")
            try:
                with local_osv(python, args.advisory_db.resolve()) as (url, about):
                    session.log(f"vulnerability data: LOCAL SNAPSHOT, {about}; served at {url}")
                    failures += _audits(session, work, ("-s", "osv", "--osv-url", url), False)
            except AuditSetupError as error:
                session.error(f"audit failed: cannot serve the advisory database:\n  {error}")
        elif args.osv_url:
            session.log(f"vulnerability data: OSV service at {args.osv_url}")
            failures += _audits(session, work, ("-s", "osv", "--osv-url", args.osv_url), False)
        else:
            session.log("vulnerability data: online services (PyPI's JSON API)")
            failures += _audits(session, work, (), args.allow_offline)
        scanned = work / "secrets.baseline"
        shutil.copy(BASELINE, scanned)
        session.run("detect-secrets", "scan", "--baseline", str(scanned), external=False)
        new = unaudited_secrets(json.loads(scanned.read_text(encoding="utf-8")))
        failures += [f"secret not in the audited baseline: {item}" for item in new]
    if failures:
        session.error("audit failed:\n  " + "\n  ".join(failures))
    session.log("audit clean: no known vulnerabilities, no unaudited secrets")

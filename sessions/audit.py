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
import re
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


CONFLICT = re.compile(
    r"Cannot install (?P<what>.+?) because these package versions have conflicting"
)
REQUIREMENT_LINE = re.compile(r"-r (?P<file>\S+) \(line (?P<line>\d+)\)")


def named_conflict(output: str) -> str | None:
    """pip's resolution conflict in pip-audit's output, each ``-r FILE (line N)`` shown
    as ``FILE:N (the pin on that line)``; None when the output holds no conflict."""
    found = CONFLICT.search(output)
    if found is None:
        return None

    def pin(match: re.Match[str]) -> str:
        path, number = Path(match["file"]), int(match["line"])
        try:
            text = path.read_text(encoding="utf-8").splitlines()[number - 1].strip()
        except (OSError, IndexError):
            return f"{path}:{number}"
        return f"{path}:{number} ({text})"

    return REQUIREMENT_LINE.sub(pin, found["what"])


def pip_audit_outcome(out: Path, output: str, label: str) -> AuditOutcome:
    """What pip-audit found, from the JSON report it wrote; no report means it could not
    audit at all: the requirements do not resolve (the conflicting pins are named) or
    another error (the last lines of its output)."""
    if out.is_file():
        return read_pip_audit(json.loads(out.read_text(encoding="utf-8")))
    conflict = named_conflict(output)
    if conflict:
        raise AuditSetupError(
            f"{label}: pip cannot resolve the requirements, so nothing was audited: "
            f"{conflict} conflict; fix the pins and rerun"
        )
    tail = [line for line in output.splitlines() if line.strip()][-5:]
    raise AuditSetupError(f"{label}: pip-audit wrote no report:\n    " + "\n    ".join(tail))


def _pip_audit(
    session: nox.Session, out: Path, service: Sequence[str], label: str, *target: str
) -> AuditOutcome:
    ignores = [arg for vuln in PIP_AUDIT_IGNORES for arg in ("--ignore-vuln", vuln)]
    output = session.run(
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
        silent=True,
    )
    return pip_audit_outcome(out, str(output or ""), label)


def secret_scan_paths(root: Path, work: Path) -> list[str]:
    """What detect-secrets scans: in a git checkout of ``root``, nothing given (it scans
    the tracked files itself); elsewhere (an unpacked archive) detect-secrets would scan
    nothing, so every file .gitignore does not exclude, as git lists them against a
    throwaway repository."""
    git = shutil.which("git")
    if git is None:
        raise AuditSetupError("git is needed to list the files detect-secrets scans; install git")
    top = subprocess.run(
        [git, "-C", str(root), "rev-parse", "--show-toplevel"], capture_output=True, text=True
    )
    if top.returncode == 0 and Path(top.stdout.strip()).resolve() == root.resolve():
        return []
    probe = work / "file-list"
    subprocess.run([git, "init", "-q", str(probe)], check=True)
    trees = ["--git-dir", str(probe / ".git"), "--work-tree", str(root)]
    listed = subprocess.run(
        [git, *trees, "ls-files", "--others", "--exclude-standard", "-z"],
        capture_output=True,
        text=True,
        check=True,
    )
    files = sorted(name for name in listed.stdout.split("\0") if name)
    if not files:
        raise AuditSetupError(f"no files to scan for secrets under {root}")
    return files


TARGETS = (
    ("project (pinned stack)", ("--skip-editable",)),
    ("image requirements", ("--requirement", str(IMAGE_REQUIREMENTS), "--no-deps")),
)


def _audits(
    session: nox.Session, work: Path, service: Sequence[str], allow_offline: bool
) -> list[str]:
    failures: list[str] = []
    for index, (label, target) in enumerate(TARGETS):
        outcome = _pip_audit(session, work / f"audit-{index}.json", service, label, *target)
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
    with tempfile.TemporaryDirectory(prefix="floe-audit-") as tmp:
        try:
            failures = _vulnerabilities(session, args, Path(tmp))
            failures += _secrets(session, Path(tmp))
        except AuditSetupError as error:
            session.error(f"audit failed:\n  {error}")
    if failures:
        session.error("audit failed:\n  " + "\n  ".join(failures))
    session.log("audit clean: no known vulnerabilities, no unaudited secrets")


def _vulnerabilities(session: nox.Session, args: argparse.Namespace, work: Path) -> list[str]:
    if args.advisory_db:
        python = str(Path(session.bin) / "python")
        with local_osv(python, args.advisory_db.resolve()) as (url, about):
            session.log(f"vulnerability data: LOCAL SNAPSHOT, {about}; served at {url}")
            return _audits(session, work, ("-s", "osv", "--osv-url", url), False)
    if args.osv_url:
        session.log(f"vulnerability data: OSV service at {args.osv_url}")
        return _audits(session, work, ("-s", "osv", "--osv-url", args.osv_url), False)
    session.log("vulnerability data: online services (PyPI's JSON API)")
    return _audits(session, work, (), args.allow_offline)


def _secrets(session: nox.Session, work: Path) -> list[str]:
    scanned = work / "secrets.baseline"
    shutil.copy(BASELINE, scanned)
    paths = secret_scan_paths(ROOT, work)
    if paths:
        session.log(f"not a git checkout: scanning all {len(paths)} files .gitignore keeps")
    with session.chdir(ROOT):  # file names relative to the project, as in the baseline
        session.run("detect-secrets", "scan", "--baseline", str(scanned), *paths, external=False)
    new = unaudited_secrets(json.loads(scanned.read_text(encoding="utf-8")))
    return [f"secret not in the audited baseline: {item}" for item in new]

"""A local database of OSV advisories in the PyPA advisory-database layout.

``vulns/<package>/<ID>.yaml``, one OSV record per file.  A version is affected the way
OSV decides it: it is listed in an ``affected[].versions`` list, or it falls inside an
``ECOSYSTEM`` range, whose events (``introduced``, ``fixed``, ``last_affected``,
``limit``) are ordered by PEP 440.  GIT ranges (commit hashes) cannot be matched to a
release and are left to the ``versions`` list, as OSV's own PyPI matching does.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from packaging.version import InvalidVersion, Version

from floe.errors import ConfigValidationError, Location

ECOSYSTEM = "PyPI"
ENDS = ("fixed", "last_affected", "limit")  # last_affected includes its own version


def canonical(name: str) -> str:
    """PEP 503 normalized name."""
    return re.sub(r"[-_.]+", "-", name).lower()


class AdvisoryError(ConfigValidationError):
    """An advisory file that cannot be read as an OSV record."""

    code = "FLOE160"


def _version(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


def in_range(version: Version, events: list[dict[str, str]]) -> bool:
    """OSV's ECOSYSTEM range evaluation, events ordered by PEP 440 ('0' is the start)."""
    keyed = []
    for event in events:
        for kind, raw in event.items():
            point = Version("0") if raw == "0" else _version(str(raw))
            if point is not None:
                keyed.append((point, kind))
    keyed.sort(key=lambda item: (item[0], item[1] != "introduced"))
    affected = False
    for point, kind in keyed:
        if kind == "introduced" and version >= point:
            affected = True
        elif kind in ENDS and (version > point if kind == "last_affected" else version >= point):
            affected = False
    return affected


@dataclass(frozen=True)
class Advisory:
    record: dict[str, Any]
    path: Path

    @property
    def id(self) -> str:
        return str(self.record["id"])

    def affects(self, name: str, version: str) -> bool:
        if self.record.get("withdrawn"):
            return False
        wanted = canonical(name)
        parsed = _version(version)
        for affected in self.record.get("affected", []):
            package = affected.get("package", {})
            if package.get("ecosystem") != ECOSYSTEM or canonical(package["name"]) != wanted:
                continue
            listed = {str(v) for v in affected.get("versions", [])}
            if version in listed or (parsed and any(_version(v) == parsed for v in listed)):
                return True
            if parsed is None:
                continue
            for range_ in affected.get("ranges", []):
                if range_.get("type") == "ECOSYSTEM" and in_range(parsed, range_["events"]):
                    return True
        return False

    def for_response(self, name: str) -> dict[str, Any]:
        """The record as OSV's API returns it (package names in the canonical form the
        client asked with, so the client finds its fixed versions)."""
        record = dict(self.record)
        record["affected"] = [
            {**a, "package": {**a["package"], "name": canonical(a["package"]["name"])}}
            if canonical(a.get("package", {}).get("name", "")) == canonical(name)
            else a
            for a in self.record.get("affected", [])
        ]
        return record


def _check(record: Any, path: Path) -> dict[str, Any]:
    if not isinstance(record, dict) or not isinstance(record.get("id"), str):
        raise AdvisoryError("not an OSV record: no 'id'", Location(path), expected="id: <ID>")
    affected = record.get("affected", [])
    if not isinstance(affected, list):
        raise AdvisoryError("'affected' is not a list", Location(path, field_path="affected"))
    for index, entry in enumerate(affected):
        where = f"affected[{index}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("package"), dict):
            raise AdvisoryError("no package", Location(path, field_path=where))
        if "name" not in entry["package"]:
            raise AdvisoryError("package has no name", Location(path, field_path=where))
        for r_index, range_ in enumerate(entry.get("ranges", [])):
            if not isinstance(range_, dict) or not isinstance(range_.get("events"), list):
                raise AdvisoryError(
                    "range without an events list",
                    Location(path, field_path=f"{where}.ranges[{r_index}]"),
                )
    return record


def load_file(path: Path) -> Advisory:
    try:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        record = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        raise AdvisoryError(
            f"malformed YAML: {exc.problem}",
            Location(path, (mark.line + 1) if mark else 0, (mark.column + 1) if mark else 0),
        ) from exc
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise AdvisoryError(f"cannot read advisory: {exc}", Location(path)) from exc
    return Advisory(_check(record, path), path)


@dataclass(frozen=True)
class AdvisoryDatabase:
    root: Path
    by_package: dict[str, list[Advisory]]
    newest: str  # the latest 'published' date (YYYY-MM-DD), or 'unknown'
    count: int

    @classmethod
    def load(cls, root: Path) -> AdvisoryDatabase:
        vulns = root / "vulns"
        if not vulns.is_dir():
            raise AdvisoryError(
                "not an advisory database: no vulns/ directory",
                Location(root),
                expected="vulns/<package>/<ID>.yaml (the PyPA advisory-database layout)",
            )
        by_package: dict[str, list[Advisory]] = defaultdict(list)
        newest = ""
        count = 0
        for path in sorted(vulns.glob("*/*.yaml")):
            advisory = load_file(path)
            count += 1
            newest = max(newest, str(advisory.record.get("published", ""))[:10])
            names = {
                canonical(a["package"]["name"])
                for a in advisory.record.get("affected", [])
                if a["package"].get("ecosystem") == ECOSYSTEM
            }
            for name in names:
                by_package[name].append(advisory)
        return cls(root, dict(by_package), newest or "unknown", count)

    def query(self, name: str, version: str) -> list[Advisory]:
        return [a for a in self.by_package.get(canonical(name), []) if a.affects(name, version)]

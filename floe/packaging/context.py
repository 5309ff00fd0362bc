"""The Docker build context as Docker computes it from ``.dockerignore`` (AC-11.7).

Docker's rules (moby/patternmatcher): patterns are relative to the context root; ``*``
and ``?`` stay within one path segment, ``**`` spans any number of segments; a pattern
also matches everything below a matching directory; ``!`` re-includes; the last matching
pattern wins.  A content hash of the context gives the image a tag that changes exactly
when what goes into the image changes.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class _Rule:
    regex: re.Pattern[str]
    include: bool


def _translate(pattern: str) -> re.Pattern[str]:
    out = ""
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
            continue
        if pattern.startswith("**", i):
            out += ".*"
            i += 2
            continue
        if char == "*":
            out += "[^/]*"
        elif char == "?":
            out += "[^/]"
        else:
            out += re.escape(char)
        i += 1
    return re.compile(f"^{out}$")


def parse_dockerignore(text: str) -> list[_Rule]:
    rules = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        include = line.startswith("!")
        pattern = os.path.normpath(line.lstrip("!").strip()).lstrip("/")
        rules.append(_Rule(_translate(pattern), include))
    return rules


def is_excluded(rel_path: str, rules: list[_Rule]) -> bool:
    """Whether Docker leaves ``rel_path`` (posix, relative to the context) out."""
    parts = rel_path.split("/")
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    excluded = False
    for rule in rules:
        if any(rule.regex.match(candidate) for candidate in candidates):
            excluded = not rule.include
    return excluded


def context_files(root: Path, dockerignore: Path | None = None) -> list[Path]:
    """Files Docker sends for a build of ``root`` (sorted, relative paths)."""
    ignore = dockerignore or root / ".dockerignore"
    rules = parse_dockerignore(ignore.read_text(encoding="utf-8")) if ignore.is_file() else []
    files = []
    linked: list[Path] = []
    for directory, dirnames, filenames in os.walk(root):
        dirnames.sort()
        base = Path(directory).relative_to(root)
        linked += [base / d for d in dirnames if (Path(directory) / d).is_symlink()]
        for name in sorted(filenames):
            rel = (base / name).as_posix()
            if not is_excluded(rel, rules):
                files.append(Path(rel))
    # A symlinked directory in the context (a local dbt package dbt deps installed as a
    # link to its source) is sent as its files: the link's target is not in the image.
    for link in linked:
        if is_excluded(link.as_posix(), rules) or not (root / link).is_dir():
            continue
        for directory, dirnames, filenames in os.walk(root / link):
            dirnames[:] = sorted(d for d in dirnames if not (Path(directory) / d).is_symlink())
            base = link / Path(directory).relative_to(root / link)
            for name in sorted(filenames):
                rel = (base / name).as_posix()
                if not is_excluded(rel, rules):
                    files.append(Path(rel))
    return files


def context_digest(root: Path, files: list[Path] | None = None) -> str:
    """sha256 over the context's paths and bytes: a tag that follows the content."""
    digest = hashlib.sha256()
    for rel in files if files is not None else context_files(root):
        digest.update(rel.as_posix().encode() + b"\0")
        digest.update(hashlib.sha256((root / rel).read_bytes()).digest())
    return digest.hexdigest()

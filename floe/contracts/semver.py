"""Semantic-version ranges: which versions of a producer's contract a consumer accepts.

The forms of npm and Cargo that data teams already write: ``*``, an exact ``1.2.3``,
``^1`` / ``^1.2`` / ``^1.2.3`` (same major; under 1.0, same minor), ``~1.2`` (same
minor), ``1.x`` / ``1.2.*``, comparators ``>=1.2``, ``<2``, ``>1.0.0``, ``<=1.4``,
``=1.2.3``; comparators joined by ``,`` or spaces must all hold, alternatives joined by
``||`` any.  Pre-release versions match only a range that names a pre-release.

Standard library only; Python 3.10.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from floe.contracts.model import parse_semver

Key = tuple[int, int, int, int, str]
_PARTIAL = re.compile(r"^v?(\d+|[xX*])(?:\.(\d+|[xX*]))?(?:\.(\d+|[xX*]))?(?:-([0-9A-Za-z.-]+))?$")
_COMPARATOR = re.compile(r"^(>=|<=|>|<|==|=|\^|~)?\s*(.+)$")


def _key(major: int, minor: int, patch: int, pre: str = "") -> Key:
    return (major, minor, patch, 0 if pre else 1, pre)


def version_key(text: str) -> Key:
    major, minor, patch, pre = parse_semver(text)
    return _key(major, minor, patch, pre)


@dataclass(frozen=True)
class Bound:
    op: str  # >=, >, <, <=
    key: Key

    def holds(self, key: Key) -> bool:
        return {
            ">=": key >= self.key,
            ">": key > self.key,
            "<": key < self.key,
            "<=": key <= self.key,
        }[self.op]


@dataclass(frozen=True)
class VersionRange:
    """Alternatives (``||``) of conjunctions of bounds."""

    text: str
    alternatives: tuple[tuple[Bound, ...], ...]

    def contains(self, version: str) -> bool:
        key = version_key(version)
        for bounds in self.alternatives:
            if not all(b.holds(key) for b in bounds):
                continue
            # a pre-release matches only where a bound names the same major.minor.patch
            if key[3] == 0 and not any(b.key[:3] == key[:3] and b.key[3] == 0 for b in bounds):
                continue
            return True
        return False

    def __str__(self) -> str:
        return self.text


def _partial(text: str) -> tuple[list[int], str]:
    """'1.2' -> ([1, 2], ''); '1.x' -> ([1], ''); '1.2.3-rc.1' -> ([1, 2, 3], 'rc.1')."""
    match = _PARTIAL.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a version")
    parts: list[int] = []
    for group in match.groups()[:3]:
        if group is None or group in ("x", "X", "*"):
            break
        parts.append(int(group))
    return parts, match.group(4) or ""


def _comparator(text: str) -> tuple[Bound, ...]:
    match = _COMPARATOR.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a version range")
    op, rest = match.group(1) or "", match.group(2).strip()
    if rest in ("*", "x", "X") and not op:
        return ()
    parts, pre = _partial(rest)
    if not parts:
        return ()
    major, minor, patch = [*parts, 0, 0][:3]
    low = _key(major, minor, patch, pre)
    if op in (">=", ">", "<", "<="):
        if op in (">", "<=") and len(parts) < 3:  # >1.2 means >=1.3.0; <=1.2 means <1.3.0
            up = _upper(parts)
            return (Bound(">=" if op == ">" else "<", up),)
        return (Bound(op, low),)
    if op == "^":
        if major > 0 or len(parts) == 1:
            high = _key(major + 1, 0, 0)
        elif minor > 0 or len(parts) == 2:
            high = _key(0, minor + 1, 0)
        else:
            high = _key(0, 0, patch + 1)
        return (Bound(">=", low), Bound("<", high))
    if op == "~":
        high = _key(major + 1, 0, 0) if len(parts) == 1 else _key(major, minor + 1, 0)
        return (Bound(">=", low), Bound("<", high))
    if len(parts) == 3:  # exact
        return (Bound(">=", low), Bound("<=", low))
    return (Bound(">=", low), Bound("<", _upper(parts)))  # 1 / 1.2 / 1.x


def _upper(parts: list[int]) -> Key:
    if len(parts) == 1:
        return _key(parts[0] + 1, 0, 0)
    if len(parts) == 2:
        return _key(parts[0], parts[1] + 1, 0)
    return _key(parts[0], parts[1], parts[2] + 1)


def parse_range(text: str) -> VersionRange:
    """A VersionRange; ValueError saying what does not parse."""
    source = str(text).strip()
    if not source:
        raise ValueError("an empty version range (write * for any version)")
    alternatives = []
    for alternative in source.split("||"):
        tokens = [t for t in re.split(r"[,\s]+", alternative.strip()) if t]
        # '>= 1.2' written with a space: join an operator with the version after it
        joined: list[str] = []
        for token in tokens:
            if joined and joined[-1] in (">=", "<=", ">", "<", "=", "==", "^", "~"):
                joined[-1] += token
            else:
                joined.append(token)
        if not joined:
            raise ValueError(f"{source!r} is not a version range: an empty alternative around ||")
        bounds: list[Bound] = []
        for token in joined:
            try:
                bounds.extend(_comparator(token))
            except ValueError:
                raise ValueError(
                    f"{source!r} is not a version range ({token!r} does not parse; write e.g. "
                    "^1, ~1.2, >=1.2,<2, 1.x or *)"
                ) from None
        alternatives.append(tuple(bounds))
    return VersionRange(source, tuple(alternatives))

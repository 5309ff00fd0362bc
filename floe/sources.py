"""YAML documents whose every error names the file, line, column and field path.

Floor 0 (standard library, pyyaml, pydantic): the compiler loads manifest.yaml and
floe.yaml through it, floe.contracts loads datacontract.yaml.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from floe.errors import (
    ConfigFileNotFound,
    ConfigSyntaxError,
    ConfigValidationError,
    FloeError,
    Location,
    SecretLiteralError,
    UnsafeNameError,
)

M = TypeVar("M", bound=BaseModel)
FieldPath = tuple[str | int, ...]
MAX_YAML_BYTES = 5 * 1024 * 1024


@dataclass(frozen=True)
class LoadWarning:
    message: str
    location: Location

    def __str__(self) -> str:
        return f"warning {self.location}: {self.message}"


@dataclass(frozen=True)
class Loaded(Generic[M]):
    """A validated document with where each of its fields was written."""

    model: M
    path: Path
    text: str
    positions: dict[FieldPath, tuple[int, int]] = field(default_factory=dict)
    warnings: list[LoadWarning] = field(default_factory=list)

    def locate(self, field_path: FieldPath) -> Location:
        return locate(self.path, self.positions, field_path)


def format_path(field_path: FieldPath) -> str:
    out = ""
    for part in field_path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def locate(
    path: Path, positions: dict[FieldPath, tuple[int, int]], field_path: FieldPath
) -> Location:
    """The location of the longest prefix of ``field_path`` written in the file."""
    for end in range(len(field_path), -1, -1):
        if field_path[:end] in positions:
            line, col = positions[field_path[:end]]
            return Location(path, line, col, format_path(field_path))
    return Location(path, 0, 0, format_path(field_path))


def read_text(path: Path) -> str:
    if not path.is_file():
        raise ConfigFileNotFound(
            "file not found", Location(path), hint="check the path and try again"
        )
    if path.stat().st_size > MAX_YAML_BYTES:
        raise ConfigSyntaxError(
            f"file is larger than {MAX_YAML_BYTES // (1024 * 1024)} MiB", Location(path)
        )
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigFileNotFound(f"cannot read file: {exc}", Location(path)) from exc


def parse_yaml(text: str, path: Path) -> tuple[Any, dict[FieldPath, tuple[int, int]]]:
    """Parse one YAML document into plain data plus a field-path -> (line, col) map."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        loc = Location(path, mark.line + 1, mark.column + 1) if mark else Location(path)
        raise ConfigSyntaxError(f"malformed YAML: {exc.problem or exc}", loc) from exc
    except yaml.YAMLError as exc:
        raise ConfigSyntaxError(f"malformed YAML: {exc}", Location(path)) from exc
    if node is None:
        raise ConfigSyntaxError("file is empty", Location(path, 1, 1), expected="a mapping")
    positions: dict[FieldPath, tuple[int, int]] = {}
    constructor = yaml.constructor.SafeConstructor()
    data = _build(node, (), positions, constructor, path, 0)
    return data, positions


def _build(
    node: yaml.Node,
    here: FieldPath,
    positions: dict[FieldPath, tuple[int, int]],
    constructor: yaml.constructor.SafeConstructor,
    path: Path,
    depth: int,
) -> Any:
    if depth > 64:
        raise ConfigSyntaxError("YAML nested deeper than 64 levels", _mark(node, path))
    positions.setdefault(here, (node.start_mark.line + 1, node.start_mark.column + 1))
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _construct(key_node, constructor, path, here)
            if not isinstance(key, str | int | float | bool) or key is None:
                raise ConfigSyntaxError("mapping keys must be scalars", _mark(key_node, path))
            key = str(key)
            child = (*here, key)
            if key in out:
                raise ConfigSyntaxError(f"duplicate key {key!r}", _mark(key_node, path, child))
            out[key] = _build(value_node, child, positions, constructor, path, depth + 1)
            # a key's own line beats its value's (errors about a field point at its key)
            positions[child] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [
            _build(item, (*here, i), positions, constructor, path, depth + 1)
            for i, item in enumerate(node.value)
        ]
    return _construct(node, constructor, path, here)


def _construct(
    node: yaml.Node, constructor: yaml.constructor.SafeConstructor, path: Path, here: FieldPath
) -> Any:
    """A scalar (value or key); an unknown tag such as ``!foo`` is a located error."""
    try:
        return constructor.construct_object(node, deep=True)
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or exc
        raise ConfigSyntaxError(f"bad scalar: {problem}", _mark(node, path, here)) from exc


def _mark(node: yaml.Node, path: Path, here: FieldPath = ()) -> Location:
    return Location(path, node.start_mark.line + 1, node.start_mark.column + 1, format_path(here))


def _parse_path(text: str) -> FieldPath:
    """'config.items[2].key' -> ('config', 'items', 2, 'key')."""
    out: list[str | int] = []
    for part in text.split("."):
        name, *indexes = part.split("[")
        if name:
            out.append(name)
        out.extend(int(i.rstrip("]")) for i in indexes)
    return tuple(out)


_ERROR_CLASSES: dict[str, type[FloeError]] = {"literal_secret": SecretLiteralError}


def validation_error(
    exc: ValidationError, path: Path, positions: dict[FieldPath, tuple[int, int]], what: str
) -> FloeError:
    """Turn pydantic's errors into one FloeError: the first error heads, the rest follow."""
    errors = exc.errors(include_url=False)
    located = []
    for err in errors:
        field_loc = tuple(err["loc"])
        if err["type"] == "literal_secret":  # the validator knows the exact key
            inner = _parse_path(str((err.get("ctx") or {}).get("path", "")))
            field_loc = field_loc[:-1] + inner if inner else field_loc
            err["loc"] = field_loc
        loc = locate(path, positions, field_loc)
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = f"unknown field '{err['loc'][-1]}'"
        elif err["type"] == "missing":
            message = f"missing required field '{err['loc'][-1]}'"
        elif err["type"] == "literal_error":
            message = f"{message}, got {err.get('input')!r}"
        located.append((loc, message, err["type"], err["loc"]))
    loc, message, kind, field_loc = located[0]
    cls = _ERROR_CLASSES.get(kind, ConfigValidationError)
    if kind == "string_pattern_mismatch" and field_loc and field_loc[-1] == "name":
        cls = UnsafeNameError
        message = f"unsafe name {errors[0].get('input')!r}: {message}"
    details = [f"{other_loc}: {other_msg}" for other_loc, other_msg, _, _ in located[1:6]]
    if len(located) > 6:
        details.append(f"... and {len(located) - 6} more problems")
    return cls(f"invalid {what}: {message}", loc, details=details)

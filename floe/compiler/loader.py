"""Loading manifest.yaml and floe.yaml: every error names the file, line, column and field
path (the YAML machinery is floe.sources, shared with floe.contracts)."""

from __future__ import annotations

import warnings
from pathlib import Path

from pydantic import ValidationError

from floe.errors import ConfigValidationError, Location
from floe.schemas.manifest import PlatformManifest
from floe.schemas.spec import FloeSpec
from floe.sources import (  # re-exported: the compiler's loading API
    MAX_YAML_BYTES,
    FieldPath,
    Loaded,
    LoadWarning,
    M,
    format_path,
    locate,
    parse_yaml,
    read_text,
    validation_error,
)

__all__ = [
    "MAX_YAML_BYTES",
    "FieldPath",
    "LoadWarning",
    "Loaded",
    "format_path",
    "load_manifest",
    "load_model",
    "load_spec",
    "locate",
    "parse_yaml",
    "read_text",
    "validation_error",
]


def load_model(path: Path, model: type[M], what: str) -> Loaded[M]:
    """Read, parse and validate ``path`` as ``model``."""
    path = Path(path)
    text = read_text(path)
    data, positions = parse_yaml(text, path)
    if not isinstance(data, dict):
        raise ConfigValidationError(
            f"invalid {what}",
            Location(path, 1, 1),
            expected="a mapping at the top level",
            found=type(data).__name__,
        )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = model.model_validate(data)
        except ValidationError as exc:
            raise validation_error(exc, path, positions, what) from None
    load_warnings = [
        LoadWarning(str(w.message), Location(path, *positions.get((), (1, 1)))) for w in caught
    ]
    if isinstance(result, PlatformManifest):
        load_warnings = [
            LoadWarning(
                f"unknown top-level field '{name}' is ignored", locate(path, positions, (name,))
            )
            for name in result.unknown_fields()
        ]
    return Loaded(result, path, text, positions, load_warnings)


def load_manifest(path: Path) -> Loaded[PlatformManifest]:
    return load_model(path, PlatformManifest, "manifest")


def load_spec(path: Path) -> Loaded[FloeSpec]:
    return load_model(path, FloeSpec, "floe.yaml")

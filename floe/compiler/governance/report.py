"""The full enforcement result as JSON or SARIF 2.1.0 (for editors and code scanning)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from floe import __version__
from floe.compiler.writer import write_atomic

if TYPE_CHECKING:
    from floe.compiler.pipeline import CompileResult

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/floe-data/floe"
PRODUCT_ROOT = "PRODUCTROOT"


def _level(result: CompileResult) -> str:
    """A finding's level as the text lines say it: error (blocking) at strict, warning
    (not enforced) at warn."""
    return "error" if result.enforcement.level == "strict" else "warning"


def json_report(result: CompileResult) -> dict[str, Any]:
    summary = result.enforcement.summary()
    level = _level(result)
    return {
        "product": result.artifacts.metadata.product_name,
        "summary": {**summary.model_dump(mode="json"), "headline": result.enforcement.headline()},
        "violations": [
            {**v.to_dict(), "level": level, "enforced": level == "error"}
            for v in result.enforcement.violations
        ],
    }


def _location(
    uri: str, index: int, text: str | None = None, line: int | None = None
) -> dict[str, Any]:
    """A SARIF location in the product directory (line 1 where the file's line is not known:
    dbt records no line numbers for models)."""
    out: dict[str, Any] = {
        "physicalLocation": {
            "artifactLocation": {"uri": uri, "uriBaseId": PRODUCT_ROOT},
            "region": {"startLine": line or 1},
        }
    }
    if text:
        out["id"] = index
        out["message"] = {"text": text}
    return out


def sarif_report(result: CompileResult) -> dict[str, Any]:
    violations = result.enforcement.violations
    rule_ids = sorted({v.code for v in violations})
    rules = []
    for rule_id in rule_ids:
        first = next(v for v in violations if v.code == rule_id)
        rules.append(
            {
                "id": rule_id,
                "name": first.policy,
                "shortDescription": {"text": first.message},
                "help": {"text": first.suggestion},
                "defaultConfiguration": {"level": _level(result)},
            }
        )
    results = []
    for v in violations:
        where = f"{v.model}.{v.column}" if v.column else v.model
        related = (
            {"relatedLocations": [_location(v.file, 1, "where to fix it")]}
            if v.sql_file and v.sql_file != v.file
            else {}
        )
        results.append(
            {
                "ruleId": v.code,
                "ruleIndex": rule_ids.index(v.code),
                "level": _level(result),
                "message": {
                    "text": f"{where}: {v.message}. Expected {v.expected}; found {v.found}. "
                    f"{v.suggestion}."
                },
                "locations": [
                    {
                        **_location(v.sql_file or v.file, 0, line=None if v.sql_file else v.line),
                        "logicalLocations": [{"name": where, "kind": "member"}],
                    }
                ],
                **related,
            }
        )
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "floe",
                        "version": __version__,
                        "informationUri": INFORMATION_URI,
                        "rules": rules,
                    }
                },
                "originalUriBaseIds": {
                    PRODUCT_ROOT: {"uri": result.product_dir.resolve().as_uri() + "/"}
                },
                "results": results,
                "properties": {"summary": result.enforcement.summary().model_dump(mode="json")},
            }
        ],
    }


def write_report(result: CompileResult, path: Path, fmt: str) -> Path:
    data = sarif_report(result) if fmt == "sarif" else json_report(result)
    write_atomic(Path(path), json.dumps(data, indent=2, sort_keys=True) + "\n")
    return Path(path)

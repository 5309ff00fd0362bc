"""A JSON Schema for the OpenLineage RunEvent and the facets floe emits, written for these
tests from the OpenLineage 2-0-2 specification's required fields (the spec's own JSON files
cannot be fetched on a machine without network access beyond package registries).  Every
facet must carry ``_producer`` and ``_schemaURL`` and the fields its spec requires."""

from __future__ import annotations

from typing import Any

UUID = {
    "type": "string",
    "pattern": "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
}
URI = {"type": "string", "pattern": "^[a-z][a-z0-9+.-]*:"}
TEXT = {"type": "string", "minLength": 1}


def _facet(required: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["_producer", "_schemaURL", *required],
        "properties": {"_producer": URI, "_schemaURL": URI, **required},
    }


SCHEMA = _facet(
    {
        "fields": {
            "type": "array",
            "items": {"type": "object", "required": ["name"], "properties": {"name": TEXT}},
        }
    }
)
ASSERTIONS = _facet(
    {
        "assertions": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["assertion", "success"],
                "properties": {"assertion": TEXT, "success": {"type": "boolean"}},
            },
        }
    }
)
INPUT_FIELD = {
    "type": "object",
    "required": ["namespace", "name", "field"],
    "properties": {"namespace": TEXT, "name": TEXT, "field": TEXT},
}
COLUMN_LINEAGE = _facet(
    {
        "fields": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "required": ["inputFields"],
                "properties": {"inputFields": {"type": "array", "items": INPUT_FIELD}},
            },
        }
    }
)


def _named(facets: dict[str, Any]) -> dict[str, Any]:
    """A dataset or job: namespace and name, and facets (any other facet still needs
    _producer and _schemaURL)."""
    return {
        "type": "object",
        "required": ["namespace", "name"],
        "properties": {
            "namespace": TEXT,
            "name": TEXT,
            "facets": {
                "type": "object",
                "properties": facets,
                "additionalProperties": _facet({}),
            },
        },
    }


DATASET = _named(
    {
        "schema": SCHEMA,
        "dataQualityAssertions": ASSERTIONS,
        "columnLineage": COLUMN_LINEAGE,
    }
)
PARENT = _facet(
    {
        "run": {"type": "object", "required": ["runId"], "properties": {"runId": UUID}},
        "job": {
            "type": "object",
            "required": ["namespace", "name"],
            "properties": {"namespace": TEXT, "name": TEXT},
        },
    }
)
RUN_EVENT: dict[str, Any] = {
    "type": "object",
    "required": ["eventTime", "producer", "schemaURL", "run", "job"],
    "properties": {
        "eventType": {"enum": ["START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER"]},
        "eventTime": {"type": "string", "pattern": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d"},
        "producer": URI,
        "schemaURL": URI,
        "run": {
            "type": "object",
            "required": ["runId"],
            "properties": {
                "runId": UUID,
                "facets": {
                    "type": "object",
                    "properties": {
                        "parent": PARENT,
                        "errorMessage": _facet({"message": TEXT, "programmingLanguage": TEXT}),
                    },
                    "additionalProperties": _facet({}),
                },
            },
        },
        "job": _named(
            {
                "sql": _facet({"query": TEXT}),
                "jobType": _facet(
                    {"processingType": {"enum": ["BATCH", "STREAMING"]}, "jobType": TEXT}
                ),
            }
        ),
        "inputs": {"type": "array", "items": DATASET},
        "outputs": {"type": "array", "items": DATASET},
    },
}

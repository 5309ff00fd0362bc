"""OpenLineage events for a dbt run and a lakehouse publication, built and sent with
openlineage-python (its event model, facets and transports).

Where events go: the product's compiled_artifacts.json (``observability``: http to the
lineage endpoint, a JSON-lines file, the console or nothing), unless the environment
configures the client the standard way (``OPENLINEAGE_URL``, ``OPENLINEAGE_CONFIG``,
``OPENLINEAGE__TRANSPORT__*``, ``OPENLINEAGE_DISABLED``): then the client's own
configuration is used.  An endpoint that fails is not retried for the rest of the run:
that event and every later one are appended to the fallback file, so none is lost.

Facets, from the dbt manifest and run results of the same run plus the DuckDB catalog:
schema (columns and types), the compiled SQL, data-quality assertions from the tests that
ran on each model, column lineage where sqlglot can trace the SQL, a parent-run facet tying
every node run to the Dagster run, an error message on FAIL.  Datasets are named by
physical identity: ``duckdb://<database file>`` + ``<database>.<schema>.<table>`` for dbt
relations, the Iceberg catalog + ``<namespace>.<table>`` for published tables.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

# openlineage-python logs a warning at import when numpy is absent (it needs none here)
logging.getLogger("openlineage.client.serde").setLevel(logging.ERROR)

import attr  # noqa: E402
from openlineage.client import OpenLineageClient  # noqa: E402
from openlineage.client.event_v2 import (  # noqa: E402
    InputDataset,
    Job,
    OutputDataset,
    Run,
    RunEvent,
    RunState,
)
from openlineage.client.facet_v2 import (  # noqa: E402
    DatasetFacet,
    column_lineage_dataset,
    data_quality_assertions_dataset,
    error_message_run,
    job_type_job,
    parent_run,
    schema_dataset,
    sql_job,
)
from openlineage.client.transport.console import ConsoleConfig, ConsoleTransport  # noqa: E402
from openlineage.client.transport.file import FileConfig, FileTransport  # noqa: E402
from openlineage.client.transport.http import HttpConfig, HttpTransport  # noqa: E402

PRODUCER = "https://github.com/floe-data/floe/tree/main/floe/runtime"
LINEAGE_FILE = "openlineage.jsonl"
CLIENT_ENV_PREFIXES = (
    "OPENLINEAGE_URL",
    "OPENLINEAGE_CONFIG",
    "OPENLINEAGE__",
    "OPENLINEAGE_DISABLED",
)
HTTP_TIMEOUT_S = 2.0
HTTP_RETRY = {
    "total": 1,
    "connect": 1,
    "read": 1,
    "backoff_factor": 0.1,
    "status_forcelist": [500, 502, 503, 504],
    "allowed_methods": ["HEAD", "POST"],
}
__all__ = ["InputDataset", "LineageEmitter", "OutputDataset", "run_event"]
_STATES = {"START": RunState.START, "COMPLETE": RunState.COMPLETE, "FAIL": RunState.FAIL}


def client_configured_by_env(env: Mapping[str, str]) -> bool:
    """Whether the standard OPENLINEAGE_* environment configures the client."""
    return any(key.startswith(CLIENT_ENV_PREFIXES) for key in env)


def _client_from_standard_env(env: Mapping[str, str]) -> OpenLineageClient:
    """``OpenLineageClient()`` configured from the OPENLINEAGE_* keys of ``env``.  The client
    reads os.environ itself and writes aliases into it (OPENLINEAGE_URL becomes
    OPENLINEAGE__TRANSPORT__...); the process environment is restored afterwards."""
    before = {k: v for k, v in os.environ.items() if k.startswith("OPENLINEAGE")}
    for key in before:
        del os.environ[key]
    os.environ.update({k: v for k, v in env.items() if k.startswith("OPENLINEAGE")})
    try:
        return OpenLineageClient()
    finally:
        for key in [k for k in os.environ if k.startswith("OPENLINEAGE")]:
            del os.environ[key]
        os.environ.update(before)


@dataclass
class LineageEmitter:
    """One run's events: to the configured transport, the fallback file on failure."""

    kind: str  # http | file | console | none | env
    file: Path
    endpoint: str | None = None
    sent: int = 0
    fell_back: int = 0
    errors: list[str] = field(default_factory=list)
    client: OpenLineageClient | None = None

    @classmethod
    def create(
        cls, kind: str, output_dir: Path, endpoint: str | None, env: Mapping[str, str]
    ) -> LineageEmitter:
        file = output_dir / LINEAGE_FILE
        if client_configured_by_env(env):
            return cls("env", file, client=_client_from_standard_env(env))
        if kind == "http" and endpoint:
            config = HttpConfig(url=endpoint, endpoint="", timeout=HTTP_TIMEOUT_S, retry=HTTP_RETRY)
            return cls(
                kind, file, endpoint, client=OpenLineageClient(transport=HttpTransport(config))
            )
        if kind == "console":
            return cls(
                kind, file, client=OpenLineageClient(transport=ConsoleTransport(ConsoleConfig()))
            )
        return cls(kind if kind in {"none", "file"} else "file", file)

    def emit(self, event: RunEvent) -> None:
        if self.kind == "none":
            return
        if self.client is not None and not self.errors:
            try:
                self.client.emit(event)
                self.sent += 1
                return
            except Exception as exc:  # any transport failure: keep the event in the file
                self.errors.append(f"{self.endpoint or self.kind}: {exc}")
        self._append(event)
        if self.client is not None:
            self.fell_back += 1
        else:
            self.sent += 1

    def _append(self, event: RunEvent) -> None:
        self.file.parent.mkdir(parents=True, exist_ok=True)
        FileTransport(FileConfig(log_file_path=str(self.file), append=True)).emit(event)

    def describe(self) -> str:
        if self.kind == "none":
            return "disabled"
        if self.kind == "env":
            text = f"OPENLINEAGE_* configuration ({self.sent} events)"
        elif self.kind == "console":
            text = f"console ({self.sent} events)"
        elif self.kind == "http":
            text = f"{self.endpoint} ({self.sent} events sent)"
        else:
            return f"{self.file} ({self.sent} events)"
        if self.fell_back:
            text += f"; unreachable, {self.fell_back} events written to {self.file}"
        return text


def iso(text: str | None) -> str:
    if not text:
        return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")
    return text if text.endswith("Z") or "+" in text[10:] else text + "Z"


def node_run_id(run_id: str, key: str) -> str:
    """A stable UUID per (Dagster run, node): START and COMPLETE share it."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{run_id}/{key}"))


def parent_facet(namespace: str, job_name: str, run_id: str) -> parent_run.ParentRunFacet:
    """Ties a node's run to the product's Dagster run (its run id is a UUID)."""
    return parent_run.ParentRunFacet(
        run=parent_run.Run(runId=_as_uuid(run_id)),
        job=parent_run.Job(namespace=namespace, name=job_name),
    )


def _as_uuid(run_id: str) -> str:
    try:
        return str(uuid.UUID(run_id))
    except ValueError:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, run_id))


def error_facet(message: str) -> error_message_run.ErrorMessageRunFacet:
    return error_message_run.ErrorMessageRunFacet(
        message=message[:4000] or "failed", programmingLanguage="SQL"
    )


def run_event(
    state: str,
    when: str,
    run_id: str,
    job_namespace: str,
    job_name: str,
    *,
    inputs: list[InputDataset] | None = None,
    outputs: list[OutputDataset] | None = None,
    run_facets: dict[str, Any] | None = None,
    job_facets: dict[str, Any] | None = None,
) -> RunEvent:
    return RunEvent(
        eventType=_STATES[state],
        eventTime=when,
        run=Run(runId=run_id, facets=run_facets or {}),
        job=Job(namespace=job_namespace, name=job_name, facets=job_facets or {}),
        producer=PRODUCER,
        inputs=inputs or [],
        outputs=outputs or [],
    )


def job_type(integration: str, job: str = "JOB") -> job_type_job.JobTypeJobFacet:
    return job_type_job.JobTypeJobFacet(
        processingType="BATCH", integration=integration, jobType=job
    )


def sql_facet(query: str) -> sql_job.SQLJobFacet:
    return sql_job.SQLJobFacet(query=query)


CONTRACT_FACET_SCHEMA = (
    "https://github.com/floe-data/floe/blob/main/floe/runtime/observe/"
    "DataContractDatasetFacet.json#/$defs/DataContractDatasetFacet"
)


@attr.define
class DataContractDatasetFacet(DatasetFacet):
    """The data contract a published table was checked against (floe's own facet; its
    schema is DataContractDatasetFacet.json beside this module)."""

    id: str
    version: str
    fingerprint: str
    checks: int = 0

    @staticmethod
    def _get_schema() -> str:
        return CONTRACT_FACET_SCHEMA


def contract_facet(contract: Mapping[str, Any]) -> DataContractDatasetFacet:
    return DataContractDatasetFacet(
        id=str(contract["id"]),
        version=str(contract["version"]),
        fingerprint=str(contract["fingerprint"]),
        checks=int(contract.get("checks", 0)),
        producer=PRODUCER,
    )


def schema_facet(columns: Mapping[str, str]) -> schema_dataset.SchemaDatasetFacet:
    return schema_dataset.SchemaDatasetFacet(
        fields=[schema_dataset.SchemaDatasetFacetFields(name=n, type=t) for n, t in columns.items()]
    )


def assertions_facet(
    assertions: list[tuple[str, bool, str | None]],
) -> data_quality_assertions_dataset.DataQualityAssertionsDatasetFacet:
    return data_quality_assertions_dataset.DataQualityAssertionsDatasetFacet(
        assertions=[
            data_quality_assertions_dataset.Assertion(assertion=a, success=ok, column=column)
            for a, ok, column in assertions
        ]
    )


def column_lineage_facet(
    fields: Mapping[str, list[tuple[str, str, str]]],
) -> column_lineage_dataset.ColumnLineageDatasetFacet:
    """output column -> [(input namespace, input dataset name, input column)]."""
    return column_lineage_dataset.ColumnLineageDatasetFacet(
        fields={
            column: column_lineage_dataset.Fields(
                inputFields=[
                    column_lineage_dataset.InputField(namespace=ns, name=name, field=source)
                    for ns, name, source in sources
                ],
                transformationType="",
                transformationDescription="",
            )
            for column, sources in fields.items()
        }
    )

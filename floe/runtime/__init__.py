"""Runtime helpers the generated definitions call.

Python >= 3.10: they run in the Dagster image (dagster 1.9.6 / dagster-dbt 0.25) as well
as in-process with the pinned dev stack. ``floe.runtime.dbt.resource`` (which imports
dagster-dbt) is imported by the generated definitions directly, not from here.
"""

from floe.runtime.dbt.selection import select_all_from_manifest
from floe.runtime.observe.report import ObservabilitySettings, report_dbt_run
from floe.runtime.publish.gate import build_problems, every_table_blocked
from floe.runtime.publish.lakehouse import publish_and_report

__all__ = [
    "ObservabilitySettings",
    "build_problems",
    "every_table_blocked",
    "publish_and_report",
    "report_dbt_run",
    "select_all_from_manifest",
]

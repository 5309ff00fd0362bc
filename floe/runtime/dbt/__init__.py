"""Running dbt inside a Dagster step: on a thread of the step's process (the default), forked
from it, or as a fresh interpreter (launch, thread, fork), dagster-dbt's resource that
starts them (resource), and the select-everything shortcut (selection)."""

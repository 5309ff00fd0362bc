"""Observing a run: OpenLineage events (lineage, dbt_facets), spans (tracing, otlp), and what a
finished dbt invocation and each publication report (report)."""

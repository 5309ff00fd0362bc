"""Packaging the demo for the Dagster image and the Helm chart."""

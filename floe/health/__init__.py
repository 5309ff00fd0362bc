"""Platform health checks (`floe platform status`)."""

from floe.health.checks import CheckResult, http_check, postgres_check, run_checks

__all__ = ["CheckResult", "http_check", "postgres_check", "run_checks"]

"""Governance: policies checked on the real dbt manifest of a product."""

from floe.compiler.governance.enforce import EnforcementResult, Violation, enforce

__all__ = ["EnforcementResult", "Violation", "enforce"]

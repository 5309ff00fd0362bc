"""Run the governance policies at the effective level and summarise the result."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Literal

from floe.compiler.governance.graph import DbtGraph
from floe.compiler.governance.policies import POLICIES, Violation, naming_unchecked
from floe.schemas.artifacts import EnforcementResultSummary, ResolvedGovernance
from floe.schemas.spec import FloeSpec

__all__ = ["EnforcementResult", "Violation", "enforce"]


@dataclass(frozen=True)
class EnforcementResult:
    level: Literal["off", "warn", "strict"]
    violations: list[Violation] = field(default_factory=list)
    models_validated: int = 0
    policy_types: list[str] = field(default_factory=list)
    duration_ms: float = 0.0
    not_checked_for_naming: list[str] = field(default_factory=list)

    @property
    def errors(self) -> list[Violation]:
        """Findings that block: every finding at strict, none otherwise."""
        return list(self.violations) if self.level == "strict" else []

    @property
    def warnings(self) -> list[Violation]:
        """Findings reported and not enforced (at warn)."""
        return [] if self.level == "strict" else list(self.violations)

    def headline(self) -> str:
        """The summary in the words the finding lines use (issue 30)."""
        if self.level == "off":
            return "governance off: nothing checked"
        count = len(self.violations)
        if not count:
            return f"governance {self.level}: no findings"
        if self.level == "strict":
            return f"governance strict: {count} error{'s' if count != 1 else ''}, blocking"
        return f"governance warn: {count} warning{'s' if count != 1 else ''}, not enforced"

    @property
    def blocking(self) -> bool:
        """Strict mode fails on any violation; warn and off never block."""
        return self.level == "strict" and bool(self.violations)

    def finding_lines(self) -> list[str]:
        """What a person reads: whether each finding blocks (strict) or not (warn), and
        the models no naming convention covers, listed once."""
        if self.level == "strict":
            lines = [
                f"error {str(v).split(' ', 1)[1]} [blocks: governance is strict]"
                for v in self.violations
            ]
        else:
            lines = [
                f"warning {str(v).split(' ', 1)[1]} [not enforced: governance is {self.level}]"
                for v in self.violations
            ]
        if self.not_checked_for_naming:
            lines.append(
                "note: not checked for naming (no convention for their folder): "
                + ", ".join(self.not_checked_for_naming)
            )
        return lines

    def summary(self) -> EnforcementResultSummary:
        return EnforcementResultSummary(
            passed=not self.blocking,
            enforcement_level=self.level,
            models_validated=self.models_validated,
            error_count=len(self.errors),
            warning_count=len(self.warnings),
            policy_types_checked=self.policy_types,
        )


def enforce(
    graph: DbtGraph,
    spec: FloeSpec,
    governance: ResolvedGovernance | None,
    level: Literal["off", "warn", "strict"],
    *,
    checked_before: tuple[str, ...] = (),
) -> EnforcementResult:
    """Check every applicable policy; ``off`` checks nothing.

    ``checked_before`` names checks the caller already passed (listed first in the summary).
    """
    if level == "off":
        return EnforcementResult(level=level)
    start = time.perf_counter()
    violations: list[Violation] = []
    checked: list[str] = list(checked_before)
    for name, policy in POLICIES.items():
        found = policy(graph, spec, governance)
        if found is None:  # policy not configured
            continue
        checked.append(name)
        violations.extend(found)
    violations.sort(key=lambda v: (v.model, v.code, v.column or ""))
    return EnforcementResult(
        level=level,
        violations=violations,
        models_validated=len(graph.models),
        policy_types=checked,
        duration_ms=(time.perf_counter() - start) * 1000,
        not_checked_for_naming=naming_unchecked(graph, governance) if "naming" in checked else [],
    )

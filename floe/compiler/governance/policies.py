"""Governance policies.  Each returns its violations, or None when not configured."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal

from floe.compiler.governance.graph import DbtGraph, DbtModel
from floe.schemas.artifacts import ResolvedGovernance
from floe.schemas.spec import FloeSpec, find_cycle

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Violation:
    code: str
    policy: str
    severity: Severity
    model: str
    message: str
    expected: str
    found: str
    suggestion: str
    file: str  # where to fix it, relative to the product directory
    column: str | None = None
    sql_file: str | None = None  # the model's SQL file, when ``file`` is its schema YAML
    line: int | None = None  # the line in ``file``, where known (datacontract.yaml)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        where = f"{self.model}.{self.column}" if self.column else self.model
        return f"{self.severity} {self.code} {where}: {self.message} ({self.suggestion})"


Policy = Callable[[DbtGraph, FloeSpec, ResolvedGovernance | None], list[Violation] | None]

_PLACEHOLDERS = {
    "",
    "todo",
    "tbd",
    "fixme",
    "n/a",
    "na",
    "none",
    "null",
    "description",
    "placeholder",
    "xxx",
    "...",
    "-",
    "tba",
    "wip",
}


def is_placeholder(text: str) -> bool:
    """Empty or a stand-in such as 'TODO' or 'TBD: describe me'."""
    norm = text.strip().lower().strip(".:!-_ ")
    return norm in _PLACEHOLDERS or bool(re.match(r"^(todo|tbd|fixme)\b", norm))


def _yaml_file(model: DbtModel) -> str:
    return model.patch_path or model.sql_path


def naming_policy(
    graph: DbtGraph, _spec: FloeSpec, gov: ResolvedGovernance | None
) -> list[Violation] | None:
    if gov is None or gov.naming is None:
        return None
    patterns = gov.naming.effective_patterns()
    out = []
    for model in graph.models.values():
        pattern = patterns.get(model.layer or "")
        if pattern and not re.fullmatch(pattern, model.name):
            out.append(
                Violation(
                    code="FLOE-N001",
                    policy="naming",
                    severity="error",
                    model=model.name,
                    message=f"model name does not follow the {model.layer} convention",
                    expected=f"a name matching {pattern}",
                    found=model.name,
                    suggestion=f"rename the model (and its file) to match {pattern}",
                    file=model.sql_path,
                )
            )
    return out


def naming_unchecked(graph: DbtGraph, gov: ResolvedGovernance | None) -> list[str]:
    """Models the naming policy cannot check: their layer (first folder under the model
    path) has no convention, or they sit at the top of it."""
    if gov is None or gov.naming is None:
        return []
    patterns = gov.naming.effective_patterns()
    return sorted(m.name for m in graph.models.values() if not patterns.get(m.layer or ""))


def documentation_policy(
    graph: DbtGraph, _spec: FloeSpec, gov: ResolvedGovernance | None
) -> list[Violation] | None:
    gates = gov.quality_gates if gov else None
    if gates is None or not (gates.require_model_descriptions or gates.require_column_descriptions):
        return None
    out = []
    for model in graph.models.values():
        if gates.require_model_descriptions and is_placeholder(model.description):
            out.append(
                Violation(
                    code="FLOE-D001",
                    policy="documentation",
                    severity="error",
                    model=model.name,
                    message="model has no real description",
                    expected="a description",
                    found=repr(model.description),
                    suggestion="add `description:` for the model in its schema .yml",
                    file=_yaml_file(model),
                    sql_file=model.sql_path,
                )
            )
        if gates.require_column_descriptions:
            for column, text in sorted(model.columns.items()):
                if is_placeholder(text):
                    out.append(
                        Violation(
                            code="FLOE-D002",
                            policy="documentation",
                            severity="warning",
                            model=model.name,
                            column=column,
                            message="column has no real description",
                            expected="a description",
                            found=repr(text),
                            suggestion="add `description:` for the column",
                            file=_yaml_file(model),
                            sql_file=model.sql_path,
                        )
                    )
    return out


def test_coverage_policy(
    graph: DbtGraph, _spec: FloeSpec, gov: ResolvedGovernance | None
) -> list[Violation] | None:
    gates = gov.quality_gates if gov else None
    if gates is None or not gates.min_test_coverage:
        return None
    thresholds = gates.min_test_coverage
    out = []
    for model in graph.models.values():
        minimum = thresholds.get(model.layer or "", thresholds.get("default", 0.0))
        if minimum <= 0:
            continue
        columns = set(model.columns)
        tested = len(columns & model.tested_columns)
        pct = 100.0 * tested / len(columns) if columns else 0.0
        if pct + 1e-9 < minimum:
            out.append(
                Violation(
                    code="FLOE-T001",
                    policy="test_coverage",
                    severity="error",
                    model=model.name,
                    message=f"{pct:.0f}% of columns tested, below the {minimum:g}% gate",
                    expected=f">= {minimum:g}% of declared columns with a test",
                    found=f"{tested} of {len(columns)} columns",
                    suggestion="declare the model's columns and add tests (not_null, unique, ...)",
                    file=_yaml_file(model),
                    sql_file=model.sql_path,
                )
            )
    return out


def lineage_policy(
    graph: DbtGraph, spec: FloeSpec, _gov: ResolvedGovernance | None
) -> list[Violation]:
    """floe.yaml transforms/dependsOn against the dbt graph (always checked)."""
    out = []
    declared = {t.name: t for t in spec.transforms}
    for name in sorted(set(declared) - set(graph.models)):
        out.append(
            Violation(
                code="FLOE-L001",
                policy="lineage",
                severity="error",
                model=name,
                message="transform in floe.yaml has no dbt model",
                expected=f"a model named {name} in the dbt project",
                found="none",
                suggestion="add the model or remove it from floe.yaml transforms",
                file="floe.yaml",
            )
        )
    for name in sorted(set(graph.models) - set(declared)):
        out.append(
            Violation(
                code="FLOE-L002",
                policy="lineage",
                severity="error",
                model=name,
                message="dbt model is not declared in floe.yaml transforms",
                expected="a transform entry",
                found="none",
                suggestion=f"add `- name: {name}` to transforms in floe.yaml (floe init "
                "--update does), or cover its folder or tag with a `select:` entry",
                file=graph.models[name].sql_path,
            )
        )
    for name in sorted(set(declared) & set(graph.models)):
        want = set(declared[name].depends_on)
        have = set(graph.models[name].depends_on_models)
        if want != have:
            out.append(
                Violation(
                    code="FLOE-L003",
                    policy="lineage",
                    severity="error",
                    model=name,
                    message="dependsOn disagrees with the model's ref()s",
                    expected=f"dependsOn: [{', '.join(sorted(have))}]",
                    found=f"dependsOn: [{', '.join(sorted(want))}]",
                    suggestion="make floe.yaml dependsOn match the ref() calls in the SQL",
                    file="floe.yaml",
                )
            )
    cycle = find_cycle({m.name: sorted(m.depends_on_models) for m in graph.models.values()})
    if cycle:
        out.append(
            Violation(
                code="FLOE-L004",
                policy="lineage",
                severity="error",
                model=cycle[0],
                message=f"models form a cycle: {' -> '.join(cycle)}",
                expected="an acyclic graph",
                found="a cycle",
                suggestion="break the cycle",
                file=graph.models[cycle[0]].sql_path,
            )
        )
    return out


# Governance policies, in report order; lineage consistency is a contract check that
# compile always runs (see floe.compiler.pipeline), whatever the enforcement level.
POLICIES: dict[str, Policy] = {
    "naming": naming_policy,
    "documentation": documentation_policy,
    "test_coverage": test_coverage_policy,
}

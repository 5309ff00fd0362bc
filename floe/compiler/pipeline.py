"""compile_pipeline: floe.yaml + manifest.yaml -> dbt compile -> governance -> artifacts."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from floe.compiler.builder import build_artifacts, source_hash
from floe.compiler.contracts import check_contract, load_product_contract, missing_contracts
from floe.compiler.dbt import dbt_compile, load_dbt_manifest, read_dbt_project, select_models
from floe.compiler.governance import EnforcementResult, enforce
from floe.compiler.governance.graph import DbtGraph, build_graph
from floe.compiler.governance.policies import Violation, lineage_policy
from floe.compiler.inputs import resolve_inputs
from floe.compiler.loader import Loaded, LoadWarning, load_manifest, load_spec
from floe.compiler.packages import ensure_packages
from floe.compiler.profiles import build_profiles, check_choice, render_profiles, target_name
from floe.compiler.resolve import effective_enforcement_level, resolve_governance
from floe.compiler.runs import resolve_run_resources
from floe.compiler.selection import resolve_transforms
from floe.compiler.state import resolve_state, state_findings, stateful_relations
from floe.compiler.writer import temporary_dir, write_atomic
from floe.contracts.model import DataContract
from floe.errors import LineageMismatchError, Location, PolicyViolationError
from floe.product_files import (  # noqa: F401 - re-exported: the compiler's file names
    ARTIFACTS_FILE,
    DEFINITIONS_FILE,
    GENERATED_MARK,
    PROFILES_FILE,
    PROFILES_NAME,
)
from floe.schemas.artifacts import CompiledArtifacts, ResolvedGovernance
from floe.schemas.manifest import PlatformManifest
from floe.schemas.spec import FloeSpec

GENERATED_BY = "floe platform compile"


@dataclass(frozen=True)
class CompileResult:
    artifacts: CompiledArtifacts
    spec: Loaded[FloeSpec]
    manifest: Loaded[PlatformManifest]
    profiles_text: str
    dbt_manifest_path: Path
    enforcement: EnforcementResult
    warnings: list[LoadWarning] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)  # what compile did besides compiling

    @property
    def product_dir(self) -> Path:
        return self.spec.path.parent


def resolve_manifest_path(spec: Loaded[FloeSpec], manifest_path: Path | None) -> Path:
    if manifest_path is not None:
        return Path(manifest_path)
    return (spec.path.parent / spec.model.platform.manifest).resolve()


def regenerate_command(spec_path: Path, manifest_path: Path) -> str:
    """The command that regenerates a product's files, run from the product directory.

    Paths are relative to the product directory so the text (and so the generated files)
    is the same wherever the tree is checked out.
    """
    product_dir = Path(spec_path).resolve().parent
    manifest = Path(os.path.relpath(Path(manifest_path).resolve(), product_dir)).as_posix()
    return (
        f"{GENERATED_BY} --spec {Path(spec_path).name} --manifest {manifest}"
        " --generate-definitions  (run in this file's directory)"
    )


def profiles_header(spec_path: Path, manifest_path: Path) -> str:
    return (
        f"{GENERATED_MARK} from the manifest's compute plugin; do not edit.\n"
        f"# Regenerate: {regenerate_command(spec_path, manifest_path)}\n"
    )


def compile_product(spec_path: Path, manifest_path: Path | None = None) -> CompileResult:
    """Load, resolve, run ``dbt compile``, enforce governance and build the artifacts.

    Writes nothing but dbt's own ``target/``; strict-mode violations raise
    :class:`PolicyViolationError` (carrying the result) before any artifact exists.
    """
    spec = load_spec(Path(spec_path))
    manifest = load_manifest(resolve_manifest_path(spec, manifest_path))
    product_dir = spec.path.parent
    dbt_project = read_dbt_project(product_dir)
    compute = manifest.model.plugins.compute
    check_choice(spec, compute, manifest.path)
    run_resources = resolve_run_resources(
        spec, manifest.model.plugins.orchestrator.runs, manifest.path
    )
    profiles = build_profiles(dbt_project.profile, compute, spec.model.compute)
    profiles_text = render_profiles(profiles, profiles_header(Path(spec_path), manifest.path))

    governance = resolve_governance(manifest.model, spec.model)
    with temporary_dir("floe-profiles-") as profiles_dir:
        write_atomic(profiles_dir / PROFILES_NAME, profiles_text)
        dbt_vars = governance.dbt_vars() if governance else None
        installed = ensure_packages(product_dir, profiles_dir, dbt_vars)
        dbt_manifest_path = dbt_compile(
            product_dir,
            profiles_dir,
            dbt_vars,
            target_name(manifest.model.plugins.compute),
        )
        dbt_manifest = load_dbt_manifest(dbt_manifest_path)
        graph = build_graph(dbt_manifest)

        def run_selector(name: str) -> set[str]:
            target = target_name(manifest.model.plugins.compute)
            return select_models(product_dir, profiles_dir, name, dbt_vars, target)

        spec = resolve_transforms(spec, graph, run_selector)

    mismatches = lineage_policy(graph, spec.model, None)
    if mismatches:
        first = mismatches[0]
        raise LineageMismatchError(
            f"floe.yaml transforms disagree with the dbt project: {first.model}: {first.message}",
            spec.locate(("transforms",)),
            expected=first.expected,
            found=first.found,
            hint=first.suggestion,
            details=[str(v) for v in mismatches[1:]],
        )

    level = effective_enforcement_level(
        manifest.model.governance.policy_enforcement_level if manifest.model.governance else None,
        spec.model.governance.policy_enforcement_level if spec.model.governance else None,
    )
    result = enforce(graph, spec.model, governance, level, checked_before=("lineage",))
    contract, contract_path = load_product_contract(product_dir)
    published = [t.name for t in spec.model.transforms if t.published]
    result = _with_contract_findings(
        result, contract, contract_path, graph, published, governance, spec.path.name
    )
    stateful = stateful_relations(dbt_manifest)
    result = _with_findings(result, state_findings(manifest.model.state, stateful, dbt_manifest))
    inputs = resolve_inputs(spec, dbt_manifest, product_dir.parent)
    sources = [spec.text.encode(), manifest.text.encode()]
    if contract_path is not None:
        sources.append(contract_path.read_bytes())
    artifacts = build_artifacts(
        spec.model,
        manifest.model,
        dbt_profiles=profiles,
        governance=governance,
        enforcement_result=result.summary(),
        content_hash=source_hash(sources),
        contract=contract,
        inputs=inputs,
        state=resolve_state(manifest.model.state, stateful),
        run_resources=run_resources,
    )
    warnings = [*manifest.warnings, *spec.warnings]
    if contract is not None and contract_path is not None:
        warnings += check_published_versions(product_dir, artifacts, contract, contract_path)
    compiled = CompileResult(
        artifacts=artifacts,
        spec=spec,
        manifest=manifest,
        profiles_text=profiles_text,
        dbt_manifest_path=dbt_manifest_path,
        enforcement=result,
        warnings=warnings,
        notices=[installed] if installed else [],
    )
    if result.blocking:
        error = PolicyViolationError(
            f"governance (strict) found {len(result.violations)} violation(s) in "
            f"{spec.model.metadata.name}; nothing was written",
            Location(product_dir / result.violations[0].file),
            details=result.finding_lines()[:10],
        )
        error.result = compiled  # type: ignore[attr-defined]
        raise error
    return compiled


def _with_contract_findings(
    result: EnforcementResult,
    contract: DataContract | None,
    contract_path: Path | None,
    graph: DbtGraph,
    published: list[str],
    governance: ResolvedGovernance | None,
    spec_file: str,
) -> EnforcementResult:
    """The data contract's findings added to the governance result (a contract that
    promises a table floe does not publish is a ContractError whatever the level)."""
    findings = []
    if contract is not None and contract_path is not None:
        findings = check_contract(contract, graph, published, contract_path=contract_path)
    if governance is not None and governance.require_contracts:
        findings += missing_contracts(contract, published, graph, spec_file)
    if result.level == "off" or (contract is None and not findings):
        return result
    violations = sorted(
        [*result.violations, *findings], key=lambda v: (v.model, v.code, v.column or "")
    )
    return replace(result, violations=violations, policy_types=[*result.policy_types, "contracts"])


def _with_findings(result: EnforcementResult, findings: list[Violation]) -> EnforcementResult:
    """``findings`` of one more policy added to the governance result (none at ``off``)."""
    if result.level == "off" or not findings:
        return result
    violations = sorted(
        [*result.violations, *findings], key=lambda v: (v.model, v.code, v.column or "")
    )
    policies = sorted({v.policy for v in findings} - set(result.policy_types))
    return replace(result, violations=violations, policy_types=[*result.policy_types, *policies])


def check_published_versions(
    product_dir: Path, artifacts: CompiledArtifacts, contract: DataContract, contract_path: Path
) -> list[LoadWarning]:
    """ContractVersionError when a table's contract changed against the one it was last
    published under without the version bump the change needs (a breaking change: a new
    major).  A catalog that cannot be read is a warning: the check then happens at
    publication."""
    from floe.contracts.versioning import check_version
    from floe.errors import FloeError
    from floe.runtime.publish.catalog import published_contracts

    data = artifacts.model_dump(mode="json")
    try:
        published = published_contracts(product_dir, data, [t.model for t in contract.tables])
    except FloeError as exc:
        return [
            LoadWarning(
                f"contract versions not compared with the catalog ({exc.message}); "
                "publication checks them",
                Location(contract_path),
            )
        ]
    line = int(contract.version_source.rpartition(":")[2] or 0)
    for table in contract.tables:
        check_version(
            contract,
            table,
            published.get(table.model),
            f"{artifacts.identity.module_name}.{table.model}",
            Location(contract_path, line, 0, "version"),
        )
    return []


def compile_pipeline(spec_path: Path, manifest_path: Path | None = None) -> CompiledArtifacts:
    """The compiled contract for one product (see :func:`compile_product`)."""
    return compile_product(spec_path, manifest_path).artifacts

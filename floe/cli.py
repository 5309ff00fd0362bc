"""The ``floe`` command line.

Every user mistake ends in a one- or two-line message and the exit code of its class
(see floe.errors); only a bug in floe itself shows a traceback.
"""

from __future__ import annotations

import functools
import json
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from floe import __version__, stopping
from floe.errors import FloeError, PolicyViolationError

F = TypeVar("F", bound=Callable[..., Any])

EXIT_OK = 0


def _fail(error: FloeError) -> None:
    click.secho(str(error), fg="red", err=True)
    sys.exit(error.exit_code)


def handles_errors(func: F) -> F:
    """Turn FloeError into its message and exit code; Ctrl-C into exit 130."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except FloeError as error:
            _fail(error)
        except (KeyboardInterrupt, stopping.Stopped) as stop:
            name = signal.Signals(stopping.signal_number(stop)).name
            settled = stopping.settle()  # dbt on a thread here ends before floe does
            what = stopping.stopped()
            click.echo(
                f"stopped by {name}"
                + (f" (stopped {', '.join(what)})" if what else "")
                + "; nothing half-written was left behind",
                err=True,
            )
            stopping.leave(stopping.exit_code(stop), settled)

    return wrapper  # type: ignore[return-value]


PathArg = click.Path(path_type=Path, dir_okay=False)
DirArg = click.Path(path_type=Path, file_okay=False)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="floe")
def main() -> None:
    """floe: a governed data platform from two YAML files.

    The platform team writes manifest.yaml; each data team writes floe.yaml beside a dbt
    project (`floe init` writes one from the dbt graph). `floe compile` turns every
    product of a platform directory into compiled_artifacts.json, a dbt profile under
    .floe/ and a Dagster definitions.py; `floe run` materializes them locally on DuckDB;
    `floe dev` serves them in the Dagster UI.

    Exit codes: 0 ok, 3 missing file, 4 invalid input, 5 floe.yaml/dbt mismatch,
    6 dbt or a publication failed, 7 strict governance failed, 8 missing prerequisite,
    9 cannot write, 10 a platform service is unhealthy, 11 a data contract changed
    without the version it needs; 130, 143, 129 stopped by SIGINT (Ctrl-C), SIGTERM,
    SIGHUP, after stopping every process the command started.
    """
    import logging

    # a log file on a full disk must not print a traceback per line (dbt's file log):
    # the write that matters fails with floe's own error naming the path
    logging.raiseExceptions = False
    stopping.install()


# ---------------------------------------------------------------- validate


@main.command()
@click.option("--spec", type=PathArg, help="A data product's floe.yaml.")
@click.option("--manifest", type=PathArg, help="The platform's manifest.yaml.")
@handles_errors
def validate(spec: Path | None, manifest: Path | None) -> None:
    """Check floe.yaml and/or manifest.yaml against their schemas (no dbt run).

    With only --spec, the manifest is the one floe.yaml's platform.manifest points to.
    """
    from floe.compiler.loader import load_manifest, load_spec
    from floe.compiler.pipeline import resolve_manifest_path

    if spec is None and manifest is None:
        raise click.UsageError("give --spec, --manifest or both")
    checked = []
    if spec is not None:
        loaded_spec = load_spec(spec)
        checked.append(spec)
        manifest = resolve_manifest_path(loaded_spec, manifest)
    assert manifest is not None
    loaded = load_manifest(manifest)
    checked.append(manifest)
    for warning in loaded.warnings:
        click.secho(str(warning), fg="yellow", err=True)
    for path in checked:
        click.echo(f"ok {path}")


# ---------------------------------------------------------------- schema

_SCHEMAS = ("manifest", "spec", "artifacts")


@main.command()
@click.argument("document", type=click.Choice(_SCHEMAS))
@click.option("--output", "-o", type=PathArg, help="Write to this file instead of stdout.")
@handles_errors
def schema(document: str, output: Path | None) -> None:
    """Print the JSON Schema of manifest.yaml, floe.yaml or compiled_artifacts.json.

    Point your editor's YAML language server at it for completion and checks.
    """
    from pydantic import BaseModel

    from floe.compiler.writer import write_atomic
    from floe.schemas import CompiledArtifacts, FloeSpec, PlatformManifest

    models: dict[str, type[BaseModel]] = {
        "manifest": PlatformManifest,
        "spec": FloeSpec,
        "artifacts": CompiledArtifacts,
    }
    schema_dict = models[document].model_json_schema(by_alias=True)
    text = json.dumps(schema_dict, indent=2, sort_keys=True)
    if output:
        write_atomic(output, text + "\n")
        click.echo(f"wrote {output}")
    else:
        click.echo(text)


# ---------------------------------------------------------------- platform


@main.group()
def platform() -> None:
    """Compile data products against the platform manifest."""


@platform.command("compile")
@click.option("--spec", type=PathArg, required=True, help="The data product's floe.yaml.")
@click.option(
    "--manifest", type=PathArg, help="manifest.yaml (default: floe.yaml's platform.manifest)."
)
@click.option(
    "--output",
    "-o",
    type=PathArg,
    help="Where to write the artifacts (default: compiled_artifacts.json beside floe.yaml).",
)
@click.option(
    "--generate-definitions",
    is_flag=True,
    help="Also write the product's Dagster definitions.py beside floe.yaml.",
)
@click.option("--enforcement-report", type=PathArg, help="Write the full governance result here.")
@click.option(
    "--enforcement-format",
    type=click.Choice(["json", "sarif"]),
    default="json",
    show_default=True,
    help="Format of --enforcement-report.",
)
@handles_errors
def platform_compile(
    spec: Path,
    manifest: Path | None,
    output: Path | None,
    generate_definitions: bool,
    enforcement_report: Path | None,
    enforcement_format: str,
) -> None:
    """Validate, run dbt compile, enforce governance, write artifacts (and definitions).

    Writes compiled_artifacts.json beside floe.yaml and the dbt profile under .floe/
    (atomically; a file floe did not generate is never replaced: exit 9). In
    strict governance a violation fails the compile and no artifact is written.
    """
    from floe.compiler.governance.report import write_report
    from floe.compiler.pipeline import CompileResult
    from floe.outputs import compile_and_write

    try:
        result, written = compile_and_write(
            spec, manifest, output=output, generate_definitions=generate_definitions
        )
    except PolicyViolationError as error:
        failed: CompileResult | None = getattr(error, "result", None)
        if enforcement_report and failed is not None:
            write_report(failed, enforcement_report, enforcement_format)
            click.echo(f"wrote {enforcement_report}", err=True)
        raise
    for notice in result.notices:
        click.echo(f"{result.artifacts.metadata.product_name}: {notice}", err=True)
    for warning in result.warnings:
        click.secho(str(warning), fg="yellow", err=True)
    for line in result.enforcement.finding_lines():
        click.secho(line, fg="yellow", err=True)
    if enforcement_report:
        written.append(write_report(result, enforcement_report, enforcement_format))
    click.echo(
        f"compiled {result.artifacts.metadata.product_name} "
        f"(artifacts {result.artifacts.version}; {result.enforcement.headline()})"
    )
    for path in written:
        click.echo(f"  wrote {path}")


@platform.command("status")
@click.option(
    "--artifacts",
    type=PathArg,
    required=True,
    help="A product's compiled_artifacts.json (its endpoints are checked).",
)
@click.option(
    "--values",
    "values_file",
    type=PathArg,
    default=Path("helm/floe-platform/values.yaml"),
    show_default=True,
    help="Chart values: health ports and paths of each service.",
)
@click.option("--dagster-url", help="Dagster webserver base URL, e.g. http://127.0.0.1:3000.")
@click.option(
    "--location",
    "locations",
    multiple=True,
    help="Code location that must be loaded (repeatable; default: every product there).",
)
@click.option(
    "--platform-dir",
    "--demo-dir",
    "demo_dir",
    type=DirArg,
    default=Path("demo"),
    show_default=True,
    help="Directory holding manifest.yaml and the product folders.",
)
@click.option("--timeout", type=float, default=3.0, show_default=True, help="Seconds per try.")
@click.option("--retries", type=int, default=2, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@handles_errors
def platform_status(
    artifacts: Path,
    values_file: Path,
    dagster_url: str | None,
    locations: tuple[str, ...],
    demo_dir: Path,
    timeout: float,
    retries: int,
    as_json: bool,
) -> None:
    """Check every service of the compiled platform; exit 10 if any is unhealthy."""
    from floe.compiler.loader import read_text
    from floe.errors import UnhealthyError
    from floe.health.checks import run_checks
    from floe.health.endpoints import load_values, platform_checks
    from floe.local.products import discover_products
    from floe.schemas import CompiledArtifacts

    compiled = CompiledArtifacts.from_json(read_text(artifacts))
    wanted = list(locations) or (
        [p.name for p in discover_products(demo_dir)] if dagster_url else []
    )
    checks = platform_checks(
        compiled,
        load_values(values_file),
        dagster_url=dagster_url,
        locations=wanted,
        timeout_s=timeout,
        retries=retries,
    )
    results = run_checks(checks)
    if as_json:
        click.echo(json.dumps([r.to_dict() for r in results], indent=2))
    else:
        for r in results:
            mark = click.style("ok  ", fg="green") if r.healthy else click.style("FAIL", fg="red")
            click.echo(f"{mark} {r.name:<15} {r.latency_ms:>8.1f} ms  {r.endpoint}  {r.detail}")
    bad = [r.name for r in results if not r.healthy]
    if bad:
        raise UnhealthyError(f"unhealthy: {', '.join(bad)}")


# ---------------------------------------------------------------- compile / run / dev

_products = click.option(
    "--product", "products", multiple=True, help="Only this product (repeatable)."
)
_force = click.option(
    "--force", is_flag=True, help="Recompile even products whose inputs did not change."
)
_jobs = click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=1),
    help="Products compiled (and run) at once (default: the CPUs this process may use, "
    "a container's CPU quota included; a run also no more than free memory holds).",
)


def _compile_products(
    platform_dir: Path, products: tuple[str, ...], force: bool, jobs: int | None
) -> None:
    from floe.local.compile_all import compile_all

    start = time.perf_counter()
    done = compile_all(
        platform_dir, only=list(products) or None, progress=click.echo, force=force, jobs=jobs
    )
    skipped = sum(1 for d in done if d.skipped)
    click.echo(
        f"compiled {len(done) - skipped} product(s), {skipped} up to date, "
        f"in {time.perf_counter() - start:.1f}s"
    )


def _run_products(
    platform_dir: Path,
    products: tuple[str, ...],
    skip_compile: bool,
    force: bool,
    jobs: int | None,
    history: bool = True,
) -> None:
    from floe.local import forkserver
    from floe.local.capacity import run_workers
    from floe.local.compile_all import compile_all
    from floe.local.products import discover_products
    from floe.local.run import run_all, run_locks

    only = list(products) or None
    product_dirs = discover_products(platform_dir, only)
    pool = run_workers(len(product_dirs), jobs)[0] > 1
    # the workers' imports start now, while the run locks are taken (a second floe run
    # waits there, before compiling under the first) and the compile check runs
    with forkserver.start_early(forkserver.both(), pool), run_locks(product_dirs, click.echo):
        if not skip_compile:
            compile_all(
                platform_dir, only=only, progress=click.echo, force=force, jobs=jobs, locked=True
            )
        runs = run_all(product_dirs, progress=click.echo, jobs=jobs, history=history, locked=True)
    tables = sum(len(r.tables) for r in runs)
    tests = sum(r.tests_passed for r in runs)
    click.echo(f"materialized {len(runs)} product(s): {tables} tables/views, {tests} tests passed")


def _serve(platform_dir: Path, host: str, port: int) -> None:
    from floe.local.dev import serve

    serve(platform_dir, host=host, port=port, echo=click.echo)


def _add_platform_commands(group: click.Group, option: str, default: Path, what: str) -> None:
    """compile, run and dev on a platform directory (manifest.yaml + product folders)."""
    directory = click.option(
        option,
        "platform_dir",
        type=DirArg,
        default=default,
        show_default=True,
        help=f"Directory holding manifest.yaml and one folder per product ({what}).",
    )

    @group.command("compile")
    @directory
    @_products
    @_force
    @_jobs
    @handles_errors
    def compile_command(
        platform_dir: Path, products: tuple[str, ...], force: bool, jobs: int | None
    ) -> None:
        """Compile every product: profile, dbt compile, governance, artifacts, definitions.py.

        Products whose inputs (floe.yaml, dbt project, manifest, shared macros, floe) did
        not change since their last compile are skipped.
        """
        _compile_products(platform_dir, products, force, jobs)

    @group.command("run")
    @directory
    @_products
    @click.option("--skip-compile", is_flag=True, help="Use the existing compiled output.")
    @_force
    @_jobs
    @click.option(
        "--history/--no-history",
        default=True,
        show_default=True,
        help="Record the runs in the platform's local Dagster instance (what `dev` shows); "
        "--no-history uses a throwaway one.",
    )
    @handles_errors
    def run_command(
        platform_dir: Path,
        products: tuple[str, ...],
        skip_compile: bool,
        force: bool,
        jobs: int | None,
        history: bool,
    ) -> None:
        """Compile, then materialize every asset of every product in-process on DuckDB.

        Producers run before the products that read their tables. Needs no Docker,
        cluster or network: lineage events and spans go to files under each product's
        target/observability/, and the runs, materializations and checks to the local
        Dagster instance `dev` shows (<platform>/.floe/dagster_home, or $DAGSTER_HOME).
        """
        _run_products(platform_dir, products, skip_compile, force, jobs, history)

    @group.command("dev")
    @directory
    @click.option("--host", default="127.0.0.1", show_default=True)
    @click.option("--port", default=3000, show_default=True, type=int)
    @handles_errors
    def dev_command(platform_dir: Path, host: str, port: int) -> None:
        """Start the Dagster webserver, with every product as a code location, and the
        Dagster daemon (it starts the runs the UI launches and fires schedules).

        A run started from the UI holds the product's run lock like `floe run` does: one
        run of a product at a time. Ctrl-C (or SIGTERM, SIGHUP) stops the webserver, the
        daemon and their code servers; the port is free when floe exits.
        """
        _serve(platform_dir, host, port)


_add_platform_commands(main, "--platform-dir", Path("."), "default: the current directory")


@main.group()
def demo() -> None:
    """The demo platform (demo/): the same compile, run and dev as `floe compile` etc."""


_add_platform_commands(demo, "--demo-dir", Path("demo"), "the demo")


# ---------------------------------------------------------------- catalog


@main.group()
def catalog() -> None:
    """Read the lakehouse catalog the runs publish to (the same code path they write with)."""


_catalog_options = [
    click.option(
        "--platform-dir",
        type=DirArg,
        default=Path("."),
        show_default=True,
        help="Directory holding manifest.yaml and the product folders.",
    ),
    click.option(
        "--catalog",
        "kind",
        type=click.Choice(["local", "platform"]),
        envvar="FLOE_CATALOG",
        default="local",
        show_default=True,
        help="local: the embedded catalog under <platform-dir>/.floe/lakehouse; platform: "
        "the manifest's Polaris catalog (FLOE_CATALOG sets the default).",
    ),
]


def _with_catalog_options(func: F) -> F:
    for option in reversed(_catalog_options):
        func = option(func)
    return func


def _open_catalog(platform_dir: Path, kind: str) -> tuple[Any, str]:
    """(catalog or None when no local catalog exists yet, its description)."""
    from floe.local.products import discover_products
    from floe.runtime.publish.catalog import (
        CATALOG_ENV,
        catalog_target,
        local_catalog_exists,
        local_target,
        open_catalog,
    )

    if kind == "local":
        target = local_target(platform_dir / ".floe" / "lakehouse")
        if not local_catalog_exists(target):
            return None, target.description
    else:
        product = discover_products(platform_dir)[0]
        artifacts_path = product / "compiled_artifacts.json"
        if not artifacts_path.is_file():
            raise FloeError(
                "no compiled_artifacts.json to read the platform catalog from",
                hint="run floe compile first",
            )
        artifacts = json.loads(artifacts_path.read_text(encoding="utf-8"))
        import os

        target = catalog_target(product, artifacts, {**os.environ, CATALOG_ENV: "platform"})
    return open_catalog(target), target.description


@catalog.command("tables")
@_with_catalog_options
@click.option("--json", "as_json", is_flag=True, help="Print the tables as JSON.")
@handles_errors
def catalog_tables(platform_dir: Path, kind: str, as_json: bool) -> None:
    """Every published table: current snapshot, its time, rows, the data contract it was
    published under, and its location."""
    from floe.runtime.publish.catalog import list_tables

    opened, description = _open_catalog(platform_dir, kind)
    tables = list_tables(opened) if opened is not None else []
    if as_json:
        click.echo(json.dumps([t.to_dict() for t in tables], indent=2))
        return
    if not tables:
        click.echo(f"no tables published yet in {description}; floe run publishes gold models")
        return
    click.echo(f"{len(tables)} table(s) in {description}:")
    for t in tables:
        contract = f"  contract {t.contract}" if t.contract else "  no contract"
        click.echo(
            f"  {t.identifier:<40} snapshot {t.snapshot_id} at {t.committed_at}  "
            f"{t.rows} rows{contract}  {t.location}"
        )


@catalog.command("history")
@click.argument("table")
@_with_catalog_options
@click.option("--json", "as_json", is_flag=True, help="Print the history as JSON.")
@handles_errors
def catalog_history(table: str, platform_dir: Path, kind: str, as_json: bool) -> None:
    """The snapshots of TABLE (namespace.table), oldest first; * marks the current one.

    Each says what became of it: published (main moved to it after its audit), audit
    failed (why; its audit branch is kept for inspection), audit pending (written, never
    published), or not published; rollbacks say who made them and why.
    """
    from floe.errors import LakehouseError
    from floe.runtime.publish.catalog import history

    opened, description = _open_catalog(platform_dir, kind)
    if opened is None:
        raise LakehouseError(f"no table {table}: nothing has been published to {description}")
    found = history(opened, table)
    if as_json:
        click.echo(json.dumps(found, indent=2))
        return
    click.echo(f"{table} in {description}:")
    for snap in found["snapshots"]:
        mark = "*" if snap["current"] else " "
        contract = f"  contract {snap['contract_version']}" if snap["contract_version"] else ""
        click.echo(
            f" {mark} {snap['snapshot_id']}  {snap['committed_at']}  {snap['status']:<13} "
            f"{snap['rows']} rows  run {snap['run_id']}  version {snap['product_version']}"
            f"{contract}"
        )
        if snap["audit_failure"]:
            click.echo(f"      audit failed: {snap['audit_failure']}")
        if snap["rolled_back_to"]:
            r = snap["rolled_back_to"]
            click.echo(f"      rolled back to at {r.get('at')} by {r.get('by')}: {r.get('why')}")
    branches = found["audit_branches"]
    click.echo(
        f"{len(branches)} audit branch(es) remain"
        + (f": {', '.join(branches)}" if branches else "")
        + " (removed by a later publication once older than the retention)"
    )


@catalog.command("rollback")
@click.argument("table")
@click.option("--to", "to", type=int, help="Make this snapshot id current.")
@click.option("--steps", type=click.IntRange(min=1), help="Go back this many current snapshots.")
@click.option("--reason", required=True, help="Why (recorded in the catalog with who).")
@click.option("--force", is_flag=True, help="Even when its schema breaks the table's contract.")
@_with_catalog_options
@handles_errors
def catalog_rollback(
    table: str,
    to: int | None,
    steps: int | None,
    reason: str,
    force: bool,
    platform_dir: Path,
    kind: str,
) -> None:
    """Make an earlier snapshot of TABLE current, in one catalog commit.

    Who and why are recorded on the table; `floe catalog history` shows them. Refused
    (exit 11) when that snapshot's schema breaks the table's current data contract,
    unless --force.
    """
    import getpass
    import socket

    from floe.errors import LakehouseError
    from floe.runtime.publish.catalog import rollback

    if (to is None) == (steps is None):
        raise click.UsageError("give exactly one of --to SNAPSHOT_ID or --steps N")
    opened, description = _open_catalog(platform_dir, kind)
    if opened is None:
        raise LakehouseError(f"no table {table}: nothing has been published to {description}")
    who = f"{getpass.getuser()}@{socket.gethostname()}"
    done = rollback(opened, table, to=to, steps=steps, by=who, why=reason, force=force)
    for line in done["forced_past"]:
        click.secho(f"forced past the contract: {line}", fg="yellow", err=True)
    click.echo(f"{table}: snapshot {done['to']} is current again (was {done['from']}); by {who}")


# ---------------------------------------------------------------- contract


@main.group()
def contract() -> None:
    """Data contracts: what each published table promises (ODCS v3, datacontract.yaml).

    floe checks a product's contract at compile (against the dbt project) and before
    every publication (against the data, in DuckDB); a change consumers rely on needs a
    new contract version, a breaking one a new major.
    """


@contract.command("init")
@click.argument("product_dir", type=DirArg)
@handles_errors
def contract_init(product_dir: Path) -> None:
    """Write PRODUCT_DIR/datacontract.yaml from what floe knows of the product.

    Tables: the published models; columns and types from the built tables (or the dbt
    manifest where the product has not run); required / unique / primaryKey from the
    not_null and unique tests; descriptions from the dbt docs. Says what it guessed.
    An existing contract is never replaced (exit 9).
    """
    from floe.local.contracts import init_contract

    done = init_contract(product_dir)
    for guess in done.guesses:
        click.secho(f"guessed: {guess}", fg="yellow", err=True)
    click.echo(f"wrote {done.path} ({len(done.tables)} table(s): {', '.join(done.tables)})")
    click.echo("next: review it, then floe compile checks it against the dbt project")


@contract.command("diff")
@click.argument("product_dir", type=DirArg)
@click.option(
    "--against",
    default="published",
    show_default=True,
    help="'published' (the contract each table was last published under, from the "
    "catalog) or another contract file (e.g. the main branch's).",
)
@click.option(
    "--catalog",
    "kind",
    type=click.Choice(["local", "platform"]),
    envvar="FLOE_CATALOG",
    default="local",
    show_default=True,
    help="With --against published: which catalog (FLOE_CATALOG sets the default).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the changes as JSON.")
@handles_errors
def contract_diff(product_dir: Path, against: str, kind: str, as_json: bool) -> None:
    """Every change of PRODUCT_DIR's contract, breaking or not; exit 11 when its version
    does not allow them (a breaking change without a new major), so CI can gate on it."""
    import os

    from floe.local.contracts import (
        diff_against_file,
        diff_against_published,
        raise_if_unversioned,
    )

    if against == "published":
        report = diff_against_published(product_dir, {**os.environ, "FLOE_CATALOG": kind})
    else:
        report = diff_against_file(product_dir, Path(against))
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        click.echo(f"{product_dir} against {report.against}:")
        for line in report.lines:
            click.echo(f"  {line}")
    raise_if_unversioned(report)


# ---------------------------------------------------------------- input


@main.group("input")
def input_group() -> None:
    """Inputs: other products' published tables a product reads, through the catalog.

    An input is declared in floe.yaml (inputs: product, table, accepted contract range)
    and read in dbt as a source; floe checks it against the producer's contract at
    compile, loads its published snapshot before each run, and runs producers first.
    """


@input_group.command("add")
@click.argument("product_dir", type=DirArg)
@click.argument("table")
@click.option(
    "--contract",
    "contract_range",
    help="Accepted producer contract versions (default: ^MAJOR of its current version).",
)
@handles_errors
def input_add(product_dir: Path, table: str, contract_range: str | None) -> None:
    """Let PRODUCT_DIR read TABLE (PRODUCER.TABLE) of another product of the platform.

    Appends it to PRODUCT_DIR/floe.yaml's inputs and writes the dbt source the models
    read it from (models/_floe_inputs__<producer>.yml), each once: a sources file that
    exists is never rewritten.
    """
    from floe.local.inputs import add_input

    done = add_input(product_dir, table, contract_range)
    for note in done.notes:
        click.secho(note, fg="yellow", err=True)
    for path in done.wrote:
        click.echo(f"wrote {path}")
    module, _, name = table.partition(".")
    click.echo(
        f"next: read it in a model as {{{{ source('{module.replace('-', '_')}', '{name}') }}}}, "
        f"then floe compile --platform-dir {product_dir.parent}"
    )


# ---------------------------------------------------------------- diagram


@main.command()
@click.option(
    "--platform-dir",
    type=DirArg,
    default=Path("."),
    show_default=True,
    help="Directory holding manifest.yaml and the (compiled) product folders.",
)
@click.option(
    "--readme",
    type=PathArg,
    help="Replace the diagram block of this Markdown file (between floe's markers).",
)
@handles_errors
def diagram(platform_dir: Path, readme: Path | None) -> None:
    """The platform's asset graph across products, as Mermaid, from the compiled artifacts.

    Each product's models by tier, its published tables, and which products read them.
    Code hosts render Mermaid in Markdown; --readme keeps a README's picture current.
    """
    from floe.local.diagram import mermaid, update_readme

    if not list(platform_dir.glob("*/compiled_artifacts.json")):
        raise FloeError(
            f"no compiled product under {platform_dir}",
            hint=f"run floe compile --platform-dir {platform_dir} first",
        )
    if readme is None:
        click.echo(mermaid(platform_dir), nl=False)
        return
    try:
        changed = update_readme(readme, platform_dir)
    except ValueError as exc:
        raise FloeError(str(exc)) from None
    click.echo(f"{'updated' if changed else 'unchanged:'} {readme}")


# ---------------------------------------------------------------- init


@main.command()
@click.argument("product_dir", type=DirArg)
@click.option(
    "--manifest",
    type=PathArg,
    help="The platform's manifest.yaml (default: manifest.yaml in PRODUCT_DIR's parent).",
)
@click.option("--owner", help="metadata.owner (default: git's user.email, else a placeholder).")
@click.option(
    "--update",
    is_flag=True,
    help="Add the dbt models an existing floe.yaml does not cover yet, keeping its "
    "comments and edits.",
)
@handles_errors
def init(product_dir: Path, manifest: Path | None, owner: str | None, update: bool) -> None:
    """Write PRODUCT_DIR/floe.yaml for an existing dbt project, from its dbt graph.

    Transforms and dependsOn come from dbt's ref() graph; tiers from the model folders
    (staging/intermediate/marts, bronze/silver/gold) or name prefixes (stg_/int_/mart_,
    fct_/dim_), and where neither says, the leaves of the graph (models nothing reads)
    are gold and published; name, version and description from dbt_project.yml. An
    existing floe.yaml is never overwritten; --update adds to it the models that no
    transform, select: entry or defaultTier covers yet.
    """
    if update:
        from floe.local.init_update import update_product

        path, added, notes = update_product(product_dir, manifest)
        for note in notes:
            click.secho(note, fg="yellow", err=True)
        if added:
            click.echo(f"added to {path}: {', '.join(added)}")
        else:
            click.echo(f"{path} already covers every dbt model; nothing written")
        return
    from floe.local.init import init_product

    written, notes = init_product(product_dir, manifest, owner)
    for note in notes:
        click.secho(note, fg="yellow", err=True)
    click.echo(f"wrote {written}")
    click.echo(f"next: floe compile --platform-dir {written.parent.parent}")


if __name__ == "__main__":  # pragma: no cover
    main()

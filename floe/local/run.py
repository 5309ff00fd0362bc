"""Materialize every asset of each compiled product in-process, on DuckDB files."""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import json
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import ModuleType
from typing import Any

from floe import stopping
from floe.environ import patched_environ
from floe.errors import DbtError, FloeError, Location
from floe.local import forkserver, peak
from floe.local.capacity import WORKER_MIB, run_workers
from floe.local.outcome import DbtOutcome, read_outcome
from floe.local.peak import memory_line
from floe.local.products import local_instance_home
from floe.local.progress_view import ProgressView
from floe.product_files import ARTIFACTS_FILE, DEFINITIONS_FILE
from floe.run_lock import run_lock
from floe.runtime.observe.progress import Progress, progress_sink
from floe.runtime.observe.report import LAST_RUN_FILE, ObservabilitySettings
from floe.runtime.product import duckdb_file, open_duckdb
from floe.runtime.publish.inputs import SNAPSHOTS_TABLE
from floe.runtime.publish.state import run_notes
from floe.schemas.spec import INPUT_SCHEMA
from floe.stopping import in_worker, terminate_pool

RUN_LOG = "run.log"
QUIET_RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
# local runs: lineage and spans to files, tables to the embedded catalog of the platform dir
LOCAL_OBSERVABILITY_ENV = {
    "FLOE_LINEAGE_TRANSPORT": "file",
    "FLOE_SPAN_EXPORTER": "file",
    "FLOE_CATALOG": "local",
}


@dataclass(frozen=True)
class TableStatus:
    table: str  # namespace.model
    status: str  # published | blocked | failed
    detail: str

    def line(self) -> str:
        return f"    {self.status:<9} -> {self.table}: {self.detail}"


@dataclass(frozen=True)
class ProductRun:
    name: str
    success: bool
    tables: dict[str, int]  # schema.table -> rows
    tests_passed: int
    tests_failed: int
    seconds: float
    lineage: str
    spans: str
    log: Path | None = None
    errors: list[str] = field(default_factory=list)
    outcome: DbtOutcome | None = None  # what dbt did, when it got as far as running
    published: list[dict[str, Any]] = field(default_factory=list)  # lakehouse tables
    # every published model's fate in this run: published / blocked (by what) / failed
    publications: list[TableStatus] = field(default_factory=list)
    state: list[str] = field(default_factory=list)  # snapshots/incrementals restored, saved
    peak_bytes: int | None = None  # resident high-water mark of the process that ran it
    memory_limit: str | None = None  # its run pod's memory limit in the cluster

    @property
    def stale(self) -> list[str]:
        """Tables/views left from an earlier run: this run did not rebuild them."""
        tables = [t for t in self.tables if not t.startswith(f"{INPUT_SCHEMA}.")]
        if self.outcome is None:
            return tables if not self.success else []
        return [t for t in tables if t.split(".")[-1] not in self.outcome.built]


def load_definitions_module(product_dir: Path) -> ModuleType:
    """Import ``<product>/definitions.py`` under a unique module name."""
    path = product_dir / DEFINITIONS_FILE
    if not path.is_file():
        raise FloeError(
            "no generated definitions.py",
            Location(path),
            hint="run `nox -s compile_demo` (or floe platform compile --generate-definitions)",
        )
    name = f"floe_local_{product_dir.name.replace('-', '_')}_definitions"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _job(defs: Any, name: str) -> Any:
    resolve = getattr(defs, "resolve_job_def", None) or defs.get_job_def
    return resolve(name)


def table_row_counts(product_dir: Path, artifacts: Mapping[str, Any]) -> dict[str, int]:
    """Rows in every table and view of the product's DuckDB file (opened read-only, with
    the databases its profile attaches)."""
    con = open_duckdb(product_dir, artifacts)
    try:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_catalog = current_database() order by 1, 2"
        ).fetchall()
        return {
            f"{schema}.{table}": int(
                con.execute(f'select count(*) from "{schema}"."{table}"').fetchone()[0]
            )
            for schema, table in tables
        }
    finally:
        con.close()


def run_product(
    product_dir: Path,
    env: dict[str, str] | None = None,
    history: bool = True,
    on_progress: Callable[[Progress], None] | None = None,
) -> ProductRun:
    """Run the product's build job in-process.  With ``history`` (the default) the run,
    its materializations, checks and metadata are recorded in the platform's local
    Dagster instance, the one `floe dev` shows; without, in an ephemeral one.
    ``on_progress`` hears of every dbt node as dbt finishes it."""
    from dagster import DagsterInstance

    product_dir = product_dir.resolve()
    artifacts = json.loads((product_dir / ARTIFACTS_FILE).read_text(encoding="utf-8"))
    module_name = artifacts["identity"]["module_name"]
    run_env = {**LOCAL_OBSERVABILITY_ENV, **(env or {})}
    start = time.perf_counter()
    peak.reset_peak()
    settings = ObservabilitySettings.load(product_dir, run_env, artifacts)
    settings.output_dir.mkdir(parents=True, exist_ok=True)
    log_path = settings.output_dir / RUN_LOG
    # dbt's per-node output goes to the run log; the caller prints a summary
    name = product_dir.name
    with (
        progress_sink(None if on_progress is None else _named(on_progress, name)),
        patched_environ(run_env),
        _quiet_dagster_logging(),
        log_path.open("w", encoding="utf-8") as log,
        contextlib.redirect_stdout(log),
        contextlib.redirect_stderr(log),
        _stderr_descriptor_to(log),
    ):
        defs = load_definitions_module(product_dir).defs
        job = _job(defs, f"{module_name}_build")
        opened = (
            DagsterInstance.from_config(str(local_instance_home(product_dir.parent)))
            if history
            else DagsterInstance.ephemeral()
        )
        with opened as instance:
            stopping.drain()
            result = job.execute_in_process(
                instance=instance, raise_on_error=False, run_config=QUIET_RUN_CONFIG
            )
    stopping.raise_if_stopped()  # Dagster ran it as an interrupted run: floe stops too
    seconds = time.perf_counter() - start
    peak_bytes = peak.peak_bytes()
    published = [
        {k: v.value for k, v in event.materialization.metadata.items()}
        for event in result.get_asset_materialization_events()
        if event.asset_key is not None and event.asset_key.path[0] == "lakehouse"
    ]
    failures = {
        str(event.step_key): _failure_text(event) for event in result.all_events if event.is_failure
    }
    errors = list(failures.values())
    last_path = settings.output_dir / LAST_RUN_FILE
    last = json.loads(last_path.read_text(encoding="utf-8")) if last_path.is_file() else {}
    if last.get("run_id") != result.run_id:
        last = {}
    database = duckdb_file(product_dir, artifacts)
    tables = table_row_counts(product_dir, artifacts) if database.is_file() else {}
    run_results = Path(str(last.get("run_results", "")))
    outcome = read_outcome(run_results) if last and run_results.is_file() else None
    publications = publication_statuses(
        artifacts, published, failures, run_results if outcome is not None else None
    )
    return ProductRun(
        name=artifacts["metadata"]["product_name"],
        success=result.success,
        tables=tables,
        tests_passed=int(last.get("tests_passed", 0)),
        tests_failed=int(last.get("tests_failed", 0)),
        seconds=seconds,
        lineage=str(last.get("lineage", "not reported")),
        spans=str(last.get("spans", "not reported")),
        log=log_path,
        errors=errors[:5],
        outcome=outcome,
        published=published,
        publications=publications,
        state=run_notes(product_dir, result.run_id),
        peak_bytes=peak_bytes,
        memory_limit=((artifacts.get("run_resources") or {}).get("limits") or {}).get("memory"),
    )


@contextmanager
def _stderr_descriptor_to(log: Any) -> Iterator[None]:
    """File descriptor 2 to the run log while a run executes: what the processes Dagster
    starts write there (its compute-log tailers print a traceback on a terminal's Ctrl-C)
    goes to the log, not over floe's output."""
    sys.stderr.flush()
    saved = os.dup(2)
    os.dup2(log.fileno(), 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _named(on_progress: Callable[[Progress], None], name: str) -> Callable[[Progress], None]:
    return lambda note: on_progress(replace(note, product=name))


def publication_statuses(
    artifacts: dict[str, Any],
    published: list[dict[str, Any]],
    failures: dict[str, str],
    run_results: Path | None,
) -> list[TableStatus]:
    """Each published model as published, blocked (a publication blocked by the gate, or
    skipped by Dagster because its model did not build) or failed (an audit, a contract,
    the catalog)."""
    from floe.runtime.product import namespace_of, published_models
    from floe.runtime.publish.gate import read_blockers

    namespace = namespace_of(artifacts)
    done = {str(p["table"]): p for p in published}
    out = []
    for model in published_models(artifacts):
        table = f"{namespace}.{model}"
        if table in done:
            p = done[table]
            detail = f"{p['rows']} rows, snapshot {p['snapshot_id']} ({p['catalog']})"
            if p.get("contract"):
                detail += f"; contract {p['contract']}"
            out.append(TableStatus(table, "published", detail))
            continue
        failure = next(
            (f for k, f in failures.items() if k == f"lakehouse__{namespace}__{model}"), None
        )
        if failure is not None:
            text = failure.split(": ", 1)[-1]
            status = "blocked" if "FLOE930" in text else "failed"
            out.append(TableStatus(table, status, text.splitlines()[0]))
            continue
        found = read_blockers(run_results, model) if run_results is not None else []
        why = f"by {', '.join(found[:5])}" if found else "not run (an earlier step failed)"
        out.append(TableStatus(table, "blocked", why))
    return out


def _failure_text(event: Any) -> str:
    """A failed step's own error (e.g. a lakehouse error naming table and column), not
    only Dagster's "Execution of step ... failed"."""
    if event.is_step_failure:
        error = event.step_failure_data.error
        while error is not None and error.cause is not None and "dagster" in error.cls_name.lower():
            error = error.cause
        if error is not None:
            return f"{event.step_key}: {error.message.strip()}"
    return str(event.message or event.event_type_value)


@contextmanager
def _quiet_dagster_logging() -> Iterator[None]:
    """Dagster's own events go to the run log, not through a root handler an earlier
    in-process dbt call may have installed on the terminal."""
    import logging

    logger = logging.getLogger("dagster")
    old = logger.propagate
    logger.propagate = False
    try:
        yield
    finally:
        logger.propagate = old


def _prepare_shared_stores(product_dirs: list[Path], history: bool) -> None:
    """Create the platform's embedded catalog and (with ``history``) its local Dagster
    instance once, before products use them from several processes at a time: both are
    SQLite databases whose tables are created on first open, and two processes creating
    one at once collide (Dagster's schema migrations end with two heads)."""
    from floe.runtime.publish.catalog import local_target, open_catalog

    for platform_dir in sorted({p.resolve().parent for p in product_dirs}):
        open_catalog(local_target(platform_dir / ".floe" / "lakehouse"))
        if history:
            from dagster import DagsterInstance

            with DagsterInstance.from_config(str(local_instance_home(platform_dir))):
                pass


_worker_notes: Any = None  # in a worker: the queue its progress notes go to


def _worker_notes_to(queue: Any) -> None:
    global _worker_notes
    _worker_notes = queue
    in_worker()


def _run_in_worker(product_dir: Path, history: bool = True) -> ProductRun:
    on_progress = None if _worker_notes is None else _worker_notes.put
    return run_product(product_dir, history=history, on_progress=on_progress)


@contextmanager
def _shown(queue: Any, note: Callable[[Progress], None]) -> Iterator[None]:
    """A thread showing the notes workers put on ``queue`` until the block ends."""
    import threading

    def show() -> None:
        while (item := queue.get()) is not None:
            note(item)

    thread = threading.Thread(target=show, name="floe-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        queue.put(None)
        thread.join(timeout=10)
        queue.close()


@contextmanager
def run_locks(product_dirs: list[Path], progress: Any) -> Iterator[None]:
    """Every product's run lock, taken in name order (two runs never deadlock)."""
    with contextlib.ExitStack() as stack:
        for product_dir in sorted(product_dirs, key=lambda p: str(p.resolve())):
            stack.enter_context(run_lock(product_dir, progress))
        yield


def run_all(
    product_dirs: list[Path],
    progress: Any = print,
    jobs: int | None = None,
    history: bool = True,
    locked: bool = False,
) -> list[ProductRun]:
    """See :func:`_run_all`; holds every product's run lock throughout (``locked``: the
    caller holds them already)."""
    if locked:
        return _run_all(product_dirs, progress, jobs, history)
    with run_locks(product_dirs, progress):
        return _run_all(product_dirs, progress, jobs, history)


def product_inputs(product_dirs: list[Path]) -> dict[Path, dict[Path, list[str]]]:
    """consumer -> {producer being run: the tables it reads from it} (inputs whose
    producer is not in this run are read from the catalog as last published)."""
    names: dict[str, Path] = {}
    inputs: dict[Path, list[dict[str, Any]]] = {}
    for product_dir in product_dirs:
        artifacts_path = product_dir / ARTIFACTS_FILE
        artifacts = (
            json.loads(artifacts_path.read_text(encoding="utf-8"))
            if artifacts_path.is_file()
            else {}
        )
        names[str((artifacts.get("metadata") or {}).get("product_name", product_dir.name))] = (
            product_dir
        )
        inputs[product_dir] = list(artifacts.get("inputs") or [])
    out: dict[Path, dict[Path, list[str]]] = {}
    for product_dir, items in inputs.items():
        deps: dict[Path, list[str]] = {}
        for item in items:
            producer = names.get(str(item.get("product")))
            if producer is not None and producer != product_dir:
                deps.setdefault(producer, []).append(str(item["identifier"]))
        out[product_dir] = deps
    return out


def _broken() -> ProductRun:
    from concurrent.futures.process import BrokenProcessPool

    raise BrokenProcessPool("the pool was broken before this product started")


def _not_run(product_dir: Path, why: list[str]) -> ProductRun:
    return ProductRun(
        name=product_dir.name,
        success=False,
        tables={},
        tests_passed=0,
        tests_failed=0,
        seconds=0.0,
        lineage="not reported",
        spans="not reported",
        errors=why,
    )


def _unready(
    product_dir: Path, deps: dict[Path, list[str]], runs: dict[Path, ProductRun]
) -> list[str]:
    """Why a consumer cannot run: an input its producer did not publish in this run."""
    why = []
    for producer, tables in deps.items():
        statuses = {s.table: s for s in runs[producer].publications}
        for table in tables:
            status = statuses.get(table)
            if status is None or status.status != "published":
                detail = f"{status.status} ({status.detail})" if status else "its run failed"
                why.append(
                    f"not run: input {table} was not published by {producer.name} in this "
                    f"run: {detail}"
                )
    return why


def _run_all(
    product_dirs: list[Path],
    progress: Any = print,
    jobs: int | None = None,
    history: bool = True,
) -> list[ProductRun]:
    """Materialize every product, producers before the products that read their tables
    (independent products run at once: up to ``jobs``, default one per CPU and no more
    than memory holds, each in its own worker process).  Each product's dbt nodes are
    shown as dbt finishes them, and its summary is printed as it finishes; a failed
    product does not stop the others (its consumers are not run, saying why), and the
    first failure (in name order) is raised at the end."""
    total = len(product_dirs)
    graph = product_inputs(product_dirs)
    workers, lowered = run_workers(total, jobs)
    runs: dict[Path, ProductRun] = {}
    pending = list(product_dirs)

    def ready() -> list[Path]:
        return [p for p in pending if all(d in runs for d in graph[p])]

    with ProgressView(progress) as view:
        say = view.say
        if lowered:
            say(f"running {workers} product(s) at a time: {lowered}")

        def finish(product_dir: Path, run: ProductRun, label: str) -> None:
            runs[product_dir] = run
            view.finished(
                product_dir.name, f"{label}\n{format_run(run)}" if label else format_run(run)
            )

        if workers == 1:
            while pending:
                batch = ready()
                if not batch:  # a circle (compile refuses these): nothing more can start
                    for product_dir in pending:
                        finish(
                            product_dir, _not_run(product_dir, ["not run: inputs in a circle"]), ""
                        )
                    break
                product_dir = batch[0]
                pending.remove(product_dir)
                label = f"[{len(runs) + 1}/{total}] {product_dir.name}"
                why = _unready(product_dir, graph[product_dir], runs)
                if why:
                    finish(product_dir, _not_run(product_dir, why), label)
                    continue
                say(f"{label}: materializing all assets ...")
                run = functools.partial(
                    run_product, product_dir, history=history, on_progress=view.note
                )
                finish(product_dir, _outcome_of(product_dir, run), "")
        else:
            _run_parallel(
                product_dirs, graph, workers, say, view.note, runs, pending, ready, finish, history
            )
    failed = [p for p in product_dirs if not runs[p].success]
    if failed:
        error = run_error(runs[failed[0]], failed[0])
        if len(failed) > 1:
            error.details.append(f"also failed: {', '.join(p.name for p in failed[1:])}")
        raise error
    return [runs[p] for p in product_dirs]


def _run_parallel(
    product_dirs: list[Path],
    graph: dict[Path, dict[Path, list[str]]],
    workers: int,
    progress: Any,
    note: Callable[[Progress], None],
    runs: dict[Path, ProductRun],
    pending: list[Path],
    ready: Callable[[], list[Path]],
    finish: Callable[[Path, ProductRun, str], None],
    history: bool = True,
) -> None:
    from concurrent.futures import ProcessPoolExecutor

    total = len(product_dirs)
    progress(
        f"materializing {total} product(s) with {workers} worker(s): "
        + ", ".join(p.name for p in product_dirs)
    )
    # forkserver: workers start clean (no threads or DuckDB handles of this process),
    # forked from a server that imported dagster, dagster-dbt, dbt and pyiceberg once
    # (each product's dbt commands then run on a thread of its worker: dbt_launch)
    context = forkserver.context(forkserver.RUN_PRELOAD)
    notes = context.Queue()  # workers' progress notes, shown by a thread of this process
    with (
        _shown(notes, note),
        ProcessPoolExecutor(
            max_workers=workers,
            mp_context=context,
            initializer=_worker_notes_to,
            initargs=(notes,),
        ) as pool,
    ):
        try:
            _drive_pool(pool, product_dirs, graph, runs, pending, ready, finish, history, total)
        except BaseException:  # Ctrl-C, SIGTERM, SIGHUP: the workers stop with this process
            terminate_pool(pool, "run")
            raise


def _drive_pool(
    pool: Any,
    product_dirs: list[Path],
    graph: dict[Path, dict[Path, list[str]]],
    runs: dict[Path, ProductRun],
    pending: list[Path],
    ready: Callable[[], list[Path]],
    finish: Callable[[Path, ProductRun, str], None],
    history: bool,
    total: int,
) -> None:
    """Start each product when its producers are done, until every one finished."""
    from concurrent.futures import FIRST_COMPLETED, Future, wait
    from concurrent.futures.process import BrokenProcessPool

    # in a worker, where pyiceberg and dagster are imported already (not in this process)
    try:
        pool.submit(_prepare_shared_stores, product_dirs, history).result()
    except BrokenProcessPool:
        raise FloeError(
            "no product started: a worker process ended abruptly (killed, most "
            "often by the out-of-memory killer, or crashed)",
            hint=WORKER_LOST_HINT,
        ) from None
    running: dict[Future[ProductRun], Path] = {}
    while pending or running:
        for product_dir in ready():
            pending.remove(product_dir)
            why = _unready(product_dir, graph[product_dir], runs)
            if why:
                finish(
                    product_dir,
                    _not_run(product_dir, why),
                    f"[{len(runs) + 1}/{total}] {product_dir.name} not run",
                )
                continue
            try:
                running[pool.submit(_run_in_worker, product_dir, history)] = product_dir
            except BrokenProcessPool:  # a worker was killed: the pool takes nothing more
                finish(
                    product_dir,
                    _outcome_of(product_dir, _broken),
                    f"[{len(runs) + 1}/{total}] {product_dir.name} finished",
                )
        if not running:
            for product_dir in list(pending):  # a circle: nothing more can start
                pending.remove(product_dir)
                finish(product_dir, _not_run(product_dir, ["not run: inputs in a circle"]), "")
            break
        done, _ = wait(running, return_when=FIRST_COMPLETED)
        for future in done:
            product_dir = running.pop(future)
            finish(
                product_dir,
                _outcome_of(product_dir, future.result),
                f"[{len(runs) + 1}/{total}] {product_dir.name} finished",
            )


WORKER_LOST = (
    "not finished: a worker process ended abruptly (killed, most often by the "
    "out-of-memory killer, or crashed), and the run's workers were stopped"
)
WORKER_LOST_HINT = (
    f"each worker needs about {WORKER_MIB} MiB; rerun with -j 1, or give the run more memory"
)


def _outcome_of(product_dir: Path, result: Callable[[], ProductRun]) -> ProductRun:
    """A product's run; an error raised instead (its definitions do not import, its worker
    was killed) fails that product alone, and the others go on."""
    from concurrent.futures.process import BrokenProcessPool

    try:
        return result()
    except BrokenProcessPool:
        errors = [WORKER_LOST]
    except FloeError as exc:
        errors = str(exc).splitlines()
    except Exception as exc:  # reported as this product's failure
        errors = _exception_lines(exc)
    return _not_run(product_dir, errors)


def _exception_lines(exc: BaseException) -> list[str]:
    """Where an unexpected error was raised (its innermost frame) and what it says."""
    remote = getattr(exc.__cause__, "tb", None)  # from a worker: its traceback, as text
    if isinstance(remote, str):
        frames = [line.strip() for line in remote.splitlines() if line.strip().startswith("File ")]
        where = frames[-1] if frames else None
    else:
        stack = traceback.extract_tb(exc.__traceback__)
        where = f'File "{stack[-1].filename}", line {stack[-1].lineno}' if stack else None
    what = [line for chunk in traceback.format_exception_only(exc) for line in chunk.splitlines()]
    return ([where] if where else []) + what


def _count(kind: str, n: int) -> str:
    return f"{n} {kind}{'' if n == 1 else 's'} failed"


def run_error(run: ProductRun, product_dir: Path) -> DbtError:
    """Exit 6 naming what failed (model, its SQL file, the database's message; failing
    tests with their model and row count) as ``dbt build`` does."""
    outcome = run.outcome
    if outcome is None or not outcome.problems:
        return DbtError(
            f"{run.name}: materialization failed",
            Location(product_dir / DEFINITIONS_FILE),
            details=run.errors,
            hint=WORKER_LOST_HINT if WORKER_LOST in run.errors else None,
        )
    nodes = outcome.failed_nodes
    tests = [p for p in outcome.problems if p.kind == "test"]
    what = [_count(p.kind, sum(1 for q in nodes if q.kind == p.kind)) for p in nodes]
    what = list(dict.fromkeys(what))
    if tests:
        what.append(_count("test", len(tests)))
    first = (nodes or tests)[0]
    return DbtError(
        f"{run.name}: dbt build: {', '.join(what)}",
        Location(product_dir / first.file),
        details=[line for p in outcome.problems[:10] for line in p.lines()],
        hint=f"full dbt output: {run.log}" if run.log else None,
    )


def _floe_internal(table: str) -> bool:
    return table == f"{INPUT_SCHEMA}.{SNAPSHOTS_TABLE}"


def _is_publication_step(error: str) -> bool:
    step = error.split(": ", 1)[0]
    return step.startswith("lakehouse__") or step.endswith("dbt_build")


def format_run(run: ProductRun) -> str:
    outcome = run.outcome
    tests = f"tests {run.tests_passed} passed, {run.tests_failed} failed"
    if outcome is not None:
        tests = (
            f"tests {outcome.tests_passed} passed, {outcome.tests_failed} failed, "
            f"{outcome.tests_skipped} skipped"
        )
        if outcome.tests_warned:
            tests += f", {outcome.tests_warned} warned"
    state = "ok" if run.success else "FAILED"
    if run.errors and all(e.startswith("not run:") for e in run.errors):
        state, tests = "NOT RUN", "its inputs were not published"
    lines = [f"  {run.name}: {state} in {run.seconds:.1f}s; {tests}"]
    if outcome is not None:
        for problem in outcome.problems:
            lines += [f"    {line}" for line in problem.lines()]
    if not run.success and (outcome is None or not outcome.problems):
        # dbt did not get as far as running, or what failed came after it; publications
        # have their own lines below
        lines += [f"    {line}" for line in run.errors if not _is_publication_step(line)]
    stale = set(run.stale)
    run = replace(run, tables={t: n for t, n in run.tables.items() if not _floe_internal(t)})
    lines += [
        f"    {table:<45} {rows:>8} rows"
        + ("  (stale: not rebuilt in this run)" if table in stale else "")
        + ("  (input, loaded from the catalog)" if table.startswith(f"{INPUT_SCHEMA}.") else "")
        for table, rows in run.tables.items()
    ]
    lines += [status.line() for status in run.publications]
    lines += [f"    state   -> {line.removeprefix('state ')}" for line in run.state]
    memory = memory_line(run.peak_bytes, run.memory_limit)
    if memory:
        lines.append(f"    memory  -> {memory}")
    lines += [f"    lineage -> {run.lineage}", f"    spans   -> {run.spans}"]
    if run.log:
        lines.append(f"    dbt log -> {run.log}")
    return "\n".join(lines)

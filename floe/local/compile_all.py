"""Compile every product of a demo tree: validate, profiles, dbt compile, artifacts, code.

Products whose inputs did not change are skipped (see floe.local.fingerprint); the rest
compile in parallel worker processes (forked from a server that imported dbt once, so
the ~3 s import is paid once), each writing only its own product directory.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from floe.compiler.dbt import read_dbt_project
from floe.compiler.inputs import Producer, platform_products
from floe.compiler.packages import packages_installed
from floe.compiler.pipeline import CompileResult
from floe.errors import FloeError
from floe.local import forkserver
from floe.local.capacity import usable_cpus
from floe.local.fingerprint import (
    changed_outputs,
    fingerprint,
    is_up_to_date,
    is_up_to_date_inputs,
    record,
    shared_dirs,
)
from floe.local.products import MANIFEST_FILE, SPEC_FILE, discover_products
from floe.outputs import compile_and_write
from floe.product_files import ARTIFACTS_FILE
from floe.stopping import in_worker, terminate_pool

Progress = Callable[[str], None]


@dataclass(frozen=True)
class ProductCompiled:
    name: str
    result: CompileResult | None  # None when skipped as up to date
    written: list[Path]
    seconds: float

    @property
    def skipped(self) -> bool:
        return self.result is None


def _compile_one(
    product: Path, manifest: Path, locked: bool = False
) -> tuple[CompileResult, list[Path], float]:
    start = time.perf_counter()
    result, written = compile_and_write(
        product / SPEC_FILE, manifest, generate_definitions=True, run_locked=locked
    )
    return result, written, time.perf_counter() - start


def compile_all(
    demo_dir: Path,
    *,
    only: list[str] | None = None,
    progress: Progress = print,
    force: bool = False,
    jobs: int | None = None,
    locked: bool = False,
) -> list[ProductCompiled]:
    """Compile what changed; stop with the first failing product's name (in name order)."""
    demo_dir = Path(demo_dir)
    manifest = demo_dir / MANIFEST_FILE
    products = discover_products(demo_dir, only)
    total = len(products)
    stamps: dict[str, str] = {}
    done: dict[str, ProductCompiled] = {}
    todo: list[Path] = []
    loaded = platform_products(demo_dir, strict=False)  # every floe.yaml, read once
    producers = producer_files(loaded)
    waits = compiled_first(loaded)

    def stamp(product: Path) -> str:
        shared = shared_dirs(product, read_dbt_project(product).macro_paths)
        return fingerprint(product, manifest, shared, producers.get(product, []))

    for product in products:
        stamps[product.name] = stamp(product)
        current = is_up_to_date(product, stamps[product.name]) and packages_installed(product)
        if force or not current:
            todo.append(product)
        if not current and not force and is_up_to_date_inputs(product, stamps[product.name]):
            changed = [c for c in changed_outputs(product) if (product / c).is_file()]
            if changed:
                progress(
                    f"{product.name}: {', '.join(changed)} changed since floe wrote it "
                    "(edited or truncated): rebuilding"
                )
    # a product reading a recompiled producer's selection-declared tables recompiles too
    while extra := [p for p in products if p not in todo and waits.get(p, set()) & set(todo)]:
        todo += extra
    for product in products:
        if product not in todo:
            done[product.name] = ProductCompiled(product.name, None, [], 0.0)
            progress(
                f"[{products.index(product) + 1}/{total}] {product.name}: up to date "
                "(dbt and codegen skipped; --force recompiles)"
            )
    todo.sort(key=products.index)
    workers = min(jobs or usable_cpus(), len(todo))
    if todo:
        progress(
            f"compiling {len(todo)} product(s) with {max(workers, 1)} worker(s): "
            + ", ".join(p.name for p in todo)
        )
    outcomes = _run(
        todo, manifest, workers, {p: waits.get(p, set()) & set(todo) for p in todo}, locked
    )
    for product in todo:
        outcome = outcomes.get(product.name)
        if outcome is None:  # not started: an earlier product failed (one worker)
            continue
        index = products.index(product) + 1
        if isinstance(outcome, FloeError):
            outcome.message = f"{product.name}: {outcome.message}"
            raise outcome
        result, written, seconds = outcome
        # after its producers compiled: their artifacts are part of what it read
        record(product, stamp(product) if waits.get(product) else stamps[product.name])
        done[product.name] = ProductCompiled(product.name, result, written, seconds)
        progress(
            f"[{index}/{total}] {product.name}: ok in {seconds:.1f}s "
            f"({len(result.artifacts.transforms.models)} models; "
            f"{result.enforcement.headline()})"
        )
        for line in [*result.notices, *result.enforcement.finding_lines()]:
            progress(f"      {line}")
    return [done[p.name] for p in products]


def producer_files(products: Mapping[str, Producer]) -> dict[Path, list[Path]]:
    """product -> the files of the products it reads that its compile checks against
    (their floe.yaml and datacontract.yaml): a producer's contract change recompiles it."""
    from floe.contracts.model import CONTRACT_FILE

    out: dict[Path, list[Path]] = {}
    for product in products.values():
        files = []
        for wanted in product.spec.inputs:
            producer = products.get(wanted.product)
            if producer is not None:
                files += [producer.directory / SPEC_FILE, producer.directory / CONTRACT_FILE]
                if producer.spec.by_selection:  # its tables are known from its compile
                    files.append(producer.directory / ARTIFACTS_FILE)
        out[product.directory] = files
    return out


def compiled_first(products: Mapping[str, Producer]) -> dict[Path, set[Path]]:
    """product -> the producers it reads whose compile must finish before its own: those
    declaring models by selection (their published tables come from that compile)."""
    return {
        product.directory: {
            products[w.product].directory
            for w in product.spec.inputs
            if w.product in products and products[w.product].spec.by_selection
        }
        for product in products.values()
    }


Outcome = tuple[CompileResult, list[Path], float] | FloeError


def _in_order(todo: list[Path], waits: dict[Path, set[Path]]) -> list[Path]:
    """``todo`` with every product after the producers it waits for (else name order)."""
    ordered: list[Path] = []
    pending = list(todo)
    while pending:
        ready = [p for p in pending if waits.get(p, set()) <= set(ordered)] or pending[:1]
        ordered.append(ready[0])
        pending.remove(ready[0])
    return ordered


def _run(
    todo: list[Path],
    manifest: Path,
    workers: int,
    waits: dict[Path, set[Path]],
    locked: bool = False,
) -> dict[str, Outcome]:
    outcomes: dict[str, Outcome] = {}
    if workers <= 1:
        for product in _in_order(todo, waits):
            try:
                outcomes[product.name] = _compile_one(product, manifest, locked)
            except FloeError as error:
                outcomes[product.name] = error
                break  # first failure stops, as a Makefile would
        return outcomes
    # Workers fork from a clean single-threaded server that imported dbt once (fork from
    # this process could inherit locks held by threads of an earlier in-process dbt run).
    context = forkserver.context(forkserver.COMPILE_PRELOAD)
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=in_worker
    ) as pool:
        try:
            _drive(pool, todo, manifest, waits, outcomes, locked)
        except BaseException:  # Ctrl-C, SIGTERM, SIGHUP: the workers stop with this process
            terminate_pool(pool, "compile")
            raise
    return outcomes


def _drive(
    pool: ProcessPoolExecutor,
    todo: list[Path],
    manifest: Path,
    waits: dict[Path, set[Path]],
    outcomes: dict[str, Outcome],
    locked: bool,
) -> None:
    """Compile each product once the producers it waits for are compiled."""
    running: dict[Future[tuple[CompileResult, list[Path], float]], Path] = {}
    finished: set[Path] = set()
    pending = list(todo)
    while pending or running:
        ready = [p for p in pending if waits.get(p, set()) <= finished]
        if not ready and not running:
            ready = pending[:1]  # a circle (the compile itself names it)
        for product in ready:
            pending.remove(product)
            failed = sorted(
                w.name
                for w in waits.get(product, set())
                if isinstance(outcomes.get(w.name), FloeError)
            )
            if failed:
                outcomes[product.name] = FloeError(
                    f"not compiled: it reads {', '.join(failed)}, whose compile failed"
                )
                finished.add(product)
                continue
            running[pool.submit(_compile_one, product, manifest, locked)] = product
        if not running:
            continue
        done, _ = wait(list(running), return_when=FIRST_COMPLETED)
        for future in done:
            product = running.pop(future)
            finished.add(product)
            try:
                outcomes[product.name] = future.result()
            except FloeError as error:
                outcomes[product.name] = error

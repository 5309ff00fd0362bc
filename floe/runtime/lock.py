"""The product's run lock as a Dagster resource: a run Dagster starts itself (the UI of
floe dev, a schedule, a sensor) holds it from its first step to its last, so `floe run`
and `floe compile` of the same product wait or refuse naming it, and it is refused,
naming the holder, while a floe run runs the product (issue 28 point 6).

The generated jobs use Dagster's in-process executor, so the run's steps share the one
process that holds the lock; under `floe run` (the lock is floe run's own, taken by this
process or a parent) the resource does nothing.  The generated assets take it as their
``floe_run_lock`` argument.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dagster import ConfigurableResource, InitResourceContext

from floe.run_lock import build_lock


class ProductRunLock(ConfigurableResource):  # type: ignore[type-arg]
    """Holds ``product_dir``'s run lock for the run's lifetime."""

    product_dir: str

    @contextlib.contextmanager
    def yield_for_execution(self, context: InitResourceContext) -> Iterator[Any]:
        # Dagster 1.13 names the run context.run; 1.9 (the image) context.dagster_run
        run = context.run if hasattr(type(context), "run") else context.dagster_run
        run_id = run.run_id if run is not None else "?"
        with build_lock(Path(self.product_dir), f"a Dagster run ({run_id[:8]})"):
            yield self

"""The dbt resource the generated definitions give their dbt assets.

dagster-dbt's ``DbtCliResource.cli`` does two things before every dbt command that a
hand-run ``dbt build`` never pays for, and that floe's definitions never use:

* it builds an in-process handle to the dbt adapter (profile, project and macro loading,
  about 4 s per product on two cores): the handle only serves
  ``invocation.stream().fetch_row_counts()`` / ``.fetch_column_metadata()``, which floe
  does not call (row counts come from the lakehouse publication, columns from the
  manifest);
* it runs ``dbt --version`` in a subprocess (about 1.5 s) to tell dbt Core from the dbt
  Fusion engine. floe runs dbt Core from the same environment, whose version is known
  in-process.

``FloeDbtCliResource`` skips both, and runs this interpreter's dbt in the running process
(on a thread, or a fork of it) rather than a fresh interpreter (``floe.runtime.dbt.launch``:
dbt is not imported again for every command). It is otherwise dagster-dbt's resource: the
same dbt command line, event stream, exit codes, asset events and errors. It covers the
private hook names of both stacks floe runs on (dagster-dbt 0.25 in the image, 0.29 in
development); the compat and image tests run the generated definitions on each.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

from dagster_dbt import DbtCliResource
from packaging import version

from floe.runtime.dbt.fork import ForkedDbt
from floe.runtime.dbt.launch import RUNNER_SWITCH, dbt_started_here
from floe.runtime.dbt.thread import DbtThread
from floe.runtime.observe import progress


def installed_dbt_version() -> version.Version:
    """dbt Core's version in this environment, without starting ``dbt --version``."""
    from dbt.version import __version__

    return version.parse(__version__)


class FloeDbtCliResource(DbtCliResource):
    """dagster-dbt's dbt resource without the adapter handle and version probe floe
    does not use (see the module docstring for why each is safe to skip)."""

    @cached_property
    def _cli_version(self) -> version.Version:  # dagster-dbt >= 0.26
        return installed_dbt_version()

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> Any:  # >= 0.26
        return None

    def _initialize_adapter(self, cli_vars: Mapping[str, Any]) -> Any:  # 0.25 (image)
        return None

    def cli(self, *args: Any, **kwargs: Any) -> Any:
        with dbt_started_here():
            invocation = super().cli(*args, **kwargs)
        if progress.sink() is not None:  # a local run shows each node as dbt finishes it
            manifest = Path(str(self.project_dir)) / "target" / "manifest.json"
            progress.watch(invocation, "", progress.node_total(manifest))
        process = invocation.process
        if isinstance(process, DbtThread):
            process.start()  # dagster-dbt is back in its own working directory now
            how = "on a thread of this process"
        elif isinstance(process, ForkedDbt):
            how = f"as pid {process.pid}, forked from this process"
        else:
            return invocation
        context = kwargs.get("context")
        log = context.log if context is not None else logging.getLogger("dagster")
        log.info(
            f"dbt runs {how} (dbt already imported; "
            f"{RUNNER_SWITCH}=subprocess starts a fresh interpreter instead)"
        )
        return invocation

"""Build ``@dbt_assets`` for a select-everything product without loading dbt's selection engine.

``@dbt_assets`` resolves its ``select``/``exclude``/``selector`` against the manifest with
dbt's graph selector whenever dbt-core is importable. For the default selection (``fqn:*``,
nothing excluded, no selector) that answer is simply every node in ``manifest.json`` — which
is what dagster-dbt itself returns when dbt-core is absent — but getting it through dbt's
selector imports networkx and ``dbt.graph`` (about 0.17 s on a two-core machine, more than
everything else the generated module does at import).

:func:`select_all_from_manifest` answers that one case from the manifest's ``nodes`` while
a ``@dbt_assets`` decorator runs, and hands every other selection to dagster-dbt unchanged.
It looks the selection function up by the names dagster-dbt has used (``select_unique_ids``
in 0.26+, ``select_unique_ids_from_manifest`` before); if neither is there, nothing is
replaced and dagster-dbt's own path runs, which is slower but gives the same assets.

Standard library only at import time, like the rest of ``floe.runtime``.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

_ASSET_UTILS = "dagster_dbt.asset_utils"
_SELECTION_FUNCTIONS = ("select_unique_ids", "select_unique_ids_from_manifest")
_LOCK = threading.RLock()  # one stand-in at a time; the original is always put back


def is_select_all(select: object, exclude: object, selector: object) -> bool:
    """Whether a dbt selection is the default one: every enabled node in the manifest."""
    return select in ("", "fqn:*", None) and not exclude and not selector


def _answer_select_all(original: Callable[..., Any]) -> Callable[..., Any]:
    def select(*args: Any, **kwargs: Any) -> Any:
        manifest = kwargs.get("manifest_json")
        if args or not isinstance(manifest, Mapping) or "nodes" not in manifest:
            return original(*args, **kwargs)
        if not is_select_all(kwargs.get("select"), kwargs.get("exclude"), kwargs.get("selector")):
            return original(*args, **kwargs)
        return set(manifest["nodes"])

    select.__wrapped__ = original  # type: ignore[attr-defined]
    return select


@contextmanager
def select_all_from_manifest() -> Iterator[str | None]:
    """While active, dagster-dbt answers a select-everything selection from the manifest.

    Yields the name of the dagster-dbt function it stands in for, or None when this
    dagster-dbt has neither known name (then nothing is changed).
    """
    try:
        asset_utils = importlib.import_module(_ASSET_UTILS)
    except ImportError:
        yield None
        return
    name = next((n for n in _SELECTION_FUNCTIONS if callable(getattr(asset_utils, n, None))), None)
    if name is None:
        yield None
        return
    with _LOCK:
        original = getattr(asset_utils, name)
        setattr(asset_utils, name, _answer_select_all(original))
        try:
            yield name
        finally:
            setattr(asset_utils, name, original)

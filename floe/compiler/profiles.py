"""dbt ``profiles.yml`` from the compute plugin (DuckDB)."""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from floe.errors import ConfigValidationError, Location
from floe.schemas.manifest import PluginSelection, ProductComputeOptions
from floe.schemas.spec import FloeSpec, ProductCompute
from floe.sources import Loaded

DEFAULT_DUCKDB_PATH = "target/demo.duckdb"
_PROFILE_KEYS = {"path", "threads", "target", "extensions"}  # the rest are DuckDB settings


def duckdb_path(compute: PluginSelection) -> str:
    """The DuckDB file, relative to the dbt project dir so it is writable in a container."""
    raw = str(compute.config.get("path", DEFAULT_DUCKDB_PATH))
    pure = PurePosixPath(raw)
    if pure.is_absolute() or ".." in pure.parts or raw.startswith("~"):
        raise ConfigValidationError(
            "compute path must stay inside the dbt project directory",
            Location(field_path="plugins.compute.config.path"),
            expected="a relative path such as target/demo.duckdb",
            found=raw,
        )
    return raw


def target_name(compute: PluginSelection) -> str:
    """The profile target: the compute plugin's ``config.target``, else its type."""
    return str(compute.config.get("target", compute.type))


def build_profiles(
    profile_name: str, compute: PluginSelection, choice: ProductCompute | None = None
) -> dict[str, Any]:
    """The profiles.yml content for one dbt project: the compute plugin's defaults, with
    what the product chose (``choice``, already checked by :func:`check_choice`)."""
    target = target_name(compute)
    output: dict[str, Any] = {
        "type": compute.type,
        "path": duckdb_path(compute),
        "threads": int(compute.config.get("threads", 1)),
    }
    extensions = list(compute.config.get("extensions", []))
    settings = {k: v for k, v in sorted(compute.config.items()) if k not in _PROFILE_KEYS}
    if choice is not None:
        if choice.threads is not None:
            output["threads"] = choice.threads
        extensions += [e for e in choice.extensions if e not in extensions]
        settings = dict(sorted({**settings, **choice.settings}.items()))
        options = getattr(compute, "product_options", None)
        defined = {a.alias: a for a in options.attach} if options else {}
        attach = [defined[alias].model_dump(exclude_none=True) for alias in choice.attach]
        if attach:
            output["attach"] = attach
        if choice.external_root:
            output["external_root"] = choice.external_root
    if extensions or "extensions" in compute.config:
        output["extensions"] = extensions
    if settings:
        output["settings"] = settings
    return {profile_name: {"target": target, "outputs": {target: output}}}


def check_choice(spec: Loaded[FloeSpec], compute: PluginSelection, manifest_path: Path) -> None:
    """ConfigValidationError at the floe.yaml field when the product asks for a compute
    option the manifest's ``product_options`` does not allow."""
    choice = spec.model.compute
    if choice is None:
        return
    options = getattr(compute, "product_options", None) or ProductComputeOptions()
    where = f"plugins.compute.product_options in {manifest_path.name}"

    def refuse(field: tuple[str | int, ...], what: str, allowed: list[str]) -> None:
        raise ConfigValidationError(
            f"compute: {what} is not allowed by the platform",
            spec.locate(("compute", *field)),
            expected=(", ".join(allowed) or "nothing (the manifest allows no choice)")
            + f" ({where})",
            found=what,
        )

    if choice.threads is not None and (
        options.max_threads is None or choice.threads > options.max_threads
    ):
        allowed = [f"threads up to {options.max_threads}"] if options.max_threads else []
        refuse(("threads",), f"threads {choice.threads}", allowed)
    for name in choice.settings:
        if name not in options.settings:
            refuse(("settings", name), f"setting {name}", options.settings)
    for index, extension in enumerate(choice.extensions):
        if extension not in options.extensions:
            refuse(("extensions", index), f"extension {extension}", options.extensions)
    aliases = [a.alias for a in options.attach]
    for index, alias in enumerate(choice.attach):
        if alias not in aliases:
            refuse(("attach", index), f"attached database {alias}", aliases)
    if choice.external_root is not None and choice.external_root not in options.external_roots:
        refuse(("external_root",), f"external_root {choice.external_root}", options.external_roots)


def render_profiles(profiles: dict[str, Any], header: str) -> str:
    return header + yaml.safe_dump(profiles, sort_keys=True, default_flow_style=False)

"""A picture of a platform's asset graph across products, as Mermaid (which code hosts
render), from each product's compiled_artifacts.json.

One subgraph per product: its models by tier, each published table (a cylinder) after
its model; an edge from a published table to each product that reads it as an input.
Deterministic: the same artifacts give the same text.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from floe.product_files import ARTIFACTS_FILE
from floe.schemas.spec import is_published

BEGIN = "<!-- floe diagram: begin (floe diagram --platform-dir demo writes it) -->"
END = "<!-- floe diagram: end -->"
TIER_CLASS = {"bronze": "bronze", "silver": "silver", "gold": "gold"}


def _artifacts(platform_dir: Path) -> list[dict[str, Any]]:
    found = []
    for path in sorted(Path(platform_dir).glob(f"*/{ARTIFACTS_FILE}")):
        found.append(json.loads(path.read_text(encoding="utf-8")))
    return found


def mermaid(platform_dir: Path) -> str:
    """The platform's asset graph as a Mermaid flowchart."""
    products = _artifacts(platform_dir)
    lines = ["flowchart LR"]
    edges: list[str] = []
    for artifacts in products:
        module = artifacts["identity"]["module_name"]
        name = artifacts["metadata"]["product_name"]
        lines.append(f'  subgraph {module}["{name}"]')
        for model in sorted(artifacts["transforms"]["models"], key=lambda m: m["name"]):
            node = f"{module}__{model['name']}"
            lines.append(f'    {node}["{model["name"]}"]:::{TIER_CLASS[model["tier"]]}')
            for dep in sorted(model.get("depends_on") or []):
                edges.append(f"  {module}__{dep} --> {node}")
            if is_published(model["tier"], model.get("publish")):
                table = f"lakehouse__{module}__{model['name']}"
                lines.append(f'    {table}[("{module}.{model["name"]}")]:::published')
                edges.append(f"  {node} --> {table}")
        lines.append("  end")
    for artifacts in products:
        module = artifacts["identity"]["module_name"]
        for item in artifacts.get("inputs") or []:
            edges.append(f"  lakehouse__{item['product_module']}__{item['table']} --> {module}")
    lines += edges
    lines += [
        "  classDef bronze fill:#f3e3d3,stroke:#a0522d",
        "  classDef silver fill:#eceff1,stroke:#78909c",
        "  classDef gold fill:#fff3c4,stroke:#b8860b",
        "  classDef published fill:#d7ecff,stroke:#1565c0",
    ]
    return "\n".join(lines) + "\n"


def readme_block(platform_dir: Path) -> str:
    """The README's diagram block, markers included."""
    return f"{BEGIN}\n```mermaid\n{mermaid(platform_dir)}```\n{END}"


def current_block(readme_text: str) -> str | None:
    """The diagram block as it stands in a README (None when it has none)."""
    start = readme_text.find(BEGIN)
    end = readme_text.find(END)
    if start < 0 or end < 0:
        return None
    return readme_text[start : end + len(END)]


def update_readme(readme: Path, platform_dir: Path) -> bool:
    """Replace the README's diagram block; whether it changed."""
    text = readme.read_text(encoding="utf-8")
    block = current_block(text)
    if block is None:
        raise ValueError(f"{readme} has no diagram block ({BEGIN} ... {END})")
    updated = text.replace(block, readme_block(platform_dir))
    if updated == text:
        return False
    from floe.compiler.writer import write_atomic

    write_atomic(readme, updated)
    return True

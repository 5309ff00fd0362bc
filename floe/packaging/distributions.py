"""Installed Python distributions, as the demo image's build and self-check see them.

Standard library only, Python 3.10: the Dockerfile runs this file as a script
(``python -I .../distributions.py``) in the base image before floe is installed, and the
container self-check imports it.

- ``replaced PREFIX``: the distributions installed under ``PREFIX`` (stage 1's
  ``pip install --prefix``) that the running environment (the base image) already has at
  another version.  The image's final stage uninstalls exactly these before it copies
  ``PREFIX`` over ``/usr/local``, so no distribution is left with two versions' metadata.
- ``check``: every distribution on ``sys.path`` is installed once (exit 1 and the names
  otherwise).
"""

from __future__ import annotations

import argparse
import re
import sys
import sysconfig
from collections.abc import Iterable, Sequence
from importlib import metadata
from pathlib import Path


def normalize(name: str) -> str:
    """PEP 503 normalized distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def installed(paths: Sequence[str] | None = None) -> dict[str, list[tuple[str, str]]]:
    """normalized name -> [(version, metadata directory)] for every distribution found
    on ``paths`` (default: ``sys.path``), in path order."""
    found: dict[str, list[tuple[str, str]]] = {}
    search = list(dict.fromkeys(sys.path if paths is None else paths))  # each entry once
    for dist in metadata.distributions(path=search):
        name = dist.metadata["Name"]
        if not name:  # a metadata directory without a name: not a distribution
            continue
        where = str(getattr(dist, "_path", "?"))
        found.setdefault(normalize(name), []).append((dist.version, where))
    return found


def duplicates(paths: Sequence[str] | None = None) -> dict[str, list[tuple[str, str]]]:
    """Distributions with more than one metadata directory on ``paths``."""
    return {name: found for name, found in installed(paths).items() if len(found) > 1}


def prefix_site_packages(prefix: Path) -> list[str]:
    """purelib and platlib of an installation prefix (``pip install --prefix``)."""
    variables = {"base": str(prefix), "platbase": str(prefix)}
    paths = {sysconfig.get_path(kind, vars=variables) for kind in ("purelib", "platlib")}
    return sorted(paths)


def replaced(prefix: Path, base_paths: Iterable[str] | None = None) -> list[tuple[str, str, str]]:
    """(name, base version, new version) for each distribution under ``prefix`` that the
    base environment has at a different version, sorted by name."""
    new = installed(prefix_site_packages(prefix))
    inside = set(prefix_site_packages(prefix))
    base_search = [p for p in (sys.path if base_paths is None else base_paths) if p not in inside]
    base = installed(base_search)
    out = []
    for name, versions in sorted(new.items()):
        new_version = versions[0][0]
        for old_version, _where in base.get(name, []):
            if old_version != new_version:
                out.append((name, old_version, new_version))
                break
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="distributions", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    rep = sub.add_parser("replaced", help="names under PREFIX the base has at another version")
    rep.add_argument("prefix", type=Path)
    sub.add_parser("check", help="fail if a distribution is installed twice")
    args = parser.parse_args(argv)
    if args.command == "replaced":
        changes = replaced(args.prefix)
        for name, old, new in changes:
            print(name)
            print(f"replacing the base's {name} {old} with {new}", file=sys.stderr)
        if not changes:
            print("no distribution of the base is replaced", file=sys.stderr)
        return 0
    twice = duplicates()
    for name, found in sorted(twice.items()):
        listed = ", ".join(f"{version} ({where})" for version, where in found)
        print(f"{name} is installed {len(found)} times: {listed}", file=sys.stderr)
    if not twice:
        print(f"every distribution is installed once ({len(installed())} distributions)")
    return 1 if twice else 0


if __name__ == "__main__":
    sys.exit(main())

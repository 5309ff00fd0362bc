"""floe's nox sessions: they replace a Makefile.

`nox -l` lists them; `nox -s NAME -- ARGS` passes ARGS on.  Each session is one line
here; its body lives in sessions/ where it can be read and tested.

First run on a fresh machine:   nox -s run_demo   (the local demo, no Docker needed)
Tests:                          nox -s tests
Production-like (Docker, kind, helm, kubectl): nox -s demo   (-- --dry-run to preview)
"""

from __future__ import annotations

import sys
from pathlib import Path

import nox

sys.path.insert(0, str(Path(__file__).parent))

from sessions import audit as audit_body
from sessions import compat, demo_local, deploy, quality
from sessions import e2e as e2e_body
from sessions.config import PYTHON

nox.needs_version = ">=2025.2.9"
nox.options.sessions = ["tests", "lint"]
nox.options.error_on_missing_interpreters = True


@nox.session(python=PYTHON, requires=["definitions_compat(image)"])
def tests(session: nox.Session) -> None:
    """Run the test suite (unit, contract, integration, chart, compat; not the live e2e)."""
    quality.tests(session)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff and mypy on floe/ and sessions/."""
    quality.lint(session)


@nox.session
@nox.parametrize("python,stack", compat.PARAMS, ids=list(compat.STACKS))
def definitions_compat(session: nox.Session, stack: str) -> None:
    """Generate, import and run the demo definitions on one dagster stack (pinned|image)."""
    compat.definitions_compat(session, stack)


@nox.session(python=PYTHON)
def compile_demo(session: nox.Session) -> None:
    """Validate, dbt compile and generate definitions for every product under demo/."""
    demo_local.compile_demo(session)


@nox.session(python=PYTHON)
def run_demo(session: nox.Session) -> None:
    """The local demo: compile, then materialize every asset in-process on DuckDB."""
    demo_local.run_demo(session)


@nox.session(python=PYTHON)
def dev(session: nox.Session) -> None:
    """Start the Dagster UI on 127.0.0.1:3000 with one code location per demo product."""
    demo_local.dev(session)


@nox.session(python=PYTHON, requires=["compile_demo"])
def build_demo_image(session: nox.Session) -> None:
    """Build the demo image (python-on-whales) and load it into the kind cluster."""
    deploy.build_demo_image(session)


@nox.session(python=PYTHON, requires=["build_demo_image"])
def demo(session: nox.Session) -> None:
    """helm upgrade --install the platform into kind and wait until it is ready."""
    deploy.demo(session)


@nox.session(python=PYTHON, requires=["compile_demo"])
def image_smoke(session: nox.Session) -> None:
    """Build the demo image on a real Docker engine and prove it inside containers."""
    deploy.image_smoke(session)


@nox.session(python=PYTHON)
def demo_down(session: nox.Session) -> None:
    """Uninstall the Helm release (add -- --delete-cluster to delete the kind cluster)."""
    deploy.demo_down(session)


@nox.session(python=PYTHON)
def audit(session: nox.Session) -> None:
    """pip-audit (project + image pins) and detect-secrets against .secrets.baseline."""
    audit_body.audit(session)


@nox.session(python=PYTHON)
def e2e(session: nox.Session) -> None:
    """The live suite against `nox -s demo`'s deployment (-- --repeat 3 for flakiness)."""
    e2e_body.e2e(session)

"""``nox -s image_smoke``: build the demo image on a real engine and prove it in containers.

1. The base: the Dockerfile's ``BASE_IMAGE`` (or ``--base-image``) if the engine has it
   or can pull it; otherwise a local stand-in built from docker/base-standin/, and the
   output says so (and how the stand-in differs) at the start and in the summary.
2. The image, built with the host's pip settings (floe.packaging.image).
3. Inside a container, offline (``--network none``), as the image's own non-root user:
   every code location loads, every product materializes, every gold mart has rows and
   is published, and the run's lineage and spans (with their facets) are written.
4. As another uid (4242): every generated file is readable.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from floe.errors import FloeError
from floe.packaging import image as image_build
from floe.packaging.base_stack import compare_pins
from floe.packaging.context import context_digest, context_files
from floe.packaging.standin import DIFFERENCES, build_standin

ROOT = Path(__file__).resolve().parents[2]
REPOSITORY = "floe-dagster-demo"
RUN_USER = "10001"
OTHER_UID = "4242:4242"
PULL_TIMEOUT_S = 180


class SmokeFailed(FloeError):
    code = "FLOE802"
    exit_code = 6


@dataclass
class Outcome:
    base: str
    standin: bool
    tag: str = ""
    checks: list[dict[str, Any]] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def failed(self) -> list[dict[str, Any]]:
        return [c for c in self.checks if not c.get("ok")]


def _has_image(name: str) -> bool:
    from python_on_whales import docker

    return bool(docker.image.exists(name))


def pull(name: str, timeout_s: float = PULL_TIMEOUT_S) -> str | None:
    """None when pulled, else why not (a registry that is unreachable or refuses)."""
    try:
        done = subprocess.run(
            ["docker", "pull", name], capture_output=True, text=True, timeout=timeout_s
        )
    except subprocess.TimeoutExpired:
        return f"docker pull gave no answer in {timeout_s:.0f} s"
    if done.returncode == 0:
        return None
    return (done.stderr or done.stdout).strip().splitlines()[-1:][0] if done.stderr else "failed"


def resolve_base(
    wanted: str,
    python310: str | None,
    settings: image_build.PipSettings,
    echo: Callable[[str], None],
) -> tuple[str, bool]:
    """(image to build on, whether it is the stand-in)."""
    if _has_image(wanted):
        echo(f"base image: {wanted} (present in the engine)")
        return wanted, False
    echo(f"base image: {wanted} is not in the engine; trying docker pull")
    why = pull(wanted)
    if why is None:
        echo(f"base image: pulled {wanted}")
        return wanted, False
    echo(
        f"!! base image {wanted} cannot be pulled ({why}).\n"
        f"!! Building on a LOCAL STAND-IN instead, from docker/base-standin/: {DIFFERENCES}\n"
        "!! The real base is what a cluster runs; rerun where it can be pulled, or pass "
        "--base-image with your registry's mirror."
    )
    return build_standin(wanted, python310, settings, echo=echo), True


def run_checks(tag: str, echo: Callable[[str], None]) -> list[dict[str, Any]]:
    from python_on_whales import DockerException, docker

    results: list[dict[str, Any]] = []
    for user, extra, what in (
        (None, [], f"as the image's user ({RUN_USER}), --network none"),
        (OTHER_UID, ["--read-only"], f"as uid {OTHER_UID} (not the files' owner)"),
    ):
        echo(f"container: floe.packaging.container_check {what}")
        try:
            out = docker.run(
                tag,
                ["python", "-m", "floe.packaging.container_check", *extra],
                networks=["none"],
                user=user,
                remove=True,
            )
            text = str(out)
        except DockerException as exc:
            text = exc.stdout or ""
            if not text.strip():
                results.append(
                    {"check": "container ran", "product": "-", "ok": False, "detail": exc.stderr}
                )
        for line in text.splitlines():
            if line.startswith("{"):
                result = json.loads(line)
                results.append(result)
                mark = "ok  " if result["ok"] else "FAIL"
                echo(f"  {mark} {result['product']}: {result['check']}: {result['detail']}")
    image = docker.image.inspect(tag)
    results.append(
        {
            "check": "image runs as non-root 10001",
            "product": "-",
            "ok": image.config.user == RUN_USER,
            "detail": f"USER {image.config.user!r}",
        }
    )
    return results


def smoke(base: str | None, python310: str | None, echo: Callable[[str], None] = print) -> Outcome:
    from python_on_whales import docker

    engine = image_build.require_engine()
    echo(f"engine: Docker {engine}")
    settings = image_build.host_pip_settings()
    echo(f"pip settings for the build: {settings.describe()}")
    started = time.monotonic()
    wanted = base or image_build.base_image()
    used, standin = resolve_base(wanted, python310, settings, echo)
    outcome = Outcome(base=used, standin=standin)
    outcome.timings["base"] = time.monotonic() - started
    outcome.tag = f"{REPOSITORY}:smoke-{context_digest(ROOT, context_files(ROOT))[:12]}"
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="floe-image-") as tmp:
        context = image_build.stage_context(ROOT, Path(tmp), settings)
        echo(f"building {outcome.tag} on {used}")
        image_build.build(context, [outcome.tag], build_args={"BASE_IMAGE": used}, echo=echo)
    outcome.timings["build"] = time.monotonic() - started
    size = docker.image.inspect(outcome.tag).size
    echo(f"image {outcome.tag}: {size / 1e6:.0f} MB")
    started = time.monotonic()
    outcome.checks = run_checks(outcome.tag, echo)
    outcome.timings["checks"] = time.monotonic() - started
    return outcome


def summary(outcome: Outcome) -> str:
    passed = len(outcome.checks) - len(outcome.failed)
    lines = [
        f"image_smoke: {passed} passed, {len(outcome.failed)} failed "
        f"(image {outcome.tag}; base {outcome.base})",
        "timings: " + ", ".join(f"{k} {v:.0f} s" for k, v in outcome.timings.items()),
    ]
    replaced = compare_pins().overridden
    lines.append(
        "image replaces base packages: "
        + (", ".join(f"{n} {old} -> {new}" for n, (old, new) in replaced.items()) or "none")
        + " (floe/packaging/base_stack.py OVERRIDES says why)"
    )
    if outcome.standin:
        lines.append(
            "NOTE: built on a local STAND-IN of the base image, not the real one: " + DIFFERENCES
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m floe.packaging.smoke", description=__doc__)
    parser.add_argument("--base-image", help="build on this image instead of BASE_IMAGE")
    parser.add_argument("--python310", help="CPython 3.10 for a stand-in base")
    args = parser.parse_args(argv)
    try:
        outcome = smoke(args.base_image, args.python310)
        print(summary(outcome))
        if outcome.failed:
            raise SmokeFailed(
                f"{len(outcome.failed)} image check(s) failed",
                details=[f"{c['product']}: {c['check']}: {c['detail']}" for c in outcome.failed],
            )
    except FloeError as error:
        print(str(error), file=sys.stderr)
        return error.exit_code
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

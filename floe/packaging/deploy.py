"""The production-like path: image -> kind -> Helm -> readiness (`nox -s build_demo_image`,
`nox -s demo`, `nox -s demo_down`).

Each step is a :class:`Step` with the exact command it runs, so ``--dry-run`` prints what
a real run would do.  The prerequisites of the whole chain (docker engine, kind, helm,
kubectl; buildx or else Docker's classic builder) are checked before its first side
effect; what is missing is named with how to get it.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from floe.errors import FloeError, PrerequisiteError
from floe.packaging.context import context_digest, context_files
from floe.packaging.layout import code_locations

ROOT = Path(__file__).resolve().parents[2]
CLUSTER = "floe"
NAMESPACE = "floe"
RELEASE = "floe-platform"
IMAGE_REPOSITORY = "floe-dagster-demo"
DOCKERFILE = Path("docker/dagster-demo/Dockerfile")
KIND_CONFIG = Path("docker/kind/cluster.yaml")
CHART = Path("helm/floe-platform")
VALUES = {"demo": CHART / "values-demo.yaml", "test": CHART / "values-test.yaml"}
HELM_TIMEOUT = "15m"
READY_TIMEOUT_S = 600

# Everything the chain build_demo_image -> demo needs: checked in full before the kind
# cluster is created or an image is built, so no run stops half-way for a missing tool.
CHAIN_TOOLS = ("docker", "kind", "helm", "kubectl")
INSTALL_HINTS = {
    "docker": "install Docker Engine (https://docs.docker.com/engine/install/) and start it",
    "kind": "go install sigs.k8s.io/kind@v0.29.0, or see https://kind.sigs.k8s.io/docs/user/quick-start/",
    "helm": "install Helm 3.14+ or 4 (https://helm.sh/docs/intro/install/)",
    "kubectl": "install kubectl (https://kubernetes.io/docs/tasks/tools/)",
}
# How to ask each tool for its version; docker asks the engine, not only the client.
VERSION_COMMANDS = {
    "docker": ["docker", "info", "--format", "{{.ServerVersion}}"],
    "kind": ["kind", "version"],
    "helm": ["helm", "version", "--short"],
    "kubectl": ["kubectl", "version", "--client", "--output=json"],
}

Runner = Callable[..., subprocess.CompletedProcess[str]]


@dataclass(frozen=True)
class Step:
    description: str
    argv: list[str]
    check: bool = True

    def shell(self) -> str:
        return shlex.join(self.argv)


@dataclass
class Plan:
    steps: list[Step] = field(default_factory=list)

    def add(self, description: str, *argv: str, check: bool = True) -> None:
        self.steps.append(Step(description, list(argv), check))


def _run(
    argv: Sequence[str], runner: Runner, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return runner(list(argv), capture_output=True, text=True, timeout=timeout, check=False)


def check_prerequisites(
    tools: Sequence[str],
    *,
    which: Callable[[str], str | None] = shutil.which,
    runner: Runner = subprocess.run,
) -> dict[str, str]:
    """Each tool's version; raises PrerequisiteError naming every missing one."""
    versions: dict[str, str] = {}
    problems: list[str] = []
    for tool in tools:
        if which(tool) is None:
            problems.append(f"{tool}: not found on PATH; {INSTALL_HINTS[tool]}")
            continue
        try:
            done = _run(VERSION_COMMANDS[tool], runner)
        except (OSError, subprocess.TimeoutExpired) as exc:
            problems.append(f"{tool}: cannot run ({exc}); {INSTALL_HINTS[tool]}")
            continue
        if done.returncode != 0:
            detail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            what = "the Docker engine is not reachable" if tool == "docker" else "failed"
            problems.append(f"{tool}: {what} ({detail[0]}); {INSTALL_HINTS[tool]}")
            continue
        versions[tool] = done.stdout.strip()
    if problems:
        names = ", ".join(p.split(":")[0] for p in problems)
        raise PrerequisiteError(
            f"missing prerequisites for this session: {names}",
            details=problems,
            hint="or run the local demo instead: nox -s run_demo (no Docker or cluster needed)",
        )
    return versions


def helm_major(version_text: str) -> int:
    match = re.search(r"v?(\d+)\.\d+", version_text)
    if not match:
        raise PrerequisiteError(f"cannot read the Helm version from {version_text!r}")
    return int(match.group(1))


def rollback_flag(version_text: str) -> str:
    """Helm 4 renamed --atomic to --rollback-on-failure."""
    return "--rollback-on-failure" if helm_major(version_text) >= 4 else "--atomic"


def image_tag(root: Path = ROOT) -> str:
    """A tag from the build context's content: it changes when the image's input does."""
    return context_digest(root, context_files(root))[:12]


def native_platform() -> str:
    machine = platform.machine().lower()
    return "linux/arm64" if machine in {"arm64", "aarch64"} else "linux/amd64"


def build_argv(tags: Sequence[str], buildx: bool, base: str | None = None) -> list[str]:
    """The image build as a command: buildx, or the classic builder without it."""
    tag_args = [arg for t in tags for arg in ("--tag", t)]
    base_args = ["--build-arg", f"BASE_IMAGE={base}"] if base else []
    if buildx:
        head = ["docker", "buildx", "build", "--platform", native_platform(), "--load"]
    else:
        head = ["docker", "build"]
    return [*head, "--file", str(DOCKERFILE), "--network", "host", *base_args, *tag_args, "."]


def build_plan(
    tag: str, cluster_exists: bool, buildx: bool = True, base: str | None = None
) -> Plan:
    image = f"{IMAGE_REPOSITORY}:{tag}"
    plan = Plan()
    if not cluster_exists:
        plan.add(
            "create the kind cluster (it must exist before an image can be loaded)",
            "kind",
            "create",
            "cluster",
            "--name",
            CLUSTER,
            "--config",
            str(KIND_CONFIG),
            "--wait",
            "120s",
        )
    builder = "buildx" if buildx else "Docker's classic builder (no buildx plugin)"
    plan.add(
        f"build the demo image for this machine's platform (python-on-whales, {builder}; "
        "context: a copy of . with this host's pip settings)",
        *build_argv([image, f"{IMAGE_REPOSITORY}:latest"], buildx, base),
    )
    plan.add(
        "load the image into the kind cluster's node",
        "kind",
        "load",
        "docker-image",
        image,
        f"{IMAGE_REPOSITORY}:latest",
        "--name",
        CLUSTER,
    )
    return plan


def chart_values(values: str) -> dict[str, Any]:
    """values.yaml with the ``values`` file (demo, test) laid over it, as Helm merges them."""
    import yaml

    def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
        out = dict(base)
        for key, value in over.items():
            both = isinstance(value, dict) and isinstance(out.get(key), dict)
            out[key] = merge(out[key], value) if both else value
        return out

    base = yaml.safe_load((ROOT / CHART / "values.yaml").read_text()) or {}
    return merge(base, yaml.safe_load((ROOT / VALUES[values]).read_text()) or {})


CODE_SERVER_PORT = 3030


def user_deployments(demo_dir: Path, values: str, tag: str) -> list[dict[str, Any]]:
    """One Dagster user deployment per product (issue 27 point 4): ``dagster api grpc``
    serving the product's definitions from the image, with the daemon's image, env and
    Secret mounts (the values file's dagsterDaemon block, the one place they are said)
    and the run pods' non-root security context; runs it launches inherit them."""
    dagster = chart_values(values)["dagster"]
    daemon = dagster["dagsterDaemon"]
    run_k8s = dagster["runLauncher"]["config"]["k8sRunLauncher"].get("runK8sConfig", {})
    env = daemon.get("env") or {}
    out = []
    for location in code_locations(demo_dir):
        deployment: dict[str, Any] = {
            "name": location.location_name,
            "image": {**daemon["image"], "tag": tag},
            "dagsterApiGrpcArgs": [
                "--module-name",
                location.module,
                "--working-directory",
                location.working_directory,
                "--attribute",
                location.attribute,
            ],
            "port": CODE_SERVER_PORT,
            "env": [{"name": k, "value": str(v)} for k, v in sorted(env.items())],
            "volumes": daemon.get("volumes", []),
            "volumeMounts": daemon.get("volumeMounts", []),
            "includeConfigInLaunchedRuns": {"enabled": True},
        }
        if run_k8s.get("podSpecConfig", {}).get("securityContext"):
            deployment["podSecurityContext"] = run_k8s["podSpecConfig"]["securityContext"]
        if run_k8s.get("containerConfig", {}).get("securityContext"):
            deployment["securityContext"] = run_k8s["containerConfig"]["securityContext"]
        out.append(deployment)
    return out


PRODUCT_TAG = "floe/product"  # the tag every generated job carries (one run per product)
QUEUE = "dagster.dagsterDaemon.runCoordinator.config.queuedRunCoordinator"


def run_queue_values(manifest_path: Path) -> dict[str, object]:
    """The run queue's limits from manifest.yaml (plugins.orchestrator.runs), as the
    Dagster chart's queuedRunCoordinator config."""
    from floe.compiler.loader import load_manifest

    runs = load_manifest(manifest_path).model.plugins.orchestrator.runs
    return {
        "maxConcurrentRuns": runs.max_concurrent_runs,
        "tagConcurrencyLimits": [
            {
                "key": PRODUCT_TAG,
                "value": {"applyLimitPerUniqueValue": True},
                "limit": runs.per_product_concurrency,
            }
        ],
    }


def deploy_plan(tag: str, values: str, helm_version: str, demo_dir: Path = ROOT / "demo") -> Plan:
    plan = Plan()
    plan.add(
        "fetch the chart's pinned dependencies (Dagster)", "helm", "dependency", "build", str(CHART)
    )
    image_set = [
        f"dagster.dagsterWebserver.image.tag={tag}",
        f"dagster.dagsterDaemon.image.tag={tag}",
        f"dagster.runLauncher.config.k8sRunLauncher.image.tag={tag}",
    ]
    queue = run_queue_values(demo_dir / "manifest.yaml")
    plan.add(
        "install or upgrade the platform and wait for it (bootstrap hooks included)",
        "helm",
        "upgrade",
        "--install",
        RELEASE,
        str(CHART),
        "--namespace",
        NAMESPACE,
        "--create-namespace",
        "--values",
        str(VALUES[values]),
        *[arg for item in image_set for arg in ("--set", item)],
        "--set-json",
        "dagster.dagster-user-deployments.deployments="
        + json.dumps(user_deployments(demo_dir, values, tag), sort_keys=True),
        *[
            arg
            for key, value in queue.items()
            for arg in ("--set-json", f"{QUEUE}.{key}={json.dumps(value)}")
        ],
        "--wait",
        "--timeout",
        HELM_TIMEOUT,
        rollback_flag(helm_version),
    )
    return plan


def down_plan(delete_cluster: bool) -> Plan:
    plan = Plan()
    plan.add(
        "uninstall the release", "helm", "uninstall", RELEASE, "--namespace", NAMESPACE, check=False
    )
    if delete_cluster:
        plan.add("delete the kind cluster", "kind", "delete", "cluster", "--name", CLUSTER)
    return plan


def execute(
    plan: Plan,
    *,
    dry_run: bool,
    echo: Callable[[str], None] = print,
    runner: Runner = subprocess.run,
) -> None:
    for index, step in enumerate(plan.steps, 1):
        echo(f"[{index}/{len(plan.steps)}] {step.description}\n    $ {step.shell()}")
        if dry_run:
            continue
        if step.argv[0] == "docker" and "--file" in step.argv:
            _docker_build(step, echo)
            continue
        done = runner(step.argv, cwd=ROOT, check=False, text=True)
        if done.returncode != 0 and step.check:
            raise FloeError(
                f"step failed ({step.description}): exit {done.returncode}: {step.shell()}"
            )


def _docker_build(step: Step, echo: Callable[[str], None]) -> None:
    """The plan's build step through python-on-whales, on a staged copy of the context."""
    import tempfile

    from floe.packaging import image

    argv = step.argv
    tags = [argv[i + 1] for i, a in enumerate(argv) if a == "--tag"]
    build_args = dict(argv[i + 1].split("=", 1) for i, a in enumerate(argv) if a == "--build-arg")
    platform_arg = argv[argv.index("--platform") + 1] if "--platform" in argv else None
    settings = image.host_pip_settings()
    echo(f"    pip settings for the build: {settings.describe()}")
    with tempfile.TemporaryDirectory(prefix="floe-image-") as tmp:
        context = image.stage_context(ROOT, Path(tmp), settings)
        image.build(context, tags, build_args=build_args, platform=platform_arg, echo=echo)


def kind_cluster_exists(runner: Runner = subprocess.run) -> bool:
    done = _run(["kind", "get", "clusters"], runner)
    return CLUSTER in done.stdout.split()


# ---------------------------------------------------------------- readiness (AC-10.7)

WORKSPACE_QUERY = (
    "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus "
    "locationOrLoadError { __typename ... on PythonError { message } } } } } }"
)


def readiness_checks(demo_dir: Path) -> list[Step]:
    """What must be true before e2e tests start (bucket, catalog, code locations)."""
    kubectl = ["kubectl", "--namespace", NAMESPACE]
    locations = [c.location_name for c in code_locations(demo_dir)]
    probe = (
        "import json,sys,urllib.request as u;"
        f"q={json.dumps({'query': WORKSPACE_QUERY})!r};"
        "r=u.urlopen(u.Request('http://localhost:80/graphql',q.encode(),"
        "{'Content-Type':'application/json'}),timeout=10);"
        "e=json.load(r)['data']['workspaceOrError']['locationEntries'];"
        "ok=sorted(x['name'] for x in e"
        " if x['locationOrLoadError']['__typename']=='RepositoryLocation');"
        f"sys.exit(0 if ok=={sorted(locations)!r} else print(e) or 1)"
    )
    return [
        Step(
            "MinIO bucket created",
            [
                *kubectl,
                "wait",
                "--for=condition=complete",
                f"job/{RELEASE}-minio-bucket",
                "--timeout=10s",
            ],
        ),
        Step(
            "Polaris catalog created",
            [
                *kubectl,
                "wait",
                "--for=condition=complete",
                f"job/{RELEASE}-polaris-catalog",
                "--timeout=10s",
            ],
        ),
        Step(
            "Polaris ready",
            [*kubectl, "rollout", "status", f"deployment/{RELEASE}-polaris", "--timeout=10s"],
        ),
        Step(
            "Marquez ready",
            [*kubectl, "rollout", "status", f"deployment/{RELEASE}-marquez", "--timeout=10s"],
        ),
        Step(
            f"Dagster code locations loaded: {', '.join(locations)}",
            [
                *kubectl,
                "exec",
                f"deployment/{RELEASE}-dagster-webserver",
                "--",
                "python",
                "-c",
                probe,
            ],
        ),
    ]


def wait_ready(
    checks: list[Step],
    *,
    timeout_s: float = READY_TIMEOUT_S,
    echo: Callable[[str], None] = print,
    runner: Runner = subprocess.run,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Retry every check until all pass or the timeout ends; then say what is not ready."""
    deadline = clock() + timeout_s
    pending = list(checks)
    last: dict[str, str] = {}
    while pending:
        still = []
        for check in pending:
            done = _run(check.argv, runner)
            if done.returncode == 0:
                echo(f"ready: {check.description}")
            else:
                still.append(check)
                last[check.description] = (done.stderr or done.stdout).strip()[-300:]
        pending = still
        if pending and clock() >= deadline:
            raise FloeError(
                f"not ready after {timeout_s:.0f}s: {', '.join(c.description for c in pending)}",
                details=[f"{c.description}: {last.get(c.description, '')}" for c in pending],
            )
        if pending:
            sleep(5)


# ---------------------------------------------------------------- e2e preflight


def preflight(runner: Runner = subprocess.run) -> None:
    """What `nox -s e2e` needs before any test: tools, a reachable cluster, the release."""
    check_prerequisites(["kubectl", "helm"], runner=runner)
    problems = []
    cluster = _run(["kubectl", "get", "--raw", "/readyz"], runner, timeout=20)
    if cluster.returncode != 0:
        problems.append(
            "no Kubernetes cluster is reachable with the current kubectl context "
            f"({(cluster.stderr or cluster.stdout).strip()[:200]}); create it with "
            "`nox -s build_demo_image` (kind cluster 'floe')"
        )
    else:
        release = _run(["helm", "status", RELEASE, "--namespace", NAMESPACE], runner, timeout=30)
        if release.returncode != 0:
            problems.append(
                f"Helm release {RELEASE} is not installed in namespace {NAMESPACE}; "
                "deploy it with `nox -s demo`"
            )
    if problems:
        raise PrerequisiteError(
            "the e2e tests need a live deployment",
            details=problems,
            hint="nox -s demo builds the image, creates the kind cluster and installs the chart",
        )


# ---------------------------------------------------------------- entry point


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m floe.packaging.deploy", description=__doc__)
    parser.add_argument("action", choices=["build", "deploy", "down", "preflight"])
    parser.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    parser.add_argument("--values", choices=sorted(VALUES), default="demo")
    parser.add_argument("--delete-cluster", action="store_true", help="down: also delete kind")
    parser.add_argument(
        "--base-image", help="build: the base image instead of the Dockerfile's BASE_IMAGE"
    )
    args = parser.parse_args(argv)
    try:
        if args.action == "preflight":
            preflight()
            print(f"preflight ok: cluster reachable, release {RELEASE} installed")
            return 0
        tools = {
            "build": list(CHAIN_TOOLS),
            "deploy": list(CHAIN_TOOLS),
            "down": ["helm", "kind"] if args.delete_cluster else ["helm"],
        }[args.action]
        if args.dry_run:
            versions = {"helm": "v4.0.0 (dry run assumes Helm 4)"}
            try:
                versions.update(check_prerequisites(tools))
            except PrerequisiteError as missing:
                print(f"note (dry run continues): {missing}")
        else:
            versions = check_prerequisites(tools)
        tag = image_tag()
        if args.action == "build":
            from floe.packaging.image import has_buildx

            exists = not args.dry_run and kind_cluster_exists()
            plan = build_plan(tag, exists, buildx=has_buildx(), base=args.base_image)
            execute(plan, dry_run=args.dry_run)
        elif args.action == "deploy":
            execute(deploy_plan(tag, args.values, versions["helm"]), dry_run=args.dry_run)
            checks = readiness_checks(ROOT / "demo")
            if args.dry_run:
                for check in checks:
                    print(f"[ready?] {check.description}\n    $ {check.shell()}")
            else:
                wait_ready(checks)
        else:
            execute(down_plan(args.delete_cluster), dry_run=args.dry_run)
    except FloeError as error:
        print(str(error), file=sys.stderr)
        return error.exit_code
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

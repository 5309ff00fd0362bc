"""build_demo_image / demo / demo_down up to the boundary: prerequisites, plans, dry-run,
readiness reporting (AC-10.7, AC-11.6).  Real Docker, kind and Helm are not on this
machine; these tests run the real code with PATHs that hold exactly the tools a case needs.
"""

from __future__ import annotations

import json
import stat
import subprocess
from pathlib import Path

import pytest

from floe.errors import FloeError, PrerequisiteError
from floe.packaging import deploy
from floe.packaging.deploy import Step, build_plan, deploy_plan, rollback_flag, wait_ready
from tests.conftest import DEMO, run_python


def _tool(bin_dir: Path, name: str, script: str) -> None:
    path = bin_dir / name
    path.write_text(f"#!/bin/sh\n{script}\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


def _run_deploy(args: list[str], bin_dir: Path) -> subprocess.CompletedProcess[str]:
    return run_python("-m", "floe.packaging.deploy", *args, PATH=str(bin_dir))


def test_ac_11_6_build_fails_fast_naming_every_missing_tool_of_the_chain(tmp_path: Path) -> None:
    done = _run_deploy(["build"], tmp_path)
    assert done.returncode == PrerequisiteError.exit_code
    assert "missing prerequisites for this session: docker, kind, helm, kubectl" in done.stderr
    assert "install Docker Engine" in done.stderr and "kind.sigs.k8s.io" in done.stderr
    assert "Traceback" not in done.stderr


def test_issue_12_no_side_effect_before_the_whole_chain_is_checked(tmp_path: Path) -> None:
    """docker, kind and kubectl are there but helm is not: the build step stops with exit
    8 naming helm before it creates the kind cluster or builds anything."""
    calls = tmp_path / "calls.log"
    _tool(tmp_path, "docker", f'echo "docker $*" >> {calls}; echo 20.10.24')
    _tool(tmp_path, "kind", f'echo "kind $*" >> {calls}; echo kind v0.29.0')
    _tool(tmp_path, "kubectl", f'echo "kubectl $*" >> {calls}; echo "{{}}"')
    done = _run_deploy(["build"], tmp_path)
    assert done.returncode == 8, done.stdout + done.stderr
    assert "missing prerequisites for this session: helm" in done.stderr
    assert "helm.sh" in done.stderr
    made = calls.read_text().splitlines()
    assert not [c for c in made if c.startswith(("kind create", "docker build", "docker buildx"))]


def test_docker_client_without_engine_is_reported_as_engine_unreachable(tmp_path: Path) -> None:
    _tool(tmp_path, "docker", 'echo "Cannot connect to the Docker daemon" >&2; exit 1')
    _tool(tmp_path, "kind", "echo kind v0.29.0")
    _tool(tmp_path, "helm", "echo v3.16.0")
    _tool(tmp_path, "kubectl", 'echo "{}"')
    done = _run_deploy(["build"], tmp_path)
    assert done.returncode == 8
    assert (
        "docker: the Docker engine is not reachable (Cannot connect to the Docker daemon)"
        in done.stderr
    )
    assert "kind:" not in done.stderr


def test_deploy_checks_the_whole_chain(tmp_path: Path) -> None:
    _tool(tmp_path, "kind", "echo kind v0.29.0")
    done = _run_deploy(["deploy"], tmp_path)
    assert done.returncode == 8
    assert "missing prerequisites for this session: docker, helm, kubectl" in done.stderr


def test_dry_run_prints_the_exact_commands_without_tools(tmp_path: Path) -> None:
    done = _run_deploy(["deploy", "--dry-run"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "$ helm dependency build helm/floe-platform" in done.stdout
    upgrade = next(line for line in done.stdout.splitlines() if "helm upgrade" in line)
    assert "--install floe-platform helm/floe-platform --namespace floe" in upgrade
    assert "--values helm/floe-platform/values-demo.yaml" in upgrade
    assert "--wait" in upgrade and "--rollback-on-failure" in upgrade
    assert f"dagster.dagsterWebserver.image.tag={deploy.image_tag()}" in upgrade
    assert (
        "kubectl --namespace floe wait --for=condition=complete job/floe-platform-minio-bucket"
        in done.stdout
    )


def test_build_dry_run_creates_cluster_before_loading(tmp_path: Path) -> None:
    done = _run_deploy(["build", "--dry-run"], tmp_path)
    assert done.returncode == 0, done.stderr
    lines = [line.strip() for line in done.stdout.splitlines() if line.strip().startswith("$ ")]
    assert lines[0].startswith(
        "$ kind create cluster --name floe --config docker/kind/cluster.yaml"
    )
    # no docker on PATH, so no buildx: the plan shows the classic builder it would use
    assert lines[1].startswith(
        "$ docker build --file docker/dagster-demo/Dockerfile --network host --tag "
    )
    assert lines[2].startswith("$ kind load docker-image floe-dagster-demo:")


@pytest.mark.parametrize("buildx", [True, False])
def test_issue_12_build_uses_buildx_or_the_classic_builder(buildx: bool) -> None:
    argv = deploy.build_argv(["floe-dagster-demo:x"], buildx, base="mirror.example/dagster:1.9.6")
    assert argv[:3] == (["docker", "buildx", "build"] if buildx else ["docker", "build", "--file"])
    assert ("--load" in argv) is buildx
    assert ("--platform" in argv) is buildx
    joined = " ".join(argv)
    assert "--build-arg BASE_IMAGE=mirror.example/dagster:1.9.6" in joined
    assert "--network host" in joined and argv[-1] == "."


def test_build_plan_skips_create_when_the_cluster_exists() -> None:
    plan = build_plan("abc123", cluster_exists=True)
    assert [s.argv[:2] for s in plan.steps] == [["docker", "buildx"], ["kind", "load"]]
    build = plan.steps[0].argv
    assert build[build.index("--platform") + 1] in {"linux/amd64", "linux/arm64"}  # BC-11.1
    assert "floe-dagster-demo:abc123" in build and "floe-dagster-demo:latest" in build


@pytest.mark.parametrize(
    ("version", "flag"),
    [
        ("v3.16.2+g13654a5", "--atomic"),
        ("v4.0.1+gabc", "--rollback-on-failure"),
        ('version.BuildInfo{Version:"v3.14.0"}', "--atomic"),
    ],
)
def test_rollback_flag_follows_the_helm_major_version(version: str, flag: str) -> None:
    assert rollback_flag(version) == flag


def test_unreadable_helm_version_is_a_prerequisite_error() -> None:
    with pytest.raises(PrerequisiteError):
        rollback_flag("garbage")


def test_deploy_plan_derives_one_code_server_per_demo_product() -> None:
    plan = deploy_plan("t", "test", "v3.15.0")
    upgrade = plan.steps[-1].argv
    assert "helm/floe-platform/values-test.yaml" in upgrade and "--atomic" in upgrade
    key = "dagster.dagster-user-deployments.deployments="
    value = next(a for a in upgrade if a.startswith(key))
    deployments = json.loads(value.split("=", 1)[1])
    products = sorted(spec.parent.name for spec in DEMO.glob("*/floe.yaml"))
    assert [d["name"] for d in deployments] == products
    assert all(d["image"]["tag"] == "t" for d in deployments)


def test_ac_10_7_wait_ready_reports_what_is_not_ready_after_the_timeout() -> None:
    now = [0.0]
    lines: list[str] = []
    checks = [
        Step("bucket", ["true"]),
        Step("catalog", ["sh", "-c", "echo 'no catalog yet' >&2; exit 1"]),
    ]
    with pytest.raises(FloeError) as info:
        wait_ready(
            checks,
            timeout_s=30,
            echo=lines.append,
            sleep=lambda s: now.__setitem__(0, now[0] + s),
            clock=lambda: now[0],
        )
    assert "not ready after 30s: catalog" in str(info.value)
    assert "no catalog yet" in str(info.value)
    assert lines == ["ready: bucket"]


def test_wait_ready_passes_once_every_check_passes(tmp_path: Path) -> None:
    flag = tmp_path / "ready"
    checks = [Step("eventually", ["sh", "-c", f"test -f {flag} || {{ touch {flag}; exit 1; }}"])]
    lines: list[str] = []
    wait_ready(checks, timeout_s=60, echo=lines.append, sleep=lambda _s: None)
    assert lines == ["ready: eventually"]

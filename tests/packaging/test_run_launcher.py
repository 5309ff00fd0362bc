"""Issue 27: every run in its own Kubernetes Job, sized from the YAML, queued, monitored.

The Dagster subchart cannot be fetched here (no chart repository; tests/packaging/
test_chart.py says why), so what the chart hands it is checked as values, and the run
pod is built by dagster-k8s's own code from those values: a real ``K8sRunLauncher``
(offline: a kubeconfig naming no reachable server), the run's container context from the
generated definitions' job tags, and ``construct_dagster_k8s_job``, exactly the calls the
launcher makes when it launches a run. The Job is then validated against Kubernetes 1.31
(strict).
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from floe.compiler.loader import load_manifest
from floe.packaging.deploy import PRODUCT_TAG, QUEUE, RELEASE, deploy_plan, run_queue_values
from tests.conftest import DEMO, DEMO_MANIFEST, ROOT
from tests.packaging.test_chart import K8S_VERSION, VALUES_FILES, _merged

DOCKERFILE = ROOT / "docker" / "dagster-demo" / "Dockerfile"
DEMO_VALUES = ("values-demo.yaml", "values-test.yaml")


def _launcher_values(name: str) -> dict[str, Any]:
    return _merged(name)["dagster"]["runLauncher"]["config"]["k8sRunLauncher"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("name", VALUES_FILES)
def test_every_values_file_launches_runs_as_kubernetes_jobs(name: str) -> None:
    """Point 1: the K8s run launcher by default, not runs inside the daemon's pod."""
    dagster = _merged(name)["dagster"]
    assert dagster["runLauncher"]["type"] == "K8sRunLauncher"
    assert "customRunLauncher" not in dagster["runLauncher"]["config"]
    assert dagster.get("rbacEnabled", True) is True  # the chart's Role: Jobs, Pods, logs


@pytest.mark.parametrize("name", VALUES_FILES)
def test_runs_are_queued_one_per_product_and_monitored(name: str) -> None:
    """Points 3 and 5: the queued coordinator with the product tag limited to one run per
    value; run monitoring fails a run whose pod died."""
    daemon = _merged(name)["dagster"]["dagsterDaemon"]
    coordinator = daemon["runCoordinator"]
    assert coordinator["enabled"] is True and coordinator["type"] == "QueuedRunCoordinator"
    queue = coordinator["config"]["queuedRunCoordinator"]
    assert queue["maxConcurrentRuns"] >= 1
    assert queue["tagConcurrencyLimits"] == [
        {"key": PRODUCT_TAG, "value": {"applyLimitPerUniqueValue": True}, "limit": 1}
    ]
    assert daemon["runMonitoring"]["enabled"] is True
    assert daemon["runMonitoring"]["maxResumeRunAttempts"] == 0  # a dead pod fails the run


def test_the_deploy_sets_the_queue_from_the_manifest(demo_copy: Path) -> None:
    """Point 3: `nox -s demo` passes manifest plugins.orchestrator.runs to the chart."""
    demo = demo_copy
    manifest = yaml.safe_load(DEMO_MANIFEST.read_text())
    manifest["plugins"]["orchestrator"]["runs"].update(
        max_concurrent_runs=7, per_product_concurrency=2
    )
    (demo / "manifest.yaml").write_text(yaml.safe_dump(manifest))
    plan = deploy_plan("abc123", "demo", "v4.0.0", demo_dir=demo)
    argv = next(step.argv for step in plan.steps if step.argv[:2] == ["helm", "upgrade"])
    sets = [argv[i + 1] for i, arg in enumerate(argv) if arg == "--set-json"]
    assert f"{QUEUE}.maxConcurrentRuns=7" in sets
    limits = next(s for s in sets if s.startswith(f"{QUEUE}.tagConcurrencyLimits="))
    assert json.loads(limits.split("=", 1)[1]) == [
        {"key": PRODUCT_TAG, "value": {"applyLimitPerUniqueValue": True}, "limit": 2}
    ]
    assert "dagster.runLauncher.config.k8sRunLauncher.image.tag=abc123" in argv


def test_the_demo_manifest_queue_matches_the_chart_default() -> None:
    queue = _merged("values.yaml")["dagster"]["dagsterDaemon"]["runCoordinator"]["config"]
    assert run_queue_values(DEMO_MANIFEST) == queue["queuedRunCoordinator"]


@pytest.mark.parametrize("name", DEMO_VALUES)
def test_run_pods_get_what_the_daemon_gets(name: str) -> None:
    """Point 1: the demo image, FLOE_CATALOG, the credential Secret mount; nothing else."""
    dagster = _merged(name)["dagster"]
    launcher, daemon = _launcher_values(name), dagster["dagsterDaemon"]
    assert launcher["image"] == {**daemon["image"]}
    assert launcher["imagePullPolicy"] == daemon["image"]["pullPolicy"]
    assert launcher["envVars"] == [f"{k}={v}" for k, v in daemon["env"].items()]
    assert launcher["volumes"] == daemon["volumes"]
    assert launcher["volumeMounts"] == daemon["volumeMounts"]


def _image_uid() -> int:
    found = re.search(r"useradd --uid (\d+)", DOCKERFILE.read_text())
    assert found
    return int(found.group(1))


def _launcher(name: str, tmp_path: Path) -> Any:
    """A real K8sRunLauncher configured as the Dagster chart renders our values (its
    instance ConfigMap's run_launcher.config), offline."""
    from dagster_k8s import K8sRunLauncher

    values = _launcher_values(name)
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "none", "cluster": {"server": "https://127.0.0.1:9"}}],
                "users": [{"name": "none", "user": {}}],
                "contexts": [{"name": "none", "context": {"cluster": "none", "user": "none"}}],
                "current-context": "none",
            }
        )
    )
    run_k8s = values.get("runK8sConfig", {})
    return K8sRunLauncher(
        service_account_name=f"{RELEASE}-dagster",
        instance_config_map=f"{RELEASE}-dagster-instance",
        postgres_password_secret="floe-demo-credentials",  # pragma: allowlist secret (a name)
        dagster_home="/opt/dagster/dagster_home",
        job_image=f"{values['image']['repository']}:{values['image']['tag']}",
        image_pull_policy=values["imagePullPolicy"],
        load_incluster_config=False,
        kubeconfig_file=str(kubeconfig),
        job_namespace="floe",
        env_vars=values.get("envVars"),
        volumes=values.get("volumes"),
        volume_mounts=values.get("volumeMounts"),
        fail_pod_on_run_failure=values.get("failPodOnRunFailure"),
        run_k8s_config={
            "pod_spec_config": run_k8s.get("podSpecConfig", {}),
            "container_config": run_k8s.get("containerConfig", {}),
        },
    )


def _job_tags(product_dir: Path, job: str) -> dict[str, str]:
    """The tags of ``job`` as the product's generated definitions.py defines them."""
    spec = importlib.util.spec_from_file_location(
        f"floe_defs_{uuid.uuid4().hex}", product_dir / "definitions.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(product_dir))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(product_dir))
    return dict(module.defs.resolve_job_def(job).tags)


@pytest.mark.parametrize("name", DEMO_VALUES)
def test_a_run_pod_job_carries_image_env_secrets_resources_and_security(
    name: str, compiled_demo: Path, tmp_path: Path
) -> None:
    """Points 1, 2 and 6: the Job the launcher would create for a run of financial-risk
    (which asks for 3Gi of memory in its floe.yaml) validates against Kubernetes 1.31 and
    carries the demo image, FLOE_CATALOG, the Secret mount, the compiled resources and a
    non-root security context as the image's own user."""
    import kubernetes
    import kubernetes_validate
    from dagster import DagsterRun
    from dagster_k8s.container_context import K8sContainerContext
    from dagster_k8s.job import construct_dagster_k8s_job, get_job_name_from_run_id

    product = compiled_demo / "financial-risk"
    tags = _job_tags(product, "financial_risk_build")
    assert tags[PRODUCT_TAG] == "financial-risk"
    launcher = _launcher(name, tmp_path)
    run = DagsterRun(job_name="financial_risk_build", run_id=str(uuid.uuid4()), tags=tags)
    context = K8sContainerContext.create_for_run(run, launcher, include_run_tags=True)
    job_name = get_job_name_from_run_id(run.run_id)
    job = construct_dagster_k8s_job(
        job_config=context.get_k8s_job_config(job_image=None, run_launcher=launcher),
        args=["dagster", "api", "execute_run", "{}"],
        job_name=job_name,
        pod_name=job_name,
        component="run_worker",
        user_defined_k8s_config=context.run_k8s_config,
        labels={"dagster/job": run.job_name, "dagster/run-id": run.run_id},
    )
    doc = kubernetes.client.ApiClient().sanitize_for_serialization(job)
    kubernetes_validate.validate(doc, K8S_VERSION, strict=True)

    pod = doc["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    values = _launcher_values(name)
    assert container["image"] == f"{values['image']['repository']}:{values['image']['tag']}"
    assert container["imagePullPolicy"] == "Never"
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["FLOE_CATALOG"] == "platform"
    mount = values["volumeMounts"][0]
    assert {"name": mount["name"], "mountPath": mount["mountPath"], "readOnly": True} in container[
        "volumeMounts"
    ]
    credentials = values["volumes"][0]  # the Secret volume the values file names
    assert credentials in pod["volumes"]
    artifacts = json.loads((product / "compiled_artifacts.json").read_text())
    assert container["resources"] == artifacts["run_resources"] | {}
    assert container["resources"]["limits"]["memory"] == "3Gi"  # floe.yaml's ask
    uid = _image_uid()
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == uid
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}


def test_every_demo_product_job_asks_for_the_manifest_resources_or_its_own(
    compiled_demo: Path,
) -> None:
    """Point 2: each generated job's dagster-k8s/config tag is its compiled run resources,
    the manifest's defaults unless its floe.yaml asked for more."""
    runs = load_manifest(DEMO_MANIFEST).model.plugins.orchestrator.runs
    seen = {}
    for product in sorted(p.parent for p in DEMO.glob("*/floe.yaml")):
        built = compiled_demo / product.name
        module = json.loads((built / "compiled_artifacts.json").read_text())["identity"][
            "module_name"
        ]
        tags = _job_tags(built, f"{module}_build")
        config = json.loads(tags["dagster-k8s/config"])
        seen[product.name] = config["container_config"]["resources"]
    defaults = runs.resources.k8s()
    assert seen.pop("financial-risk")["limits"]["memory"] == "3Gi"
    assert all(resources == defaults for resources in seen.values()), seen

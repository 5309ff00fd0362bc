"""The floe-platform chart rendered through helm-python-sdk (Helm as a library).

The Dagster dependency cannot be fetched here (no network beyond package registries), so
these renders set dagster.enabled=false: our own templates render for real; the values the
chart hands to the Dagster subchart are checked as values (AC-11.3), and the lint's
"missing these dependencies: dagster" warning is the only one allowed.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

import helm_python
import pytest
import yaml

from floe.packaging.deploy import RELEASE, user_deployments
from tests.conftest import DEMO, DEMO_MANIFEST, PRODUCTS, ROOT

CHART = ROOT / "helm" / "floe-platform"
VALUES_FILES = ("values.yaml", "values-demo.yaml", "values-test.yaml")


def _values(name: str) -> dict[str, Any]:
    return yaml.safe_load((CHART / name).read_text()) or {}


def _merged(name: str) -> dict[str, Any]:
    """values.yaml overlaid with ``name`` (how Helm combines them)."""

    def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
        out = dict(base)
        for key, value in over.items():
            out[key] = (
                merge(out[key], value)
                if isinstance(value, dict) and isinstance(out.get(key), dict)
                else value
            )
        return out

    return merge(_values("values.yaml"), _values(name) if name != "values.yaml" else {})


def render(name: str, **overrides: Any) -> list[dict[str, Any]]:
    values = _values(name) if name != "values.yaml" else {}
    values.setdefault("dagster", {})["enabled"] = False
    values.update(overrides)
    chart = helm_python.Chart.load(str(CHART))
    rendered = chart.render(values, name=RELEASE, namespace="floe", is_install=True)
    docs = []
    for path, text in rendered.items():
        if path.endswith("NOTES.txt"):
            continue
        docs.extend(d for d in yaml.safe_load_all(text) if isinstance(d, dict))
    return docs


def _by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def _containers(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        c
        for d in docs
        if d["kind"] in {"Deployment", "Job"}
        for c in d["spec"]["template"]["spec"]["containers"]
    ]


def test_ac_10_1_test_values_pin_polaris_1_2_1() -> None:
    assert _values("values-test.yaml")["polaris"]["image"]["tag"] == "1.2.1-incubating"
    polaris = _by_kind(render("values-test.yaml"), "Deployment")[f"{RELEASE}-polaris"]
    image = polaris["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == "docker.io/apache/polaris:1.2.1-incubating"


@pytest.mark.parametrize("name", ["values-test.yaml", "values-demo.yaml"])
def test_ac_11_3_demo_and_test_values_use_the_demo_image(name: str) -> None:
    dagster = _merged(name)["dagster"]
    for component in ("dagsterWebserver", "dagsterDaemon"):
        assert dagster[component]["image"]["repository"] == "floe-dagster-demo"
        assert dagster[component]["image"]["pullPolicy"] == "Never"


def test_ac_11_3_production_values_keep_the_stock_dagster_image() -> None:
    dagster = _values("values.yaml")["dagster"]
    for component in ("dagsterWebserver", "dagsterDaemon"):
        assert dagster[component]["image"]["repository"] == "docker.io/dagster/dagster-celery-k8s"
        assert dagster[component]["image"]["pullPolicy"] == "IfNotPresent"


def test_dagster_dependency_version_matches_the_image_base() -> None:
    from sessions.config import image_base_version

    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    dependency = next(d for d in chart["dependencies"] if d["name"] == "dagster")
    assert dependency["version"] == image_base_version() == "1.9.6"
    assert dependency["condition"] == "dagster.enabled"
    assert (
        _values("values.yaml")["dagster"]["dagsterWebserver"]["image"]["tag"]
        == image_base_version()
    )


def test_issue_27_the_dagster_chart_writes_a_workspace_of_grpc_servers() -> None:
    """The workspace is the Dagster chart's own: with workspace.enabled false it lists one
    grpc_server per user deployment (host and location name: the deployment's name); the
    webserver and daemon import no product code."""
    dagster = _values("values.yaml")["dagster"]
    assert dagster["dagsterWebserver"]["workspace"] == {"enabled": False}
    assert dagster["dagster-user-deployments"]["enabled"] is True
    assert dagster["dagster-user-deployments"]["enableSubchart"] is True
    assert not any(
        d["kind"] == "ConfigMap" and "workspace" in d["metadata"]["name"]
        for d in render("values-demo.yaml")
    )


@pytest.mark.parametrize("values", ["demo", "test"])
def test_ac_11_5_each_product_is_served_by_its_own_code_server(values: str) -> None:
    """Issue 27 point 4, AC-11.5: one user deployment per product, serving
    ``<module>.definitions`` with /app/demo as working directory and ``defs``, from the
    daemon's image with its env and Secret mounts, non-root."""
    daemon = _merged(f"values-{values}.yaml")["dagster"]["dagsterDaemon"]
    deployments = {d["name"]: d for d in user_deployments(DEMO, values, "abc123")}
    assert sorted(deployments) == list(PRODUCTS)
    for location, entry in deployments.items():
        module = location.replace("-", "_")
        assert entry["dagsterApiGrpcArgs"] == [
            "--module-name",
            f"{module}.definitions",
            "--working-directory",
            "/app/demo",
            "--attribute",
            "defs",
        ]
        assert entry["image"] == {**daemon["image"], "tag": "abc123"}
        assert entry["image"]["repository"] == "floe-dagster-demo"
        assert {"name": "FLOE_CATALOG", "value": "platform"} in entry["env"]
        assert (
            entry["volumes"] == daemon["volumes"]
            and entry["volumeMounts"] == daemon["volumeMounts"]
        )
        assert entry["includeConfigInLaunchedRuns"] == {"enabled": True}
        assert entry["podSecurityContext"]["runAsNonRoot"] is True
        assert entry["securityContext"]["allowPrivilegeEscalation"] is False


@pytest.mark.parametrize("name", VALUES_FILES)
def test_every_container_has_readiness_and_liveness_probes(name: str) -> None:
    docs = render(name)
    for deployment in _by_kind(docs, "Deployment").values():
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            assert "readinessProbe" in container, deployment["metadata"]["name"]
            assert "livenessProbe" in container, deployment["metadata"]["name"]


@pytest.mark.parametrize("name", VALUES_FILES)
def test_no_latest_tags_and_resources_everywhere(name: str) -> None:
    for container in _containers(render(name)):
        assert not container["image"].endswith(":latest"), container["image"]
        assert container["resources"]["requests"] and container["resources"]["limits"]
        assert container["securityContext"]["allowPrivilegeEscalation"] is False


def test_bootstrap_hooks_run_bucket_before_catalog_and_are_rerunnable() -> None:
    jobs = _by_kind(render("values-demo.yaml"), "Job")
    bucket = jobs[f"{RELEASE}-minio-bucket"]["metadata"]["annotations"]
    catalog = jobs[f"{RELEASE}-polaris-catalog"]["metadata"]["annotations"]
    for hook in (bucket, catalog):
        assert hook["helm.sh/hook"] == "post-install,post-upgrade"
        assert hook["helm.sh/hook-delete-policy"] == "before-hook-creation"
    assert int(bucket["helm.sh/hook-weight"]) < int(catalog["helm.sh/hook-weight"])
    script = jobs[f"{RELEASE}-minio-bucket"]["spec"]["template"]["spec"]["containers"][0]["args"][0]
    assert "mc mb --ignore-existing" in script  # idempotent
    catalog_script = jobs[f"{RELEASE}-polaris-catalog"]["spec"]["template"]["spec"]["containers"][
        0
    ]["args"][0]
    assert "409)" in catalog_script  # an existing catalog is fine on upgrade


def _manifest_endpoints() -> dict[str, str]:
    manifest = yaml.safe_load(DEMO_MANIFEST.read_text())
    return {
        "tracing": manifest["observability"]["tracing"]["endpoint"],
        "lineage": manifest["observability"]["lineage"]["endpoint"],
        "catalog": manifest["plugins"]["catalog"]["config"]["uri"],
        "storage": manifest["plugins"]["storage"]["config"]["endpoint"],
    }


@pytest.mark.parametrize("which", ["tracing", "lineage", "catalog", "storage"])
def test_manifest_endpoints_name_services_the_chart_renders(which: str) -> None:
    """One source of truth: demo/manifest.yaml endpoints resolve to the chart's Services."""
    url = urlparse(_manifest_endpoints()[which])
    services = _by_kind(render("values-demo.yaml"), "Service")
    assert url.hostname in services, sorted(services)
    assert url.port in {p["port"] for p in services[url.hostname]["spec"]["ports"]}


def test_manifest_names_match_chart_secret_bucket_and_catalog() -> None:
    manifest = yaml.safe_load(DEMO_MANIFEST.read_text())
    values = _values("values.yaml")
    storage = manifest["plugins"]["storage"]["config"]
    catalog = manifest["plugins"]["catalog"]["config"]
    assert storage["bucket"] == values["minio"]["bucket"]
    assert catalog["warehouse"] == values["polaris"]["catalog"]
    secret = render("values-demo.yaml")
    secrets = _by_kind(secret, "Secret")
    assert list(secrets) == [values["credentials"]["secretName"]]
    referenced = {
        (ref["secret"]["name"], ref["secret"]["key"])
        for section in (storage, catalog)
        for ref in section.values()
        if isinstance(ref, dict)
    }
    data = secrets[values["credentials"]["secretName"]]["data"]
    assert {key for _name, key in referenced} <= set(data)
    assert {name for name, _key in referenced} == {values["credentials"]["secretName"]}


def test_production_values_create_no_secret() -> None:
    assert _by_kind(render("values.yaml"), "Secret") == {}


def test_values_schema_rejects_a_latest_tag_for_platform_images() -> None:
    with pytest.raises(helm_python.HelmError):
        render("values-demo.yaml", polaris={"image": {"repository": "x", "tag": "latest"}})


@pytest.mark.parametrize("name", VALUES_FILES)
def test_helm_lint_passes_with_only_the_missing_dagster_dependency_warning(name: str) -> None:
    values = _values(name) if name != "values.yaml" else {}
    report = helm_python.lint(str(CHART), values)
    assert report["errors"] == []
    problems = [m for m in report["messages"] if m["severity"] >= 2]
    assert [m["error"] for m in problems] == [
        "chart directory is missing these dependencies: dagster"
    ]


def test_every_health_endpoint_of_status_is_a_rendered_service_port() -> None:
    """`floe platform status` derives health URLs from artifacts + values: each must exist."""
    from floe.compiler.builder import build_artifacts
    from floe.health.endpoints import platform_checks
    from floe.schemas import FloeSpec, PlatformManifest
    from tests.conftest import customer_spec_data, demo_manifest_data

    artifacts = build_artifacts(
        FloeSpec.model_validate(customer_spec_data()),
        PlatformManifest.model_validate(demo_manifest_data()),
    )
    checks = platform_checks(
        artifacts, _values("values.yaml"), dagster_url=None, locations=[], timeout_s=1, retries=0
    )
    services = _by_kind(render("values-demo.yaml"), "Service")
    for check in checks:
        args = check.args  # type: ignore[attr-defined]
        endpoint = args[1] if len(args) == 2 else f"tcp://{args[1]}:{args[2]}"
        url = urlparse(endpoint)
        assert url.hostname in services, (args[0], endpoint)
        assert url.port in {p["port"] for p in services[url.hostname]["spec"]["ports"]}, endpoint


@pytest.mark.parametrize("name", VALUES_FILES)
def test_env_var_names_are_c_identifiers(name: str) -> None:
    """Kubernetes before 1.32 rejects env names that are not C identifiers."""
    import re

    for container in _containers(render(name)):
        for env in container.get("env", []):
            assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", env["name"]), env["name"]


K8S_VERSION = "1.31.0"


@pytest.mark.parametrize("name", VALUES_FILES)
def test_issue_12_every_rendered_object_validates_against_kubernetes_1_31(name: str) -> None:
    """Each object the chart renders for values.yaml, values-demo.yaml and
    values-test.yaml validates, strictly (no unknown fields), against Kubernetes 1.31's
    own schemas (kubernetes-validate's bundled copy: offline)."""
    import kubernetes_validate

    docs = render(name)
    assert docs
    problems = []
    for doc in docs:
        try:
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            where = f"{doc['kind']}/{doc['metadata']['name']}"
            problems.append(f"{where}: {'.'.join(map(str, error.path))}: {error.message}")
    assert problems == []


def test_kubernetes_validation_catches_an_unknown_field() -> None:
    """The strict check is live: a misspelled field in a rendered Deployment fails."""
    import kubernetes_validate

    deployment = next(d for d in render("values-demo.yaml") if d["kind"] == "Deployment")
    broken = {**deployment, "spec": {**deployment["spec"], "replica": 1}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)


def _secret_refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        if set(node) == {"secret"}:
            return {node["secret"]["name"]}
        return set().union(*(_secret_refs(v) for v in node.values())) if node else set()
    if isinstance(node, list):
        return set().union(*(_secret_refs(v) for v in node)) if node else set()
    return set()


@pytest.mark.parametrize("name", ["values-demo.yaml", "values-test.yaml"])
@pytest.mark.parametrize("component", ["dagsterWebserver", "dagsterDaemon"])
def test_issue_13_dagster_pods_publish_to_the_platform_catalog_with_mounted_credentials(
    name: str, component: str
) -> None:
    """Runs in the cluster publish to Polaris (FLOE_CATALOG=platform) and find every
    credential the manifest references where floe's runtime reads it."""
    from floe.runtime.publish.catalog import CATALOG_ENV, DEFAULT_SECRETS_DIR, PLATFORM

    pod = _merged(name)["dagster"][component]
    assert pod["env"][CATALOG_ENV] == PLATFORM
    manifest = yaml.safe_load(DEMO_MANIFEST.read_text())
    referenced = _secret_refs(manifest["plugins"])
    assert referenced == {_merged(name)["credentials"]["secretName"]}
    volumes = {v["name"]: v["secret"]["secretName"] for v in pod["volumes"]}
    mounts = {volumes[m["name"]]: m["mountPath"] for m in pod["volumeMounts"]}
    assert mounts == {secret: f"{DEFAULT_SECRETS_DIR}/{secret}" for secret in referenced}

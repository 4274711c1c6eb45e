"""The kustomize composition (manifests/) rendered for every environment and KFP version,
offline, against the unpacked upstream releases (tests/toolchain.py finds them): golden snapshots,
schema validation (kubernetes-validate, the ManagedCertificate and Argo CRDs), policy
checks on the rendered objects, and checkov.

Each (environment, version) is rendered once per module, into a copy of the repository's
manifests/ under a temporary folder.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from kfp_gcp.cli import app
from kfp_gcp.errors import ConfigError
from kfp_gcp.services.infra.terraform import PlatformOutputs, parse_outputs
from kfp_gcp.services.manifests import compose
from kfp_gcp.services.project import Project
from tests import toolchain
from tests.conftest import REPO

# `make test` runs on every core (--dist loadgroup): this module stays on one worker,
# so its renders and checkov scan run once.
pytestmark = pytest.mark.xdist_group("renders")

UPSTREAM = toolchain.UPSTREAM.path
GOLDEN = REPO / "tests" / "golden"
FIXTURES = REPO / "tests" / "fixtures"
DOCS = REPO / "docs" / "manifests.md"
UPDATE_ENV = "KFP_GCP_UPDATE_GOLDEN"
REFRESH = f"{UPDATE_ENV}=1 uv run pytest tests/test_manifests.py -k golden"
KUBERNETES_VERSION = "1.33.0"  # GKE's regular channel; kubernetes-validate ships 1.25-1.37

VERSIONS = ["2.17.0", "2.14.4"]
ENVS = ["dev", "prod"]
CASES = [(env, version) for env in ENVS for version in VERSIONS]
IDS = [f"{env}-{version}" for env, version in CASES]

# Registries and pod-spec kinds.
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod"}
BUILTIN_GROUPS = {
    "",
    "apps",
    "batch",
    "policy",
    "networking.k8s.io",
    "rbac.authorization.k8s.io",
    "scheduling.k8s.io",
    "apiextensions.k8s.io",
    "admissionregistration.k8s.io",
}
# The Secrets the rendered objects name, which `kfp-gcp manifests apply` creates
# (docs/manifests.md, "Secrets"). None is rendered.
SECRETS = {"mysql-secret", "mlpipeline-minio-artifact"}
IAP_SECRET = "iap-oauth-client"
# Made in the cluster at runtime: the cache deployer generates the cache webhook's certificate.
RUNTIME_SECRETS = {"webhook-server-tls"}


LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: the Argo CRDs are megabytes


def load(text: str) -> Any:
    return yaml.load(text, Loader=LOADER)


def load_all(text: str) -> list[Any]:
    return [doc for doc in yaml.load_all(text, Loader=LOADER) if doc]


def dev_outputs() -> PlatformOutputs:
    """The documented contract fixture: dev in no-domain mode (ingress fields empty)."""
    return parse_outputs((FIXTURES / "platform-outputs.json").read_text(), "fixture")


def prod_outputs() -> PlatformOutputs:
    return parse_outputs((FIXTURES / "platform-outputs-prod.json").read_text(), "prod fixture")


OUTPUTS = {"dev": dev_outputs, "prod": prod_outputs}


def require_upstream() -> None:
    toolchain.require_upstream(UPSTREAM)  # fetched first when the tests use the cache


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """A throwaway repository holding a copy of manifests/ (builds go to its build/)."""
    require_upstream()
    root = tmp_path_factory.mktemp("repo")
    shutil.copytree(REPO / "manifests", root / "manifests")
    return Project(root)


@pytest.fixture(scope="module")
def render(project: Project) -> Any:
    @cache
    def get(env: str, version: str) -> compose.Rendered:
        return compose.render(
            project, env, version=version, upstream_dir=UPSTREAM, outputs=OUTPUTS[env]()
        )

    return get


@pytest.fixture(params=CASES, ids=IDS)
def case(request: pytest.FixtureRequest, render: Any) -> tuple[str, str, compose.Rendered]:
    env, version = request.param
    return env, version, render(env, version)


# Helpers on rendered objects.


def find(rendered: compose.Rendered, kind: str, name: str) -> dict[str, Any]:
    found = [o for o in rendered.objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
    return found[0]


def pod_spec(obj: dict[str, Any]) -> dict[str, Any] | None:
    if obj["kind"] == "Pod":
        return obj["spec"]
    if obj["kind"] == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    if obj["kind"] in WORKLOAD_KINDS:
        return obj["spec"]["template"]["spec"]
    return None


def containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    spec = pod_spec(obj) or {}
    return [*spec.get("initContainers", []), *spec.get("containers", [])]


def pod_labels(obj: dict[str, Any]) -> dict[str, str]:
    return dict(obj["spec"]["template"]["metadata"].get("labels", {}))


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """A LabelSelector (matchLabels + matchExpressions In/NotIn/Exists) against labels."""
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expr in selector.get("matchExpressions", []):
        key, op, values = expr["key"], expr["operator"], expr.get("values", [])
        ok = {
            "In": key in labels and labels[key] in values,
            "NotIn": labels.get(key) not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }[op]
        if not ok:
            return False
    return True


def image_tag(image: str) -> str | None:
    """The tag of an image reference (None when untagged); digests count as tags."""
    if "@sha256:" in image:
        return image.split("@", 1)[1]
    last = image.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else None


def image_values(obj: dict[str, Any]) -> list[str]:
    """Image references outside `image:` fields: *_IMAGE env values, --executor-image,
    cacheImage."""
    found = []
    for c in containers(obj):
        found += [
            str(v) for k, v in env_of(c).items() if k.endswith("_IMAGE") and isinstance(v, str)
        ]
        args = [str(a) for a in c.get("args", [])]
        found += [args[i + 1] for i, a in enumerate(args[:-1]) if a == "--executor-image"]
    if obj["kind"] == "ConfigMap":
        found += [v for k, v in (obj.get("data") or {}).items() if k == "cacheImage"]
    return found


# Rendering.


@pytest.mark.slow
def test_each_environment_and_version_renders(case):
    _env, _version, rendered = case
    kinds = rendered.counts()
    assert rendered.cluster_objects[0]["kind"] == "Namespace"
    assert {
        o["metadata"]["name"] for o in rendered.cluster_objects if o["kind"] == "Namespace"
    } == {"kubeflow"}
    assert kinds["Deployment"]["namespaced"] == 13  # upstream's 12 + the Cloud SQL proxy
    assert kinds["CustomResourceDefinition"]["cluster-scoped"] == 10
    # Every namespaced object is in kubeflow; in the cluster-scoped bundle, only upstream's
    # cache deployer ServiceAccount has a namespace (it rides with its ClusterRoleBinding).
    assert [
        (o["kind"], o["metadata"]["name"], o["metadata"]["namespace"])
        for o in rendered.cluster_objects
        if "namespace" in o["metadata"]
    ] == [("ServiceAccount", "kubeflow-pipelines-cache-deployer-sa", "kubeflow")]
    for obj in rendered.namespaced_objects:
        if obj["kind"] != "PriorityClass":
            assert obj["metadata"].get("namespace") == "kubeflow", obj["metadata"]["name"]
    assert compose.PLACEHOLDER not in rendered.text
    assert (rendered.work_dir / "rendered.yaml").read_text() == rendered.text
    # The stream parses back to the same objects, cluster-scoped first.
    assert load_all(rendered.text) == rendered.objects


@pytest.mark.slow
def test_rendering_is_deterministic(project, render):
    first = render("prod", "2.17.0")
    again = compose.render(
        project, "prod", version="2.17.0", upstream_dir=UPSTREAM, outputs=prod_outputs()
    )
    assert again.text == first.text


@pytest.mark.slow
def test_the_contract_values_reach_the_objects_not_git(case):
    env, _, rendered = case
    outputs = OUTPUTS[env]()
    env_file = (rendered.work_dir / "overlays" / env / "platform.env").read_text()
    assert f"pipeline_root={outputs.pipeline_root}\n" in env_file
    # The ConfigMap that carries them is local-config: never deployed.
    assert not [o for o in rendered.objects if o["metadata"]["name"] == "kfp-gcp-platform"]
    committed = "\n".join(p.read_text() for p in (REPO / "manifests").rglob("*.yaml"))
    for value in (
        outputs.artifact_bucket,
        outputs.cloudsql_connection_name,
        outputs.project_id,
        outputs.service_accounts.ui,
        *[v for v in (outputs.domain, outputs.static_ip_name) if v],
    ):
        assert value in rendered.text
        assert value not in committed


# Golden snapshots. No upstream file is committed, so a snapshot holds our
# objects in full, and upstream objects as a digest plus the fields we change.


def _key(obj: dict[str, Any]) -> tuple[str, str, str]:
    return obj["kind"], obj["metadata"].get("namespace", ""), obj["metadata"]["name"]


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _flatten(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Leaf paths; list items of objects with a name are addressed by name."""
    if isinstance(value, dict) and value:
        for k in sorted(value):
            yield from _flatten(value[k], f"{path}.{k}" if path else str(k))
    elif isinstance(value, list) and value:
        for i, item in enumerate(value):
            if isinstance(item, dict) and "name" in item:
                rest = {k: v for k, v in item.items() if k != "name"} or None
                yield from _flatten(rest, f"{path}[name={item['name']}]")
            else:
                yield from _flatten(item, f"{path}[{i}]")
    else:
        yield path, value


def _shown(value: Any) -> Any:
    """Upstream values in changes: short ones as they are, long ones as a digest."""
    return value if len(json.dumps(value)) <= 80 else _digest(value)


def changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, dict[str, Any]]:
    old, new = dict(_flatten(before)), dict(_flatten(after))
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(old.keys() | new.keys()):
        if old.get(path, ...) == new.get(path, ...):
            continue
        entry: dict[str, Any] = {}
        if path in old:
            entry["upstream"] = _shown(old[path])
        if path in new:
            entry["rendered"] = new[path]
        found[path] = entry
    return found


def upstream_baseline(rendered: compose.Rendered) -> list[dict[str, Any]]:
    """The same release composed with none of our components: `kfp/` and the upstream
    entries of `cluster-scoped/`."""
    work = rendered.work_dir
    spec = load((work / "cluster-scoped" / "kustomization.yaml").read_text())
    baseline = work / "baseline-cluster-scoped"
    baseline.mkdir(exist_ok=True)
    resources = [r for r in spec["resources"] if r.startswith("../upstream/")]
    (baseline / "kustomization.yaml").write_text(
        yaml.safe_dump({"namespace": spec["namespace"], "resources": resources})
    )
    return [
        o
        for text in (compose.kustomize(baseline), compose.kustomize(work / "kfp"))
        for o in load_all(text)
    ]


def snapshot(env: str, rendered: compose.Rendered) -> str:
    base = {_key(o): o for o in upstream_baseline(rendered)}
    entries = []
    for obj in rendered.objects:
        kind, namespace, name = _key(obj)
        entry: dict[str, Any] = {"kind": kind, "name": name}
        if namespace:
            entry["namespace"] = namespace
        if (kind, namespace, name) not in base:
            entry["origin"] = "kfp-gcp"
            entry["object"] = obj
        else:
            entry["origin"] = "upstream"
            entry["sha256"] = _digest(obj)
            changed = changes(base[(kind, namespace, name)], obj)
            if changed:
                entry["changes"] = changed
        entries.append(entry)
    rendered_keys = {_key(o) for o in rendered.objects}
    removed = [
        {"kind": k, "namespace": ns, "name": n}
        for k, ns, n in sorted(base)
        if (k, ns, n) not in rendered_keys
    ]
    header = (
        f"# Golden snapshot of `kfp-gcp manifests render --env {env} --version "
        f"{rendered.version}` (tests/test_manifests.py).\n"
        "# Objects kfp-gcp adds are in full; upstream objects are a digest of the rendered\n"
        "# object plus the fields kfp-gcp changes (no upstream file is committed).\n"
        f"# Review a change, then refresh with: {REFRESH}\n"
    )
    body = {"removed_from_upstream": removed, "objects": entries}
    return header + yaml.safe_dump(body, sort_keys=False, width=100)


@pytest.mark.slow
@pytest.mark.parametrize(("env", "version"), CASES, ids=IDS)
def test_golden_snapshot(render, env, version):
    text = snapshot(env, render(env, version))
    path = GOLDEN / f"{env}-{version}.yaml"
    if os.environ.get(UPDATE_ENV) == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return
    if not path.is_file():
        pytest.fail(f"{path.relative_to(REPO)} is missing; create it with: {REFRESH}")
    golden = path.read_text()
    if text != golden:
        diff = "".join(
            difflib.unified_diff(
                golden.splitlines(keepends=True),
                text.splitlines(keepends=True),
                f"{path.relative_to(REPO)} (golden)",
                "rendered now",
                n=2,
            )
        )
        if len(diff) > 6000:
            diff = diff[:6000] + "\n... (diff truncated)\n"
        pytest.fail(
            f"the {env}-{version} render changed (unreviewed?):\n{diff}\n"
            f"If the change is intended, refresh the snapshots with: {REFRESH}",
            pytrace=False,
        )


@pytest.mark.slow
def test_golden_snapshot_hides_upstream_files_and_shows_our_changes(render):
    text = snapshot("prod", render("prod", "2.17.0"))
    data = load(text)
    by_name = {(e["kind"], e["name"]): e for e in data["objects"]}
    crd = by_name[("CustomResourceDefinition", "workflows.argoproj.io")]
    assert crd["origin"] == "upstream"
    assert "object" not in crd
    api = by_name[("Deployment", "ml-pipeline")]
    host = (
        "spec.template.spec.containers[name=ml-pipeline-api-server]"
        ".env[name=OBJECTSTORECONFIG_HOST].value"
    )
    assert api["changes"][host] == {
        "upstream": "seaweedfs.kubeflow",
        "rendered": "storage.googleapis.com",
    }
    assert by_name[("Deployment", "cloudsql-proxy")]["origin"] == "kfp-gcp"
    assert {"kind": "Secret", "namespace": "kubeflow", "name": "mysql-secret"} in data[
        "removed_from_upstream"
    ]


# Schemas.


@pytest.mark.slow
def test_built_in_kinds_pass_kubernetes_validate_strict(case):
    import kubernetes_validate

    _, _, rendered = case
    problems = []
    for obj in rendered.objects:
        if obj["apiVersion"].rpartition("/")[0] not in BUILTIN_GROUPS:
            continue
        try:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            problems.append(f"{obj['kind']}/{obj['metadata']['name']}: {exc.message}")
    assert not problems


@pytest.mark.slow
def test_only_known_custom_kinds_are_rendered(case):
    env, _, rendered = case
    custom = {
        o["kind"]
        for o in rendered.objects
        if o["apiVersion"].rpartition("/")[0] not in BUILTIN_GROUPS
    }
    # No Argo or KFP custom resources: only their CRDs. GKE's ingress kinds in prod.
    assert custom == (
        {"ManagedCertificate", "BackendConfig", "FrontendConfig"} if env == "prod" else set()
    )


def _crd_schema(path: Path, version: str = "v1") -> dict[str, Any]:
    crd = load(path.read_text())
    for v in crd["spec"]["versions"]:
        if v["name"] == version:
            return dict(v["schema"]["openAPIV3Schema"])
    raise AssertionError(f"{path} has no {version}")


@pytest.mark.slow
@pytest.mark.parametrize("version", VERSIONS)
def test_managed_certificate_matches_its_crd(render, version):
    import jsonschema

    cert = find(render("prod", version), "ManagedCertificate", "kfp-ui")
    schema = _crd_schema(toolchain.managed_certificate_crd(UPSTREAM))
    jsonschema.validate(cert, schema)
    assert cert["apiVersion"] == "networking.gke.io/v1"
    assert cert["spec"]["domains"] == [prod_outputs().domain]
    # The schema is real: a wrong field is rejected.
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**cert, "spec": {"domains": "not-a-list"}}, schema)


@pytest.mark.slow
@pytest.mark.parametrize("version", VERSIONS)
def test_argo_crds_are_the_releases_and_the_gcs_fields_exist(render, version):
    rendered = render("dev", version)
    argo = {"2.17.0": "4.0.5", "2.14.4": "3.6.7"}[version]
    full = UPSTREAM / f"argo-workflows-{argo}" / "manifests" / "base" / "crds" / "full"
    upstream_names = {
        re.search(r"^  name: (\S+)$", p.read_text(), re.M)[1]  # type: ignore[index]
        for p in full.glob("argoproj.io_*.yaml")
    }
    rendered_names = {
        o["metadata"]["name"]
        for o in rendered.cluster_objects
        if o["kind"] == "CustomResourceDefinition"
        and o["metadata"]["name"].endswith(".argoproj.io")
    }
    assert rendered_names == upstream_names
    # The repository's gcs block uses Argo's field names: `bucket` is the GCS artifact's,
    # and `serviceAccountKeySecret` (which we leave out) is the key-file field.
    schema = _crd_schema(full / "argoproj.io_workflows.yaml", "v1alpha1")
    gcs_fields = set().union(*_properties_of(schema, "gcs"))
    assert {"bucket", "serviceAccountKeySecret"} <= gcs_fields


def _properties_of(schema: Any, name: str) -> Iterator[set[str]]:
    """The property names of every `name` object anywhere in a schema."""
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key == name and isinstance(value, dict) and "properties" in value:
                yield set(value["properties"])
            yield from _properties_of(value, name)
    elif isinstance(schema, list):
        for item in schema:
            yield from _properties_of(item, name)


# Policies on the rendered objects.


@pytest.mark.slow
def test_no_volumes_or_in_cluster_stores(case):
    _, _, rendered = case
    assert not [o for o in rendered.objects if o["kind"] == "PersistentVolumeClaim"]
    for obj in rendered.objects:
        text = json.dumps(obj).lower()
        if pod_spec(obj) is not None:
            for word in ("mysql:", "minio", "seaweedfs"):
                images = " ".join(c["image"] for c in containers(obj)).lower()
                assert word not in images, f"{obj['metadata']['name']} runs {word}"
        if obj["kind"] in ("Service", "Deployment", "StatefulSet"):
            assert "minio-service" not in text
            assert "seaweedfs" not in obj["metadata"]["name"]
    names = {o["metadata"]["name"] for o in rendered.objects}
    assert not names & {"mysql-pv-claim", "minio", "minio-service", "seaweedfs", "mysql-secret"}


@pytest.mark.slow
def test_no_inverse_proxy_application_controller_or_env_gcp(case):
    _, _, rendered = case
    text = rendered.text
    for word in (
        "proxy-agent",
        "inverse-proxy",
        "application-controller",
        "application-crd-controller",
        "gce-proxy",
        "minio-gcs-gateway",
    ):
        assert word not in text
    assert "Application" not in {o["kind"] for o in rendered.objects}


@pytest.mark.slow
def test_no_secret_is_rendered_and_the_referenced_ones_are_documented(case):
    env, _, rendered = case
    assert "Secret" not in {o["kind"] for o in rendered.objects}
    referenced = set()
    for obj in rendered.objects:
        for c in containers(obj):
            for e in c.get("env", []):
                ref = e.get("valueFrom", {}).get("secretKeyRef")
                if ref and not ref.get("optional"):
                    referenced.add(ref["name"])
            for source in c.get("envFrom", []):
                if "secretRef" in source:
                    referenced.add(source["secretRef"]["name"])
        for volume in (pod_spec(obj) or {}).get("volumes", []):
            if "secret" in volume:
                referenced.add(volume["secret"]["secretName"])
        if obj["kind"] == "BackendConfig":
            referenced.add(obj["spec"]["iap"]["oauthclientCredentials"]["secretName"])
    assert referenced == SECRETS | RUNTIME_SECRETS | ({IAP_SECRET} if env == "prod" else set())
    docs = DOCS.read_text()
    for name in referenced - RUNTIME_SECRETS:
        assert f"`{name}`" in docs


@pytest.mark.slow
def test_every_image_has_an_explicit_tag(case):
    _, _, rendered = case
    problems = []
    for obj in rendered.objects:
        refs = [c["image"] for c in containers(obj)] + image_values(obj)
        for image in refs:
            tag = image_tag(image)
            if tag is None or tag in ("latest", "master", "main", "dummy"):
                problems.append(f"{obj['kind']}/{obj['metadata']['name']}: {image}")
    assert not problems
    cache_image = find(rendered, "ConfigMap", "pipeline-install-config")["data"]["cacheImage"]
    assert image_tag(cache_image)


@pytest.mark.slow
def test_launcher_and_install_config_use_the_contracts_gcs_root(case):
    env, _, rendered = case
    outputs = OUTPUTS[env]()
    launcher = find(rendered, "ConfigMap", "kfp-launcher")["data"]
    assert launcher["defaultPipelineRoot"] == outputs.pipeline_root
    assert launcher["defaultPipelineRoot"].startswith(f"gs://{outputs.artifact_bucket}/")
    config = find(rendered, "ConfigMap", "pipeline-install-config")["data"]
    assert config["defaultPipelineRoot"] == outputs.pipeline_root
    assert config["bucketName"] == outputs.artifact_bucket


@pytest.mark.slow
def test_argo_repository_is_gcs_without_a_key_secret(case):
    env, _, rendered = case
    data = find(rendered, "ConfigMap", "workflow-controller-configmap")["data"]
    repository = load(data["artifactRepository"])
    assert set(repository) == {"archiveLogs", "gcs"}
    assert repository["archiveLogs"] is False
    assert repository["gcs"]["bucket"] == OUTPUTS[env]().artifact_bucket
    assert "serviceAccountKeySecret" not in repository["gcs"]
    assert repository["gcs"]["keyFormat"].startswith("private-artifacts/{{workflow.namespace}}/")
    assert "$(" not in json.dumps(data)  # no unresolved upstream var/replacement
    ui = find(rendered, "Deployment", "ml-pipeline-ui")
    assert env_of(containers(ui)[0])["ARGO_ARCHIVE_LOGS"] == "false"


@pytest.mark.slow
def test_api_server_reads_gcs_through_its_s3_api(case):
    _, _, rendered = case
    api = next(
        c
        for c in containers(find(rendered, "Deployment", "ml-pipeline"))
        if c["name"] == "ml-pipeline-api-server"
    )
    env = env_of(api)
    assert env["OBJECTSTORECONFIG_HOST"] == "storage.googleapis.com"
    assert env["OBJECTSTORECONFIG_SECURE"] == "true"
    assert env["OBJECTSTORECONFIG_PORT"] == "443"
    assert env["OBJECTSTORECONFIG_ACCESSKEY"]["secretKeyRef"]["name"] == "mlpipeline-minio-artifact"


@pytest.mark.slow
def test_workload_identity_annotations_are_exactly_the_three_ksas(case):
    env, _, rendered = case
    accounts = OUTPUTS[env]().service_accounts
    annotated = {
        o["metadata"]["name"]: o["metadata"]["annotations"]["iam.gke.io/gcp-service-account"]
        for o in rendered.objects
        if "iam.gke.io/gcp-service-account" in o["metadata"].get("annotations", {})
    }
    assert annotated == {
        "pipeline-runner": accounts.pipeline_runner,
        "ml-pipeline-ui": accounts.ui,
        "cloudsql-proxy": accounts.cloudsql_proxy,
    }
    assert {
        o["kind"]
        for o in rendered.objects
        if o["metadata"]["name"] in annotated
        and "iam.gke.io/gcp-service-account" in o["metadata"].get("annotations", {})
    } == {"ServiceAccount"}
    # The KSAs the pods run as.
    assert (
        pod_spec(find(rendered, "Deployment", "ml-pipeline-ui"))["serviceAccountName"]
        == "ml-pipeline-ui"
    )
    assert (
        pod_spec(find(rendered, "Deployment", "cloudsql-proxy"))["serviceAccountName"]
        == "cloudsql-proxy"
    )


@pytest.mark.slow
def test_database_goes_through_the_cloud_sql_proxy(case):
    env, version, rendered = case
    outputs = OUTPUTS[env]()
    proxy = find(rendered, "Deployment", "cloudsql-proxy")
    [container] = containers(proxy)
    assert container["image"].startswith("gcr.io/cloud-sql-connectors/cloud-sql-proxy:2.")
    args = container["args"]
    assert args[-1] == outputs.cloudsql_connection_name
    for flag in (
        "--private-ip",
        "--address=0.0.0.0",
        "--port=3306",
        "--health-check",
        "--http-address=0.0.0.0",
    ):
        assert flag in args
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"mysql": 3306, "health": 9090}
    for probe, path in (
        ("startupProbe", "/startup"),
        ("livenessProbe", "/liveness"),
        ("readinessProbe", "/readiness"),
    ):
        assert container[probe]["httpGet"] == {"path": path, "port": "health"}
    assert proxy["spec"]["replicas"] == 2
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"]
    assert security["runAsNonRoot"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    assert container["resources"]["limits"]
    assert container["resources"]["requests"]
    pdb = find(rendered, "PodDisruptionBudget", "cloudsql-proxy")
    assert selects(pdb["spec"]["selector"], pod_labels(proxy))
    assert pdb["spec"]["minAvailable"] == 1
    service = find(rendered, "Service", "mysql")
    assert service["spec"]["selector"] == {
        k: pod_labels(proxy)[k] for k in service["spec"]["selector"]
    }
    assert service["spec"]["ports"] == [
        {"name": "mysql", "port": 3306, "targetPort": "mysql", "protocol": "TCP"}
    ]
    config = find(rendered, "ConfigMap", "pipeline-install-config")["data"]
    assert (config["mysqlHost"], config["mysqlPort"]) == ("mysql", "3306")
    assert (config["pipelineDb"], config["mlmdDb"], config["cacheDb"]) == (
        "mlpipeline",
        "metadb",
        "cachedb",
    )
    assert config["ConMaxLifeTime"] == "120s"
    if version == "2.14.4":
        assert (config["dbHost"], config["dbPort"]) == ("mysql", "3306")
    else:
        assert "dbHost" not in config
    # No in-cluster MySQL, and nothing else called mysql.
    assert [o["kind"] for o in rendered.objects if o["metadata"]["name"] == "mysql"] == ["Service"]


def _ingress_peers(policy: dict[str, Any]) -> list[dict[str, Any]]:
    return [peer for rule in policy["spec"].get("ingress", []) for peer in rule.get("from", [])]


@pytest.mark.slow
def test_only_the_database_clients_reach_the_proxy(case):
    _, _, rendered = case
    policy = find(rendered, "NetworkPolicy", "cloudsql-proxy")
    proxy = find(rendered, "Deployment", "cloudsql-proxy")
    assert selects(policy["spec"]["podSelector"], pod_labels(proxy))
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    assert [p for r in policy["spec"]["ingress"] for p in r["ports"]] == [
        {"port": 3306, "protocol": "TCP"}
    ]
    peers = _ingress_peers(policy)
    assert all(set(p) == {"podSelector"} for p in peers)  # same namespace, pods only
    allowed = {
        o["metadata"]["name"]
        for o in rendered.namespaced_objects
        if o["kind"] == "Deployment"
        and any(selects(p["podSelector"], pod_labels(o)) for p in peers)
    }
    assert allowed == {"ml-pipeline", "cache-server", "metadata-grpc-deployment"}
    # Every Deployment that reads the database settings is among them.
    readers = {
        o["metadata"]["name"]
        for o in rendered.namespaced_objects
        if o["kind"] == "Deployment"
        and any(
            k in json.dumps(c.get("env", []))
            for c in containers(o)
            if not c["name"].startswith("wait-for")
            for k in ('"mysqlHost"', '"dbHost"')
        )
    }
    assert readers == allowed


@pytest.mark.slow
def test_the_ui_is_reachable_only_from_the_cluster_and_the_load_balancer(case):
    env, _, rendered = case
    ui = find(rendered, "Deployment", "ml-pipeline-ui")
    policies = [
        o
        for o in rendered.objects
        if o["kind"] == "NetworkPolicy" and selects(o["spec"]["podSelector"], pod_labels(ui))
    ]
    peers = [p for policy in policies for p in _ingress_peers(policy)]
    ports = {
        (p["port"], p["protocol"])
        for policy in policies
        for r in policy["spec"]["ingress"]
        for p in r["ports"]
    }
    assert ports == {(3000, "TCP")}
    cidrs = {p["ipBlock"]["cidr"] for p in peers if "ipBlock" in p}
    assert cidrs == ({"130.211.0.0/22", "35.191.0.0/16"} if env == "prod" else set())
    assert {"namespaceSelector": {}, "podSelector": {}} in peers


@pytest.mark.slow
def test_prod_exposes_the_ui_through_iap(render):
    outputs = prod_outputs()
    for version in VERSIONS:
        rendered = render("prod", version)
        ingress = find(rendered, "Ingress", "kfp-ui")
        notes = ingress["metadata"]["annotations"]
        assert notes["kubernetes.io/ingress.class"] == "gce"
        assert notes["kubernetes.io/ingress.global-static-ip-name"] == outputs.static_ip_name
        assert notes["networking.gke.io/managed-certificates"] == "kfp-ui"
        assert notes["networking.gke.io/v1beta1.FrontendConfig"] == "kfp-ui"
        [rule] = ingress["spec"]["rules"]
        assert rule["host"] == outputs.domain
        assert rule["http"]["paths"][0]["backend"]["service"] == {
            "name": "ml-pipeline-ui",
            "port": {"name": "http"},
        }
        assert (
            find(rendered, "FrontendConfig", "kfp-ui")["spec"]["redirectToHttps"]["enabled"] is True
        )
        backend = find(rendered, "BackendConfig", "kfp-ui")["spec"]
        assert backend["iap"] == {
            "enabled": True,
            "oauthclientCredentials": {"secretName": IAP_SECRET},
        }
        assert backend["healthCheck"]["requestPath"] == "/apis/v1beta1/healthz"
        assert backend["healthCheck"]["port"] == 3000
        assert backend["healthCheck"]["type"] == "HTTP"
        assert backend["timeoutSec"] >= 600
        # The health check is the UI's own probe, on the port the Service targets.
        ui = containers(find(rendered, "Deployment", "ml-pipeline-ui"))[0]
        assert ui["readinessProbe"]["httpGet"] == {"path": "/apis/v1beta1/healthz", "port": 3000}
        service = find(rendered, "Service", "ml-pipeline-ui")
        assert service["spec"]["ports"][0]["targetPort"] == 3000
        assert json.loads(service["metadata"]["annotations"]["cloud.google.com/neg"]) == {
            "ingress": True
        }
        assert json.loads(
            service["metadata"]["annotations"]["cloud.google.com/backend-config"]
        ) == {"default": "kfp-ui"}


@pytest.mark.slow
def test_dev_has_no_ingress(render):
    for version in VERSIONS:
        rendered = render("dev", version)
        kinds = {o["kind"] for o in rendered.objects}
        assert not kinds & {"Ingress", "BackendConfig", "FrontendConfig", "ManagedCertificate"}
        annotations = find(rendered, "Service", "ml-pipeline-ui")["metadata"].get("annotations", {})
        assert "cloud.google.com/backend-config" not in annotations


# The contract and the overlay must agree.


def test_a_domain_without_iap_ingress_is_refused(project):
    fixture = dev_outputs().model_copy(update={"domain": "kfp.dev.example.com"})
    with pytest.raises(ConfigError, match="does not expose the UI") as info:
        compose.render(project, "dev", upstream_dir=UPSTREAM, outputs=fixture)
    assert "iap-ingress" in (info.value.hint or "")


def test_iap_ingress_without_a_domain_is_refused(project):
    no_domain = prod_outputs().model_copy(update={"domain": "", "static_ip_name": ""})
    with pytest.raises(ConfigError, match="no-domain mode"):
        compose.render(project, "prod", upstream_dir=UPSTREAM, outputs=no_domain)


def test_another_environments_contract_is_refused(project):
    with pytest.raises(ConfigError, match="is for environment 'prod'"):
        compose.render(project, "dev", upstream_dir=UPSTREAM, outputs=prod_outputs())


def test_a_pipeline_root_outside_the_bucket_is_refused(project):
    elsewhere = prod_outputs().model_copy(update={"pipeline_root": "gs://other-bucket/root"})
    with pytest.raises(ConfigError, match="not inside gs://acme-ml-prod-kfpprod-artifacts"):
        compose.render(project, "prod", upstream_dir=UPSTREAM, outputs=elsewhere)


def test_unknown_environment_lists_the_overlays(project):
    with pytest.raises(ConfigError, match="no overlay for environment 'qa'") as info:
        compose.render(project, "qa", upstream_dir=UPSTREAM, outputs=dev_outputs())
    assert "dev, prod" in (info.value.hint or "")


# Registry mirror.


def test_missing_upstream_sources_fail_with_a_clear_message(monkeypatch, tmp_path):
    monkeypatch.setattr(sys.modules[__name__], "UPSTREAM", tmp_path / "absent")
    with pytest.raises(pytest.fail.Exception, match="unpacked upstream releases are missing"):
        require_upstream()


def test_an_unsupported_version_is_refused(project):
    with pytest.raises(ConfigError, match=r"KFP 9\.9\.9 is not supported"):
        compose.render(
            project, "dev", version="9.9.9", upstream_dir=UPSTREAM, outputs=dev_outputs()
        )


@pytest.mark.slow
def test_registry_mirror_rewrites_every_image_reference(tmp_path):
    require_upstream()
    shutil.copytree(REPO / "manifests", tmp_path / "manifests")
    project = Project(tmp_path)  # its own build copies: the module's renders stay unmirrored
    prefix = "europe-west1-docker.pkg.dev/acme-ml-prod"
    mirrors = compose.parse_mirrors(
        [prefix, "ghcr.io=europe-west1-docker.pkg.dev/acme-ml-prod/github"]
    )
    assert mirrors["ghcr.io"].endswith("/github")
    assert mirrors["quay.io"] == f"{prefix}/quay"
    for version in VERSIONS:
        rendered = compose.render(
            project,
            "prod",
            version=version,
            upstream_dir=UPSTREAM,
            outputs=prod_outputs(),
            registry_mirrors=mirrors,
        )
        refs = [
            ref
            for obj in rendered.objects
            for ref in [c["image"] for c in containers(obj)] + image_values(obj)
        ]
        assert len(refs) > 15
        assert all(ref.startswith(prefix + "/") for ref in refs), [
            r for r in refs if not r.startswith(prefix)
        ]
        for registry in compose.DEFAULT_MIRROR_REPOSITORIES:
            assert re.search(rf"(?<![\w.\-/]){re.escape(registry)}/", rendered.namespaced) is None
        assert f"{prefix}/docker-hub/library/alpine:3.23" in rendered.text or version == "2.14.4"
        assert f"{prefix}/github/kubeflow/kfp-api-server:{version}" in rendered.text


def test_mirror_rewrite_leaves_urls_and_other_registries_alone():
    mirrors = {"gcr.io": "x-docker.pkg.dev/p/gcr", "docker.io": "x-docker.pkg.dev/p/hub"}
    text = (
        "image: gcr.io/tfx-oss-public/ml_metadata_store_server:1.14.0\n"
        "url: https://gcr.io/v2/\n"
        "other: us.gcr.io/p/i:1\n"
        "arg: --executor-image docker.io/alpine:3.23\n"
    )
    assert compose.mirror_images(text, mirrors) == (
        "image: x-docker.pkg.dev/p/gcr/tfx-oss-public/ml_metadata_store_server:1.14.0\n"
        "url: https://gcr.io/v2/\n"
        "other: us.gcr.io/p/i:1\n"
        "arg: --executor-image x-docker.pkg.dev/p/hub/library/alpine:3.23\n"
    )


@pytest.mark.parametrize(
    "spec", ["not a path", "example.com=x-docker.pkg.dev/p/r", "ghcr.io=not a path"]
)
def test_bad_registry_mirror_is_a_config_error(spec):
    with pytest.raises(ConfigError, match="--registry-mirror"):
        compose.parse_mirrors([spec])


# Our kustomization files.


def _our_kustomizations() -> list[Path]:
    return sorted((REPO / "manifests").rglob("kustomization.yaml"))


def test_our_kustomizations_use_only_modern_fields():
    allowed = {
        "apiVersion",
        "kind",
        "namespace",
        "resources",
        "components",
        "patches",
        "replacements",
        "labels",
        "images",
        "configMapGenerator",
        "secretGenerator",
    }
    forbidden = {"vars", "patchesStrategicMerge", "patchesJson6902", "bases", "commonLabels"}
    files = _our_kustomizations()
    assert len(files) >= 12
    for path in files:
        data = load(path.read_text())
        assert set(data) <= allowed, f"{path.relative_to(REPO)}: {set(data) - allowed}"
        assert not set(data) & forbidden
        expected = "Component" if path.parent.parent.name == "components" else "Kustomization"
        assert data["kind"] == expected, path
        for entry in data.get("resources", []) + data.get("components", []):
            assert "://" not in entry, f"remote base in {path}"


def test_every_component_is_used_by_an_overlay_or_is_a_version():
    components = {p.name for p in (REPO / "manifests" / "components").iterdir() if p.is_dir()}
    used = set()
    for overlay in (REPO / "manifests" / "overlays").iterdir():
        data = load((overlay / "kustomization.yaml").read_text())
        used |= {Path(c).name for c in data["components"]}
        assert data["components"][0] == "../../version"
    versions = {f"kfp-{v.rsplit('.', 1)[0]}" for v in VERSIONS}
    assert components == (used - {"version"}) | versions


# checkov. Failures on objects kfp-gcp writes must be zero (fixed, or skipped with a reason
# in a checkov.io/skipN annotation); failures on upstream objects are measured and may not
# grow beyond the numbers recorded in docs/manifests.md.


@pytest.fixture(scope="module")
def checkov_results(render, tmp_path_factory) -> dict[tuple[str, str], dict[str, Any]]:
    folder = tmp_path_factory.mktemp("checkov")
    checkov = Path(sys.executable).parent / "checkov"
    assert checkov.is_file(), "checkov is not installed (uv sync installs the dev group)"
    running = {}
    for env, version in CASES:
        path = folder / f"{env}-{version}.yaml"
        path.write_text(render(env, version).text)
        running[(env, version)] = subprocess.Popen(
            [
                str(checkov),
                "-f",
                str(path),
                "--framework",
                "kubernetes",
                "--skip-download",
                "-o",
                "json",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env={
                **os.environ,
                "BC_SKIP_MAPPING": "TRUE",
                "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false",
            },
        )
    results = {}
    for key, process in running.items():
        out, _ = process.communicate(timeout=300)
        data = json.loads(out)
        results[key] = data[0] if isinstance(data, list) else data
    return results


def _ours(rendered: compose.Rendered) -> set[str]:
    """checkov's resource ids (Kind.namespace.name) of the objects kfp-gcp writes."""
    base = {_key(o) for o in upstream_baseline(rendered)}
    return {
        f"{k}.{ns or 'default'}.{n}"
        for k, ns, n in (_key(o) for o in rendered.objects)
        if (k, ns, n) not in base
    }


def recorded_checkov() -> dict[tuple[str, str], tuple[int, int]]:
    rows = re.findall(
        r"^\| (dev|prod), (\d+\.\d+\.\d+) \| (\d+) \| (\d+) \|", DOCS.read_text(), re.M
    )
    return {(env, version): (int(ours), int(theirs)) for env, version, ours, theirs in rows}


@pytest.mark.slow
def test_checkov_finds_nothing_on_our_objects_and_no_more_on_upstreams(render, checkov_results):
    recorded = recorded_checkov()
    assert set(recorded) == set(CASES), "docs/manifests.md must record checkov for every render"
    measured = {}
    for (env, version), result in checkov_results.items():
        ours = _ours(render(env, version))
        failed = result["results"]["failed_checks"]
        # A Deployment's pod template is reported as Pod.<ns>.<deployment>.<labels>.
        mine = [
            f
            for f in failed
            if f["resource"] in ours
            or any(
                f["resource"].startswith(f"Pod.kubeflow.{o.split('.')[2]}.")
                for o in ours
                if o.startswith("Deployment.")
            )
        ]
        measured[(env, version)] = (len(mine), len(failed) - len(mine))
        assert not mine, [(f["resource"], f["check_id"], f["check_name"]) for f in mine]
        skipped = {(s["resource"], s["check_id"]) for s in result["results"]["skipped_checks"]}
        assert ("Deployment.kubeflow.cloudsql-proxy", "CKV_K8S_43") in skipped
    for key, (ours, theirs) in measured.items():
        assert ours == recorded[key][0]
        assert theirs <= recorded[key][1], (
            f"checkov finds {theirs} failures on upstream objects in {key}, more than the "
            f"{recorded[key][1]} recorded in docs/manifests.md"
        )


# The CLI.


@pytest.mark.slow
def test_cli_render_writes_yaml_and_a_summary(tmp_path, monkeypatch):
    require_upstream()
    monkeypatch.setenv("KFP_GCP_UPSTREAM_DIR", str(UPSTREAM))
    root = tmp_path / "repo"
    shutil.copytree(REPO / "manifests", root / "manifests")
    for folder in ("components", "pipelines"):
        (root / folder).mkdir()
    outputs = tmp_path / "prod.json"
    outputs.write_text((FIXTURES / "platform-outputs-prod.json").read_text())
    runner = CliRunner()
    result = runner.invoke(
        app,
        [
            "--project-dir",
            str(root),
            "manifests",
            "render",
            "--env",
            "prod",
            "--version",
            "2.14.4",
            "--outputs",
            str(outputs),
        ],
    )
    assert result.exit_code == 0, result.output
    docs = load_all(result.stdout)
    assert docs[0]["kind"] == "Namespace"
    assert "Ingress" in {d["kind"] for d in docs}
    out = tmp_path / "out" / "prod.yaml"
    result = runner.invoke(
        app,
        [
            "--project-dir",
            str(root),
            "-o",
            "json",
            "manifests",
            "render",
            "--env",
            "prod",
            "--outputs",
            str(outputs),
            "--out",
            str(out),
            "--registry-mirror",
            "europe-west1-docker.pkg.dev/acme-ml-prod",
        ],
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    summary = json.loads(result.stderr)
    assert summary["version"] == "2.17.0"
    assert summary["objects"] == len(load_all(out.read_text()))
    assert summary["kinds"]["Ingress"] == {"cluster-scoped": 0, "namespaced": 1}
    assert (
        "europe-west1-docker.pkg.dev/acme-ml-prod/ghcr/kubeflow/kfp-frontend:2.17.0"
        in out.read_text()
    )


def test_cli_render_reports_a_missing_contract_file(tmp_path):
    result = CliRunner().invoke(
        app,
        [
            "--project-dir",
            str(REPO),
            "manifests",
            "render",
            "--env",
            "dev",
            "--outputs",
            str(tmp_path / "nope.json"),
        ],
    )
    assert result.exit_code == ConfigError.exit_code
    assert "cannot read the outputs contract" in result.stderr

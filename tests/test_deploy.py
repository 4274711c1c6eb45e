"""`manifests apply`, live `diff` and `ui` against recording fakes of gcloud and kubectl,
and the Secret Manager client against a local server that answers like the real API."""

import base64
import json
import os
import stat
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
import yaml

from kfp_gcp.errors import ConfigError, RunError, ToolError
from kfp_gcp.services.cluster import deploy
from kfp_gcp.services.cluster.access import SecretManager, unavailable, wait_for_deployments
from kfp_gcp.services.infra.terraform import parse_outputs
from tests import toolchain
from tests.conftest import REPO

OUTPUTS = parse_outputs((REPO / "tests/fixtures/platform-outputs.json").read_text(), "fixture")

FAKE = """\
#!{python}
import json, os, sys
name = os.path.basename(sys.argv[0])
stdin = sys.stdin.read() if "-" in sys.argv[1:] else ""
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write(json.dumps({{"tool": name, "args": sys.argv[1:], "stdin": stdin,
                          "kubeconfig": os.environ.get("KUBECONFIG")}}) + "\\n")
args = sys.argv[1:]
if name == "gcloud":
    open(os.environ["KUBECONFIG"], "w").write("apiVersion: v1\\nkind: Config\\n")
    sys.exit(int(os.environ.get("FAKE_GCLOUD_FAIL", "0")))
if args[:2] == ["get", "deployments"]:
    print(open(os.environ["FAKE_DEPLOYMENTS"]).read())
elif args[:2] == ["get", "secrets"]:
    print(os.environ.get("FAKE_EXISTING_SECRETS", ""))
elif args[0] == "port-forward":
    print("Forwarding from 127.0.0.1:8080 -> 3000")
elif args[0] == "diff":
    print("diff -u live rendered")
    sys.exit(1)
"""

CLUSTER_SCOPED = """\
apiVersion: v1
kind: Namespace
metadata: {name: kubeflow}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: workflows.argoproj.io}
"""
NAMESPACED = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: ml-pipeline, namespace: kubeflow}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: cloudsql-proxy, namespace: kubeflow}
"""
WITH_IAP = (
    NAMESPACED
    + """\
---
apiVersion: cloud.google.com/v1
kind: BackendConfig
metadata: {name: ml-pipeline-ui, namespace: kubeflow}
spec:
  iap: {enabled: true, oauthclientCredentials: {secretName: kfp-iap-oauth}}
"""
)


def deployments(*available):
    return {
        "items": [
            {
                "metadata": {"name": name, "generation": 1},
                "spec": {"replicas": 2},
                "status": {"availableReplicas": 2 if ok else 0, "observedGeneration": 1},
            }
            for name, ok in available
        ]
    }


@pytest.fixture
def fakes(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("gcloud", "kubectl"):
        script = bin_dir / name
        script.write_text(FAKE.format(python=sys.executable))
        script.chmod(script.stat().st_mode | stat.S_IEXEC)
    log = tmp_path / "log.jsonl"
    state = tmp_path / "deployments.json"
    state.write_text(json.dumps(deployments(("ml-pipeline", True), ("cloudsql-proxy", True))))
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_LOG", str(log))
    monkeypatch.setenv("FAKE_DEPLOYMENTS", str(state))
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "my-own-kubeconfig"))
    # The venv's kubectl would win over PATH: the cluster code gets the fakes (rendering
    # keeps the real kubectl for kustomize).
    monkeypatch.setattr("kfp_gcp.services.cluster.access.tool", lambda name: str(bin_dir / name))

    def calls():
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []

    return calls


class FakeSecretManager:
    def __init__(self, values):
        self.values = values
        self.read = []

    def access(self, secret):
        self.read.append(secret)
        if secret not in self.values:
            raise ConfigError(f"secret {secret} does not exist or has no version")
        return self.values[secret]


SECRETS = {OUTPUTS.cloudsql_password_secret: "s3cr3t-db-password"}


def test_apply_goes_cluster_scoped_then_secrets_then_the_rest_then_waits(fakes):
    steps, progress = [], []
    report = deploy.apply(
        OUTPUTS,
        "2.17.0",
        CLUSTER_SCOPED,
        NAMESPACED,
        steps.append,
        lambda done, total: progress.append((done, total)),
        manager=FakeSecretManager(SECRETS),
    )
    calls = fakes()
    gcloud = calls[0]
    assert gcloud["tool"] == "gcloud"
    assert gcloud["args"][:4] == ["container", "clusters", "get-credentials", OUTPUTS.cluster_name]
    assert "--dns-endpoint" in gcloud["args"]
    assert f"--location={OUTPUTS.cluster_location}" in gcloud["args"]
    kube = [c for c in calls if c["tool"] == "kubectl"]
    # Never the person's own kubeconfig: a private one for exactly this cluster.
    assert {c["kubeconfig"] for c in calls} == {gcloud["kubeconfig"]}
    assert not gcloud["kubeconfig"].endswith("my-own-kubeconfig")
    order = [c["args"][0] + ("" if c["args"][0] != "get" else " " + c["args"][1]) for c in kube]
    assert order == ["get secrets", "apply", "wait", "apply", "apply", "get deployments"]
    assert kube[1]["stdin"] == CLUSTER_SCOPED
    assert "--server-side" in kube[1]["args"]
    assert kube[2]["args"][-1] == "crd/workflows.argoproj.io"
    secret_docs = list(yaml.safe_load_all(kube[3]["stdin"]))
    by_name = {d["metadata"]["name"]: d for d in secret_docs}
    assert set(by_name) == {"mysql-secret", "mlpipeline-minio-artifact"}
    mysql = by_name["mysql-secret"]["data"]
    assert base64.b64decode(mysql["password"]).decode() == "s3cr3t-db-password"
    assert base64.b64decode(mysql["username"]).decode() == OUTPUTS.cloudsql_user
    assert kube[4]["stdin"] == NAMESPACED
    # The secret value went through stdin only.
    assert not any("s3cr3t" in " ".join(c["args"]) for c in calls)
    assert report.deployments == ["cloudsql-proxy", "ml-pipeline"]
    assert progress[-1] == (2, 2)


def test_apply_keeps_an_existing_object_store_secret(fakes, monkeypatch):
    monkeypatch.setenv("FAKE_EXISTING_SECRETS", "secret/mlpipeline-minio-artifact")
    report = deploy.apply(
        OUTPUTS,
        "2.17.0",
        CLUSTER_SCOPED,
        NAMESPACED,
        print,
        lambda *_: None,
        manager=FakeSecretManager(SECRETS),
    )
    assert report.secrets == ["mysql-secret"]


def test_iap_secret_is_named_by_the_rendered_backend_config(fakes):
    prod = OUTPUTS.model_copy(
        update={
            "iap_client_id_secret": "projects/p/secrets/id",
            "iap_client_secret_secret": "projects/p/secrets/secret",
        }
    )
    manager = FakeSecretManager(
        {**SECRETS, "projects/p/secrets/id": "client-123", "projects/p/secrets/secret": "shh"}
    )
    report = deploy.apply(
        prod, "2.17.0", CLUSTER_SCOPED, WITH_IAP, print, lambda *_: None, manager=manager
    )
    assert "kfp-iap-oauth" in report.secrets
    secret_apply = [c for c in fakes() if c["tool"] == "kubectl" and c["args"][0] == "apply"][1]
    docs = {d["metadata"]["name"]: d for d in yaml.safe_load_all(secret_apply["stdin"])}
    assert base64.b64decode(docs["kfp-iap-oauth"]["data"]["client_id"]).decode() == "client-123"


def test_a_missing_secret_stops_apply_before_anything_is_written(fakes):
    with pytest.raises(ConfigError, match="does not exist"):
        deploy.apply(
            OUTPUTS,
            "2.17.0",
            CLUSTER_SCOPED,
            NAMESPACED,
            print,
            lambda *_: None,
            manager=FakeSecretManager({}),
        )
    assert not [c for c in fakes() if c["args"][0] == "apply"]


def test_kfp_2_14_needs_hmac_keys_and_says_how_to_give_them(fakes):
    with pytest.raises(ConfigError) as error:
        deploy.apply(
            OUTPUTS,
            "2.14.4",
            CLUSTER_SCOPED,
            NAMESPACED,
            print,
            lambda *_: None,
            manager=FakeSecretManager(SECRETS),
        )
    assert "--object-store-secret" in (error.value.hint or "")
    assert not [c for c in fakes() if c["args"][0] == "apply"]
    keys = {"projects/p/secrets/hmac": json.dumps({"accesskey": "GOOG1E", "secretkey": "k"})}
    report = deploy.apply(
        OUTPUTS,
        "2.14.4",
        CLUSTER_SCOPED,
        NAMESPACED,
        print,
        lambda *_: None,
        manager=FakeSecretManager({**SECRETS, **keys}),
        object_store_secret="projects/p/secrets/hmac",
    )
    assert "mlpipeline-minio-artifact" in report.secrets


def test_failing_credentials_are_reported_with_the_cluster(fakes, monkeypatch):
    monkeypatch.setenv("FAKE_GCLOUD_FAIL", "1")
    with pytest.raises(
        ToolError, match=f"cannot get credentials for cluster {OUTPUTS.cluster_name}"
    ):
        deploy.apply(
            OUTPUTS,
            "2.17.0",
            CLUSTER_SCOPED,
            NAMESPACED,
            print,
            lambda *_: None,
            manager=FakeSecretManager(SECRETS),
        )


def test_waiting_names_the_deployments_that_never_became_available():
    class Kube:
        def deployments(self, namespace):
            return deployments(("ml-pipeline", True), ("cache-server", False))["items"]

    now = [0.0]
    with pytest.raises(RunError) as error:
        wait_for_deployments(
            Kube(),
            "kubeflow",
            {"ml-pipeline", "cache-server", "ghost"},
            60,
            lambda *_: None,
            clock=lambda: now[0],
            sleep=lambda s: now.__setitem__(0, now[0] + s),
        )
    assert (
        "2 Deployment(s) did not become available in 60s: cache-server, ghost"
        in error.value.message
    )


def test_a_rollout_in_progress_is_not_available():
    rolling = deployments(("ml-pipeline", True))["items"]
    rolling[0]["metadata"]["generation"] = 2  # the controller has not seen the new spec
    assert unavailable(rolling, {"ml-pipeline"}) == ["ml-pipeline"]


def test_live_diff_and_port_forward_use_the_private_kubeconfig(fakes):
    assert "diff -u live rendered" in deploy.live_diff(OUTPUTS, CLUSTER_SCOPED, NAMESPACED)
    urls = []
    assert deploy.port_forward(OUTPUTS, 8080, urls.append) == 0
    assert urls == ["http://localhost:8080"]
    forward = next(c for c in fakes() if c["args"][:1] == ["port-forward"])
    assert "svc/ml-pipeline-ui" in forward["args"]
    assert "8080:80" in forward["args"]


# Secret Manager against a local server shaped like the v1 API.


class SecretServer(BaseHTTPRequestHandler):
    script: ClassVar[list] = []
    seen: ClassVar[list] = []

    def do_GET(self):
        SecretServer.seen.append((self.path, self.headers.get("Authorization")))
        status, body = SecretServer.script.pop(0)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps(body).encode())

    def log_message(self, *args):
        pass


@pytest.fixture
def secret_server(socket_enabled):
    server = HTTPServer(("127.0.0.1", 0), SecretServer)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    SecretServer.seen = []
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def payload(text):
    return {
        "name": "projects/p/secrets/s/versions/3",
        "payload": {"data": base64.b64encode(text.encode()).decode()},
    }


def test_secret_manager_reads_the_latest_version_with_a_bearer_token(secret_server):
    SecretServer.script = [(200, payload("hunter2"))]
    manager = SecretManager(token=lambda: "tok", base_url=secret_server)
    assert manager.access("projects/p/secrets/s") == "hunter2"
    assert SecretServer.seen == [("/v1/projects/p/secrets/s/versions/latest:access", "Bearer tok")]


def test_secret_manager_retries_unavailable_then_succeeds(secret_server, monkeypatch):
    monkeypatch.setattr("kfp_gcp.services.cluster.access.time.sleep", lambda s: None)
    SecretServer.script = [(503, {}), (429, {}), (200, payload("ok"))]
    manager = SecretManager(token=lambda: "tok", base_url=secret_server)
    assert manager.access("projects/p/secrets/s") == "ok"
    assert len(SecretServer.seen) == 3


@pytest.mark.parametrize(("status", "message"), [(404, "has no version"), (403, "not allowed")])
def test_secret_manager_errors_say_what_to_do(secret_server, status, message):
    SecretServer.script = [(status, {"error": {"code": status}})]
    with pytest.raises(ConfigError, match=message):
        SecretManager(token=lambda: "tok", base_url=secret_server).access("projects/p/secrets/s")


def test_ui_command_prints_the_local_url(fakes):
    from typer.testing import CliRunner

    from kfp_gcp.cli import app

    result = CliRunner().invoke(
        app,
        ["--project-dir", str(REPO), "ui", "--env", "dev", "--port", "8080",
         "--outputs", str(REPO / "tests/fixtures/platform-outputs-prod.json")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "KFP UI: http://localhost:8080" in result.stdout
    assert "also serves the UI at https://kfp.example.com" in result.stderr


# The CLI over render + deploy, offline against the upstream sources tests/toolchain.py finds.

UPSTREAM = toolchain.UPSTREAM.path


def cli(*args):
    from typer.testing import CliRunner

    from kfp_gcp.cli import app

    return CliRunner().invoke(app, ["--project-dir", str(REPO), *args])


@pytest.mark.slow
def test_diff_between_versions_lists_the_changed_objects():
    toolchain.require_upstream()
    result = cli(
        "manifests", "diff", "--env", "prod", "--from", "2.14.4", "--to", "2.17.0",
        "--outputs", str(REPO / "tests/fixtures/platform-outputs-prod.json"),
        "--upstream-dir", str(UPSTREAM),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    # Argo moves from v3.6.7 to v4.0.5; 2.17.0 stops reading dbHost.
    assert "+++ b/Deployment kubeflow/workflow-controller" in result.stdout
    assert "quay.io/argoproj/workflow-controller:v4.0.5" in result.stdout
    assert "-  dbHost: mysql" in result.stdout
    assert "KFP 2.14.4 -> 2.17.0:" in result.stderr


def test_diff_needs_both_from_and_to():
    result = cli("manifests", "diff", "--env", "dev", "--from", "2.14.4")
    assert result.exit_code == ConfigError.exit_code
    assert "--from and --to go together" in result.stderr


def test_object_diff_names_added_removed_and_changed():
    from kfp_gcp.services.manifests.compose import object_diff

    cm = {
        "kind": "ConfigMap",
        "metadata": {"name": "a", "namespace": "kubeflow"},
        "data": {"x": "1"},
    }
    changed = {**cm, "data": {"x": "2"}}
    extra = {"kind": "Namespace", "metadata": {"name": "kubeflow"}}
    result = object_diff([cm, extra], [changed])
    assert result.changed == ["ConfigMap kubeflow/a"]
    assert result.removed == ["Namespace kubeflow"]
    assert result.added == []
    assert "-  x: '1'" in result.text
    assert "+  x: '2'" in result.text


@pytest.mark.slow
def test_apply_command_renders_and_applies_with_the_fakes(fakes, monkeypatch):
    class Manager:
        def access(self, secret):
            return "pw"

    monkeypatch.setattr(deploy, "SecretManager", Manager)
    rendered_names = [
        "cache-server", "cloudsql-proxy", "metadata-envoy-deployment", "metadata-grpc-deployment",
        "metadata-writer", "ml-pipeline", "ml-pipeline-persistenceagent",
        "ml-pipeline-scheduledworkflow", "ml-pipeline-ui", "ml-pipeline-viewer-crd",
        "ml-pipeline-visualizationserver", "workflow-controller", "cache-deployer-deployment",
    ]  # fmt: skip
    state = deployments(*[(name, True) for name in rendered_names])
    Path(os.environ["FAKE_DEPLOYMENTS"]).write_text(json.dumps(state))
    toolchain.require_upstream()
    result = cli(
        "-o", "json", "manifests", "apply", "--env", "dev",
        "--outputs", str(REPO / "tests/fixtures/platform-outputs.json"),
        "--upstream-dir", str(UPSTREAM),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["version"] == "2.17.0"
    assert report["secrets"] == ["mlpipeline-minio-artifact", "mysql-secret"]
    assert set(report["deployments"]) <= set(rendered_names)
    assert "cloudsql-proxy" in report["deployments"], result.stdout[:3000]
    applied = [c for c in fakes() if c["tool"] == "kubectl" and c["args"][0] == "apply"]
    assert "kind: Namespace" in applied[0]["stdin"]
    assert "kind: Deployment" in applied[2]["stdin"]

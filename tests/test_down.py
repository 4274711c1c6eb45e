"""`kfp-gcp down` through the recorded seams: the order (final backup, schedules off, KFP
off the cluster, protections lifted, destroy behind the guard), what is kept, the typed
confirmation, the peering Cloud SQL holds on to, and a down resumed after a failure."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from kfp_gcp.cli import app
from kfp_gcp.errors import ConfigError, DestroyBlocked, ToolError
from kfp_gcp.services.infra import terraform
from kfp_gcp.services.kfp import publish
from kfp_gcp.services.kfp.api import KfpApi
from kfp_gcp.services.ops import down
from kfp_gcp.services.ops.sqladmin import SqlAdmin
from kfp_gcp.services.project import select
from tests import live_doubles as doubles
from tests.fake_kfp import FakeKfp
from tests.test_db import FakeSqlAdmin
from tests.test_doctor import live_repository
from tests.test_publish import SCHEDULES

pytestmark = pytest.mark.xdist_group("live")

PEERING_ERROR = (
    "Error waiting for Deleting Network: The network resource "
    "'projects/acme-ml-dev/global/networks/kfpdev-vpc' is already being used by "
    "'projects/acme-ml-dev/global/networks/kfpdev-vpc/peerings/servicenetworking-googleapis-com'"
)


class World:
    """dev applied and running: KFP installed, a pipeline with an enabled schedule, backups."""

    def __init__(self, repository, monkeypatch, tmp_path):
        self.repository = repository
        self.google = doubles.RecordedGoogle()
        self.kfp = FakeKfp().start()
        self.sql_server = FakeSqlAdmin(tmp_path / "sql.log")
        self.terraform = doubles.RecordedTerraform(applied=True)
        monkeypatch.setattr(terraform, "run_terraform", self.terraform)
        self.cluster = doubles.FakeCluster()
        self.order: list[str] = []
        answer = self.cluster.answer

        def kubectl(args, stdin):
            if args[0] == "delete":
                self.order.append(f"kubectl delete {args[1]}")
            return answer(args, stdin)

        self.cluster.answer = kubectl
        self.kfp.before_write = lambda path, query: self.order.append(f"kfp {path}")
        recorded = self.terraform

        def tf(args, cwd, sink, ok_codes=(0,)):
            if args[0] in ("apply", "state") or (args[0] == "plan" and "-destroy" in args):
                self.order.append("terraform " + " ".join(a for a in args[:2] if a[0] != "-"))
            return recorded(args, cwd, sink, ok_codes)

        monkeypatch.setattr(terraform, "run_terraform", tf)
        sql = SqlAdmin(lambda: doubles.TOKEN, base_url=self.sql_server.url, sleep=lambda s: None)
        self.live = doubles.live(
            self.google, self.cluster, sql=sql, kfp_port=self.kfp.server.server_address[1]
        )
        insert = sql.insert_backup

        def backup(*args):
            self.order.append("sql backup")
            return insert(*args)

        sql.insert_backup = backup
        self.steps: list[str] = []

    def deploy_schedule(self):
        folder = self.repository.root / "pipelines" / "training"
        (folder / "schedules.yaml").write_text(SCHEDULES.format(cron="0 0 2 * * *"))
        api = KfpApi(self.kfp.url, "kubeflow")
        summary = publish.deploy(
            api,
            self.repository,
            publish.compile_stream(self.repository, select(self.repository, "pipeline")),
            full=True,
        )
        publish.require_success(summary)
        self.order.clear()

    def down(self, confirmation="dev", **options):
        return down.down(
            self.repository, "dev", self.live, self.steps.append, lambda line: None,
            confirmation, **options,
        )  # fmt: skip

    def stop(self):
        self.google.stop()
        self.kfp.stop()
        self.sql_server.server.shutdown()
        self.sql_server.server.server_close()


@pytest.fixture
def world(make_project, monkeypatch, tmp_path, socket_enabled):
    found = World(live_repository(make_project), monkeypatch, tmp_path)
    yield found
    found.stop()


@pytest.mark.slow
def test_down_goes_in_order_and_keeps_the_data(world):
    world.deploy_schedule()
    settings = world.repository.root / "terraform/environments/dev/terraform.tfvars.json"
    committed = settings.read_text()
    report = world.down()
    enable = [p for p in world.order if p.startswith("kfp")]
    assert world.order == [
        "sql backup",
        *enable,
        "kubectl delete ingress",
        "kubectl delete namespace",
        "terraform apply",  # the protections lifted
        "terraform state list",
        "terraform state rm",
        "terraform plan",  # -destroy
        "terraform apply",
    ]
    assert enable
    assert all(p.endswith(":disable") for p in enable)
    assert all(r["mode"] == "DISABLE" for r in world.kfp.recurring.values())
    assert report.schedules_disabled == 1
    assert report.backup == "1764504001234"
    posted = [b for m, p, b, _ in world.sql_server.requests if m == "POST"]
    assert posted == [{"description": "kfp-gcp down: final backup of dev"}]
    # The artifact bucket left Terraform's state before the destroy, and nothing else did.
    rm = next(c for c in world.terraform.calls if c[:2] == ["state", "rm"])
    assert rm[2] == down.ARTIFACT_BUCKET
    assert world.terraform.state == []
    assert world.terraform.destroyed
    assert report.destroyed == len(doubles.ESTATE) - 1
    assert report.kept[0].startswith("gs://acme-ml-dev-kfpdev-artifacts (artifacts; to use it")
    # The protections were lifted in a copy; the committed settings are untouched.
    assert settings.read_text() == committed
    lifted = json.loads((world.repository.build_dir / "down/dev.tfvars.json").read_text())
    sections = ("cluster", "cloudsql", "ingress")
    assert {lifted["settings"][s]["deletion_protection"] for s in sections} == {False}
    plans = [c for c in world.terraform.calls if c[0] == "plan"]
    assert all(any(a.endswith("build/down/dev.tfvars.json") for a in c) for c in plans)


def test_nothing_happens_without_the_environments_name(world):
    with pytest.raises(ConfigError, match="is not the environment's name 'dev'"):
        world.down(confirmation="prod")
    assert world.terraform.calls == []
    assert world.cluster.calls == []


def test_delete_data_needs_no_backup(world):
    with pytest.raises(ConfigError, match="--delete-data deletes the database's backups"):
        world.down(delete_data=True)
    assert world.order == []


def test_delete_data_deletes_the_backups_and_the_bucket(world):
    backups = [r["id"] for r in world.sql_server.runs]
    report = world.down(backup=False, delete_data=True)
    assert report.deleted_backups == backups
    assert world.sql_server.runs == []
    assert world.live.gcloud_calls == [
        ["storage", "rm", "--recursive", "gs://acme-ml-dev-kfpdev-artifacts/**"]
    ]
    destroy = [c for c in world.terraform.calls if c[0] == "plan" and "-destroy" in c]
    assert destroy
    assert not any(c[:2] == ["state", "rm"] for c in world.terraform.calls)
    assert world.terraform.destroyed
    assert report.kept == []


def test_the_peering_cloud_sql_keeps_is_removed_and_the_destroy_planned_again(world):
    world.terraform.fail_destroy = PEERING_ERROR
    report = world.down(backup=False)
    assert world.live.gcloud_calls == [
        ["compute", "networks", "peerings", "delete", "servicenetworking-googleapis-com",
         "--network=kfpdev-vpc", "--project=acme-ml-dev", "--quiet"]
    ]  # fmt: skip
    assert [c for c in world.order if c.startswith("terraform plan")] == ["terraform plan"] * 2
    assert world.terraform.destroyed
    assert report.destroyed == 1  # the network, the second time


def test_a_down_that_failed_during_the_destroy_resumes(world):
    world.terraform.fail_destroy = "Error: timeout while waiting for state to become 'done'"
    with pytest.raises(ToolError, match="timeout while waiting"):
        world.down(backup=False)
    world.terraform.fail["output"] = 'Output "platform" not found'  # the destroy began
    report = world.down(backup=False)
    assert "using build/down/dev-outputs.json" in " ".join(world.steps)
    assert world.terraform.destroyed
    assert report.destroyed == 1


def test_a_destroy_that_would_delete_another_bucket_is_refused(world):
    world.terraform.state.append("module.extra.google_storage_bucket.datasets")
    with pytest.raises(DestroyBlocked) as blocked:
        world.down(backup=False)
    assert "delete module.extra.google_storage_bucket.datasets" in blocked.value.message
    assert not world.terraform.destroyed


def test_a_paused_environment_needs_no_backup_or_resume(world, tmp_path):
    contract = json.loads(doubles.OUTPUTS_FILE.read_text())
    contract["paused"] = True
    paused = tmp_path / "paused.json"
    paused.write_text(json.dumps(contract))
    with pytest.raises(ConfigError, match="its stopped database takes no backup"):
        world.down(outputs_file=paused)
    report = world.down(outputs_file=paused, backup=False)
    assert report.notes == ["paused: no recurring run starts, schedules left as they are"]
    assert world.terraform.destroyed


def test_kfp_that_does_not_answer_does_not_stop_the_teardown(world):
    del world.cluster.forwards["svc/ml-pipeline"]
    report = world.down(backup=False)
    assert report.notes[0].startswith("schedules not disabled, KFP did not answer")
    assert world.terraform.destroyed


def test_the_cli_asks_for_the_name_and_refuses_without_a_terminal(world, monkeypatch):
    base = ["--project-dir", str(world.repository.root), "down", "--env", "dev"]
    result = CliRunner().invoke(app, base)
    assert result.exit_code == 3
    assert "pass --confirm dev" in result.stderr
    monkeypatch.setattr("kfp_gcp.cli.common.interactive", lambda: True)
    monkeypatch.setattr("kfp_gcp.services.ops.live.Live.real", lambda **_: world.live)
    typed = CliRunner().invoke(app, [*base, "--no-backup"], input="dve\n")
    assert typed.exit_code == 3
    assert "'dve' is not the environment's name 'dev'" in typed.stderr
    assert world.terraform.calls == []

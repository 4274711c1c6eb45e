"""The guided path end to end, as a team runs it, through the commands and the recorded
seams (tests/live_doubles.py), with KFP's real render: `init` writes the configuration,
`up` brings dev up to a smoke run, `doctor` finds nothing wrong, `down` removes it. No
network, no cloud: every answer is recorded."""

from __future__ import annotations

import json
import shutil

import pytest
from typer.testing import CliRunner

from kfp_gcp.cli import app
from kfp_gcp.services.infra import terraform
from kfp_gcp.services.ops import live as live_module
from kfp_gcp.services.ops.sqladmin import SqlAdmin
from tests import live_doubles as doubles
from tests import toolchain
from tests.conftest import REPO
from tests.fake_artifact_registry import FakeArtifactRegistry
from tests.fake_kfp import FakeKfp
from tests.test_db import FakeSqlAdmin
from tests.test_doctor import live_repository

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("live")]

INIT = [
    "init", "--env", "dev", "--project-id", "acme-ml-dev", "--project-number", "123456789012",
    "--region", "europe-west1", "--prefix", "kfp",
    "--github-repository", "example-org/kfp-platform", "--github-repository-id", "123456789",
]  # fmt: skip


@pytest.fixture
def team(make_project, monkeypatch, tmp_path, socket_enabled):
    repository = live_repository(make_project)
    shutil.rmtree(repository.root / "manifests")
    shutil.copytree(REPO / "manifests", repository.root / "manifests")
    google = doubles.RecordedGoogle()
    kfp = FakeKfp().start()
    kfp.run_states = ["RUNNING", "RUNNING", "SUCCEEDED"]
    registry = FakeArtifactRegistry(tokens={doubles.TOKEN}).start()
    sql_server = FakeSqlAdmin(tmp_path / "sql.log")
    recorded = doubles.RecordedTerraform()
    monkeypatch.setattr(terraform, "run_terraform", recorded)
    monkeypatch.setattr(terraform, "terraform_argv", lambda: ["/usr/bin/terraform"])
    monkeypatch.setattr("kfp_gcp.services.cluster.access.tool", lambda n: f"/usr/bin/{n}")
    monkeypatch.setattr("kfp_gcp.services.cluster.access.time.sleep", lambda s: None)
    monkeypatch.setattr("kfp_gcp.services.kfp.runs.time.sleep", lambda s: None)
    cluster = doubles.FakeCluster(installed=False)
    live = doubles.live(
        google, cluster, kfp_port=kfp.server.server_address[1], registry=registry,
        builder=doubles.RecordedBuilder(registry),
        sql=SqlAdmin(lambda: doubles.TOKEN, base_url=sql_server.url, sleep=lambda s: None),
    )  # fmt: skip
    monkeypatch.setattr(live_module.Live, "real", classmethod(lambda cls, **_: live))
    yield repository, recorded, cluster, kfp
    google.stop()
    kfp.stop()
    registry.stop()
    sql_server.server.shutdown()
    sql_server.server.server_close()


def kfp_gcp(repository, *args, output="table"):
    return CliRunner().invoke(
        app, ["--project-dir", str(repository.root), "-o", output, *args], catch_exceptions=False
    )


def test_init_up_doctor_down(team):
    repository, recorded, cluster, kfp = team
    upstream = toolchain.require_upstream(toolchain.UPSTREAM.path)

    written = kfp_gcp(repository, *INIT)
    assert written.exit_code == 0, written.output
    assert "Next: review the files (git diff), then bootstrap" in written.stderr

    plan = kfp_gcp(repository, "up", "--env", "dev", "--dry-run")
    assert plan.exit_code == 0, plan.output
    assert recorded.calls == []  # the dry run called nothing

    brought = kfp_gcp(repository, "up", "--env", "dev", "--upstream-dir", str(upstream))
    assert brought.exit_code == 0, brought.output
    # Off a terminal (CI logs), a line per stage and its result.
    for title in ("Preflight", "Infrastructure", "Outputs contract", "Component images",
                  "KFP on the cluster", "Pipelines", "Smoke run"):  # fmt: skip
        assert f"==> {title}" in brought.stderr
    assert "✓ Smoke run" in brought.stderr
    assert "dev is up" in brought.stdout
    assert "kfp-gcp ui --env dev" in brought.stdout
    assert len(kfp.runs) == 1
    assert any("kind: CustomResourceDefinition" in m for m in cluster.applied)  # the real render

    checked = kfp_gcp(repository, "doctor", "--env", "dev", output="json")
    assert checked.exit_code == 0, checked.stdout
    report = json.loads(checked.stdout)
    assert {c["name"] for c in report["checks"] if c["status"] != "ok"} == {"certificate", "iap"}

    again = kfp_gcp(repository, "up", "--env", "dev", "--upstream-dir", str(upstream),
                    output="json")  # fmt: skip
    assert again.exit_code == 0, again.output
    stages = {s["name"]: s["status"] for s in json.loads(again.stdout)["stages"]}
    assert stages["infra"] == stages["manifests"] == stages["smoke"] == "up-to-date"

    removed = kfp_gcp(repository, "down", "--env", "dev", "--confirm", "dev")
    assert removed.exit_code == 0, removed.output
    assert recorded.destroyed
    assert cluster.deployments == []
    assert "gs://acme-ml-dev-kfpdev-artifacts" in removed.stdout  # kept

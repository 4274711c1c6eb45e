"""The bootstrap of a project and the state it leaves, with real Terraform (through
../shared/tools/tf-offline) keeping its state in a local fake of Cloud Storage
(tests/fake_gcs.py):

- the first run keeps the state in a local file, applies, moves the state into the bucket,
  checks the plan is empty and deletes the local copy (`kfp-gcp infra bootstrap`);
- the prod bootstrap after dev never touches dev's state (the bug of one shared state);
- the environment's empty state is created, so the read-only plan identity can init and
  plan (the gcs backend writes a state and a lock when none exists, even with -lock=false);
- the committed bootstrap and environment files agree with each other.

The bootstrap's Google resources can only be planned against mocks (tests/test_terraform.py
runs its terraform test file); here a terraform_data stands in for them, beside the real
versions.tf (backend, provider), variables.tf (with its validations) and the committed
<env>.tfvars.json and <env>.backend.hcl.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest
from typer.testing import CliRunner

from kfp_gcp.cli import app
from kfp_gcp.errors import ConfigError, RunError, ToolError
from kfp_gcp.services.infra import bootstrap, terraform
from kfp_gcp.services.project import Project
from tests.conftest import REPO
from tests.fake_gcs import FakeGcs
from tests.toolchain import TF_OFFLINE, terraform_command

BUCKETS = {"dev": "kfp-acme-ml-dev-tfstate", "prod": "kfp-acme-ml-prod-tfstate"}
OWNER, PLAN = "owner-token", "plan-token"
DEV_APPLY = "kfp-ci-apply@acme-ml-dev.iam.gserviceaccount.com"

STAND_IN = """\
# Stands for the bootstrap's Google resources (tests/test_bootstrap.py).
resource "terraform_data" "bootstrap" {
  input = var.project_id
}

output "github_variables" {
  value = {
    "GCP_CI_PLAN_SERVICE_ACCOUNT_${upper(one(var.ci.apply_environments))}" = (
      "kfp-ci-plan@${var.project_id}.iam.gserviceaccount.com"
    )
  }
}
"""


@pytest.fixture
def tf_env(monkeypatch):
    """Real terraform with tf-offline's provider mirror where ../shared exists; on a fork,
    the Terraform kfp-gcp runs with the real providers from the registry (the stand-in
    resources never call Google)."""
    if not TF_OFFLINE.exists():
        terraform_command()  # fails, saying what to provide, when there is no Terraform
        return
    exports = subprocess.run([str(TF_OFFLINE), "env"], capture_output=True, text=True, check=True)
    for line in exports.stdout.splitlines():
        if line.startswith("export "):
            name, _, value = line.removeprefix("export ").partition("=")
            value = value.replace('"$PATH"', os.environ["PATH"]).strip('"')
            monkeypatch.setenv(name, value)
    monkeypatch.delenv("TF_PLUGIN_CACHE_DIR", raising=False)


@pytest.fixture
def gcs(socket_enabled, tf_env, monkeypatch):
    server = FakeGcs(buckets=set(BUCKETS.values()), readers={PLAN}, writers={OWNER}).start()
    # The first run stays local until its apply created the bucket: never ask for a token.
    monkeypatch.delenv("GOOGLE_CREDENTIALS", raising=False)
    monkeypatch.setenv("GOOGLE_BACKEND_STORAGE_CUSTOM_ENDPOINT", server.endpoint)
    monkeypatch.setenv("GOOGLE_OAUTH_ACCESS_TOKEN", OWNER)
    yield server
    server.stop()


@pytest.fixture
def project(tmp_path):
    """A copy of the repository's terraform/ with the bootstrap's resources stood in for."""
    root = tmp_path / "repo"
    ignore = shutil.ignore_patterns(".terraform", "*.tfstate*", "local_backend_override.tf")
    shutil.copytree(REPO / "terraform", root / "terraform", ignore=ignore)
    folder = root / "terraform" / "bootstrap"
    for path in folder.glob("*.tf"):  # every resource file; the interface stays
        if path.name not in ("versions.tf", "variables.tf"):
            path.unlink()
    (folder / "stand_in.tf").write_text(STAND_IN)
    return Project(root)


def run_bootstrap(project, env, local_state=False, gcs=None):
    """Bootstrap `env`; on a first run (`gcs` given) its bucket appears only when the apply
    starts, as the real one is created by that apply."""
    steps: list[str] = []

    def confirm():
        if gcs is not None:
            assert gcs.log == [], "the first run touched Cloud Storage before its apply"
            gcs.buckets.add(BUCKETS[env])
        return True

    outcome = bootstrap.bootstrap(
        project, env, lambda line: None, steps.append, confirm, local_state=local_state
    )
    return outcome, steps


def state(gcs, env, name):
    return json.loads(gcs.text(BUCKETS[env], name))


@pytest.mark.slow
def test_first_run_applies_with_local_state_then_moves_it_into_the_bucket(gcs, project):
    gcs.buckets.clear()
    outcome, steps = run_bootstrap(project, "dev", local_state=True, gcs=gcs)

    assert outcome.applied
    assert outcome.migrated
    bootstrap_state = state(gcs, "dev", "bootstrap/default.tfstate")
    assert [r["type"] for r in bootstrap_state["resources"]] == ["terraform_data"]
    folder = project.root / "terraform" / "bootstrap"
    assert not (folder / "dev.tfstate").exists()
    assert not (folder / "dev.tfstate.backup").exists()
    assert not (folder / bootstrap.OVERRIDE_FILE).exists()
    # The environment's state exists, empty, where environments/dev/backend.hcl points.
    env_state = state(gcs, "dev", "environments/dev/default.tfstate")
    assert env_state["resources"] == []
    assert env_state["version"] == 4
    assert outcome.github_variables == {
        "GCP_CI_PLAN_SERVICE_ACCOUNT_DEV": "kfp-ci-plan@acme-ml-dev.iam.gserviceaccount.com"
    }
    assert any("move the state into gs://kfp-acme-ml-dev-tfstate/bootstrap" in s for s in steps)

    # Run again: the state is in the bucket, nothing to apply, nothing rewritten.
    generation = gcs.objects[(BUCKETS["dev"], "environments/dev/default.tfstate")].generation
    again, _ = run_bootstrap(project, "dev")
    assert not again.applied
    assert not again.migrated
    assert gcs.objects[(BUCKETS["dev"], "environments/dev/default.tfstate")].generation == (
        generation
    )


@pytest.mark.slow
def test_an_interrupted_first_run_continues_from_its_local_state(gcs, project):
    gcs.buckets.discard(BUCKETS["dev"])  # the apply "created" it, but it is not there yet
    with pytest.raises(ToolError, match="terraform init failed"):
        run_bootstrap(project, "dev", local_state=True)
    folder = project.root / "terraform" / "bootstrap"
    assert (folder / "dev.tfstate").is_file()  # applied, kept locally

    gcs.buckets.add(BUCKETS["dev"])
    outcome, _ = run_bootstrap(project, "dev")  # no --local-state: the local file decides

    assert not outcome.applied
    assert outcome.migrated
    assert not (folder / "dev.tfstate").exists()
    assert state(gcs, "dev", "bootstrap/default.tfstate")["resources"][0]["type"] == (
        "terraform_data"
    )


@pytest.mark.slow
def test_prod_bootstrap_after_dev_never_touches_dev_state(gcs, project):
    run_bootstrap(project, "dev", local_state=True)
    dev_objects = {k: v.generation for k, v in gcs.objects.items() if k[0] == BUCKETS["dev"]}
    gcs.log.clear()

    outcome, _ = run_bootstrap(project, "prod", local_state=True)

    assert outcome.applied  # prod plans its own resources, not dev's
    assert gcs.writes(bucket=BUCKETS["dev"]) == []
    assert all(entry[1] != BUCKETS["dev"] for entry in gcs.log)  # not even read
    assert {k: v.generation for k, v in gcs.objects.items() if k[0] == BUCKETS["dev"]} == (
        dev_objects
    )
    assert state(gcs, "prod", "bootstrap/default.tfstate")["resources"][0]["type"] == (
        "terraform_data"
    )
    assert outcome.github_variables == {
        "GCP_CI_PLAN_SERVICE_ACCOUNT_PROD": "kfp-ci-plan@acme-ml-prod.iam.gserviceaccount.com"
    }


def plan_identity_plans(project, env, monkeypatch):
    """init + plan -lock=false as the plan identity, on a root holding only the backend
    (the environment's resources need the real provider), with the committed backend.hcl."""
    monkeypatch.setenv("GOOGLE_OAUTH_ACCESS_TOKEN", PLAN)
    root = project.root / "plan-root"
    root.mkdir()
    (root / "main.tf").write_text('terraform {\n  backend "gcs" {}\n}\n')
    backend = project.root / "terraform" / "environments" / env / "backend.hcl"
    sink: list[str] = []
    terraform.run_terraform(
        ["init", "-input=false", "-no-color", f"-backend-config={backend}"], root, sink.append
    )
    terraform.run_terraform(["plan", "-input=false", "-no-color", "-lock=false"], root, sink.append)
    return sink


@pytest.mark.slow
def test_plan_identity_cannot_init_before_the_state_exists_and_is_told_why(gcs, project):
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setenv("GOOGLE_OAUTH_ACCESS_TOKEN", PLAN)
    try:
        with pytest.raises(ToolError) as caught:
            terraform.init(project, "dev", lambda line: None)
    finally:
        monkeypatch.undo()
    # The gcs backend tried to lock, to write the empty state: a reader may not.
    assert gcs.writes(token=PLAN) == [
        ("POST", BUCKETS["dev"], "environments/dev/default.tflock", PLAN)
    ]
    assert "does not exist yet" in caught.value.hint
    assert "kfp-gcp infra bootstrap --env ENV" in caught.value.hint
    assert "gs://kfp-acme-ml-dev-tfstate/environments/dev/default.tfstate" in caught.value.hint


@pytest.mark.slow
def test_after_the_bootstrap_the_plan_identity_plans_without_writing(gcs, project, monkeypatch):
    run_bootstrap(project, "dev", local_state=True)
    gcs.log.clear()

    plan_identity_plans(project, "dev", monkeypatch)

    assert gcs.writes() == []
    assert ("GET", BUCKETS["dev"], "environments/dev/default.tfstate", PLAN) in gcs.log


# The committed files, checked as `infra bootstrap` checks them before it runs anything.


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_committed_bootstrap_files_agree_with_their_environment(repo, env):
    files = bootstrap.check_files(repo, env)
    assert files.settings.ci.apply_environments == [env]
    assert files.settings.bucket == BUCKETS[env]


@pytest.mark.parametrize(
    ("file", "edit", "message"),
    [
        (
            "bootstrap/prod.tfvars.json",
            lambda d: d["ci"].update(apply_environments=["dev", "prod"]),
            "ci.apply_environments is ['dev', 'prod'], but this is the bootstrap of prod",
        ),
        (
            "bootstrap/prod.tfvars.json",
            lambda d: d.update(project_id="acme-ml-dev"),
            "both bootstrap project acme-ml-dev",
        ),
        (
            "environments/prod/terraform.tfvars.json",
            lambda d: d["settings"].update(ci_apply_service_account=DEV_APPLY),
            "settings.ci_apply_service_account is 'kfp-ci-apply@acme-ml-dev",
        ),
        (
            "environments/prod/terraform.tfvars.json",
            lambda d: d["settings"].update(ci_publish_service_account=DEV_APPLY),
            "settings.ci_publish_service_account is 'kfp-ci-apply@acme-ml-dev",
        ),
    ],
)
def test_mismatched_files_are_refused_before_terraform_runs(project, file, edit, message):
    path = project.root / "terraform" / file
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        bootstrap.check_files(project, "prod")


def test_backend_pointing_at_another_bucket_is_refused(project):
    path = project.root / "terraform" / "environments" / "prod" / "backend.hcl"
    path.write_text(path.read_text().replace("acme-ml-prod", "acme-ml-dev"))
    with pytest.raises(ConfigError, match="bucket is 'kfp-acme-ml-dev-tfstate'"):
        bootstrap.check_files(project, "prod")


@pytest.mark.slow
def test_cli_asks_before_applying_and_prints_the_github_variables(gcs, project):
    (project.root / "pipelines").mkdir()
    (project.root / "components").mkdir()
    runner = CliRunner()
    args = ["--project-dir", str(project.root), "infra", "bootstrap", "--env", "dev"]

    declined = runner.invoke(app, [*args, "--local-state"], input="n\n")
    assert declined.exit_code == RunError.exit_code
    assert "Apply this plan to the dev project?" in declined.output
    assert "nothing applied" in declined.stderr
    assert gcs.log == []  # a local first run: nothing in Cloud Storage yet

    accepted = runner.invoke(app, [*args, "--local-state"], input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert (
        "gh variable set GCP_CI_PLAN_SERVICE_ACCOUNT_DEV --repo example-org/kfp-platform "
        "--body 'kfp-ci-plan@acme-ml-dev.iam.gserviceaccount.com'" in accepted.stdout
    )
    assert (BUCKETS["dev"], "bootstrap/default.tfstate") in gcs.objects

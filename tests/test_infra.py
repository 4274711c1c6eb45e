"""`kfp-gcp infra`: the Terraform runner (against a recording fake terraform), the outputs
contract, and the destroy guard on real plan JSON (tests/fixtures/plans/make_fixtures.py)."""

import json
import os
import re
import stat
import sys

import pytest
from typer.testing import CliRunner

from kfp_gcp.cli import app
from kfp_gcp.errors import ConfigError, DestroyBlocked, PrerequisiteError, ToolError
from kfp_gcp.services.infra import terraform
from tests.conftest import REPO

FIXTURES = REPO / "tests" / "fixtures"
PLANS = FIXTURES / "plans"

FAKE_TERRAFORM = """\
#!{python}
import json, os, sys
args = sys.argv[1:]
with open(os.environ["FAKE_TF_LOG"], "a") as log:
    log.write(json.dumps({{"cwd": os.getcwd(), "args": args}}) + "\\n")
command = args[0]
print(os.environ.get("FAKE_TF_SAY_" + command.upper(), ""))
if command == "plan":
    print("Plan: 1 to add, 0 to change, 0 to destroy.")
    out = next(a for a in args if a.startswith("-out=")).removeprefix("-out=")
    open(out, "w").write("binary plan")
    sys.exit(int(os.environ.get("FAKE_TF_PLAN_CODE", "0")))
if command == "show" and args[1:] == ["-json"]:  # the state, read before planning
    state = os.environ.get("FAKE_TF_STATE")
    print(open(state).read() if state else '{{"format_version": "1.0"}}')
elif command == "show":
    print(open(os.environ["FAKE_TF_SHOW"]).read())
elif command == "output":
    print(open(os.environ["FAKE_TF_OUTPUT"]).read())
elif command == "apply":
    print("Apply complete! Resources: 1 added, 0 changed, 0 destroyed.")
sys.exit(int(os.environ.get("FAKE_TF_FAIL_" + command.upper(), "0")))
"""


@pytest.fixture
def fake_terraform(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "terraform"
    script.write_text(FAKE_TERRAFORM.format(python=sys.executable))
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    log = tmp_path / "terraform.log"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_TF_LOG", str(log))
    monkeypatch.setenv("FAKE_TF_SHOW", str(PLANS / "safe-update.json"))
    monkeypatch.setenv("FAKE_TF_OUTPUT", str(FIXTURES / "platform-outputs.json"))

    def calls():
        if not log.exists():
            return []
        return [json.loads(line) for line in log.read_text().splitlines()]

    return calls


@pytest.fixture
def env_project(make_project):
    project = make_project()
    folder = project.root / "terraform" / "environments" / "dev"
    folder.mkdir(parents=True)
    (folder / "main.tf").write_text("# root\n")
    (folder / "backend.hcl").write_text('bucket = "state"\nprefix = "environments/dev"\n')
    return project


def cli(project, *args):
    return CliRunner().invoke(app, ["--project-dir", str(project.root), *args])


def plan_args(calls):
    """The arguments of the last `terraform plan` among the recorded calls."""
    return [c for c in calls if c["args"][0] == "plan"][-1]["args"]


# The runner.


def test_plan_inits_with_the_backend_plans_to_a_file_and_writes_its_json(
    env_project, fake_terraform
):
    result = cli(env_project, "infra", "plan", "--env", "dev", "--no-lock")
    assert result.exit_code == 0, result.output
    init, state, plan, show = fake_terraform()
    folder = str(env_project.root / "terraform" / "environments" / "dev")
    assert {c["cwd"] for c in (init, state, plan, show)} == {folder}
    assert init["args"][:2] == ["init", "-input=false"]
    assert state["args"] == ["show", "-json"]  # is the database stopped? (tests/test_pause.py)
    assert "-backend-config=backend.hcl" in init["args"]
    plan_file = env_project.build_dir / "infra" / "dev.tfplan"
    assert f"-out={plan_file}" in plan["args"]
    assert "-lock=false" in plan["args"]
    assert show["args"] == ["show", "-json", str(plan_file)]
    written = json.loads((env_project.build_dir / "infra" / "dev.tfplan.json").read_text())
    assert written == json.loads((PLANS / "safe-update.json").read_text())
    assert "Plan: 1 to add" in result.stdout  # terraform's output is passed through


def test_plan_with_detailed_exitcode_exits_2_on_changes(env_project, fake_terraform, monkeypatch):
    monkeypatch.setenv("FAKE_TF_PLAN_CODE", "2")
    result = cli(env_project, "infra", "plan", "--env", "dev", "--detailed-exitcode")
    assert result.exit_code == 2
    assert "-detailed-exitcode" in plan_args(fake_terraform())


def test_a_failing_terraform_step_is_a_tool_error_naming_the_step(
    env_project, fake_terraform, monkeypatch
):
    monkeypatch.setenv("FAKE_TF_FAIL_INIT", "1")
    result = cli(env_project, "infra", "plan", "--env", "dev")
    assert result.exit_code == ToolError.exit_code  # not 6: that is for pipeline runs
    assert "terraform init failed in dev (exit code 1)" in result.stderr
    assert [c["args"][0] for c in fake_terraform()] == ["init"]


def test_plan_destroy_plans_the_teardown(env_project, fake_terraform):
    assert cli(env_project, "infra", "plan", "--env", "dev", "--destroy").exit_code == 0
    assert "-destroy" in plan_args(fake_terraform())
    assert cli(env_project, "infra", "plan", "--env", "dev").exit_code == 0
    assert "-destroy" not in plan_args(fake_terraform())


def test_a_read_only_identity_without_a_state_is_told_how_to_create_it(
    env_project, fake_terraform, monkeypatch
):
    # Terraform 1.15's words when the gcs backend cannot write the lock of a missing state
    # (recorded from real Terraform against tests/fake_gcs.py: tests/test_bootstrap.py).
    monkeypatch.setenv(
        "FAKE_TF_SAY_INIT",
        'Error: Error loading state: writing "gs://kfp-acme-ml-dev-tfstate/environments/dev/'
        'default.tflock" failed: googleapi: Error 403: kfp-ci-plan@acme-ml-dev.iam.gserviceaccount'
        ".com does not have storage.objects.create access to the Google Cloud Storage object.",
    )
    monkeypatch.setenv("FAKE_TF_FAIL_INIT", "1")
    result = cli(env_project, "infra", "plan", "--env", "dev", "--no-lock")
    assert result.exit_code == ToolError.exit_code
    assert "gs://kfp-acme-ml-dev-tfstate/environments/dev/default.tfstate does not exist yet" in (
        result.stderr
    )
    assert "kfp-gcp infra bootstrap" in result.stderr


def test_plan_without_a_backend_file_says_how_to_make_one(env_project, fake_terraform):
    (env_project.root / "terraform" / "environments" / "dev" / "backend.hcl").unlink()
    result = cli(env_project, "infra", "plan", "--env", "dev")
    assert result.exit_code == ConfigError.exit_code
    assert "backend.hcl is missing" in result.stderr
    assert fake_terraform() == []


def test_unknown_environment_lists_the_known_ones(env_project, fake_terraform):
    result = cli(env_project, "infra", "plan", "--env", "staging")
    assert result.exit_code == ConfigError.exit_code
    assert "no environment named 'staging'" in result.stderr
    assert "dev" in result.stderr


def test_apply_applies_only_a_saved_plan(env_project, fake_terraform):
    refused = cli(env_project, "infra", "apply", "--env", "dev")
    assert refused.exit_code == ConfigError.exit_code
    assert "kfp-gcp infra plan --env dev" in refused.stderr
    assert fake_terraform() == []
    assert cli(env_project, "infra", "plan", "--env", "dev").exit_code == 0
    applied = cli(env_project, "infra", "apply", "--env", "dev")
    assert applied.exit_code == 0, applied.output
    last = fake_terraform()[-1]
    assert last["args"][0] == "apply"
    assert last["args"][-1] == str((env_project.build_dir / "infra" / "dev.tfplan").resolve())
    assert "-auto-approve" not in last["args"]  # a saved plan needs no approval flag


def test_terraform_comes_from_path_else_from_the_wheel(monkeypatch):
    monkeypatch.setattr(terraform.shutil, "which", lambda name: "/opt/bin/terraform")
    assert terraform.terraform_argv() == ["/opt/bin/terraform"]
    monkeypatch.setattr(terraform.shutil, "which", lambda name: None)
    assert terraform.terraform_argv() == [sys.executable, "-m", "kfp_gcp.terraform_cli"]
    monkeypatch.setattr(terraform, "find_spec", lambda name: None)
    with pytest.raises(PrerequisiteError, match="no terraform on PATH"):
        terraform.terraform_argv()


def test_the_wheel_terraform_runs_a_real_plan(tmp_path):
    (tmp_path / "main.tf").write_text('resource "terraform_data" "x" {\n  input = "a"\n}\n')
    lines: list[str] = []
    env = {**os.environ, "CHECKPOINT_DISABLE": "1"}
    cmd = [sys.executable, "-m", "kfp_gcp.terraform_cli"]
    import subprocess

    for args in (["init", "-input=false", "-no-color"], ["plan", "-input=false", "-no-color"]):
        done = subprocess.run([*cmd, *args], cwd=tmp_path, capture_output=True, text=True, env=env)
        assert done.returncode == 0, done.stderr
        lines.extend(done.stdout.splitlines())
    assert "Plan: 1 to add, 0 to change, 0 to destroy." in lines


# The outputs contract.


def test_outputs_prints_the_contract_as_json(env_project, fake_terraform):
    result = cli(env_project, "-o", "json", "infra", "outputs", "--env", "dev")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == json.loads((FIXTURES / "platform-outputs.json").read_text())
    assert fake_terraform()[0]["args"] == ["output", "-json", "platform"]


def test_outputs_that_break_the_contract_name_the_field(
    env_project, fake_terraform, tmp_path, monkeypatch
):
    broken = json.loads((FIXTURES / "platform-outputs.json").read_text())
    del broken["service_accounts"]["ui"]
    broken["cluster_name"] = ["not", "a", "string"]
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(broken))
    monkeypatch.setenv("FAKE_TF_OUTPUT", str(path))
    result = cli(env_project, "infra", "outputs", "--env", "dev")
    assert result.exit_code == ConfigError.exit_code
    assert "service_accounts.ui: Field required" in result.stderr
    assert "cluster_name: Input should be a valid string" in result.stderr


def _contract_fields(text: str) -> set[str]:
    body = text.split("type = object({", 1)[1]
    return set(re.findall(r"^\s+(\w+)\s+=", body.split("\n  })", 1)[0], flags=re.M))


def test_python_model_mirrors_the_terraform_contract_module():
    text = (REPO / "terraform" / "contract" / "variables.tf").read_text()
    terraform_fields = _contract_fields(text)
    python_fields = (
        set(terraform.PlatformOutputs.model_fields)
        | set(terraform.ServiceAccounts.model_fields)
        | set(terraform.Registry.model_fields)
    )
    assert terraform_fields == python_fields


@pytest.mark.parametrize(
    ("fixture", "access"),
    [
        ("platform-outputs.json", "port-forward"),
        ("platform-outputs-prod.json", "iap"),
        ("platform-outputs-inverse-proxy.json", "inverse-proxy"),
    ],
)
def test_documented_fixtures_satisfy_the_contract(fixture, access):
    platform = terraform.parse_outputs((FIXTURES / fixture).read_text(), fixture)
    assert platform.pipeline_root.startswith(f"gs://{platform.artifact_bucket}/")
    # The Terraform contract's own rules: a domain exactly with iap, the agent's account
    # exactly with inverse-proxy, every other account an email.
    assert platform.access == access
    assert bool(platform.domain) == (access == "iap")
    assert bool(platform.service_accounts.inverse_proxy) == (access == "inverse-proxy")
    for key, email in platform.service_accounts.model_dump().items():
        assert email.endswith(".iam.gserviceaccount.com") or (key == "inverse_proxy" and not email)


# The destroy guard.


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        ("safe-update", []),
        (
            "delete-database",
            [("google_sql_database_instance.database", "Cloud SQL instance", "delete")],
        ),
        ("replace-cluster", [("google_container_cluster.cluster", "GKE cluster", "replace")]),
        (
            "replace-bucket-create-first",
            [
                (
                    "google_storage_bucket.artifacts",
                    "bucket (artifacts or Terraform state)",
                    "replace",
                )
            ],
        ),
    ],
)
def test_guard_finds_deletes_and_replaces_of_protected_resources(fixture, expected):
    plan = terraform.load_plan_json(PLANS / f"{fixture}.json")
    found = [(c["address"], c["kind"], c["action"]) for c in terraform.destructive_changes(plan)]
    assert found == expected  # the kind is what the refusal names to a person


def test_guard_cli_blocks_lists_and_says_how_to_allow(repo):
    result = CliRunner().invoke(app, ["infra", "guard", str(PLANS / "replace-cluster.json")])
    assert result.exit_code == DestroyBlocked.exit_code
    assert "replace google_container_cluster.cluster (GKE cluster)" in result.stderr
    assert "--allow google_container_cluster.cluster" in result.stderr


def test_guard_cli_passes_when_the_change_is_named(repo):
    result = CliRunner().invoke(
        app,
        [
            "-o",
            "json",
            "infra",
            "guard",
            str(PLANS / "delete-database.json"),
            "--allow",
            "google_sql_database_instance.database",
            "--allow",
            "google_container_cluster.x",
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["changes"][0]["verdict"] == "allowed"
    assert report["unused_allows"] == ["google_container_cluster.x"]
    assert "does not delete or replace it" in result.stderr


def test_guard_passes_a_plan_that_only_replaces_unprotected_resources():
    result = CliRunner().invoke(app, ["infra", "guard", str(PLANS / "safe-update.json")])
    assert result.exit_code == 0
    assert "nothing protected" in result.stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [("not json", "is not JSON"), ('{"a": 1}', "is not a Terraform plan in JSON")],
)
def test_guard_rejects_what_is_not_plan_json(tmp_path, content, message):
    path = tmp_path / "plan.json"
    path.write_text(content)
    result = CliRunner().invoke(app, ["infra", "guard", str(path)])
    assert result.exit_code == ConfigError.exit_code
    assert message in result.stderr


def test_guard_fixtures_are_what_the_script_makes():
    # The committed fixtures come from make_fixtures.py; its scenarios and files match.
    sys.path.insert(0, str(PLANS))
    try:
        import make_fixtures
    finally:
        sys.path.remove(str(PLANS))
    assert {f"{name}.json" for name in make_fixtures.SCENARIOS} == {
        p.name for p in PLANS.glob("*.json")
    }


def test_contract_from_an_unreadable_file_names_it(repo, tmp_path):
    missing = tmp_path / "nope.json"
    with pytest.raises(ConfigError, match=f"cannot read the outputs contract {missing}"):
        terraform.contract(repo, "dev", missing)


def test_contract_from_a_file_is_checked(repo):
    platform = terraform.contract(repo, "dev", FIXTURES / "platform-outputs.json")
    assert platform.environment == "dev"

"""`kfp-gcp init`: the team's configuration written from a few answers, checked as the other
commands read it, never half-written, never over another team's settings without --force."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from kfp_gcp.cli import app
from kfp_gcp.errors import ConfigError
from kfp_gcp.services.infra import bootstrap, cost
from kfp_gcp.services.ops import init
from tests.conftest import REPO
from tests.test_doctor import live_repository

ANSWERS = [
    "--project-id", "dev=ml-dev-4711", "--project-id", "prod=ml-prod-4711",
    "--project-number", "dev=400000000001", "--project-number", "prod=400000000002",
    "--region", "us-central1", "--prefix", "ml",
    "--github-repository", "acme/ml-platform", "--github-repository-id", "987654321",
    "--domain", "prod=kfp.acme.dev", "--iap-member", "prod=group:ml@acme.dev",
    "--budget", "dev=150", "--billing-account", "01ABCD-23EF45-6789AB",
]  # fmt: skip


@pytest.fixture
def repository(make_project):
    return live_repository(make_project)


def cli(repository, *args, **kwargs):
    return CliRunner().invoke(app, ["--project-dir", str(repository.root), "init", *args], **kwargs)


def read(repository, path):
    return (repository.root / path).read_text()


def settings(repository, env):
    return json.loads(read(repository, f"terraform/environments/{env}/terraform.tfvars.json"))[
        "settings"
    ]


def test_the_schema_file_is_current():
    assert (REPO / init.SCHEMA_PATH).read_text() == init.schema_text(), (
        "regenerate it: .venv/bin/python -c 'from kfp_gcp.services.ops import init; "
        f'open("{init.SCHEMA_PATH}", "w").write(init.schema_text())\''
    )


def test_the_template_projects_are_the_committed_examples():
    for env in ("dev", "prod"):
        committed = json.loads((REPO / f"terraform/bootstrap/{env}.tfvars.json").read_text())
        assert committed["project_id"] in init.TEMPLATE_PROJECTS


def test_init_writes_both_projects_files_from_the_answers(repository):
    result = cli(repository, *ANSWERS)
    assert result.exit_code == 0, result.output
    assert "kfp-gcp infra bootstrap --env dev --local-state" in result.stderr
    boot = json.loads(read(repository, "terraform/bootstrap/dev.tfvars.json"))
    assert boot["project_id"] == "ml-dev-4711"
    assert boot["github_repository"] == "acme/ml-platform"
    assert boot["state_bucket"] == {"location": "US"}
    assert boot["ci"]["apply_environments"] == ["dev"]
    assert boot["ci"]["plan_subjects"] == ["pull_request", "ref:refs/heads/main"]  # kept
    assert boot["billing_account_id"] == "01ABCD-23EF45-6789AB"  # dev has a budget
    assert "billing_account_id" not in json.loads(
        read(repository, "terraform/bootstrap/prod.tfvars.json")
    )
    assert read(repository, "terraform/bootstrap/prod.backend.hcl").endswith(
        'bucket = "ml-ml-prod-4711-tfstate"\nprefix = "bootstrap"\n'
    )
    assert read(repository, "terraform/environments/prod/backend.hcl").endswith(
        'bucket = "ml-ml-prod-4711-tfstate"\nprefix = "environments/prod"\n'
    )
    dev, prod = settings(repository, "dev"), settings(repository, "prod")
    assert dev["prefix"] == "mldev"
    assert prod["ci_apply_service_account"] == "ml-ci-apply@ml-prod-4711.iam.gserviceaccount.com"
    # The region moves every location: dev's zone keeps its letter, prod stays regional and
    # its GPU zones move, prod's multi-region bucket becomes the region's continent.
    assert dev["cluster"]["location"] == "us-central1-b"
    assert prod["cluster"]["location"] == "us-central1"
    assert prod["cluster"]["node_pools"]["gpu"]["zones"] == ["us-central1-b", "us-central1-c"]
    assert (dev["storage"]["location"], prod["storage"]["location"]) == ("us-central1", "US")
    assert (dev["access"], dev["ingress"]["domain"]) == ("port-forward", "")
    assert prod["access"] == "iap"
    assert prod["ingress"] == {"domain": "kfp.acme.dev", "iap_members": ["group:ml@acme.dev"]}
    assert dev["budget"] == {"amount": 150, "billing_account_id": "01ABCD-23EF45-6789AB"}
    # What the answers do not decide is the template's: pools, database, schedule.
    template = json.loads((REPO / "terraform/environments/dev/terraform.tfvars.json").read_text())[
        "settings"
    ]
    for key in ("schedule", "cloudsql", "monitoring", "registry"):
        assert dev[key] == template[key]
    assert dev["cluster"]["node_pools"] == template["cluster"]["node_pools"]
    # The other commands read the files without complaint.
    assert bootstrap.check_files(repository, "prod").settings.bucket == "ml-ml-prod-4711-tfstate"
    assert cost.load_sizing(repository, "dev").region == "us-central1"
    assert "ml-platform@example.com" in result.stderr  # the example's alert address is named


def test_the_same_answers_again_change_nothing(repository):
    assert cli(repository, *ANSWERS).exit_code == 0
    result = CliRunner().invoke(
        app, ["--project-dir", str(repository.root), "-o", "json", "init", *ANSWERS]
    )
    assert result.exit_code == 0, result.output
    assert {f["status"] for f in json.loads(result.stdout)["files"]} == {"unchanged"}


def test_another_teams_settings_are_kept_unless_forced(repository):
    assert cli(repository, *ANSWERS).exit_code == 0
    before = read(repository, "terraform/bootstrap/dev.tfvars.json")
    other = [a.replace("4711", "9999") for a in ANSWERS]
    refused = cli(repository, *other)
    assert refused.exit_code == 3
    assert "terraform/bootstrap/dev.tfvars.json" in refused.stderr
    assert "--force" in refused.stderr
    assert read(repository, "terraform/bootstrap/dev.tfvars.json") == before
    forced = cli(repository, *other, "--force")
    assert forced.exit_code == 0, forced.output
    assert "ml-dev-9999" in read(repository, "terraform/bootstrap/dev.tfvars.json")


def test_missing_answers_without_a_terminal_name_their_flags(repository):
    result = cli(repository, "--env", "dev", "--region", "europe-west1")
    assert result.exit_code == 3
    assert "missing answers: --prefix, --github-repository, --github-repository-id, " in (
        result.stderr
    )
    assert "--project-id dev=..." in result.stderr


def test_on_a_terminal_init_asks_for_what_is_missing(repository, monkeypatch):
    monkeypatch.setattr("kfp_gcp.cli.init.interactive", lambda: True)
    answers = "\n".join([
        "europe-west4", "team", "acme/ml-platform", "987654321",  # region ... repository id
        "team-ml-dev", "400000000001",  # project id, number
        "",  # no domain
        "",  # no budget
    ]) + "\n"  # fmt: skip
    result = cli(repository, "--env", "dev", input=answers)
    assert result.exit_code == 0, result.output
    assert settings(repository, "dev")["project_id"] == "team-ml-dev"
    assert settings(repository, "dev")["cluster"]["location"] == "europe-west4-b"
    assert "budget" not in settings(repository, "dev")
    assert '"region": "europe-west4"' in result.stderr  # the same, as an answers file


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ("--project-id", "dev=Acme_Dev"),
            "environments.dev.project_id: 'Acme_Dev' does not match",
        ),
        (("--prefix", "platforms"), "choose a prefix of at most 8 characters"),
        (("--iap-member", "dev=user:alice@acme.dev"), "iap_members need a domain"),
        (("--iap-member", "prod=alice@acme.dev"), "'alice@acme.dev' is not an IAM member"),
        (("--project-id", "prod=ml-dev-4711"), "each environment needs its own project"),
        (("--budget", "prod=lots"), "--budget 'lots' is not a number"),
        (("--budget", "prod=50", "--billing-account", "01abcd"), "billing_account: '01abcd'"),
    ],
)
def test_bad_answers_name_the_field_and_write_nothing(repository, change, message):
    before = read(repository, "terraform/bootstrap/dev.tfvars.json")
    result = cli(repository, *ANSWERS, *change)  # a flag given again: the last one counts
    assert result.exit_code == 3, result.output
    assert message in " ".join(result.stderr.split())
    assert read(repository, "terraform/bootstrap/dev.tfvars.json") == before


def test_a_file_the_other_commands_refuse_puts_everything_back(repository):
    path = repository.root / "terraform/environments/prod/terraform.tfvars.json"
    data = json.loads(path.read_text())
    data["settings"]["schedule"] = {"days": ["mon"], "from": "19:00", "to": "06:00"}
    path.write_text(json.dumps(data))
    before = {p: p.read_text() for p in (repository.root / "terraform").rglob("*") if p.is_file()}
    with pytest.raises(ConfigError, match="must be earlier than to 06:00"):
        init.write(repository, init.parse(_answers()))
    after = {p: p.read_text() for p in (repository.root / "terraform").rglob("*") if p.is_file()}
    assert after == before


def _answers():
    return {
        "region": "us-central1", "prefix": "ml", "github_repository": "acme/ml-platform",
        "github_repository_id": "987654321",
        "environments": {
            "dev": {"project_id": "ml-dev-4711", "project_number": "400000000001"},
            "prod": {"project_id": "ml-prod-4711", "project_number": "400000000002"},
        },
    }  # fmt: skip


def test_an_answers_file_is_the_schema_and_flags_override_it(repository, tmp_path):
    answers = tmp_path / "answers.yaml"
    answers.write_text(json.dumps(_answers()))
    result = cli(repository, "--answers", str(answers), "--region", "europe-west1")
    assert result.exit_code == 0, result.output
    assert settings(repository, "prod")["region"] == "europe-west1"
    assert settings(repository, "prod")["project_id"] == "ml-prod-4711"
    bad = tmp_path / "bad.yaml"
    bad.write_text(json.dumps({**_answers(), "zone": "x"}))
    refused = cli(repository, "--answers", str(bad), "--force")
    assert refused.exit_code == 3
    assert "zone: Extra inputs are not permitted" in refused.stderr


def test_compact_json_keeps_small_objects_on_one_line():
    text = init.compact_json({"a": {"b": 1}, "c": [1, 2], "d": {"e": "x" * 130}})
    assert (
        text
        == '{\n  "a": { "b": 1 },\n  "c": [1, 2],\n  "d": {\n    "e": "' + "x" * 130 + '"\n  }\n}\n'
    )
    assert json.loads(text) == {"a": {"b": 1}, "c": [1, 2], "d": {"e": "x" * 130}}

"""Pause and resume: the schedule, the settings edit, the pause-only guard, and
`kfp-gcp infra pause/resume` and `infra plan` driven through the terraform seam (the
recording fake terraform of tests/test_infra.py) in a throwaway git repository.

The plans the fake returns are built here in Terraform's JSON plan format
(`resource_changes[].change.{actions, before, after, after_unknown}`, format 1.2, as
`terraform show -json` writes it: developer.hashicorp.com/terraform/internals/json-format),
with the google provider's attribute names; a test checks those names against the
provider 6.50.0 schema that tf-offline ships (../shared/tools/tf-offline/schemas).
"""

from __future__ import annotations

import copy
import dataclasses
import datetime
import gzip
import json
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kfp_gcp.cli import app
from kfp_gcp.errors import ConfigError, DestroyBlocked, ToolError
from kfp_gcp.services.infra import pause, terraform
from kfp_gcp.services.project import Project
from tests.conftest import REPO
from tests.test_infra import fake_terraform  # noqa: F401 (a fixture)

SCHEMAS = REPO.parent / "shared" / "tools" / "tf-offline" / "schemas" / "hashicorp"
UTC = datetime.UTC
WEEKDAYS = {"days": ["mon", "tue", "wed", "thu", "fri"], "from": "06:00", "to": "19:00"}
MONDAY_NOON = datetime.datetime(2026, 11, 30, 12, 0, tzinfo=UTC)  # a Monday
SATURDAY_NOON = datetime.datetime(2026, 12, 5, 12, 0, tzinfo=UTC)

# The schedule.


def test_the_schedule_runs_inside_its_window_in_utc():
    schedule = pause.Schedule.model_validate(WEEKDAYS)
    monday = MONDAY_NOON.replace(hour=0)
    assert not schedule.running_at(monday.replace(hour=5, minute=59))
    assert schedule.running_at(monday.replace(hour=6))
    assert schedule.running_at(monday.replace(hour=18, minute=59))
    assert not schedule.running_at(monday.replace(hour=19))  # `to` is exclusive
    assert not schedule.running_at(SATURDAY_NOON)
    # Another time zone, the same instant: 07:30 in Berlin (CET) is 06:30 UTC.
    berlin = datetime.timezone(datetime.timedelta(hours=1))
    assert schedule.running_at(datetime.datetime(2026, 11, 30, 7, 30, tzinfo=berlin))
    assert schedule.running_hours_per_week() == 65


def test_the_next_change_crosses_the_weekend():
    schedule = pause.Schedule.model_validate(WEEKDAYS)
    friday_evening = datetime.datetime(2026, 12, 4, 20, 0, tzinfo=UTC)
    assert schedule.next_change(friday_evening) == datetime.datetime(2026, 12, 7, 6, 0, tzinfo=UTC)
    assert schedule.next_change(MONDAY_NOON) == MONDAY_NOON.replace(hour=19)


def test_cron_lines_fire_at_the_edges_on_the_days():
    # GitHub's cron: minute hour day-of-month month day-of-week (0 = Sunday), UTC.
    assert pause.Schedule.model_validate(WEEKDAYS).cron_lines() == [
        "0 6 * * 1,2,3,4,5",
        "0 19 * * 1,2,3,4,5",
    ]
    weekend = pause.Schedule.model_validate(
        {"days": ["sun", "sat"], "from": "08:30", "to": "12:00"}
    )
    assert weekend.cron_lines() == ["30 8 * * 6,0", "0 12 * * 6,0"]


@pytest.mark.parametrize(
    ("schedule", "field", "message"),
    [
        ({**WEEKDAYS, "from": "19:00", "to": "06:00"}, "schedule", "earlier than to"),
        ({**WEEKDAYS, "from": "6:00"}, "from", "HH:MM"),
        ({**WEEKDAYS, "days": ["monday"]}, "days.0", "'mon'"),
        ({**WEEKDAYS, "days": []}, "schedule", "at least one day"),
        ({**WEEKDAYS, "timezone": "Europe/Berlin"}, "timezone", "Extra inputs"),
    ],
)
def test_a_bad_schedule_names_the_field_and_an_example(schedule, field, message):
    with pytest.raises(ConfigError) as error:
        pause.schedule_of({"schedule": schedule}, "terraform.tfvars.json")
    assert f"settings.schedule.{field}" in error.value.message or field == "schedule"
    assert message in error.value.message
    assert '"from": "06:00"' in (error.value.hint or "")


# Editing settings.paused.

COMMITTED_DEV = (REPO / "terraform" / "environments" / "dev" / "terraform.tfvars.json").read_text()


def test_flipping_paused_changes_one_word_of_the_file():
    paused = pause.with_paused(COMMITTED_DEV, True)
    assert json.loads(paused)["settings"]["paused"] is True
    changed = [
        (a, b)
        for a, b in zip(COMMITTED_DEV.splitlines(), paused.splitlines(), strict=True)
        if a != b
    ]
    assert changed == [('    "paused": false,', '    "paused": true,')]
    assert pause.with_paused(paused, False) == COMMITTED_DEV


def test_adding_paused_keeps_the_rest_of_the_file_and_its_indentation():
    without = COMMITTED_DEV.replace('    "paused": false,\n', "")
    added = pause.with_paused(without, True)
    assert added == without.replace(
        '"settings": {\n    "environment"', '"settings": {\n    "paused": true,\n    "environment"'
    )


def test_a_second_paused_key_is_refused_rather_than_guessed():
    settings = json.loads(COMMITTED_DEV)
    settings["settings"]["cluster"]["paused"] = False
    with pytest.raises(ConfigError, match="more than once"):
        pause.with_paused(json.dumps(settings, indent=2), True)


# Plans in Terraform's JSON format.


def change(address, type_, before, after, actions=("update",), unknown=None):
    return {
        "address": address,
        "mode": "managed",
        "type": type_,
        "name": address.rsplit(".", 1)[-1].split("[")[0],
        "change": {
            "actions": list(actions),
            "before": before,
            "after": after,
            "after_unknown": unknown or {},
        },
    }


PREFIX = "module.platform.module"
POOL = {
    "name": "system",
    "cluster": "kfpdev-gke",
    "initial_node_count": 1,
    "node_count": 1,
    "autoscaling": [
        {"location_policy": "ANY", "total_max_node_count": 2, "total_min_node_count": 1}
    ],
    "node_config": [{"machine_type": "e2-standard-2", "spot": True, "disk_size_gb": 30}],
}
INSTANCE = {
    "name": "kfpdev-kfp",
    "database_version": "MYSQL_8_0",
    "settings": [
        {
            "tier": "db-g1-small",
            "activation_policy": "ALWAYS",
            "version": 4,
            "backup_configuration": [{"enabled": True, "binary_log_enabled": True}],
        }
    ],
}
ALERT = {"display_name": "kfpdev: a KFP Deployment is unavailable", "enabled": True}


def paused_plan(extra=()):
    pool_after = {**POOL, "node_count": 0, "autoscaling": []}
    instance_after = copy.deepcopy(INSTANCE)
    instance_after["settings"][0]["activation_policy"] = "NEVER"
    return {
        "format_version": "1.2",
        "terraform_version": "1.15.5",
        "resource_changes": [
            change(
                f'{PREFIX}.gke.google_container_node_pool.nodepool["system"]',
                "google_container_node_pool",
                POOL,
                pool_after,
            ),
            change(
                f"{PREFIX}.cloudsql.google_sql_database_instance.primary",
                "google_sql_database_instance",
                INSTANCE,
                instance_after,
                # The provider's settings version is computed anew on every update.
                unknown={"settings": [{"version": True}]},
            ),
            change(
                f'{PREFIX}.monitoring.google_monitoring_alert_policy.alert["kfp-unavailable"]',
                "google_monitoring_alert_policy",
                ALERT,
                {**ALERT, "enabled": False},
            ),
            change(
                f"{PREFIX}.storage.google_storage_bucket.bucket",
                "google_storage_bucket",
                {"name": "b"},
                {"name": "b"},
                actions=("no-op",),
            ),
            *extra,
        ],
    }


def test_a_pause_plan_is_only_a_pause():
    assert pause.changes_beyond_pause(paused_plan()) == []


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        # A pool's machine type changed on main and not applied yet.
        (
            change(
                f'{PREFIX}.gke.google_container_node_pool.nodepool["cpu"]',
                "google_container_node_pool",
                {**POOL, "name": "cpu"},
                {
                    **POOL,
                    "name": "cpu",
                    "node_config": [{**POOL["node_config"][0], "machine_type": "e2-standard-8"}],
                },
            ),
            'nodepool["cpu"]: update of node_config.machine_type',
        ),
        (
            change(
                f"{PREFIX}.cloudsql.google_sql_database_instance.primary",
                "google_sql_database_instance",
                INSTANCE,
                {**INSTANCE, "settings": [{**INSTANCE["settings"][0], "tier": "db-custom-1-3840"}]},
            ),
            "primary: update of settings.tier",
        ),
        (
            change(
                f"{PREFIX}.network.google_compute_firewall.webhooks",
                "google_compute_firewall",
                None,
                {"name": "x"},
                actions=("create",),
            ),
            "google_compute_firewall.webhooks: create",
        ),
    ],
)
def test_anything_else_in_the_plan_is_named(extra, named):
    found = pause.changes_beyond_pause(paused_plan([extra]))
    assert len(found) == 1
    assert named in found[0]


def test_the_pause_attributes_exist_in_the_provider_schema():
    with gzip.open(SCHEMAS / "google-6.50.0.json.gz") as packed:
        schema = json.loads(packed.read())
    resources = next(iter(schema["provider_schemas"].values()))["resource_schemas"]
    for type_, paths in pause.PAUSE_ATTRIBUTES.items():
        for path in paths:
            block = resources[type_]["block"]
            *parents, leaf = path.split(".")
            for name in parents:
                block = block["block_types"][name]["block"]
            assert leaf in block.get("attributes", {}) or leaf in block.get("block_types", {}), (
                type_,
                path,
            )
    # And the fixtures' other names too (a renamed attribute would hide a real change).
    pool = resources["google_container_node_pool"]["block"]
    assert {"node_count", "initial_node_count"} <= set(pool["attributes"])
    settings = resources["google_sql_database_instance"]["block"]["block_types"]["settings"]
    assert {"version", "tier", "activation_policy"} <= set(settings["block"]["attributes"])


# The commands, through the terraform seam, in a git repository.


@dataclasses.dataclass(frozen=True, kw_only=True)
class Repo(Project):
    plan_file: Path
    settings_file: Path


@pytest.fixture
def dev_repo(make_project, fake_terraform, tmp_path, monkeypatch):  # noqa: F811
    project = make_project()
    folder = project.root / "terraform" / "environments" / "dev"
    folder.mkdir(parents=True)
    (folder / "main.tf").write_text("# root\n")
    (folder / "backend.hcl").write_text('bucket = "state"\nprefix = "environments/dev"\n')
    settings = json.loads(COMMITTED_DEV)
    del settings["settings"]["schedule"]  # the clock is the service tests' business
    (folder / "terraform.tfvars.json").write_text(json.dumps(settings, indent=2) + "\n")
    git = ["git", "-c", "user.email=t@example.com", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q"], cwd=project.root, check=True)
    subprocess.run([*git, "add", "-A"], cwd=project.root, check=True)
    subprocess.run([*git, "commit", "-qm", "start"], cwd=project.root, check=True)
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(paused_plan()))
    monkeypatch.setenv("FAKE_TF_SHOW", str(plan_file))
    return Repo(
        root=project.root, plan_file=plan_file, settings_file=folder / "terraform.tfvars.json"
    )


def cli(project, *args):
    return CliRunner().invoke(app, ["--project-dir", str(project.root), *args])


def commands(calls):
    return [c["args"][0] + (" -json" if c["args"][1:] == ["-json"] else "") for c in calls]


def test_pause_edits_plans_guards_and_applies(dev_repo, fake_terraform):  # noqa: F811
    result = cli(dev_repo, "infra", "pause", "--env", "dev")
    assert result.exit_code == 0, result.output
    assert json.loads(dev_repo.settings_file.read_text())["settings"]["paused"] is True
    assert commands(fake_terraform()) == ["init", "show -json", "plan", "show", "init", "apply"]
    assert "Commit terraform/environments/dev/terraform.tfvars.json" in result.stderr
    # The pause is the only change to the tree.
    diff = subprocess.run(
        ["git", "diff", "--stat"], cwd=dev_repo.root, capture_output=True, text=True, check=True
    )
    assert diff.stdout.strip().startswith("terraform/environments/dev/terraform.tfvars.json")
    assert "1 insertion(+), 1 deletion(-)" in diff.stdout


def test_pause_refuses_a_settings_file_with_other_changes(dev_repo, fake_terraform):  # noqa: F811
    text = dev_repo.settings_file.read_text().replace('"tier": "db-g1-small"', '"tier": "x"')
    dev_repo.settings_file.write_text(text)
    result = cli(dev_repo, "infra", "pause", "--env", "dev")
    assert result.exit_code == ConfigError.exit_code
    assert "has uncommitted changes" in result.stderr
    assert "commit or stash" in result.stderr
    assert fake_terraform() == []
    assert dev_repo.settings_file.read_text() == text


def test_a_plan_that_does_more_than_pause_is_refused_and_the_file_restored(
    dev_repo,
    fake_terraform,  # noqa: F811
):
    before = dev_repo.settings_file.read_text()
    extra = change(
        f'{PREFIX}.gke.google_container_node_pool.nodepool["cpu"]',
        "google_container_node_pool",
        POOL,
        {**POOL, "node_config": [{**POOL["node_config"][0], "machine_type": "e2-standard-8"}]},
    )
    dev_repo.plan_file.write_text(json.dumps(paused_plan([extra])))
    result = cli(dev_repo, "infra", "pause", "--env", "dev")
    assert result.exit_code == ConfigError.exit_code
    assert "the plan changes more than the pause" in result.stderr
    assert "node_config.machine_type" in result.stderr
    assert "apply those changes first" in result.stderr
    assert "apply" not in commands(fake_terraform())
    assert dev_repo.settings_file.read_text() == before


def test_a_plan_that_deletes_the_database_is_refused(dev_repo, fake_terraform):  # noqa: F811
    gone = change(
        f"{PREFIX}.cloudsql.google_sql_database_instance.primary",
        "google_sql_database_instance",
        INSTANCE,
        None,
        actions=("delete",),
    )
    plan = paused_plan()
    plan["resource_changes"][1] = gone
    dev_repo.plan_file.write_text(json.dumps(plan))
    result = cli(dev_repo, "infra", "pause", "--env", "dev")
    assert result.exit_code == DestroyBlocked.exit_code
    assert "apply" not in commands(fake_terraform())
    assert json.loads(dev_repo.settings_file.read_text())["settings"]["paused"] is False


def test_a_failed_apply_keeps_the_edit_and_says_so(dev_repo, fake_terraform, monkeypatch):  # noqa: F811
    monkeypatch.setenv("FAKE_TF_FAIL_APPLY", "1")
    result = cli(dev_repo, "infra", "pause", "--env", "dev")
    assert result.exit_code == ToolError.exit_code
    assert "terraform apply failed" in result.stderr
    # Part of it may be applied: the file says what was asked; pausing again finishes it.
    assert json.loads(dev_repo.settings_file.read_text())["settings"]["paused"] is True


def test_resume_applies_a_plan_without_refresh_while_the_database_is_stopped(
    dev_repo,
    fake_terraform,  # noqa: F811
    tmp_path,
    monkeypatch,
):
    paused_text = pause.with_paused(dev_repo.settings_file.read_text(), True)
    dev_repo.settings_file.write_text(paused_text)
    subprocess.run(
        ["git", "-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qam", "pause"],
        cwd=dev_repo.root,
        check=True,
    )
    # The state as `terraform show -json` prints it: the instance stopped.
    state = tmp_path / "state.json"
    stopped = copy.deepcopy(INSTANCE)
    stopped["settings"][0]["activation_policy"] = "NEVER"
    state.write_text(
        json.dumps(
            {
                "format_version": "1.0",
                "values": {
                    "root_module": {
                        "child_modules": [
                            {
                                "address": "module.platform",
                                "child_modules": [
                                    {
                                        "address": "module.platform.module.cloudsql",
                                        "resources": [
                                            {
                                                "address": "module.platform.module.cloudsql."
                                                "google_sql_database_instance.primary",
                                                "type": "google_sql_database_instance",
                                                "values": stopped,
                                            }
                                        ],
                                    }
                                ],
                            }
                        ]
                    }
                },
            }
        )
    )
    monkeypatch.setenv("FAKE_TF_STATE", str(state))
    result = cli(dev_repo, "infra", "resume", "--env", "dev")
    assert result.exit_code == 0, result.output
    plan_args = next(c["args"] for c in fake_terraform() if c["args"][0] == "plan")
    assert "-refresh=false" in plan_args
    assert "the Cloud SQL instance is stopped" in result.stdout
    assert json.loads(dev_repo.settings_file.read_text())["settings"]["paused"] is False


def test_a_running_database_is_refreshed(dev_repo, fake_terraform):  # noqa: F811
    assert cli(dev_repo, "infra", "plan", "--env", "dev").exit_code == 0
    plan_args = next(c["args"] for c in fake_terraform() if c["args"][0] == "plan")
    assert "-refresh=false" not in plan_args
    assert not any(a.startswith("-var=schedule_pauses_now") for a in plan_args)


def test_an_already_paused_estate_plans_nothing_and_applies_nothing(
    dev_repo,
    fake_terraform,  # noqa: F811
):
    dev_repo.plan_file.write_text(json.dumps({"format_version": "1.2", "resource_changes": []}))
    result = cli(dev_repo, "infra", "pause", "--env", "dev")
    assert result.exit_code == 0, result.output
    assert "nothing to change" in result.stderr
    assert "apply" not in commands(fake_terraform())


# The schedule, through the same seam (the service, which takes the time).


def with_schedule(project):
    settings = json.loads(project.settings_file.read_text())
    settings["settings"]["schedule"] = WEEKDAYS
    project.settings_file.write_text(json.dumps(settings, indent=2) + "\n")
    subprocess.run(
        ["git", "-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qam", "s"],
        cwd=project.root,
        check=True,
    )


def test_plan_passes_the_schedule_when_it_pauses(dev_repo, fake_terraform):  # noqa: F811
    with_schedule(dev_repo)
    said = []
    terraform.plan(dev_repo, "dev", said.append, now=SATURDAY_NOON)
    plan_args = next(c["args"] for c in fake_terraform() if c["args"][0] == "plan")
    assert "-var=schedule_pauses_now=true" in plan_args
    assert any("until Mon 06:00 UTC" in line for line in said)
    terraform.plan(dev_repo, "dev", said.append, now=MONDAY_NOON)
    plan_args = [c["args"] for c in fake_terraform() if c["args"][0] == "plan"][-1]
    assert not any(a.startswith("-var=schedule_pauses_now") for a in plan_args)


def test_resume_is_refused_while_the_schedule_pauses(dev_repo, fake_terraform):  # noqa: F811
    with_schedule(dev_repo)
    with pytest.raises(ConfigError) as error:
        pause.set_paused(dev_repo, "dev", False, print, print, now=SATURDAY_NOON)
    assert "until Mon 2026-12-07 06:00 UTC" in error.value.message
    assert "widen or remove settings.schedule" in (error.value.hint or "")
    assert fake_terraform() == []


def test_pause_inside_the_window_works_and_resume_inside_it_too(
    dev_repo,
    fake_terraform,  # noqa: F811
):
    with_schedule(dev_repo)
    done = pause.set_paused(dev_repo, "dev", True, lambda _: None, lambda _: None, now=MONDAY_NOON)
    assert (done.paused, done.edited, done.applied) == (True, True, True)


# guard --pause-only, for the scheduled workflow.


def test_guard_pause_only(tmp_path, repo):
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(paused_plan()))
    ok = CliRunner().invoke(
        app, ["--project-dir", str(repo.root), "infra", "guard", str(plan), "--pause-only"]
    )
    assert ok.exit_code == 0, ok.output
    extra = change(
        f"{PREFIX}.network.google_compute_firewall.webhooks",
        "google_compute_firewall",
        None,
        {"name": "x"},
        actions=("create",),
    )
    plan.write_text(json.dumps(paused_plan([extra])))
    refused = CliRunner().invoke(
        app, ["--project-dir", str(repo.root), "infra", "guard", str(plan), "--pause-only"]
    )
    assert refused.exit_code == DestroyBlocked.exit_code
    assert "google_compute_firewall.webhooks: create" in refused.stderr
    # Without the flag the same plan passes the destroy guard (nothing protected goes).
    plain = CliRunner().invoke(app, ["--project-dir", str(repo.root), "infra", "guard", str(plan)])
    assert plain.exit_code == 0


# The scheduled workflow: every environment with a schedule has a job that fires at its
# edges and goes through plan, the pause-only guard and apply, never beside an apply from
# main.


def test_the_schedule_workflow_fires_at_every_scheduled_environments_edges():
    import yaml

    workflow = yaml.safe_load((REPO / ".github" / "workflows" / "schedule.yml").read_text())
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as true
    crons = {entry["cron"] for entry in triggers["schedule"]}
    deploy_jobs = yaml.safe_load((REPO / ".github" / "workflows" / "deploy.yml").read_text())[
        "jobs"
    ]
    scheduled = []
    for env in terraform.environments(Project(REPO)):
        settings = json.loads(
            (REPO / "terraform" / "environments" / env / "terraform.tfvars.json").read_text()
        )["settings"]
        window = pause.schedule_of(settings, env)
        if window is None:
            assert env not in workflow["jobs"], f"{env} has no schedule, so no scheduled job"
            continue
        scheduled.append(env)
        assert set(window.cron_lines()) <= crons, (env, window.cron_lines())
        job = workflow["jobs"][env]
        assert job["environment"] == env
        assert job["env"]["ENV"] == env
        script = "\n".join(step.get("run", "") for step in job["steps"])
        assert (
            script.index("infra plan") < script.index("infra guard") < script.index("infra apply")
        )
        assert "--pause-only" in script
        apply_job = deploy_jobs[f"deploy-{env}"]
        assert job["concurrency"] == apply_job["concurrency"], "never beside a deploy from main"
    assert scheduled == ["dev"]  # the committed settings schedule dev only

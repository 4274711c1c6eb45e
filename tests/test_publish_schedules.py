"""Recurring runs from schedules.yaml, reconciled by deploy; and `pipelines submit`."""

import json

import pytest
from typer.testing import CliRunner

from kfp_gcp.cli import app
from kfp_gcp.errors import ConfigError
from kfp_gcp.services.kfp import schedules
from kfp_gcp.services.project import Project, select
from tests.conftest import REPO
from tests.fake_kfp import FakeKfp, _public
from tests.test_publish import SCHEDULES, deploy, pipeline_source


@pytest.fixture
def fake(socket_enabled):
    server = FakeKfp(page_size_cap=2).start()
    yield server
    server.stop()


@pytest.fixture
def project(make_project):
    project = make_project({"alpha": pipeline_source("alpha")})
    (project.root / "pipelines/alpha/schedules.yaml").write_text(
        SCHEDULES.format(cron="0 0 2 * * *")
    )
    return project


def enabled_runs(fake):
    return sorted(r["display_name"] for r in fake.recurring.values() if r["mode"] == "ENABLE")


def test_a_changed_schedule_leaves_exactly_one_enabled(fake, project):
    summary = deploy(fake, project)
    (first,) = summary.results[0].schedules
    assert first.status == "created"
    assert enabled_runs(fake) == [first.recurring_run]
    assert first.recurring_run.startswith("alpha/nightly@")
    (run,) = fake.recurring.values()
    assert run["trigger"]["cron_schedule"]["cron"] == "0 0 2 * * *"
    assert run["runtime_config"]["parameters"] == {"dataset": "iris"}
    assert run["pipeline_version_reference"]["pipeline_version_id"] == summary.results[0].version_id

    fake.reset_log()
    assert deploy(fake, project).results[0].schedules[0].status == "unchanged"
    assert fake.writes == []

    (project.root / "pipelines/alpha/schedules.yaml").write_text(
        SCHEDULES.format(cron="0 30 3 * * *")
    )
    fake.reset_log()
    (second,) = deploy(fake, project).results[0].schedules
    assert second.status == "replaced"
    assert enabled_runs(fake) == [second.recurring_run]
    assert len(fake.recurring) == 2
    # create (disabled), disable the old one, enable the new one: never two enabled.
    assert [w.path.rsplit("/", 1)[-1].split(":")[-1] for w in fake.writes] == [
        "recurringruns", "disable", "enable",
    ]  # fmt: skip


def test_a_removed_schedule_is_disabled_not_deleted(fake, project):
    deploy(fake, project)
    (project.root / "pipelines/alpha/schedules.yaml").unlink()
    (result,) = deploy(fake, project).results[0].schedules
    assert result.status == "removed"
    assert enabled_runs(fake) == []
    assert len(fake.recurring) == 1


def test_schedule_parameters_are_checked_against_the_signature(project):
    (project.root / "pipelines/alpha/schedules.yaml").write_text(
        "schedules:\n  - {name: n, cron: '@daily', parameters: {datset: x}}\n"
    )
    from kfp_gcp.services.kfp import publish

    with pytest.raises(ConfigError, match="unknown parameters datset"):
        publish.prepare(project, select(project, "pipeline"))


def test_schema_file_is_current():
    assert (REPO / schedules.SCHEMA_PATH).read_text() == schedules.schema_text(), (
        "regenerate: .venv/bin/python -c 'from kfp_gcp.services import schedules; "
        f'open("{schedules.SCHEMA_PATH}", "w").write(schedules.schema_text())\''
    )


def test_repository_schedule_files_are_valid():
    from kfp_gcp.services.pipelines import params
    from kfp_gcp.services.project import load

    project = Project(REPO)
    for source in select(project, "pipeline"):
        signature = params.signature(load(project, source))
        schedules.load(project, source.path.parent, signature)


def test_submit_runs_the_default_version_and_waits(fake, project):
    deploy(fake, project)
    runner = CliRunner()
    base = ["--project-dir", str(project.root), "-o", "json", "pipelines", "submit", "alpha"]
    result = runner.invoke(
        app,
        [*base, "--env", "dev", "--host", fake.url, "-p", "dataset=iris", "--wait", "--poll", "0"],
    )
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["state"] == "SUCCEEDED"
    assert info["url"] == f"{fake.url}/#/runs/details/{info['run_id']}"
    (run,) = fake.runs.values()
    assert run["runtime_config"]["parameters"] == {"dataset": "iris"}
    newest = fake.versions_of("alpha")[-1]["pipeline_version_id"]
    assert run["pipeline_version_reference"]["pipeline_version_id"] == newest

    fake.run_states = ["RUNNING", "FAILED"]
    failed = runner.invoke(
        app, [*base, "--env", "dev", "--host", fake.url, "--wait", "--poll", "0"]
    )
    assert failed.exit_code == 6
    assert "FAILED" in failed.stderr

    bad = runner.invoke(app, [*base, "--env", "dev", "--host", fake.url, "-p", "nope=1"])
    assert bad.exit_code == 3


def test_submit_of_an_undeployed_pipeline_says_how_to_deploy(fake, project):
    result = CliRunner().invoke(
        app,
        ["--project-dir", str(project.root), "pipelines", "submit", "alpha", "--env", "dev",
         "--host", fake.url],
    )  # fmt: skip
    assert result.exit_code == 3
    assert "pipelines deploy --env dev --only alpha" in result.stderr


def test_fake_answers_use_the_json_keys_of_the_kfp_server_api_models(fake, project):
    import kfp_server_api as m

    deploy(fake, project)
    CliRunner().invoke(
        app,
        ["--project-dir", str(project.root), "pipelines", "submit", "alpha", "--env", "dev",
         "--host", fake.url],
    )  # fmt: skip
    for items, model in [
        (fake.pipelines, m.V2beta1Pipeline),
        (fake.versions, m.V2beta1PipelineVersion),
        (fake.experiments, m.V2beta1Experiment),
        (fake.runs, m.V2beta1Run),
        (fake.recurring, m.V2beta1RecurringRun),
    ]:
        assert items, model
        for item in items.values():
            assert set(_public(item)) <= set(model.attribute_map.values()), model
    page = fake._page([], {}, "recurringRuns")
    assert set(page) <= set(m.V2beta1ListRecurringRunsResponse.attribute_map.values())

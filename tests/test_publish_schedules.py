"""Recurring runs from schedules.yaml, reconciled by deploy; and `pipelines submit`."""

import dataclasses
import json
import re

import pytest
from typer.testing import CliRunner

from kfp_gcp.cli import app
from kfp_gcp.errors import ConfigError
from kfp_gcp.services.kfp import schedules
from kfp_gcp.services.project import Project, select
from tests.conftest import REPO
from tests.fake_kfp import FakeKfp, _public
from tests.test_publish import SCHEDULES, api_for, deploy, pipeline_source, rewrite


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
    # The marker deploy lists its runs by: the literal text, since runs that earlier
    # releases created must still be recognised (and a person reads it in the UI).
    assert run["description"] == (
        "Declared in pipelines/alpha/schedules.yaml as 'nightly'; "
        "managed by kfp-gcp pipelines deploy."
    )

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


def write_schedules(project, name, text):
    (project.root / f"pipelines/{name}/schedules.yaml").write_text(text)


def write_verbs(fake):
    return [w.path.rsplit("/", 1)[-1].split(":")[-1] for w in fake.writes]


def test_enabled_false_creates_the_run_paused_and_toggling_it_changes_only_its_mode(fake, project):
    paused = SCHEDULES.format(cron="0 0 2 * * *") + "    enabled: false\n"
    write_schedules(project, "alpha", paused)
    (created,) = deploy(fake, project).results[0].schedules
    assert dataclasses.asdict(created) == {  # what --output json shows
        "pipeline": "alpha",
        "schedule": "nightly",
        "status": "created",
        "recurring_run": created.recurring_run,
        "writes": 2,  # its experiment, the run
        "reason": "",
        "error": "",
    }
    (run,) = fake.recurring.values()
    assert run["mode"] == "DISABLE"
    assert "enable" not in write_verbs(fake)

    for enabled, status, verb in [("true", "enabled", "enable"), ("false", "disabled", "disable")]:
        write_schedules(project, "alpha", paused.replace("false", enabled))
        fake.reset_log()
        (result,) = deploy(fake, project).results[0].schedules
        assert (result.status, result.writes) == (status, 1)
        assert result.recurring_run == created.recurring_run  # the same run, not replaced
        assert write_verbs(fake) == [verb]
        assert run["mode"] == ("ENABLE" if enabled == "true" else "DISABLE")
    fake.reset_log()
    (result,) = deploy(fake, project).results[0].schedules
    assert (result.status, result.writes) == ("unchanged", 0)
    assert fake.writes == []
    assert len(fake.recurring) == 1


def test_a_changed_schedule_costs_three_writes_and_the_summary_says_so(fake, project):
    deploy(fake, project)
    write_schedules(project, "alpha", SCHEDULES.format(cron="0 30 3 * * *"))
    fake.reset_log()
    summary = deploy(fake, project)
    (result,) = summary.results[0].schedules
    assert (summary.results[0].status, summary.results[0].writes) == ("unchanged", 0)
    assert (result.status, result.writes) == ("replaced", 3)
    assert summary.writes == 3 == len(fake.writes)
    assert summary.retries == 0


def test_descriptor_and_every_schedules_are_sent_as_written(fake, project):
    write_schedules(
        project,
        "alpha",
        "schedules:\n  - {name: daily, cron: '  @daily '}\n"
        "  - {name: often, cron: '@every 1h30m'}\n"
        "  - {name: spaced, cron: '0  0 2 * *   sun'}\n",
    )
    summary = deploy(fake, project)
    assert [s.status for s in summary.results[0].schedules] == ["created"] * 3
    crons = {r["display_name"].split("@")[0]: r["trigger"] for r in fake.recurring.values()}
    assert crons == {
        "alpha/daily": {"cron_schedule": {"cron": "@daily"}},
        "alpha/often": {"cron_schedule": {"cron": "@every 1h30m"}},
        "alpha/spaced": {"cron_schedule": {"cron": "0 0 2 * * sun"}},
    }
    assert len(fake.enabled()) == 3


@pytest.mark.parametrize(
    ("cron", "words"),
    [
        ("@every 500ms", "at least 1s"),
        ("@every 0.9s", "at least 1s"),
        ("@every 1h30", "at least 1s such as 30m"),
        ("@often", "unknown descriptor '@often'"),
        ("0 2 * * *", "write '0 0 2 * * *'"),
        ("0 0 2 * *", "write '0 0 0 2 * *'"),
        ("0 0 2", "six space-separated fields"),
        ("0 0 2 * * 1/x", "day of week '1/x': the step must be a whole number"),
        ("0 0 2 * * MON-SUNDAY", "'MON-SUNDAY': not a number or name (allowed: 0-6 or SUN-SAT"),
        ("0 0 2 * * 5-1", "the range runs backwards"),
        ("0 0 2 0 * *", "day of month '0': out of range (allowed: 1-31,"),
        ("0 0 2 * 1,13 *", "month '13': out of range (allowed: 1-12 or JAN-DEC"),
        ("0 0 x * * *", "hours 'x': not a number (allowed: 0-23, *"),
    ],
)  # fmt: skip
def test_a_cron_kfp_would_refuse_or_misread_says_what_to_write(cron, words):
    with pytest.raises(ValueError, match=re.escape(words)):
        schedules.check_cron(cron)


@pytest.mark.parametrize(
    "cron",
    ["@every 1s", "@every 1.5h", "0 0 2 * JAN-mar ?", "0 0 2 1-31/2 * *", "59 59 23 31 12 6"],
)
def test_crons_at_the_edges_of_what_kfp_accepts_pass(cron):
    assert schedules.check_cron(cron) == cron


REQUIRED = """\
from kfp import dsl

from components.load_dataset.component import load_dataset


@dsl.pipeline(name="alpha")
def alpha(dataset: str, rows: int = 5) -> None:
    load_dataset(name=dataset)
"""


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ("{}", "schedule 'nightly': missing required dataset"),
        ("{rows: 3}", "schedule 'nightly': missing required dataset"),
        (
            "{datset: iris}",
            "schedule 'nightly': unknown parameters datset; missing required dataset",
        ),
        ("{dataset: iris, size: 1}", "schedule 'nightly': unknown parameters size"),
    ],
)
def test_a_schedule_must_give_every_required_parameter_and_only_known_ones(
    make_project, parameters, message
):
    project = make_project({"alpha": REQUIRED})
    write_schedules(
        project,
        "alpha",
        f"schedules:\n  - {{name: nightly, cron: '@daily', parameters: {parameters}}}\n",
    )
    from kfp_gcp.services.kfp import publish

    with pytest.raises(ConfigError) as error:
        publish.prepare(project, select(project, "pipeline"))
    assert error.value.message == f"pipelines/alpha/schedules.yaml: {message}"
    assert error.value.hint == "the pipeline's parameters are: dataset, rows"


def test_a_schedule_with_the_required_parameter_is_accepted(make_project):
    project = make_project({"alpha": REQUIRED})
    write_schedules(
        project,
        "alpha",
        "schedules:\n  - {name: nightly, cron: '@daily', parameters: {dataset: iris}}\n",
    )
    from kfp_gcp.services.kfp import publish

    (compiled,) = publish.prepare(project, select(project, "pipeline"))
    assert [(s.name, s.parameters) for s in compiled.schedules] == [
        ("nightly", {"dataset": "iris"})
    ]


def test_deploying_one_pipeline_leaves_other_pipelines_recurring_runs_alone(fake, make_project):
    # "sales" is a substring of "presales": the server's name filter matches both.
    project = make_project(
        {
            "alpha": pipeline_source("alpha", display="sales"),
            "beta": pipeline_source("beta", display="presales"),
            "gamma": pipeline_source("gamma"),  # no schedules at all
        }
    )
    for name in ("alpha", "beta"):
        write_schedules(project, name, SCHEDULES.format(cron="0 0 2 * * *"))
    deploy(fake, project, full=True)
    before = {r["display_name"]: r["recurring_run_id"] for r in fake.recurring.values()}
    presales = next(rid for name, rid in before.items() if name.startswith("presales/"))

    write_schedules(project, "alpha", SCHEDULES.format(cron="0 0 3 * * *"))
    rewrite(project, "gamma", pipeline_source("gamma", description="gamma changed"))
    fake.reset_log()
    summary = deploy(fake, project, full=True)
    found = {r.pipeline: [s.status for s in r.schedules] for r in summary.results}
    assert found == {"sales": ["replaced"], "presales": ["unchanged"], "gamma": []}
    assert summary.removed == []
    assert not any(presales in w.path for w in fake.writes)
    assert sorted(n.split("@")[0] for n in fake.enabled()) == ["presales/nightly", "sales/nightly"]
    assert summary.writes == 4  # gamma's version; sales: create, disable, enable

    fake.reset_log()
    only = deploy(fake, project, names=["gamma"])
    assert only.results[0].schedules == []
    assert fake.writes == []


# robfig/cron v1.2.0's names and descriptors, and Go's duration units (time.ParseDuration).
MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]


@pytest.mark.parametrize(
    "cron",
    [f"0 0 0 1 {m} *" for m in MONTHS]
    + [f"0 0 0 * * {d.upper()}" for d in DAYS]
    + ["0 0 0 1 JAN-DEC *", "0 0 0 * * SUN-SAT", "0 0 0 1 1-12 *", "0 0 0 * * 0-6"]
    + ["@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"]
    + ["@every 1000000000ns", "@every 1000000us", "@every 1000000µs", "@every 1000ms"]
    + ["@every 1s", "@every 1m", "@every 1h", "@every 1.5h30m"],
)
def test_every_name_descriptor_and_duration_kfp_knows_is_accepted(cron):
    assert schedules.check_cron(cron) == cron


@pytest.mark.parametrize(
    ("cron", "field"),
    [
        ("60 0 0 * * *", "seconds '60'"),
        ("0 60 0 * * *", "minutes '60'"),
        ("0 0 24 * * *", "hours '24'"),
        ("0 0 0 32 * *", "day of month '32'"),
        ("0 0 0 * 13 *", "month '13'"),
        ("0 0 0 * * 7", "day of week '7'"),
    ],
)
def test_an_out_of_range_cron_names_its_field(cron, field):
    with pytest.raises(ValueError, match=f"^{re.escape(field)}: out of range"):
        schedules.check_cron(cron)


@pytest.mark.parametrize(
    ("cron", "words"),
    [
        ("@every 999ms", "at least 1s"),
        ("@every 999999us", "at least 1s"),
        ("@every 999999µs", "at least 1s"),
        ("@every 999999999ns", "at least 1s"),
        ("@every 0.0166m", "at least 1s"),
        ("@every 0.00027775h", "at least 1s"),  # 0.9999 s
        ("0 */0 * * * *", "minutes '*/0': the step must be positive"),
        ("0 0 x-3 * * *", "hours 'x-3': not a number (allowed"),
        ("0 0 1-x * * *", "hours '1-x': not a number (allowed"),
        ("0 0 3-1 * * *", "hours '3-1': the range runs backwards (allowed"),
    ],
)
def test_a_cron_just_outside_what_kfp_accepts_is_refused(cron, words):
    with pytest.raises(ValueError, match=re.escape(words)):
        schedules.check_cron(cron)


def test_schedule_file_errors_name_each_field_and_what_was_given(project):
    from kfp_gcp.services.kfp import publish

    write_schedules(
        project,
        "alpha",
        "schedules:\n  - {name: a, cron: '0 0 2 * * *', max_concurrency: '2'}\n"
        "  - {name: b, cron: '0 0 2 * * *', enabled: 'no'}\n",
    )
    with pytest.raises(ConfigError) as error:
        publish.prepare(project, select(project, "pipeline"))
    # Strict: a quoted number or yes/no is not taken for an int or a boolean.
    assert error.value.message == (
        "pipelines/alpha/schedules.yaml: "
        "schedules.0.max_concurrency: Input should be a valid integer (got '2'); "
        "schedules.1.enabled: Input should be a valid boolean (got 'no')"
    )
    assert error.value.hint == "see schemas/schedules.schema.json and docs/publishing.md"
    write_schedules(project, "alpha", "- {name: a, cron: '@daily'}\n")
    with pytest.raises(ConfigError) as error:
        publish.prepare(project, select(project, "pipeline"))
    # The whole file is the wrong shape; the list it holds is not repeated back.
    assert error.value.message == (
        "pipelines/alpha/schedules.yaml: file: Input should be a valid dictionary or instance "
        "of ScheduleFile"
    )


def test_the_recurring_run_hash_is_sha256_of_compact_sorted_utf8_json():
    # The definition must not move between kfp-gcp releases: every recurring run in KFP
    # would look changed, and be replaced, after an upgrade.
    import hashlib

    schedule = schedules.Schedule(name="n", cron="@daily", parameters={"a": "é"})
    canonical = (
        '{"cron":"@daily","experiment":"e","max_concurrency":1,"no_catchup":true,'
        '"parameters":{"a":"é"},"pipeline_id":"p","version_id":"v"}'
    )
    expected = hashlib.sha256(canonical.encode()).hexdigest()[:8]
    assert schedules.fingerprint(schedule, "p", "v", "e") == expected


def add_run(fake, name, managed=True, enabled=True):
    """A recurring run made outside this deploy (by hand, or by another deploy)."""
    experiment = next(iter(fake.experiments))
    description = schedules.MANAGED if managed else "made by hand"
    pipeline = next(iter(fake.pipelines))
    version = fake.versions_of(fake.pipelines[pipeline]["name"])[-1]["pipeline_version_id"]
    data = {
        "display_name": name,
        "description": description,
        "max_concurrency": "1",
        "mode": "ENABLE" if enabled else "DISABLE",
        "experiment_id": experiment,
        "pipeline_version_reference": {"pipeline_id": pipeline, "pipeline_version_id": version},
        "trigger": {"cron_schedule": {"cron": "@daily"}},
    }
    with fake.lock:
        return fake._create_recurring_run(data)


def test_a_run_named_like_ours_but_not_managed_is_left_alone(fake, project):
    deploy(fake, project)
    (ours,) = fake.recurring.values()
    lookalike = add_run(fake, ours["display_name"][:-8] + "0badcafe", managed=False)
    write_schedules(project, "alpha", SCHEDULES.format(cron="0 30 3 * * *"))
    fake.reset_log()
    (result,) = deploy(fake, project).results[0].schedules
    assert result.status == "replaced"
    assert not any(lookalike["recurring_run_id"] in w.path for w in fake.writes)
    assert lookalike["mode"] == "ENABLE"
    assert ours["mode"] == "DISABLE"


def test_an_explicit_experiment_equal_to_the_default_changes_nothing(fake, project):
    deploy(fake, project)
    write_schedules(
        project, "alpha", SCHEDULES.format(cron="0 0 2 * * *") + "    experiment: alpha\n"
    )
    fake.reset_log()
    (result,) = deploy(fake, project).results[0].schedules
    assert (result.status, result.writes) == ("unchanged", 0)
    assert fake.writes == []


def test_duplicates_of_a_run_are_repaired_keeping_the_oldest(fake, project):
    deploy(fake, project)
    (ours,) = fake.recurring.values()
    twins = [add_run(fake, ours["display_name"]) for _ in range(2)]  # a retried create, twice
    fake.reset_log()
    (result,) = deploy(fake, project).results[0].schedules
    assert (result.status, result.writes) == ("repaired", 2)
    assert [t["mode"] for t in twins] == ["DISABLE", "DISABLE"]
    assert ours["mode"] == "ENABLE"
    fake.reset_log()
    assert deploy(fake, project).results[0].schedules[0].status == "unchanged"
    assert fake.writes == []


def test_the_newest_of_several_concurrent_deploys_wins(fake, project):
    deploy(fake, project)
    write_schedules(project, "alpha", SCHEDULES.format(cron="0 30 3 * * *"))
    later = []

    def two_more_deploys(path, query):  # they create theirs while this one enables its own
        if path.endswith(":enable") and not later:
            later.extend(add_run(fake, f"alpha/nightly@{h}") for h in ("0000000b", "0000000c"))

    fake.before_write = two_more_deploys
    fake.reset_log()
    (result,) = deploy(fake, project).results[0].schedules
    newest = later[-1]
    assert fake.enabled() == [newest["display_name"]]
    assert result.status == "superseded"
    # create, disable the old one, enable ours; then ours and the other newcomer off
    assert result.writes == 5
    assert len(fake.writes) == 5


def test_a_dry_run_of_paused_resumed_and_removed_schedules_writes_nothing(fake, project):
    write_schedules(
        project,
        "alpha",
        "schedules:\n  - {name: a, cron: '@daily'}\n  - {name: b, cron: '@daily', enabled: false}\n"
        "  - {name: c, cron: '@hourly'}\n",
    )
    deploy(fake, project)
    write_schedules(
        project,
        "alpha",
        "schedules:\n  - {name: a, cron: '@daily', enabled: false}\n"
        "  - {name: b, cron: '@daily'}\n",
    )
    fake.reset_log()
    summary = deploy(fake, project, dry_run=True)
    found = {s.schedule: (s.status, s.writes) for s in summary.results[0].schedules}
    assert found == {
        "a": ("would-disabled", 0),
        "b": ("would-enabled", 0),
        "c": ("would-removed", 0),
    }
    assert fake.writes == []
    summary = deploy(fake, project)
    removed = summary.results[0].schedules[-1]
    assert (removed.schedule, removed.status, removed.writes) == ("c", "removed", 1)
    assert removed.reason == "no longer in schedules.yaml"
    fake.reset_log()
    again = deploy(fake, project).results[0].schedules
    assert [s.status for s in again] == ["unchanged", "unchanged"]  # c is off: nothing to do
    assert fake.writes == []


def test_a_schedule_name_given_twice_is_refused(project):
    from kfp_gcp.services.kfp import publish

    write_schedules(
        project,
        "alpha",
        "schedules:\n  - {name: a, cron: '@daily'}\n  - {name: b, cron: '@daily'}\n"
        "  - {name: a, cron: '@hourly'}\n",
    )
    with pytest.raises(ConfigError) as error:
        publish.prepare(project, select(project, "pipeline"))
    assert "schedule names must be unique; repeated: a" in error.value.message


def test_a_dry_run_of_a_new_version_names_no_recurring_run_it_cannot_know(fake, project):
    deploy(fake, project)
    rewrite(project, "alpha", pipeline_source("alpha", description="Loads, described anew."))
    fake.reset_log()
    summary = deploy(fake, project, dry_run=True)
    (result,) = summary.results
    assert (result.status, result.version_id) == ("would-new-version", "")
    # The run's name hashes the version id, which the upload would only assign.
    (schedule,) = result.schedules
    assert (schedule.status, schedule.recurring_run, schedule.writes) == ("would-replaced", "", 0)
    assert fake.writes == []


def test_disable_orphans_as_down_calls_it_disables_every_managed_run(fake, project):
    # `kfp-gcp down` passes no pipelines and no dry_run: every enabled managed run stops.
    deploy(fake, project)
    api = api_for(fake)
    managed = api.recurring_runs("description", schedules.MANAGED)
    fake.reset_log()
    (result,) = schedules.disable_orphans(api, [], managed)
    assert (result.pipeline, result.schedule, result.status, result.writes) == (
        "alpha",
        "nightly",
        "removed",
        1,
    )
    assert enabled_runs(fake) == []
    assert write_verbs(fake) == ["disable"]

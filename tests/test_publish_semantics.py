"""`pipelines deploy` and `submit` under KFP 2.17.0's semantics (issue 10), against the
double in tests/fake_kfp.py: no unique names for recurring runs and runs, filters decoded
twice, names compared ignoring case and accents, one-second timestamps, a UI proxy."""

import json
import os
import shutil
import subprocess
import sys
import threading
import time

import pytest
from typer.testing import CliRunner

from kfp_gcp.cli import app
from kfp_gcp.errors import ConfigError, PublishError
from kfp_gcp.services.kfp import api as kfp_api
from kfp_gcp.services.kfp import publish, schedules
from kfp_gcp.services.kfp.api import KfpApi, RetryPolicy
from kfp_gcp.services.project import Project, select
from tests.conftest import REPO
from tests.fake_kfp import BASE, FakeKfp, Fault, upload_error
from tests.test_publish import SCHEDULES, FakeClock, api_for, deploy, pipeline_source, rewrite

# A contract without a registry: components keep their local images (test_images.py deploys
# with one), so these tests exercise publishing alone.
NO_REGISTRY = str(REPO / "tests/fixtures/platform-outputs-inverse-proxy.json")

RR = BASE + "recurringruns"


@pytest.fixture
def fake(socket_enabled):
    server = FakeKfp().start()
    yield server
    server.stop()


def schedule(project, cron):
    (project.root / "pipelines/alpha/schedules.yaml").write_text(SCHEDULES.format(cron=cron))


@pytest.fixture
def project(make_project):
    project = make_project({"alpha": pipeline_source("alpha")})
    schedule(project, "0 0 2 * * *")
    return project


def verbs(fake):
    """The write calls, as create / enable / disable / upload."""
    out = []
    for w in fake.writes:
        tail = w.path.rsplit("/", 1)[-1]
        out.append(tail.split(":")[-1] if ":" in tail else tail)
    return out


def git(root, *args):
    env = {**os.environ, "GIT_AUTHOR_NAME": "T", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "T", "GIT_COMMITTER_EMAIL": "t@example.com"}  # fmt: skip
    done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                          env=env, check=True)  # fmt: skip
    return done.stdout.strip()


def commit_all(root, message):
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)
    return git(root, "rev-parse", "HEAD")


def forget_pipelines():
    for module in [m for m in sys.modules if m.startswith("pipelines.")]:
        del sys.modules[module]


# 1. No duplicate recurring runs from retried creates.


def test_a_recurring_run_written_then_5xx_is_created_once(fake, project):
    # CreateJob makes the ScheduledWorkflow, then the answer can still be a 5xx.
    fake.faults = [Fault(status=503, methods=frozenset({"POST"}), path=RR, after=True)]
    summary = deploy(fake, project)
    (result,) = summary.results[0].schedules
    assert result.status == "created"
    assert len(fake.recurring) == 1
    assert fake.enabled() == [result.recurring_run]
    creates = [w for w in fake.writes if w.path == RR]
    assert len(creates) == 1  # listed by name after the 503 instead of posting again
    assert creates[0].body["mode"] == "DISABLE"  # created disabled, enabled afterwards
    assert verbs(fake) == ["upload", "experiments", "recurringruns", "enable"]
    assert summary.retries == 0  # nothing was sent twice
    assert summary.writes == 4  # the upload, the experiment, the recurring run, its enable
    # probe, pipelines, managed recurring runs, upload, newest version, experiment list and
    # create, the create (503), the list by name that finds it, the list before enabling,
    # enable, the list that confirms one is enabled
    assert summary.requests == 12


def test_a_recurring_run_whose_answer_is_lost_is_created_once(fake, project):
    fake.faults = [
        Fault(status=0, methods=frozenset({"POST"}), path="/recurringruns", delay=1.0, after=True)
    ]
    summary = deploy(fake, project, read_timeout_s=0.3)
    assert summary.results[0].schedules[0].status == "created"
    assert len(fake.recurring) == 1
    assert len([w for w in fake.writes if w.path == RR]) == 1


def test_a_create_that_never_reached_the_server_is_sent_again(fake, project):
    # A 429 is answered before the request is handled: retrying cannot duplicate.
    fake.faults = [Fault(status=429, methods=frozenset({"POST"}), path="/recurringruns")]
    summary = deploy(fake, project)
    assert summary.results[0].schedules[0].status == "created"
    assert [w.status for w in fake.writes if w.path == RR] == [429, 200]
    assert len(fake.recurring) == 1


def test_created_recurring_runs_run_the_deployed_version_with_the_declared_settings(fake, project):
    summary = deploy(fake, project)
    (run,) = fake.recurring.values()
    result = summary.results[0]
    assert run["pipeline_version_reference"] == {
        "pipeline_id": result.pipeline_id,
        "pipeline_version_id": result.version_id,
    }
    assert run["trigger"] == {"cron_schedule": {"cron": "0 0 2 * * *"}}
    assert run["max_concurrency"] == "1"
    assert run["no_catchup"] is True
    assert schedules.MANAGED in run["description"]
    assert "pipelines/alpha/schedules.yaml" in run["description"]


# Two deploys at once.


def run_concurrently(*jobs):
    results, errors = [None] * len(jobs), []

    def go(i, job):
        try:
            results[i] = job()
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=go, args=(i, j)) for i, j in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    return results


def both_create_at_once(fake):
    """Both deploys pass their reads (nothing exists) before either creates."""
    barrier = threading.Barrier(2, timeout=20)

    def hold(path, query):
        if path == RR:
            barrier.wait()

    fake.before_write = hold


def test_two_deploys_at_once_leave_exactly_one_enabled_recurring_run(fake, project):
    (project.root / "pipelines/alpha/schedules.yaml").unlink()
    deploy(fake, project)  # the pipeline exists; now both deploys add the same schedule
    schedule(project, "0 0 2 * * *")
    prepared = publish.prepare(project, select(project, "pipeline"))
    both_create_at_once(fake)
    summaries = run_concurrently(
        *[lambda: publish.deploy(api_for(fake), project, prepared, full=True)] * 2
    )
    assert len(fake.recurring) == 2  # KFP kept both creates: names are not unique
    assert len(fake.enabled()) == 1
    assert {s.results[0].schedules[0].status for s in summaries} == {"created"}
    fake.before_write = None
    fake.reset_log()
    again = deploy(fake, project, full=True)
    assert again.results[0].schedules[0].status == "unchanged"
    assert fake.writes == []


def test_a_late_enable_from_a_concurrent_deploy_is_undone_by_its_own_check(fake, project):
    """A enables its run after B, which did not see it enabled, enabled its own: the
    list A makes after writing finds two enabled and turns its own off."""
    (project.root / "pipelines/alpha/schedules.yaml").unlink()
    deploy(fake, project)
    api_for(fake).experiment_id("alpha")
    schedule(project, "0 0 2 * * *")
    prepared = publish.prepare(project, select(project, "pipeline"))
    fake.clock_step = 0  # one second: the id decides which run of the name is kept
    ids = iter(range(2**100, 0, -1))  # each new id sorts before the previous one
    fake._uuid = lambda: f"{next(ids):032x}"
    lock, seen = threading.Lock(), {"create": 0, "enable": 0}
    a_enabling, b_enabling = threading.Event(), threading.Event()
    both_read = threading.Barrier(2, timeout=20)

    def both_have_listed():  # each deploy's first read: the managed recurring runs
        answered = [r for r in fake.log if r.method == "GET" and r.path == RR and r.status]
        return len(answered) >= 2

    def interleave(path, query):
        kind = "create" if path == RR else "enable" if path.endswith(":enable") else ""
        if not kind:
            return
        if kind == "create":
            both_read.wait()  # neither deploy's reads may see the other's run
        with lock:
            seen[kind] += 1
            n = seen[kind]
        if kind == "create" and n == 1:  # else B would see A's run and not create its own
            deadline = time.monotonic() + 10
            while not both_have_listed():
                assert time.monotonic() < deadline
                time.sleep(0.01)
        if kind == "create" and n == 2:  # B creates once A has decided to enable its own
            assert a_enabling.wait(10)
        if kind == "enable" and n == 1:  # A's enable lands after B's
            a_enabling.set()
            assert b_enabling.wait(10)
            time.sleep(0.3)
        if kind == "enable" and n == 2:
            b_enabling.set()

    fake.before_write = interleave
    fake.reset_log()
    run_concurrently(*[lambda: publish.deploy(api_for(fake), project, prepared)] * 2)
    assert seen == {"create": 2, "enable": 2}
    assert len(fake.enabled()) == 1
    kept = min(fake.recurring.values(), key=lambda r: r["recurring_run_id"])
    assert kept["mode"] == "ENABLE"


def test_two_deploys_of_different_schedules_at_once_leave_exactly_one_enabled(
    fake, project, tmp_path
):
    (project.root / "pipelines/alpha/schedules.yaml").unlink()
    deploy(fake, project)
    other = Project(tmp_path / "laptop")
    shutil.copytree(project.root, other.root)
    schedule(project, "0 0 2 * * *")
    schedule(other, "0 0 4 * * *")
    ci = publish.prepare(project, select(project, "pipeline"))
    laptop = publish.prepare(other, select(other, "pipeline"))
    both_create_at_once(fake)
    summaries = run_concurrently(
        lambda: publish.deploy(api_for(fake), project, ci),
        lambda: publish.deploy(api_for(fake), other, laptop),
    )
    assert len(fake.recurring) == 2
    assert len(fake.enabled()) == 1
    # The deploy that saw the other's run reports `superseded`; one that finished before
    # the other created reports `created`, and the other then turned it off.
    outcomes = [s.results[0].schedules[0].status for s in summaries]
    assert set(outcomes) <= {"created", "superseded"}
    newest = max(fake.recurring.values(), key=lambda r: (r["_created"], r["recurring_run_id"]))
    assert fake.enabled() == [newest["display_name"]]  # the later create wins, for both


# 2. Schedules follow the repository.


def test_a_removed_pipeline_has_its_schedules_disabled_on_a_full_deploy(fake, make_project):
    project = make_project({"alpha": pipeline_source("alpha"), "beta": pipeline_source("beta")})
    for name in ("alpha", "beta"):
        (project.root / f"pipelines/{name}/schedules.yaml").write_text(
            SCHEDULES.format(cron="0 0 2 * * *")
        )
    deploy(fake, project, full=True)
    assert len(fake.enabled()) == 2
    shutil.rmtree(project.root / "pipelines/beta")
    fake.reset_log()
    partial = deploy(fake, project, names=["alpha"])  # --only: leaves other pipelines alone
    assert partial.removed == []
    assert fake.writes == []
    summary = deploy(fake, project, full=True)
    (removed,) = summary.removed
    assert (removed.pipeline, removed.schedule, removed.status) == ("beta", "nightly", "removed")
    assert "no longer in the repository" in removed.reason
    assert removed.writes == 1
    assert summary.writes == 1
    assert [r.split("/")[0] for r in fake.enabled()] == ["alpha"]
    assert len(fake.recurring) == 2  # disabled, not deleted
    fake.reset_log()
    assert deploy(fake, project, full=True).removed == []  # already disabled: nothing to do
    assert fake.writes == []


def test_a_renamed_pipeline_moves_its_schedule(fake, project):
    deploy(fake, project, full=True)
    rewrite(project, "alpha", pipeline_source("alpha", display="Alpha renamed"))
    summary = deploy(fake, project, full=True)
    assert summary.results[0].status == "created"  # a new KFP pipeline: the old one stays
    assert summary.results[0].schedules[0].status == "created"
    (removed,) = summary.removed
    assert removed.pipeline == "alpha"
    assert [r.split("/")[0] for r in fake.enabled()] == ["Alpha renamed"]


def test_a_removed_schedule_is_disabled_and_reported(fake, project):
    deploy(fake, project)
    (project.root / "pipelines/alpha/schedules.yaml").write_text("schedules: []\n")
    (result,) = deploy(fake, project).results[0].schedules
    assert (result.status, result.writes) == ("removed", 1)
    assert fake.enabled() == []


def test_a_pipeline_deleted_and_recreated_in_kfp_gets_its_schedule_back(fake, project):
    deploy(fake, project)
    # Someone deletes the pipeline in the UI and deploy re-creates it: new ids, so the
    # old recurring run (which points at a deleted version) is replaced.
    fake.pipelines.clear()
    fake.versions.clear()
    summary = deploy(fake, project)
    assert summary.results[0].status == "created"
    (result,) = summary.results[0].schedules
    assert result.status == "replaced"
    (enabled,) = [r for r in fake.recurring.values() if r["mode"] == "ENABLE"]
    reference = enabled["pipeline_version_reference"]
    assert reference["pipeline_version_id"] == summary.results[0].version_id


def test_a_changed_pipeline_replaces_its_recurring_run_in_a_safe_order(fake, project):
    deploy(fake, project)
    rewrite(project, "alpha", pipeline_source("alpha", description="Loads, changed."))
    fake.reset_log()
    summary = deploy(fake, project)
    assert summary.results[0].status == "new-version"
    assert summary.results[0].schedules[0].status == "replaced"
    # new version; the new recurring run disabled; the old one off; then the new one on
    assert verbs(fake) == ["upload_version", "recurringruns", "disable", "enable"]
    assert [w.body["mode"] for w in fake.writes if w.path == RR] == ["DISABLE"]
    assert len(fake.enabled()) == 1
    assert summary.writes == 4


# 3. Names are any text.


def test_plus_and_percent_in_names_deploy_and_stay_unchanged(fake, make_project):
    display = "Sales + returns 100% (ü) a_b\\c"
    project = make_project({"alpha": pipeline_source("alpha", display=display)})
    (project.root / "pipelines/alpha/schedules.yaml").write_text(
        "schedules:\n  - name: nightly\n    cron: '@daily'\n    experiment: 'a+b 50%'\n"
    )
    first = deploy(fake, project)
    assert first.results[0].status == "created"
    assert first.results[0].schedules[0].status == "created"
    assert fake.enabled() == [first.results[0].schedules[0].recurring_run]
    assert {e["display_name"] for e in fake.experiments.values()} == {"a+b 50%"}
    fake.reset_log()
    again = deploy(fake, project)
    assert again.results[0].status == "unchanged"
    assert fake.writes == []
    # Lookups by name send the filter encoded twice, as KFP's frontend does.
    api = api_for(fake)
    assert api.pipeline_named(display).name == display
    assert api.experiment_id("a+b 50%") == next(iter(fake.experiments))
    assert len(fake.experiments) == 1


def test_a_display_name_edited_in_the_ui_does_not_break_deploy(fake, project):
    deploy(fake, project)
    pipeline = fake.pipeline_named("alpha")
    pipeline["display_name"] = "Alpha (edited in the UI)"  # UpdatePipeline: display_name only
    fake.reset_log()
    summary = deploy(fake, project)
    assert summary.results[0].status == "unchanged"
    assert fake.writes == []


def test_an_experiment_that_clashes_only_by_case_is_a_clear_error(fake, project):
    api = api_for(fake)
    api.experiment_id("Nightly")
    fake.reset_log()
    with pytest.raises(PublishError, match="ignoring case and accents"):
        api.experiment_id("nightly")
    lists = [r for r in fake.log if r.method == "GET"]
    assert len(lists) == 2  # one list, the create's 409, one more list: no recursion
    assert [w.status for w in fake.writes] == [409]


# 4. Cost independent of history; concurrent reads, ordered writes.


def noop_requests(fake, project):
    fake.reset_log()
    summary = deploy(fake, project)
    assert fake.writes == []
    return summary.requests, [(r.method, r.path.replace(BASE, "")) for r in fake.log]


@pytest.mark.slow
def test_a_no_op_deploy_costs_the_same_after_50_versions(socket_enabled, project):
    costs = []
    for history in (1, 50):
        with_history = FakeKfp().start()
        try:
            deploy(with_history, project)
            pid = with_history.pipeline_named("alpha")["pipeline_id"]
            old = {"pipelineInfo": {"name": "alpha"}}
            for i in range(history - 1):
                with_history.add_version(pid, f"old-{i}", f"content-sha256: {i:064x}", old)
            rewrite(project, "alpha", pipeline_source("alpha", description=f"Now {history}."))
            deploy(with_history, project)  # the repository's content is the newest again
            requests, log = noop_requests(with_history, project)
            assert len(with_history.versions) == history + 1
            versions = [r for r in with_history.log if r.path.endswith("/versions")]
            assert [r.query["page_size"] for r in versions] == ["1"]
            costs.append((requests, len(log)))
        finally:
            with_history.stop()
    assert costs[0] == costs[1]
    assert costs[0][1] == 4  # probe, pipelines, newest version, managed recurring runs


@pytest.mark.slow
def test_reads_run_concurrently_and_every_write_waits_for_them(fake, make_project):
    names = [f"p{i}" for i in range(10)]
    project = make_project({n: pipeline_source(n) for n in names})
    deploy(fake, project)
    for n in names:
        rewrite(project, n, pipeline_source(n, description=f"{n} changed"))
    fake.latency = 0.05
    fake.max_in_flight = 0
    fake.reset_log()
    summary = deploy(fake, project)
    assert [r.status for r in summary.results] == ["new-version"] * 10
    assert 1 < fake.max_in_flight <= kfp_api.CONCURRENCY
    first_write = next(i for i, r in enumerate(fake.log) if r.method == "POST")
    assert all(r.method == "GET" for r in fake.log[:first_write])
    assert not any(r.path.endswith("/versions") for r in fake.log[first_write:])
    uploaded = [w.query["pipelineid"] for w in fake.writes]
    order = [fake.pipeline_named(n)["pipeline_id"] for n in names]
    assert uploaded == order  # writes in the repository's order, one at a time


def test_a_failed_read_writes_nothing(fake, make_project):
    project = make_project({"alpha": pipeline_source("alpha"), "beta": pipeline_source("beta")})
    deploy(fake, project)
    rewrite(project, "alpha", pipeline_source("alpha", description="changed"))
    beta = fake.pipeline_named("beta")["pipeline_id"]
    fake.faults = [Fault(status=400, count=1, methods=frozenset({"GET"}), path=beta)]
    fake.reset_log()
    with pytest.raises(PublishError, match="answered 400"):
        deploy(fake, project)
    assert fake.writes == []


# 5. No silent rollback.


@pytest.fixture
def git_project(project):
    (project.root / ".gitignore").write_text("build/\n__pycache__/\n")
    git(project.root, "init", "-q", "-b", "main")
    return project


@pytest.mark.slow
def test_deploying_an_older_checkout_is_refused_unless_allowed(fake, git_project):
    project = git_project
    first = commit_all(project.root, "first")
    deploy(fake, project)
    rewrite(project, "alpha", pipeline_source("alpha", description="The second, longer one."))
    second = commit_all(project.root, "second")
    assert deploy(fake, project).results[0].status == "new-version"
    assert f"commit: {second}" in fake.versions_of("alpha")[-1]["description"]

    git(project.root, "checkout", "-q", first)  # an old CI run re-run, or a stale laptop
    forget_pipelines()
    fake.reset_log()
    with pytest.raises(PublishError, match="would roll back 1 pipeline") as refused:
        deploy(fake, project)
    assert second[:12] in refused.value.message
    assert "not an ancestor of HEAD" in refused.value.message
    assert "--allow-rollback" in refused.value.hint
    assert fake.writes == []

    summary = deploy(fake, project, allow_rollback=True)
    assert summary.results[0].status == "restored"
    assert summary.results[0].note.startswith("rollback allowed:")
    git(project.root, "checkout", "-q", "main")
    forget_pipelines()
    # Back on main: the newest version came from `first`, an ancestor, so no refusal.
    assert deploy(fake, project).results[0].status == "restored"


@pytest.mark.slow
def test_a_shallow_clone_says_it_does_not_know_the_recorded_commit(fake, git_project, tmp_path):
    origin = git_project
    commit_all(origin.root, "first")
    rewrite(origin, "alpha", pipeline_source("alpha", description="Deployed from here."))
    commit_all(origin.root, "second")
    deploy(fake, origin)
    rewrite(origin, "alpha", pipeline_source("alpha", description="Third, not yet deployed."))
    commit_all(origin.root, "third")
    clone = tmp_path / "ci"
    subprocess.run(["git", "clone", "-q", "--depth", "1", f"file://{origin.root}", str(clone)],
                   check=True)  # fmt: skip
    with pytest.raises(PublishError, match="does not know") as refused:
        deploy(fake, Project(clone))
    assert "shallow clone" in refused.value.message


@pytest.mark.slow
def test_same_second_versions_deploy_and_submit_agree_on_the_newest(fake, project):
    fake.clock_step = 0  # everything in one second: the id decides the order
    deploy(fake, project)
    rewrite(project, "alpha", pipeline_source("alpha", description="Same second, other text."))
    deploy(fake, project)
    listed = sorted(fake.versions.values(), key=lambda v: (v["_created"], v["pipeline_version_id"]))
    fake.clock_step = 1
    summary = deploy(fake, project)
    newest_now = fake.versions_of("alpha")[-1]
    assert summary.results[0].version_id == newest_now["pipeline_version_id"]
    if listed[-1]["name"].startswith("v-"):  # our upload came out newest: nothing to do
        assert summary.results[0].status == "unchanged"
    else:  # it came out older: deploy makes it newest again, once
        assert summary.results[0].status == "restored"
    fake.reset_log()
    assert deploy(fake, project).results[0].status == "unchanged"
    assert fake.writes == []
    result = CliRunner().invoke(
        app,
        ["--project-dir", str(project.root), "-o", "json", "pipelines", "submit", "alpha",
         "--env", "dev", "--host", fake.url],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (run,) = fake.runs.values()
    assert run["pipeline_version_reference"]["pipeline_version_id"] == summary.results[0].version_id


# 6. Fail fast; show retries and progress.


def free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_nothing_listening_fails_within_the_probe_deadline(socket_enabled):
    clock = FakeClock()
    retries = []
    policy = RetryPolicy(probe_deadline_s=10, sleep=clock.sleep, clock=clock.clock)
    api = KfpApi(f"http://127.0.0.1:{free_port()}", "kubeflow", policy=policy,
                 on_retry=retries.append)  # fmt: skip
    with pytest.raises(PublishError, match=r"nothing answers at http://127\.0\.0\.1") as error:
        api.probe()
    assert "kfp-gcp ui" in error.value.hint
    assert clock.now <= 10
    assert len(retries) >= 3
    assert all("connection refused" in r.reason for r in retries)


def test_cli_deploy_with_nothing_listening_exits_fast_with_a_clear_error(
    socket_enabled, project, monkeypatch
):
    monkeypatch.setattr(kfp_api, "RetryPolicy", lambda: RetryPolicy(probe_deadline_s=1.0))
    url = f"http://127.0.0.1:{free_port()}"
    start = time.monotonic()
    result = CliRunner().invoke(
        app,
        ["--project-dir", str(project.root), "-o", "json", "pipelines", "deploy", "--env", "dev",
         "--host", url, "--outputs", NO_REGISTRY],
    )  # fmt: skip
    assert time.monotonic() - start < 30  # compile plus a one-second probe, not 600 s
    assert result.exit_code == 9
    assert result.stdout == ""
    assert f"nothing answers at {url}" in result.stderr
    assert "attempt 2 in" in result.stderr  # the retry was shown


def test_cli_shows_each_retry_and_a_line_per_pipeline_and_keeps_json_clean(fake, make_project):
    project = make_project({"alpha": pipeline_source("alpha"), "beta": pipeline_source("beta")})
    fake.faults = [Fault(status=503, count=1, methods=frozenset({"GET"}), path="/versions")]
    deploy(fake, project)  # both exist, so their newest versions are read
    fake.faults = [Fault(status=503, count=1, methods=frozenset({"GET"}), path="/versions")]
    result = CliRunner().invoke(
        app,
        ["--project-dir", str(project.root), "-o", "json", "pipelines", "deploy", "--env", "dev",
         "--host", fake.url, "--outputs", NO_REGISTRY],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["retries"] == 1
    assert "read the newest version: HTTP 503: fault; attempt 2 in" in result.stderr
    assert "[1/2] alpha: unchanged" in result.stderr
    assert "[2/2] beta: unchanged" in result.stderr


# 7. Error bodies and cron ranges.


def test_an_upload_error_shows_the_servers_message_not_its_body(fake, project):
    body = upload_error(400, "Failed to create a pipeline and a pipeline version").payload
    fake.faults = [Fault(status=400, methods=frozenset({"POST"}), path="/upload", payload=body)]
    summary = deploy(fake, project)
    (result,) = summary.results
    assert result.status == "failed"
    assert result.error.endswith(
        "KFP answered 400 (Failed to create a pipeline and a pipeline version)"
    )
    assert "github.com" not in result.error  # error_details (the server's stack) left out


def test_an_out_of_range_cron_fails_before_any_request(fake, project):
    (project.root / "pipelines/alpha/schedules.yaml").write_text(
        "schedules:\n  - {name: nightly, cron: '0 0 25 * * *'}\n"
    )
    with pytest.raises(ConfigError, match=r"hours '25': out of range \(allowed: 0-23"):
        deploy(fake, project)
    assert fake.log == []


# 8. Submit never starts two runs after a retried create.


def submit(fake, project, *extra):
    return CliRunner().invoke(
        app,
        ["--project-dir", str(project.root), "-o", "json", "pipelines", "submit", "alpha",
         "--env", "dev", "--host", fake.url, *extra],
    )  # fmt: skip


def test_submit_after_a_write_then_5xx_starts_one_run(fake, project):
    deploy(fake, project)
    fake.faults = [Fault(status=502, methods=frozenset({"POST"}), path="/runs", after=True)]
    result = submit(fake, project)
    assert result.exit_code == 0, result.output
    (run,) = fake.runs.values()
    assert json.loads(result.stdout)["run_id"] == run["run_id"]
    assert len([w for w in fake.writes if w.path == BASE + "runs"]) == 1
    assert "kfp-gcp submit " in run["description"]


def test_submit_after_a_lost_answer_starts_one_run(fake, project, monkeypatch):
    deploy(fake, project)
    monkeypatch.setattr(kfp_api, "RetryPolicy", lambda: RetryPolicy(read_timeout_s=0.3))
    fake.faults = [
        Fault(status=0, methods=frozenset({"POST"}), path="/runs", delay=1.0, after=True)
    ]
    result = submit(fake, project)
    assert result.exit_code == 0, result.output
    assert len(fake.runs) == 1


def test_submit_sends_the_create_again_only_when_nothing_was_written(fake, project):
    deploy(fake, project)
    # The first create is refused before it is handled (503 from the proxy): re-listing
    # finds nothing, so a second create is sent.
    fake.faults = [Fault(status=503, methods=frozenset({"POST"}), path="/runs")]
    result = submit(fake, project)
    assert result.exit_code == 0, result.output
    assert [w.status for w in fake.writes if w.path == BASE + "runs"] == [503, 200]
    assert len(fake.runs) == 1


def test_cli_deploy_reads_while_compiling_but_writes_nothing_when_one_fails(fake, make_project):
    project = make_project({"alpha": pipeline_source("alpha"), "beta": pipeline_source("beta")})
    rewrite(project, "beta", "from kfp import dsl\nraise ValueError('broken')\n")
    result = CliRunner().invoke(
        app,
        ["--project-dir", str(project.root), "pipelines", "deploy", "--env", "dev",
         "--host", fake.url, "--outputs", NO_REGISTRY],
    )  # fmt: skip
    assert result.exit_code == 5
    assert "pipelines/beta/pipeline.py" in result.stderr
    assert "nothing was published" in result.stderr
    assert fake.log  # alpha was compared while beta compiled
    assert fake.writes == []


def test_a_failed_read_stops_the_reads_still_retrying(fake, make_project):
    project = make_project({"alpha": pipeline_source("alpha"), "beta": pipeline_source("beta")})
    deploy(fake, project)
    alpha = fake.pipeline_named("alpha")["pipeline_id"]
    beta = fake.pipeline_named("beta")["pipeline_id"]
    fake.faults = [
        Fault(status=503, count=10_000, methods=frozenset({"GET"}), path=alpha),
        Fault(status=400, count=1, methods=frozenset({"GET"}), path=beta),
    ]
    prepared = publish.prepare(project, select(project, "pipeline"))
    fake.reset_log()
    policy = RetryPolicy(base_s=0.05, cap_s=0.05, deadline_s=60)
    start = time.monotonic()
    with pytest.raises(PublishError, match="answered 400"):
        publish.deploy(KfpApi(fake.url, "kubeflow", policy=policy), project, prepared)
    assert time.monotonic() - start < 10  # not alpha's 60 s of retries
    assert fake.writes == []


def test_a_dry_run_says_what_would_change_and_writes_nothing(fake, project):
    deploy(fake, project)
    rewrite(project, "alpha", pipeline_source("alpha", description="Changed for a dry run."))
    fake.reset_log()
    summary = deploy(fake, project, dry_run=True, full=True)
    assert summary.results[0].status == "would-new-version"
    assert summary.results[0].schedules[0].status == "would-replaced"
    assert fake.writes == []
    assert summary.writes == 0


def test_an_unchanged_file_is_recognised_without_parsing_it(fake, project, monkeypatch):
    first = deploy(fake, project)
    parsed = []
    real = publish.content_digest
    monkeypatch.setattr(publish, "content_digest", lambda text: parsed.append(1) or real(text))
    summary = deploy(fake, project)
    assert summary.results[0].status == "unchanged"
    assert summary.results[0].digest == first.results[0].digest
    assert parsed == []  # the file digest in the description settled it
    # A version published without the file digest (an older kfp-gcp) is compared by content.
    (version,) = fake.versions_of("alpha")
    version["description"] = "\n".join(
        line for line in version["description"].splitlines() if not line.startswith("file-")
    )
    assert deploy(fake, project).results[0].status == "unchanged"
    assert parsed == [1]


def test_a_dry_run_labels_a_changed_schedule_alike_whether_or_not_its_pipeline_changed(
    fake, make_project
):
    project = make_project({"alpha": pipeline_source("alpha"), "beta": pipeline_source("beta")})
    schedule(project, "0 0 2 * * *")
    (project.root / "pipelines/beta/schedules.yaml").write_text(SCHEDULES.format(cron="@daily"))
    deploy(fake, project)
    rewrite(project, "alpha", pipeline_source("alpha", description="A new version."))
    (project.root / "pipelines/beta/schedules.yaml").write_text(SCHEDULES.format(cron="@weekly"))
    (project.root / "pipelines/gamma").mkdir()
    (project.root / "pipelines/gamma/pipeline.py").write_text(pipeline_source("gamma"))
    (project.root / "pipelines/gamma/schedules.yaml").write_text(SCHEDULES.format(cron="@hourly"))
    fake.reset_log()
    summary = deploy(fake, project, dry_run=True)
    assert summary.results[0].pipeline_id == fake.pipeline_named("alpha")["pipeline_id"]
    found = {r.pipeline: (r.status, r.schedules[0].status) for r in summary.results}
    assert found == {
        "alpha": ("would-new-version", "would-replaced"),  # no version yet to point at
        "beta": ("unchanged", "would-replaced"),  # the version exists: a named run
        "gamma": ("would-create", "would-created"),
    }
    assert summary.results[1].schedules[0].recurring_run.startswith("beta/nightly@")
    assert summary.results[2].schedules[0].recurring_run == ""  # no version yet to name it by
    assert fake.writes == []
    assert summary.writes == 0


def test_an_upload_version_whose_answer_is_lost_is_confirmed_by_its_exact_name(fake, project):
    deploy(fake, project)
    rewrite(project, "alpha", pipeline_source("alpha", description="Loads, changed."))
    (alpha,) = publish.prepare(project, select(project, "pipeline"))
    name = publish.version_name(alpha.digest)
    pid = fake.pipeline_named("alpha")["pipeline_id"]
    # Made by hand earlier: its name contains ours, so the lookup by name lists it too.
    fake.add_version(pid, f"{name}-copy", "copied by hand", {})
    upload = BASE + "pipelines/upload_version"
    # The version is stored, but the answer comes after the client's read timeout; the
    # retry is then a 409, and deploy checks that the version of that name is its own.
    fake.faults = [Fault(status=0, methods=frozenset({"POST"}), path=upload, delay=1.0, after=True)]
    fake.reset_log()
    summary = publish.deploy(api_for(fake, read_timeout_s=0.3), project, [alpha])
    (result,) = summary.results
    assert result.status == "new-version", result.error
    (ours,) = [v for v in fake.versions.values() if v["name"] == name]
    assert result.version_id == ours["pipeline_version_id"]
    uploads = [w for w in fake.writes if w.path == upload]
    assert len(uploads) == 2
    assert uploads[1].status == 409  # (the first is still waiting to answer)
    assert summary.retries == 1
    # The recurring run points at that version.
    (enabled,) = [r for r in fake.recurring.values() if r["mode"] == "ENABLE"]
    assert enabled["pipeline_version_reference"]["pipeline_version_id"] == result.version_id


def test_git_metadata_is_read_from_the_checkout(project, monkeypatch):
    outside = publish.git_info(project.root)  # not a checkout: unknown
    assert outside == publish.GitInfo()
    (alpha,) = publish.prepare(project, select(project, "pipeline"))
    assert "\ncommit: unknown\nauthor: unknown\n" in publish.describe(alpha, outside)
    with monkeypatch.context() as without_git:
        without_git.setenv("PATH", str(project.root))
        assert publish.git_info(project.root) == publish.GitInfo()
    (project.root / ".gitignore").write_text("build/\n__pycache__/\n")
    git(project.root, "init", "-q", "-b", "main")
    head = commit_all(project.root, "first")
    clean = publish.git_info(project.root)
    assert clean == publish.GitInfo(commit=head, author="T <t@example.com>")
    (project.root / "README.md").write_text("not a pipeline\n")  # not pipelines/, components/
    assert publish.git_info(project.root).dirty is False
    (project.root / "components/new.py").write_text("x = 1\n")
    assert publish.git_info(project.root).dirty is True
    (project.root / "components/new.py").unlink()
    (project.root / "pipelines/alpha/pipeline.py").write_text(pipeline_source("alpha", "Edited"))
    dirty = publish.git_info(project.root)
    assert dirty.dirty is True
    (alpha,) = publish.prepare(project, select(project, "pipeline"))
    description = publish.describe(alpha, dirty)
    assert f"\ncommit: {head} + uncommitted changes\n" in description
    assert "\nauthor: T <t@example.com>\n" in description
    assert publish.recorded_commit(description) == head


def test_history_tells_ancestors_from_other_branches_and_unknown_commits(project):
    (project.root / ".gitignore").write_text("build/\n__pycache__/\n")
    git(project.root, "init", "-q", "-b", "main")
    first = commit_all(project.root, "first")
    git(project.root, "checkout", "-q", "-b", "other")
    (project.root / "other.txt").write_text("x\n")
    other = commit_all(project.root, "on another branch")
    git(project.root, "checkout", "-q", "main")
    (project.root / "main.txt").write_text("y\n")
    head = commit_all(project.root, "second")
    history = publish.History(project.root, publish.git_info(project.root))
    assert history.contains(head) is True
    assert history.contains(first) is True
    assert history.contains(other) is False
    assert history.contains("0" * 40) is None  # not in this clone
    shallow = publish.History(project.root, publish.GitInfo(commit=head, shallow=True))
    assert shallow.contains(other) is None  # a shallow clone cannot say "not an ancestor"


class Newest:
    """A version as the SDK lists it: its name and description."""

    def __init__(self, description, name="v-0123456789ab"):
        self.name, self.description = name, description


class KnownCommits:
    """History's answers without a clone: which commits HEAD contains (None: unknown)."""

    def __init__(self, head="b" * 40, answers=None, shallow=False):
        self.git = publish.GitInfo(commit=head, shallow=shallow)
        self.answers = answers or {}

    def contains(self, commit):
        return self.answers.get(commit)


PUBLISHED = "content-sha256: " + "0" * 64 + "\ncommit: " + "a" * 40 + "\n"
WHERE = "its newest version v-0123456789ab was published from commit aaaaaaaaaaaa"


@pytest.mark.parametrize(
    ("description", "history", "reason"),
    [
        ("uploaded by hand", KnownCommits(), ""),
        ("content-sha256: " + "0" * 64 + "\ncommit: unknown\n", KnownCommits(), ""),
        (PUBLISHED, KnownCommits(answers={"a" * 40: True}), ""),
        (PUBLISHED, KnownCommits(answers={"a" * 40: False}),
         f"{WHERE}, which is not an ancestor of HEAD bbbbbbbbbbbb"),
        (PUBLISHED, KnownCommits(), f"{WHERE}, which this clone does not know"),
        (PUBLISHED, KnownCommits(shallow=True),
         f"{WHERE}, which this clone does not know (a shallow clone: fetch the history, e.g. "
         "fetch-depth: 0)"),
        (PUBLISHED, KnownCommits(head="unknown"),
         f"{WHERE}, and this directory is not a git checkout, so that cannot be checked"),
    ],
)  # fmt: skip
def test_replacing_the_newest_version_is_a_rollback_only_when_its_commit_is_not_ours(
    description, history, reason
):
    assert publish._rollback(Newest(description), history) == reason


def test_outside_a_checkout_a_version_from_a_commit_is_not_replaced_unless_allowed(fake, project):
    deploy(fake, project)
    pid = fake.pipeline_named("alpha")["pipeline_id"]
    fake.add_version(pid, "v-from-ci", PUBLISHED, {})  # CI published it from a commit
    (alpha,) = publish.prepare(project, select(project, "pipeline"))
    fake.reset_log()
    with pytest.raises(PublishError, match="not a git checkout, so that cannot be checked"):
        publish.deploy(api_for(fake), project, [alpha])
    assert fake.writes == []
    summary = publish.deploy(api_for(fake), project, [alpha], allow_rollback=True)
    assert summary.results[0].status == "restored"
    assert summary.results[0].note.startswith("rollback allowed: its newest version v-from-ci")


def test_a_schedule_another_deploy_keeps_changing_fails_after_three_checks(fake, project):
    deploy(fake, project)
    schedule(project, "0 0 3 * * *")
    (alpha,) = publish.prepare(project, select(project, "pipeline"))
    (old,) = fake.recurring
    api = api_for(fake)
    real = api.set_recurring_run_enabled
    disables = []

    def and_another_deploy_enables_it_again(run_id, enabled):
        real(run_id, enabled)
        if not enabled:
            disables.append(run_id)
            fake.recurring[run_id]["mode"] = "ENABLE"

    api.set_recurring_run_enabled = and_another_deploy_enables_it_again
    lines = []
    summary = publish.deploy(api, project, [alpha], progress=lines.append)
    (result,) = summary.results
    assert result.status == "failed"
    assert result.error == (
        "schedules: schedule 'nightly' of 'alpha': its recurring runs were still changing "
        "after 3 checks (another deploy at the same time?)"
    )
    assert lines[-1] == f"[1/1] alpha: failed alpha: {result.error}"
    assert disables == [old] * 3  # one repair per check, then it stops

"""`pipelines deploy`: the scenarios of issue 5 against tests/fake_kfp.py (a local server
shaped like KFP's v2beta1 API), through the real kfp SDK client."""

import dataclasses
import hashlib
import json
import shutil

import pytest
from typer.testing import CliRunner

from kfp_gcp.cli import app
from kfp_gcp.errors import CompileError, PublishError
from kfp_gcp.services.kfp import publish
from kfp_gcp.services.kfp.api import KfpApi, RetryPolicy
from tests.conftest import REPO
from tests.fake_kfp import FakeKfp, Fault

LOADER = """\
from kfp import dsl

from components.load_dataset.component import load_dataset


@dsl.pipeline(name={name!r}, display_name={display!r}, description={description!r})
def {func}(dataset: str = "wine") -> None:
    load_dataset(name=dataset)
"""

SCHEDULES = """\
schedules:
  - name: nightly
    cron: "{cron}"
    parameters: {{dataset: iris}}
"""


def pipeline_source(func, display=None, description="Loads a dataset."):
    name = func.replace("_", "-")
    return LOADER.format(func=func, name=name, display=display or name, description=description)


@pytest.fixture
def fake(socket_enabled):
    server = FakeKfp(page_size_cap=1).start()  # one item per page: every list paginates
    yield server
    server.stop()


@pytest.fixture
def project(make_project):
    return make_project(
        {
            "alpha": pipeline_source("alpha"),
            # A name with spaces and non-ASCII, as a person might write it.
            "beta": pipeline_source("beta", display="Bêta pipeline ÿ ünïcode"),
        }
    )


class FakeClock:
    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def api_for(fake, namespace="kubeflow", **policy):
    clock = FakeClock()
    settings = {"read_timeout_s": 2.0, "sleep": clock.sleep, "clock": clock.clock, **policy}
    api = KfpApi(fake.url, namespace, policy=RetryPolicy(**settings))
    api.fake_clock = clock
    return api


def deploy(fake, project, names=None, dry_run=False, full=False, allow_rollback=False, **policy):
    from kfp_gcp.services.project import select

    prepared = publish.prepare(project, select(project, "pipeline", names))
    return publish.deploy(
        api_for(fake, **policy),
        project,
        prepared,
        dry_run=dry_run,
        full=full,
        allow_rollback=allow_rollback,
    )


def rewrite(project, name, text):
    """Change a pipeline's source; forget its module so the next compile sees the change."""
    import sys

    (project.root / f"pipelines/{name}/pipeline.py").write_text(text)
    for module in [m for m in sys.modules if m.startswith(f"pipelines.{name}")]:
        del sys.modules[module]


def statuses(summary):
    return {r.pipeline: r.status for r in summary.results}


def test_first_deploy_creates_each_pipeline_with_one_write(fake, project):
    summary = deploy(fake, project)
    assert statuses(summary) == {"alpha": "created", "Bêta pipeline ÿ ünïcode": "created"}
    assert [w.path for w in fake.writes] == ["/apis/v2beta1/pipelines/upload"] * 2
    assert {w.query["namespace"] for w in fake.writes} == {"kubeflow"}
    for result in summary.results:
        (version,) = fake.versions_of(result.pipeline)
        assert f"content-sha256: {result.digest}" in version["description"]
        assert "source: pipelines/" in version["description"]
        info = version["pipeline_spec"]["pipelineInfo"]  # what KFP shows
        assert (info.get("displayName") or info["name"]) == result.pipeline


def test_noop_redeploy_makes_zero_writes(fake, project):
    deploy(fake, project)
    fake.reset_log()
    summary = deploy(fake, project)
    assert set(statuses(summary).values()) == {"unchanged"}
    assert fake.writes == []
    assert summary.writes == 0


def test_one_changed_pipeline_makes_one_write_and_becomes_the_default(fake, project):
    deploy(fake, project)
    rewrite(project, "alpha", pipeline_source("alpha", description="Loads, described anew."))
    fake.reset_log()
    summary = deploy(fake, project)
    assert statuses(summary) == {"alpha": "new-version", "Bêta pipeline ÿ ünïcode": "unchanged"}
    assert [w.path for w in fake.writes] == ["/apis/v2beta1/pipelines/upload_version"]
    versions = fake.versions_of("alpha")
    assert versions[-1]["display_name"] == publish.version_name(summary.results[0].digest)
    # The newest version is the default; a revert re-uploads the old content as newest.
    rewrite(project, "alpha", pipeline_source("alpha"))
    fake.reset_log()
    summary = deploy(fake, project, ["alpha"])
    assert statuses(summary) == {"alpha": "restored"}
    assert fake.versions_of("alpha")[-1]["display_name"].endswith("-r2")
    assert len(fake.writes) == 1


def test_a_bad_pipeline_fails_before_any_request(fake, project):
    rewrite(project, "beta", "from kfp import dsl\nraise ValueError('broken')\n")
    with pytest.raises(CompileError) as error:
        deploy(fake, project)
    assert "pipelines/beta/pipeline.py" in error.value.message
    assert "broken" in error.value.message
    assert fake.log == []


def test_bad_schedule_file_fails_before_any_request(fake, project):
    (project.root / "pipelines/alpha/schedules.yaml").write_text(
        "schedules:\n  - name: nightly\n    cron: '0 2 * * *'\n    colour: blue\n"
    )
    with pytest.raises(Exception, match="six fields") as error:
        deploy(fake, project)
    assert "colour" in str(error.value)
    assert fake.log == []


def test_bursts_of_5xx_timeouts_and_slow_answers_converge_without_duplicates(fake, project):
    fake.slow = 0.02
    fake.faults = [
        Fault(status=503, count=3, methods=frozenset({"GET"})),
        Fault(status=500, count=2, methods=frozenset({"POST"})),
        Fault(status=429, count=1),
        # The upload takes effect but the answer comes after the client's read timeout:
        # the retry gets a 409, which deploy confirms by listing.
        Fault(status=0, count=1, methods=frozenset({"POST"}), delay=1.0, after=True),
    ]
    summary = deploy(fake, project, read_timeout_s=0.5)
    assert set(statuses(summary).values()) == {"created"}
    assert summary.retries >= 7
    for result in summary.results:
        assert len(fake.versions_of(result.pipeline)) == 1
    fake.reset_log()
    assert set(statuses(deploy(fake, project)).values()) == {"unchanged"}
    assert fake.writes == []


def test_connection_refused_gives_up_at_the_deadline(socket_enabled, project):
    clock = FakeClock()
    policy = RetryPolicy(deadline_s=30, sleep=clock.sleep, clock=clock.clock)
    api = KfpApi("http://127.0.0.1:9", "team-a", policy=policy)  # no probe outside kubeflow

    def refuse():
        raise ConnectionRefusedError("refused")

    with pytest.raises(PublishError, match="deadline"):
        api.call("GET healthz", refuse)
    assert clock.now <= 30
    assert all(s <= 30 for s in clock.sleeps)
    assert len(clock.sleeps) >= 3
    # Exponential with jitter in [d/2, d]: each delay at least half the previous cap.
    assert clock.sleeps[1] >= 0.5
    assert clock.sleeps[2] >= 1.0


def test_a_409_race_between_list_and_create_counts_as_success(fake, project):
    from kfp_gcp.services.project import select

    prepared = publish.prepare(project, select(project, "pipeline", ["alpha"]))
    (alpha,) = prepared
    spec = {"pipelineInfo": {"name": "alpha"}}
    description = publish.describe(alpha, publish.GitInfo())
    raced = []

    def rival(path, query):  # another deploy of the same commit gets there first
        if path.endswith("/pipelines/upload") and not raced:
            raced.append(path)
            fake.add_pipeline("alpha", description, "kubeflow", spec)

    fake.before_write = rival
    summary = publish.deploy(api_for(fake), project, prepared)
    assert raced
    assert statuses(summary) == {"alpha": "created"}
    assert len(fake.versions_of("alpha")) == 1
    assert [w.status for w in fake.writes] == [409]


def test_a_version_race_with_other_content_fails_loudly(fake, project):
    deploy(fake, project, ["alpha"])
    rewrite(project, "alpha", pipeline_source("alpha", description="changed"))
    from kfp_gcp.services.project import select

    (alpha,) = publish.prepare(project, select(project, "pipeline", ["alpha"]))
    pid = next(iter(fake.pipelines))

    def rival(path, query):
        if path.endswith("/upload_version") and len(fake.versions_of("alpha")) == 1:
            fake.add_version(pid, publish.version_name(alpha.digest), "by hand", {})

    fake.before_write = rival
    summary = publish.deploy(api_for(fake), project, [alpha])
    assert statuses(summary) == {"alpha": "failed"}
    assert "other content" in summary.results[0].error
    with pytest.raises(PublishError):
        publish.require_success(summary)


def test_dry_run_lists_but_never_writes(fake, project):
    summary = deploy(fake, project, dry_run=True)
    assert set(statuses(summary).values()) == {"would-create"}
    assert fake.writes == []
    assert fake.log  # it did read


def test_namespace_setting_is_sent_and_respected(fake, project):
    fake.multi_user = True  # single-user KFP replaces every namespace with "" (ReplaceNamespace)
    summary = deploy(fake, project, namespace="team-a")
    assert {p["namespace"] for p in fake.pipelines.values()} == {"team-a"}
    assert summary.namespace == "team-a"
    lists = [r for r in fake.log if r.path == "/apis/v2beta1/pipelines" and r.method == "GET"]
    assert {r.query.get("namespace") for r in lists} == {"team-a"}


def deploy_api(fake, project, names=None, namespace="kubeflow"):
    from kfp_gcp.services.project import select

    prepared = publish.prepare(project, select(project, "pipeline", names))
    return publish.deploy(api_for(fake, namespace=namespace), project, prepared)


def test_content_digest_ignores_comments_key_order_and_sdk_version():
    a = "# header\npipelineInfo: {name: x}\nsdkVersion: kfp-2.17.3\nroot: {a: 1, b: 2}\n"
    b = "pipelineInfo: {name: x}\nroot: {b: 2, a: 1}\nsdkVersion: kfp-2.17.9\n"
    c = "pipelineInfo: {name: x}\nroot: {b: 3, a: 1}\nsdkVersion: kfp-2.17.9\n"
    assert publish.content_digest(a) == publish.content_digest(b)
    assert publish.content_digest(a) != publish.content_digest(c)


def test_the_content_digest_is_the_sha256_of_compact_sorted_utf8_json():
    # The definition must not move between kfp-gcp releases: every digest already in a
    # KFP description would stop matching, and every pipeline would be uploaded again.
    text = "# header\nsdkVersion: kfp-2.17.3\nroot: {b: [1, 2], a: é}\n---\n---\nplatforms: {}\n"
    canonical = '[{"root":{"a":"é","b":[1,2]}},{"platforms":{}}]'
    assert publish.content_digest(text) == hashlib.sha256(canonical.encode()).hexdigest()


def test_repository_pipelines_hash_the_same_on_every_compile(repo, tmp_path):
    from kfp_gcp.services.pipelines.compiler import compile_all
    from kfp_gcp.services.project import select

    sources = select(repo, "pipeline", ["training"])
    (first,) = compile_all(repo, sources, tmp_path / "a")
    (second,) = compile_all(repo, sources, tmp_path / "b")
    assert publish.content_digest(first.output.read_text()) == publish.content_digest(
        second.output.read_text()
    )


def test_cli_deploy_prints_json_summary_and_no_sdk_noise(fake, project):
    runner = CliRunner()
    # A contract without a registry: components keep their local images (test_images.py
    # deploys with one).
    no_registry = str(REPO / "tests/fixtures/platform-outputs-inverse-proxy.json")
    args = ["--project-dir", str(project.root), "-o", "json", "pipelines", "deploy"]
    args += ["--outputs", no_registry]
    result = runner.invoke(app, [*args, "--env", "dev", "--host", fake.url])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert {r["status"] for r in data["results"]} == {"created"}
    assert data["namespace"] == "kubeflow"
    again = runner.invoke(app, [*args, "--env", "dev", "--host", fake.url])
    assert {r["status"] for r in json.loads(again.stdout)["results"]} == {"unchanged"}
    table = runner.invoke(
        app,
        ["--project-dir", str(project.root), "pipelines", "deploy", "--env", "dev",
         "--host", fake.url, "--only", "alpha", "--outputs", no_registry],
    )  # fmt: skip
    assert table.exit_code == 0
    assert "unchanged" in table.stdout
    assert "0 write calls" in table.stdout


def test_cli_no_domain_mode_asks_for_host(project, tmp_path):
    outputs = tmp_path / "outputs.json"
    shutil.copy(REPO / "tests/fixtures/platform-outputs.json", outputs)
    result = CliRunner().invoke(
        app,
        ["--project-dir", str(project.root), "pipelines", "deploy", "--env", "dev",
         "--outputs", str(outputs)],
    )  # fmt: skip
    assert result.exit_code == 3
    assert "no domain" in result.stderr
    assert "kfp-gcp ui --env dev" in result.stderr


def deploy_with_progress(fake, project, names=None, full=False, dry_run=False):
    from kfp_gcp.services.project import select

    lines = []
    prepared = publish.prepare(project, select(project, "pipeline", names))
    summary = publish.deploy(
        api_for(fake), project, prepared, full=full, dry_run=dry_run, progress=lines.append
    )
    return summary, lines


def test_summary_totals_are_exact_after_a_first_deploy_and_a_changed_one(fake, project):
    (project.root / "pipelines/alpha/schedules.yaml").write_text(SCHEDULES.format(cron="@daily"))
    fake.faults = [
        Fault(status=503, count=2, methods=frozenset({"GET"})),
        Fault(status=504, count=1, methods=frozenset({"POST"}), path="/upload"),
    ]
    summary, lines = deploy_with_progress(fake, project)
    beta = "Bêta pipeline ÿ ünïcode"
    # alpha: its upload, its experiment, the recurring run and its enable; beta: its upload
    assert [(r.writes, sum(s.writes for s in r.schedules)) for r in summary.results] == [
        (1, 3),
        (1, 0),
    ]
    assert summary.writes == 5 == len([w for w in fake.writes if w.status == 200])
    assert summary.retries == 3
    assert summary.requests == len(fake.log)
    assert [r.note for r in summary.results] == ["", ""]  # nothing to point out
    assert lines == [
        "2 pipelines compiled and compared: 2 to publish",
        "[1/2] alpha: created alpha (4 writes)",
        f"[2/2] {beta}: created {beta} (1 write)",
    ]

    rewrite(project, "alpha", pipeline_source("alpha", description="Loads, described anew."))
    fake.reset_log()
    summary, lines = deploy_with_progress(fake, project)
    # the new version, a recurring run for it (the experiment exists), the old one's
    # disable and the new one's enable
    assert summary.writes == 4 == len(fake.writes)
    assert summary.retries == 0
    version = summary.results[0].version
    assert version == "v-" + summary.results[0].digest[:12]
    assert lines == [
        "2 pipelines compiled and compared: 1 to publish",
        f"[1/2] alpha: new-version {version} (4 writes)",
        f"[2/2] {beta}: unchanged {beta}",
    ]


def test_two_pipelines_with_the_same_name_in_kfp_are_refused_before_any_request(fake, make_project):
    project = make_project(
        {
            "alpha": pipeline_source("alpha", display="Sales"),
            "beta": pipeline_source("beta", display="sales"),  # KFP ignores case
            "gamma": pipeline_source("gamma", display="Report"),
            "delta": pipeline_source("delta", display="Rêport"),  # and accents
            "epsilon": pipeline_source("epsilon", display="Reports"),
            "zeta": pipeline_source("zeta", display="Straße"),
            "eta": pipeline_source("eta", display="Strasse"),  # ß is ss
        }
    )
    with pytest.raises(CompileError) as error:
        deploy(fake, project)
    assert error.value.message.endswith(
        "several pipelines would have the same name in KFP (it ignores case and accents): "
        "'Sales', 'sales'; 'Rêport', 'Report'; 'Strasse', 'Straße'"
    )
    assert fake.log == []


def test_a_name_longer_than_kfp_keeps_is_refused_before_any_request(fake, make_project):
    fits, too_long = "é" * 64, "é" * 64 + "x"  # 128 and 129 bytes
    project = make_project(
        {
            "alpha": pipeline_source("alpha", display=fits),
            "beta": pipeline_source("beta", display=too_long),
        }
    )
    with pytest.raises(CompileError) as error:
        deploy(fake, project)
    assert "too long: pipelines/beta/pipeline.py (129 bytes)" in error.value.message
    assert "alpha" not in error.value.message
    assert fake.log == []


def test_a_kfp_pipeline_whose_name_differs_only_in_case_fails_that_pipeline_alone(fake, project):
    fake.add_pipeline("ALPHA", "made by hand", "", {"pipelineInfo": {"name": "ALPHA"}})
    summary, lines = deploy_with_progress(fake, project)
    alpha, beta = summary.results
    error = (
        "upload of 'alpha' conflicted, yet no pipeline has exactly this name in namespace "
        "'kubeflow'"
    )
    assert dataclasses.asdict(alpha) == {  # what --output json shows for it
        "pipeline": "alpha",
        "status": "failed",
        "version": "",
        "digest": alpha.digest,
        "pipeline_id": "",
        "version_id": "",
        "writes": 0,
        "error": error,
        "note": "",
        "schedules": [],
    }
    assert len(alpha.digest) == 64
    assert lines[1] == f"[1/2] alpha: failed: {error}"
    assert beta.status == "created"
    with pytest.raises(PublishError, match="1 of 2 pipelines failed: alpha: upload of"):
        publish.require_success(summary)


def test_a_second_revert_uploads_the_next_free_r_number(fake, project):
    first = deploy(fake, project, ["alpha"]).results[0]
    pid = first.pipeline_id
    (original,) = fake.versions_of("alpha")
    # Reverted to once already: -r2 exists and carries the content, listed before others.
    taken = publish.version_name(first.digest) + "-r2"
    fake.add_version(pid, taken, original["description"], original["pipeline_spec"])
    rewrite(project, "alpha", pipeline_source("alpha", description="Loads, described anew."))
    assert deploy(fake, project, ["alpha"]).results[0].status == "new-version"
    rewrite(project, "alpha", pipeline_source("alpha"))
    fake.reset_log()
    summary = deploy(fake, project, ["alpha"])
    assert statuses(summary) == {"alpha": "restored"}
    assert summary.results[0].version == publish.version_name(first.digest) + "-r3"
    assert fake.versions_of("alpha")[-1]["name"] == summary.results[0].version
    assert len(fake.writes) == 1
    fake.reset_log()
    assert statuses(deploy(fake, project, ["alpha"])) == {"alpha": "unchanged"}
    assert fake.writes == []


def test_every_failed_compile_is_named_and_nothing_after_the_first_is_compared(fake, make_project):
    project = make_project({n: pipeline_source(n) for n in ("alpha", "beta", "gamma")})
    deploy(fake, project)
    for name in ("alpha", "gamma"):
        rewrite(project, name, "from kfp import dsl\nraise ValueError('broken')\n")
    fake.reset_log()
    with pytest.raises(CompileError) as error:
        deploy(fake, project)
    assert error.value.message.startswith("2 of 3 pipelines failed, nothing was published: ")
    assert "pipelines/alpha/pipeline.py" in error.value.message
    assert "pipelines/gamma/pipeline.py" in error.value.message
    assert fake.writes == []
    # Nothing is handed on for reading once one has failed: beta compiles, but is not read.
    from kfp_gcp.services.project import select

    stream = publish.compile_stream(project, select(project, "pipeline"))
    with pytest.raises(CompileError):
        next(stream)  # alpha fails, so beta is not handed on: the first item is the error


@pytest.mark.parametrize(
    ("description", "commit"),
    [
        (None, None),
        ("", None),
        ("commit: " + "a" * 40, None),  # not published by kfp-gcp
        (f"content-sha256: {'0' * 64}\ncommit: {'a' * 40}\n", "a" * 40),
        (f"content-sha256: {'0' * 64}\ncommit: {'a' * 40} + uncommitted changes", "a" * 40),
        (f"content-sha256: {'0' * 64}\ncommit: unknown\n", "unknown"),
        (f"content-sha256: {'0' * 64}\ncommit: {'a' * 39}\n", None),
    ],
)
def test_the_recorded_commit_is_read_only_from_what_kfp_gcp_published(description, commit):
    assert publish.recorded_commit(description) == commit


def test_a_pipeline_created_meanwhile_with_other_content_gets_this_content_as_a_version(
    fake, project
):
    from kfp_gcp.services.project import select

    (alpha,) = publish.prepare(project, select(project, "pipeline", ["alpha"]))

    def rival(path, query):  # another branch's deploy creates it first, with its content
        if path.endswith("/pipelines/upload") and not fake.pipelines:
            fake.add_pipeline("alpha", "content-sha256: " + "0" * 64, "kubeflow", {})

    fake.before_write = rival
    summary = publish.deploy(api_for(fake), project, [alpha])
    (result,) = summary.results
    assert (result.status, result.version) == ("created", publish.version_name(alpha.digest))
    versions = fake.versions_of("alpha")
    assert [v["name"] for v in versions] == ["alpha", result.version]
    assert result.version_id == versions[-1]["pipeline_version_id"]
    assert [w.status for w in fake.writes] == [409, 200]


def test_by_default_a_deploy_leaves_pipelines_it_was_not_given_alone(fake, make_project):
    from kfp_gcp.services.project import select

    project = make_project({"alpha": pipeline_source("alpha"), "beta": pipeline_source("beta")})
    (project.root / "pipelines/beta/schedules.yaml").write_text(SCHEDULES.format(cron="@daily"))
    deploy(fake, project, full=True)
    alpha = publish.prepare(project, select(project, "pipeline", ["alpha"]))
    fake.reset_log()
    summary = publish.deploy(api_for(fake), project, alpha)  # not told it is the whole repo
    assert summary.removed == []
    assert fake.writes == []
    assert len(fake.enabled()) == 1


def test_a_recurring_run_that_cannot_be_disabled_fails_the_deploy_by_name(fake, make_project):
    import shutil as sh

    project = make_project({"alpha": pipeline_source("alpha"), "beta": pipeline_source("beta")})
    (project.root / "pipelines/beta/schedules.yaml").write_text(SCHEDULES.format(cron="@daily"))
    deploy(fake, project, full=True)
    sh.rmtree(project.root / "pipelines/beta")
    (run_id,) = fake.recurring
    fake.faults = [Fault(status=400, count=1, methods=frozenset({"POST"}), path=":disable")]
    summary, lines = deploy_with_progress(fake, project, full=True)
    (removed,) = summary.removed
    assert removed.status == "failed"
    error = f"schedules: disable recurring run {run_id}: KFP answered 400 (fault)"
    assert dataclasses.asdict(removed) == {
        "pipeline": "",
        "schedule": "",
        "status": "failed",
        "recurring_run": "",
        "writes": 0,
        "reason": "",
        "error": error,
    }
    assert lines[-1] == f"schedules of removed pipelines: failed ({error})"
    with pytest.raises(PublishError) as failure:
        publish.require_success(summary)
    assert failure.value.message == f"0 of 1 pipelines failed; {error}"
    assert fake.enabled() == [fake.recurring[run_id]["display_name"]]  # still on: say so


def test_an_unreachable_kfp_stops_the_compiling(socket_enabled, make_project, monkeypatch):
    import concurrent.futures
    import socket

    from kfp_gcp.services.project import select

    # The first task deploy submits is the probe; the next pipeline is pulled only once it
    # has failed (no sleep: a loaded machine could take longer than any fixed wait).
    submitted = []

    class Recording(concurrent.futures.ThreadPoolExecutor):
        def submit(self, fn, /, *args, **kwargs):
            future = super().submit(fn, *args, **kwargs)
            submitted.append(future)
            return future

    monkeypatch.setattr(concurrent.futures, "ThreadPoolExecutor", Recording)

    project = make_project({n: pipeline_source(n) for n in ("alpha", "beta", "gamma")})
    compiled = publish.prepare(project, select(project, "pipeline"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}"
    api = KfpApi(url, "kubeflow", policy=RetryPolicy(probe_deadline_s=0.0))
    pulled = []

    def slowly():  # as compile_stream yields: the next one compiles after the probe failed
        for item in compiled:
            pulled.append(item.name)
            yield item
            done, _ = concurrent.futures.wait(submitted[:1], timeout=10)
            assert done
            assert done.pop().exception() is not None

    with pytest.raises(PublishError, match="nothing answers at"):
        publish.deploy(api, project, slowly())
    # gamma was never compiled; beta was, unless the probe failed before alpha's plan
    # was even submitted (a race either way is fine: deploy stops at the next pull).
    assert pulled in (["alpha"], ["alpha", "beta"])


def test_a_dry_run_says_which_removed_pipelines_recurring_runs_it_would_disable(fake, make_project):
    import shutil as sh

    project = make_project({"alpha": pipeline_source("alpha"), "beta": pipeline_source("beta")})
    (project.root / "pipelines/beta/schedules.yaml").write_text(SCHEDULES.format(cron="@daily"))
    deploy(fake, project, full=True)
    sh.rmtree(project.root / "pipelines/beta")
    fake.reset_log()
    summary, lines = deploy_with_progress(fake, project, full=True, dry_run=True)
    (removed,) = summary.removed
    assert (removed.pipeline, removed.status, removed.writes) == ("beta", "would-removed", 0)
    assert fake.writes == []
    assert len(fake.enabled()) == 1
    summary, lines = deploy_with_progress(fake, project, full=True)
    assert lines[-1] == "beta/nightly: removed (the pipeline is no longer in the repository)"
    assert fake.enabled() == []
    publish.require_success(summary)  # a removal is a success


@pytest.mark.parametrize(
    ("writes", "schedule_writes", "line"),
    [
        (1, 0, "[2/3] alpha: created v-1 (1 write)"),
        (1, 1, "[2/3] alpha: created v-1 (2 writes)"),
        (0, 0, "[2/3] alpha: created v-1"),
    ],
)
def test_the_progress_line_counts_writes_in_words(writes, schedule_writes, line):
    from kfp_gcp.services.kfp import schedules

    result = publish.Result(pipeline="alpha", status="created", version="v-1", writes=writes)
    result.schedules = [schedules.ScheduleResult("alpha", "a", "created", "r", schedule_writes)]
    assert publish._progress_line(2, 3, result) == line

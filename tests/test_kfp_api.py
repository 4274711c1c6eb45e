"""The KFP client's retry policy, one call at a time (services/kfp/api.py), against the
local KFP double (tests/fake_kfp.py) through the real kfp SDK client, with a fake clock.

What is retried and how long it waits is what keeps a deploy from duplicating a recurring
run or waiting ten minutes for an answer that will never come: each rule in the module's
docstring has a case here, with the exact requests, retries and waits it implies."""

import json
import socket

import pytest
import urllib3.exceptions as u3
from kfp_server_api import ApiException

from kfp_gcp.errors import PublishError
from kfp_gcp.services.kfp.api import (
    CONCURRENCY,
    PAGE_SIZE,
    AlreadyExists,
    Ambiguous,
    GaveUp,
    KfpApi,
    RetryPolicy,
    _describe_connection_error,
    server_message,
    unreachable,
)
from tests.conftest import REPO
from tests.fake_kfp import BASE, FakeKfp, Fault
from tests.test_publish import FakeClock

SPEC = "pipelineInfo: {name: alpha}\nroot: {}\n"


@pytest.fixture
def fake(socket_enabled):
    server = FakeKfp().start()
    yield server
    server.stop()


def make_api(host, retries=None, **policy):
    """A client whose waits go to a fake clock; jitter 1 makes each wait the full backoff."""
    clock = FakeClock()
    settings = {"read_timeout_s": 2.0, "sleep": clock.sleep, "clock": clock.clock, **policy}
    settings.setdefault("jitter", lambda: 1.0)
    on_retry = retries.append if retries is not None else None
    api = KfpApi(host, "kubeflow", policy=RetryPolicy(**settings), on_retry=on_retry)
    return api, clock


def statuses(fake):
    return [r.status for r in fake.log]


# What is retried, and how long each wait is.


def test_a_504_burst_is_retried_with_exponential_backoff_until_it_passes(fake):
    fake.add_pipeline("alpha", "", "", {})
    fake.faults = [Fault(status=504, count=4, methods=frozenset({"GET"}))]
    retries = []
    api, clock = make_api(fake.url, retries)
    assert [p.name for p in api.pipelines()] == ["alpha"]
    assert statuses(fake) == [504, 504, 504, 504, 200]
    assert clock.sleeps == [0.5, 1.0, 2.0, 4.0]  # base 0.5 s, doubling
    assert [(r.attempt, r.delay) for r in retries] == [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0)]
    assert {r.reason for r in retries} == {"HTTP 504: fault"}
    assert {r.what for r in retries} == {"list pipelines"}
    assert {r.note for r in retries} == {""}  # a plain retry: nothing else to say
    assert (api.counters.requests, api.counters.retries) == (5, 4)


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_each_retryable_status_is_retried(fake, status):
    fake.faults = [Fault(status=status, count=1, methods=frozenset({"GET"}))]
    api, _clock = make_api(fake.url)
    assert api.pipelines() == []
    assert statuses(fake) == [status, 200]
    assert api.counters.retries == 1


def test_each_wait_is_drawn_between_half_and_all_of_the_capped_backoff(fake):
    fake.faults = [Fault(status=503, count=5, methods=frozenset({"GET"}))]
    api, clock = make_api(fake.url, jitter=lambda: 0.0, cap_s=3.0)
    api.pipelines()
    # Backoffs 0.5, 1, 2, then capped at 3; jitter 0 waits half of each.
    assert clock.sleeps == [0.25, 0.5, 1.0, 1.5, 1.5]


def test_retrying_stops_at_the_deadline_naming_the_attempts_and_the_last_answer(fake):
    fake.faults = [Fault(status=503, count=100, methods=frozenset({"GET"}))]
    api, clock = make_api(fake.url, deadline_s=10.0)
    with pytest.raises(GaveUp) as error:
        api.pipelines()
    # 0.5 + 1 + 2 + 4 s waited; the next wait (8 s) would end after the 10 s deadline.
    assert clock.sleeps == [0.5, 1.0, 2.0, 4.0]
    assert error.value.message == (
        "list pipelines: gave up after 5 attempts within the 10s deadline (last: HTTP 503: fault)"
    )
    assert error.value.last == "HTTP 503: fault"
    assert (api.counters.requests, api.counters.retries) == (5, 4)


def test_a_429_waits_at_least_what_its_retry_after_asks(fake):
    fake.faults = [
        Fault(status=429, count=1, methods=frozenset({"GET"}), headers={"Retry-After": "7"}),
        # An HTTP date is not a number of seconds: the backoff alone decides.
        Fault(status=429, count=1, methods=frozenset({"GET"}), headers={"Retry-After": "soon"}),
    ]
    api, clock = make_api(fake.url)
    api.pipelines()
    assert clock.sleeps == [7.0, 1.0]


def test_a_read_that_times_out_is_sent_again_by_this_policy_alone(fake):
    fake.faults = [Fault(status=0, count=1, methods=frozenset({"GET"}), delay=1.0)]
    retries = []
    api, _clock = make_api(fake.url, retries, read_timeout_s=0.3)
    assert api.pipelines() == []
    # urllib3's own retries are off: every request the server saw is one of ours.
    assert len(fake.log) == 2
    assert (api.counters.requests, api.counters.retries) == (2, 1)
    assert [r.reason for r in retries] == ["no answer within the read timeout"]


# What is not retried.


@pytest.mark.parametrize("status", [401, 403])
def test_401_and_403_name_the_iam_role_to_grant_and_are_not_retried(fake, status):
    # IAP answers these itself, in plain text, before KFP sees the request.
    fake.faults = [Fault(status=status, count=1, payload="Invalid IAP credentials: empty token")]
    api, clock = make_api(fake.url)
    with pytest.raises(PublishError) as error:
        api.pipelines()
    assert error.value.message == (
        f"list pipelines: KFP answered {status} (Invalid IAP credentials: empty token)"
    )
    assert "roles/iap.httpsResourceAccessor" in error.value.hint
    assert "ID token for the IAP client id" in error.value.hint
    assert len(fake.log) == 1
    assert clock.sleeps == []


def test_other_4xx_show_the_servers_message_and_are_not_retried(fake):
    status = {"code": 3, "message": "Invalid input error: bad   filter", "details": []}
    fake.faults = [Fault(status=400, count=1, payload=status)]
    api, clock = make_api(fake.url)
    with pytest.raises(PublishError) as error:
        api.pipelines()
    assert (
        error.value.message == "list pipelines: KFP answered 400 (Invalid input error: bad filter)"
    )
    assert "nothing was retried" in error.value.hint
    assert len(fake.log) == 1
    assert clock.sleeps == []


def test_a_409_is_already_exists_for_the_caller_to_confirm(fake, tmp_path):
    fake.add_pipeline("alpha", "", "", {})
    path = tmp_path / "alpha.yaml"
    path.write_text(SPEC)
    api, _clock = make_api(fake.url)
    with pytest.raises(
        AlreadyExists, match=r"^Failed to create a pipeline and a pipeline version$"
    ):
        api.upload_pipeline(str(path), "alpha", "d")
    assert statuses(fake) == [409]


def test_an_exception_that_is_not_an_http_answer_is_raised_as_is_and_not_retried(fake, tmp_path):
    api, clock = make_api(fake.url)
    with pytest.raises(FileNotFoundError):  # the SDK opens the file before sending anything
        api.upload_pipeline(str(tmp_path / "missing.yaml"), "alpha", "d")

    def invalid_model():  # what kfp_server_api's models raise on a value they do not know
        raise ValueError("Invalid value for `mode` (ON), must be one of ['ENABLE', 'DISABLE']")

    with pytest.raises(ValueError, match="Invalid value for `mode`"):
        api.call("read a recurring run", invalid_model)
    assert fake.log == []
    assert clock.sleeps == []
    assert (api.counters.requests, api.counters.retries) == (2, 0)


def test_a_cancelled_client_sends_nothing_more(fake):
    api, _clock = make_api(fake.url)
    api.cancel()
    with pytest.raises(PublishError, match=r"^list pipelines: cancelled, the deploy stopped$"):
        api.pipelines()
    assert fake.log == []


# Creates KFP does not keep unique: sent again only when nothing can have been written.


NOT_SENT = [
    ConnectionRefusedError(111, "Connection refused"),
    u3.ConnectTimeoutError("connect timed out"),
    u3.NewConnectionError(None, "Failed to establish a new connection: [Errno 111] refused"),
    ApiException(status=429, reason="Too Many Requests"),
]
MAYBE_SENT = [
    ApiException(status=500, reason="Internal Server Error"),
    ApiException(status=503, reason="Service Unavailable"),
    u3.ReadTimeoutError(None, "/apis/v2beta1/recurringruns", "Read timed out."),
    u3.ProtocolError("Connection aborted.", ConnectionResetError(104, "reset")),
    ConnectionResetError(104, "Connection reset by peer"),
]


@pytest.mark.parametrize("error", NOT_SENT + MAYBE_SENT, ids=lambda e: type(e).__name__)
def test_a_create_is_sent_again_only_when_the_failure_proves_it_was_not_sent(error):
    api, clock = make_api("http://127.0.0.1:9")
    attempts = []

    def create():
        attempts.append(1)
        if len(attempts) == 1:
            raise error
        return "created"

    if any(error is e for e in NOT_SENT):
        assert api.call("create", create, create=True) == "created"
        assert len(attempts) == 2
        assert api.counters.retries == 1
    else:
        with pytest.raises(Ambiguous):
            api.call("create", create, create=True)
        assert len(attempts) == 1
        assert clock.sleeps == []
    # Without create=True, every one of these is retried.
    attempts.clear()
    assert api.call("read", create) == "created"
    assert len(attempts) == 2


def recurring_run(api, name="alpha/nightly@0123abcd"):
    import kfp_server_api as m

    experiment = api.experiment_id("alpha")
    return m.V2beta1RecurringRun(
        display_name=name,
        pipeline_version_reference=m.V2beta1PipelineVersionReference(
            pipeline_id="p", pipeline_version_id="v"
        ),
        trigger=m.V2beta1Trigger(cron_schedule=m.V2beta1CronSchedule(cron="@daily")),
        max_concurrency=1,
        experiment_id=experiment,
    )


def test_a_create_answered_503_is_looked_for_before_it_is_sent_again(fake):
    retries = []
    api, clock = make_api(fake.url, retries)
    body = recurring_run(api)
    fake.faults = [Fault(status=503, count=1, methods=frozenset({"POST"}), path="recurringruns")]
    fake.reset_log()
    api.create_recurring_run(body)
    rr = BASE + "recurringruns"
    assert [(r.method, r.path, r.status) for r in fake.log] == [
        ("POST", rr, 503),  # refused before it was handled: nothing was written
        ("GET", rr, 200),  # so the list by name finds nothing
        ("POST", rr, 200),
    ]
    assert [r.note for r in retries] == [
        "listing to see whether it was written before sending it again",
        "nothing was written; sending it again in 0.5s",
    ]
    assert clock.sleeps == [0.5]
    assert len(fake.recurring) == 1
    assert api.counters.retries == 1


def test_a_create_written_before_its_503_is_found_not_sent_again(fake):
    api, clock = make_api(fake.url)
    body = recurring_run(api)
    fake.faults = [
        Fault(status=503, count=1, methods=frozenset({"POST"}), path="recurringruns", after=True)
    ]
    created = api.create_recurring_run(body)
    (run,) = fake.recurring.values()
    assert created.recurring_run_id == run["recurring_run_id"]
    assert api.counters.retries == 0
    assert clock.sleeps == []


def test_a_create_that_keeps_failing_gives_up_at_the_deadline_having_written_nothing(fake):
    api, clock = make_api(fake.url, deadline_s=2.0)
    body = recurring_run(api)
    fake.faults = [Fault(status=503, count=100, methods=frozenset({"POST"}), path="recurringruns")]
    fake.reset_log()
    with pytest.raises(PublishError) as error:
        api.create_recurring_run(body)
    assert error.value.message.startswith(
        "create recurring run 'alpha/nightly@0123abcd': no answer (HTTP 503: fault), and "
        "nothing was written; gave up at the 2s deadline"
    )
    # Sent at 0, 0.5, 1, 1.5 and 2 s, each after a list that found nothing.
    assert clock.sleeps == [0.5] * 4
    assert [r.method for r in fake.log] == ["POST", "GET"] * 5
    assert fake.recurring == {}


# Lists: the server matches filters loosely; the client returns what was asked.


def test_a_substring_filter_matches_percent_and_underscore_as_text(fake):
    api, _clock = make_api(fake.url)
    for name in ("50%_off/nightly@00000000", "50 x off/nightly@00000000", "50%-off/x@00000000"):
        api.create_recurring_run(recurring_run(api, name))
    # Unescaped, LIKE '%50%_off%' would match all three.
    found = api.recurring_runs("display_name", "50%_off")
    assert [r.display_name for r in found] == ["50%_off/nightly@00000000"]


def test_versions_matching_returns_only_exact_text_though_the_server_ignores_case(fake):
    pipeline = fake.add_pipeline("alpha", "", "", {})
    for name in ("v-0123abcd", "V-0123ABCD-copy"):
        fake.add_version(pipeline["pipeline_id"], name, "", {})
    api, _clock = make_api(fake.url)
    found = api.versions_matching(pipeline["pipeline_id"], "name", "v-0123abcd")
    assert [v.name for v in found] == ["v-0123abcd"]


def test_a_pipeline_is_found_by_its_exact_name_only(fake):
    fake.add_pipeline("Alpha", "", "", {})
    api, _clock = make_api(fake.url)
    assert api.pipeline_named("Alpha").name == "Alpha"
    assert api.pipeline_named("alpha") is None  # the server's EQUALS ignores case


def test_the_newest_version_is_read_with_one_item_and_the_servers_order(fake):
    pipeline = fake.add_pipeline("alpha", "", "", {})
    fake.add_version(pipeline["pipeline_id"], "second", "", {})
    api, _clock = make_api(fake.url)
    assert api.newest_version(pipeline["pipeline_id"]).name == "second"
    (read,) = [r for r in fake.log if r.path.endswith("/versions")]
    assert read.query["page_size"] == "1"
    assert read.query["sort_by"] == "created_at desc"


# Reaching the API server.


def test_the_probe_names_a_host_that_answers_but_is_not_kfps_api(fake):
    api, _clock = make_api(fake.url + "/not-kfp")
    with pytest.raises(PublishError) as error:
        api.probe()
    assert error.value.message.startswith(f"{fake.url}/not-kfp answers, but not as KFP's API")
    assert "check --host" in error.value.hint
    assert len(fake.log) == 1


def test_the_probe_through_a_ui_whose_api_server_is_down_says_so(fake):
    fake.ui_proxy_api_down = True
    api, clock = make_api(fake.url, probe_deadline_s=10.0)
    with pytest.raises(PublishError) as error:
        api.probe()
    assert error.value.message.startswith(
        f"{fake.url} answers, but KFP's API server behind it does not (HTTP 504: "
    )
    assert "ml-pipeline Deployment" in error.value.hint
    assert clock.now <= 10.0
    assert clock.sleeps == [0.5, 1.0, 2.0, 4.0]


def test_a_probe_answered_401_is_an_access_error_not_an_unreachable_host(fake):
    fake.faults = [Fault(status=401, count=1, payload="Invalid IAP credentials: empty token")]
    api, _clock = make_api(fake.url)
    with pytest.raises(PublishError) as error:
        api.probe()
    assert "reach the KFP API: KFP answered 401" in error.value.message
    assert "roles/iap.httpsResourceAccessor" in error.value.hint


@pytest.mark.parametrize(
    ("host", "last", "message", "hint"),
    [
        ("http://localhost:8080", "connection refused",
         "nothing answers at http://localhost:8080 (connection refused, for 10s)", "kfp-gcp ui"),
        ("http://[::1]:8080", "connection refused", "nothing answers at", "kfp-gcp ui"),
        ("https://kfp.example.com", "connection refused",
         "nothing answers at https://kfp.example.com", "load balancer"),
        ("https://kfp.example.com", "the host name does not resolve",
         "https://kfp.example.com does not resolve", "DNS"),
        ("https://kfp.example.com", "HTTP 502: bad gateway",
         "https://kfp.example.com answers, but KFP's API server behind it does not "
         "(HTTP 502: bad gateway)", "ml-pipeline"),
        ("https://kfp.example.com", "HTTP 503: fault", "API server behind it", "ml-pipeline"),
        ("https://kfp.example.com", "connect timed out",
         "KFP at https://kfp.example.com did not answer within 10s (last: connect timed out)",
         "network"),
    ],
)  # fmt: skip
def test_an_unreachable_host_is_described_by_its_last_failure(host, last, message, hint):
    error = unreachable(host, last, 10.0)
    assert message in error.message
    assert hint in error.hint
    if "localhost" not in host and "::1" not in host:
        assert "kfp-gcp ui" not in error.hint


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (u3.NameResolutionError("kfp.example.com", None, socket.gaierror(-2, "unknown")),
         "the host name does not resolve"),
        (u3.NewConnectionError(None, "[Errno 111] Connection refused"), "connection refused"),
        (u3.NewConnectionError(None, "[Errno 101] Network is unreachable"), "cannot connect"),
        (u3.ConnectTimeoutError("timed out"), "connect timed out"),
        (u3.ReadTimeoutError(None, "/", "Read timed out."), "no answer within the read timeout"),
        (u3.ProtocolError("Connection aborted."), "connection dropped"),
        (ConnectionResetError("reset by peer"), "ConnectionResetError: reset by peer"),
    ],
)  # fmt: skip
def test_connection_errors_are_described_in_a_few_words(error, words):
    assert _describe_connection_error(error) == words


def test_the_policy_is_the_one_docs_publishing_md_describes():
    doc = " ".join((REPO / "docs/publishing.md").read_text().split())
    policy = RetryPolicy()
    promised = {
        "overall deadline of 600 s": policy.deadline_s == 600,
        "d = min(30 s, 0.5 s × 2ⁿ)": (policy.cap_s, policy.base_s) == (30, 0.5),  # noqa: RUF001
        "a short probe (10 s": policy.probe_deadline_s == 10,
        "a 10 s connect and 120 s read timeout": (policy.connect_timeout_s, policy.read_timeout_s)
        == (10, 120),
        "at most 8 requests in flight": CONCURRENCY == 8,
        "read 200 to a page (KFP's maximum)": PAGE_SIZE == 200,
    }
    assert [words for words in promised if words not in doc] == []
    assert [words for words, kept in promised.items() if not kept] == []


class Answer(Exception):
    """An error shaped like kfp_server_api's ApiException."""

    def __init__(self, status=None, body=None, reason=None):
        super().__init__(status)
        self.status, self.body, self.reason = status, body, reason


@pytest.mark.parametrize(
    ("error", "said"),
    [
        (Answer(400, '{"error_message": "bad spec", "error_details": "stack"}'), "bad spec"),
        (Answer(400, '{"code": 3, "message": "bad  filter\\n"}'), "bad filter"),
        (Answer(404, '{"error": "not found", "code": 5}'), "not found"),
        (Answer(404, '["a", "list"]'), '["a", "list"]'),
        (Answer(502, b"<html>\n<b>502.</b> \xff That's an error.\n</html>"),
         "<html> <b>502.</b> \ufffd That's an error. </html>"),
        (Answer(503, None, "Service Unavailable"), "Service Unavailable"),
        (Answer(503, None, None), ""),
    ],
)  # fmt: skip
def test_the_servers_words_are_one_line(error, said):
    assert server_message(error) == said


def test_a_long_answer_is_cut_to_one_short_line():
    page = "<html>\n" + "<p>That's an error. Please try again later.</p>\n" * 50 + "</html>"
    said = server_message(Answer(502, page))
    assert said.startswith("<html> <p>That's an error.")
    assert "\n" not in said
    assert len(said) <= 300
    long = _describe_connection_error(OSError("x" * 1000))
    assert long.startswith("OSError: xxx")
    assert len(long) <= 300


# The exact requests: what each call asks the server for (the filter decoded as the server
# reads it). A dropped namespace, filter or page size would list another namespace's
# objects, every object, or 20 to a page.


def sent(fake):
    """(method, path, query with the filter decoded, body) of each request."""
    from tests.fake_kfp import query_unescape

    rows = []
    for r in fake.log:
        query = dict(r.query)
        if "filter" in query:
            query["filter"] = json.loads(query_unescape(query["filter"]))
        rows.append((r.method, r.path.removeprefix(BASE), query, r.body))
    return rows


def eq(key, value):
    return {"predicates": [{"operation": "EQUALS", "key": key, "string_value": value}]}


def substring(key, value):
    return {"predicates": [{"operation": "IS_SUBSTRING", "key": key, "string_value": value}]}


PAGE = {"page_token": "", "page_size": "200"}
NS = {**PAGE, "namespace": "kubeflow"}


def test_reads_send_the_namespace_the_filter_and_the_page_size_kfp_uses(fake):
    pipeline = fake.add_pipeline("alpha", "", "kubeflow", {})
    api, _clock = make_api(fake.url)
    fake.reset_log()
    api.probe()
    api.pipeline_named("alpha")
    api.versions_matching(pipeline["pipeline_id"], "description", "50%_off\\x")
    api.ensure_experiment("nightly")
    api.recurring_runs()
    api.recurring_runs("description", "marker")
    api.recurring_runs_named("alpha/nightly")
    versions = f"pipelines/{pipeline['pipeline_id']}/versions"
    assert sent(fake) == [
        ("GET", "pipelines", {"namespace": "kubeflow", "page_size": "1"}, None),
        ("GET", "pipelines", {**NS, "filter": eq("name", "alpha")}, None),
        ("GET", versions, {**PAGE, "filter": substring("description", "50\\%\\_off\\\\x")}, None),
        ("GET", "experiments", {**NS, "filter": eq("display_name", "nightly")}, None),
        ("POST", "experiments", {}, {"display_name": "nightly", "namespace": "kubeflow"}),
        ("GET", "recurringruns", {**PAGE, "namespace": "kubeflow"}, None),
        ("GET", "recurringruns", {**NS, "filter": substring("description", "marker")}, None),
        ("GET", "recurringruns", {**NS, "filter": eq("display_name", "alpha/nightly")}, None),
    ]


def test_uploads_send_the_name_and_display_name_kfp_stores(fake, tmp_path):
    path = tmp_path / "alpha.yaml"
    path.write_text(SPEC)
    api, _clock = make_api(fake.url)
    pipeline = api.upload_pipeline(str(path), "alpha-pipeline", "d")
    api.upload_version(str(path), "v-0123abcd", pipeline.pipeline_id, "dv")
    uploads = [(r.path.removeprefix(BASE), r.query) for r in fake.log]
    assert uploads == [
        (
            "pipelines/upload",
            {
                "name": "alpha-pipeline",
                "display_name": "alpha-pipeline",
                "description": "d",
                "namespace": "kubeflow",
            },
        ),
        (
            "pipelines/upload_version",
            {
                "name": "v-0123abcd",
                "display_name": "v-0123abcd",
                "pipelineid": pipeline.pipeline_id,
                "description": "dv",
            },
        ),
    ]


def test_a_run_whose_create_was_ambiguous_is_looked_for_in_its_experiment_by_name(fake):
    import kfp_server_api as m

    api, _clock = make_api(fake.url)
    experiment = api.experiment_id("alpha")
    body = m.V2beta1Run(
        display_name="alpha 1",
        description="marker-1",
        experiment_id=experiment,
        pipeline_version_reference=m.V2beta1PipelineVersionReference(
            pipeline_id="p", pipeline_version_id="v"
        ),
    )
    fake.faults = [Fault(status=503, count=1, methods=frozenset({"POST"}), path="runs")]
    fake.reset_log()
    api.create_run(body, "marker-1")
    assert [row[:3] for row in sent(fake)] == [
        ("POST", "runs", {}),
        (
            "GET",
            "runs",
            {**PAGE, "experiment_id": experiment, "filter": eq("display_name", "alpha 1")},
        ),
        ("POST", "runs", {}),
    ]
    assert len(fake.runs) == 1


# Waits, deadlines and what the errors say.


def test_a_retry_after_that_is_not_seconds_does_not_stretch_the_wait(fake):
    fake.add_pipeline("alpha", "", "", {})
    date = {"Retry-After": "Wed, 21 Oct 2026 07:28:00 GMT"}  # the HTTP-date form
    fake.faults = [Fault(status=429, count=1, methods=frozenset({"GET"}), headers=date)]
    api, clock = make_api(fake.url)
    api.pipelines()
    assert clock.sleeps == [0.5]


def test_a_retry_whose_wait_ends_exactly_at_the_deadline_is_still_sent(fake):
    fake.add_pipeline("alpha", "", "", {})
    fake.faults = [Fault(status=503, count=2, methods=frozenset({"GET"}))]
    api, clock = make_api(fake.url, deadline_s=1.5)
    assert [p.name for p in api.pipelines()] == ["alpha"]
    assert clock.sleeps == [0.5, 1.0]  # the second wait ends at 1.5 s, the deadline


def test_the_deadline_named_is_the_policys_whatever_the_clock_read_at_the_start(fake):
    fake.faults = [Fault(status=503, count=100, methods=frozenset({"GET"}))]
    clock = FakeClock()
    clock.now = 5000.0  # a monotonic clock starts anywhere
    policy = RetryPolicy(deadline_s=10.0, sleep=clock.sleep, clock=clock.clock, jitter=lambda: 1)
    api = KfpApi(fake.url, "kubeflow", policy=policy)
    with pytest.raises(GaveUp, match=r"gave up after 5 attempts within the 10s deadline"):
        api.pipelines()


def test_the_retries_of_an_ambiguous_create_are_reported_as_its_first_attempt(fake):
    retries = []
    api, _clock = make_api(fake.url, retries)
    body = recurring_run(api)
    fake.faults = [Fault(status=503, count=1, methods=frozenset({"POST"}), path="recurringruns")]
    api.create_recurring_run(body)
    what = "create recurring run 'alpha/nightly@0123abcd'"
    assert [(r.what, r.reason, r.attempt, r.delay) for r in retries] == [
        (what, "HTTP 503: fault", 1, 0.0),
        (what, "HTTP 503: fault", 1, 0.5),
    ]


def test_a_long_json_answer_is_cut_to_300_characters():
    assert server_message(Answer(400, json.dumps({"message": "m" * 400}))) == "m" * 300
    assert server_message(Answer(400, json.dumps(["x" * 400]))) == '["' + "x" * 298


def test_an_answer_without_a_reason_is_said_as_nothing():
    class Bare(Exception):
        status = 503

    assert server_message(Bare()) == ""


def test_an_ssl_failure_is_an_error_naming_it_not_a_traceback():
    api, _clock = make_api("http://127.0.0.1:9")

    def read():
        # kfp_server_api's rest client turns urllib3's SSLError into status 0, no body.
        raise ApiException(status=0, reason="SSLError(certificate verify failed)")

    with pytest.raises(PublishError, match=r"certificate verify failed"):
        api.call("read", read)


def test_each_call_is_named_in_its_error(fake):
    pipeline = fake.add_pipeline("alpha", "", "", {})
    fake.faults = [Fault(status=400, count=100, payload={"code": 3, "message": "bad"})]
    api, _clock = make_api(fake.url)
    text = "0123456789" * 3
    with pytest.raises(PublishError) as error:
        api.versions_matching(pipeline["pipeline_id"], "description", text)
    assert error.value.message == (
        f"find versions whose description has {text[:24]!r}: KFP answered 400 (bad)"
    )
    with pytest.raises(PublishError, match=r"^list recurring runs: KFP answered 400 \(bad\)$"):
        api.recurring_runs()
    with pytest.raises(PublishError, match=r"^enable recurring run r-1: KFP answered 400"):
        api.set_recurring_run_enabled("r-1", True)
    with pytest.raises(PublishError, match=r"^disable recurring run r-1: KFP answered 400"):
        api.set_recurring_run_enabled("r-1", False)


def test_recurring_runs_named_returns_only_the_exact_name(fake):
    api, _clock = make_api(fake.url)
    for name in ("Alpha/nightly@00000000", "alpha/nightly@00000000"):
        api.create_recurring_run(recurring_run(api, name))
    found = api.recurring_runs_named("alpha/nightly@00000000")
    assert [r.display_name for r in found] == ["alpha/nightly@00000000"]


def test_an_experiment_clash_names_every_experiment_it_clashes_with(fake):
    api, _clock = make_api(fake.url)
    api.experiment_id("Nightly")
    (first,) = fake.experiments.values()
    twin = {**first, "experiment_id": "e-2", "display_name": "NIGHTLY", "_created": 99}
    fake.experiments["e-2"] = twin  # stored before the server compared names loosely
    with pytest.raises(PublishError) as error:
        api.experiment_id("nightly")
    assert error.value.message.startswith(
        "experiment 'nightly' clashes with 'Nightly', 'NIGHTLY' in namespace 'kubeflow'"
    )


def test_an_experiment_clash_with_one_the_list_does_not_show_says_so(fake):
    fake.faults = [Fault(status=409, count=1, methods=frozenset({"POST"}), path="experiments")]
    api, _clock = make_api(fake.url)
    with pytest.raises(PublishError) as error:
        api.experiment_id("nightly")
    assert error.value.message.startswith(
        "experiment 'nightly' clashes with one not listed in namespace 'kubeflow'"
    )


def test_the_sdk_clients_future_warning_is_not_shown():
    import warnings

    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        make_api("http://127.0.0.1:9")
    assert [str(w.message) for w in shown] == []

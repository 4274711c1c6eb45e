"""The test double answers like KFP 2.17.0 on the points publishing depends on.

Raw HTTP (urllib), not kfp-gcp's client, so these pin the double itself; each test names
the upstream file the behaviour comes from (see tests/fake_kfp.py).
"""

import base64
import json
import urllib.error
import urllib.parse
import urllib.request

import pytest

from kfp_gcp.errors import PublishError
from kfp_gcp.services.kfp import schedules
from kfp_gcp.services.kfp.api import KfpApi, RetryPolicy, encode_filter
from tests.fake_kfp import FakeKfp, robfig_parse

SPEC = "pipelineInfo: {name: p}\nroot: {}\nschemaVersion: 2.1.0\n"


@pytest.fixture
def fake(socket_enabled):
    server = FakeKfp().start()
    yield server
    server.stop()


def call(fake, method, path, query=None, body=None, headers=None):
    url = f"{fake.url}/apis/v2beta1/{path}"
    if query:
        url += "?" + urllib.parse.urlencode(query)  # what kfp_server_api does: one encoding
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read().decode()


def upload(fake, name, namespace=""):
    boundary = "b0undary"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="uploadfile"; '
        f'filename="p.yaml"\r\nContent-Type: application/octet-stream\r\n\r\n{SPEC}\r\n'
        f"--{boundary}--\r\n"
    ).encode()
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    return call(fake, "POST", "pipelines/upload", {"name": name, "namespace": namespace}, body,
                headers)  # fmt: skip


def names(fake, filter_value):
    status, _, text = call(fake, "GET", "pipelines", {"filter": filter_value})
    return status, [p["name"] for p in json.loads(text).get("pipelines", [])]


def plain_filter(key, value, operation="EQUALS"):
    """A filter encoded once only, as the kfp SDK's list_* calls pass it through."""
    return json.dumps({"predicates": [{"operation": operation, "key": key, "string_value": value}]})


def test_filters_are_url_decoded_a_second_time(fake):
    # list_request_util.go parseAPIFilter: url.QueryUnescape after the HTTP layer decoded.
    for name in ["a+b", "a b", "100% sure"]:
        assert upload(fake, name)[0] == 200
    status, found = names(fake, plain_filter("name", "a+b"))
    assert (status, found) == (200, ["a b"])  # the + became a space
    status, _ = names(fake, plain_filter("name", "100% sure"))
    assert status == 400  # "% s" is not an escape
    for name in ["a+b", "a b", "100% sure"]:
        encoded = encode_filter([{"operation": "EQUALS", "key": "name", "string_value": name}])
        assert names(fake, encoded) == (200, [name])


def test_names_compare_ignoring_case_and_accents_and_are_unique_per_namespace(fake):
    # MySQL 8's default collation (the server creates its database without one), and
    # uniqueIndex:namespace_name on Name (model/pipeline.go).
    assert upload(fake, "Bêta")[0] == 200
    status, kind, text = upload(fake, "beta")
    assert status == 409
    assert kind == "application/json"
    body = json.loads(text)  # pipeline_upload_server.go writeErrorToResponse
    assert set(body) == {"error_message", "error_details"}
    assert body["error_message"] == "Failed to create a pipeline and a pipeline version"
    assert names(fake, encode_filter([{"operation": "EQUALS", "key": "name",
                                       "string_value": "BETA"}])) == (200, ["Bêta"])  # fmt: skip
    # IS_SUBSTRING is LIKE '%v%': `_` matches any character.
    substring = [{"operation": "IS_SUBSTRING", "key": "name", "string_value": "b_ta"}]
    assert names(fake, encode_filter(substring)) == (200, ["Bêta"])


def test_unknown_filter_and_sort_keys_are_400(fake):
    # Only each model's APIToModelFieldMap keys (model/pipeline.go).
    assert names(fake, encode_filter([{"operation": "EQUALS", "key": "colour",
                                       "string_value": "x"}]))[0] == 400  # fmt: skip
    assert call(fake, "GET", "pipelines", {"sort_by": "colour desc"})[0] == 400


def test_pages_default_to_20_cap_at_200_and_tokens_pin_sort_and_filter(fake):
    # list/list.go validatePageSize and the token check in validatedListOptions.
    for i in range(25):
        upload(fake, f"p{i:02d}")
    _, _, text = call(fake, "GET", "pipelines")
    page = json.loads(text)
    assert len(page["pipelines"]) == 20
    assert page["total_size"] == 25
    token = page["next_page_token"]
    assert json.loads(base64.b64decode(token))  # base64 JSON, as the server's
    _, _, text = call(fake, "GET", "pipelines", {"page_token": token})
    assert len(json.loads(text)["pipelines"]) == 5
    assert call(fake, "GET", "pipelines", {"page_token": token, "sort_by": "name"})[0] == 400
    _, _, text = call(fake, "GET", "pipelines", {"page_size": 500})
    assert len(json.loads(text)["pipelines"]) == 25  # capped at 200, not refused


def test_same_second_versions_list_by_id_after_the_second(fake):
    # CreatedAtInSec has one-second resolution; ORDER BY CreatedAtInSec, UUID (list.go).
    fake.clock_step = 0
    upload(fake, "p")
    pid = fake.pipeline_named("p")["pipeline_id"]
    for i in range(4):
        fake.add_version(pid, f"v{i}", "", {"pipelineInfo": {"name": "p"}})
    _, _, text = call(fake, "GET", f"pipelines/{pid}/versions",
                           {"sort_by": "created_at desc", "page_size": 1})  # fmt: skip
    (newest,) = json.loads(text)["pipeline_versions"]
    same_second = sorted(fake.versions.values(), key=lambda v: v["pipeline_version_id"])
    assert newest["pipeline_version_id"] == same_second[-1]["pipeline_version_id"]
    assert "pipeline_spec" in newest  # every listed version carries its whole spec


def test_recurring_runs_and_runs_have_no_unique_name(fake):
    # job_server.go / run_server.go: no AlreadyExists path, so never 409.
    _, _, text = call(fake, "POST", "experiments", body=json.dumps({"display_name": "e"}).encode(),
                      headers={"Content-Type": "application/json"})  # fmt: skip
    experiment = json.loads(text)["experiment_id"]
    job = {"display_name": "same", "experiment_id": experiment, "max_concurrency": "1",
           "trigger": {"cron_schedule": {"cron": "0 0 2 * * *"}}}  # fmt: skip
    run = {"display_name": "same", "experiment_id": experiment}
    for path, body in [("recurringruns", job), ("runs", run)]:
        for _ in range(2):
            status, _, _ = call(fake, "POST", path, body=json.dumps(body).encode(),
                                headers={"Content-Type": "application/json"})  # fmt: skip
            assert status == 200
    assert len(fake.recurring) == 2
    assert len(fake.runs) == 2
    assert {r["mode"] for r in fake.recurring.values()} == {"DISABLE"}  # mode unset: disabled


def test_bad_crons_and_concurrency_are_400(fake):
    # api_converter.go toModelJob: robfig/cron v1.2.0 cron.Parse, max_concurrency 1..10.
    _, _, text = call(fake, "POST", "experiments", body=json.dumps({"display_name": "e"}).encode(),
                      headers={"Content-Type": "application/json"})  # fmt: skip
    experiment = json.loads(text)["experiment_id"]
    for cron, concurrency in [("0 0 24 * * *", "1"), ("0 0 2 * * *", "11")]:
        job = {"display_name": "j", "experiment_id": experiment, "max_concurrency": concurrency,
               "trigger": {"cron_schedule": {"cron": cron}}}  # fmt: skip
        status, _, text = call(fake, "POST", "recurringruns", body=json.dumps(job).encode(),
                               headers={"Content-Type": "application/json"})  # fmt: skip
        assert status == 400, cron
    assert fake.recurring == {}


# Verdicts worked out by hand from robfig/cron v1.2.0 parser.go and spec.go (bounds
# 0-59 0-59 0-23 1-31 1-12 0-6, names, */?, a-b, /n, lists; descriptors; @every <Go duration>).
CRONS = {
    "0 0 2 * * *": True,
    "*/15 * * * * *": True,
    "0 30 9 * * MON-FRI": True,
    "0 0 0 1 JAN,jul ?": True,
    "0 0 12 1-15/2 * 0": True,
    "0 0 0 * * 6": True,
    "@daily": True,
    "@every 1h30m": True,
    "@every 90s": True,
    "60 * * * * *": False,
    "0 60 * * * *": False,
    "0 0 24 * * *": False,
    "0 0 0 0 * *": False,
    "0 0 0 32 * *": False,
    "0 0 0 * 13 *": False,
    "0 0 0 * * 7": False,
    "0 0 5-2 * * *": False,
    "0 */0 * * * *": False,
    "0 0 0 * * MOON": False,
    "0 0 0 * * * *": False,
    "@fortnightly": False,
    "@every soon": False,
}


@pytest.mark.parametrize(("cron", "valid"), CRONS.items())
def test_the_schedule_check_agrees_with_the_servers_cron_parser(cron, valid):
    assert (robfig_parse(cron) is None) == valid, robfig_parse(cron)
    if valid:
        assert schedules.check_cron(cron) == cron
    else:
        with pytest.raises(ValueError, match=r"\S"):
            schedules.check_cron(cron)


def test_five_field_crons_parse_upstream_but_mean_seconds_first():
    # robfig's day of week is optional: "0 2 * * *" is second 0, minute 2 of every hour.
    assert robfig_parse("0 2 * * *") is None
    with pytest.raises(ValueError, match="write '0 0 2 \\* \\* \\*'"):
        schedules.check_cron("0 2 * * *")


def test_through_the_ui_proxy_healthz_answers_200_while_the_api_server_is_down(fake):
    # frontend/server/handlers/healthz.ts and the 504 of http-proxy-middleware.
    fake.ui_proxy_api_down = True
    status, _, text = call(fake, "GET", "healthz")
    assert status == 200
    assert json.loads(text)["apiServerReady"] is False
    status, kind, text = call(fake, "GET", "pipelines")
    assert status == 504
    assert kind.startswith("text/plain")
    assert text.startswith("Error occurred while trying to proxy")
    api = KfpApi(fake.url, "kubeflow", policy=RetryPolicy(probe_deadline_s=0.0))
    with pytest.raises(PublishError, match="API server behind it does not"):
        api.probe()

"""The Google REST seam of up, doctor and down (services/ops/google.py) against a local
server answering like Google's APIs, its bounded waits, and `up`'s live display."""

from __future__ import annotations

import time

import pytest
from rich.console import Console

from kfp_gcp.services.ops import google
from kfp_gcp.services.ops.up import StageResult
from tests import live_doubles as doubles


@pytest.fixture
def server(socket_enabled):
    recorded = doubles.RecordedGoogle()
    yield recorded
    recorded.stop()


def apis(server, token="ya29.recorded"):
    return google.GoogleApis(lambda: token, endpoints=server.endpoints(), timeout_s=2)


def test_a_google_error_keeps_its_code_reason_and_message(server):
    server.routes["GET /storage/storage/v1/b/kfp-acme-ml-dev-tfstate/o"] = (
        403, doubles.fixture("google/error-403-storage.json"),
    )  # fmt: skip
    with pytest.raises(google.ApiError) as error:
        apis(server).objects("kfp-acme-ml-dev-tfstate", "environments/dev/")
    assert (error.value.code, error.value.reason) == (403, "forbidden")
    assert error.value.said.startswith("403 forbidden: alice@example.com does not have")
    assert server.log == [
        "GET /storage/storage/v1/b/kfp-acme-ml-dev-tfstate/o?prefix=environments%2Fdev%2F"
        "&maxResults=10"
    ]


def test_an_unknown_resource_is_google_s_404(server):
    with pytest.raises(google.ApiError) as error:
        apis(server).project("nobody-here")
    assert (error.value.code, error.value.reason) == (404, "NOT_FOUND")


def test_nothing_listening_is_an_error_with_code_0(socket_enabled):
    unreachable = google.GoogleApis(lambda: "t", endpoints={"oauth2": "http://127.0.0.1:9"})
    with pytest.raises(google.ApiError) as error:
        unreachable.tokeninfo("t")
    assert error.value.code == 0
    assert error.value.said.startswith("cannot reach oauth2")


def test_services_are_asked_thirty_at_a_time_and_read_by_name(server):
    names = [f"s{i:02d}.googleapis.com" for i in range(31)]
    server.routes[f"GET /serviceusage/v1/projects/{doubles.NUMBER}/services:batchGet"] = (
        200,
        {"services": [{"name": f"projects/{doubles.NUMBER}/services/s00.googleapis.com",
                       "config": {"name": "s00.googleapis.com"}, "state": "ENABLED"}]},
    )  # fmt: skip
    states = apis(server).services(doubles.NUMBER, names)
    assert len(server.log) == 2
    assert server.log[0].count("names=") == 30
    assert server.log[1].count("names=") == 1
    assert states == {"s00.googleapis.com": "ENABLED"}


def test_the_bearer_token_goes_with_every_call_but_tokeninfo(server):
    seen = []
    token = apis(server, token="ya29.secret")
    original = google.urllib.request.urlopen

    def spy(request, timeout):
        seen.append((request.full_url.split("?")[0], request.get_header("Authorization")))
        return original(request, timeout=timeout)

    google.urllib.request.urlopen = spy
    try:
        token.project(doubles.PROJECT)
        token.tokeninfo("ya29.secret")
    finally:
        google.urllib.request.urlopen = original
    assert seen[0][1] == "Bearer ya29.secret"
    assert seen[1][1] is None  # the token travels in the query, to Google's own endpoint


def test_members_are_read_from_unconditional_bindings_only():
    policy = {
        "bindings": [
            {"role": "roles/storage.objectUser", "members": ["serviceAccount:a@p.iam"]},
            {"role": "roles/storage.objectUser", "members": ["serviceAccount:b@p.iam"],
             "condition": {"expression": "resource.name.startsWith('x')"}},
        ]
    }  # fmt: skip
    assert google.members_with(policy, {"roles/storage.objectUser"}) == {"serviceAccount:a@p.iam"}


def test_a_wait_that_never_ends_is_cut_short():
    began = time.monotonic()
    with pytest.raises(TimeoutError, match="name resolution: no answer within 0s"):
        google.within(0.2, lambda: time.sleep(5), "name resolution")
    assert time.monotonic() - began < 1


def test_errors_of_the_work_reach_the_caller():
    def broken():
        raise OSError("no route")

    with pytest.raises(OSError, match="no route"):
        google.within(1, broken, "work")


@pytest.mark.filterwarnings("ignore:A test tried to use socket")
def test_without_network_the_probe_says_what_failed():
    # pytest-socket stands in for a machine without network: the connection never opens.
    said = google.probe_network("oauth2.googleapis.com", timeout_s=1)
    assert said is not None
    assert said.startswith("cannot connect to oauth2.googleapis.com:443")


# up's display.


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_the_table_shows_stage_elapsed_expected_and_what_it_waits_for():
    from kfp_gcp.cli.up import LiveDisplay

    clock = Clock()
    display = LiveDisplay((("infra", "Infrastructure"), ("smoke", "Smoke run")), clock=clock)
    display.interactive = True
    display.start("infra", "Infrastructure", 1212.0)
    clock.now += 75
    display.waiting(
        "module.platform.module.gke.google_container_cluster.cluster: Still creating..."
    )
    console = Console(width=160, record=True)
    console.print(display)
    text = console.export_text()
    row = next(line for line in text.splitlines() if "Infrastructure" in line)
    assert "1m15s" in row  # elapsed
    assert "20m12s" in row  # expected: the last run's
    assert "Still creating" in row
    display.finish(StageResult("infra", "Infrastructure", "done", 80.0, "3 resources changed"))
    console = Console(width=160, record=True)
    console.print(display)
    row = next(line for line in console.export_text().splitlines() if "Infrastructure" in line)
    assert "✓" in row
    assert "1m20s" in row
    assert "3 resources changed" in row


def test_off_a_terminal_each_stage_is_a_line_and_waiting_at_most_every_ten_seconds(capsys):
    from kfp_gcp import output
    from kfp_gcp.cli.up import LiveDisplay

    clock = Clock()
    display = LiveDisplay((("infra", "Infrastructure"),), clock=clock)
    display.interactive = False
    output.stderr.file = None  # rich resolves sys.stderr at print time (captured here)
    display.start("infra", "Infrastructure", None)
    display.waiting("first")
    clock.now += 3
    display.waiting("too soon")
    clock.now += 10
    display.waiting("later")
    display.finish(StageResult("infra", "Infrastructure", "failed", 13.0, "terraform apply failed"))
    err = capsys.readouterr().err
    assert "==> Infrastructure\n" in err
    assert "first" in err
    assert "too soon" not in err
    assert "later" in err
    assert "✗ Infrastructure 13s: terraform apply failed" in err

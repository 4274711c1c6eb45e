"""`kfp-gcp db`: backups, restore and point-in-time clones through the two seams, a local
server that answers like the Cloud SQL Admin API (sqladmin v1) and recording fakes of
gcloud and kubectl that keep the Deployments' replicas.

Recorded answers, shaped like the API's (cloud.google.com/sql/docs/mysql/admin-api/rest/v1:
backupRuns.insert/list/get, instances.get/restoreBackup/clone, operations.get; field names
and enums from the discovery document googleapis/google-api-go-client:
sqladmin/v1/sqladmin-api.json): Operation {kind sql#operation, name, status PENDING ->
RUNNING -> DONE, operationType BACKUP_VOLUME | RESTORE_VOLUME | CLONE, targetId,
targetProject, insertTime, backupContext {backupId}, error {errors [{code, message}]}};
BackupRun {kind sql#backupRun, id, status, type AUTOMATED | ON_DEMAND, enqueuedTime,
startTime, endTime, windowStartTime, instance, location, backupKind}, listed newest first
with nextPageToken; DatabaseInstance {state RUNNABLE, settings {activationPolicy,
backupConfiguration {binaryLogEnabled, transactionLogRetentionDays}}}. Errors in Google's
JSON shape; 409 operationInProgress when another operation runs (the Cloud SQL Admin API's
answer, quoted in apache/airflow#62671), 400 "Invalid request since instance is not running"
for a stopped instance (quoted in hashicorp/terraform-provider-google#11382), 403
accessNotConfigured for a disabled API. The ids and times are made up.

What the fake does not do: it does not restore or clone anything, check IAM, or enforce
the binary-log window (the client checks that itself before asking).
"""

from __future__ import annotations

import datetime
import json
import stat
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest
from typer.testing import CliRunner

from kfp_gcp.cli import app
from kfp_gcp.errors import ConfigError, RunError
from kfp_gcp.services.infra.terraform import parse_outputs
from kfp_gcp.services.ops import db, sqladmin
from tests.conftest import REPO

OUTPUTS_FILE = REPO / "tests" / "fixtures" / "platform-outputs.json"
OUTPUTS = parse_outputs(OUTPUTS_FILE.read_text(), "fixture")
PROJECT, INSTANCE = "acme-ml-dev", "kfpdev-kfp"  # the fixture's connection name
BASE = f"/v1/projects/{PROJECT}"
NOW = datetime.datetime(2026, 11, 30, 12, 0, tzinfo=datetime.UTC)


def google_error(status, reason, message):
    return {
        "error": {
            "code": status,
            "message": message,
            "errors": [{"domain": "global", "reason": reason, "message": message}],
        }
    }


def backup_run(id_, kind="AUTOMATED", status="SUCCESSFUL", day=29, description=""):
    run = {
        "kind": "sql#backupRun",
        "status": status,
        "enqueuedTime": f"2026-11-{day}T02:00:05.123Z",
        "id": id_,
        "startTime": f"2026-11-{day}T02:00:05.321Z",
        "endTime": f"2026-11-{day}T02:01:41.007Z",
        "type": kind,
        "windowStartTime": f"2026-11-{day}T02:00:00Z",
        "instance": INSTANCE,
        "selfLink": f"https://sqladmin.googleapis.com/v1{BASE}/instances/{INSTANCE}/backupRuns/{id_}",
        "location": "eu",
        "backupKind": "SNAPSHOT",
    }
    if description:
        run["description"] = description
    return run


class FakeSqlAdmin:
    """The sqladmin v1 calls kfp-gcp makes. Operations go PENDING, RUNNING, DONE over
    three operations.get calls; `faults` queues (method, path ending, status, reason,
    message) answered before the real thing; `fail_operations` makes an operation end DONE
    with an error."""

    def __init__(self, log_path):
        self.log_path = log_path
        self.instance = {
            "kind": "sql#instance",
            "name": INSTANCE,
            "project": PROJECT,
            "state": "RUNNABLE",
            "databaseVersion": "MYSQL_8_0",
            "settings": {
                "kind": "sql#settings",
                "tier": "db-g1-small",
                "activationPolicy": "ALWAYS",
                "backupConfiguration": {
                    "enabled": True,
                    "binaryLogEnabled": True,
                    "transactionLogRetentionDays": 3,
                    "startTime": "02:00",
                },
            },
        }
        self.runs = [backup_run(str(1764381600000 - i * 86_400_000), day=29 - i) for i in range(4)]
        self.operations: dict[str, dict] = {}
        self.polls: dict[str, int] = {}
        self.other_runs: dict[str, list[dict]] = {}  # backups of other instances (clones)
        self.faults: list[tuple[str, str, int, str, str]] = []
        self.fail_operations = False
        self.never_finish = False
        self.requests: list[tuple[str, str, dict | None, str]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                fake.handle(self, "GET")

            def do_POST(self):
                fake.handle(self, "POST")

            def do_DELETE(self):
                fake.handle(self, "DELETE")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def record(self, entry):
        with open(self.log_path, "a") as log:
            log.write(json.dumps(entry) + "\n")

    def operation(self, kind, extra=None):
        name = f"op-{len(self.operations) + 1:04d}-{kind.lower()}"
        body = {
            "kind": "sql#operation",
            "targetLink": f"https://sqladmin.googleapis.com/v1{BASE}/instances/{INSTANCE}",
            "status": "PENDING",
            "user": "kfp-ci-apply@acme-ml-dev.iam.gserviceaccount.com",
            "insertTime": "2026-11-30T12:00:01.001Z",
            "operationType": kind,
            "name": name,
            "targetId": INSTANCE,
            "selfLink": f"https://sqladmin.googleapis.com/v1{BASE}/operations/{name}",
            "targetProject": PROJECT,
            **(extra or {}),
        }
        self.operations[name] = body
        self.polls[name] = 0
        return body

    def handle(self, handler, method):
        url = urlparse(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        body = json.loads(handler.rfile.read(length)) if length else None
        auth = handler.headers.get("Authorization", "")
        self.requests.append((method, handler.path, body, auth))
        self.record({"tool": "sqladmin", "method": method, "path": url.path})
        for i, (m, end, status, reason, message) in enumerate(self.faults):
            if m == method and url.path.endswith(end):
                del self.faults[i]
                return self.answer(handler, status, google_error(status, reason, message))
        if not url.path.startswith(BASE):
            return self.answer(handler, 404, google_error(404, "notFound", "no such project"))
        rest = url.path[len(BASE) :]
        if method == "GET" and rest == f"/instances/{INSTANCE}":
            return self.answer(handler, 200, self.instance)
        if method == "GET" and rest.startswith("/instances/") and rest.count("/") == 2:
            return self.answer(
                handler,
                404,
                google_error(404, "instanceDoesNotExist", "The Cloud SQL instance does not exist."),
            )
        stopped = self.instance["settings"]["activationPolicy"] == "NEVER"
        if method == "POST" and stopped:
            return self.answer(
                handler,
                400,
                google_error(400, "invalid", "Invalid request since instance is not running."),
            )
        if rest == f"/instances/{INSTANCE}/backupRuns" and method == "GET":
            query = parse_qs(url.query)
            size = int(query.get("maxResults", ["500"])[0])
            start = int(query.get("pageToken", ["0"])[0])
            page = {"kind": "sql#backupRunsList", "items": self.runs[start : start + size]}
            if start + size < len(self.runs):
                page["nextPageToken"] = str(start + size)
            return self.answer(handler, 200, page)
        if "/backupRuns/" in rest and method == "GET":
            owner = rest.split("/")[2]
            wanted = rest.rsplit("/", 1)[1]
            for run in self.runs if owner == INSTANCE else self.other_runs.get(owner, []):
                if run["id"] == wanted:
                    return self.answer(handler, 200, run)
            return self.answer(
                handler,
                404,
                google_error(404, "backupRunDoesNotExist", "The backup run does not exist."),
            )
        if rest == f"/instances/{INSTANCE}/backupRuns" and method == "POST":
            new_id = "1764504001234"
            op = self.operation(
                "BACKUP_VOLUME",
                {"backupContext": {"backupId": new_id, "kind": "sql#backupContext"}},
            )
            self.runs.insert(
                0, backup_run(new_id, "ON_DEMAND", "RUNNING", 30, body.get("description", ""))
            )
            return self.answer(handler, 200, op)
        if "/backupRuns/" in rest and method == "DELETE":  # backupRuns.delete
            wanted = rest.rsplit("/", 1)[1]
            self.runs = [r for r in self.runs if r["id"] != wanted]
            return self.answer(handler, 200, self.operation("DELETE_BACKUP"))
        if rest == f"/instances/{INSTANCE}/restoreBackup" and method == "POST":
            return self.answer(handler, 200, self.operation("RESTORE_VOLUME"))
        if rest == f"/instances/{INSTANCE}/clone" and method == "POST":
            return self.answer(handler, 200, self.operation("CLONE"))
        if rest.startswith("/operations/") and method == "GET":
            name = rest.rsplit("/", 1)[1]
            op = self.operations[name]
            self.polls[name] += 1
            op["status"] = (
                "RUNNING" if self.never_finish else {1: "RUNNING"}.get(self.polls[name], "DONE")
            )
            if op["status"] == "DONE":
                op.setdefault("endTime", "2026-11-30T12:03:12.402Z")
                if self.fail_operations:
                    op["error"] = {
                        "kind": "sql#operationErrors",
                        "errors": [
                            {
                                "kind": "sql#operationError",
                                "code": "INTERNAL_ERROR",
                                "message": "Internal error.",
                            }
                        ],
                    }
                elif op["operationType"] == "BACKUP_VOLUME":
                    self.runs[0]["status"] = "SUCCESSFUL"
            return self.answer(handler, 200, op)
        return self.answer(handler, 404, google_error(404, "notFound", f"{method} {rest}"))

    def answer(self, handler, status, body):
        data = json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json; charset=UTF-8")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)


# gcloud and kubectl, recording into the same log as the server (so the order of cluster
# and database steps can be read), kubectl keeping replicas in a state file.
FAKE_TOOL = """\
#!{python}
import json, os, sys
name = os.path.basename(sys.argv[0])
args = sys.argv[1:]
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write(json.dumps({{"tool": name, "args": args}}) + "\\n")
if name == "gcloud":
    open(os.environ["KUBECONFIG"], "w").write("apiVersion: v1\\nkind: Config\\n")
    sys.exit(0)
path = os.environ["FAKE_STATE"]
state = json.load(open(path))
if args[:2] == ["get", "deployments"]:
    print(json.dumps({{"items": state}}))
elif args[0] == "scale":
    count = int(next(a for a in args if a.startswith("--replicas=")).split("=")[1])
    names = [a.split("/", 1)[1] for a in args if a.startswith("deployment/")]
    for d in state:
        if d["metadata"]["name"] in names:
            d["spec"]["replicas"] = count
            d["status"] = {{"replicas": count, "availableReplicas": count, "observedGeneration": 1}}
    json.dump(state, open(path, "w"))
"""


def deployment(name, replicas):
    return {
        "metadata": {"name": name, "generation": 1},
        "spec": {"replicas": replicas},
        "status": {"replicas": replicas, "availableReplicas": replicas, "observedGeneration": 1},
    }


@pytest.fixture
def world(socket_enabled, tmp_path, monkeypatch):
    log = tmp_path / "log.jsonl"
    fake = FakeSqlAdmin(log)
    monkeypatch.setattr(sqladmin, "SQLADMIN", fake.url)
    monkeypatch.setattr(sqladmin, "_adc_token", lambda: "tok-123")
    monkeypatch.setattr(time, "sleep", lambda s: None)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("gcloud", "kubectl"):
        script = bin_dir / name
        script.write_text(FAKE_TOOL.format(python=sys.executable))
        script.chmod(script.stat().st_mode | stat.S_IEXEC)
    state = tmp_path / "deployments.json"
    state.write_text(
        json.dumps(
            [
                deployment("ml-pipeline", 2),
                deployment("cache-server", 1),
                deployment("metadata-grpc-deployment", 1),
                deployment("ml-pipeline-ui", 1),
            ]
        )
    )
    monkeypatch.setenv("FAKE_LOG", str(log))
    monkeypatch.setenv("FAKE_STATE", str(state))
    monkeypatch.setattr("kfp_gcp.services.cluster.access.tool", lambda name: str(bin_dir / name))
    fake.state = state

    def events():
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []

    fake.events = events
    yield fake
    fake.server.shutdown()


def cli(*args, stdin=None):
    return CliRunner().invoke(
        app, ["--project-dir", str(REPO), *args, "--outputs", str(OUTPUTS_FILE)], input=stdin
    )


def step(event):
    if event["tool"] == "sqladmin":
        return f"{event['method']} {event['path'].rsplit('/', 1)[-1]}"
    return " ".join(event["args"][:2]) if event["tool"] == "kubectl" else event["tool"]


# Backups.


def test_backup_is_taken_waited_for_and_reported(world):
    result = cli("-o", "json", "db", "backup", "--env", "dev", "--description", "before a test")
    assert result.exit_code == 0, result.output
    run = json.loads(result.stdout)
    assert (run["id"], run["status"], run["type"]) == ("1764504001234", "SUCCESSFUL", "ON_DEMAND")
    posts = [(p, b) for m, p, b, _ in world.requests if m == "POST"]
    assert posts == [(f"{BASE}/instances/{INSTANCE}/backupRuns", {"description": "before a test"})]
    polls = [p for m, p, _, _ in world.requests if "/operations/" in p]
    assert len(polls) == 2  # the insert answered PENDING; then RUNNING, then DONE
    assert all(auth == "Bearer tok-123" for *_, auth in world.requests)
    assert "kfp-gcp db restore --env dev --backup 1764504001234" in result.stderr


def test_a_paused_instance_takes_no_backup(world):
    world.instance["settings"]["activationPolicy"] = "NEVER"
    result = cli("db", "backup", "--env", "dev")
    assert result.exit_code == ConfigError.exit_code
    assert "kfpdev-kfp is stopped: dev is paused" in result.stderr
    assert "kfp-gcp infra resume --env dev" in result.stderr
    assert [m for m, *_ in world.requests] == ["GET"]  # only the instance was read


def test_a_failed_backup_operation_names_the_error(world):
    world.fail_operations = True
    result = cli("db", "backup", "--env", "dev")
    assert result.exit_code == RunError.exit_code
    assert "BACKUP_VOLUME" in result.stderr
    assert "INTERNAL_ERROR: Internal error." in result.stderr


def test_another_running_operation_is_waited_out(world):
    message = (
        "Operation failed because another operation was already in progress. "
        "Try your request after the current operation is complete."
    )
    world.faults += [("POST", "/backupRuns", 409, "operationInProgress", message)] * 2
    run = db.backup(OUTPUTS, sqladmin.SqlAdmin(), "x", lambda *_: None)
    assert run.status == "SUCCESSFUL"
    assert [m for m, *_ in world.requests].count("POST") == 3


def test_an_operation_that_never_frees_the_instance_says_what_to_wait_for(world):
    message = "Operation failed because another operation was already in progress."
    world.faults += [("POST", "/backupRuns", 409, "operationInProgress", message)] * 5
    with pytest.raises(RunError) as error:
        db.backup(OUTPUTS, sqladmin.SqlAdmin(), "x", lambda *_: None)
    assert "another operation is still running" in error.value.message
    assert "gcloud sql operations list --instance=kfpdev-kfp" in (error.value.hint or "")


def test_reads_are_retried_on_5xx_but_a_post_is_not(world):
    world.faults.append(("GET", f"/instances/{INSTANCE}", 503, "backendError", "Backend error"))
    world.faults.append(("POST", "/backupRuns", 503, "backendError", "Backend error"))
    with pytest.raises(RunError) as error:
        db.backup(OUTPUTS, sqladmin.SqlAdmin(), "x", lambda *_: None)
    assert "answered 503 on POST" in error.value.message
    methods = [m for m, *_ in world.requests]
    assert methods == ["GET", "GET", "POST"]  # the read once more, the write once


@pytest.mark.parametrize(
    ("reason", "message", "expected"),
    [
        (
            "accessNotConfigured",
            "Cloud SQL Admin API has not been used",
            "enable sqladmin.googleapis.com",
        ),
        ("forbidden", "The client is not authorized to make this request.", "roles/cloudsql.admin"),
    ],
)
def test_forbidden_calls_say_what_to_fix(world, reason, message, expected):
    world.faults.append(("GET", f"/instances/{INSTANCE}", 403, reason, message))
    result = cli("db", "backup", "--env", "dev")
    assert result.exit_code == ConfigError.exit_code
    assert expected in result.stderr


def test_backups_are_listed_newest_first_across_pages(world):
    world.runs += [backup_run(str(1764000000000 - i), day=10 + i) for i in range(600)]
    runs = db.backups(OUTPUTS, sqladmin.SqlAdmin())
    assert len(runs) == 604  # two pages of 500
    assert sum("pageToken=500" in p for _, p, _, _ in world.requests) == 1
    assert runs[0].id == "1764381600000"
    limited = cli("-o", "json", "db", "backups", "--env", "dev", "--limit", "2")
    assert limited.exit_code == 0, limited.output
    assert [r["id"] for r in json.loads(limited.stdout)["backups"]] == [
        "1764381600000",
        "1764295200000",
    ]


# Restore.


def test_restore_stops_kfps_database_clients_restores_and_starts_them_again(world):
    backup_id = world.runs[1]["id"]
    result = cli("db", "restore", "--env", "dev", "--backup", backup_id, "--confirm", "dev")
    assert result.exit_code == 0, result.output
    events = world.events()
    order = [step(e) for e in events]
    restore_at = order.index("POST restoreBackup")
    stop = next(
        i for i, e in enumerate(events) if e["tool"] == "kubectl" and "--replicas=0" in e["args"]
    )
    starts = [e for e in events[restore_at:] if e["tool"] == "kubectl" and e["args"][0] == "scale"]
    assert stop < restore_at  # stopped before the restore was asked for
    assert {a for e in starts for a in e["args"] if a.startswith("--replicas=")} == {
        "--replicas=1",
        "--replicas=2",
    }
    # Started only after the operation was DONE (its last poll precedes the first start).
    last_poll = max(i for i, s in enumerate(order) if s.startswith("GET op-"))
    assert last_poll < order.index("scale -n", restore_at)
    body = next(b for m, p, b, _ in world.requests if p.endswith("/restoreBackup"))
    assert body == {
        "restoreBackupContext": {
            "kind": "sql#restoreBackupContext",
            "backupRunId": backup_id,
            "instanceId": INSTANCE,
            "project": PROJECT,
        }
    }
    stopped = next(e for e in events if e["tool"] == "kubectl" and "--replicas=0" in e["args"])
    assert sorted(a for a in stopped["args"] if a.startswith("deployment/")) == [
        "deployment/cache-server",
        "deployment/metadata-grpc-deployment",
        "deployment/ml-pipeline",
    ]  # never the UI or anything else
    final = {
        d["metadata"]["name"]: d["spec"]["replicas"] for d in json.loads(world.state.read_text())
    }
    assert final == {
        "ml-pipeline": 2,
        "cache-server": 1,
        "metadata-grpc-deployment": 1,
        "ml-pipeline-ui": 1,
    }


def test_restore_asks_for_the_environment_name_and_does_nothing_on_a_wrong_answer(
    world, monkeypatch
):
    monkeypatch.setattr("kfp_gcp.cli.common.interactive", lambda: True)
    result = cli("db", "restore", "--env", "dev", "--backup", world.runs[0]["id"], stdin="prod\n")
    assert result.exit_code == ConfigError.exit_code
    assert "Type the environment's name (dev)" in result.output
    assert "nothing was changed" in result.stderr
    assert not [e for e in world.events() if e["tool"] != "sqladmin"]
    assert not [r for r in world.requests if r[0] == "POST"]
    # The right answer goes on.
    again = cli("db", "restore", "--env", "dev", "--backup", world.runs[0]["id"], stdin="dev\n")
    assert again.exit_code == 0, again.output


def test_restore_without_a_terminal_needs_confirm(world):
    result = cli("db", "restore", "--env", "dev", "--backup", world.runs[0]["id"])
    assert result.exit_code == ConfigError.exit_code
    assert "pass --confirm dev" in result.stderr
    assert not [r for r in world.requests if r[0] == "POST"]


def test_a_backup_that_did_not_succeed_is_refused_before_the_cluster_is_touched(world):
    world.runs[0]["status"] = "FAILED"
    result = cli(
        "db", "restore", "--env", "dev", "--backup", world.runs[0]["id"], "--confirm", "dev"
    )
    assert result.exit_code == ConfigError.exit_code
    assert "is FAILED, not SUCCESSFUL" in result.stderr
    assert not [e for e in world.events() if e["tool"] != "sqladmin"]


def test_a_failed_restore_starts_kfp_again_on_the_unchanged_database(world):
    world.fail_operations = True
    result = cli(
        "db", "restore", "--env", "dev", "--backup", world.runs[0]["id"], "--confirm", "dev"
    )
    assert result.exit_code == RunError.exit_code
    assert "RESTORE_VOLUME" in result.stderr
    final = {
        d["metadata"]["name"]: d["spec"]["replicas"] for d in json.loads(world.state.read_text())
    }
    assert final["ml-pipeline"] == 2
    assert final["metadata-grpc-deployment"] == 1


def test_a_restore_that_outlasts_the_wait_leaves_kfp_stopped_and_says_how_to_finish(world):
    world.never_finish = True
    clock = iter(range(0, 10_000, 100))
    with pytest.raises(RunError) as error:
        db.restore(
            OUTPUTS,
            sqladmin.SqlAdmin(clock=lambda: next(clock)),
            world.runs[0]["id"],
            lambda *_: None,
            lambda _: None,
            timeout_s=300,
        )
    assert "still RUNNING after 300s" in error.value.message
    assert "kubectl -n kubeflow scale deployment/ml-pipeline --replicas=2" in (
        error.value.hint or ""
    )
    final = {
        d["metadata"]["name"]: d["spec"]["replicas"] for d in json.loads(world.state.read_text())
    }
    assert final["ml-pipeline"] == 0  # not started on a database still being restored


def test_restore_from_a_clones_backup_names_the_clone_as_the_source(world):
    clone = "kfpdev-kfp-pitr-202611300700"
    world.other_runs[clone] = [{**backup_run("1764504999000", "ON_DEMAND"), "instance": clone}]
    result = cli(
        "db", "restore", "--env", "dev", "--backup", "1764504999000",
        "--from-instance", clone, "--confirm", "dev",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    body = next(b for m, p, b, _ in world.requests if p.endswith("/restoreBackup"))
    assert body["restoreBackupContext"]["instanceId"] == clone
    # Onto the environment's own instance.
    assert any(p == f"{BASE}/instances/{INSTANCE}/restoreBackup" for _, p, _, _ in world.requests)


def test_a_backup_id_must_be_a_number(world):
    result = cli("db", "restore", "--env", "dev", "--backup", "latest", "--confirm", "dev")
    assert result.exit_code == ConfigError.exit_code
    assert world.requests == []


# Point-in-time recovery.


def test_clone_at_a_point_in_time_into_a_new_instance(world):
    moment = NOW - datetime.timedelta(hours=5)
    report = db.clone(OUTPUTS, sqladmin.SqlAdmin(), moment, lambda *_: None, now=NOW)
    assert report.clone == "kfpdev-kfp-pitr-202611300700"
    body = next(b for m, p, b, _ in world.requests if p.endswith("/clone"))
    assert body == {
        "cloneContext": {
            "kind": "sql#cloneContext",
            "destinationInstanceName": "kfpdev-kfp-pitr-202611300700",
            "pointInTime": "2026-11-30T07:00:00.000Z",
        }
    }


def test_clone_refuses_a_time_older_than_the_binary_logs(world):
    with pytest.raises(ConfigError) as error:
        db.clone(
            OUTPUTS, sqladmin.SqlAdmin(), NOW - datetime.timedelta(days=4), lambda *_: None, now=NOW
        )
    assert "older than the 3 days of binary logs" in error.value.message
    assert not [r for r in world.requests if r[0] == "POST"]


@pytest.mark.parametrize("text", ["2026-11-30 07:00", "yesterday", "2999-01-01T00:00:00Z"])
def test_clone_refuses_a_time_without_a_zone_or_in_the_future(text):
    with pytest.raises(ConfigError):
        db.parse_point_in_time(text, NOW)


def test_clone_cli_prints_the_next_steps(world):
    moment = (datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=1)).strftime(
        "%Y-%m-%dT%H:%M:00Z"
    )
    result = cli(
        "db", "clone", "--env", "dev", "--point-in-time", moment, "--name", "kfpdev-kfp-r1"
    )
    assert result.exit_code == 0, result.output
    assert "gcloud sql instances delete kfpdev-kfp-r1 --project=acme-ml-dev" in result.stderr
    assert "Point-in-time recovery" in result.stderr

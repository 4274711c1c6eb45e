"""A local HTTP server that answers like KFP's v2beta1 API, for the calls kfp-gcp makes.

Paths and query parameters are those of the generated client in the installed
`kfp_server_api` (api/*.py); response JSON is shaped after its models:
- pipelines: `V2beta1Pipeline` {pipeline_id, display_name, name, description, created_at,
  namespace}; lists `V2beta1ListPipelinesResponse` {pipelines, total_size, next_page_token}
  (models/v2beta1_pipeline.py, v2beta1_list_pipelines_response.py);
- versions: `V2beta1PipelineVersion` {pipeline_id, pipeline_version_id, display_name,
  name, description, created_at, pipeline_spec}; lists `V2beta1ListPipelineVersionsResponse`
  {pipeline_versions, total_size, next_page_token};
- `POST /pipelines/upload` (multipart `uploadfile`; query name, description, namespace)
  creates the pipeline *and* a first version named after it with the same description,
  as the API server's pipeline_upload_server.go does (the description copy is assumed;
  deploy does not depend on it, see publish._publish_one);
- `POST /pipelines/upload_version` (query name, pipelineid, description);
- experiments: `V2beta1Experiment` {experiment_id, display_name, namespace, created_at,
  storage_state}; runs: `V2beta1Run` {run_id, experiment_id, display_name, state,
  created_at, pipeline_version_reference, runtime_config}; recurring runs:
  `V2beta1RecurringRun` {recurring_run_id, display_name, mode ENABLE|DISABLE, trigger,
  pipeline_version_reference, runtime_config, experiment_id, namespace, created_at,
  status}, listed under `recurringRuns` (the models' attribute_map: the only camelCase
  key); `:enable` / `:disable` answer `{}`;
- healthz: `V2beta1GetHealthzResponse` {multi_user}.
Unique names answer 409 with a google.rpc.Status body {code: 6, message}, like the server
(pipelines per (namespace, name), versions per (pipeline, name)).

Fault injection (`faults`): bursts of status codes, responses delayed past the client's
read timeout (before or after the request takes effect), slow responses, and a hook run
between a list and a create (to stage a 409 race). Every request is logged; `writes`
counts POST/PATCH/PUT/DELETE.
"""

from __future__ import annotations

import dataclasses
import datetime
import email.parser
import itertools
import json
import threading
import time
import urllib.parse
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import yaml

WRITE_METHODS = {"POST", "PATCH", "PUT", "DELETE"}


@dataclasses.dataclass
class Fault:
    status: int = 503
    count: int = 1
    methods: frozenset[str] = frozenset({"GET", "POST"})
    path: str = ""  # substring of the path
    delay: float = 0.0  # seconds to sleep
    after: bool = False  # sleep after the request took effect (the answer is lost)


@dataclasses.dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    authorization: str | None
    status: int = 0


class FakeKfp:
    def __init__(self, page_size_cap: int = 100) -> None:
        self.lock = threading.RLock()
        self.pipelines: dict[str, dict[str, Any]] = {}
        self.versions: dict[str, dict[str, Any]] = {}
        self.experiments: dict[str, dict[str, Any]] = {}
        self.runs: dict[str, dict[str, Any]] = {}
        self.recurring: dict[str, dict[str, Any]] = {}
        self.log: list[Request] = []
        self.faults: list[Fault] = []
        self.slow = 0.0
        self.before_write: Callable[[str, dict[str, str]], None] | None = None
        self.check_auth: Callable[[str | None], bool] | None = None
        self.page_size_cap = page_size_cap
        self.run_states: list[str] = ["RUNNING", "SUCCEEDED"]
        self._ids = itertools.count(1)
        self._clock = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        # A short poll interval: shutdown() waits up to one interval (0.5 s by default).
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    # Lifecycle.

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> FakeKfp:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # What tests look at.

    @property
    def writes(self) -> list[Request]:
        return [r for r in self.log if r.method in WRITE_METHODS]

    def reset_log(self) -> None:
        with self.lock:
            self.log.clear()

    def versions_of(self, display_name: str) -> list[dict[str, Any]]:
        pid = next(
            p["pipeline_id"] for p in self.pipelines.values() if p["display_name"] == display_name
        )
        return sorted(
            (v for v in self.versions.values() if v["pipeline_id"] == pid),
            key=lambda v: v["created_at"],
        )

    # State changes (also used by tests to stage races).

    def _id(self, kind: str) -> str:
        return f"{kind}-{next(self._ids):04d}"

    def _now(self) -> str:
        self._clock += datetime.timedelta(seconds=1)
        return self._clock.isoformat().replace("+00:00", "Z")

    def add_pipeline(
        self, name: str, description: str, namespace: str, spec: Any
    ) -> dict[str, Any]:
        with self.lock:
            if any(
                p["display_name"] == name and p["namespace"] == namespace
                for p in self.pipelines.values()
            ):
                raise Conflict(f"pipeline {name!r} already exists in namespace {namespace!r}")
            pipeline = {
                "pipeline_id": self._id("p"),
                "display_name": name,
                "name": name,
                "description": description,
                "created_at": self._now(),
                "namespace": namespace,
            }
            self.pipelines[pipeline["pipeline_id"]] = pipeline
            self.add_version(pipeline["pipeline_id"], name, description, spec)
            return pipeline

    def add_version(
        self, pipeline_id: str, name: str, description: str, spec: Any
    ) -> dict[str, Any]:
        with self.lock:
            if pipeline_id not in self.pipelines:
                raise NotFound(f"pipeline {pipeline_id} not found")
            if any(
                v["pipeline_id"] == pipeline_id and v["display_name"] == name
                for v in self.versions.values()
            ):
                raise Conflict(f"version {name!r} already exists")
            version = {
                "pipeline_id": pipeline_id,
                "pipeline_version_id": self._id("v"),
                "display_name": name,
                "name": name,
                "description": description,
                "created_at": self._now(),
                "pipeline_spec": spec,
            }
            self.versions[version["pipeline_version_id"]] = version
            return version

    # HTTP.

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _serve(self, method: str) -> None:
                parsed = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(parsed.query))
                path = urllib.parse.unquote(parsed.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                entry = Request(method, path, query, self.headers.get("Authorization"))
                with fake.lock:
                    fake.log.append(entry)
                    fault = next(
                        (
                            f
                            for f in fake.faults
                            if f.count > 0
                            and method in f.methods
                            and f.path in path
                            and not path.endswith("/healthz")
                        ),
                        None,
                    )
                    if fault:
                        fault.count -= 1
                if fake.slow:
                    time.sleep(fake.slow)
                if fake.check_auth and not fake.check_auth(entry.authorization):
                    return self._answer(entry, 401, {"code": 16, "message": "bad token"})
                if fault and not fault.after:
                    time.sleep(fault.delay)
                    if fault.status:
                        return self._answer(entry, fault.status, {"code": 14, "message": "fault"})
                try:
                    status, payload = fake.route(method, path, query, self.headers, body)
                except Conflict as exc:
                    status, payload = 409, {"code": 6, "message": str(exc)}
                except NotFound as exc:
                    status, payload = 404, {"code": 5, "message": str(exc)}
                if fault and fault.after:
                    time.sleep(fault.delay)
                self._answer(entry, status, payload)

            def _answer(self, entry: Request, status: int, payload: Any) -> None:
                entry.status = status
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a read timeout)

            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

            def do_DELETE(self) -> None:
                self._serve("DELETE")

        return Handler

    def route(
        self, method: str, path: str, query: dict[str, str], headers: Any, body: bytes
    ) -> tuple[int, Any]:
        base = "/apis/v2beta1/"
        if not path.startswith(base):
            raise NotFound(path)
        parts = path[len(base) :].split("/")
        if method in WRITE_METHODS and self.before_write:
            self.before_write(path, query)
        with self.lock:
            if parts == ["healthz"]:
                return 200, {"multi_user": False}
            if parts == ["pipelines"] and method == "GET":
                items = [
                    p
                    for p in self.pipelines.values()
                    if p["namespace"] == (query.get("namespace") or "kubeflow")
                ]
                return 200, self._page(items, query, "pipelines")
            if parts == ["pipelines", "upload"] and method == "POST":
                spec = _uploaded_spec(headers, body)
                name = (
                    query.get("display_name") or query.get("name") or spec["pipelineInfo"]["name"]
                )
                ns = query.get("namespace") or "kubeflow"
                return 200, self.add_pipeline(name, query.get("description", ""), ns, spec)
            if parts == ["pipelines", "upload_version"] and method == "POST":
                spec = _uploaded_spec(headers, body)
                version = self.add_version(
                    query["pipelineid"], query["name"], query.get("description", ""), spec
                )
                return 200, version
            if len(parts) == 3 and parts[0] == "pipelines" and parts[2] == "versions":
                items = [v for v in self.versions.values() if v["pipeline_id"] == parts[1]]
                return 200, self._page(items, query, "pipeline_versions")
            if parts == ["experiments"] and method == "GET":
                items = [
                    e
                    for e in self.experiments.values()
                    if e["namespace"] == (query.get("namespace") or "kubeflow")
                ]
                return 200, self._page(items, query, "experiments")
            if parts == ["experiments"] and method == "POST":
                data = json.loads(body)
                if any(
                    e["display_name"] == data["display_name"] for e in self.experiments.values()
                ):
                    raise Conflict("experiment exists")
                experiment = {
                    "experiment_id": self._id("e"),
                    "display_name": data["display_name"],
                    "namespace": data.get("namespace") or "kubeflow",
                    "created_at": self._now(),
                    "storage_state": "AVAILABLE",
                }
                self.experiments[experiment["experiment_id"]] = experiment
                return 200, experiment
            if parts == ["runs"] and method == "POST":
                data = json.loads(body)
                run = {
                    "run_id": self._id("r"),
                    "experiment_id": data["experiment_id"],
                    "display_name": data["display_name"],
                    "state": "PENDING",
                    "created_at": self._now(),
                    "pipeline_version_reference": data.get("pipeline_version_reference"),
                    "runtime_config": data.get("runtime_config"),
                }
                self.runs[run["run_id"]] = run
                return 200, run
            if len(parts) == 2 and parts[0] == "runs" and method == "GET":
                run = self.runs[parts[1]]
                if self.run_states:
                    run["state"] = self.run_states.pop(0)
                return 200, run
            if parts == ["recurringruns"] and method == "GET":
                items = [
                    r
                    for r in self.recurring.values()
                    if r["namespace"] == (query.get("namespace") or "kubeflow")
                ]
                # The one camelCase key (V2beta1ListRecurringRunsResponse.attribute_map).
                return 200, self._page(items, query, "recurringRuns")
            if parts == ["recurringruns"] and method == "POST":
                data = json.loads(body)
                experiment = self.experiments[data["experiment_id"]]
                run = {
                    "recurring_run_id": self._id("rr"),
                    "display_name": data["display_name"],
                    "description": data.get("description", ""),
                    "mode": data.get("mode", "ENABLE"),
                    "trigger": data["trigger"],
                    "pipeline_version_reference": data.get("pipeline_version_reference"),
                    "runtime_config": data.get("runtime_config"),
                    "max_concurrency": str(data.get("max_concurrency", "1")),
                    "no_catchup": data.get("no_catchup", False),
                    "experiment_id": data["experiment_id"],
                    "namespace": experiment["namespace"],
                    "created_at": self._now(),
                    "status": "ENABLED" if data.get("mode") == "ENABLE" else "DISABLED",
                }
                self.recurring[run["recurring_run_id"]] = run
                return 200, run
            if len(parts) == 2 and parts[0] == "recurringruns" and method == "POST":
                rid, _, verb = parts[1].partition(":")
                run = self.recurring[rid]
                run["mode"] = {"enable": "ENABLE", "disable": "DISABLE"}[verb]
                run["status"] = run["mode"] + "D"
                return 200, {}
        raise NotFound(f"{method} {path}")

    def _page(self, items: list[dict[str, Any]], query: dict[str, str], field: str) -> Any:
        items = _filtered(items, query.get("filter"))
        sort_by = query.get("sort_by", "")
        if sort_by:
            key, _, order = sort_by.partition(" ")
            items = sorted(items, key=lambda i: i.get(key, ""), reverse=order == "desc")
        size = min(int(query.get("page_size") or 10), self.page_size_cap)
        start = int(query.get("page_token") or 0)
        page = items[start : start + size]
        token = str(start + size) if start + size < len(items) else ""
        return {field: page, "total_size": len(items), "next_page_token": token}


class Conflict(Exception):
    pass


class NotFound(Exception):
    pass


def _filtered(items: list[dict[str, Any]], text: str | None) -> list[dict[str, Any]]:
    if not text:
        return items
    for predicate in json.loads(text).get("predicates", []):
        assert predicate["operation"] in ("EQUALS", 1), predicate
        value = predicate.get("string_value", predicate.get("stringValue"))
        items = [i for i in items if i.get(predicate["key"]) == value]
    return items


def _uploaded_spec(headers: Any, body: bytes) -> Any:
    message = email.parser.BytesParser().parsebytes(
        b"Content-Type: " + headers["Content-Type"].encode() + b"\r\n\r\n" + body
    )
    for part in message.walk():
        if part.get_param("name", header="content-disposition") == "uploadfile":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return next(d for d in yaml.safe_load_all(payload.decode("utf-8")) if d)
    raise AssertionError("no uploadfile part")

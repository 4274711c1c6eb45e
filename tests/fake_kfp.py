"""A local HTTP server that answers like KFP 2.17.0's v2beta1 API, for the calls kfp-gcp makes.

Every behaviour below is taken from the server's source at tag 2.17.0 (kubeflow/pipelines,
paths under backend/), including what the server does *not* do. Paths and query
parameters are those of the generated client in the installed `kfp_server_api`; response
keys are the proto names of its models (a test checks them against `attribute_map`).

Lists (`_page`):
- `filter` is URL-decoded a second time after the HTTP layer decoded the query:
  `url.QueryUnescape` in parseAPIFilter (src/apiserver/server/list_request_util.go) and
  extractTagFiltersFromFilterSpec (server/pipeline_server.go). So `+` becomes a space and
  a `%` that does not start an escape is a 400. KFP's frontend therefore sends
  `encodeURIComponent(JSON.stringify(filter))` (frontend/src/components/CustomTable.tsx)
  and its HTTP client encodes that again (frontend/src/generated/openapi/runtime.ts).
  `stringValue` is accepted for `string_value` (transformJSONForBackwardCompatibility).
- Filter and sort keys are only those of each model's APIToModelFieldMap
  (src/apiserver/model/pipeline.go, pipeline_version.go, experiment.go, job.go, run.go);
  any other key is a 400. IS_SUBSTRING is SQL `LIKE '%v%'` with `%` and `_` left as
  wildcards (filter/filter.go AddToSelect). Strings compare under MySQL 8's default
  collation, utf8mb4_0900_ai_ci (case- and accent-insensitive; the server creates its
  database without a collation, client_manager/client_manager.go), so EQUALS can match
  more than the exact text and unique names clash across case and accents.
- Order is the sort field, then the primary key in the same direction, both in SQL
  (list/list.go AddSortingToSelect); the default sort field is CreatedAtInSec
  (DefaultSortField). `created_at` has one-second resolution (CreatedAtInSec), and UUIDs
  are random, so rows created in the same second come back in random-but-stable order.
- Page size: 0 means 20, more than 200 means 200 (list/list.go validatePageSize). The
  page token is base64 JSON of the next row's sort and key values, with the sort and
  filter; a later page with a different sort or filter is a 400 (validatedListOptions).
- ListPipelineVersions returns each version's full pipeline_spec, the pipeline and the
  platform spec wrapped as {pipeline_spec, platform_spec} when there is a platform spec
  (server/api_util.go YamlStringToPipelineSpecStruct).

Writes:
- `POST /pipelines/upload` (server/pipeline_upload_server.go): Name is the `name` query
  value, else `display_name`, else the file name (buildPipelineName, pipeline_server.go);
  DisplayName is `display_name`, else Name. It creates the pipeline and a first version
  with the same Name, DisplayName and Description in one transaction
  (storage/pipeline_store.go CreatePipelineAndPipelineVersion). Name is unique per
  namespace (`uniqueIndex:namespace_name`, model/pipeline.go): a clash is 409. Upload
  errors are `{error_message, error_details}` (writeErrorToResponse, with the error's
  stack in error_details); length checks answer text/plain through http.Error
  (Pipeline.Name at most 128 bytes, PipelineVersion.Name 127, validation/length.go).
- `POST /pipelines/upload_version`: version Name unique per pipeline
  (`uniqueIndex:idx_pipelineid_name`, model/pipeline_version.go): a clash is 409.
- Single-user mode (the default here, `multi_user=False`) replaces every namespace with
  "" (resource_manager.go ReplaceNamespace); multi-user keeps it.
- Experiments: name unique per namespace (model/experiment.go), 409 with google.rpc.Status.
- Recurring runs (server/job_server.go, resource_manager.go CreateJob) and runs
  (server/run_server.go CreateRun): **no unique name, never 409**; every POST that
  reaches the server creates one more. max_concurrency must be 1..10 and the cron must
  parse with robfig/cron v1.2.0 `cron.Parse` (server/api_converter.go toModelJob): six
  fields seconds first (the day of week may be left out), bounds 0-59, 0-59, 0-23, 1-31,
  1-12, 0-6 with JAN-DEC and SUN-SAT names, `*`/`?`, ranges, steps and lists, or a
  descriptor (@yearly @annually @monthly @weekly @daily @midnight @hourly @every <Go
  duration>) (robfig/cron v1.2.0 parser.go, spec.go). Mode ENABLE/DISABLE; an unset
  mode is disabled (toModelJobEnabled).
- Healthz of the API server answers {commit_sha, tag_name, multi_user, pipeline_store}
  without touching the database (src/apiserver/main.go). With `ui_proxy_api_down=True`
  the double plays KFP's UI in front of a stopped API server: its own healthz still
  answers 200 with `apiServerReady: false` (frontend/server/handlers/healthz.ts) and every
  other /apis/ path answers 504 "Error occurred while trying to proxy: ..."
  (frontend/server/app.ts proxies /apis/v2beta1/* with http-proxy-middleware, whose
  ECONNREFUSED answer is 504: chimurai/http-proxy-middleware src/status-code.ts).

Not modelled: authorization (single user), pipelines in Kubernetes, tags, runs that
actually run (GET /runs/{id} walks `run_states`).

Fault injection (`faults`): bursts of statuses before the request takes effect, or after
it (`after=True`: the write is done, then the answer is a 5xx or comes too late, as when
CreateJob's ScheduledWorkflow was created and the answer times out, "try again later").
`latency` is added to every request; `before_write` runs before each write (to stage
races). Every request is logged; `writes` are the POST/PATCH/PUT/DELETE.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import email.parser
import json
import random
import re
import threading
import time
import unicodedata
import urllib.parse
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import yaml

WRITE_METHODS = {"POST", "PATCH", "PUT", "DELETE"}
BASE = "/apis/v2beta1/"
EPOCH = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)

# APIToModelFieldMap of each model (v2beta1 keys and the v1beta1 aliases the server keeps).
FIELDS = {
    "pipelines": {
        "id": "pipeline_id", "pipeline_id": "pipeline_id", "name": "name",
        "display_name": "display_name", "created_at": "created_at",
        "description": "description", "namespace": "namespace",
    },
    "pipeline_versions": {
        "id": "pipeline_version_id", "pipeline_version_id": "pipeline_version_id",
        "name": "name", "display_name": "display_name", "created_at": "created_at",
        "status": "status", "description": "description", "pipeline_spec": "pipeline_spec",
    },
    "experiments": {
        "id": "experiment_id", "experiment_id": "experiment_id", "name": "display_name",
        "display_name": "display_name", "created_at": "created_at",
        "last_run_created_at": "last_run_created_at", "description": "description",
        "namespace": "namespace", "storage_state": "storage_state",
    },
    "recurringRuns": {
        "id": "recurring_run_id", "recurring_run_id": "recurring_run_id",
        "name": "display_name", "display_name": "display_name", "created_at": "created_at",
        "updated_at": "updated_at", "description": "description",
    },
    "runs": {
        "run_id": "run_id", "id": "run_id", "display_name": "display_name",
        "name": "display_name", "created_at": "created_at", "description": "description",
        "storage_state": "storage_state", "namespace": "namespace",
        "experiment_id": "experiment_id", "state": "state",
        "recurring_run_id": "recurring_run_id",
    },
}  # fmt: skip
KEYS = {
    "pipelines": "pipeline_id",
    "pipeline_versions": "pipeline_version_id",
    "experiments": "experiment_id",
    "recurringRuns": "recurring_run_id",
    "runs": "run_id",
}
OPERATIONS = {
    1: "EQUALS", 2: "NOT_EQUALS", 3: "GREATER_THAN", 5: "GREATER_THAN_EQUALS",
    6: "LESS_THAN", 7: "LESS_THAN_EQUALS", 8: "IN", 9: "IS_SUBSTRING",
}  # fmt: skip
PIPELINE_NAME_MAX = 128
VERSION_NAME_MAX = 127


@dataclasses.dataclass
class Fault:
    status: int = 503
    count: int = 1
    methods: frozenset[str] = frozenset({"GET", "POST"})
    path: str = ""  # substring of the path
    delay: float = 0.0  # seconds to sleep before answering
    after: bool = False  # the request takes effect first; then the fault's answer
    payload: Any = None  # the answer's body (default: a google.rpc.Status "fault")
    headers: dict[str, str] = dataclasses.field(default_factory=dict)  # e.g. Retry-After


@dataclasses.dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    authorization: str | None
    status: int = 0
    body: Any = None  # the JSON body of a write, parsed


class HttpError(Exception):
    def __init__(self, status: int, payload: Any) -> None:
        super().__init__(status, payload)
        self.status = status
        self.payload = payload


def rpc_error(status: int, grpc_code: int, message: str) -> HttpError:
    """A grpc-gateway error: google.rpc.Status as JSON."""
    return HttpError(status, {"code": grpc_code, "message": message, "details": []})


def bad_request(message: str) -> HttpError:
    return rpc_error(400, 3, message)


def upload_error(status: int, message: str) -> HttpError:
    """pipeline_upload_server.go writeErrorToResponse: apiv1beta1.Error as JSON, with the
    wrapped error's stack (`%+v`) as details."""
    details = f"{message}\ngithub.com/kubeflow/pipelines/backend/src/apiserver/server.(*Pipe..."
    return HttpError(status, {"error_message": message, "error_details": details})


def fold(text: str) -> str:
    """Equality under utf8mb4_0900_ai_ci: case- and accent-insensitive."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def like(pattern: str, text: str) -> bool:
    """MySQL LIKE with \\ as the escape character, under the same collation."""
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            out.append(re.escape(fold(pattern[i + 1])))
            i += 2
            continue
        out.append(".*" if c == "%" else "." if c == "_" else re.escape(fold(c)))
        i += 1
    return re.fullmatch("".join(out), fold(text), re.DOTALL) is not None


def query_unescape(value: str) -> str:
    """Go's url.QueryUnescape: `+` is a space, `%XX` a byte, any other `%` an error."""
    bad = re.search(r"%(?![0-9A-Fa-f]{2})", value)
    if bad:
        raise bad_request(
            f"failed to parse valid filter from {value!r}: invalid URL escape "
            f"{value[bad.start() : bad.start() + 3]!r}"
        )
    return urllib.parse.unquote_plus(value, errors="strict")


def timestamp(seconds: int) -> str:
    moment = EPOCH + datetime.timedelta(seconds=seconds)
    return moment.isoformat().replace("+00:00", "Z")


# robfig/cron v1.2.0 (parser.go, spec.go), as cron.Parse in toModelJob uses it.
_MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
_DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
_CRON_BOUNDS = [
    (0, 59, {}), (0, 59, {}), (0, 23, {}), (1, 31, {}),
    (1, 12, {m: i + 1 for i, m in enumerate(_MONTHS)}), (0, 6, {d: i for i, d in enumerate(_DAYS)}),
]  # fmt: skip
_GO_DURATION = re.compile(r"^[-+]?(\d*\.?\d*(ns|us|µs|ms|s|m|h))+$|^0$")


def robfig_parse(spec: str) -> str | None:
    """None when robfig/cron v1.2.0 accepts `spec`, else its error."""
    if not spec:
        return "Empty spec string"
    if spec[0] == "@":
        if spec in ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight",
                    "@hourly"):  # fmt: skip
            return None
        if spec.startswith("@every ") and _GO_DURATION.match(spec[7:]):
            return None
        return f"Unrecognized descriptor: {spec}"
    fields = spec.split()
    if not 5 <= len(fields) <= 6:
        return f"Expected 5 to 6 fields, found {len(fields)}: {spec}"
    for field, (low, high, names) in zip(fields, _CRON_BOUNDS, strict=False):
        for expr in [r for r in field.split(",") if r]:
            error = _robfig_range(expr, low, high, names)
            if error:
                return error
    return None


def _robfig_range(expr: str, low: int, high: int, names: dict[str, int]) -> str | None:
    def number(text: str, named: bool = True) -> int | None:
        if named and text.lower() in names:
            return names[text.lower()]
        return int(text) if re.fullmatch(r"[+-]?\d+", text) and int(text) >= 0 else None

    range_and_step = expr.split("/")
    low_high = range_and_step[0].split("-")
    if len(range_and_step) > 2:
        return f"Too many slashes: {expr}"
    if len(low_high) > 2:
        return f"Too many hyphens: {expr}"
    if low_high[0] in ("*", "?"):
        start, end = low, high
    else:
        start = number(low_high[0])
        end = number(low_high[1]) if len(low_high) == 2 else start
        if start is None or end is None:
            return f"Failed to parse int from {expr}"
    step = 1
    if len(range_and_step) == 2:
        parsed = number(range_and_step[1], named=False)
        if parsed is None:
            return f"Failed to parse int from {range_and_step[1]}"
        step = parsed
        if len(low_high) == 1:
            end = high
    if start < low:
        return f"Beginning of range ({start}) below minimum ({low}): {expr}"
    if end > high:
        return f"End of range ({end}) above maximum ({high}): {expr}"
    if start > end:
        return f"Beginning of range ({start}) beyond end of range ({end}): {expr}"
    if step == 0:
        return f"Step of range should be a positive number: {expr}"
    return None


class FakeKfp:
    def __init__(
        self,
        page_size_cap: int = 200,
        multi_user: bool = False,
        seed: int = 0,
        clock_step: int = 1,
    ) -> None:
        self.lock = threading.RLock()
        self.pipelines: dict[str, dict[str, Any]] = {}
        self.versions: dict[str, dict[str, Any]] = {}
        self.experiments: dict[str, dict[str, Any]] = {}
        self.runs: dict[str, dict[str, Any]] = {}
        self.recurring: dict[str, dict[str, Any]] = {}
        self.log: list[Request] = []
        self.in_flight = 0
        self.max_in_flight = 0  # the most requests handled at once
        self.faults: list[Fault] = []
        self.latency = 0.0  # seconds added to every request (an IAP round trip)
        self.before_write: Callable[[str, dict[str, str]], None] | None = None
        self.check_auth: Callable[[str | None], bool] | None = None
        self.ui_proxy_api_down = False
        self.page_size_cap = page_size_cap  # the server's is 200; tests lower it to paginate
        self.multi_user = multi_user
        self.run_states: list[str] = ["RUNNING", "SUCCEEDED"]
        self.random = random.Random(seed)
        self.now = 0  # seconds since EPOCH: the server's clock (CreatedAtInSec)
        self.clock_step = clock_step  # seconds the clock moves per created object
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
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

    def pipeline_named(self, name: str) -> dict[str, Any]:
        return next(p for p in self.pipelines.values() if p["name"] == name)

    def versions_of(self, name: str) -> list[dict[str, Any]]:
        """The versions of pipeline `name`, oldest first in the server's order."""
        pid = self.pipeline_named(name)["pipeline_id"]
        return sorted(
            (v for v in self.versions.values() if v["pipeline_id"] == pid),
            key=lambda v: (v["_created"], v["pipeline_version_id"]),
        )

    def enabled(self) -> list[str]:
        return sorted(r["display_name"] for r in self.recurring.values() if r["mode"] == "ENABLE")

    # State changes (also used by tests to stage races and history).

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self.random.getrandbits(128), version=4))

    def _tick(self) -> int:
        self.now += self.clock_step
        return self.now

    def _namespace(self, namespace: str | None) -> str:
        return (namespace or "") if self.multi_user else ""

    def add_pipeline(
        self,
        name: str,
        description: str,
        namespace: str,
        spec: Any,
        display_name: str | None = None,
    ) -> dict[str, Any]:
        with self.lock:
            ns = self._namespace(namespace)
            if len(name.encode()) > PIPELINE_NAME_MAX:
                raise HttpError(400, f"Pipeline.Name length cannot exceed {PIPELINE_NAME_MAX}")
            if any(
                fold(p["name"]) == fold(name) and p["namespace"] == ns
                for p in self.pipelines.values()
            ):
                raise upload_error(409, "Failed to create a pipeline and a pipeline version")
            created = self._tick()
            pipeline = {
                "pipeline_id": self._uuid(),
                "name": name,
                "display_name": display_name or name,
                "description": description,
                "created_at": timestamp(created),
                "namespace": ns,
                "_created": created,
            }
            self.pipelines[pipeline["pipeline_id"]] = pipeline
            self._add_version(pipeline["pipeline_id"], name, description, spec, display_name)
            return pipeline

    def add_version(
        self,
        pipeline_id: str,
        name: str,
        description: str,
        spec: Any,
        display_name: str | None = None,
    ) -> dict[str, Any]:
        with self.lock:
            if pipeline_id not in self.pipelines:
                raise upload_error(400, "Failed to create a pipeline version")
            if len(name.encode()) > VERSION_NAME_MAX:
                limit = VERSION_NAME_MAX
                raise HttpError(400, f"PipelineVersion.Name length cannot exceed {limit}")
            if any(
                v["pipeline_id"] == pipeline_id and fold(v["name"]) == fold(name)
                for v in self.versions.values()
            ):
                raise upload_error(409, "Failed to create a pipeline version")
            self._tick()
            return self._add_version(pipeline_id, name, description, spec, display_name)

    def _add_version(
        self, pipeline_id: str, name: str, description: str, spec: Any, display_name: str | None
    ) -> dict[str, Any]:
        version = {
            "pipeline_id": pipeline_id,
            "pipeline_version_id": self._uuid(),
            "name": name,
            "display_name": display_name or name,
            "description": description,
            "created_at": timestamp(self.now),
            "pipeline_spec": spec,
            "_created": self.now,
        }
        self.versions[version["pipeline_version_id"]] = version
        return version

    # HTTP.

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes; without this, Nagle's algorithm and
            # the client's delayed ACK add ~40 ms to every answer, which Go's server does not.
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:
                pass

            def _serve(self, method: str) -> None:
                parsed = urllib.parse.urlsplit(self.path)
                # Go's url.ParseQuery: `+` is a space, %XX decoded (the first decoding).
                query = dict(urllib.parse.parse_qsl(parsed.query, keep_blank_values=True))
                path = urllib.parse.unquote(parsed.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                entry = Request(method, path, query, self.headers.get("Authorization"))
                if self.headers.get("Content-Type", "").startswith("application/json") and body:
                    entry.body = json.loads(body)
                with fake.lock:
                    fake.log.append(entry)
                    fake.in_flight += 1
                    fake.max_in_flight = max(fake.max_in_flight, fake.in_flight)
                try:
                    self._handle(method, path, query, body, entry)
                finally:
                    with fake.lock:
                        fake.in_flight -= 1

            def _handle(
                self, method: str, path: str, query: dict[str, str], body: bytes, entry: Request
            ) -> None:
                with fake.lock:
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
                if fake.latency:
                    time.sleep(fake.latency)
                if fake.check_auth and not fake.check_auth(entry.authorization):
                    return self._answer(entry, 401, {"code": 16, "message": "bad token"})
                if fake.ui_proxy_api_down:
                    if path == BASE + "healthz":
                        return self._answer(entry, 200, {"apiServerReady": False})
                    host = self.headers.get("Host", "")
                    text = f"Error occurred while trying to proxy: {host}{self.path}"
                    return self._answer(entry, 504, text)
                answer = {"code": 14, "message": "fault"}
                if fault and fault.payload is not None:
                    answer = fault.payload
                if fault and not fault.after:
                    time.sleep(fault.delay)
                    if fault.status:
                        return self._answer(entry, fault.status, answer, fault.headers)
                try:
                    status, payload = 200, fake.route(method, path, query, self.headers, body)
                except HttpError as exc:
                    status, payload = exc.status, exc.payload
                headers: dict[str, str] = {}
                if fault and fault.after:
                    time.sleep(fault.delay)
                    if fault.status:
                        status, payload, headers = fault.status, answer, fault.headers
                self._answer(entry, status, payload, headers)

            def _answer(
                self,
                entry: Request,
                status: int,
                payload: Any,
                headers: dict[str, str] | None = None,
            ) -> None:
                entry.status = status
                text = isinstance(payload, str)
                data = (payload if text else json.dumps(_public(payload))).encode()
                try:
                    self.send_response(status)
                    kind = "text/plain; charset=utf-8" if text else "application/json"
                    self.send_header("Content-Type", kind)
                    self.send_header("Content-Length", str(len(data)))
                    for name, value in (headers or {}).items():
                        self.send_header(name, value)
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
    ) -> Any:
        if not path.startswith(BASE):
            raise rpc_error(404, 5, f"Not Found: {path}")
        parts = path[len(BASE) :].split("/")
        if method in WRITE_METHODS and self.before_write:
            self.before_write(path, query)
        with self.lock:
            if parts == ["healthz"]:
                return {
                    "commit_sha": "unknown",
                    "tag_name": "2.17.0",
                    "multi_user": self.multi_user,
                    "pipeline_store": "database",
                }
            if parts == ["pipelines"] and method == "GET":
                ns = self._namespace(query.get("namespace"))
                items = [p for p in self.pipelines.values() if p["namespace"] == ns]
                return self._page(items, query, "pipelines")
            if parts == ["pipelines", "upload"] and method == "POST":
                filename, spec = _uploaded(headers, body)
                name = query.get("name") or query.get("display_name") or filename
                return self.add_pipeline(
                    name, query.get("description", ""), query.get("namespace", ""), spec,
                    display_name=query.get("display_name") or None,
                )  # fmt: skip
            if parts == ["pipelines", "upload_version"] and method == "POST":
                filename, spec = _uploaded(headers, body)
                if not query.get("pipelineid"):
                    raise upload_error(400, "Failed to create a pipeline version")
                name = query.get("name") or query.get("display_name") or filename
                return self.add_version(
                    query["pipelineid"], name, query.get("description", ""), spec,
                    display_name=query.get("display_name") or None,
                )  # fmt: skip
            if len(parts) == 3 and parts[0] == "pipelines" and parts[2] == "versions":
                if parts[1] not in self.pipelines:
                    raise rpc_error(404, 5, f"Pipeline {parts[1]} not found")
                items = [v for v in self.versions.values() if v["pipeline_id"] == parts[1]]
                return self._page(items, query, "pipeline_versions")
            if parts == ["experiments"] and method == "GET":
                ns = self._namespace(query.get("namespace"))
                items = [e for e in self.experiments.values() if e["namespace"] == ns]
                return self._page(items, query, "experiments")
            if parts == ["experiments"] and method == "POST":
                return self._create_experiment(json.loads(body))
            if parts == ["runs"] and method == "POST":
                return self._create_run(json.loads(body))
            if parts == ["runs"] and method == "GET":
                items = list(self.runs.values())
                if query.get("experiment_id"):
                    items = [r for r in items if r["experiment_id"] == query["experiment_id"]]
                else:
                    ns = self._namespace(query.get("namespace"))
                    items = [r for r in items if r.get("_namespace", "") == ns]
                return self._page(items, query, "runs")
            if len(parts) == 2 and parts[0] == "runs" and method == "GET":
                run = self.runs.get(parts[1])
                if run is None:
                    raise rpc_error(404, 5, f"Run {parts[1]} not found")
                if self.run_states:
                    run["state"] = self.run_states.pop(0)
                return run
            if parts == ["recurringruns"] and method == "GET":
                items = list(self.recurring.values())
                if query.get("experiment_id"):
                    items = [r for r in items if r["experiment_id"] == query["experiment_id"]]
                else:
                    ns = self._namespace(query.get("namespace"))
                    items = [r for r in items if r["namespace"] == ns]
                # The one camelCase key (V2beta1ListRecurringRunsResponse.attribute_map).
                return self._page(items, query, "recurringRuns")
            if parts == ["recurringruns"] and method == "POST":
                return self._create_recurring_run(json.loads(body))
            if len(parts) == 2 and parts[0] == "recurringruns" and method == "POST":
                rid, _, verb = parts[1].partition(":")
                run = self.recurring.get(rid)
                if run is None or verb not in ("enable", "disable"):
                    raise rpc_error(404, 5, f"Recurring run {rid} not found")
                run["mode"] = "ENABLE" if verb == "enable" else "DISABLE"
                run["status"] = "ENABLED" if verb == "enable" else "DISABLED"
                run["updated_at"] = timestamp(self._tick())
                return {}
        raise rpc_error(404, 5, f"Not Found: {method} {path}")

    def _experiment(self, experiment_id: str) -> dict[str, Any]:
        experiment = self.experiments.get(experiment_id)
        if experiment is None:
            raise rpc_error(404, 5, f"Experiment {experiment_id} not found")
        return experiment

    def _create_experiment(self, data: dict[str, Any]) -> dict[str, Any]:
        ns = self._namespace(data.get("namespace"))
        name = data.get("display_name") or ""
        if any(
            fold(e["display_name"]) == fold(name) and e["namespace"] == ns
            for e in self.experiments.values()
        ):
            raise rpc_error(
                409, 6, f"Failed to create a new experiment. The name {name} already exists. "
                "Please specify a new name"
            )  # fmt: skip
        created = self._tick()
        experiment = {
            "experiment_id": self._uuid(),
            "display_name": name,
            "description": data.get("description", ""),
            "namespace": ns,
            "created_at": timestamp(created),
            "storage_state": "AVAILABLE",
            "_created": created,
        }
        self.experiments[experiment["experiment_id"]] = experiment
        return experiment

    def _create_run(self, data: dict[str, Any]) -> dict[str, Any]:
        experiment = self._experiment(data.get("experiment_id", ""))
        created = self._tick()
        run = {
            "run_id": self._uuid(),
            "experiment_id": experiment["experiment_id"],
            "display_name": data.get("display_name", ""),
            "description": data.get("description", ""),
            "state": "PENDING",
            "storage_state": "AVAILABLE",
            "created_at": timestamp(created),
            "pipeline_version_reference": data.get("pipeline_version_reference"),
            "runtime_config": data.get("runtime_config"),
            "_created": created,
            "_namespace": experiment["namespace"],
        }
        self.runs[run["run_id"]] = run
        return run

    def _create_recurring_run(self, data: dict[str, Any]) -> dict[str, Any]:
        if not data.get("display_name"):
            raise bad_request("Recurring run name is empty. Please specify a valid name")
        concurrency = int(data.get("max_concurrency") or 0)
        if not 1 <= concurrency <= 10:
            raise bad_request(
                "Max concurrency of a recurring run must be at least 1 and at most 10. "
                f"Received {concurrency}"
            )
        cron = ((data.get("trigger") or {}).get("cron_schedule") or {}).get("cron")
        if cron is not None:
            error = robfig_parse(cron)
            if error:
                raise bad_request(
                    "Schedule cron is not a supported format(https://godoc.org/github.com/"
                    f"robfig/cron). Error: {error}"
                )
        experiment = self._experiment(data.get("experiment_id", ""))
        created = self._tick()
        enabled = data.get("mode") == "ENABLE"
        run = {
            "recurring_run_id": self._uuid(),
            "display_name": data["display_name"],
            "description": data.get("description", ""),
            "mode": "ENABLE" if enabled else "DISABLE",
            "status": "ENABLED" if enabled else "DISABLED",
            "trigger": data.get("trigger"),
            "pipeline_version_reference": data.get("pipeline_version_reference"),
            "runtime_config": data.get("runtime_config"),
            "max_concurrency": str(concurrency),  # int64 is a string in proto JSON
            "no_catchup": bool(data.get("no_catchup", False)),
            "experiment_id": experiment["experiment_id"],
            "namespace": experiment["namespace"],
            "created_at": timestamp(created),
            "updated_at": timestamp(created),
            "_created": created,
        }
        self.recurring[run["recurring_run_id"]] = run
        return run

    def _page(self, items: list[dict[str, Any]], query: dict[str, str], field: str) -> Any:
        fields, key = FIELDS[field], KEYS[field]
        raw_filter = query_unescape(query["filter"]) if query.get("filter") else ""
        sort_by = query.get("sort_by", "")
        token = query.get("page_token", "")
        after = None
        if token:
            try:
                state = json.loads(base64.b64decode(token))
            except ValueError:
                raise bad_request("Invalid page token") from None
            if (sort_by or raw_filter) and (sort_by, raw_filter) != (
                state["sort_by"],
                state["filter"],
            ):
                raise bad_request(
                    "page token does not match the supplied sort by and/or filtering "
                    "criteria. Either specify the same criteria or leave the latter empty if "
                    "page token is specified"
                )
            sort_by, raw_filter, after = state["sort_by"], state["filter"], state["next"]
        predicates = _predicates(raw_filter, fields)
        items = [i for i in items if _matches(i, predicates)]
        words = sort_by.lower().split()
        if len(words) > 2 or (len(words) == 2 and words[1] not in ("asc", "desc")):
            raise bad_request(f"Received invalid sort by format {sort_by!r}")
        if words and words[0] not in fields:
            raise bad_request(f"Invalid sorting field: {words[0]!r}")
        sort_field = fields[words[0]] if words else "created_at"
        desc = len(words) == 2 and words[1] == "desc"

        def order(item: dict[str, Any]) -> tuple[Any, str]:
            return _sort_value(item, sort_field), item[key]

        items.sort(key=order, reverse=desc)
        if after is not None:
            position = (after[0], after[1])
            items = [i for i in items if (order(i) <= position if desc else order(i) >= position)]
        size = int(query.get("page_size") or 0)
        if size < 0:
            raise bad_request(f"The page size should be greater than 0. Got {size}")
        size = min(size or 20, 200, self.page_size_cap)
        page, rest = items[:size], items[size:]
        next_token = ""
        if rest:
            state = {"sort_by": sort_by, "filter": raw_filter, "next": list(order(rest[0]))}
            next_token = base64.b64encode(json.dumps(state).encode()).decode()
        return {field: page, "total_size": len(items), "next_page_token": next_token}


def _sort_value(item: dict[str, Any], field: str) -> Any:
    if field in ("created_at", "updated_at"):
        return item.get("_created", 0) if field == "created_at" else item.get(field, "")
    value = item.get(field, "")
    return fold(value) if isinstance(value, str) else value


def _predicates(raw_filter: str, fields: dict[str, str]) -> list[tuple[str, str, str]]:
    """(operation, model field, value) of each predicate; a 400 for what the server refuses."""
    if not raw_filter:
        return []
    text = raw_filter.replace('"stringValue":', '"string_value":')
    try:
        data = json.loads(text)
    except ValueError:
        raise bad_request(f"failed to parse valid filter from {raw_filter!r}") from None
    parsed = []
    for predicate in data.get("predicates", []):
        unknown = set(predicate) - {"operation", "op", "key", "string_value", "int_value",
                                    "long_value"}  # fmt: skip
        if unknown:
            raise bad_request(f"failed to parse valid filter: unknown field {sorted(unknown)}")
        operation = predicate.get("operation", predicate.get("op"))
        if isinstance(operation, int):
            operation = OPERATIONS.get(operation, operation)
        if predicate.get("key") not in fields:
            raise bad_request(f"Invalid filter key: {predicate.get('key')!r}")
        value = predicate.get("string_value")
        if value is None:
            raise bad_request("this double supports string predicates only")
        if operation not in ("EQUALS", "NOT_EQUALS", "IS_SUBSTRING"):
            raise bad_request(f"operation {operation!r} is not modelled by this double")
        parsed.append((operation, fields[predicate["key"]], value))
    return parsed


def _matches(item: dict[str, Any], predicates: list[tuple[str, str, str]]) -> bool:
    for operation, field, value in predicates:
        actual = str(item.get(field, ""))
        if operation == "EQUALS" and fold(actual) != fold(value):
            return False
        if operation == "NOT_EQUALS" and fold(actual) == fold(value):
            return False
        if operation == "IS_SUBSTRING" and not like(f"%{value}%", actual):
            return False
    return True


def _public(payload: Any) -> Any:
    """Drop the double's own bookkeeping keys (_created...) from an object or a page of
    them; specs inside are passed through untouched."""

    def strip(item: Any) -> Any:
        if isinstance(item, dict):
            return {k: v for k, v in item.items() if not k.startswith("_")}
        return item

    if isinstance(payload, dict):
        return {
            k: [strip(i) for i in v] if isinstance(v, list) else v
            for k, v in strip(payload).items()
        }
    return payload


def _uploaded(headers: Any, body: bytes) -> tuple[str, Any]:
    """The upload's file name and its spec, as the server stores and lists it."""
    message = email.parser.BytesParser().parsebytes(
        b"Content-Type: " + headers["Content-Type"].encode() + b"\r\n\r\n" + body
    )
    for part in message.walk():
        if part.get_param("name", header="content-disposition") == "uploadfile":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
            documents = [d for d in yaml.load_all(payload.decode("utf-8"), Loader=loader) if d]
            pipeline = next(d for d in documents if "platforms" not in d)
            platform = next((d for d in documents if "platforms" in d), None)
            spec = {"pipeline_spec": pipeline, "platform_spec": platform} if platform else pipeline
            return part.get_filename() or "pipeline.yaml", spec
    raise upload_error(400, "Failed to read pipeline from file")

"""The KFP v2beta1 API through the kfp SDK's generated client, with one retry policy.

Every call goes through `KfpApi.call`:
- HTTP 429 and 5xx and connection errors are retried with capped exponential backoff and
  jitter (`delay = min(cap, base * 2**attempt)`, drawn from [delay/2, delay], at least a
  429's Retry-After) until the command's deadline; each retry is reported to `on_retry`.
- A create that KFP does not keep unique (recurring runs, runs: no 409, ever) is never
  retried blindly: when its request may have reached the server (a 5xx, a read timeout,
  a connection dropped after sending) `call(..., create=True)` raises `Ambiguous`, and
  the caller lists again before creating again (`create_once`). Only failures that
  prove nothing was sent (connection refused, connect timeout, 429) are retried.
- 409 becomes `AlreadyExists` for the caller to confirm; 401/403 a PublishError naming the
  IAM role; other 4xx a PublishError with the server's message (upload errors come as
  `{error_message, error_details}`, the rest as google.rpc.Status `{code, message}`).
- urllib3's own retries are off and every request has a connect and read timeout.
- Calls are safe from several threads (deploy reads concurrently); the generated client
  prints nothing, so `--output json` stays JSON.

Filters are encoded like KFP's own frontend: the server URL-decodes `filter` once more
after the HTTP layer did (see `encode_filter`).
"""

from __future__ import annotations

import dataclasses
import json
import random
import threading
import time
import urllib.parse
import warnings
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from kfp_gcp.errors import PublishError

T = TypeVar("T")
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
# The server caps a page at 200 (list.go validatePageSize); fewer pages, fewer round trips.
PAGE_SIZE = 200
# Connections kept open: deploy reads this many pipelines at once.
CONCURRENCY = 8


@dataclasses.dataclass
class RetryPolicy:
    deadline_s: float = 600.0
    probe_deadline_s: float = 10.0
    base_s: float = 0.5
    cap_s: float = 30.0
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 120.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    jitter: Callable[[], float] = random.random


class AlreadyExists(Exception):
    """HTTP 409 from a unique-name conflict: the caller lists again and confirms content."""


class Ambiguous(Exception):
    """A create whose request may have reached the server, with no answer to say so."""


@dataclasses.dataclass
class Retry:
    what: str
    reason: str
    attempt: int  # the attempt that failed, from 1
    delay: float  # seconds until the next one
    note: str = ""  # what happens instead of a plain retry


@dataclasses.dataclass
class Counters:
    requests: int = 0
    retries: int = 0


def _status(exc: BaseException) -> int | None:
    status = getattr(exc, "status", None)
    return status if isinstance(status, int) and status else None


def _retry_after(exc: BaseException) -> float:
    headers = getattr(exc, "headers", None) or {}
    try:
        return float(headers.get("Retry-After", 0))
    except (TypeError, ValueError):
        return 0.0


def server_message(exc: BaseException) -> str:
    """What the server said, in one line: an upload's `error_message`, a google.rpc.Status
    `message`, or the text of a plain-text answer; never a stack trace."""
    body = getattr(exc, "body", None)
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if body:
        try:
            data = json.loads(body)
        except ValueError:
            return " ".join(str(body).split())[:300]
        if isinstance(data, dict):
            for key in ("error_message", "message", "error"):
                if data.get(key):
                    return " ".join(str(data[key]).split())[:300]
        return " ".join(str(body).split())[:300]
    if _status(exc):
        return str(getattr(exc, "reason", "") or "")
    return _describe_connection_error(exc)


def _describe_connection_error(exc: BaseException) -> str:
    import urllib3.exceptions as u3

    if isinstance(exc, u3.NameResolutionError):
        return "the host name does not resolve"
    if isinstance(exc, u3.NewConnectionError):
        return "connection refused" if "refused" in str(exc).lower() else "cannot connect"
    if isinstance(exc, u3.ConnectTimeoutError):
        return "connect timed out"
    if isinstance(exc, u3.ReadTimeoutError):
        return "no answer within the read timeout"
    if isinstance(exc, u3.ProtocolError):
        return "connection dropped"
    return f"{type(exc).__name__}: {exc}"[:300]


def _reason(exc: BaseException) -> str:
    status = _status(exc)
    return f"HTTP {status}: {server_message(exc)}" if status else server_message(exc)


def _is_connection_error(exc: BaseException) -> bool:
    import urllib3.exceptions

    return isinstance(exc, urllib3.exceptions.HTTPError | ConnectionError | TimeoutError)


def _not_sent(exc: BaseException) -> bool:
    """True when the failure proves the server never handled the request."""
    import urllib3.exceptions

    # NewConnectionError (refused, DNS) is a ConnectTimeoutError in urllib3 2.
    return _status(exc) == 429 or isinstance(
        exc, urllib3.exceptions.ConnectTimeoutError | ConnectionRefusedError
    )


def encode_filter(predicates: list[dict[str, Any]]) -> str:
    """A v2beta1 Filter, encoded as KFP's frontend does: `encodeURIComponent(JSON)`.

    The HTTP client encodes the query value once more; the server decodes it once at the
    HTTP layer and again in parseAPIFilter (url.QueryUnescape), where an unencoded `+`
    would become a space and a lone `%` a 400. `safe` is encodeURIComponent's set.
    """
    text = json.dumps({"predicates": predicates}, ensure_ascii=False, separators=(",", ":"))
    return urllib.parse.quote(text, safe="-_.!~*'()")


def eq_filter(key: str, value: str) -> str:
    return encode_filter([{"operation": "EQUALS", "key": key, "string_value": value}])


def substring_filter(key: str, value: str) -> str:
    """IS_SUBSTRING is SQL `LIKE '%value%'` on the server (filter.go AddToSelect), whose
    escape character is the backslash: escape it, `%` and `_` to match `value` as text."""
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return encode_filter([{"operation": "IS_SUBSTRING", "key": key, "string_value": escaped}])


class KfpApi:
    def __init__(
        self,
        host: str,
        namespace: str,
        credentials: Any = None,
        policy: RetryPolicy | None = None,
        ui_host: str | None = None,
        on_retry: Callable[[Retry], None] | None = None,
    ) -> None:
        self.host = host.rstrip("/")
        self.namespace = namespace
        self.policy = policy or RetryPolicy()
        self.deadline = self.policy.clock() + self.policy.deadline_s
        self.counters = Counters()
        self.on_retry = on_retry
        self.ui_host = (ui_host or self.host).rstrip("/")
        self._lock = threading.Lock()
        self._cancelled = threading.Event()
        self.client = self._make_client(credentials)

    # The SDK client.

    def _make_client(self, credentials: Any) -> Any:
        import kfp
        import kfp_server_api  # type: ignore[import-untyped]

        class Client(kfp.Client):  # type: ignore[misc]
            # The constructor may probe healthz with its own fixed 5 s sleeps (and through
            # KFP's UI healthz answers 200 even when the API server is down): `probe` does
            # it instead, with a short deadline, on a call that reaches the API server.
            def get_kfp_healthz(self, sleep_duration: int = 5) -> Any:
                return kfp_server_api.V2beta1GetHealthzResponse(multi_user=False)

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            client = Client(host=self.host, namespace=self.namespace, credentials=credentials)
        self._tune(client)
        return client

    def _tune(self, client: Any) -> None:
        """No urllib3 retries, a timeout on every request (the SDK sets none, and
        kfp_server_api passes `timeout=None`, which urllib3 reads as "wait forever"), and a
        connection pool as large as the reads in flight."""
        rest = client._healthz_api.api_client.rest_client
        rest.pool_manager.connection_pool_kw["retries"] = False
        rest.pool_manager.connection_pool_kw["maxsize"] = CONCURRENCY
        rest.pool_manager.clear()
        request = rest.request

        def with_timeout(*args: Any, **kwargs: Any) -> Any:
            if kwargs.get("_request_timeout") is None:
                kwargs["_request_timeout"] = self._timeouts
            return request(*args, **kwargs)

        self._timeouts = (self.policy.connect_timeout_s, self.policy.read_timeout_s)
        rest.request = with_timeout

    # The policy.

    def cancel(self) -> None:
        """Make calls in other threads stop at their next attempt (the deploy failed)."""
        self._cancelled.set()

    def _count(self, requests: int = 0, retries: int = 0) -> None:
        with self._lock:
            self.counters.requests += requests
            self.counters.retries += retries

    def call(
        self,
        what: str,
        fn: Callable[..., T],
        *args: Any,
        create: bool = False,
        deadline: float | None = None,
        **kwargs: Any,
    ) -> T:
        """`fn(*args, **kwargs)` under the retry policy. `create=True` marks a create KFP
        does not keep unique: it raises `Ambiguous` instead of retrying when the request
        may have been handled."""
        deadline = self.deadline if deadline is None else deadline
        attempt = 0
        while True:
            if self._cancelled.is_set():
                raise PublishError(f"{what}: cancelled, the deploy stopped")
            self._count(requests=1)
            try:
                return fn(*args, **kwargs)
            except Exception as exc:
                status = _status(exc)
                if status == 409:
                    raise AlreadyExists(server_message(exc)) from None
                if status in (401, 403):
                    raise PublishError(
                        f"{what}: KFP answered {status} ({server_message(exc)})",
                        hint="the caller needs roles/iap.httpsResourceAccessor on the IAP backend "
                        "and an ID token for the IAP client id (docs/publishing.md)",
                    ) from None
                retryable = status in RETRY_STATUS or (status is None and _is_connection_error(exc))
                if not retryable:
                    if status is None and not hasattr(exc, "body"):
                        raise
                    raise PublishError(
                        f"{what}: KFP answered {status} ({server_message(exc)})",
                        hint="fix the request named above; nothing was retried",
                    ) from None
                if create and not _not_sent(exc):
                    raise Ambiguous(_reason(exc)) from None
                delay = min(self.policy.cap_s, self.policy.base_s * 2**attempt)
                delay = max(delay / 2 + delay / 2 * self.policy.jitter(), _retry_after(exc))
                if self.policy.clock() + delay > deadline:
                    seconds = deadline - (self.deadline - self.policy.deadline_s)
                    raise GaveUp(what, attempt + 1, seconds, _reason(exc)) from None
                self._count(retries=1)
                if self.on_retry:
                    self.on_retry(Retry(what, _reason(exc), attempt + 1, delay))
                self.policy.sleep(delay)
                attempt += 1

    def create_once(
        self,
        what: str,
        create: Callable[[], T],
        find: Callable[[], T | None],
    ) -> T:
        """Create something KFP does not keep unique, at most once.

        After an ambiguous failure `find` lists again (by display name and the marker the
        caller put in the description): if the first attempt was written, that is the
        result; only when nothing was written is the create sent again.
        """
        while True:
            try:
                return self.call(what, create, create=True)
            except Ambiguous as exc:
                if self.on_retry:
                    note = "listing to see whether it was written before sending it again"
                    self.on_retry(Retry(what, str(exc), 1, 0.0, note))
                found = find()
                if found is not None:
                    return found
                delay = self.policy.base_s
                if self.policy.clock() + delay > self.deadline:
                    raise PublishError(
                        f"{what}: no answer ({exc}), and nothing was written; gave up at the "
                        f"{self.policy.deadline_s:.0f}s deadline",
                        hint="a re-run resumes where this stopped",
                    ) from None
                self._count(retries=1)
                if self.on_retry:
                    note = f"nothing was written; sending it again in {delay:.1f}s"
                    self.on_retry(Retry(what, str(exc), 1, delay, note))
                self.policy.sleep(delay)

    def _pages(self, what: str, fn: Callable[..., Any], field: str, **kwargs: Any) -> Iterator[Any]:
        token = ""
        while True:
            response = self.call(what, fn, page_token=token, page_size=PAGE_SIZE, **kwargs)
            yield from getattr(response, field) or []
            token = response.next_page_token or ""
            if not token:
                return

    # Reachability.

    def probe(self) -> None:
        """One call that reaches KFP's API server (not the UI's healthz, which answers 200
        while the API server is down), under a short deadline, with errors that say what
        is wrong."""
        deadline = self.policy.clock() + self.policy.probe_deadline_s
        try:
            self.call(
                "reach the KFP API",
                self.client._pipelines_api.pipeline_service_list_pipelines,
                namespace=self.namespace,
                page_size=1,
                deadline=deadline,
            )
        except GaveUp as exc:
            raise unreachable(self.host, exc.last, self.policy.probe_deadline_s) from None
        except PublishError as exc:
            if "answered 404" in exc.message:
                raise PublishError(
                    f"{self.host} answers, but not as KFP's API (/apis/v2beta1: {exc.message})",
                    hint="check --host: it is the KFP UI or API address, without a path",
                ) from None
            raise

    # Pipelines and versions.

    def pipelines(self) -> list[Any]:
        return list(
            self._pages(
                "list pipelines",
                self.client._pipelines_api.pipeline_service_list_pipelines,
                "pipelines",
                namespace=self.namespace,
            )
        )

    def pipeline_named(self, name: str) -> Any | None:
        """The pipeline whose `name` (unique per namespace, never edited) is `name`."""
        found = [
            p
            for p in self._pages(
                f"find pipeline {name!r}",
                self.client._pipelines_api.pipeline_service_list_pipelines,
                "pipelines",
                namespace=self.namespace,
                filter=eq_filter("name", name),
            )
            if p.name == name  # the database compares case- and accent-insensitively
        ]
        return found[0] if found else None

    def newest_version(self, pipeline_id: str) -> Any | None:
        """The newest version in the server's order: created_at, then id, descending."""
        response = self.call(
            "read the newest version",
            self.client._pipelines_api.pipeline_service_list_pipeline_versions,
            pipeline_id,
            page_size=1,
            sort_by="created_at desc",
        )
        versions = response.pipeline_versions or []
        return versions[0] if versions else None

    def versions_matching(self, pipeline_id: str, key: str, text: str) -> list[Any]:
        """Versions whose `key` ("name" or "description") contains `text`. The server
        matches with SQL LIKE, ignoring case and accents: callers check exactly."""
        return [
            v
            for v in self._pages(
                f"find versions whose {key} has {text[:24]!r}",
                self.client._pipelines_api.pipeline_service_list_pipeline_versions,
                "pipeline_versions",
                pipeline_id=pipeline_id,
                filter=substring_filter(key, text),
            )
            if text in (getattr(v, key) or "")
        ]

    def upload_pipeline(self, path: str, name: str, description: str) -> Any:
        return self.call(
            f"upload pipeline {name!r}",
            self.client._upload_api.upload_pipeline,
            path,
            name=name,
            display_name=name,
            description=description,
            namespace=self.namespace,
        )

    def upload_version(self, path: str, name: str, pipeline_id: str, description: str) -> Any:
        return self.call(
            f"upload version {name!r}",
            self.client._upload_api.upload_pipeline_version,
            path,
            name=name,
            display_name=name,
            pipelineid=pipeline_id,
            description=description,
        )

    # Experiments.

    def _experiments_equal(self, name: str) -> list[Any]:
        """Experiments the server calls equal to `name` (it ignores case and accents)."""
        return list(
            self._pages(
                f"find experiment {name!r}",
                self.client._experiment_api.experiment_service_list_experiments,
                "experiments",
                namespace=self.namespace,
                filter=eq_filter("display_name", name),
            )
        )

    def experiment_id(self, name: str) -> str:
        return self.ensure_experiment(name)[0]

    def ensure_experiment(self, name: str) -> tuple[str, bool]:
        """The id of the experiment called `name`, and whether this call created it.
        Names are unique, so a concurrent create answers 409; one more list then finds
        it, or the name clashes with one that differs only in case or accents: an error."""
        import kfp_server_api

        def exact(found: list[Any]) -> Any | None:
            return next((e for e in found if e.display_name == name), None)

        experiment = exact(self._experiments_equal(name))
        created = False
        if experiment is None:
            body = kfp_server_api.V2beta1Experiment(display_name=name, namespace=self.namespace)
            try:
                experiment = self.call(
                    f"create experiment {name!r}",
                    self.client._experiment_api.experiment_service_create_experiment,
                    experiment=body,
                )
                created = True
            except AlreadyExists:
                found = self._experiments_equal(name)
                experiment = exact(found)
                if experiment is None:
                    others = ", ".join(repr(e.display_name) for e in found) or "one not listed"
                    raise PublishError(
                        f"experiment {name!r} clashes with {others} in namespace "
                        f"{self.namespace!r}: KFP compares names ignoring case and accents",
                        hint="use that experiment's exact name (schedules.yaml `experiment`, or "
                        "--experiment), or another name",
                    ) from None
        return str(experiment.experiment_id), created

    # Recurring runs.

    def recurring_runs(self, key: str = "", containing: str = "") -> list[Any]:
        """Recurring runs of the namespace; with `key`, only those whose `key`
        ("display_name" or "description") contains `containing` (ignoring case and
        accents, as the server compares: callers check exactly)."""
        extra = {"filter": substring_filter(key, containing)} if key else {}
        return list(
            self._pages(
                "list recurring runs",
                self.client._recurring_run_api.recurring_run_service_list_recurring_runs,
                "recurring_runs",
                namespace=self.namespace,
                **extra,
            )
        )

    def recurring_runs_named(self, name: str) -> list[Any]:
        return [
            r
            for r in self._pages(
                f"list recurring runs named {name!r}",
                self.client._recurring_run_api.recurring_run_service_list_recurring_runs,
                "recurring_runs",
                namespace=self.namespace,
                filter=eq_filter("display_name", name),
            )
            if r.display_name == name
        ]

    def create_recurring_run(self, body: Any) -> Any:
        """Create `body`, or after an ambiguous failure find the recurring run with its
        display name (any with that name has the same content)."""
        name = body.display_name

        def find() -> Any | None:
            found = self.recurring_runs_named(name)
            return found[0] if found else None

        return self.create_once(
            f"create recurring run {name!r}",
            lambda: self.client._recurring_run_api.recurring_run_service_create_recurring_run(
                recurring_run=body
            ),
            find,
        )

    def set_recurring_run_enabled(self, recurring_run_id: str, enabled: bool) -> None:
        service = self.client._recurring_run_api
        fn = (
            service.recurring_run_service_enable_recurring_run
            if enabled
            else service.recurring_run_service_disable_recurring_run
        )
        verb = "enable" if enabled else "disable"
        self.call(f"{verb} recurring run {recurring_run_id}", fn, recurring_run_id)

    # Runs.

    def create_run(self, body: Any, marker: str) -> Any:
        """Start the run `body` once: `marker` (unique, in its description) tells after an
        ambiguous failure whether the first attempt was written."""

        def find() -> Any | None:
            for run in self._pages(
                f"find run {body.display_name!r}",
                self.client._run_api.run_service_list_runs,
                "runs",
                experiment_id=body.experiment_id,
                filter=eq_filter("display_name", body.display_name),
            ):
                if marker in (run.description or ""):
                    return run
            return None

        return self.create_once(
            f"create run {body.display_name!r}",
            lambda: self.client._run_api.run_service_create_run(run=body),
            find,
        )

    def get_run(self, run_id: str) -> Any:
        return self.call(f"get run {run_id}", self.client._run_api.run_service_get_run, run_id)

    def run_url(self, run_id: str) -> str:
        return f"{self.ui_host}/#/runs/details/{run_id}"


class GaveUp(PublishError):
    """The deadline passed while a call kept failing in a retryable way."""

    def __init__(self, what: str, attempts: int, seconds: float, last: str) -> None:
        super().__init__(
            f"{what}: gave up after {attempts} attempts within the {seconds:.0f}s deadline "
            f"(last: {last})",
            hint="a re-run resumes where this stopped",
        )
        self.last = last


def unreachable(host: str, last: str, seconds: float) -> PublishError:
    if "refused" in last:
        local = urllib.parse.urlsplit(host).hostname in ("localhost", "127.0.0.1", "::1")
        return PublishError(
            f"nothing answers at {host} (connection refused, for {seconds:.0f}s)",
            hint="is `kfp-gcp ui --env ENV` running in another terminal, and is --host its address?"
            if local
            else "check the address, and that the environment's load balancer is up",
        )
    if "does not resolve" in last:
        return PublishError(
            f"{host} does not resolve",
            hint="check the environment's domain (DNS) or --host",
        )
    if last.startswith(("HTTP 502", "HTTP 503", "HTTP 504")):
        return PublishError(
            f"{host} answers, but KFP's API server behind it does not ({last})",
            hint="check the ml-pipeline Deployment (kubectl -n kubeflow get pods); the UI's "
            "healthz says nothing about it",
        )
    return PublishError(
        f"KFP at {host} did not answer within {seconds:.0f}s (last: {last})",
        hint="check the address and your network; a re-run resumes",
    )

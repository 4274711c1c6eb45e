"""The KFP v2beta1 API through the kfp SDK, with one retry policy and one deadline.

Every call goes through `KfpApi.call`: HTTP 429 and 5xx and connection errors
(refused, reset, read timeouts) are retried with capped exponential backoff and jitter
(`delay = min(cap, base * 2**attempt)`, then a uniform draw in [delay/2, delay], at least
a 429's Retry-After) until the deploy's overall deadline; 409 becomes `AlreadyExists`
for the caller to confirm; 401/403 become a PublishError that names the IAM role.
urllib3's own retries are switched off so this is the only policy, and every request has
a connect and read timeout. The SDK prints links to stdout; that is captured, so
`--output json` stays JSON.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import random
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from kfp_gcp.errors import PublishError

T = TypeVar("T")
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
PAGE_SIZE = 100


@dataclasses.dataclass
class RetryPolicy:
    deadline_s: float = 600.0
    base_s: float = 0.5
    cap_s: float = 30.0
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 120.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    jitter: Callable[[], float] = random.random


class AlreadyExists(Exception):
    """HTTP 409 from a unique-name conflict: the caller re-lists and confirms content."""


@dataclasses.dataclass
class Counters:
    requests: int = 0
    retries: int = 0


def _status(exc: BaseException) -> int | None:
    status = getattr(exc, "status", None)
    return status if isinstance(status, int) else None


def _retry_after(exc: BaseException) -> float:
    headers = getattr(exc, "headers", None) or {}
    try:
        return float(headers.get("Retry-After", 0))
    except (TypeError, ValueError):
        return 0.0


def _message(exc: BaseException) -> str:
    body = getattr(exc, "body", None)
    if body:
        try:
            data = json.loads(body)
            return str(data.get("message") or data.get("error") or body)[:300]
        except (ValueError, AttributeError):
            return str(body)[:300]
    return f"{type(exc).__name__}: {exc}"[:300]


def _is_connection_error(exc: BaseException) -> bool:
    import urllib3.exceptions

    return isinstance(exc, urllib3.exceptions.HTTPError | ConnectionError | TimeoutError)


class KfpApi:
    def __init__(
        self,
        host: str,
        namespace: str,
        credentials: Any = None,
        policy: RetryPolicy | None = None,
        ui_host: str | None = None,
    ) -> None:
        self.host = host.rstrip("/")
        self.namespace = namespace
        self.policy = policy or RetryPolicy()
        self.deadline = self.policy.clock() + self.policy.deadline_s
        self.counters = Counters()
        self.ui_host = (ui_host or self.host).rstrip("/")
        self.client = self._make_client(credentials)

    # The SDK client.

    def _make_client(self, credentials: Any) -> Any:
        import kfp

        api = self

        class Client(kfp.Client):  # type: ignore[misc]
            # The constructor checks healthz with its own fixed 5 s sleeps; use ours.
            def get_kfp_healthz(self, sleep_duration: int = 5) -> Any:
                api._tune(self)
                return api.call("GET healthz", self._healthz_api.healthz_service_get_healthz)

        with _quiet():
            # A namespace other than 'kubeflow' skips the SDK's healthz probe; we pass the
            # namespace on every call anyway.
            client = Client(host=self.host, namespace=self.namespace, credentials=credentials)
        self._tune(client)
        return client

    def _tune(self, client: Any) -> None:
        """No urllib3 retries, and a timeout on every request (the SDK sets none, and
        kfp_server_api passes `timeout=None`, which urllib3 reads as "wait forever")."""
        rest = client._healthz_api.api_client.rest_client
        if getattr(rest, "_kfp_gcp_tuned", False):
            return
        rest.pool_manager.connection_pool_kw["retries"] = False
        rest.pool_manager.clear()
        request = rest.request
        timeouts = (self.policy.connect_timeout_s, self.policy.read_timeout_s)

        def with_timeout(*args: Any, **kwargs: Any) -> Any:
            if kwargs.get("_request_timeout") is None:
                kwargs["_request_timeout"] = timeouts
            return request(*args, **kwargs)

        rest.request = with_timeout
        rest._kfp_gcp_tuned = True

    # The policy.

    def call(self, what: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        attempt = 0
        while True:
            self.counters.requests += 1
            try:
                with _quiet():
                    return fn(*args, **kwargs)
            except Exception as exc:
                status = _status(exc)
                if status == 409:
                    raise AlreadyExists(_message(exc)) from None
                if status in (401, 403):
                    raise PublishError(
                        f"{what}: KFP answered {status} ({_message(exc)})",
                        hint="the caller needs roles/iap.httpsResourceAccessor on the IAP backend "
                        "and an ID token for the IAP client id (docs/publishing.md)",
                    ) from None
                retryable = status in RETRY_STATUS or (status is None and _is_connection_error(exc))
                if not retryable:
                    if status is None and not hasattr(exc, "body"):
                        raise
                    raise PublishError(
                        f"{what}: KFP answered {status} ({_message(exc)})",
                        hint="fix the request named above; nothing was retried",
                    ) from None
                delay = min(self.policy.cap_s, self.policy.base_s * 2**attempt)
                delay = max(delay / 2 + delay / 2 * self.policy.jitter(), _retry_after(exc))
                if self.policy.clock() + delay > self.deadline:
                    raise PublishError(
                        f"{what}: gave up after {attempt + 1} attempts within the "
                        f"{self.policy.deadline_s:.0f}s deadline (last: {_message(exc)})",
                        hint=f"check that {self.host} is up (`/apis/v2beta1/healthz`); "
                        "a re-run resumes where this stopped",
                    ) from None
                self.counters.retries += 1
                self.policy.sleep(delay)
                attempt += 1

    def _pages(self, what: str, fn: Callable[..., Any], field: str, **kwargs: Any) -> Iterator[Any]:
        token = ""
        while True:
            response = self.call(what, fn, page_token=token, page_size=PAGE_SIZE, **kwargs)
            yield from getattr(response, field) or []
            token = response.next_page_token or ""
            if not token:
                return

    # Calls used by publish, schedules and submit.

    def healthz(self) -> Any:
        return self.call("GET healthz", self.client._healthz_api.healthz_service_get_healthz)

    def pipelines(self) -> list[Any]:
        return list(
            self._pages(
                "list pipelines",
                self.client.list_pipelines,
                "pipelines",
                namespace=self.namespace,
            )
        )

    def pipeline_named(self, display_name: str) -> Any | None:
        found = [
            p
            for p in self._pages(
                "find pipeline",
                self.client.list_pipelines,
                "pipelines",
                namespace=self.namespace,
                filter=eq_filter("display_name", display_name),
            )
            if p.display_name == display_name
        ]
        return found[0] if found else None

    def versions(self, pipeline_id: str) -> list[Any]:
        """Every version, newest first."""
        versions = list(
            self._pages(
                "list versions",
                self.client.list_pipeline_versions,
                "pipeline_versions",
                pipeline_id=pipeline_id,
                sort_by="created_at desc",
            )
        )
        return sorted(versions, key=_created, reverse=True)

    def upload_pipeline(self, path: str, name: str, description: str) -> Any:
        return self.call(
            f"upload pipeline {name!r}",
            self.client.upload_pipeline,
            path,
            pipeline_name=name,
            description=description,
            namespace=self.namespace,
        )

    def upload_version(self, path: str, name: str, pipeline_id: str, description: str) -> Any:
        return self.call(
            f"upload version {name!r}",
            self.client.upload_pipeline_version,
            path,
            pipeline_version_name=name,
            pipeline_id=pipeline_id,
            description=description,
        )

    def experiment_id(self, name: str) -> str:
        found = [
            e
            for e in self._pages(
                "find experiment",
                self.client._experiment_api.experiment_service_list_experiments,
                "experiments",
                namespace=self.namespace,
                filter=eq_filter("display_name", name),
            )
            if e.display_name == name
        ]
        if found:
            return str(found[0].experiment_id)
        try:
            import kfp_server_api  # type: ignore[import-untyped]

            body = kfp_server_api.V2beta1Experiment(display_name=name, namespace=self.namespace)
            made = self.call(
                f"create experiment {name!r}",
                self.client._experiment_api.experiment_service_create_experiment,
                experiment=body,
            )
            return str(made.experiment_id)
        except AlreadyExists:
            return self.experiment_id(name)

    def recurring_runs(self) -> list[Any]:
        return list(
            self._pages(
                "list recurring runs",
                self.client.list_recurring_runs,
                "recurring_runs",
                namespace=self.namespace,
            )
        )

    def create_recurring_run(self, **kwargs: Any) -> Any:
        return self.call(
            f"create recurring run {kwargs.get('job_name')!r}",
            self.client.create_recurring_run,
            **kwargs,
        )

    def set_recurring_run_enabled(self, recurring_run_id: str, enabled: bool) -> None:
        fn = self.client.enable_recurring_run if enabled else self.client.disable_recurring_run
        verb = "enable" if enabled else "disable"
        self.call(f"{verb} recurring run {recurring_run_id}", fn, recurring_run_id)

    def run(self, **kwargs: Any) -> Any:
        return self.call("create run", self.client.run_pipeline, **kwargs)

    def get_run(self, run_id: str) -> Any:
        return self.call(f"get run {run_id}", self.client.get_run, run_id)

    def run_url(self, run_id: str) -> str:
        return f"{self.ui_host}/#/runs/details/{run_id}"


def eq_filter(key: str, value: str) -> str:
    return json.dumps(
        {"predicates": [{"operation": "EQUALS", "key": key, "string_value": value}]},
        ensure_ascii=False,
    )


def _created(item: Any) -> float:
    created = getattr(item, "created_at", None)
    return created.timestamp() if created is not None else 0.0


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    with (
        warnings.catch_warnings(),
        contextlib.redirect_stdout(io.StringIO()),
    ):
        warnings.simplefilter("ignore", FutureWarning)
        yield

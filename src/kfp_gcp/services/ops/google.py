"""The one seam to the Google Cloud REST APIs that `up`, `doctor` and `down` read (beyond
Cloud SQL, Secret Manager, Artifact Registry and the Compute quotas, which have their own
clients): a JSON client over urllib with a short timeout and no retries, so that a doctor
without network answers in seconds. Tests point every API at a local server that answers
with recorded JSON (tests/fixtures/live/).

The calls and the shapes read, from each API's REST reference:
- tokeninfo      GET oauth2.googleapis.com/tokeninfo?access_token=T -> {email, scope, exp,
  expires_in, aud, azp} (developers.google.com/identity/protocols/oauth2, "tokeninfo")
- projects.get   GET cloudresourcemanager v1/projects/P -> {projectNumber, projectId,
  lifecycleState ACTIVE|DELETE_REQUESTED, name}
  (cloud.google.com/resource-manager/reference/rest/v1/projects/get)
- services.batchGet GET serviceusage v1/projects/N/services:batchGet?names=... -> {services:
  [{name: projects/N/services/S, config: {name: S}, state: ENABLED|DISABLED}]}
  (cloud.google.com/service-usage/docs/reference/rest/v1/services/batchGet; 30 names at most)
- clusters.get   GET container v1/projects/P/locations/L/clusters/C -> Cluster {status,
  currentMasterVersion, nodePools: [{name, status, autoscaling: {enabled,
  totalMinNodeCount, totalMaxNodeCount, locationPolicy}, config: {machineType,
  workloadMetadataConfig: {mode}}}], workloadIdentityConfig: {workloadPool}}
  (cloud.google.com/kubernetes-engine/docs/reference/rest/v1/projects.locations.clusters)
- objects.list   GET storage storage/v1/b/B/o?prefix=&maxResults= -> {kind: storage#objects,
  items: [{name, updated, size}]} (cloud.google.com/storage/docs/json_api/v1/objects/list)
- buckets.getIamPolicy GET storage storage/v1/b/B/iam -> {kind: storage#policy, bindings:
  [{role, members}]} (.../json_api/v1/buckets/getIamPolicy)
- serviceAccounts.getIamPolicy POST iam v1/projects/P/serviceAccounts/E:getIamPolicy ->
  {bindings: [{role, members}], etag}
  (cloud.google.com/iam/docs/reference/rest/v1/projects.serviceAccounts/getIamPolicy)
- backendServices.get GET compute compute/v1/projects/P/global/backendServices/NAME ->
  {name, iap: {enabled, oauth2ClientId}, backends}
  (cloud.google.com/compute/docs/reference/rest/v1/backendServices/get)
Errors are Google's JSON: {"error": {"code", "message", "status", "errors": [{"reason"}]}}.
"""

from __future__ import annotations

import json
import socket
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from kfp_gcp.errors import PrerequisiteError

ENDPOINTS: dict[str, str] = {
    "oauth2": "https://oauth2.googleapis.com",
    "cloudresourcemanager": "https://cloudresourcemanager.googleapis.com",
    "serviceusage": "https://serviceusage.googleapis.com",
    "container": "https://container.googleapis.com",
    "storage": "https://storage.googleapis.com",
    "iam": "https://iam.googleapis.com",
    "compute": "https://compute.googleapis.com",
}
TokenProvider = Callable[[], str]
T = TypeVar("T")


class ApiError(Exception):
    """A Google API answered an error, or could not be reached (code 0)."""

    def __init__(self, api: str, code: int, reason: str, message: str) -> None:
        super().__init__(f"{api} answered {code} {reason}: {message}" if code else message)
        self.api = api
        self.code = code
        self.reason = reason
        self.message = message

    @property
    def said(self) -> str:
        """What the API said, on one line, for a person."""
        if not self.code:
            return self.message
        return f"{self.code} {self.reason}: {self.message}".strip()


class GoogleApis:
    def __init__(
        self,
        token: TokenProvider,
        endpoints: Mapping[str, str] | None = None,
        timeout_s: float = 10,
    ) -> None:
        self.token = token
        self.endpoints = {**ENDPOINTS, **(endpoints or {})}
        self.timeout_s = timeout_s

    def call(
        self,
        api: str,
        path: str,
        query: Mapping[str, str | list[str]] | None = None,
        body: dict[str, Any] | None = None,
        authorized: bool = True,
    ) -> dict[str, Any]:
        url = f"{self.endpoints[api].rstrip('/')}/{path}"
        if query:
            url += "?" + urllib.parse.urlencode(query, doseq=True)
        headers = {"Content-Type": "application/json"}
        if authorized:
            headers["Authorization"] = f"Bearer {self.token()}"
        request = urllib.request.Request(  # noqa: S310 (https, or a test server)
            url,
            data=None if body is None else json.dumps(body).encode(),
            method="GET" if body is None else "POST",
            headers=headers,
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:  # noqa: S310
                answer: dict[str, Any] = json.loads(response.read() or b"{}")
                return answer
        except urllib.error.HTTPError as exc:
            raise _error(api, exc) from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ApiError(api, 0, "unreachable", f"cannot reach {api}: {reason}") from None

    # The calls, each named after its REST method.

    def tokeninfo(self, access_token: str) -> dict[str, Any]:
        return self.call("oauth2", "tokeninfo", {"access_token": access_token}, authorized=False)

    def project(self, project: str) -> dict[str, Any]:
        return self.call("cloudresourcemanager", f"v1/projects/{project}")

    def services(self, project_number: str, names: list[str]) -> dict[str, str]:
        """Service name -> state (ENABLED, DISABLED), in batches of 30 (the API's limit)."""
        states: dict[str, str] = {}
        for start in range(0, len(names), 30):
            batch = names[start : start + 30]
            answer = self.call(
                "serviceusage",
                f"v1/projects/{project_number}/services:batchGet",
                {"names": [f"projects/{project_number}/services/{n}" for n in batch]},
            )
            for service in answer.get("services", []):
                name = (service.get("config") or {}).get("name") or str(
                    service.get("name", "")
                ).rsplit("/", 1)[-1]
                states[name] = str(service.get("state", "STATE_UNSPECIFIED"))
        return states

    def cluster(self, project: str, location: str, name: str) -> dict[str, Any]:
        return self.call("container", f"v1/projects/{project}/locations/{location}/clusters/{name}")

    def objects(self, bucket: str, prefix: str, limit: int = 10) -> list[dict[str, Any]]:
        answer = self.call(
            "storage",
            f"storage/v1/b/{urllib.parse.quote(bucket, safe='')}/o",
            {"prefix": prefix, "maxResults": str(limit)},
        )
        items: list[dict[str, Any]] = answer.get("items", [])
        return items

    def bucket_policy(self, bucket: str) -> dict[str, Any]:
        return self.call("storage", f"storage/v1/b/{urllib.parse.quote(bucket, safe='')}/iam")

    def service_account_policy(self, project: str, email: str) -> dict[str, Any]:
        return self.call(
            "iam", f"v1/projects/{project}/serviceAccounts/{email}:getIamPolicy", body={}
        )

    def backend_service(self, project: str, name: str) -> dict[str, Any]:
        return self.call("compute", f"compute/v1/projects/{project}/global/backendServices/{name}")


def _error(api: str, exc: urllib.error.HTTPError) -> ApiError:
    try:
        error = json.loads(exc.read())["error"]
        reason = str((error.get("errors") or [{}])[0].get("reason") or error.get("status", ""))
        return ApiError(api, exc.code, reason, " ".join(str(error.get("message", "")).split()))
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        return ApiError(api, exc.code, "", str(exc.reason))


def members_with(policy: dict[str, Any], roles: set[str]) -> set[str]:
    """The members an IAM policy grants any of `roles`, unconditionally."""
    return {
        member
        for binding in policy.get("bindings", [])
        if binding.get("role") in roles and not binding.get("condition")
        for member in binding.get("members", [])
    }


# Bounded waits: name resolution and credential discovery have no timeout of their own.


def within(seconds: float, work: Callable[[], T], what: str) -> T:
    """`work()`, or a TimeoutError after `seconds` (the work goes on in a daemon thread)."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = work()
        except BaseException as exc:  # handed to the caller
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True, name=f"kfp-gcp {what}")
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise TimeoutError(f"{what}: no answer within {seconds:.0f}s")
    if "error" in box:
        raise box["error"]
    value: T = box["value"]
    return value


def probe_network(host: str = "oauth2.googleapis.com", timeout_s: float = 3) -> str | None:
    """None when a TCP connection to `host`:443 opens (to the HTTPS proxy instead, when
    HTTPS_PROXY names one, as urllib would go), else what went wrong."""
    import os

    proxy = os.environ.get("HTTPS_PROXY") or os.environ.get("https_proxy")
    target, port = host, 443
    if proxy:
        parsed = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        target, port = parsed.hostname or host, parsed.port or 3128

    def connect() -> None:
        with socket.create_connection((target, port), timeout=timeout_s):
            pass

    try:
        within(timeout_s + 1, connect, f"connect to {target}")
    except Exception as exc:  # whatever stops the connection means no usable network
        return (
            f"cannot connect to {target}:{port}"
            + (" (HTTPS_PROXY)" if proxy else "")
            + (f" ({exc})")
        )
    return None


class Credentials:
    """Application Default Credentials found once, with the account they act as."""

    def __init__(self, token: str, account: str, quota_project: str | None) -> None:
        self.token = token
        self.account = account  # "" when the credentials do not say (user credentials)
        self.quota_project = quota_project


class AdcToken:
    """A token provider over Application Default Credentials: found within a deadline on
    first use, refreshed only when expired (a long `up` outlives one token)."""

    def __init__(self, timeout_s: float = 10) -> None:
        self.timeout_s = timeout_s
        self._found: Any = None

    def identify(self) -> Credentials:
        """The credentials and their account; PrerequisiteError names the login that fixes
        missing or expired ones."""

        def discover() -> Credentials:
            import google.auth
            import google.auth.exceptions
            from google.auth.transport.requests import Request

            try:
                found, _ = google.auth.default(
                    scopes=["https://www.googleapis.com/auth/cloud-platform"]
                )
                found.refresh(Request())  # type: ignore[no-untyped-call]
            except google.auth.exceptions.GoogleAuthError as exc:
                raise PrerequisiteError(
                    "no usable Application Default Credentials: "
                    + " ".join(str(exc).split())[:300],
                    hint="run `gcloud auth application-default login` (CI: "
                    "google-github-actions/auth)",
                ) from None
            self._found = found
            account = str(getattr(found, "service_account_email", "") or "")
            return Credentials(
                str(found.token), account, getattr(found, "quota_project_id", None) or None
            )

        try:
            return within(self.timeout_s, discover, "Application Default Credentials")
        except TimeoutError:
            raise PrerequisiteError(
                f"Application Default Credentials gave no token within {self.timeout_s:.0f}s",
                hint="check the network, then `gcloud auth application-default login`",
            ) from None

    def __call__(self) -> str:
        if self._found is None or not self._found.valid:
            return self.identify().token
        return str(self._found.token)

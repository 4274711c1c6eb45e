"""The one seam to the Cloud SQL Admin API (sqladmin v1) for backups, restores and
point-in-time clones: a small client over urllib, with a token from Application Default
Credentials (the same path as Secret Manager's, kfp_gcp.services.cluster.access).

Methods and shapes, from the API reference and its discovery document
(googleapis/google-api-go-client: sqladmin/v1/sqladmin-api.json):
- backupRuns.insert   POST v1/projects/P/instances/I/backupRuns {description} -> Operation
  (cloud.google.com/sql/docs/mysql/admin-api/rest/v1/backupRuns/insert)
- backupRuns.list     GET  v1/projects/P/instances/I/backupRuns?maxResults&pageToken
  -> {kind: sql#backupRunsList, items: [BackupRun], nextPageToken}, newest first (.../list)
- backupRuns.get      GET  v1/projects/P/instances/I/backupRuns/ID -> BackupRun (.../get)
- backupRuns.delete   DELETE v1/projects/P/instances/I/backupRuns/ID -> Operation (.../delete)
- instances.get       GET  v1/projects/P/instances/I -> DatabaseInstance (.../instances/get)
- instances.restoreBackup POST v1/projects/P/instances/I/restoreBackup
  {restoreBackupContext: {kind: sql#restoreBackupContext, backupRunId, instanceId, project}}
  -> Operation; instanceId/project name the instance the backup was taken from
  (.../instances/restoreBackup)
- instances.clone     POST v1/projects/P/instances/I/clone
  {cloneContext: {kind: sql#cloneContext, destinationInstanceName, pointInTime}} -> Operation
  (.../instances/clone)
- operations.get      GET  v1/projects/P/operations/NAME -> Operation {name, status
  PENDING|RUNNING|DONE, operationType, error: {errors: [{code, message}]},
  backupContext: {backupId}} (.../operations/get)

Faults: errors are Google's JSON ({"error": {"code", "message", "errors": [{"reason"}]}}).
Cloud SQL runs one administrative operation per instance at a time and refuses another
with 409 operationInProgress before creating anything, so that (and 429) is retried for
every call; other 5xx are retried only for reads, since a retried POST could start a
second restore. A stopped instance answers 400 "Invalid request since instance is not
running".
"""

from __future__ import annotations

import dataclasses
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

from kfp_gcp.errors import ConfigError, RunError

SQLADMIN = "https://sqladmin.googleapis.com"
TokenProvider = Callable[[], str]


@dataclasses.dataclass(frozen=True)
class Operation:
    name: str
    status: str  # PENDING | RUNNING | DONE
    operation_type: str  # BACKUP_VOLUME | RESTORE_VOLUME | CLONE | ...
    target: str
    errors: tuple[str, ...]
    backup_id: str | None  # backupContext.backupId of a backup operation

    @classmethod
    def of(cls, body: dict[str, Any]) -> Operation:
        errors = (body.get("error") or {}).get("errors") or []
        return cls(
            name=str(body.get("name", "")),
            status=str(body.get("status", "")),
            operation_type=str(body.get("operationType", "")),
            target=str(body.get("targetId", "")),
            errors=tuple(f"{e.get('code', '?')}: {e.get('message', '')}" for e in errors),
            backup_id=(body.get("backupContext") or {}).get("backupId"),
        )


@dataclasses.dataclass(frozen=True)
class BackupRun:
    id: str
    status: str  # SUCCESSFUL | RUNNING | ENQUEUED | FAILED | ...
    type: str  # AUTOMATED | ON_DEMAND
    description: str
    enqueued: str
    started: str
    ended: str
    location: str
    error: str

    @classmethod
    def of(cls, body: dict[str, Any]) -> BackupRun:
        error = body.get("error") or {}
        return cls(
            id=str(body.get("id", "")),
            status=str(body.get("status", "")),
            type=str(body.get("type", "")),
            description=str(body.get("description", "")),
            enqueued=str(body.get("enqueuedTime", "")),
            started=str(body.get("startTime", "")),
            ended=str(body.get("endTime", "")),
            location=str(body.get("location", "")),
            error=f"{error.get('code', '')} {error.get('message', '')}".strip(),
        )


class SqlAdmin:
    def __init__(
        self,
        token: TokenProvider | None = None,
        base_url: str | None = None,
        attempts: int = 5,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.token = token or _adc_token
        self.base_url = (base_url or SQLADMIN).rstrip("/")
        self.attempts = attempts
        self.sleep = sleep or time.sleep
        self.clock = clock or time.monotonic

    # Reads.

    def instance(self, project: str, instance: str) -> dict[str, Any]:
        return self._call("GET", f"projects/{project}/instances/{instance}", what=instance)

    def backups(self, project: str, instance: str, limit: int | None = None) -> list[BackupRun]:
        """Backup runs, newest first (the API's order), following nextPageToken."""
        found: list[BackupRun] = []
        token = ""
        while True:
            query = {"maxResults": str(min(limit, 500)) if limit else "500"}
            if token:
                query["pageToken"] = token
            body = self._call(
                "GET", f"projects/{project}/instances/{instance}/backupRuns", query, what=instance
            )
            found += [BackupRun.of(item) for item in body.get("items", [])]
            token = str(body.get("nextPageToken") or "")
            if not token or (limit and len(found) >= limit):
                return found[:limit] if limit else found

    def backup(self, project: str, instance: str, backup_id: str) -> BackupRun:
        path = f"projects/{project}/instances/{instance}/backupRuns/{backup_id}"
        return BackupRun.of(self._call("GET", path, what=f"backup {backup_id} of {instance}"))

    def operation(self, project: str, name: str) -> Operation:
        path = f"projects/{project}/operations/{name}"
        return Operation.of(self._call("GET", path, what=f"operation {name}"))

    # Writes: each starts one operation.

    def insert_backup(self, project: str, instance: str, description: str) -> Operation:
        body = {"description": description}
        path = f"projects/{project}/instances/{instance}/backupRuns"
        return Operation.of(self._call("POST", path, body=body, what=instance))

    def delete_backup(self, project: str, instance: str, backup_id: str) -> Operation:
        """backupRuns.delete (DELETE v1/projects/P/instances/I/backupRuns/ID -> Operation)."""
        path = f"projects/{project}/instances/{instance}/backupRuns/{backup_id}"
        return Operation.of(self._call("DELETE", path, what=f"backup {backup_id} of {instance}"))

    def restore_backup(
        self, project: str, instance: str, backup_id: str, source_instance: str | None = None
    ) -> Operation:
        body = {
            "restoreBackupContext": {
                "kind": "sql#restoreBackupContext",
                "backupRunId": backup_id,
                "instanceId": source_instance or instance,
                "project": project,
            }
        }
        path = f"projects/{project}/instances/{instance}/restoreBackup"
        return Operation.of(self._call("POST", path, body=body, what=instance))

    def clone(self, project: str, instance: str, destination: str, point_in_time: str) -> Operation:
        body = {
            "cloneContext": {
                "kind": "sql#cloneContext",
                "destinationInstanceName": destination,
                "pointInTime": point_in_time,
            }
        }
        path = f"projects/{project}/instances/{instance}/clone"
        return Operation.of(self._call("POST", path, body=body, what=instance))

    def wait(
        self,
        project: str,
        operation: Operation,
        progress: Callable[[Operation, float], None],
        timeout_s: float,
        poll_s: float = 10,
    ) -> Operation:
        """Poll operations.get until DONE; a DONE operation with errors is a RunError."""
        start = self.clock()
        while True:
            elapsed = self.clock() - start
            progress(operation, elapsed)
            if operation.status == "DONE":
                if operation.errors:
                    raise RunError(
                        f"Cloud SQL {operation.operation_type} {operation.name} failed: "
                        + "; ".join(operation.errors),
                        hint="read the operation in the console (Cloud SQL > the instance > "
                        f"Operations) or: gcloud sql operations describe {operation.name} "
                        f"--project={project}",
                    )
                return operation
            if elapsed >= timeout_s:
                raise RunError(
                    f"Cloud SQL {operation.operation_type} {operation.name} is still "
                    f"{operation.status} after {timeout_s:.0f}s; it goes on at Google",
                    hint=f"gcloud sql operations wait {operation.name} --project={project} "
                    "--timeout=unlimited, then finish the steps by hand (docs/operations.md)",
                )
            self.sleep(poll_s)
            operation = self.operation(project, operation.name)

    # The HTTP seam.

    def _call(
        self,
        method: str,
        path: str,
        query: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
        what: str = "",
    ) -> dict[str, Any]:
        url = f"{self.base_url}/v1/{path}"
        if query:
            url += "?" + urllib.parse.urlencode(query)
        data = None if body is None else json.dumps(body).encode()
        for attempt in range(self.attempts):
            last = attempt == self.attempts - 1
            request = urllib.request.Request(  # noqa: S310 (https, or a test server)
                url,
                data=data,
                method=method,
                headers={
                    "Authorization": f"Bearer {self.token()}",
                    "Content-Type": "application/json",
                },
            )
            try:
                with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
                    answer: dict[str, Any] = json.loads(response.read() or b"{}")
                    return answer
            except urllib.error.HTTPError as exc:
                code, reason, message = _error(exc)
                retry = code in (409, 429) and reason != "alreadyExists"
                if method == "GET" and code in (500, 502, 503, 504):
                    retry = True
                if not retry or last:
                    raise _mapped(code, reason, message, what, method) from None
            except urllib.error.URLError as exc:
                if method != "GET" or last:
                    raise RunError(
                        f"cannot reach the Cloud SQL Admin API: {exc.reason}",
                        hint="check the network; a POST is not repeated, so look at the "
                        "instance's operations before you run the command again",
                    ) from None
            self.sleep(min(2**attempt, 30))
        raise AssertionError("unreachable")


def _error(exc: urllib.error.HTTPError) -> tuple[int, str, str]:
    try:
        error = json.loads(exc.read())["error"]
        reason = str((error.get("errors") or [{}])[0].get("reason") or error.get("status", ""))
        return exc.code, reason, str(error.get("message", ""))
    except (ValueError, KeyError, IndexError, TypeError):
        return exc.code, "", ""


def _mapped(code: int, reason: str, message: str, what: str, method: str) -> Exception:
    said = f"{message} ({code} {reason})".strip() if message else f"HTTP {code} {reason}".strip()
    if code == 403 and reason == "accessNotConfigured":
        return ConfigError(
            f"the Cloud SQL Admin API is not enabled: {said}",
            hint="enable sqladmin.googleapis.com (terraform/bootstrap does)",
        )
    if code in (401, 403):
        return ConfigError(
            f"not allowed on {what}: {said}",
            hint="backups, restores and clones need roles/cloudsql.admin on the project; "
            "listing needs roles/cloudsql.viewer (gcloud auth application-default login "
            "with an identity that has them)",
        )
    if code == 404:
        return ConfigError(
            f"Cloud SQL does not know {what}: {said}",
            hint="check the environment's outputs contract (kfp-gcp infra outputs) and "
            "the backup id (kfp-gcp db backups)",
        )
    if code == 409 and reason == "operationInProgress":
        return RunError(
            f"another operation is still running on {what}: {said}",
            hint=f"wait for it (gcloud sql operations list --instance={what.split()[-1]} "
            "--filter=status!=DONE), then run the command again",
        )
    if code in (400, 409, 412):
        return ConfigError(f"Cloud SQL refused the request for {what}: {said}", hint=_hint(said))
    return RunError(
        f"Cloud SQL Admin API answered {code} on {method} for {what}: {said}",
        hint="try again later" if code >= 500 else "see the message",
    )


def _hint(said: str) -> str:
    if "not running" in said:
        return "the instance is stopped: resume the environment first (kfp-gcp infra resume)"
    return "read the message: the request or the instance's state is not what it expects"


def _adc_token() -> str:
    from kfp_gcp.services.cluster.access import adc_token

    return adc_token()

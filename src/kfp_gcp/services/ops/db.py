"""Day-2 operations on KFP's database: on-demand backups, the list of backups, restoring a
backup with KFP's database clients stopped, and point-in-time recovery into a new
instance (docs/operations.md has the runbook, RPO and RTO, and the rehearsal).

They live in services/ops rather than infra or cluster because each acts on a running
environment on a person's behalf through two seams at once: the Cloud SQL Admin API
(sqladmin.SqlAdmin) and the cluster (cluster.access.Kubectl, credentials for exactly the
contract's cluster). Neither Terraform's desired state nor the manifests change.
"""

from __future__ import annotations

import dataclasses
import datetime
import re
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from kfp_gcp.errors import ConfigError, RunError
from kfp_gcp.services.infra.terraform import PlatformOutputs
from kfp_gcp.services.ops.sqladmin import BackupRun, Operation, SqlAdmin

# The Deployments that hold connections to the database: the API server (pipelinedb), the
# cache server (cachedb) and ML Metadata (metadb) (their DB settings in upstream's
# manifests/kustomize/base/installs/generic/pipeline-install-config.yaml and
# base/metadata/base/metadata-grpc-deployment.yaml, at 2.14.4 and 2.17.0). They are
# stopped while a backup is restored, so nothing writes during or right after it.
DATABASE_CLIENTS = ("ml-pipeline", "cache-server", "metadata-grpc-deployment")
_INSTANCE_NAME = re.compile(r"[a-z]([-a-z0-9]{0,96}[a-z0-9])?")

Progress = Callable[[Operation, float], None]
Step = Callable[[str], None]


@dataclasses.dataclass(frozen=True)
class Target:
    project: str
    region: str
    instance: str

    @classmethod
    def of(cls, outputs: PlatformOutputs) -> Target:
        parts = outputs.cloudsql_connection_name.split(":")
        if len(parts) != 3 or not all(parts):
            raise ConfigError(
                f"the outputs contract's cloudsql_connection_name "
                f"{outputs.cloudsql_connection_name!r} is not PROJECT:REGION:INSTANCE",
                hint="check `kfp-gcp infra outputs --env ENV`",
            )
        return cls(*parts)


def require_running(sql: SqlAdmin, target: Target, env: str) -> dict[str, Any]:
    """The instance, if it runs; a stopped (paused) one cannot be backed up or restored."""
    instance = sql.instance(target.project, target.instance)
    policy = (instance.get("settings") or {}).get("activationPolicy")
    if policy == "NEVER":
        raise ConfigError(
            f"{target.instance} is stopped: {env} is paused",
            hint=f"resume it first (kfp-gcp infra resume --env {env}); a stopped instance "
            "takes no backup and cannot be restored",
        )
    if instance.get("state") not in (None, "RUNNABLE"):
        raise RunError(
            f"{target.instance} is {instance.get('state')}, not RUNNABLE",
            hint="wait until Cloud SQL shows it runnable (maintenance, creation or a failure)",
        )
    return instance


def backup(
    outputs: PlatformOutputs,
    sql: SqlAdmin,
    description: str,
    progress: Progress,
    timeout_s: float = 1800,
) -> BackupRun:
    """An on-demand backup, waited for; returns its backup run."""
    target = Target.of(outputs)
    require_running(sql, target, outputs.environment)
    operation = sql.insert_backup(target.project, target.instance, description)
    done = sql.wait(target.project, operation, progress, timeout_s)
    if not done.backup_id:
        raise RunError(
            f"backup operation {done.name} finished without a backup id",
            hint=f"`kfp-gcp db backups --env {outputs.environment}` lists the backups",
        )
    run = sql.backup(target.project, target.instance, done.backup_id)
    if run.status != "SUCCESSFUL":
        raise RunError(
            f"backup {run.id} of {target.instance} is {run.status}: {run.error}",
            hint="see Cloud SQL > the instance > Backups",
        )
    return run


def backups(outputs: PlatformOutputs, sql: SqlAdmin, limit: int | None = None) -> list[BackupRun]:
    target = Target.of(outputs)
    return sql.backups(target.project, target.instance, limit)


@dataclasses.dataclass
class RestoreReport:
    environment: str
    instance: str
    backup_id: str
    backup_taken: str
    operation: str
    stopped: dict[str, int]  # Deployment -> the replicas it had, and has again
    seconds: float


ClusterSession = Callable[[PlatformOutputs], AbstractContextManager[Any]]


def _replicas(kubectl: Any, namespace: str) -> dict[str, int]:
    found = {d["metadata"]["name"]: d for d in kubectl.deployments(namespace)}
    missing = [n for n in DATABASE_CLIENTS if n not in found]
    if missing:
        raise RunError(
            f"the cluster has no Deployment {', '.join(missing)} in {namespace}",
            hint="is KFP deployed here? kfp-gcp manifests apply --env ENV",
        )
    return {n: int(found[n].get("spec", {}).get("replicas", 1)) for n in DATABASE_CLIENTS}


def _wait_stopped(
    kubectl: Any,
    namespace: str,
    timeout_s: float,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
) -> None:
    deadline = clock() + timeout_s
    while True:
        running = {
            d["metadata"]["name"]: d.get("status", {}).get("replicas", 0)
            for d in kubectl.deployments(namespace)
            if d["metadata"]["name"] in DATABASE_CLIENTS
        }
        left = sorted(n for n, count in running.items() if count)
        if not left:
            return
        if clock() >= deadline:
            raise RunError(
                f"{', '.join(left)} still had pods after {timeout_s:.0f}s at zero replicas",
                hint=f"kubectl -n {namespace} get pods; nothing was restored",
            )
        sleep(5)


def restore(
    outputs: PlatformOutputs,
    sql: SqlAdmin,
    backup_id: str,
    progress: Progress,
    step: Step,
    session: ClusterSession | None = None,
    timeout_s: float = 3600,
    sleep: Callable[[float], None] | None = None,
    clock: Callable[[], float] | None = None,
    from_instance: str | None = None,
) -> RestoreReport:
    """Restore a backup onto the environment's instance: stop KFP's database clients
    (API server, cache server, ML Metadata) through the cluster, restore, start them again
    and wait until they are available. Everything written since the backup is lost.
    `from_instance` names another instance of the project whose backup it is (a
    point-in-time clone's, docs/operations.md)."""
    import time

    from kfp_gcp.services.cluster.access import Kubectl, cluster_credentials, wait_for_deployments

    sleep = sleep or time.sleep
    clock = clock or time.monotonic
    session = session or cluster_credentials
    target = Target.of(outputs)
    namespace = outputs.kfp_namespace
    require_running(sql, target, outputs.environment)
    source = from_instance or target.instance
    run = sql.backup(target.project, source, backup_id)
    if run.status != "SUCCESSFUL":
        raise ConfigError(
            f"backup {backup_id} of {source} is {run.status}, not SUCCESSFUL",
            hint=f"choose a successful one: kfp-gcp db backups --env {outputs.environment}",
        )
    start = clock()
    with session(outputs) as env:
        kubectl = Kubectl(env)
        replicas = _replicas(kubectl, namespace)
        names = list(DATABASE_CLIENTS)
        step(f"stopping {', '.join(names)} (replicas to 0)")
        kubectl.scale(namespace, names, 0)
        _wait_stopped(kubectl, namespace, 600, sleep, clock)
        step(
            f"restoring backup {backup_id} of {source} ({run.ended or run.enqueued}) onto "
            f"{target.instance}"
        )
        try:
            operation = sql.restore_backup(target.project, target.instance, backup_id, source)
            done = sql.wait(target.project, operation, progress, timeout_s)
        except RunError as exc:
            if "still" in exc.message:  # timed out: the restore goes on; leave KFP stopped
                exc.hint = (
                    (exc.hint or "")
                    + "; then start KFP again: "
                    + " && ".join(
                        f"kubectl -n {namespace} scale deployment/{n} --replicas={replicas[n]}"
                        for n in names
                    )
                )
                raise
            step("the restore failed: starting KFP again on the unchanged database")
            kubectl.scale(namespace, names, replicas)
            raise
        except ConfigError:
            step("Cloud SQL refused the restore: starting KFP again")
            kubectl.scale(namespace, names, replicas)
            raise
        step(f"starting {', '.join(names)} again")
        kubectl.scale(namespace, names, replicas)
        wait_for_deployments(
            kubectl, namespace, set(names), 900, lambda *_: None, sleep=sleep, clock=clock
        )
    return RestoreReport(
        environment=outputs.environment,
        instance=target.instance,
        backup_id=backup_id,
        backup_taken=run.ended or run.enqueued,
        operation=done.name,
        stopped=replicas,
        seconds=round(clock() - start, 1),
    )


def parse_point_in_time(text: str, now: datetime.datetime) -> datetime.datetime:
    """An RFC 3339 time with a zone (Z or +hh:mm), in the past."""
    try:
        moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise ConfigError(
            f"--point-in-time {text!r} is not an RFC 3339 time with a zone",
            hint="e.g. 2026-11-30T09:15:00Z (UTC)",
        )
    if moment >= now:
        raise ConfigError(
            f"--point-in-time {text} is not in the past", hint="give a time before now (UTC)"
        )
    return moment.astimezone(datetime.UTC)


@dataclasses.dataclass
class CloneReport:
    environment: str
    source: str
    clone: str
    point_in_time: str
    operation: str
    seconds: float


def clone(
    outputs: PlatformOutputs,
    sql: SqlAdmin,
    point_in_time: datetime.datetime,
    progress: Progress,
    name: str | None = None,
    timeout_s: float = 5400,
    now: datetime.datetime | None = None,
    clock: Callable[[], float] | None = None,
) -> CloneReport:
    """Point-in-time recovery: a new instance with the source's data as of the time, from
    its backups and binary logs (instances.clone with pointInTime). The environment keeps
    its instance; docs/operations.md says how to switch it to the clone or restore from
    it."""
    import time

    clock = clock or time.monotonic
    target = Target.of(outputs)
    instance = require_running(sql, target, outputs.environment)
    moment = now or datetime.datetime.now(datetime.UTC)
    backups_config = (instance.get("settings") or {}).get("backupConfiguration") or {}
    if not backups_config.get("binaryLogEnabled"):
        raise ConfigError(
            f"{target.instance} has no binary logs: point-in-time recovery is off",
            hint="the cloudsql module turns them on; apply the environment",
        )
    days = int(backups_config.get("transactionLogRetentionDays") or 7)
    if point_in_time < moment - datetime.timedelta(days=days):
        raise ConfigError(
            f"{point_in_time:%Y-%m-%dT%H:%M:%SZ} is older than the {days} days of binary logs "
            f"{target.instance} keeps",
            hint=f"restore a backup instead (kfp-gcp db backups --env {outputs.environment}), "
            "or keep more days (cloudsql.backup.transaction_log_retention_days)",
        )
    destination = name or f"{target.instance}-pitr-{point_in_time:%Y%m%d%H%M}"
    if not _INSTANCE_NAME.fullmatch(destination):
        raise ConfigError(
            f"--name {destination!r} is not a Cloud SQL instance name",
            hint="lower-case letters, digits and hyphens, starting with a letter, at most 98",
        )
    start = clock()
    stamp = f"{point_in_time:%Y-%m-%dT%H:%M:%S}.000Z"
    operation = sql.clone(target.project, target.instance, destination, stamp)
    done = sql.wait(target.project, operation, progress, timeout_s, poll_s=30)
    return CloneReport(
        environment=outputs.environment,
        source=target.instance,
        clone=destination,
        point_in_time=stamp,
        operation=done.name,
        seconds=round(clock() - start, 1),
    )

"""`kfp-gcp down`: remove an environment, in the order that loses nothing by accident.

1. a final on-demand backup of the database (ops.db), unless told not to;
2. the recurring runs deploy manages are disabled (kfp.schedules), so no run starts while
   the rest goes;
3. KFP leaves the cluster: the Ingress first, waited for, so that GKE's Ingress controller
   removes the load balancer, its backends and NEGs (left behind, they keep the network
   and the static IP from being deleted), then the namespace;
4. the infrastructure is destroyed through Terraform: a plan with the three deletion
   protections lifted (cluster, Cloud SQL, the IAP secrets) from a settings copy under
   build/down/ (the committed file keeps them on, for the next `up`), applied; then
   `plan -destroy`, the destroy guard with exactly the database, the cluster and the
   throwaway build bucket allowed, and apply. When the network cannot go because Cloud
   SQL's side of the private services peering is still there (terraform/README.md,
   "Tearing an environment down"), the peering is deleted and the destroy planned again.

Data is kept unless `delete_data`: the artifact bucket leaves Terraform's state (`state
rm`) and stays, and Cloud SQL keeps the instance's backups after it is deleted
(`retain_backups_on_delete`, on in modules/cloudsql). With `delete_data` the bucket is
emptied and destroyed and the instance's backups are deleted first; no final backup then.

Each step is safe to run again: a second `down` after a failure skips what is gone.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kfp_gcp.errors import ConfigError, DestroyBlocked, KfpGcpError, ToolError
from kfp_gcp.services.infra import terraform
from kfp_gcp.services.infra.terraform import PlatformOutputs
from kfp_gcp.services.kfp.api import RetryPolicy
from kfp_gcp.services.ops.live import Live
from kfp_gcp.services.project import Project, relative

# Addresses in the environment root (terraform/environments/<env>/main.tf calls module
# "platform"; modules/platform calls "storage" and "registry"). A test reads them there.
ARTIFACT_BUCKET = "module.platform.module.storage.google_storage_bucket.bucket"
BUILD_BUCKET = "module.platform.module.registry.google_storage_bucket.builds"
PROTECTIONS = (("cluster",), ("cloudsql",), ("ingress",))
PEERING = "servicenetworking-googleapis-com"


@dataclasses.dataclass
class DownReport:
    environment: str
    backup: str  # the final backup's id, "" without one
    schedules_disabled: int
    manifests: str
    destroyed: int
    kept: list[str]
    deleted_backups: list[str]
    notes: list[str]


Step = Callable[[str], None]


def protections_off(project: Project, env: str) -> Path:
    """A copy of the environment's settings with the deletion protections lifted, under
    build/down/, for -var-file (the committed file is not touched)."""
    source = terraform.environment_dir(project, env) / terraform.SETTINGS_FILE
    data = json.loads(source.read_text(encoding="utf-8"))
    settings = data["settings"]
    for (section,) in PROTECTIONS:
        settings.setdefault(section, {})["deletion_protection"] = False
    path = project.build_dir / "down" / f"{env}.tfvars.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return path


def down(
    project: Project,
    env: str,
    live: Live,
    step: Step,
    sink: terraform.LineSink,
    confirmation: str,
    backup: bool = True,
    delete_data: bool = False,
    outputs_file: Path | None = None,
    timeout_s: float = 900,
) -> DownReport:
    if confirmation.strip() != env:
        raise ConfigError(
            f"confirmation {confirmation.strip()!r} is not the environment's name {env!r}: "
            "nothing was changed",
            hint=f"type {env} exactly (or pass --confirm {env})",
        )
    if delete_data and backup:
        raise ConfigError(
            "--delete-data deletes the database's backups, a final one too",
            hint="pass --no-backup with --delete-data, or keep the data (leave out --delete-data)",
        )
    report = DownReport(env, "", 0, "", 0, [], [], [])
    contract = _contract(project, env, outputs_file, step)

    if backup:
        report.backup = _final_backup(contract, live, step, report.notes)
    elif delete_data:
        report.deleted_backups = _delete_backups(contract, live, step)

    report.schedules_disabled = _disable_schedules(contract, live, step, report.notes)
    report.manifests = _remove_kfp(contract, live, step, timeout_s)

    step("lifting the deletion protections (cluster, Cloud SQL, IAP secrets) for the destroy")
    var_file = protections_off(project, env)
    code, plan_file, json_file = terraform.plan(
        project, env, sink, detailed_exitcode=True, var_file=var_file
    )
    if code == 2:
        blocked = terraform.destructive_changes(terraform.load_plan_json(json_file))
        if blocked:
            raise DestroyBlocked(
                "lifting the protections would also "
                + ", ".join(f"{c['action']} {c['address']}" for c in blocked),
                hint=f"the environment has unapplied changes: apply them first (kfp-gcp infra "
                f"plan --env {env}), then run down again",
            )
        terraform.apply(project, env, plan_file, sink)

    if delete_data:
        step(f"emptying gs://{contract.artifact_bucket} (soft-deleted objects stay restorable)")
        _empty_bucket(live, contract.artifact_bucket)
    elif ARTIFACT_BUCKET in terraform.state_list(project, env, sink):
        step(f"keeping gs://{contract.artifact_bucket}: Terraform forgets it (state rm)")
        terraform.state_forget(project, env, ARTIFACT_BUCKET, sink)
    if not delete_data:
        report.kept.append(
            f"gs://{contract.artifact_bucket} (artifacts; to use it again: terraform import "
            f"{ARTIFACT_BUCKET} {contract.artifact_bucket} in terraform/environments/{env})"
        )
        report.kept.append(
            f"the backups of {contract.cloudsql_connection_name.split(':')[-1]} (Cloud SQL "
            "keeps them after the instance is deleted, until they expire)"
        )

    report.destroyed = _destroy(project, env, contract, live, step, sink, var_file, delete_data)
    return report


def _contract(project: Project, env: str, outputs_file: Path | None, step: Step) -> PlatformOutputs:
    """The contract, kept under build/down/: a down resumed after a destroy began may no
    longer get it from `terraform output`."""
    saved = project.build_dir / "down" / f"{env}-outputs.json"
    try:
        contract = terraform.contract(project, env, outputs_file)
    except KfpGcpError:
        if outputs_file is not None or not saved.is_file():
            raise
        step(f"no outputs from Terraform (a destroy began): using {relative(project, saved)}")
        return terraform.parse_outputs(saved.read_text(encoding="utf-8"), str(saved))
    saved.parent.mkdir(parents=True, exist_ok=True)
    saved.write_text(json.dumps(contract.model_dump(), indent=2) + "\n", encoding="utf-8")
    return contract


def _final_backup(contract: PlatformOutputs, live: Live, step: Step, notes: list[str]) -> str:
    from kfp_gcp.services.ops import db

    if contract.paused:
        raise ConfigError(
            f"{contract.environment} is paused: its stopped database takes no backup",
            hint=f"resume it first (kfp-gcp infra resume --env {contract.environment}), or "
            "pass --no-backup to go without a final backup",
        )
    step("final backup of the database")
    target = db.Target.of(contract)
    try:
        live.sql.instance(target.project, target.instance)
    except ConfigError as exc:
        if "does not know" not in exc.message:
            raise
        notes.append(f"no final backup: {target.instance} is already gone (a destroy began)")
        return ""
    taken = db.backup(
        contract,
        live.sql,
        f"kfp-gcp down: final backup of {contract.environment}",
        lambda op, elapsed: step(f"backup {op.status.lower()} ({elapsed:.0f}s)"),
    )
    step(f"backup {taken.id} taken (kept after the instance is deleted)")
    return taken.id


def _delete_backups(contract: PlatformOutputs, live: Live, step: Step) -> list[str]:
    from kfp_gcp.services.ops import db

    target = db.Target.of(contract)
    try:
        found = db.backups(contract, live.sql)
    except ConfigError as exc:
        if "does not know" in exc.message:  # the instance is already gone
            return []
        raise
    deleted = []
    for run in found:
        step(f"deleting backup {run.id} ({run.type.lower()}, {run.ended or run.enqueued})")
        operation = live.sql.delete_backup(target.project, target.instance, run.id)
        live.sql.wait(target.project, operation, lambda *_: None, timeout_s=600)
        deleted.append(run.id)
    return deleted


def _disable_schedules(contract: PlatformOutputs, live: Live, step: Step, notes: list[str]) -> int:
    from kfp_gcp.services.kfp import schedules

    if contract.paused:
        notes.append("paused: no recurring run starts, schedules left as they are")
        return 0
    step("disabling the recurring runs deploy manages")
    policy = RetryPolicy(deadline_s=120, probe_deadline_s=15)
    try:
        with live.session(contract) as kubectl, live.kfp(contract, kubectl, policy) as api:
            api.probe()
            managed = api.recurring_runs("description", schedules.MANAGED)
            disabled = schedules.disable_orphans(api, [], managed)
    except KfpGcpError as exc:
        # A KFP that does not answer starts no runs either: the teardown goes on.
        notes.append(f"schedules not disabled, KFP did not answer: {exc.message}")
        return 0
    return len(disabled)


def _remove_kfp(contract: PlatformOutputs, live: Live, step: Step, timeout_s: float) -> str:
    namespace = contract.kfp_namespace
    wait = [f"--timeout={int(timeout_s)}s", "--wait=true", "--ignore-not-found"]
    with live.session(contract) as kubectl:
        step(f"deleting the Ingress of {namespace} and waiting for its load balancer to go")
        kubectl.run(["delete", "ingress", "--all", "-n", namespace, *wait])
        step(f"deleting namespace {namespace} and everything in it")
        kubectl.run(["delete", "namespace", namespace, *wait])
    return f"namespace {namespace} deleted (the load balancer with its Ingress)"


def _empty_bucket(live: Live, bucket: str) -> None:
    try:
        live.gcloud(["storage", "rm", "--recursive", f"gs://{bucket}/**"])
    except ToolError as exc:
        if "matched no objects" not in exc.message and "No URLs matched" not in exc.message:
            raise


def _destroy(
    project: Project,
    env: str,
    contract: PlatformOutputs,
    live: Live,
    step: Step,
    sink: terraform.LineSink,
    var_file: Path,
    delete_data: bool,
) -> int:
    allowed_types = {"google_container_cluster", "google_sql_database_instance"}
    for attempt in (1, 2):
        step("planning the destroy" + (" again" if attempt == 2 else ""))
        code, plan_file, json_file = terraform.plan(
            project, env, sink, destroy=True, detailed_exitcode=True, var_file=var_file
        )
        plan = terraform.load_plan_json(json_file)
        if code == 0:
            return 0
        blocked = [
            c
            for c in terraform.destructive_changes(plan)
            if not _allowed(c, plan, allowed_types, delete_data)
        ]
        if blocked:
            raise DestroyBlocked(
                "the destroy would also "
                + ", ".join(f"{c['action']} {c['address']} ({c['kind']})" for c in blocked),
                hint="down deletes the database, the cluster and the build bucket; the "
                "artifact bucket only with --delete-data. Anything else: remove it by hand "
                "(terraform/README.md, Tearing an environment down)",
            )
        deleted = sum(
            1 for c in plan.get("resource_changes", []) if "delete" in c["change"]["actions"]
        )
        step(f"destroying {deleted} resources ({relative(project, plan_file)})")
        try:
            terraform.apply(project, env, plan_file, sink)
            return deleted
        except ToolError as exc:
            if attempt == 2 or PEERING not in exc.message:
                raise
            network = f"{_settings_prefix(project, env)}-vpc"
            step(f"deleting the {PEERING} peering of {network}, which Cloud SQL still holds")
            live.gcloud(
                ["compute", "networks", "peerings", "delete", PEERING, f"--network={network}",
                 f"--project={contract.project_id}", "--quiet"]
            )  # fmt: skip
    raise AssertionError("unreachable")


def _allowed(
    change: dict[str, str], plan: dict[str, Any], types: set[str], delete_data: bool
) -> bool:
    kind = next(
        (c.get("type") for c in plan["resource_changes"] if c["address"] == change["address"]),
        "",
    )
    if kind in types or change["address"] == BUILD_BUCKET:
        return True
    return delete_data and change["address"] == ARTIFACT_BUCKET


def _settings_prefix(project: Project, env: str) -> str:
    path = terraform.environment_dir(project, env) / terraform.SETTINGS_FILE
    return str(json.loads(path.read_text(encoding="utf-8"))["settings"]["prefix"])

"""`kfp-gcp db`: KFP's Cloud SQL database: backups, restore, point-in-time recovery."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from kfp_gcp import output
from kfp_gcp.cli.common import OutputsOption, typed_confirmation
from kfp_gcp.cli.common import project as _project
from kfp_gcp.errors import ConfigError

if TYPE_CHECKING:
    from kfp_gcp.services.infra.terraform import PlatformOutputs
    from kfp_gcp.services.ops.sqladmin import Operation

app = typer.Typer(
    help="Back up, list, restore and recover KFP's Cloud SQL database (docs/operations.md).",
    no_args_is_help=True,
)

EnvOption = Annotated[
    str,
    typer.Option("--env", "-e", help="The environment: a folder under terraform/environments/."),
]
TimeoutOption = Annotated[
    int, typer.Option("--timeout", help="Seconds to wait for Cloud SQL's operation.", min=60)
]


def _contract(ctx: typer.Context, env: str, outputs_file: Path | None) -> PlatformOutputs:
    from kfp_gcp.services.infra import terraform

    return terraform.contract(_project(ctx), env, outputs_file)


class _Progress:
    """A live line while Cloud SQL works: operation, status, elapsed time."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.status = output.stderr.status(f"{what}: starting")

    def __enter__(self) -> _Progress:
        self.status.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.status.__exit__(None, None, None)

    def __call__(self, operation: Operation, elapsed: float) -> None:
        self.status.update(
            f"{self.what}: {operation.operation_type} {operation.status.lower()} "
            f"({elapsed:.0f}s, operation {operation.name})"
        )


def _step(text: str) -> None:
    output.stderr.print(f"[dim]-[/] {text}", highlight=False, soft_wrap=True)


@app.command("backup")
def backup(
    ctx: typer.Context,
    env: EnvOption,
    description: Annotated[
        str, typer.Option("--description", help="Kept with the backup (why it was taken).")
    ] = "kfp-gcp db backup",
    outputs_file: OutputsOption = None,
    timeout: TimeoutOption = 1800,
) -> None:
    """Take an on-demand backup of the environment's Cloud SQL instance and wait for it.

    Refused while the environment is paused (a stopped instance takes no backup). On-demand
    backups are kept until deleted, unlike the automated ones (settings
    cloudsql.backup.retained_backups). Needs roles/cloudsql.admin.
    """
    from kfp_gcp.services.ops import db
    from kfp_gcp.services.ops.sqladmin import SqlAdmin

    contract = _contract(ctx, env, outputs_file)
    with _Progress(f"backup of {env}") as progress:
        run = db.backup(contract, SqlAdmin(), description, progress, timeout)

    def table() -> Table:
        t = Table("Backup", "Status", "Taken", "Description", title=f"{env}: new backup")
        t.add_row(run.id, run.status, run.ended, run.description)
        return t

    output.emit(ctx.obj, run, table)
    output.stderr.print(
        f"restore it with: kfp-gcp db restore --env {env} --backup {run.id}", highlight=False
    )


@app.command("backups")
def backups(
    ctx: typer.Context,
    env: EnvOption,
    limit: Annotated[
        int, typer.Option("--limit", help="At most this many, newest first.", min=1)
    ] = 20,
    outputs_file: OutputsOption = None,
) -> None:
    """List the instance's backups, newest first: automated and on-demand.

    Needs roles/cloudsql.viewer. The id is what `db restore --backup` takes.
    """
    from kfp_gcp.services.ops import db
    from kfp_gcp.services.ops.sqladmin import SqlAdmin

    runs = db.backups(_contract(ctx, env, outputs_file), SqlAdmin(), limit)

    def table() -> Table:
        t = Table(
            "Id", "Type", "Status", "Started", "Ended", "Description", title=f"{env}: backups"
        )
        for run in runs:
            t.add_row(run.id, run.type, run.status, run.started, run.ended, run.description)
        return t

    output.emit(ctx.obj, {"environment": env, "backups": runs}, table)


@app.command("restore")
def restore(
    ctx: typer.Context,
    env: EnvOption,
    backup_id: Annotated[
        str, typer.Option("--backup", help="The backup's id (kfp-gcp db backups).")
    ],
    confirm: Annotated[
        str | None,
        typer.Option(
            "--confirm",
            help="The environment's name, typed again, to restore without the prompt (scripts).",
        ),
    ] = None,
    from_instance: Annotated[
        str | None,
        typer.Option(
            "--from-instance",
            help="The instance the backup belongs to, when it is not the environment's own "
            "(a point-in-time clone's backup, docs/operations.md).",
        ),
    ] = None,
    outputs_file: OutputsOption = None,
    timeout: TimeoutOption = 3600,
) -> None:
    """Restore a backup onto the environment's instance, replacing everything in it.

    Everything written to KFP since the backup (runs, experiments, pipeline versions,
    metadata) is lost. Asks you to type the environment's name (or pass --confirm ENV).
    Then it stops KFP's database clients (ml-pipeline, cache-server,
    metadata-grpc-deployment) through the cluster, restores, starts them again with
    the replicas they had and waits until they are available. If Cloud SQL refuses or
    the restore fails, KFP is started again on the unchanged database. Needs
    roles/cloudsql.admin and access to the cluster. Runbook: docs/operations.md.
    """
    from kfp_gcp.services.ops import db
    from kfp_gcp.services.ops.sqladmin import SqlAdmin

    if not backup_id.isdigit():
        raise ConfigError(
            f"--backup {backup_id!r} is not a backup id", hint=f"kfp-gcp db backups --env {env}"
        )
    contract = _contract(ctx, env, outputs_file)
    sql = SqlAdmin()
    target = db.Target.of(contract)
    source = from_instance or target.instance
    run = sql.backup(target.project, source, backup_id)
    question = (
        f"Restore backup {backup_id} of {source} ({run.type.lower()}, taken "
        f"{run.ended or run.enqueued}) "
        f"onto {target.instance}? Everything written to {env}'s KFP since then is lost. "
        f"Type the environment's name ({env}) to go on"
    )
    confirm = typed_confirmation(question, env, confirm, "restoring")
    if confirm.strip() != env:
        raise ConfigError(
            f"confirmation {confirm.strip()!r} is not the environment's name {env!r}: nothing "
            "was changed",
            hint=f"type {env} exactly",
        )
    with _Progress(f"restore of {env}") as progress:
        report = db.restore(
            contract,
            sql,
            backup_id,
            progress,
            _step,
            timeout_s=timeout,
            from_instance=from_instance,
        )

    def table() -> Table:
        t = Table("What", "Value", title=f"{env}: restored")
        t.add_row("instance", report.instance)
        t.add_row("backup", f"{report.backup_id} (taken {report.backup_taken})")
        t.add_row(
            "stopped and started again", ", ".join(f"{n} ({r})" for n, r in report.stopped.items())
        )
        t.add_row("took", output.seconds(report.seconds))
        return t

    output.emit(ctx.obj, report, table)


@app.command("clone")
def clone(
    ctx: typer.Context,
    env: EnvOption,
    point_in_time: Annotated[
        str,
        typer.Option(
            "--point-in-time", help="RFC 3339 time with a zone, e.g. 2026-11-30T09:15:00Z."
        ),
    ],
    name: Annotated[
        str | None,
        typer.Option("--name", help="The new instance's name (default <instance>-pitr-<time>)."),
    ] = None,
    outputs_file: OutputsOption = None,
    timeout: TimeoutOption = 5400,
) -> None:
    """Point-in-time recovery: a new instance with the database as it was at a time.

    Cloud SQL builds it from the last backup before that time and the binary logs after it
    (instances.clone), within the binary-log retention (cloudsql.backup.
    transaction_log_retention_days). The environment keeps running on its own instance;
    docs/operations.md says how to switch it to the clone, or to restore the clone's data
    into it. The clone is billed like the instance until you delete it.
    """
    import datetime

    from kfp_gcp.services.ops import db
    from kfp_gcp.services.ops.sqladmin import SqlAdmin

    contract = _contract(ctx, env, outputs_file)
    moment = db.parse_point_in_time(point_in_time, datetime.datetime.now(datetime.UTC))
    with _Progress(f"point-in-time clone of {env}") as progress:
        report = db.clone(contract, SqlAdmin(), moment, progress, name, timeout)

    def table() -> Table:
        t = Table("What", "Value", title=f"{env}: point-in-time clone")
        t.add_row("source", report.source)
        t.add_row("clone", report.clone)
        t.add_row("as of", report.point_in_time)
        t.add_row("took", output.seconds(report.seconds))
        return t

    output.emit(ctx.obj, report, table)
    output.stderr.print(
        f"next: check the clone, then either switch {env} to it or restore from it "
        '(docs/operations.md, "Point-in-time recovery"); delete it when done: '
        f"gcloud sql instances delete {report.clone} --project={contract.project_id}",
        highlight=False,
        soft_wrap=True,
    )

"""`kfp-gcp down`: remove an environment in order, keeping its data unless told otherwise."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from kfp_gcp import output
from kfp_gcp.cli.common import OutputsOption, typed_confirmation
from kfp_gcp.cli.common import project as _project


def down(
    ctx: typer.Context,
    env: Annotated[
        str,
        typer.Option(
            "--env", "-e", help="The environment: a folder under terraform/environments/."
        ),
    ],
    confirm: Annotated[
        str | None,
        typer.Option(
            "--confirm",
            help="The environment's name, typed again, to go on without the prompt (scripts).",
        ),
    ] = None,
    no_backup: Annotated[
        bool, typer.Option("--no-backup", help="Skip the final backup of the database.")
    ] = False,
    delete_data: Annotated[
        bool,
        typer.Option(
            "--delete-data",
            help="Also delete the artifact bucket (emptied first) and the database's backups. "
            "Needs --no-backup.",
        ),
    ] = False,
    outputs_file: OutputsOption = None,
    timeout: Annotated[
        int, typer.Option("--timeout", help="Seconds to wait for KFP to leave the cluster.", min=30)
    ] = 900,
) -> None:
    """Remove an environment: final backup, schedules off, KFP off the cluster, then the
    infrastructure through Terraform's destroy, behind the destroy guard.

    Asks you to type the environment's name (or --confirm ENV). In order: an on-demand
    backup of the database (unless --no-backup); the recurring runs pipelines deploy
    manages are disabled; the Ingress is deleted and waited for (GKE removes the load
    balancer), then KFP's namespace; the deletion protections are lifted in a settings
    copy under build/down/ (the committed file keeps them) and applied; then a destroy
    plan, the guard (exactly the database, the cluster and the build bucket allowed), and
    apply. Kept unless --delete-data: the artifact bucket (Terraform forgets it) and the
    database's backups (Cloud SQL keeps them after the instance). What always stays: the
    bootstrap (state bucket, CI identities) and the project's APIs. Run it again after a
    failure: what is gone is skipped.
    """
    from kfp_gcp.services.ops import down as service
    from kfp_gcp.services.ops.live import Live

    project = _project(ctx)
    kept = "deletes the artifact bucket and the backups" if delete_data else "keeps the data"
    question = (
        f"This removes environment {env}: its cluster, database and KFP ({kept}). "
        f"Type the environment's name ({env}) to go on"
    )
    confirm = typed_confirmation(question, env, confirm, "down")

    def step(text: str) -> None:
        output.stderr.print(f"[bold]==>[/] {text}", highlight=False, soft_wrap=True)

    def sink(line: str) -> None:
        output.stderr.print(line, markup=False, highlight=False, soft_wrap=True)

    report = service.down(
        project,
        env,
        Live.real(),
        step,
        sink,
        confirm,
        backup=not no_backup,
        delete_data=delete_data,
        outputs_file=outputs_file,
        timeout_s=timeout,
    )

    def table() -> Table:
        t = Table("What", "Result", title=f"{env} is down")
        t.add_row("final backup", report.backup or "none (--no-backup)")
        t.add_row("schedules disabled", str(report.schedules_disabled))
        t.add_row("KFP", report.manifests)
        t.add_row("resources destroyed", str(report.destroyed))
        for item in report.kept:
            t.add_row("kept", item)
        if report.deleted_backups:
            t.add_row("backups deleted", ", ".join(report.deleted_backups))
        for note in report.notes:
            t.add_row("note", note)
        return t

    output.emit(ctx.obj, report, table)

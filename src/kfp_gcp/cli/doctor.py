"""`kfp-gcp doctor`: what is wrong with a live environment, read-only, with what to do."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from kfp_gcp import output
from kfp_gcp.cli.common import OutputsOption
from kfp_gcp.cli.common import project as _project


def doctor(
    ctx: typer.Context,
    env: Annotated[
        str,
        typer.Option(
            "--env", "-e", help="The environment: a folder under terraform/environments/."
        ),
    ],
    outputs_file: OutputsOption = None,
    timeout: Annotated[
        int,
        typer.Option(
            "--timeout",
            help="Seconds each call may take (Google's APIs, kubectl, KFP): a check that "
            "gets no answer fails instead of waiting.",
            min=1,
        ),
    ] = 10,
) -> None:
    """Check a live environment, read-only: each check ✓, ✗ or skipped, with what it saw
    and one line of what to do. Exit code 11 when one fails.

    In order: the tools on this machine, the network, whose credentials and which
    project, the APIs, quota for every pool at its maximum, the Terraform state bucket,
    the outputs contract; the cluster through its DNS endpoint, node pools and their
    autoscaling limits, every KFP Deployment (and why not: image pull, crash loop with the
    last log lines, pending for resources), the Cloud SQL proxy and the KFP user's
    authentication plugin, Workload Identity of pipeline-runner; with a domain, the
    managed certificate, DNS and IAP with the backends' health; the KFP API (through IAP
    with an ID token, else a port-forward), the deployed KFP version against
    manifests/versions.yaml, and the pipelines against the repository (deploy's dry run).

    A check whose prerequisite did not pass is skipped and says which: without network or
    credentials the report comes in seconds. Nothing is written anywhere.
    """
    from kfp_gcp.errors import ChecksFailed
    from kfp_gcp.services.ops import doctor as service
    from kfp_gcp.services.ops.live import Live

    project = _project(ctx)
    live = Live.real(request_timeout_s=timeout)
    checker = service.Doctor(project, env, live, outputs_file)
    with output.stderr.status(f"doctor: {env}") as status:

        def seen(result: service.CheckResult) -> None:
            status.update(f"doctor: {env}: {result.mark} {result.title}")

        report = checker.run(on_result=seen)

    def table() -> Table:
        from rich.markup import escape

        t = Table("", "Check", "Evidence", title=f"kfp-gcp doctor: {env} ({report.project_id})")
        colours = {"ok": "green", "fail": "red", "skipped": "dim"}
        for check in report.checks:
            remedy = f"\n[bold]-> {escape(check.remedy)}[/]" if check.remedy else ""
            t.add_row(
                f"[{colours[check.status]}]{check.mark}[/]",
                check.title,
                escape(check.evidence) + remedy,
            )
        return t

    output.emit(ctx.obj, report, table)
    if report.failed:
        names = ", ".join(c.name for c in report.failed)
        raise ChecksFailed(
            f"{len(report.failed)} of {len(report.checks)} checks failed: {names}",
            hint="each ✗ says what it saw and what to do; run doctor again after fixing",
        )

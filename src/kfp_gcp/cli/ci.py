"""`kfp-gcp ci`: what the GitHub Actions workflows (docs/ci.md) need beyond the other
commands, so that they hold no logic of their own: comment and issue bodies, a
Terraform init for reading outputs, and the Terraform checks with the real providers."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from kfp_gcp import output
from kfp_gcp.cli.common import OutputsOption
from kfp_gcp.cli.common import project as _project
from kfp_gcp.errors import ConfigError, ToolError

if TYPE_CHECKING:
    from kfp_gcp.services.ops.ci import Body

app = typer.Typer(
    help="Helpers for the GitHub Actions workflows: PR comment bodies, Terraform checks, "
    "the deploy workflow's decisions.",
    no_args_is_help=True,
)

# Literal (not imported) so that --help imports no service; equal to ci.DEFAULT_MAX_CHARS.
MaxCharsOption = Annotated[
    int,
    typer.Option(
        "--max-chars",
        help="Longest body to write; the code block is cut to fit (GitHub's limit is 65,535).",
        min=1000,
        max=65_535,
    ),
]
OutOption = Annotated[
    Path | None,
    typer.Option("--out", help="Write the trimmed body here instead of stdout.", dir_okay=False),
]
SummaryOption = Annotated[
    Path | None,
    typer.Option(
        "--summary",
        envvar="GITHUB_STEP_SUMMARY",
        help="Append the untrimmed body to this file (on GitHub: the job summary).",
        dir_okay=False,
    ),
]


def _write(body: Body, out: Path | None, summary: Path | None) -> None:
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(body.trimmed, encoding="utf-8")
    else:
        output.stdout.print(body.trimmed, markup=False, highlight=False, soft_wrap=True)
    if summary:
        with summary.open("a", encoding="utf-8") as f:
            f.write(body.full + "\n")
    if body.cut_lines:
        output.stderr.print(f"body trimmed: {body.cut_lines} lines of the code block left out")


@app.command("plan-comment")
def plan_comment(
    ctx: typer.Context,
    env: Annotated[str, typer.Option("--env", "-e", help="The environment.")],
    plan_text: Annotated[
        Path,
        typer.Option(
            "--plan-text",
            help="What `kfp-gcp infra plan` printed (tee it to a file); may be missing when "
            "the job failed before planning.",
        ),
    ],
    plan_json: Annotated[
        Path | None,
        typer.Option("--plan-json", help="Default: build/infra/ENV.tfplan.json."),
    ] = None,
    title: Annotated[
        str | None, typer.Option(help="Heading instead of 'Terraform plan: ENV'.")
    ] = None,
    max_chars: MaxCharsOption = 30_000,
    out: OutOption = None,
    summary: SummaryOption = None,
) -> None:
    """A Markdown body for a PR comment or an issue: the plan's counts, the destroy guard's
    verdict (as `kfp-gcp infra guard` without --allow) and the plan, cut to fit. Without a
    plan JSON (the plan failed), the failure and the end of the log."""
    from kfp_gcp.services.infra import terraform
    from kfp_gcp.services.ops import ci

    path = plan_json or terraform.plan_paths(_project(ctx), env)[1]
    text = plan_text.read_text(encoding="utf-8", errors="replace") if plan_text.is_file() else ""
    if path.is_file():
        body = ci.plan_body(env, terraform.load_plan_json(path), text, max_chars, title=title)
    else:
        body = ci.failed_body(env, title or "Terraform plan", text, max_chars)
    _write(body, out, summary)


@app.command("manifests-comment")
def manifests_comment(
    env: Annotated[str, typer.Option("--env", "-e", help="The environment.")],
    base: Annotated[
        Path,
        typer.Option(
            "--base", help="main's render (`manifests render --out`); missing means none."
        ),
    ],
    head: Annotated[
        Path,
        typer.Option("--head", help="This branch's render; missing means it failed."),
    ],
    log: Annotated[
        Path | None,
        typer.Option("--log", help="The render's output, shown when the render failed."),
    ] = None,
    max_chars: MaxCharsOption = 30_000,
    out: OutOption = None,
    summary: SummaryOption = None,
) -> None:
    """A Markdown body for a PR comment: this branch's rendered manifests against main's,
    object by object, cut to fit; or the failure, when this branch does not render."""
    from kfp_gcp.services.ops import ci

    if not head.is_file():
        text = log.read_text(encoding="utf-8", errors="replace") if log and log.is_file() else ""
        _write(ci.failed_body(env, "Rendered manifests", text, max_chars), out, summary)
        return
    old = ci.load_objects(base) if base.is_file() else None
    _write(ci.manifests_body(env, old, ci.load_objects(head), max_chars), out, summary)


@app.command("init")
def init(
    ctx: typer.Context,
    env: Annotated[str, typer.Option("--env", "-e", help="The environment.")],
) -> None:
    """`terraform init` of an environment with its backend.hcl, so that `infra outputs` and
    `manifests render/apply` can read its outputs on a fresh checkout."""
    from kfp_gcp.services.infra import terraform

    def echo(line: str) -> None:
        output.stderr.print(line, markup=False, highlight=False, soft_wrap=True)

    terraform.init(_project(ctx), env, echo)


@app.command("terraform-check")
def terraform_check(
    ctx: typer.Context,
    tests: Annotated[bool, typer.Option(help="Run each root's `terraform test` files.")] = True,
    checkov: Annotated[bool, typer.Option(help="Run checkov over terraform/.")] = True,
) -> None:
    """fmt, validate and `terraform test` of every Terraform root, then checkov, with the real
    providers (downloaded by `terraform init`): what `make test` checks offline through
    ../shared/tools/tf-offline, for machines that have the Terraform registry."""
    from kfp_gcp.services.ops import ci

    def echo(line: str) -> None:
        output.stdout.print(line, markup=False, highlight=False, soft_wrap=True)

    failed = ci.terraform_check(_project(ctx), echo, tests=tests, checkov=checkov)
    if failed:
        raise ToolError(
            "Terraform checks failed: " + ", ".join(failed),
            hint="terraform's and checkov's words are in the output above; `kfp-gcp infra fmt` "
            "fixes formatting",
        )
    output.stderr.print("Terraform checks passed")


GithubOutputOption = Annotated[
    Path | None,
    typer.Option(
        "--github-output",
        envvar="GITHUB_OUTPUT",
        help="Append name=value lines to this file (on GitHub: the step's outputs).",
        dir_okay=False,
    ),
]


def _set_outputs(path: Path | None, values: dict[str, str]) -> None:
    if path:
        with path.open("a", encoding="utf-8") as f:
            f.writelines(f"{k}={v}\n" for k, v in values.items())


@app.command("changes")
def changes(
    ctx: typer.Context,
    base: Annotated[
        str,
        typer.Option(
            "--base", help="The commit before the push (empty or zeros: deploy everything)."
        ),
    ] = "",
    head: Annotated[str, typer.Option("--head", help="The pushed commit.")] = "HEAD",
    everything: Annotated[
        bool,
        typer.Option("--all", help="Every step of every environment (a run started by hand)."),
    ] = False,
    attempt: Annotated[
        int,
        typer.Option(
            "--attempt",
            min=1,
            help="The run's attempt (GITHUB_RUN_ATTEMPT); a re-run is refused unless --head "
            "is still the tip of origin/BRANCH.",
        ),
    ] = 1,
    branch: Annotated[str, typer.Option("--branch", help="The deployed branch.")] = "main",
    github_output: GithubOutputOption = None,
) -> None:
    """Which steps of the deploy workflow a push needs, per environment: infra, manifests,
    pipelines, from the files changed between --base and --head (docs/ci.md lists what
    each step reads). Writes ENV_STEP=true|false outputs. A re-run of an older commit
    than the branch's tip is refused: it would roll back."""
    from rich.table import Table

    from kfp_gcp.services.infra import terraform
    from kfp_gcp.services.ops import ci

    project = _project(ctx)
    if attempt > 1:
        ci.refuse_old_rerun(project.root, head, branch)
    envs = terraform.environments(project)
    changed = None if everything else ci.changed_files(project.root, base, head)
    if changed is None:
        steps = {env: dict.fromkeys(ci.DEPLOY_STEPS, True) for env in envs}
        why = "every step: a run by hand" if everything else f"every step: no diff from {base!r}"
    else:
        steps = ci.deploy_steps(changed, envs)
        why = f"{len(changed)} files changed"
    values = {f"{env}_{step}": str(run).lower() for env in envs for step, run in steps[env].items()}
    _set_outputs(github_output, values)

    def table() -> Table:
        t = Table("Environment", *ci.DEPLOY_STEPS, title=f"Deploy steps ({why})")
        for env in envs:
            t.add_row(env, *("run" if steps[env][s] else "skip" for s in ci.DEPLOY_STEPS))
        return t

    output.emit(ctx.obj, {"reason": why, "steps": steps}, table)


@app.command("plan-secrets")
def plan_secrets(
    ctx: typer.Context,
    env: Annotated[str, typer.Option("--env", "-e", help="The environment.")],
    plan_json: Annotated[
        Path | None,
        typer.Option("--plan-json", help="Default: build/infra/ENV.tfplan.json."),
    ] = None,
) -> None:
    """Fail if the saved plan holds a sensitive value, before it is uploaded as an artifact
    (anyone who can read the repository can download those). Write-only arguments and
    ephemeral values are never in a plan; anything Terraform marks sensitive is."""
    from kfp_gcp.services.infra import terraform
    from kfp_gcp.services.ops import ci

    path = plan_json or terraform.plan_paths(_project(ctx), env)[1]
    found = ci.plan_secrets(terraform.load_plan_json(path))
    if found:
        raise ConfigError(
            f"the {env} plan holds sensitive values, so it is not uploaded: " + ", ".join(found),
            hint="make the value write-only (a *_wo argument fed by an ephemeral resource, as "
            "modules/cloudsql does for the database password), or apply this change locally "
            "(docs/ci.md, The reviewed plan)",
        )
    output.stderr.print(f"{path.name}: no sensitive value in the plan")


@app.command("publish-target")
def publish_target(
    ctx: typer.Context,
    env: Annotated[str, typer.Option("--env", "-e", help="The environment.")],
    outputs_file: OutputsOption = None,
    github_output: GithubOutputOption = None,
) -> None:
    """Whether CI publishes pipelines to ENV: yes through IAP (access iap, a domain); no,
    with a notice, in the no-domain modes; a failure when the environment's settings ask
    for IAP but its applied outputs lack it. Writes publish=true|false."""
    import json

    from kfp_gcp.services.infra import terraform
    from kfp_gcp.services.ops import ci

    project = _project(ctx)
    contract = terraform.contract(project, env, outputs_file)
    settings_file = terraform.environment_dir(project, env) / terraform.SETTINGS_FILE
    settings = json.loads(settings_file.read_text(encoding="utf-8")).get("settings", {})
    target = ci.publish_target(env, contract.access, contract.domain, ci.declared_access(settings))
    _set_outputs(github_output, {"publish": str(target.publish).lower()})
    if target.publish:
        output.stderr.print(target.message)
    else:
        output.stdout.print(f"::notice::{target.message}", markup=False, highlight=False)


@app.command("drift-issue")
def drift_issue(
    env: Annotated[str, typer.Option("--env", "-e", help="The environment.")],
    drift: Annotated[
        bool, typer.Option("--drift/--no-drift", help="Whether the plan shows drift.")
    ],
    body: Annotated[
        Path | None,
        typer.Option("--body", help="The issue body (`ci plan-comment --out`); with --drift."),
    ] = None,
) -> None:
    """Open or update ENV's issue "Infrastructure drift in ENV" (label drift) while the plan
    shows drift; comment and close it once it does not. Uses GitHub's REST API with
    GH_TOKEN (the job's token, issues: write), GITHUB_REPOSITORY and GITHUB_API_URL."""
    import os

    from kfp_gcp.services.ops import ci

    token, repo = os.environ.get("GH_TOKEN"), os.environ.get("GITHUB_REPOSITORY")
    if not token or not repo:
        raise ConfigError(
            "GH_TOKEN and GITHUB_REPOSITORY must be set",
            hint="in a workflow: env: GH_TOKEN: ${{ github.token }}, with permissions "
            "issues: write (drift.yml)",
        )
    if drift and (body is None or not body.is_file()):
        raise ConfigError(
            "--drift needs --body FILE", hint="write it with `kfp-gcp ci plan-comment --out`"
        )
    server = os.environ.get("GITHUB_SERVER_URL", "https://github.com")
    run_url = f"{server}/{repo}/actions/runs/{os.environ.get('GITHUB_RUN_ID', '')}"
    call = ci.github_request(os.environ.get("GITHUB_API_URL", "https://api.github.com"), token)
    text = body.read_text(encoding="utf-8") if drift and body else ""
    output.stderr.print(ci.sync_drift_issue(call, repo, env, drift, text, run_url))

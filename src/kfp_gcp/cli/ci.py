"""`kfp-gcp ci`: what the GitHub Actions workflows (docs/ci.md) need beyond the other
commands, so that they hold no logic of their own: comment and issue bodies, a
Terraform init for reading outputs, and the Terraform checks with the real providers."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from kfp_gcp import output
from kfp_gcp.cli.common import project as _project
from kfp_gcp.errors import ToolError

if TYPE_CHECKING:
    from kfp_gcp.services.ops.ci import Body

app = typer.Typer(
    help="Helpers for the GitHub Actions workflows: PR comment bodies, Terraform checks.",
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
            "--plan-text", help="What `kfp-gcp infra plan` printed (tee it to a file).", exists=True
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
    verdict (as `kfp-gcp infra guard` without --allow) and the plan, cut to fit."""
    from kfp_gcp.services.infra import terraform
    from kfp_gcp.services.ops import ci

    path = plan_json or terraform.plan_paths(_project(ctx), env)[1]
    body = ci.plan_body(
        env,
        terraform.load_plan_json(path),
        plan_text.read_text(encoding="utf-8", errors="replace"),
        max_chars,
        title=title,
    )
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
    head: Annotated[Path, typer.Option("--head", help="This branch's render.", exists=True)],
    max_chars: MaxCharsOption = 30_000,
    out: OutOption = None,
    summary: SummaryOption = None,
) -> None:
    """A Markdown body for a PR comment: this branch's rendered manifests against main's,
    object by object, cut to fit."""
    from kfp_gcp.services.ops import ci

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

"""Helpers every noun's commands share."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from kfp_gcp.services.project import Project


def project(ctx: typer.Context) -> Project:
    """The repository the command works on (--project-dir, else found from here)."""
    from kfp_gcp.services.project import find_project

    return find_project(ctx.obj.project_dir)


OutputsOption = Annotated[
    Path | None,
    typer.Option(
        "--outputs",
        help="The outputs contract as JSON (`kfp-gcp -o json infra outputs`), instead of "
        "reading `terraform output`.",
        dir_okay=False,
    ),
]


def interactive() -> bool:
    """Whether a person can answer a prompt (tests set this to True)."""
    return sys.stdin.isatty()


def typed_confirmation(question: str, env: str, confirm: str | None, needs: str) -> str:
    """What the person typed for `question`, or `--confirm`'s value (the question is then
    printed, so the log shows what was confirmed). `needs` names the command for the error
    when there is nobody to ask; the caller compares the answer with the environment's name."""
    from kfp_gcp import output
    from kfp_gcp.errors import ConfigError

    if confirm is None:
        if not interactive():
            raise ConfigError(
                f"{needs} needs a typed confirmation and there is no terminal",
                hint=f"pass --confirm {env} to confirm on the command line",
            )
        return str(typer.prompt(question))
    output.stderr.print(question, highlight=False, soft_wrap=True)
    return confirm

"""Helpers every noun's commands share."""

from __future__ import annotations

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

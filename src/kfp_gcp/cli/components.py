"""`kfp-gcp components`: what reusable components exist, and the catalog that documents them."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from kfp_gcp import output
from kfp_gcp.errors import ProjectError

app = typer.Typer(help="List components and write their catalog.", no_args_is_help=True)


@app.command("list")
def list_components(ctx: typer.Context) -> None:
    """List the components under components/, with their image and the pipelines using them."""
    from kfp_gcp.services.pipelines import catalog
    from kfp_gcp.services.project import find_project

    infos = catalog.build(find_project(ctx.obj.project_dir))

    def table() -> Table:
        t = Table("Component", "Purpose", "Image", "Used by", title="Components")
        for info in infos:
            t.add_row(info.name, info.summary, info.image, ", ".join(info.used_by) or "-")
        return t

    output.emit(ctx.obj, infos, table)


@app.command("catalog")
def write_catalog(
    ctx: typer.Context,
    check: Annotated[
        bool,
        typer.Option("--check", help="Write nothing; fail if the committed catalog is stale."),
    ] = False,
) -> None:
    """Write docs/catalog.md: every component's purpose, inputs, outputs, image and users."""
    from kfp_gcp.services.pipelines import catalog
    from kfp_gcp.services.project import find_project

    project = find_project(ctx.obj.project_dir)
    text = catalog.render(catalog.build(project))
    path = project.root / catalog.CATALOG_PATH
    current = path.read_text(encoding="utf-8") if path.exists() else None
    if check:
        if current != text:
            raise ProjectError(
                f"{catalog.CATALOG_PATH} is stale",
                hint="run `kfp-gcp components catalog` and commit the result",
            )
        output.stderr.print(f"{catalog.CATALOG_PATH} is up to date")
        return
    if current != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    output.stderr.print(f"{'wrote' if current != text else 'unchanged:'} {catalog.CATALOG_PATH}")

"""The `kfp-gcp` command: global options, error reporting, and one sub-command per noun.

Commands import kfp, pydantic and Google libraries inside their bodies so that
`kfp-gcp --help` stays fast.
"""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from kfp_gcp import output
from kfp_gcp.errors import INTERNAL_ERROR_EXIT_CODE, KfpGcpError
from kfp_gcp.services.project import PROJECT_DIR_ENV


def _is_click_control_flow(exc: BaseException) -> bool:
    # typer vendors click, so match its exit/usage exceptions by shape, not by class.
    return isinstance(exc, typer.Exit | typer.Abort) or (
        hasattr(exc, "exit_code") and hasattr(exc, "show")
    )


class _ReportingGroup(TyperGroup):
    """Turns our errors into one or two lines and an exit code; tracebacks only with --debug."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as exc:
            # A closed pipe (`kfp-gcp ... | head`) is the reader's choice, not an error.
            if _is_click_control_flow(exc) or isinstance(exc, BrokenPipeError):
                raise
            state = ctx.obj if isinstance(ctx.obj, output.State) else output.State()
            raise typer.Exit(report(exc, debug=state.debug)) from None


def report(exc: Exception, debug: bool) -> int:
    """Print `exc` for a person and return the exit code."""
    if debug:
        output.stderr.print_exception(show_locals=False)
    if isinstance(exc, KfpGcpError):
        output.stderr.print(f"[bold red]{exc.label}:[/] {exc.message}", soft_wrap=True)
        if exc.hint:
            output.stderr.print(f"[dim]hint:[/] {exc.hint}", soft_wrap=True)
        return exc.exit_code
    output.stderr.print(f"[bold red]internal error:[/] {type(exc).__name__}: {exc}", soft_wrap=True)
    if not debug:
        output.stderr.print("[dim]hint:[/] rerun with --debug for the traceback, and report it")
    return INTERNAL_ERROR_EXIT_CODE


app = typer.Typer(
    cls=_ReportingGroup,
    help="Run Kubeflow Pipelines v2 on Google Cloud: build, run and publish pipelines.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    rich_markup_mode="markdown",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"kfp-gcp {version('kfp-gcp')}")
        raise typer.Exit()


@app.callback()
def _global_options(
    ctx: typer.Context,
    output_format: Annotated[
        output.OutputFormat,
        typer.Option("--output", "-o", help="Print tables for people or JSON for programs."),
    ] = output.OutputFormat.table,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show full tracebacks (without local variables).")
    ] = False,
    project_dir: Annotated[
        Path | None,
        typer.Option(
            "--project-dir",
            envvar=PROJECT_DIR_ENV,
            help="Repository root; by default the nearest folder up from here that holds "
            "components/ and pipelines/.",
            file_okay=False,
        ),
    ] = None,
    _version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version."
        ),
    ] = False,
) -> None:
    ctx.obj = output.State(output=output_format, debug=debug, project_dir=project_dir)


def _register() -> None:
    from kfp_gcp.cli import (
        ci,
        components,
        db,
        doctor,
        down,
        images,
        infra,
        init,
        manifests,
        manifests_upstream,
        pipelines,
        ui,
        up,
    )

    # The guided path first: init, (infra bootstrap), up, doctor; down to remove.
    app.command("init")(init.init)
    app.command("up")(up.up)
    app.command("doctor")(doctor.doctor)
    app.command("down")(down.down)

    app.add_typer(pipelines.app, name="pipelines")
    app.add_typer(components.app, name="components")
    app.add_typer(images.app, name="images")
    app.add_typer(infra.app, name="infra")
    app.add_typer(db.app, name="db")
    manifests_upstream.register(manifests.app)
    app.add_typer(manifests.app, name="manifests")
    app.command("ui")(ui.ui)
    app.add_typer(ci.app, name="ci")


_register()


def main() -> None:
    app()

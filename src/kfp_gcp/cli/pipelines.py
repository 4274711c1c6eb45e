"""`kfp-gcp pipelines`: list, compile and run the pipelines under pipelines/."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Group
from rich.table import Table

from kfp_gcp import output
from kfp_gcp.errors import CompileError, ConfigError

if TYPE_CHECKING:
    from kfp_gcp.services.local_run import LocalRun, Step
    from kfp_gcp.services.project import Project

app = typer.Typer(help="List, compile and run pipelines.", no_args_is_help=True)


def _project(ctx: typer.Context) -> Project:
    from kfp_gcp.services.project import find_project

    return find_project(ctx.obj.project_dir)


@app.command("list")
def list_pipelines(ctx: typer.Context) -> None:
    """List the pipelines under pipelines/ with their parameters."""
    from kfp_gcp.services import params
    from kfp_gcp.services.compiler import describe_failure
    from kfp_gcp.services.project import discover, load, relative

    project = _project(ctx)
    rows = []
    for source in discover(project, "pipeline"):
        row: dict[str, Any] = {"name": source.name, "source": relative(project, source.path)}
        try:
            pipeline = load(project, source)
        except Exception as exc:
            row["error"] = describe_failure(project, source, exc)
        else:
            row["description"] = pipeline.description or ""
            row["parameters"] = [
                {"name": p.name, "type": p.type, "default": p.default, "required": p.required}
                for p in params.signature(pipeline)
            ]
        rows.append(row)

    def table() -> Table:
        t = Table("Pipeline", "Parameters", "Description", title="Pipelines")
        for row in rows:
            if "error" in row:
                t.add_row(row["name"], "-", f"[red]cannot load: {row['error']}[/]")
                continue
            t.add_row(
                row["name"],
                "\n".join(
                    f"{p['name']}: {p['type']}"
                    + (" (required)" if p["required"] else f" = {p['default']!r}")
                    for p in row["parameters"]
                ),
                row["description"],
            )
        return t

    output.emit(ctx.obj, rows, table)


@app.command("compile")
def compile_pipelines(
    ctx: typer.Context,
    names: Annotated[
        list[str] | None, typer.Argument(help="Pipelines to compile (default: all).")
    ] = None,
    out_dir: Annotated[
        Path | None,
        typer.Option("--out-dir", help="Where to write <name>.yaml (default: build/pipelines)."),
    ] = None,
) -> None:
    """Compile pipelines to KFP IR YAML.

    Output is deterministic: the same source gives byte-identical YAML. A pipeline that
    fails to import or compile is reported with its file and error, the rest still
    compile, and the command exits non-zero.
    """
    from kfp_gcp.services.compiler import compile_all
    from kfp_gcp.services.project import relative, select

    project = _project(ctx)
    with output.stderr.status("Compiling pipelines..."):
        results = compile_all(project, select(project, "pipeline", names), out_dir)

    def table() -> Table:
        t = Table("Pipeline", "Result", title="Compiled pipelines")
        for r in results:
            t.add_row(
                r.name,
                f"[green]{relative(project, r.output)}[/]" if r.output else f"[red]{r.error}[/]",
            )
        return t

    output.emit(ctx.obj, results, table)
    failed = [r for r in results if not r.ok]
    if failed:
        raise CompileError(
            f"{len(failed)} of {len(results)} pipelines failed: "
            + "; ".join(f"{r.source}: {r.error}" for r in failed),
            hint="fix the files named above; the others were compiled",
        )


@app.command("run")
def run_pipeline(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The pipeline (its folder name under pipelines/).")],
    local: Annotated[
        bool,
        typer.Option(
            "--local", help="Run on this machine with kfp.local (no cluster, no cloud account)."
        ),
    ] = False,
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param",
            "-p",
            help="A pipeline parameter as name=value; repeat for more. Lists and dicts are "
            "JSON. Checked against the pipeline's signature before anything runs.",
        ),
    ] = None,
) -> None:
    """Run a pipeline and print its steps, metrics, outputs and artifacts.

    Examples:

    kfp-gcp pipelines run training --local -p dataset=wine -p accuracy_threshold=0.95

    kfp-gcp -o json pipelines run sweep --local -p 'candidates=[{"algorithm": "random_forest",
    "n_estimators": 20, "max_depth": 3, "regularization": 1.0}]'
    """
    from kfp_gcp.services import local_run, params
    from kfp_gcp.services.project import load, select

    if not local:
        raise ConfigError(
            "only local runs exist so far",
            hint=f"add --local: kfp-gcp pipelines run {name} --local",
        )
    project = _project(ctx)
    (source,) = select(project, "pipeline", [name])
    pipeline = load(project, source)
    arguments = params.parse(name, params.signature(pipeline), param or [])

    with output.stderr.status(f"Running {name} locally...") as status:

        def show(step: Step) -> None:
            if step.status == "running":
                status.update(f"Running {name} locally: {step.name}...")
                return
            mark = "[green]✓[/]" if step.status == "succeeded" else "[red]✗[/]"
            output.stderr.print(f"{mark} {step.name} {output.seconds(step.seconds)}")

        result = local_run.run(project, pipeline, arguments, listener=show)

    output.emit(ctx.obj, result, lambda: _run_summary(result))
    local_run.require_success(result)


def _run_summary(result: LocalRun) -> Group:
    colour = "green" if result.status == "succeeded" else "red"
    steps = Table("Step", "Status", "Duration", title="Steps", title_justify="left")
    for step in result.steps:
        steps.add_row(step.name, step.status, output.seconds(step.seconds))
    metrics = Table("Step", "Metric", "Value", title="Metrics", title_justify="left")
    for metric in result.metrics:
        metrics.add_row(metric.step, metric.name, str(metric.value))
    # Each artifact is the file <run folder>/<step>/<artifact>; --output json gives full paths.
    artifacts = Table("Step", "Artifact", "Type", title="Artifacts", title_justify="left")
    for artifact in result.artifacts:
        artifacts.add_row(artifact.step, artifact.name, artifact.type)
    parts: list[Any] = [
        f"Pipeline [bold]{result.pipeline}[/] [{colour}]{result.status}[/] "
        f"in {output.seconds(result.seconds)}",
        steps,
    ]
    if result.metrics:
        parts.append(metrics)
    if result.outputs:
        parts.append("Outputs: " + ", ".join(f"{k} = {v}" for k, v in result.outputs.items()))
    if result.artifacts:
        parts.append(artifacts)
    parts.append(f"Artifacts: {result.run_dir or '-'}/<step>/<artifact>\nLog: {result.log}")
    return Group(*parts)

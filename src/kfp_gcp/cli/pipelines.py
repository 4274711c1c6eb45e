"""`kfp-gcp pipelines`: list, compile and run the pipelines under pipelines/."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Group
from rich.table import Table

from kfp_gcp import output
from kfp_gcp.cli.common import OutputsOption
from kfp_gcp.cli.common import project as _project
from kfp_gcp.errors import ConfigError

if TYPE_CHECKING:
    from kfp_gcp.services.pipelines.local_run import LocalRun, Step

NamespaceOption = Annotated[
    str | None,
    typer.Option("--namespace", help="KFP namespace (default: the contract's kfp_namespace)."),
]

app = typer.Typer(help="List, compile, run, deploy and submit pipelines.", no_args_is_help=True)


@app.command("list")
def list_pipelines(ctx: typer.Context) -> None:
    """List the pipelines under pipelines/ with their parameters."""
    from kfp_gcp.services.pipelines import params
    from kfp_gcp.services.pipelines.compiler import describe_failure
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
    env: Annotated[
        str | None,
        typer.Option(
            "--env",
            "-e",
            help="Compile for this environment: components run their images from its "
            "registry (by tag; `pipelines deploy` adds the digests) and install nothing.",
        ),
    ] = None,
    outputs_file: OutputsOption = None,
) -> None:
    """Compile pipelines to KFP IR YAML.

    Output is deterministic: the same source gives byte-identical YAML. A pipeline that
    fails to import or compile is reported with its file and error, the rest still
    compile, and the command exits non-zero. Without --env, components run their local
    base images and install their pinned packages when they start.
    """
    from kfp_gcp.services.pipelines.compiler import compile_all, require_compiled
    from kfp_gcp.services.project import relative, select

    project = _project(ctx)
    if env:
        project = _for_environment(project, env, outputs_file, digests=False)
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
    require_compiled(results, "", hint="fix the files named above; the others were compiled")


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
    docker: Annotated[
        bool,
        typer.Option(
            "--docker",
            help="With --local: run each step in its component's image (built first with "
            "`kfp-gcp images build`) with kfp.local's DockerRunner, as on the cluster.",
        ),
    ] = False,
) -> None:
    """Run a pipeline and print its steps, metrics, outputs and artifacts.

    Examples:

    kfp-gcp pipelines run training --local -p dataset=wine -p accuracy_threshold=0.95

    kfp-gcp -o json pipelines run sweep --local -p 'candidates=[{"algorithm": "random_forest",
    "n_estimators": 20, "max_depth": 3, "regularization": 1.0}]'
    """
    from kfp_gcp.services.pipelines import local_run, params
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
    docker_images = _local_images(project) if docker else None

    with output.stderr.status(f"Running {name} locally...") as status:

        def show(step: Step) -> None:
            if step.status == "running":
                status.update(f"Running {name} locally: {step.name}...")
                return
            mark = "[green]✓[/]" if step.status == "succeeded" else "[red]✗[/]"
            output.stderr.print(f"{mark} {step.name} {output.seconds(step.seconds)}")

        result = local_run.run(
            project, pipeline, arguments, listener=show, docker_images=docker_images
        )

    output.emit(ctx.obj, result, lambda: _run_summary(result))
    local_run.require_success(result)


def _local_images(project: Any) -> dict[str, str]:
    """Each image's tag in the local docker daemon; a missing one is an error that says
    how to build it (kfp.local would try to pull it)."""
    from kfp_gcp.errors import PrerequisiteError
    from kfp_gcp.services.images import build, context

    docker = build.Docker()
    docker.check_daemon()
    found = {i.name: build.local_reference(i) for i in context.discover(project.root)}
    missing = sorted(name for name, reference in found.items() if not docker.has(reference))
    if missing:
        raise PrerequisiteError(
            f"not built for this version of the files: {', '.join(found[n] for n in missing)}",
            hint=f"build them first: kfp-gcp images build {' '.join(missing)}",
        )
    return found


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


def _for_environment(project: Any, env: str, outputs_file: Path | None, digests: bool) -> Any:
    """`project` compiling for `env`: its images from the environment's registry (with
    `digests`, each must be there: no image, no publish). Unchanged without images/."""
    from kfp_gcp.services.images import context, registry
    from kfp_gcp.services.infra import terraform

    if not context.discover(project.root):
        return project
    outputs = terraform.contract(project, env, outputs_file)
    client = registry.ArtifactRegistry() if digests else None
    project, note = registry.for_environment(project, outputs, client)
    if note:
        output.stderr.print(note, soft_wrap=True, highlight=False)
    return project


_HOST_HELP = (
    "KFP endpoint instead of the environment's https://<domain> (a port-forward such as "
    "http://localhost:8080 from `kfp-gcp ui`, or a test server). No IAP auth is sent to it."
)


def _say(text: str) -> None:
    """A progress line on stderr (stdout stays for the table or the JSON)."""
    output.stderr.print(text, markup=False, highlight=False, soft_wrap=True)


def _connect(
    ctx: typer.Context,
    env: str,
    host: str | None,
    outputs_file: Path | None,
    namespace: str | None,
) -> Any:
    from kfp_gcp.services.kfp import target as kfp_target
    from kfp_gcp.services.kfp.api import Retry

    def show_retry(retry: Retry) -> None:
        _say(f"  {retry.what}: {retry.reason}; attempt {retry.attempt + 1} in {retry.delay:.1f}s")

    target = kfp_target.resolve(_project(ctx), env, host, outputs_file, namespace)
    _say(f"KFP {target.host} (namespace {target.namespace}, auth: {target.auth})")
    return kfp_target.connect(target, on_retry=show_retry)


@app.command("deploy")
def deploy_pipelines(
    ctx: typer.Context,
    env: Annotated[str, typer.Option("--env", "-e", help="The environment.")],
    host: Annotated[str | None, typer.Option("--host", help=_HOST_HELP)] = None,
    only: Annotated[
        list[str] | None,
        typer.Option(
            "--only",
            help="Deploy only this pipeline (folder name); repeat for more. Without it the "
            "deploy is full: schedules of pipelines that left the repository are disabled.",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Compile and compare; make no write calls.")
    ] = False,
    allow_rollback: Annotated[
        bool,
        typer.Option(
            "--allow-rollback",
            help="Publish even where the newest version in KFP came from a commit this "
            "checkout does not contain (an older checkout, another branch).",
        ),
    ] = False,
    outputs_file: OutputsOption = None,
    namespace: NamespaceOption = None,
) -> None:
    """Publish pipelines to an environment's KFP: a new version only where content changed.

    Compiles every selected pipeline and validates its schedules.yaml while reading what
    KFP holds; any failure there stops the deploy before the first write. A pipeline is
    created if missing and gets a version `v-<hash>` only when its newest version lacks
    that hash; its schedules are reconciled. Refuses to replace a newest version
    published from a commit that HEAD does not contain (see --allow-rollback). A re-run
    with no change makes zero write calls. Progress and retries go to stderr.
    Components run their images from the environment's registry, by tag and digest; an
    image that is not there stops the deploy too (push it first: `kfp-gcp images push
    --env ENV`).
    """
    from kfp_gcp.services.kfp import publish
    from kfp_gcp.services.project import select

    project = _project(ctx)
    sources = select(project, "pipeline", only)
    api = _connect(ctx, env, host, outputs_file, namespace)
    project = _for_environment(project, env, outputs_file, digests=True)
    _say(f"Compiling {len(sources)} pipelines and comparing them with KFP...")
    summary = publish.deploy(
        api,
        project,
        publish.compile_stream(project, sources),
        dry_run=dry_run,
        full=not only,
        allow_rollback=allow_rollback,
        progress=_say,
    )

    def table() -> Group:
        colours = {"failed": "red", "unchanged": "dim", "created": "green"}
        t = Table("Pipeline", "Result", "Version", "Writes", "Schedules", title="Deploy")
        for r in summary.results:
            colour = colours.get(r.status, "yellow")
            t.add_row(
                r.pipeline,
                f"[{colour}]{r.status}[/]"
                + (f": {r.error}" if r.error else "")
                + (f"\n[yellow]{r.note}[/]" if r.note else ""),
                r.version,
                str(r.writes + sum(s.writes for s in r.schedules)),
                "\n".join(f"{s.schedule}: {s.status}" for s in r.schedules),
            )
        for s in summary.removed:
            t.add_row(
                s.pipeline or "-",
                f"[yellow]schedule {s.status}[/]: {s.reason or s.error}",
                "",
                str(s.writes),
                f"{s.schedule}: {s.recurring_run}",
            )
        counts: dict[str, int] = {}
        for r in summary.results:
            counts[r.status] = counts.get(r.status, 0) + 1
        line = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        if summary.removed:
            line += f"; {len(summary.removed)} schedules of removed pipelines disabled"
        return Group(
            t,
            f"{line}; {summary.writes} write calls, {summary.requests} requests, "
            f"{summary.retries} retries" + (" (dry run)" if dry_run else ""),
        )

    output.emit(ctx.obj, summary, table)
    publish.require_success(summary)


@app.command("submit")
def submit_pipeline(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The pipeline (its folder name under pipelines/).")],
    env: Annotated[str, typer.Option("--env", "-e", help="The environment.")],
    host: Annotated[str | None, typer.Option("--host", help=_HOST_HELP)] = None,
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", help="A pipeline parameter as name=value; repeat for more."),
    ] = None,
    experiment: Annotated[
        str | None, typer.Option("--experiment", help="Experiment (default: the pipeline name).")
    ] = None,
    wait: Annotated[
        bool, typer.Option("--wait", help="Follow the run; exit non-zero if it does not succeed.")
    ] = False,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds to --wait.")] = 24 * 3600,
    poll: Annotated[float, typer.Option("--poll", help="Seconds between checks.", min=0)] = 10,
    outputs_file: OutputsOption = None,
    namespace: NamespaceOption = None,
) -> None:
    """Start a run of the deployed default (newest) version and print its URL.

    Parameters are checked against the pipeline's signature before anything is sent.
    The newest version is the first KFP lists by created_at (then id), as deploy reads
    it. A create whose answer is lost is not sent again until a list shows it was not
    written, so a retry never starts a second run.
    """
    from kfp_gcp.services.kfp import runs
    from kfp_gcp.services.pipelines import params
    from kfp_gcp.services.project import load, select

    project = _project(ctx)
    (source,) = select(project, "pipeline", [name])
    pipeline = load(project, source)
    arguments = params.parse(name, params.signature(pipeline), param or [])
    display = pipeline.pipeline_spec.pipeline_info.display_name or pipeline.name
    api = _connect(ctx, env, host, outputs_file, namespace)
    submitted = runs.submit(api, display, arguments, experiment, env=env, name=name)
    output.stderr.print(f"Run of {display} ({submitted.version}): {submitted.url}", soft_wrap=True)
    if wait:
        with output.stderr.status(f"{display}: {submitted.state}") as status:

            def show(state: str, finished: int, total: int) -> None:
                status.update(f"{display}: {state} ({finished}/{total} tasks finished)")

            submitted.state = runs.follow(api, submitted.run_id, timeout, poll, show)
    info = {
        "pipeline": display,
        "version": submitted.version,
        "run_id": submitted.run_id,
        "url": submitted.url,
        "state": submitted.state,
    }
    output.emit(ctx.obj, info, lambda: f"{info['url']}  [{info['state']}]")
    if wait:
        runs.require_success(submitted, submitted.state, timeout)

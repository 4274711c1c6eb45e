"""`kfp-gcp up`: from a bootstrapped project to a KFP that ran a pipeline, stage by stage."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

import typer
from rich.console import Group
from rich.table import Table

from kfp_gcp import output
from kfp_gcp.cli.common import project as _project
from kfp_gcp.cli.images import BuilderChoice, BuilderOption

if TYPE_CHECKING:
    from kfp_gcp.services.ops.up import StageResult

UPSTREAM_DIR_ENV = "KFP_GCP_UPSTREAM_DIR"  # as `manifests` (a literal: --help stays fast)


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.0f}s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}m{rest:02d}s"


class LiveDisplay:
    """The stages as a table that updates in place on a terminal: status, elapsed, the
    expected time (the last run's), and what the running stage waits for. Elsewhere (CI
    logs), a line per stage and per change of what it waits for, at most every 10 s."""

    MARKS: ClassVar[dict[str, str]] = {
        "done": "[green]✓[/]", "up-to-date": "[green]=[/]", "skipped": "[dim]-[/]",
        "failed": "[red]✗[/]", "running": "[yellow]…[/]", "not-run": " ",
    }  # fmt: skip

    def __init__(self, stages: tuple[tuple[str, str], ...], clock: Any = time.monotonic) -> None:
        from rich.live import Live

        self.rows: dict[str, dict[str, Any]] = {
            name: {"title": title, "status": "not-run", "note": "", "seconds": None,
                   "expected": None, "began": None}
            for name, title in stages
        }  # fmt: skip
        self.clock = clock
        self.current = ""
        self.interactive = output.stderr.is_terminal
        self.last_line = 0.0
        self.live = Live(self, console=output.stderr, refresh_per_second=4, transient=False)

    def __enter__(self) -> LiveDisplay:
        if self.interactive:
            self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.interactive:
            self.live.__exit__(None, None, None)

    def __rich__(self) -> Table:
        t = Table("", "Stage", "Elapsed", "Expected", "Now", box=None, title="kfp-gcp up")
        for row in self.rows.values():
            elapsed = row["seconds"]
            if row["status"] == "running" and row["began"] is not None:
                elapsed = self.clock() - row["began"]
            t.add_row(
                self.MARKS[row["status"]],
                row["title"],
                duration(elapsed),
                duration(row["expected"]),
                _escape(row["note"])[:100],
            )
        return t

    def start(self, name: str, title: str, expected: float | None) -> None:
        row = self.rows[name]
        row.update(status="running", began=self.clock(), expected=expected, note="")
        self.current = name
        if not self.interactive:
            output.stderr.print(
                f"==> {title}" + (f" (last time {duration(expected)})" if expected else ""),
                highlight=False,
            )

    def waiting(self, text: str) -> None:
        self.rows[self.current]["note"] = text
        if not self.interactive and self.clock() - self.last_line >= 10:
            self.last_line = self.clock()
            output.stderr.print(f"    {text}", markup=False, highlight=False, soft_wrap=True)

    def finish(self, result: StageResult) -> None:
        self.rows[result.name].update(status=result.status, seconds=result.seconds,
                                      note=result.note)  # fmt: skip
        if not self.interactive:
            output.stderr.print(
                f"{self.MARKS[result.status]} {result.title} {duration(result.seconds)}: ",
                highlight=False,
                end="",
            )
            output.stderr.print(result.note, markup=False, highlight=False, soft_wrap=True)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def up(
    ctx: typer.Context,
    env: Annotated[
        str,
        typer.Option(
            "--env", "-e", help="The environment: a folder under terraform/environments/."
        ),
    ],
    gpu: Annotated[
        bool,
        typer.Option("--gpu", help="Smoke-test with gpu_smoke (a GPU node) instead of training."),
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Print the stages and what each would do; call nothing."),
    ] = False,
    timeout: Annotated[
        int, typer.Option("--timeout", help="Seconds to wait for KFP's Deployments.", min=30)
    ] = 900,
    smoke_timeout: Annotated[
        int, typer.Option("--smoke-timeout", help="Seconds to follow the smoke run.", min=60)
    ] = 3600,
    builder: BuilderOption = BuilderChoice.docker,
    upstream_dir: Annotated[
        Path | None,
        typer.Option(
            "--upstream-dir",
            envvar=UPSTREAM_DIR_ENV,
            help="A folder of unpacked upstream sources for the manifests (as `manifests "
            "render`). Default: the cache that `kfp-gcp manifests fetch` fills.",
            file_okay=False,
        ),
    ] = None,
) -> None:
    """Bring an environment up: infrastructure, KFP, pipelines, and a smoke run, in order.

    Stages: preflight (tools, network, credentials, project, APIs, quota, the state
    bucket: doctor's first checks), infra (plan, the destroy guard, apply), outputs,
    images (push what the registry lacks), manifests (render, apply, wait), pipelines
    (deploy), smoke (run `training`, or `gpu_smoke` with --gpu, and follow it to the end).

    Each stage is skipped when it has nothing to do (an empty plan, images present, the
    cluster matching the render, nothing to publish, this version's smoke run already
    succeeded), so after a failure run the same command again: it resumes. Needs the
    project bootstrapped first (kfp-gcp infra bootstrap). Stage times are kept in
    build/up/ENV.json and shown as the expected time next run; the tools' output goes to
    build/up/ENV.log. Up never deletes or replaces the database, a bucket or the cluster.
    """
    from kfp_gcp.services.ops import up as service

    project = _project(ctx)
    if dry_run:
        planned = service.plan_stages(project, env, gpu=gpu)

        def plan_table() -> Table:
            t = Table("Stage", "Would", "Expected", title=f"kfp-gcp up --env {env} (dry run)")
            for stage in planned:
                t.add_row(stage.title, stage.action, duration(stage.expected))
            return t

        output.emit(ctx.obj, planned, plan_table)
        return

    from kfp_gcp.cli.images import _builder
    from kfp_gcp.services.ops.live import Live

    live = Live.real()
    if live.builder is None:
        live.builder = lambda outputs: _builder(builder, outputs)
    with LiveDisplay(service.STAGES) as display:
        report = service.up(
            project,
            env,
            live,
            display,
            render=service.default_render(upstream_dir),
            gpu=gpu,
            timeout_s=timeout,
            smoke_timeout_s=smoke_timeout,
        )

    def summary() -> Group:
        t = Table("Stage", "Result", "Time", "What", title=f"{env} is up")
        for stage in report.stages:
            t.add_row(stage.title, stage.status, duration(stage.seconds), _escape(stage.note))
        lines: list[Any] = [t]
        if report.url:
            lines.append(f"KFP: {report.url}")
        if report.run_url:
            lines.append(f"Smoke run: {report.run_url}")
        lines.append("Next:\n" + "\n".join(f"  {step}" for step in report.next_steps))
        return Group(*lines)

    output.emit(ctx.obj, report, summary)

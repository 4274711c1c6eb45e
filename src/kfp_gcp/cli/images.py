"""`kfp-gcp images`: the component images under images/: lock, list, build, push."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from kfp_gcp import output
from kfp_gcp.cli.common import OutputsOption
from kfp_gcp.cli.common import project as _project
from kfp_gcp.errors import ConfigError

if TYPE_CHECKING:
    from kfp_gcp.services.images.build import Builder, ImageResult
    from kfp_gcp.services.infra.terraform import PlatformOutputs

app = typer.Typer(
    help="Component images (images/<name>/): lock, list, build and push them.",
    no_args_is_help=True,
)


class BuilderChoice(enum.StrEnum):
    docker = "docker"
    cloudbuild = "cloudbuild"


NamesArgument = Annotated[
    list[str] | None, typer.Argument(help="Images to act on (folder names; default: all).")
]
BuilderOption = Annotated[
    BuilderChoice,
    typer.Option(
        "--builder",
        help="docker: docker buildx on this machine (a daemon must answer). cloudbuild: "
        "`gcloud builds submit`, running as the environment's CI build identity.",
    ),
]


def _contract(ctx: typer.Context, env: str, outputs_file: Path | None) -> PlatformOutputs:
    from kfp_gcp.services.infra import terraform

    return terraform.contract(_project(ctx), env, outputs_file)


def _repository(outputs: PlatformOutputs) -> Any:
    from kfp_gcp.services.images.registry import Repository

    if not outputs.registry.images:
        raise ConfigError(
            f"environment {outputs.environment} has no image registry",
            hint="enable it (settings registry.enabled, the default) and apply the environment",
        )
    return Repository.parse(outputs.registry.images)


def _builder(choice: BuilderChoice, outputs: PlatformOutputs | None) -> Builder:
    from kfp_gcp.services.images import build

    if choice is BuilderChoice.docker:
        return build.Docker()
    if outputs is None:
        raise ConfigError(
            "--builder cloudbuild needs --env: it runs in the environment's project",
            hint="add --env ENV",
        )
    _repository(outputs)
    target = build.CloudBuildTarget(
        project=outputs.project_id,
        region=outputs.region,
        bucket=outputs.registry.build_bucket,
        service_account=outputs.registry.builder,
    )
    return build.CloudBuild(target)


def _progress(total: int) -> tuple[Any, Any]:
    """A listener that prints each image's start and end, and a sink for the tool's lines:
    the latest one in a status line on a terminal, every line (dimmed) elsewhere (CI logs)."""
    status = output.stderr.status("")
    seen: dict[str, int] = {}

    def listener(result: ImageResult) -> None:
        number = seen.setdefault(result.name, len(seen) + 1)
        where = f"[{number}/{total}] {result.name}:{result.tag[:12]}"
        if result.status == "building":
            output.stderr.print(f"{where} building...", soft_wrap=True)
            status.update(f"{where} building...")
            status.start()
            return
        status.stop()
        mark = {"failed": "[red]✗[/]", "exists": "[dim]=[/]", "would-push": "[yellow]+[/]"}
        took = f" {output.seconds(result.seconds)}" if result.seconds else ""
        detail = result.error or result.digest
        output.stderr.print(
            f"{mark.get(result.status, '[green]✓[/]')} {where} {result.status}{took}"
            + (f": {detail}" if detail else ""),
            soft_wrap=True,
        )

    def sink(line: str) -> None:
        if output.stderr.is_terminal:
            status.update(Text(line[:120], style="dim"))
        else:
            output.stderr.print(f"  {line}", style="dim", soft_wrap=True, markup=False)

    return listener, sink


def _results_table(results: list[ImageResult], title: str) -> Table:
    colours = {"failed": "red", "exists": "dim", "would-push": "yellow"}
    t = Table("Image", "Tag", "Result", "Digest", "Time", title=title)
    for r in results:
        colour = colours.get(r.status, "green")
        t.add_row(
            r.name,
            r.tag,
            f"[{colour}]{r.status}[/]" + (f": {r.error}" if r.error else ""),
            r.digest or "-",
            output.seconds(r.seconds),
        )
    return t


@app.command("lock")
def lock(
    ctx: typer.Context,
    check: Annotated[
        bool, typer.Option("--check", help="Change nothing; fail if a file is stale.")
    ] = False,
) -> None:
    """Write each images/<name>/requirements.txt from uv.lock (dependency group image-<name>).

    Run it after changing an image group in pyproject.toml (and `make sync`); commit the
    result. The image then installs exactly the versions the tests ran.
    """
    from kfp_gcp.services.images import context

    root = _project(ctx).root
    images = context.discover(root)
    if check:
        context.require_fresh_locks(root, images)
        changed: list[str] = []
    else:
        changed = context.write_locks(root, images)
    rows = [
        {"image": i.name, "file": f"images/{i.name}/{context.LOCK_FILE}", "tag": i.tag}
        for i in images
    ]

    def table() -> Table:
        t = Table("Image", "Requirements", "Tag", title="Image locks")
        for row in rows:
            changed_mark = " [yellow](rewritten)[/]" if row["file"] in changed else ""
            t.add_row(row["image"], row["file"] + changed_mark, row["tag"])
        return t

    output.emit(ctx.obj, {"images": rows, "changed": changed}, table)


@app.command("list")
def list_images(
    ctx: typer.Context,
    env: Annotated[
        str | None,
        typer.Option(
            "--env", "-e", help="Also say whether each tag is in the environment's registry."
        ),
    ] = None,
    outputs_file: OutputsOption = None,
) -> None:
    """List the images: name, content tag, the files it hashes, and (with --env) its
    reference in the environment's registry and whether it is there."""
    from kfp_gcp.services.images import context
    from kfp_gcp.services.images.registry import ArtifactRegistry

    root = _project(ctx).root
    images = context.discover(root)
    repository = _repository(_contract(ctx, env, outputs_file)) if env else None
    registry = ArtifactRegistry() if repository else None
    rows: list[dict[str, Any]] = []
    for image in images:
        row: dict[str, Any] = {
            "name": image.name,
            "tag": image.tag,
            "files": [p.relative_to(image.folder).as_posix() for p in image.files()],
            "base_image": context.base_image(image.dockerfile),
        }
        if repository and registry:
            digest = registry.digest(repository, image.name, image.tag)
            row["reference"] = repository.reference(image.name, image.tag)
            row["digest"] = digest or ""
            row["pushed"] = digest is not None
        rows.append(row)

    def table() -> Table:
        columns = ["Image", "Tag", "Base", "Files"] + (["In the registry"] if env else [])
        t = Table(*columns, title="Images" + (f" ({env})" if env else ""))
        for row in rows:
            cells = [row["name"], row["tag"], row["base_image"], ", ".join(row["files"])]
            if env:
                cells.append(
                    f"[green]{row['digest']}[/]" if row["pushed"] else "[yellow]not pushed[/]"
                )
            t.add_row(*cells)
        return t

    output.emit(ctx.obj, rows, table)


@app.command("build")
def build_images(
    ctx: typer.Context,
    names: NamesArgument = None,
    env: Annotated[
        str | None,
        typer.Option(
            "--env",
            "-e",
            help="Tag for the environment's registry (and with --builder cloudbuild, build "
            "there). Default: a local tag, localhost/kfp-gcp/NAME:TAG, for `pipelines run "
            "--local --docker`.",
        ),
    ] = None,
    builder: BuilderOption = BuilderChoice.docker,
    outputs_file: OutputsOption = None,
) -> None:
    """Build images without pushing them (a pull request's check, or local runs in docker).

    Each image is built from a staged copy of exactly the files its tag hashes, for
    linux/amd64 (GKE's nodes). One failure does not stop the others; the command exits
    non-zero if any failed.
    """
    from kfp_gcp.services.images import build, context

    root = _project(ctx).root
    images = context.select(root, names)
    context.require_fresh_locks(root, images)
    outputs = _contract(ctx, env, outputs_file) if env else None
    chosen = _builder(builder, outputs)
    if outputs is not None:
        repository = _repository(outputs)

        def reference(image: context.ImageSource) -> str:
            return str(repository.reference(image.name, image.tag))
    else:
        reference = build.local_reference
    listener, sink = _progress(len(images))
    results = build.build(images, chosen, reference, listener, sink)
    output.emit(ctx.obj, results, lambda: _results_table(results, f"Built ({chosen.name})"))
    build.require_success(results, "build")


@app.command("push")
def push_images(
    ctx: typer.Context,
    env: Annotated[str, typer.Option("--env", "-e", help="The environment.")],
    names: NamesArgument = None,
    builder: BuilderOption = BuilderChoice.docker,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only say which images the registry lacks.")
    ] = False,
    outputs_file: OutputsOption = None,
) -> None:
    """Build and push every image whose tag the environment's registry does not have.

    Tags are content hashes and the repository's tags are immutable, so an image already
    there is skipped without building. Run it before `kfp-gcp pipelines deploy`, which
    refuses to publish a pipeline whose images are missing. Exit codes: 0 all present, 10
    an image failed to build or push (the others were pushed), 7 no docker daemon or gcloud.
    """
    from kfp_gcp.services.images import build, context
    from kfp_gcp.services.images.registry import ArtifactRegistry

    root = _project(ctx).root
    images = context.select(root, names)
    context.require_fresh_locks(root, images)
    outputs = _contract(ctx, env, outputs_file)
    repository = _repository(outputs)
    chosen = _builder(builder, outputs)
    listener, sink = _progress(len(images))
    results = build.push(
        images, chosen, repository, ArtifactRegistry(), listener, sink, dry_run=dry_run
    )
    output.emit(
        ctx.obj,
        results,
        lambda: _results_table(results, f"{repository.path} ({chosen.name})"),
    )
    build.require_success(results, "push")

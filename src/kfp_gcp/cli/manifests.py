"""`kfp-gcp manifests render`: KFP's Kubernetes manifests for an environment, as YAML."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from kfp_gcp import output
from kfp_gcp.cli.common import OutputsOption
from kfp_gcp.cli.common import project as _project
from kfp_gcp.errors import ConfigError

if TYPE_CHECKING:
    from kfp_gcp.services.infra.terraform import PlatformOutputs
    from kfp_gcp.services.manifests.compose import Rendered
    from kfp_gcp.services.ops.sqladmin import Operation

# A literal so that `--help` does not import the service; equal to upstream.UPSTREAM_DIR_ENV.
UPSTREAM_DIR_ENV = "KFP_GCP_UPSTREAM_DIR"

app = typer.Typer(
    help="Render, fetch and apply KFP's Kubernetes manifests (manifests/).",
    no_args_is_help=True,
)


EnvOption = Annotated[
    str,
    typer.Option("--env", "-e", help="The environment: a folder under manifests/overlays/."),
]
VersionOption = Annotated[
    str | None,
    typer.Option(
        "--version",
        help="A KFP version from manifests/versions.yaml. Default: the lock's default.",
        show_default=False,
    ),
]
UpstreamOption = Annotated[
    Path | None,
    typer.Option(
        "--upstream-dir",
        envvar=UPSTREAM_DIR_ENV,
        help="A folder of unpacked upstream sources (pipelines-2.17.0/, argo-workflows-4.0.5/, "
        "...). Default: the cache that `kfp-gcp manifests fetch` fills.",
        file_okay=False,
    ),
]
MirrorOption = Annotated[
    list[str] | None,
    typer.Option(
        "--registry-mirror",
        help="Pull images through other Artifact Registry remote repositories than the "
        "contract's registry.mirrors (the environment's own, used by default): "
        "REGISTRY=REGION-docker.pkg.dev/PROJECT/REPO (repeat per registry), or one "
        "REGION-docker.pkg.dev/PROJECT for all of docker.io, gcr.io, ghcr.io, quay.io and "
        "registry.k8s.io under the repositories docker-hub, gcr, ghcr, quay, registry-k8s.",
    ),
]


def _summary(rendered: Rendered, out: Path | None) -> dict[str, object]:
    return {
        "environment": rendered.env,
        "version": rendered.version,
        "out": str(out) if out else "-",
        "objects": len(rendered.objects),
        "kinds": rendered.counts(),
    }


@app.command("render")
def render(
    ctx: typer.Context,
    env: EnvOption,
    version: VersionOption = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Write the YAML to this file instead of stdout.", dir_okay=False
        ),
    ] = None,
    outputs_file: OutputsOption = None,
    upstream_dir: UpstreamOption = None,
    registry_mirror: MirrorOption = None,
) -> None:
    """Render KFP for an environment: the cluster-scoped bundle, then the namespaced one.

    Builds manifests/overlays/ENV with kustomize against the pinned upstream release and the
    environment's outputs contract, in build/manifests/ENV-VERSION/. The YAML goes to stdout
    (or --out); a count of objects by kind goes to stderr. Secrets are not rendered:
    `kfp-gcp manifests apply` creates them from Secret Manager (docs/manifests.md).

    Example: kfp-gcp manifests render --env dev --outputs outputs.json --out dev.yaml
    """
    from kfp_gcp.services.infra import terraform
    from kfp_gcp.services.manifests import compose

    project = _project(ctx)
    mirrors = compose.parse_mirrors(registry_mirror or [])
    contract = terraform.contract(project, env, outputs_file)
    rendered = compose.render(
        project,
        env,
        version=version,
        upstream_dir=upstream_dir,
        outputs=contract,
        registry_mirrors=mirrors,
    )
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(rendered.text, encoding="utf-8")
    else:
        sys.stdout.write(rendered.text)
        sys.stdout.flush()

    summary = _summary(rendered, out)
    if ctx.obj.output is output.OutputFormat.json:
        sys.stderr.write(json.dumps(summary, indent=2, sort_keys=True) + "\n")
        return
    table = Table(
        "Kind",
        "Cluster-scoped",
        "Namespaced",
        title=f"{env}, KFP {rendered.version}: {len(rendered.objects)} objects"
        + (f" -> {out}" if out else ""),
    )
    for kind, counts in rendered.counts().items():
        table.add_row(kind, str(counts["cluster-scoped"] or ""), str(counts["namespaced"] or ""))
    output.stderr.print(table)
    mirrors = {**contract.registry.mirrors, **mirrors}
    if mirrors:
        output.stderr.print(
            "images from " + ", ".join(f"{r} -> {p}" for r, p in sorted(mirrors.items())),
            highlight=False,
            soft_wrap=True,
        )


def _render(
    ctx: typer.Context,
    env: str,
    version: str | None,
    outputs_file: Path | None,
    upstream_dir: Path | None,
    registry_mirror: list[str] | None,
    mirrored: bool = True,
) -> tuple[Rendered, PlatformOutputs]:
    from kfp_gcp.services.infra import terraform
    from kfp_gcp.services.manifests import compose

    project = _project(ctx)
    contract = terraform.contract(project, env, outputs_file)
    rendered = compose.render(
        project,
        env,
        version=version,
        upstream_dir=upstream_dir,
        outputs=contract,
        registry_mirrors=compose.parse_mirrors(registry_mirror or []),
        mirrored=mirrored,
    )
    return rendered, contract


@app.command("apply")
def apply(
    ctx: typer.Context,
    env: EnvOption,
    version: VersionOption = None,
    outputs_file: OutputsOption = None,
    upstream_dir: UpstreamOption = None,
    registry_mirror: MirrorOption = None,
    object_store_secret: Annotated[
        str | None,
        typer.Option(
            "--object-store-secret",
            help="KFP 2.14.4 only: Secret Manager id (projects/P/secrets/S) of JSON "
            '{"accesskey": ..., "secretkey": ...}, an HMAC key of the read-only object store '
            "account (the contract's service_accounts.object_store).",
        ),
    ] = None,
    timeout: Annotated[
        int, typer.Option(help="Seconds to wait for the Deployments.", min=30)
    ] = 900,
) -> None:
    """Render and apply KFP to the environment's cluster, then wait until it is up.

    Order: credentials for exactly the contract's cluster (DNS endpoint); every Secret
    read from Secret Manager before the first write; the cluster-scoped bundle (CRDs
    established); the Secrets; the Cloud SQL proxy alone, then a check through it that the
    database user has the mysql_native_password plugin ML Metadata needs (if not, it
    stops there and prints the ALTER USER that fixes it); everything else with server-side
    apply; then a wait for every Deployment, failing with the names of those that did not
    become available.

    Before a KFP version change (the cluster's pipeline-install-config names another
    version), it takes an on-demand Cloud SQL backup and waits for it (needs
    roles/cloudsql.admin); `kfp-gcp db restore` can return to it. A paused environment
    gets its objects applied without any wait or database check (they start on resume).
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from kfp_gcp.services.cluster import deploy

    rendered, contract = _render(ctx, env, version, outputs_file, upstream_dir, registry_mirror)
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        console=output.stderr, transient=True,
    ) as progress:  # fmt: skip
        bar = progress.add_task("Deployments available", total=None)

        def step(text: str) -> None:
            output.stderr.print(f"[dim]-[/] {text}")

        def available(done: int, total: int) -> None:
            progress.update(bar, completed=done, total=total)

        def backup(description: str) -> str:
            from kfp_gcp.services.ops import db
            from kfp_gcp.services.ops.sqladmin import SqlAdmin

            def operation(op: Operation, elapsed: float) -> None:
                progress.update(
                    bar, description=f"database backup: {op.status.lower()} ({elapsed:.0f}s)"
                )

            run = db.backup(contract, SqlAdmin(), description, operation)
            progress.update(bar, description="Deployments available")
            return run.id

        report = deploy.apply(
            contract,
            rendered.version,
            rendered.cluster_scoped,
            rendered.namespaced,
            step,
            available,
            object_store_secret=object_store_secret,
            timeout_s=timeout,
            backup=backup,
        )

    def table() -> Table:
        t = Table("What", "Applied", title=f"KFP {report.version} on {report.cluster}")
        t.add_row("cluster-scoped objects", str(report.cluster_scoped_objects))
        t.add_row("namespaced objects", str(report.namespaced_objects))
        t.add_row("Secrets (from Secret Manager)", ", ".join(report.secrets))
        if report.backup:
            t.add_row(
                f"database backup before {report.deployed_before} -> {report.version}",
                report.backup,
            )
        if report.waited:
            t.add_row("database user (ML Metadata can log in)", report.database_user)
            t.add_row("Deployments available", str(len(report.deployments)))
        else:
            t.add_row("Deployments (paused: start on resume)", str(len(report.deployments)))
        return t

    output.emit(ctx.obj, report, table)


@app.command("diff")
def diff(
    ctx: typer.Context,
    env: EnvOption,
    version: VersionOption = None,
    from_version: Annotated[
        str | None, typer.Option("--from", help="Compare two renders: this KFP version...")
    ] = None,
    to_version: Annotated[str | None, typer.Option("--to", help="...with this one.")] = None,
    outputs_file: OutputsOption = None,
    upstream_dir: UpstreamOption = None,
) -> None:
    """Show what would change: between two KFP versions, or against the live cluster.

    With --from and --to, both versions are rendered for the environment and compared
    object by object (no cluster needed; use it before an upgrade). Without them, the
    render of --version is compared with the cluster by `kubectl diff --server-side`.
    """
    from kfp_gcp.services.cluster import deploy
    from kfp_gcp.services.manifests import compose

    if (from_version is None) != (to_version is None):
        raise ConfigError("--from and --to go together", hint="pass both, or neither")
    if from_version and to_version:
        # Two releases as upstream names their images (the live diff below is mirrored).
        old, _ = _render(ctx, env, from_version, outputs_file, upstream_dir, None, False)
        new, _ = _render(ctx, env, to_version, outputs_file, upstream_dir, None, False)
        changes = compose.object_diff(old.objects, new.objects)
        sys.stdout.write(changes.text)
        output.stderr.print(
            f"{env}: KFP {from_version} -> {to_version}: {len(changes.added)} added, "
            f"{len(changes.removed)} removed, {len(changes.changed)} changed objects"
        )
        return
    rendered, contract = _render(ctx, env, version, outputs_file, upstream_dir, None)
    text = deploy.live_diff(contract, rendered.cluster_scoped, rendered.namespaced)
    sys.stdout.write(text)
    output.stderr.print("no differences with the cluster" if not text else "differences above")

"""`kfp-gcp manifests fetch`, `versions` and `pin`: the pinned upstream releases.

The commands are plain functions; `register(app)` adds them to the `manifests` typer app.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Column, Table

from kfp_gcp import output
from kfp_gcp.cli.common import OutputsOption
from kfp_gcp.errors import ConfigError, KfpGcpError

if TYPE_CHECKING:
    from kfp_gcp.services.project import Project

# Kept here as literals so that `--help` does not import the service (and pydantic);
# a test checks they equal kfp_gcp.services.manifests.upstream's constants.
GITHUB = "https://github.com"
GITHUB_URL_ENV = "KFP_GCP_GITHUB_URL"
UPSTREAM_DIR_ENV = "KFP_GCP_UPSTREAM_DIR"


def _project(ctx: typer.Context) -> Project:
    from kfp_gcp.services.project import find_project

    return find_project(ctx.obj.project_dir)


def _size(size: int | None) -> str:
    return "-" if size is None else f"{size / 1e6:.1f} MB"


def fetch(
    ctx: typer.Context,
    version: Annotated[
        list[str] | None,
        typer.Option(
            "--version",
            help="A KFP version from manifests/versions.yaml; repeat for more. "
            "Default: the lock's default version.",
            show_default=False,
        ),
    ] = None,
    all_versions: Annotated[
        bool, typer.Option("--all", help="Fetch every supported version.")
    ] = False,
    force: Annotated[
        bool,
        typer.Option("--force", help="Download again even when the cache holds the pinned commit."),
    ] = False,
    base_url: Annotated[
        str,
        typer.Option(
            "--base-url", envvar=GITHUB_URL_ENV, hidden=True, help="Where to download from."
        ),
    ] = GITHUB,
) -> None:
    """Download the pinned KFP and Argo Workflows sources into build/upstream/sources.

    Each release's GitHub source tarball is downloaded by tag, and unpacked only if the
    commit git recorded in it is the commit pinned in manifests/versions.yaml; only
    `manifests/` and `LICENSE` are kept. A folder already fetched at the pinned commit
    is not downloaded again. Builds read this cache unless --upstream-dir or
    KFP_GCP_UPSTREAM_DIR points them at other unpacked sources.

    Example: kfp-gcp manifests fetch --all
    """
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TaskID,
        TextColumn,
        TransferSpeedColumn,
    )

    from kfp_gcp.services.manifests import upstream
    from kfp_gcp.services.project import relative

    project = _project(ctx)
    lock = upstream.load_lock(project)
    if all_versions and version:
        raise ConfigError(
            "--all and --version exclude each other", hint="pass one of them, or neither"
        )
    chosen = list(lock.releases) if all_versions else list(dict.fromkeys(version or [lock.default]))
    for v in chosen:
        upstream.release(project, v)  # every name is checked before anything is downloaded
    cache = upstream.cache_dir(project)
    output.stderr.print(
        f"fetching KFP {', '.join(chosen)} into {relative(project, cache)}",
        highlight=False,
    )
    results: list[upstream.Fetched] = []
    tasks: dict[str, TaskID] = {}
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=output.stderr,
        disable=not output.stderr.is_terminal,
    ) as bars:

        def progress(label: str, done: int, total: int | None) -> None:
            if label not in tasks:
                tasks[label] = bars.add_task(label, total=total)
                if bars.disable:  # no live bars in logs: one line per download
                    output.stderr.print(f"downloading {label}", highlight=False, soft_wrap=True)
            bars.update(tasks[label], completed=done, total=total)

        for v in chosen:
            results.extend(upstream.fetch(project, v, progress, base_url=base_url, force=force))

    def table() -> Table:
        t = Table(
            "Version", "Upstream", "Tag", "Commit", "Result", "Size", "SHA-256", title="Fetched"
        )
        for r in results:
            t.add_row(
                r.version,
                r.repository,
                r.tag,
                r.commit[:12],
                r.result,
                _size(r.size),
                (r.sha256 or "-")[:12],
            )
        return t

    output.emit(ctx.obj, {"cache": cache, "tarballs": results}, table)
    override = os.environ.get(UPSTREAM_DIR_ENV)
    if override and Path(override).resolve() != cache:
        output.stderr.print(
            f"note: {UPSTREAM_DIR_ENV} is set, so builds read {override}, not this cache",
            highlight=False,
            soft_wrap=True,
        )


def versions(
    ctx: typer.Context,
    upstream_dir: Annotated[
        Path | None,
        typer.Option(
            "--upstream-dir",
            help="A folder of unpacked upstream sources in GitHub's tarball layout "
            f"(pipelines-2.17.0/, argo-workflows-4.0.5/, ...). Default: {UPSTREAM_DIR_ENV}, "
            "else the cache that `kfp-gcp manifests fetch` fills (build/upstream/sources).",
            file_okay=False,
        ),
    ] = None,
) -> None:
    """List the supported KFP versions, their pinned KFP and Argo commits, and their sources.

    Sources are `present`, `missing` (run `kfp-gcp manifests fetch`), or `stale` (the
    cache holds another commit than manifests/versions.yaml pins: fetch again).
    """
    from kfp_gcp.services.manifests import upstream
    from kfp_gcp.services.project import relative

    project = _project(ctx)
    sources = upstream.sources_dir(project, upstream_dir)
    rows = upstream.supported(project, sources)
    data: dict[str, Any] = {
        "sources_dir": sources,
        "versions": [
            {
                "version": r.version,
                "default": r.default,
                "kfp": r.kfp.model_dump(),
                "argo": r.argo.model_dump(),
                "sources": r.sources,
            }
            for r in rows
        ],
    }

    def table() -> Table:
        t = Table(
            "Version",
            "Default",
            "KFP tag",
            Column("KFP commit", no_wrap=True),
            "Argo tag",
            Column("Argo commit", no_wrap=True),
            "Sources",
            title="Supported KFP versions",
            pad_edge=False,
            caption=f"sources: {relative(project, sources)}; "
            "full commits: manifests/versions.yaml or -o json",
        )
        colours = {"present": "green", "missing": "yellow", "stale": "red"}
        for r in rows:
            t.add_row(
                r.version,
                "yes" if r.default else "",
                r.kfp.tag,
                r.kfp.commit[:12],
                r.argo.tag,
                r.argo.commit[:12],
                f"[{colours[r.sources]}]{r.sources}[/]",
            )
        return t

    output.emit(ctx.obj, data, table)


def pin(
    ctx: typer.Context,
    version: Annotated[
        str,
        typer.Option(
            "--version", help="The KFP release tag to pin, e.g. 2.18.0.", show_default=False
        ),
    ],
    env: Annotated[
        str,
        typer.Option(
            "--env", "-e", help="Render this environment with the current and the new release."
        ),
    ],
    outputs_file: OutputsOption = None,
    upstream_dir: Annotated[
        Path | None,
        typer.Option(
            "--upstream-dir",
            envvar=UPSTREAM_DIR_ENV,
            help="Unpacked sources of the current release (default: the fetch cache). The "
            "new release always goes to, and renders from, the fetch cache.",
            file_okay=False,
        ),
    ] = None,
    base_url: Annotated[
        str,
        typer.Option(
            "--base-url", envvar=GITHUB_URL_ENV, hidden=True, help="Where to download from."
        ),
    ] = GITHUB,
) -> None:
    """Pin a new KFP release: download, verify, record, render, and list what to review.

    On a machine that reaches github.com: renders ENV with the current default release,
    downloads KFP's tag tarball and the Argo Workflows tarball its manifests name, reads
    the commit git recorded in each, unpacks them into the fetch cache, records tags and
    commits in manifests/versions.yaml (a release of the same MAJOR.MINOR is replaced),
    gives the release its components/kfp-MAJOR.MINOR (the existing one with its image tags
    moved, or a copy of the default's), renders ENV with it, and prints what a reviewer
    must check: changed images, new or removed RBAC rules and CRDs, settings upstream
    removed (and those kfp-gcp still sets), the API server's built-in plugins, and the
    release notes. The default release does not change: edit `default:` after review
    (docs/upgrading.md).

    Example: kfp-gcp manifests pin --version 2.18.0 --env dev --outputs outputs.json
    """
    from kfp_gcp.services.infra import terraform
    from kfp_gcp.services.manifests import compose, release, upstream

    project = _project(ctx)
    lock = upstream.load_lock(project)
    contract = terraform.contract(project, env, outputs_file)
    # Upstream's image names: the review compares releases, not where the cluster pulls.
    current = compose.render(
        project, env, version=lock.default, upstream_dir=upstream_dir, outputs=contract,
        mirrored=False,
    )  # fmt: skip
    output.stderr.print(f"rendered {env} with KFP {current.version} (the default)")

    def progress(label: str, done: int, total: int | None) -> None:
        if done == 0:
            output.stderr.print(f"downloading {label}", highlight=False, soft_wrap=True)

    pinned = release.pin(project, version, progress, base_url=base_url)
    output.stderr.print(
        f"pinned KFP {pinned.version} ({pinned.kfp.commit[:12]}) with Argo "
        f"{pinned.argo.tag} ({pinned.argo.commit[:12]}) in manifests/versions.yaml"
        + (f", replacing {pinned.replaced}" if pinned.replaced else ""),
        highlight=False,
        soft_wrap=True,
    )
    if pinned.scaffolded_from:
        output.stderr.print(
            f"created manifests/{pinned.component} from manifests/{pinned.scaffolded_from}: "
            "review it",
            highlight=False,
            soft_wrap=True,
        )
    try:
        new = compose.render(
            project, env, version=pinned.version, upstream_dir=upstream.cache_dir(project),
            outputs=contract, mirrored=False,
        )  # fmt: skip
    except KfpGcpError as exc:
        raise type(exc)(
            f"KFP {pinned.version} is pinned, but its render fails: {exc.message}",
            hint=f"adapt manifests/{pinned.component} (or the components it patches), then "
            f"kfp-gcp manifests diff --env {env} --from {current.version} --to {pinned.version}",
        ) from None
    found = release.review(current, new, pinned.argo.tag, pinned.api_server_plugins)

    def table() -> Table:
        t = Table(
            "Check",
            "What changed",
            title=f"{env}: KFP {found.old} -> {found.new}: review before making it the default",
            show_lines=True,
        )
        images = "\n".join(f"{name}: {old} -> {new}" for name, old, new in found.images)
        t.add_row("images", images or "none")
        t.add_row("RBAC rules", "\n".join(found.rbac) or "none")
        t.add_row("CRDs", "\n".join(found.crds) or "none")
        t.add_row("settings upstream removed", "\n".join(found.removed_settings) or "none")
        t.add_row(
            "kfp-gcp still sets (upstream removed)", "\n".join(found.stale_settings) or "none"
        )
        t.add_row(
            "API server plugins (config.json)",
            (", ".join(found.api_server_plugins) or "none")
            + '\n(docs/manifests.md, "The MLflow plugin": check the proof still holds)',
        )
        t.add_row("release notes", "\n".join(found.release_notes))
        t.add_row(
            "then",
            f'set default: "{pinned.version}" in manifests/versions.yaml, add it to the '
            "tests' VERSIONS, refresh the golden snapshots and checkov numbers",
        )
        return t

    output.emit(ctx.obj, {"pinned": pinned, "review": found}, table)


def register(app: typer.Typer) -> None:
    """Add `fetch`, `versions` and `pin` to the `manifests` typer app."""
    app.command("fetch")(fetch)
    app.command("versions")(versions)
    app.command("pin")(pin)

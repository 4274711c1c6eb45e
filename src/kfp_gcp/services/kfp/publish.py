"""`pipelines deploy`: compile everything, then publish only what changed.

- All or nothing before the first write: every selected pipeline is compiled and its
  schedules validated before any request is made; one failure stops the deploy.
- Content addressed: `digest` is the SHA-256 of the compiled spec as canonical JSON (all
  YAML documents, keys sorted), without `sdkVersion` (see `content_digest`).
- A version is named `v-<first 12 hex of the digest>`, and its description carries the
  full digest, the git commit and author, and the source path. A version "exists" when
  its name or its description carries the digest.
- Default version: the v2beta1 API has no "set default version" call; KFP treats the
  newest version as the pipeline's default (runs that name only the pipeline use it, and
  so does the UI). A pipeline is unchanged only when its *newest* version has the digest.
  When an older version has it (a revert), deploy uploads it again as
  `v-<hash>-r<N>` so the repository's content becomes the default again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any

import yaml

from kfp_gcp.errors import CompileError, PublishError
from kfp_gcp.services.kfp import schedules
from kfp_gcp.services.kfp.api import AlreadyExists, KfpApi
from kfp_gcp.services.pipelines import params
from kfp_gcp.services.pipelines.compiler import compile_all, require_compiled
from kfp_gcp.services.project import Project, Source, load, relative

EXCLUDED_FIELDS = ("sdkVersion",)
MARKER = "content-sha256: "


def content_digest(text: str) -> str:
    """SHA-256 of a compiled pipeline, stable across machines, runs and SDK patch releases.

    Hashes the parsed YAML documents (the pipeline spec and, with kfp-kubernetes, the
    platform spec) as canonical JSON, so comments (the header with parameter defaults)
    and key order do not count. `sdkVersion` is dropped: it names the kfp release that
    compiled the spec; an SDK upgrade that changes what runs also changes the executor
    commands (which pin `kfp==...`), so the hash still moves when behaviour can.
    """
    documents = [d for d in yaml.safe_load_all(text) if d is not None]
    for document in documents:
        if isinstance(document, dict):
            for field in EXCLUDED_FIELDS:
                document.pop(field, None)
    canonical = json.dumps(documents, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def version_name(digest: str) -> str:
    return f"v-{digest[:12]}"


def display_name(spec: dict[str, Any]) -> str:
    """The pipeline's name in KFP: `@dsl.pipeline(display_name=...)` if given (any text),
    else its `name` (which the compiler reduces to lower case, digits and -)."""
    info = spec["pipelineInfo"]
    return str(info.get("displayName") or info["name"])


@dataclasses.dataclass
class Compiled:
    name: str  # folder under pipelines/
    display_name: str  # pipelineInfo.name: the pipeline's name in KFP
    source: str
    path: Path
    digest: str
    schedules: list[schedules.Schedule]


@dataclasses.dataclass
class GitInfo:
    commit: str = "unknown"
    author: str = "unknown"
    dirty: bool = False


def git_info(root: Path) -> GitInfo:
    try:
        log = subprocess.run(
            ["git", "-C", str(root), "log", "-1", "--format=%H%x00%an <%ae>"],
            capture_output=True, text=True, check=True, timeout=10,
        )  # fmt: skip
        commit, author = log.stdout.strip().split("\0", 1)
        status = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--", "pipelines", "components"],
            capture_output=True, text=True, check=True, timeout=10,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError, ValueError):
        return GitInfo()
    return GitInfo(commit=commit, author=author, dirty=bool(status.stdout.strip()))


def describe(compiled: Compiled, git: GitInfo) -> str:
    commit = git.commit + (" + uncommitted changes" if git.dirty else "")
    return (
        f"{MARKER}{compiled.digest}\n"
        f"source: {compiled.source}\n"
        f"commit: {commit}\n"
        f"author: {git.author}\n"
        "published by kfp-gcp pipelines deploy"
    )


def prepare(project: Project, sources: list[Source]) -> list[Compiled]:
    """Compile and validate every source; raise before anything is published."""
    results = compile_all(project, sources)
    require_compiled(
        results, ", nothing was published", hint="fix the files named above and deploy again"
    )
    prepared = []
    for source, result in zip(sources, results, strict=True):
        assert result.output is not None
        text = result.output.read_text(encoding="utf-8")
        spec = next(d for d in yaml.safe_load_all(text) if d)
        pipeline = load(project, source)
        prepared.append(
            Compiled(
                name=source.name,
                display_name=display_name(spec),
                source=relative(project, source.path),
                path=result.output,
                digest=content_digest(text),
                schedules=schedules.load(project, source.path.parent, params.signature(pipeline)),
            )
        )
    names = [c.display_name for c in prepared]
    clashes = sorted({n for n in names if names.count(n) > 1})
    if clashes:
        raise CompileError(
            f"several pipelines are named {', '.join(map(repr, clashes))} in KFP",
            hint="give each @dsl.pipeline its own name (the folder name with - for _)",
        )
    return prepared


@dataclasses.dataclass
class Result:
    pipeline: str
    status: str  # created, new-version, restored, unchanged, failed; would-* with --dry-run
    version: str = ""
    digest: str = ""
    pipeline_id: str = ""
    version_id: str = ""
    writes: int = 0
    error: str = ""
    schedules: list[schedules.ScheduleResult] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Summary:
    host: str
    namespace: str
    dry_run: bool
    results: list[Result]
    requests: int = 0
    retries: int = 0

    @property
    def writes(self) -> int:
        return sum(r.writes + sum(s.writes for s in r.schedules) for r in self.results)


def carries(version: Any, digest: str) -> bool:
    name = version.display_name or version.name or ""
    short = version_name(digest)
    return (
        name == short
        or name.startswith(f"{short}-r")
        or f"{MARKER}{digest}" in (version.description or "")
    )


def _publish_one(
    api: KfpApi, compiled: Compiled, existing: Any | None, git: GitInfo, dry_run: bool
) -> Result:
    result = Result(pipeline=compiled.display_name, status="", digest=compiled.digest)
    description = describe(compiled, git)
    path = str(compiled.path)
    created = False
    pipeline = existing
    if pipeline is None:
        if dry_run:
            result.status = "would-create"
            result.version = version_name(compiled.digest)
            return result
        try:
            pipeline = api.upload_pipeline(path, compiled.display_name, description)
            result.writes += 1
            created = True
        except AlreadyExists:
            # Created by someone else between our list and our upload (or by our own
            # attempt whose answer was lost): use it, and check its versions below. It was
            # missing when this deploy started, so "created" describes the outcome.
            created = True
            pipeline = api.pipeline_named(compiled.display_name)
            if pipeline is None:
                raise PublishError(
                    f"upload of {compiled.display_name!r} conflicted, yet no such pipeline is "
                    f"listed in namespace {api.namespace!r}",
                    hint="check the namespace setting (kfp_namespace) and retry",
                ) from None
    result.pipeline_id = str(pipeline.pipeline_id)
    versions = api.versions(result.pipeline_id)
    matching = [v for v in versions if carries(v, compiled.digest)]
    if versions and matching and versions[0] is matching[0]:
        result.status = "created" if created else "unchanged"
        result.version = matching[0].display_name
        result.version_id = str(matching[0].pipeline_version_id)
        return result
    name = version_name(compiled.digest)
    if matching:  # an older version has this content: re-upload to make it the default
        taken = {v.display_name for v in versions}
        n = 2
        while f"{name}-r{n}" in taken:
            n += 1
        name = f"{name}-r{n}"
        status = "restored"
    else:
        status = "created" if created else "new-version"
    result.version = name
    if dry_run:
        result.status = f"would-{status}"
        return result
    try:
        version = api.upload_version(path, name, result.pipeline_id, description)
        result.writes += 1
    except AlreadyExists:
        # A concurrent deploy uploaded the same name: success if it is our content.
        again = api.versions(result.pipeline_id)
        version = next((v for v in again if v.display_name == name), None)
        # Confirm by the full digest in the description, not by the name alone.
        if version is None or f"{MARKER}{compiled.digest}" not in (version.description or ""):
            raise PublishError(
                f"{compiled.display_name}: version {name!r} exists with other content",
                hint="someone uploaded a version with this name by hand; delete or rename it",
            ) from None
    result.status = status
    result.version_id = str(version.pipeline_version_id)
    return result


def deploy(
    api: KfpApi, project: Project, prepared: list[Compiled], dry_run: bool = False
) -> Summary:
    """Publish `prepared` (already compiled); never raises for one pipeline's failure."""
    git = git_info(project.root)
    summary = Summary(host=api.host, namespace=api.namespace, dry_run=dry_run, results=[])
    api.healthz()
    by_name = {p.display_name: p for p in api.pipelines()}
    existing_runs: list[Any] | None = None
    for compiled in prepared:
        try:
            result = _publish_one(api, compiled, by_name.get(compiled.display_name), git, dry_run)
        except PublishError as exc:
            summary.results.append(
                Result(compiled.display_name, "failed", digest=compiled.digest, error=exc.message)
            )
            continue
        summary.results.append(result)
        try:
            if existing_runs is None:
                existing_runs = api.recurring_runs()
            result.schedules = schedules.reconcile(
                api,
                compiled.display_name,
                result.pipeline_id or None,
                result.version_id or None,
                compiled.digest,
                compiled.schedules,
                existing_runs,
                dry_run=dry_run,
            )
        except PublishError as exc:
            result.status, result.error = "failed", f"schedules: {exc.message}"
    summary.requests, summary.retries = api.counters.requests, api.counters.retries
    return summary


def require_success(summary: Summary) -> None:
    failed = [r for r in summary.results if r.status == "failed"]
    if failed:
        raise PublishError(
            f"{len(failed)} of {len(summary.results)} pipelines failed: "
            + "; ".join(f"{r.pipeline}: {r.error}" for r in failed),
            hint="the others were published; fix the cause and deploy again (it is idempotent)",
        )

"""`pipelines deploy`: compile everything, then publish only what changed.

- All or nothing before the first write: every selected pipeline is compiled and its
  schedules validated, then everything deploy needs from KFP is read (concurrently, at
  most `api.CONCURRENCY` requests in flight), and only then do the writes start, one
  after the other in a fixed order. A failed read, or a refused rollback, writes nothing.
- Content addressed: `digest` is the SHA-256 of the compiled spec as canonical JSON (all
  YAML documents, keys sorted), without `sdkVersion` (see `content_digest`). Descriptions
  also carry the SHA-256 of the compiled file: when the newest version's matches, the
  pipeline is unchanged without parsing its YAML (a tenth of the compile time).
- Pipelines are keyed on their `name`, which KFP 2.17 keeps unique per namespace and never
  edits (the UI edits `display_name`). A version is named `v-<first 12 hex of the
  digest>`; its description carries the full digest, the git commit and author, and the
  source path. Descriptions cannot be edited in 2.17, so the digest in a description is
  what decides that a version "has this content".
- Cost independent of history: per pipeline one read of the newest version (page_size=1,
  sorted `created_at desc`: each listed version carries its whole spec); only when that
  one lacks the digest, one filtered read for older versions that have it.
- Default version: the v2beta1 API has no "set default version" call; KFP treats the
  newest version as the pipeline's default. A pipeline is unchanged only when its
  *newest* version has the digest; when an older version has it (a revert), deploy
  uploads it again as `v-<hash>-r<N>`. Versions created in the same second are ordered
  as the server lists them (by id after the second), the same order `submit` reads.
- No silent rollback: before replacing the newest version, deploy checks that the commit
  recorded in it is an ancestor of HEAD (`git merge-base --is-ancestor`); otherwise it
  refuses the whole deploy unless `allow_rollback`.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import functools
import hashlib
import json
import re
import subprocess
import threading
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml

from kfp_gcp.errors import CompileError, PublishError
from kfp_gcp.services.kfp import schedules
from kfp_gcp.services.kfp.api import CONCURRENCY, AlreadyExists, KfpApi
from kfp_gcp.services.pipelines import params
from kfp_gcp.services.pipelines.compiler import CompileResult, compile_one, require_compiled
from kfp_gcp.services.project import Project, Source, load, relative

EXCLUDED_FIELDS = ("sdkVersion",)
MARKER = "content-sha256: "
# The compiled file's own digest: equal files have equal content, so a version whose
# description has it is unchanged without parsing anything.
FILE_MARKER = "file-sha256: "
_CONTENT = re.compile(rf"^{MARKER}(?P<digest>[0-9a-f]{{64}})$", re.MULTILINE)
# Pipeline.Name is at most 128 bytes (validation/length.go); a version name adds "-rN".
NAME_MAX_BYTES = 128
_COMMIT = re.compile(r"^commit: (?P<commit>[0-9a-f]{40}|unknown)\b", re.MULTILINE)

Progress = Callable[[str], None]


# libyaml when installed: ten times faster on compiled specs; the same values either way.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_documents(text: str) -> list[Any]:
    return [d for d in yaml.load_all(text, Loader=_LOADER) if d is not None]


def content_digest(text: str) -> str:
    """SHA-256 of a compiled pipeline, stable across machines, runs and SDK patch releases.

    Hashes the parsed YAML documents (the pipeline spec and, with kfp-kubernetes, the
    platform spec) as canonical JSON, so comments (the header with parameter defaults)
    and key order do not count. `sdkVersion` is dropped: it names the kfp release that
    compiled the spec; an SDK upgrade that changes what runs also changes the executor
    commands (which pin `kfp==...`), so the hash still moves when behaviour can.
    """
    return _digest(parse_documents(text))


def _digest(documents: list[Any]) -> str:
    documents = [dict(d) if isinstance(d, dict) else d for d in documents]
    for document in documents:
        if isinstance(document, dict):
            for field in EXCLUDED_FIELDS:
                document.pop(field, None)
    canonical = json.dumps(documents, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def version_name(digest: str) -> str:
    return f"v-{digest[:12]}"


def collation_key(name: str) -> str:
    """Names KFP's MySQL database (utf8mb4_0900_ai_ci) treats as equal: case and accents
    do not count, so such names clash in its unique indexes."""
    decomposed = unicodedata.normalize("NFKD", name)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


@dataclasses.dataclass
class Compiled:
    name: str  # folder under pipelines/
    display_name: str  # the pipeline's name in KFP
    source: str
    path: Path
    file_digest: str  # SHA-256 of the compiled file's bytes
    schedules: list[schedules.Schedule]

    @functools.cached_property
    def digest(self) -> str:
        """The content digest; parsing costs as much as a tenth of compiling, so it is
        worked out only when the file digest does not already settle the question."""
        return content_digest(self.path.read_text(encoding="utf-8"))


@dataclasses.dataclass
class GitInfo:
    commit: str = "unknown"
    author: str = "unknown"
    dirty: bool = False
    shallow: bool = False


def _git(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10, check=False
    )


def git_info(root: Path) -> GitInfo:
    try:
        log = _git(root, "log", "-1", "--format=%H%x00%an <%ae>")
        if log.returncode:
            return GitInfo()
        commit, author = log.stdout.strip().split("\0", 1)
        status = _git(root, "status", "--porcelain", "--", "pipelines", "components")
        shallow = _git(root, "rev-parse", "--is-shallow-repository").stdout.strip() == "true"
    except (OSError, subprocess.SubprocessError, ValueError):
        return GitInfo()
    return GitInfo(commit=commit, author=author, dirty=bool(status.stdout.strip()), shallow=shallow)


class History:
    """Ancestry questions to the local clone, each asked once (from several threads)."""

    def __init__(self, root: Path, git: GitInfo) -> None:
        self.root = root
        self.git = git
        self._answers: dict[str, bool | None] = {}
        self._lock = threading.Lock()

    def contains(self, commit: str) -> bool | None:
        """Whether `commit` is HEAD or one of its ancestors; None when this clone cannot
        tell (it does not have the commit, or is shallow and says no)."""
        if commit == self.git.commit:
            return True
        with self._lock:
            return self._ask(commit)

    def _ask(self, commit: str) -> bool | None:
        if commit not in self._answers:
            known = _git(self.root, "cat-file", "-e", f"{commit}^{{commit}}").returncode == 0
            answer: bool | None = None
            if known:
                code = _git(self.root, "merge-base", "--is-ancestor", commit, "HEAD").returncode
                answer = True if code == 0 else (None if self.git.shallow else False)
            self._answers[commit] = answer
        return self._answers[commit]


def recorded_commit(description: str | None) -> str | None:
    """The commit a version's description records: 40 hex, "unknown" (published without
    git), or None when kfp-gcp did not publish it."""
    if not description or MARKER not in description:
        return None
    match = _COMMIT.search(description)
    return match["commit"] if match else None


def describe(compiled: Compiled, git: GitInfo) -> str:
    commit = git.commit + (" + uncommitted changes" if git.dirty else "")
    return (
        f"{MARKER}{compiled.digest}\n"
        f"{FILE_MARKER}{compiled.file_digest}\n"
        f"source: {compiled.source}\n"
        f"commit: {commit}\n"
        f"author: {git.author}\n"
        "published by kfp-gcp pipelines deploy"
    )


def compile_stream(project: Project, sources: list[Source]) -> Iterator[Compiled]:
    """Compile one source at a time and yield it, so that deploy can read KFP meanwhile.
    After the last one, raise CompileError naming every failure (nothing is yielded after
    the first), and check the names KFP will see. A bad schedules.yaml raises at once."""
    results: list[CompileResult] = []
    prepared: list[Compiled] = []
    for source in sources:
        result = compile_one(project, source, project.compiled_dir)
        results.append(result)
        if not result.ok or len(prepared) < len(results) - 1:
            continue
        assert result.output is not None
        pipeline = load(project, source)
        info = pipeline.pipeline_spec.pipeline_info  # what the compiled file's pipelineInfo says
        compiled = Compiled(
            name=source.name,
            display_name=str(info.display_name or info.name),
            source=relative(project, source.path),
            path=result.output,
            file_digest=hashlib.sha256(result.output.read_bytes()).hexdigest(),
            schedules=schedules.load(project, source.path.parent, params.signature(pipeline)),
        )
        prepared.append(compiled)
        yield compiled
    require_compiled(
        results, ", nothing was published", hint="fix the files named above and deploy again"
    )
    _check_names(prepared)


def prepare(project: Project, sources: list[Source]) -> list[Compiled]:
    """Compile and validate every source; raise before anything is published."""
    return list(compile_stream(project, sources))


def _check_names(prepared: list[Compiled]) -> None:
    too_long = [c for c in prepared if len(c.display_name.encode()) > NAME_MAX_BYTES]
    if too_long:
        raise CompileError(
            "KFP keeps at most 128 bytes of a pipeline name; too long: "
            + ", ".join(f"{c.source} ({len(c.display_name.encode())} bytes)" for c in too_long),
            hint="shorten @dsl.pipeline(display_name=...)",
        )
    keys: dict[str, list[str]] = {}
    for c in prepared:
        keys.setdefault(collation_key(c.display_name), []).append(c.display_name)
    clashes = [names for names in keys.values() if len(names) > 1]
    if clashes:
        raise CompileError(
            "several pipelines would have the same name in KFP (it ignores case and accents): "
            + "; ".join(", ".join(map(repr, names)) for names in clashes),
            hint="give each @dsl.pipeline its own name (the folder name with - for _)",
        )


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
    note: str = ""
    schedules: list[schedules.ScheduleResult] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Summary:
    host: str
    namespace: str
    dry_run: bool
    results: list[Result]
    # Recurring runs of pipelines no longer in the repository (full deploys only).
    removed: list[schedules.ScheduleResult] = dataclasses.field(default_factory=list)
    requests: int = 0
    retries: int = 0

    @property
    def writes(self) -> int:
        return sum(r.writes + sum(s.writes for s in r.schedules) for r in self.results) + sum(
            s.writes for s in self.removed
        )


def carries(version: Any, digest: str) -> bool:
    """Whether `version` has this content: its immutable description says so."""
    return f"{MARKER}{digest}" in (version.description or "")


def has(version: Any, compiled: Compiled) -> bool:
    """`carries`, settled by the file digest when the description has it (no parsing)."""
    if f"{FILE_MARKER}{compiled.file_digest}" in (version.description or ""):
        return True
    return carries(version, compiled.digest)


def _content_digest_of(version: Any, compiled: Compiled) -> str:
    match = _CONTENT.search(version.description or "")
    return match["digest"] if match else compiled.digest


@dataclasses.dataclass
class _Plan:
    """What the read phase found for one pipeline, and what the write phase will do."""

    compiled: Compiled
    pipeline: Any | None  # the KFP pipeline, None when it must be created
    action: str  # create, unchanged, new-version, restored
    version: str = ""  # the version name to upload, or the newest one when unchanged
    newest: Any | None = None
    refusal: str = ""  # why replacing the newest version would be a rollback
    note: str = ""


def _plan(
    api: KfpApi, compiled: Compiled, pipeline: Any | None, history: History, allow_rollback: bool
) -> _Plan:
    if pipeline is None:
        return _Plan(compiled, None, "create", compiled.display_name)
    newest = api.newest_version(str(pipeline.pipeline_id))
    if newest is not None and has(newest, compiled):
        return _Plan(compiled, pipeline, "unchanged", newest.name, newest)
    short = version_name(compiled.digest)
    plan = _Plan(compiled, pipeline, "new-version", short, newest)
    if newest is not None:
        reason = _rollback(newest, history)
        if reason and allow_rollback:
            plan.note = f"rollback allowed: {reason}"
        elif reason:
            plan.refusal = reason
    older = api.versions_matching(
        str(pipeline.pipeline_id), "description", f"{MARKER}{compiled.digest}"
    )
    if older:
        taken = {v.name for v in older}
        n = 2
        while f"{short}-r{n}" in taken:
            n += 1
        plan.action, plan.version = "restored", f"{short}-r{n}"
    return plan


def _rollback(newest: Any, history: History) -> str:
    """Why replacing `newest` would roll back what was deployed, or "" when it would not."""
    commit = recorded_commit(newest.description)
    if commit is None or commit == "unknown":
        return ""  # not published by kfp-gcp, or without git: there is nothing to compare
    head = history.git.commit
    where = f"its newest version {newest.name} was published from commit {commit[:12]}"
    if head == "unknown":
        return f"{where}, and this directory is not a git checkout, so that cannot be checked"
    contained = history.contains(commit)
    if contained:
        return ""
    if contained is None:
        shallow = " (a shallow clone: fetch the history, e.g. fetch-depth: 0)"
        return f"{where}, which this clone does not know" + (shallow if history.git.shallow else "")
    return f"{where}, which is not an ancestor of HEAD {head[:12]}"


def _publish(api: KfpApi, plan: _Plan, git: GitInfo, dry_run: bool) -> Result:
    compiled = plan.compiled
    result = Result(pipeline=compiled.display_name, status="", note=plan.note)
    path = str(compiled.path)
    status = plan.action
    if plan.action == "unchanged":
        assert plan.pipeline is not None
        assert plan.newest is not None
        result.digest = _content_digest_of(plan.newest, compiled)
        result.status, result.version = "unchanged", plan.version
        result.pipeline_id = str(plan.pipeline.pipeline_id)
        result.version_id = str(plan.newest.pipeline_version_id)
        return result
    result.digest = compiled.digest
    description = describe(compiled, git)
    if dry_run:
        result.status, result.version = f"would-{status}", plan.version
        if plan.pipeline is not None:
            result.pipeline_id = str(plan.pipeline.pipeline_id)
        return result
    pipeline = plan.pipeline
    if pipeline is None:
        try:
            pipeline = api.upload_pipeline(path, compiled.display_name, description)
            result.writes += 1
        except AlreadyExists:
            # Created between our read and our upload (a concurrent deploy, or our own
            # attempt whose answer was lost): use it, and check its newest version.
            pipeline = api.pipeline_named(compiled.display_name)
            if pipeline is None:
                raise PublishError(
                    f"upload of {compiled.display_name!r} conflicted, yet no pipeline has "
                    f"exactly this name in namespace {api.namespace!r}",
                    hint="KFP compares pipeline names ignoring case and accents: rename one of "
                    "them (@dsl.pipeline display_name), or check kfp_namespace",
                ) from None
        result.pipeline_id = str(pipeline.pipeline_id)
        newest = api.newest_version(result.pipeline_id)
        if newest is not None and has(newest, compiled):
            result.status, result.version = "created", newest.name
            result.version_id = str(newest.pipeline_version_id)
            return result
        status, plan.version = "created", version_name(compiled.digest)
    result.pipeline_id = str(pipeline.pipeline_id)
    result.version = plan.version
    try:
        version = api.upload_version(path, plan.version, result.pipeline_id, description)
        result.writes += 1
    except AlreadyExists:
        # The same name from a concurrent deploy (or our lost answer): ours if it carries
        # the digest; names are unique per pipeline, so nothing else can be checked.
        same = [
            v
            for v in api.versions_matching(result.pipeline_id, "name", plan.version)
            if v.name == plan.version
        ]
        if not same or not carries(same[0], compiled.digest):
            raise PublishError(
                f"version {plan.version!r} exists with other content",
                hint="someone uploaded a version with this name by hand; delete or rename it",
            ) from None
        version = same[0]
    result.status = status
    result.version_id = str(version.pipeline_version_id)
    return result


def _start(api: KfpApi) -> tuple[dict[str, Any], list[Any]]:
    """Reach the API server, then read what every pipeline's plan needs: the namespace's
    pipelines by name, and the recurring runs deploy manages."""
    api.probe()
    existing = {p.name: p for p in api.pipelines()}
    return existing, api.recurring_runs("description", schedules.MANAGED)


def _read_all(
    api: KfpApi,
    prepared: Iterable[Compiled],
    history: History,
    allow_rollback: bool,
) -> tuple[list[Compiled], list[_Plan], list[Any]]:
    """Every read deploy needs, at most CONCURRENCY at a time, each pipeline's as soon as
    `prepared` yields it (while the next one compiles). Raises on the first failure;
    when KFP cannot be reached, before compiling the rest."""
    pool = concurrent.futures.ThreadPoolExecutor(CONCURRENCY)
    try:
        start = pool.submit(_start, api)

        def plan(compiled: Compiled) -> _Plan:
            existing = start.result()[0]
            return _plan(
                api, compiled, existing.get(compiled.display_name), history, allow_rollback
            )

        compiled: list[Compiled] = []
        futures: list[concurrent.futures.Future[_Plan]] = []
        for item in prepared:
            if start.done():
                start.result()  # raises now if KFP is unreachable: no point compiling on
            compiled.append(item)
            futures.append(pool.submit(plan, item))
        waiting: list[concurrent.futures.Future[Any]] = [start, *futures]
        done, _ = concurrent.futures.wait(waiting, return_when=concurrent.futures.FIRST_EXCEPTION)
        for future in done:
            future.result()  # the first failure, while others may still be retrying
        plans = [f.result() for f in futures]
        return compiled, plans, start.result()[1]
    except BaseException:
        api.cancel()  # reads still retrying elsewhere stop instead of running to the deadline
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def deploy(
    api: KfpApi,
    project: Project,
    prepared: Iterable[Compiled],
    dry_run: bool = False,
    full: bool = False,
    allow_rollback: bool = False,
    progress: Progress | None = None,
) -> Summary:
    """Publish `prepared`: a list, or `compile_stream` to read KFP while compiling. Every
    read comes first; a compile or read failure, or a refused rollback, raises before
    any write. After the first write one pipeline's failure does not stop the others.
    `full`: `prepared` is the whole repository, so the managed recurring runs of
    pipelines that left it are disabled."""
    say = progress or (lambda _text: None)
    git = git_info(project.root)
    summary = Summary(host=api.host, namespace=api.namespace, dry_run=dry_run, results=[])
    history = History(project.root, git)
    compiled, plans, managed = _read_all(api, prepared, history, allow_rollback)
    changes = sum(p.action != "unchanged" for p in plans)
    say(f"{len(plans)} pipelines compiled and compared: {changes} to publish")
    refused = [p for p in plans if p.refusal]
    if refused:
        raise PublishError(
            f"deploying would roll back {len(refused)} pipeline(s), so nothing was written: "
            + "; ".join(f"{p.compiled.display_name}: {p.refusal}" for p in refused),
            hint="deploy from a checkout that contains those commits (git pull), or pass "
            "--allow-rollback to make this checkout's content the newest on purpose",
        )
    snapshot = {str(r.recurring_run_id) for r in managed}
    experiments: dict[str, str] = {}
    total = len(plans)
    for i, plan in enumerate(plans, 1):
        try:
            result = _publish(api, plan, git, dry_run)
        except PublishError as exc:
            result = Result(
                plan.compiled.display_name, "failed", digest=plan.compiled.digest, error=exc.message
            )
            summary.results.append(result)
            say(f"[{i}/{total}] {result.pipeline}: failed: {exc.message}")
            continue
        summary.results.append(result)
        try:
            result.schedules = schedules.reconcile(
                api,
                schedules.Target(
                    plan.compiled.display_name,
                    plan.compiled.source,
                    result.pipeline_id or None,
                    result.version_id or None,
                ),
                plan.compiled.schedules,
                managed,
                snapshot,
                experiments,
                dry_run=dry_run,
            )
        except PublishError as exc:
            result.status, result.error = "failed", f"schedules: {exc.message}"
        say(_progress_line(i, total, result))
    if full:
        try:
            summary.removed = schedules.disable_orphans(
                api, {c.display_name for c in compiled}, managed, dry_run=dry_run
            )
        except PublishError as exc:
            summary.removed = [
                schedules.ScheduleResult("", "", "failed", "", error=f"schedules: {exc.message}")
            ]
        for removed in summary.removed:
            where = removed.pipeline and f"{removed.pipeline}/{removed.schedule}"
            reason = removed.reason or removed.error
            say(f"{where or 'schedules of removed pipelines'}: {removed.status} ({reason})")
    summary.requests, summary.retries = api.counters.requests, api.counters.retries
    return summary


def _progress_line(i: int, total: int, result: Result) -> str:
    line = f"[{i}/{total}] {result.pipeline}: {result.status}"
    if result.version:
        line += f" {result.version}"
    writes = result.writes + sum(s.writes for s in result.schedules)
    if writes:
        line += f" ({writes} write{'s' if writes > 1 else ''})"
    if result.error:
        line += f": {result.error}"
    return line


def require_success(summary: Summary) -> None:
    failed = [r for r in summary.results if r.status == "failed"]
    failed_removals = [s for s in summary.removed if s.status == "failed"]
    if failed or failed_removals:
        raise PublishError(
            f"{len(failed)} of {len(summary.results)} pipelines failed"
            + (": " if failed else "")
            + "; ".join(f"{r.pipeline}: {r.error}" for r in failed)
            + "".join(f"; {s.error}" for s in failed_removals),
            hint="the others were published; fix the cause and deploy again (it is idempotent)",
        )

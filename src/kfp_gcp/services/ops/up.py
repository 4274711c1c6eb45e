"""`kfp-gcp up`: the whole path from a bootstrapped project to a KFP that ran a pipeline, in
order, each stage reusing the service its own command uses:

preflight (doctor's first checks: tools, network, credentials, project, APIs, quota, state)
-> infra (infra plan, the destroy guard, infra apply) -> outputs (infra outputs) -> images
(images push) -> manifests (manifests render + apply, which waits) -> pipelines (pipelines
deploy) -> smoke (pipelines submit --wait of `training`, or `gpu_smoke`).

Every stage is idempotent and says when it had nothing to do: the plan is empty, every
image is in the registry, the cluster matches the render and every Deployment is
available, deploy wrote nothing, the smoke run of this version already succeeded. So a
failed `up` is resumed by running it again: what was done is skipped, and a smoke run
that was still running is followed instead of started twice (its id is in the state
file). build/up/<env>.json keeps that state and how long each stage took the last time it
did its work, shown as the expected time; build/up/<env>.log has the tools' output.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, Protocol

from kfp_gcp.errors import DestroyBlocked, KfpGcpError, RunError
from kfp_gcp.services.infra import terraform
from kfp_gcp.services.infra.terraform import PlatformOutputs
from kfp_gcp.services.kfp.api import RetryPolicy
from kfp_gcp.services.ops.live import Live
from kfp_gcp.services.project import Project, relative

STAGES: tuple[tuple[str, str], ...] = (
    ("preflight", "Preflight"),
    ("infra", "Infrastructure"),
    ("outputs", "Outputs contract"),
    ("images", "Component images"),
    ("manifests", "KFP on the cluster"),
    ("pipelines", "Pipelines"),
    ("smoke", "Smoke run"),
)
# Stages whose work changes what the smoke run would test.
CHANGING = ("infra", "images", "manifests", "pipelines")
# Doctor's first checks; quota is checked for what up brings up (doctor.first_day).
PREFLIGHT_CHECKS = ("tools", "network", "credentials", "project", "apis", "state")
SMOKE = "training"
GPU_SMOKE = "gpu_smoke"

StageStatus = Literal["done", "up-to-date", "skipped", "failed", "not-run"]


@dataclasses.dataclass
class StageResult:
    name: str
    title: str
    status: StageStatus
    seconds: float
    note: str
    expected: float | None = None


@dataclasses.dataclass
class UpReport:
    environment: str
    stages: list[StageResult]
    url: str
    run_url: str
    next_steps: list[str]
    log: str
    state_file: str


class Display(Protocol):
    """What a person sees while `up` runs."""

    def start(self, name: str, title: str, expected: float | None) -> None: ...

    def waiting(self, text: str) -> None: ...

    def finish(self, result: StageResult) -> None: ...


Renderer = Callable[[Project, str, PlatformOutputs], Any]  # -> manifests.compose.Rendered


def default_render(upstream_dir: Path | None = None) -> Renderer:
    def render(project: Project, env: str, outputs: PlatformOutputs) -> Any:
        from kfp_gcp.services.manifests import compose

        return compose.render(project, env, upstream_dir=upstream_dir, outputs=outputs)

    return render


# The state file.


def state_path(project: Project, env: str) -> Path:
    return project.build_dir / "up" / f"{env}.json"


def log_path(project: Project, env: str) -> Path:
    return project.build_dir / "up" / f"{env}.log"


def load_state(project: Project, env: str) -> dict[str, Any]:
    try:
        data = json.loads(state_path(project, env).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def save_state(project: Project, env: str, state: dict[str, Any]) -> None:
    path = state_path(project, env)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    temporary.replace(path)  # never a half-written state file


def expected_seconds(state: dict[str, Any], stage: str) -> float | None:
    """How long the stage took the last time it did its work."""
    value = (state.get("durations") or {}).get(stage)
    return float(value) if isinstance(value, int | float) else None


# Dry run.


@dataclasses.dataclass
class PlannedStage:
    name: str
    title: str
    action: str
    expected: float | None


def plan_stages(project: Project, env: str, gpu: bool = False) -> list[PlannedStage]:
    """What each stage would do, from the repository and the settings alone (no call)."""
    from kfp_gcp.services.images import context
    from kfp_gcp.services.infra import bootstrap, cost
    from kfp_gcp.services.manifests import upstream
    from kfp_gcp.services.ops import doctor
    from kfp_gcp.services.project import discover

    folder = terraform.environment_dir(project, env)
    sizing = cost.load_sizing(project, env)
    settings = json.loads((folder / terraform.SETTINGS_FILE).read_text(encoding="utf-8"))[
        "settings"
    ]
    backend = bootstrap.parse_backend(folder / terraform.BACKEND_FILE)
    state = load_state(project, env)
    images = [i.name for i in context.discover(project.root)]
    registry = (settings.get("registry") or {}).get("enabled", True)
    pipelines = [s.name for s in discover(project, "pipeline")]
    version = upstream.load_lock(project).default
    smoke = GPU_SMOKE if gpu else SMOKE
    actions = {
        "preflight": "check the tools (terraform, kubectl, gcloud, gke-gcloud-auth-plugin), the "
        f"network, your credentials, project {sizing.project_id}, its "
        f"{len(doctor.required_services(project, env))} APIs, the state in "
        f"gs://{backend.get('bucket')}, and the quota for the pools at their minimum and the "
        "smoke run's node (the maximum's shortfall is reported, not blocking)",
        "infra": f"terraform plan of {relative(project, folder)} into "
        f"build/infra/{env}.tfplan, the destroy guard (up never deletes or replaces the "
        "database, a bucket or the cluster), then apply that plan if it changes anything",
        "outputs": f"read the outputs contract into build/up/{env}-outputs.json",
        "images": (
            f"build and push the images the registry lacks ({', '.join(images)})"
            if images and registry
            else "skipped: " + ("no images/" if not images else "the environment has no registry")
        ),
        "manifests": f"render KFP {version} (manifests/overlays/{env}) and apply it: Secrets "
        "from Secret Manager, the Cloud SQL proxy and its login check, everything else, "
        "then wait for every Deployment; skipped when the cluster already matches",
        "pipelines": f"publish the {len(pipelines)} pipelines ({', '.join(pipelines)}) whose "
        "content changed, and their schedules",
        "smoke": f"run {smoke} and follow it to the end (skipped when this version of it "
        "already succeeded)",
    }
    return [
        PlannedStage(name, title, actions[name], expected_seconds(state, name))
        for name, title in STAGES
    ]


# Running.


@dataclasses.dataclass
class _Run:
    project: Project
    env: str
    live: Live
    display: Display
    render: Renderer
    gpu: bool
    timeout_s: float
    smoke_timeout_s: float
    poll_s: float
    state: dict[str, Any]
    log: Any  # the open log file
    contract: PlatformOutputs | None = None
    changed: bool = False  # a stage before the smoke run changed something
    url: str = ""
    run_url: str = ""

    def sink(self, line: str) -> None:
        """A tool's line: into the log; the latest meaningful one is what `up` waits for."""
        self.log.write(line + "\n")
        self.log.flush()
        text = line.strip()
        if text and not text.startswith(("╷", "│", "╵")):
            self.display.waiting(text[:160])

    def note(self, text: str) -> None:
        self.log.write(f"kfp-gcp up: {text}\n")
        self.log.flush()
        self.display.waiting(text)

    def policy(self) -> RetryPolicy:
        return RetryPolicy(deadline_s=600, probe_deadline_s=30)


def up(
    project: Project,
    env: str,
    live: Live,
    display: Display,
    render: Renderer | None = None,
    gpu: bool = False,
    timeout_s: float = 900,
    smoke_timeout_s: float = 3600,
    poll_s: float = 10,
    clock: Callable[[], float] = time.monotonic,
) -> UpReport:
    """Run every stage in order; the first failure stops `up` (re-run it to resume)."""
    terraform.environment_dir(project, env)  # a clear error for an unknown environment
    state = load_state(project, env)
    log = log_path(project, env)
    log.parent.mkdir(parents=True, exist_ok=True)
    results: list[StageResult] = []
    with log.open("a", encoding="utf-8") as handle:
        handle.write(f"\n=== kfp-gcp up --env {env}: {_now()}\n")
        run = _Run(
            project, env, live, display, render or default_render(), gpu, timeout_s,
            smoke_timeout_s, poll_s, state, handle,
        )  # fmt: skip
        for name, title in STAGES:
            expected = expected_seconds(state, name)
            display.start(name, title, expected)
            began = clock()
            try:
                status, note = _STAGES[name](run)
            except (KfpGcpError, OSError) as exc:
                seconds = round(clock() - began, 1)
                message = exc.message if isinstance(exc, KfpGcpError) else str(exc)
                handle.write(f"kfp-gcp up: {name} failed: {message}\n")
                result = StageResult(name, title, "failed", seconds, message, expected)
                display.finish(result)
                results.append(result)
                state["last_failure"] = {"stage": name, "error": message, "at": _now()}
                save_state(project, env, state)
                if isinstance(exc, KfpGcpError):
                    exc.hint = (exc.hint + "; then " if exc.hint else "") + (
                        f"run `kfp-gcp up --env {env}` again: it resumes at {name} "
                        f"(tools' output: {relative(project, log)})"
                    )
                raise
            seconds = round(clock() - began, 1)
            result = StageResult(name, title, status, seconds, note, expected)
            display.finish(result)
            results.append(result)
            if status == "done":
                state.setdefault("durations", {})[name] = seconds
                run.changed = run.changed or name in CHANGING
            state.setdefault("stages", {})[name] = {"status": status, "seconds": seconds}
            save_state(project, env, state)
        state.pop("last_failure", None)
        state["last_success"] = _now()
        save_state(project, env, state)
    return UpReport(
        environment=env,
        stages=results,
        url=run.url,
        run_url=run.run_url,
        next_steps=_next_steps(run),
        log=relative(project, log),
        state_file=relative(project, state_path(project, env)),
    )


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# The stages: each returns (status, what it did).


def _preflight(run: _Run) -> tuple[StageStatus, str]:
    from kfp_gcp.services.infra import cost
    from kfp_gcp.services.ops import doctor

    run.note("checking tools, network, credentials, the project, APIs and state")
    report = doctor.Doctor(run.project, run.env, run.live).run(
        on_result=lambda r: run.note(f"{r.mark} {r.title}"), only=PREFLIGHT_CHECKS
    )
    if report.failed:
        raise RunError(
            "preflight: "
            + "; ".join(f"{c.title}: {c.evidence.splitlines()[0]}" for c in report.failed),
            hint="; ".join(c.remedy for c in report.failed if c.remedy)
            or f"kfp-gcp doctor --env {run.env}",
        )
    run.note("checking the quota for the pools at their minimum and the smoke run's node")
    sizing = cost.load_sizing(run.project, run.env)
    short = [r for r in doctor.quota_rows(run.live, doctor.first_day(sizing, run.gpu))
             if r.status == "short"]  # fmt: skip
    if short:
        raise RunError(
            "preflight: the quota is too low to bring the environment up: "
            + "; ".join(
                f"{r.metric} in {r.where}: {r.needed} needed, limit {r.limit:g}" for r in short
            ),
            hint="request the increases (terraform/README.md, Quotas), then run up again",
        )
    later = [r.metric for r in doctor.quota_rows(run.live, sizing) if r.status == "short"]
    note = f"{len(report.checks) + 1} checks passed"
    if later:
        note += (
            f"; at its largest the environment needs more {', '.join(later)} "
            f"(`kfp-gcp infra quota --env {run.env} --check`)"
        )
    return "done", note


def _infra(run: _Run) -> tuple[StageStatus, str]:
    code, plan_file, json_file = terraform.plan(
        run.project, run.env, run.sink, detailed_exitcode=True
    )
    if code == 0:
        return "up-to-date", "the plan is empty"
    plan = terraform.load_plan_json(json_file)
    blocked = terraform.destructive_changes(plan)
    if blocked:
        raise DestroyBlocked(
            "the plan would "
            + ", ".join(f"{c['action']} {c['address']} ({c['kind']})" for c in blocked)
            + "; up never does that",
            hint=f"review it (kfp-gcp infra plan --env {run.env}), then apply it by hand with "
            "`kfp-gcp infra guard --allow ADDRESS` and `kfp-gcp infra apply` (terraform/README.md)",
        )
    changes = sum(
        1
        for c in plan.get("resource_changes", [])
        if set(c.get("change", {}).get("actions", [])) - {"no-op", "read"}
    )
    run.note(f"applying {changes} changes from {relative(run.project, plan_file)}")
    terraform.apply(run.project, run.env, plan_file, run.sink)
    return "done", f"{changes} resources changed"


def _outputs(run: _Run) -> tuple[StageStatus, str]:
    run.contract = terraform.outputs(run.project, run.env)
    path = run.project.build_dir / "up" / f"{run.env}-outputs.json"
    path.write_text(
        json.dumps(run.contract.model_dump(), indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    contract = run.contract
    run.url = f"https://{contract.domain}" if contract.access == "iap" and contract.domain else ""
    paused = " (paused)" if contract.paused else ""
    return "done", f"{relative(run.project, path)}: cluster {contract.cluster_name}{paused}"


def _contract(run: _Run) -> PlatformOutputs:
    assert run.contract is not None
    return run.contract


def _images(run: _Run) -> tuple[StageStatus, str]:
    from kfp_gcp.services.images import build, context
    from kfp_gcp.services.images.registry import Repository

    contract = _contract(run)
    images = context.select(run.project.root, None)
    if not images:
        return "skipped", "no images/"
    if not contract.registry.images:
        return "skipped", "the environment has no registry: components install their packages"
    context.require_fresh_locks(run.project.root, images)
    repository = Repository.parse(contract.registry.images)
    builder = run.live.builder(contract) if run.live.builder else build.Docker()

    def listener(result: Any) -> None:
        if result.status == "building":
            run.note(f"building and pushing {result.name}:{result.tag[:12]}")

    results = build.push(
        images, builder, repository, run.live.artifact_registry(), listener, run.sink
    )
    build.require_success(results, "push")
    pushed = [r.name for r in results if r.status == "pushed"]
    if not pushed:
        return "up-to-date", f"all {len(results)} images are in {repository.path}"
    return "done", f"pushed {', '.join(pushed)}"


def _backup(run: _Run, contract: PlatformOutputs) -> Callable[[str], str]:
    def backup(description: str) -> str:
        from kfp_gcp.services.ops import db

        taken = db.backup(
            contract,
            run.live.sql,
            description,
            lambda op, elapsed: run.note(f"database backup {op.status.lower()} ({elapsed:.0f}s)"),
        )
        return taken.id

    return backup


def _manifests(run: _Run) -> tuple[StageStatus, str]:
    from kfp_gcp.services.cluster import deploy
    from kfp_gcp.services.cluster.access import unavailable

    contract = _contract(run)
    run.note(f"rendering manifests/overlays/{run.env}")
    rendered = run.render(run.project, run.env, contract)
    with run.live.session(contract) as kubectl:
        run.note("comparing the render with the cluster (kubectl diff --server-side)")
        current = deploy.deployed_version(kubectl, contract.kfp_namespace)
        if current == rendered.version and not contract.paused:
            same = not (kubectl.diff(rendered.cluster_scoped) + kubectl.diff(rendered.namespaced))
            names = {o["metadata"]["name"] for o in rendered.namespaced_objects
                     if o["kind"] == "Deployment"}  # fmt: skip
            if same and not unavailable(kubectl.deployments(contract.kfp_namespace), names):
                return (
                    "up-to-date",
                    f"KFP {current}: the cluster matches, all {len(names)} available",
                )

        def progress(done: int, total: int) -> None:
            run.display.waiting(f"Deployments available: {done}/{total}")

        report = deploy.apply(
            contract,
            rendered.version,
            rendered.cluster_scoped,
            rendered.namespaced,
            run.note,
            progress,
            manager=run.live.secrets,
            timeout_s=run.timeout_s,
            database_query=run.live.database_query,
            backup=_backup(run, contract),
            kubectl=kubectl,
        )
    if not report.waited:
        return "done", f"KFP {report.version} applied; paused: it starts on resume"
    backup = f", database backup {report.backup} first" if report.backup else ""
    return "done", (
        f"KFP {report.version}: {report.namespaced_objects + report.cluster_scoped_objects} "
        f"objects applied{backup}, {len(report.deployments)} Deployments available"
    )


def _paused(run: _Run) -> str:
    return (
        f"{run.env} is paused (settings.paused or its schedule): nothing runs until it "
        f"resumes (kfp-gcp infra resume --env {run.env})"
    )


def _pipelines(run: _Run) -> tuple[StageStatus, str]:
    from kfp_gcp.services.images import registry
    from kfp_gcp.services.kfp import publish
    from kfp_gcp.services.project import select

    contract = _contract(run)
    if contract.paused:
        return "skipped", _paused(run)
    project, _ = registry.for_environment(run.project, contract, run.live.artifact_registry())
    sources = select(project, "pipeline")
    with (
        run.live.session(contract) as kubectl,
        run.live.kfp(contract, kubectl, run.policy()) as api,
    ):
        run.note(f"compiling {len(sources)} pipelines and comparing them with KFP")
        summary = publish.deploy(
            api, project, publish.compile_stream(project, sources), full=True, progress=run.note
        )
    publish.require_success(summary)
    writes = summary.writes
    if writes == 0:
        return "up-to-date", f"all {len(summary.results)} pipelines unchanged"
    changed = [r.pipeline for r in summary.results if r.status != "unchanged"]
    return "done", f"published {', '.join(changed) or 'schedules'} ({writes} writes)"


def _smoke(run: _Run) -> tuple[StageStatus, str]:
    from kfp_gcp.services.kfp import runs
    from kfp_gcp.services.project import load, select

    contract = _contract(run)
    if contract.paused:
        return "skipped", _paused(run)
    name = GPU_SMOKE if run.gpu else SMOKE
    (source,) = select(run.project, "pipeline", [name])
    display = load(run.project, source)
    display_name = display.pipeline_spec.pipeline_info.display_name or display.name
    last = run.state.get("smoke") or {}
    with (
        run.live.session(contract) as kubectl,
        run.live.kfp(contract, kubectl, run.policy()) as api,
    ):
        api.probe()
        found = api.pipeline_named(display_name)
        newest = api.newest_version(found.pipeline_id) if found else None
        newest_id = str(newest.pipeline_version_id) if newest else ""
        same = last.get("pipeline") == name and last.get("version_id") == newest_id
        if same and last.get("state") in runs.SUCCESS and not run.changed:
            run.run_url = str(last.get("url", ""))
            return "up-to-date", f"run {last.get('run_id')} of this version succeeded"
        if same and last.get("state") not in runs.TERMINAL and last.get("run_id"):
            submitted = runs.Submitted(
                name, str(last.get("version")), newest_id, str(last["run_id"]),
                str(last.get("url")), str(last.get("state")),
            )  # fmt: skip
            run.note(f"following run {submitted.run_id}, started by an earlier up")
        else:
            submitted = runs.submit(api, display_name, {}, env=run.env, name=name, started_by="up")
        run.run_url = submitted.url
        record = {
            "pipeline": name,
            "version": submitted.version,
            "version_id": submitted.version_id,
            "run_id": submitted.run_id,
            "url": submitted.url,
            "state": submitted.state,
        }
        run.state["smoke"] = record
        save_state(run.project, run.env, run.state)  # a crash from here on resumes the run

        def progress(state: str, finished: int, total: int) -> None:
            run.display.waiting(f"{name}: {state} ({finished}/{total} steps finished)")

        state = runs.follow(api, submitted.run_id, run.smoke_timeout_s, run.poll_s, progress)
        record["state"] = state
        save_state(run.project, run.env, run.state)
    runs.require_success(submitted, state, run.smoke_timeout_s)
    return "done", f"{name} {state}: {submitted.url}"


_STAGES: dict[str, Callable[[_Run], tuple[StageStatus, str]]] = {
    "preflight": _preflight,
    "infra": _infra,
    "outputs": _outputs,
    "images": _images,
    "manifests": _manifests,
    "pipelines": _pipelines,
    "smoke": _smoke,
}


def _next_steps(run: _Run) -> list[str]:
    contract = run.contract
    env = run.env
    steps = [f"kfp-gcp doctor --env {env}: every live check, read-only"]
    if contract is None:
        return steps
    if contract.access == "iap" and contract.domain:
        steps.insert(0, f"open https://{contract.domain} (IAP lets in ingress.iap_members)")
    else:
        steps.insert(0, f"kfp-gcp ui --env {env}: the KFP UI ({contract.access})")
    steps.append(
        "commit terraform/ and push: CI keeps the environment in step from then on (docs/ci.md)"
    )
    if contract.paused:
        steps.append(f"`kfp-gcp infra resume --env {env}`, then `kfp-gcp up --env {env}` again")
    return steps

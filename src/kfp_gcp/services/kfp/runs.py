"""`pipelines submit` and the smoke run of `up`: start a run of a deployed pipeline's default
(newest) version exactly once, and follow it to the end."""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Callable
from typing import Any

from kfp_gcp.errors import ConfigError, RunError
from kfp_gcp.services.kfp.api import KfpApi

# RuntimeState values that end a run (backend/api/v2beta1/run.proto, RuntimeState).
TERMINAL = frozenset({"SUCCEEDED", "SKIPPED", "FAILED", "CANCELED"})
SUCCESS = frozenset({"SUCCEEDED", "SKIPPED"})


@dataclasses.dataclass
class Submitted:
    pipeline: str
    version: str
    version_id: str
    run_id: str
    url: str
    state: str


def submit(
    api: KfpApi,
    display_name: str,
    arguments: dict[str, Any],
    experiment: str | None = None,
    env: str = "ENV",
    name: str = "",
    started_by: str = "pipelines submit",
) -> Submitted:
    """Start a run of the newest version of the pipeline called `display_name`. A create
    whose answer is lost is not sent again until a list shows it was not written."""
    import kfp_server_api  # type: ignore[import-untyped]

    api.probe()
    found = api.pipeline_named(display_name)
    newest = api.newest_version(found.pipeline_id) if found else None
    if found is None or newest is None:
        raise ConfigError(
            f"pipeline {display_name!r} is not deployed to {api.host}",
            hint=f"run kfp-gcp pipelines deploy --env {env} --only {name or display_name}",
        )
    experiment_id = api.experiment_id(experiment or display_name)
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
    marker = f"kfp-gcp submit {uuid.uuid4()}"
    body = kfp_server_api.V2beta1Run(
        experiment_id=experiment_id,
        display_name=f"{display_name} {stamp}",
        description=f"Started by kfp-gcp {started_by} ({marker}).",
        pipeline_version_reference=kfp_server_api.V2beta1PipelineVersionReference(
            pipeline_id=found.pipeline_id, pipeline_version_id=newest.pipeline_version_id
        ),
        runtime_config=kfp_server_api.V2beta1RuntimeConfig(parameters=arguments),
    )
    run = api.create_run(body, marker)
    return Submitted(
        pipeline=display_name,
        version=str(newest.name),
        version_id=str(newest.pipeline_version_id),
        run_id=str(run.run_id),
        url=api.run_url(run.run_id),
        state=str(run.state or "PENDING"),
    )


def follow(
    api: KfpApi,
    run_id: str,
    timeout_s: float,
    poll_s: float,
    progress: Callable[[str, int, int], None],
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """Poll the run until it ends or `timeout_s` passes; returns its last state.
    `progress(state, tasks finished, tasks)` is called after every poll."""
    deadline = clock() + timeout_s
    state = ""
    while True:
        current = api.get_run(run_id)
        state = str(current.state or "PENDING")
        tasks = getattr(getattr(current, "run_details", None), "task_details", None) or []
        progress(state, sum(1 for t in tasks if str(t.state) in TERMINAL), len(tasks))
        if state in TERMINAL or clock() >= deadline:
            return state
        sleep(poll_s)


def require_success(submitted: Submitted, state: str, timeout_s: float) -> None:
    if state in SUCCESS:
        return
    raise RunError(
        f"run {submitted.run_id} of {submitted.pipeline} ended {state}"
        if state in TERMINAL
        else f"run {submitted.run_id} of {submitted.pipeline} still {state} after {timeout_s:.0f}s",
        hint=f"open {submitted.url}",
    )

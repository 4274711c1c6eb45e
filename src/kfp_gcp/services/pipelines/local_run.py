"""Run a pipeline on this machine with kfp.local's SubprocessRunner (or DockerRunner).

Tasks run as subprocesses of this Python, so they use the packages installed from
uv.lock and need no network: each task's `pip install` step finds its pins already met,
and PIP_NO_INDEX makes it fail fast instead of downloading if they are not. With
`docker_images` (`pipelines run --local --docker`), each task runs in its component's image
as `kfp-gcp images build` left it in the local daemon, and installs nothing.

kfp.local prints its progress to stdout. We tee that stream into a log file and read
task starts and ends from it, which gives progress and per-step durations without
reaching into kfp.local's internals.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import itertools
import json
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from kfp_gcp.errors import RunError
from kfp_gcp.services.project import Project, relative

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
# kfp.local's log lines: "02:43:10.086 - INFO - Executing task 'make'" (kfp 2.17).
# Not anchored: parallel tasks' indented output can land in front of a log line.
_LOG_PREFIX = r"\d\d:\d\d:\d\d\.\d{3} - [A-Z]+ - "
_STARTED = re.compile(_LOG_PREFIX + r"Executing task '(?P<name>[^']+)'")
_FINISHED = re.compile(_LOG_PREFIX + r"Task '(?P<name>[^']+)' finished with status (?P<status>\w+)")

_TASK_ENV = {"PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


@dataclasses.dataclass
class Step:
    name: str
    status: str  # running, succeeded, failed, or skipped (a condition was false or a step failed)
    seconds: float | None = None


@dataclasses.dataclass
class Metric:
    step: str
    name: str
    value: Any


@dataclasses.dataclass
class ArtifactFile:
    step: str
    name: str
    type: str
    path: str


@dataclasses.dataclass
class LocalRun:
    pipeline: str
    status: str  # succeeded or failed
    seconds: float
    parameters: dict[str, Any]
    log: str
    run_dir: str | None = None
    outputs: dict[str, Any] = dataclasses.field(default_factory=dict)
    steps: list[Step] = dataclasses.field(default_factory=list)
    metrics: list[Metric] = dataclasses.field(default_factory=list)
    artifacts: list[ArtifactFile] = dataclasses.field(default_factory=list)
    error: str | None = None


StepListener = Callable[[Step], None]


class _StepTracker(io.TextIOBase):
    """A text stream that copies everything to a log file and turns kfp.local's
    'Executing task' / 'finished with status' lines into Step updates."""

    def __init__(self, log: io.TextIOBase, listener: StepListener | None) -> None:
        self._log = log
        self._listener = listener
        self._pending = ""
        self._lock = threading.Lock()  # ParallelFor iterations print from several threads
        self._started: dict[str, list[tuple[Step, float]]] = {}
        self.steps: list[Step] = []

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        with self._lock:
            self._log.write(text)
            self._pending += text
            *lines, self._pending = self._pending.split("\n")
            for line in lines:
                self._read(_ANSI.sub("", line))
        return len(text)

    def flush(self) -> None:
        self._log.flush()

    def _read(self, line: str) -> None:
        if started := _STARTED.search(line):
            name = started["name"]
            same = sum(1 for s in self.steps if s.name.split(" #")[0] == name)
            step = Step(name=f"{name} #{same + 1}" if same else name, status="running")
            self.steps.append(step)
            self._started.setdefault(name, []).append((step, time.monotonic()))
            self._notify(step)
        elif (finished := _FINISHED.search(line)) and self._started.get(finished["name"]):
            step, began = self._started[finished["name"]].pop(0)
            step.seconds = time.monotonic() - began
            step.status = "succeeded" if finished["status"] == "SUCCESS" else "failed"
            self._notify(step)

    def _notify(self, step: Step) -> None:
        if self._listener:
            self._listener(step)


@contextlib.contextmanager
def task_environment() -> Iterator[None]:
    """Environment for task subprocesses: resolve pins from what is installed, never download."""
    saved = {k: os.environ.get(k) for k in _TASK_ENV}
    os.environ.update(_TASK_ENV)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def init_local(pipeline_root: Path, docker: bool = False) -> None:
    """Point kfp.local at `pipeline_root`, running tasks in this Python's environment, or
    in docker containers."""
    from kfp import local

    local.init(
        runner=local.DockerRunner() if docker else local.SubprocessRunner(use_venv=False),
        pipeline_root=str(pipeline_root),
        raise_on_error=True,
    )


def _new_run_root(runs_dir: Path, name: str) -> Path:
    """A folder of this run's own: two local runs at once (two terminals, parallel tests)
    must never see each other's output. kfp.local records absolute artifact paths, so the
    run cannot be moved afterwards; it is written where it stays."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for attempt in itertools.count(1):
        root = runs_dir / (f"{name}-{stamp}" if attempt == 1 else f"{name}-{stamp}-{attempt}")
        try:
            root.mkdir(parents=True)
        except FileExistsError:
            continue
        return root
    raise AssertionError("unreachable")


def run(
    project: Project,
    pipeline: Any,
    arguments: dict[str, Any],
    listener: StepListener | None = None,
    docker_images: dict[str, str] | None = None,
) -> LocalRun:
    """Run `pipeline` (a loaded @dsl.pipeline) with already validated `arguments`; with
    `docker_images` (image name -> local reference), in docker."""
    from kfp_gcp.services.images.spec import images_in

    run_root = _new_run_root(project.runs_dir, pipeline.name)
    log_path = run_root / "kfp-local.log"
    init_local(run_root, docker=docker_images is not None)
    began = time.monotonic()
    error = None
    outputs: dict[str, Any] = {}
    with (
        log_path.open("w", encoding="utf-8") as log,
        task_environment(),
        images_in(pipeline, docker_images),
    ):
        tracker = _StepTracker(log, listener)
        with contextlib.redirect_stdout(tracker):
            try:
                task = pipeline(**arguments)
                outputs = {k: _plain(v) for k, v in (task.outputs or {}).items()}
            except Exception as exc:
                error = _ANSI.sub("", str(exc))
        tracker.write("\n")
    # kfp.local writes the run under its own `<pipeline>-<timestamp>/` inside the root.
    run_dir = next((p for p in run_root.iterdir() if p.is_dir()), None)
    ran = {step.name.split(" #")[0] for step in tracker.steps}
    skipped = [Step(name, "skipped") for name in _task_names(pipeline) if name not in ran]
    result = LocalRun(
        pipeline=pipeline.name,
        status="failed" if error else "succeeded",
        seconds=time.monotonic() - began,
        parameters=arguments,
        log=relative(project, log_path),
        run_dir=relative(project, run_dir) if run_dir else None,
        outputs=outputs,
        steps=tracker.steps + skipped,
        error=error,
    )
    if run_dir:
        result.metrics, result.artifacts = _collect(project, run_dir, _artifact_types(pipeline))
    return result


def require_success(result: LocalRun) -> None:
    if result.status != "succeeded":
        failed = [s.name for s in result.steps if s.status == "failed"]
        where = f" in step {', '.join(failed)}" if failed else ""
        raise RunError(
            f"pipeline {result.pipeline!r} failed{where}: {result.error}",
            hint=f"the task output is in {result.log}",
        )


def _plain(value: Any) -> Any:
    """A JSON-friendly pipeline output: artifacts become their path."""
    if hasattr(value, "path") and hasattr(value, "metadata"):
        return {"path": value.path, "metadata": dict(value.metadata)}
    return value


def _task_names(pipeline: Any) -> list[str]:
    """Every container task of the pipeline, nested conditions and loops included."""
    spec = pipeline.pipeline_spec
    names: list[str] = []

    def walk(dag: Any) -> None:
        for name, task in dag.tasks.items():
            component = spec.components[task.component_ref.name]
            if component.WhichOneof("implementation") == "dag":
                walk(component.dag)
            elif name not in names:
                names.append(name)

    walk(spec.root.dag)
    return names


def _artifact_types(pipeline: Any) -> dict[str, dict[str, str]]:
    """component key ('comp-evaluate-model') -> output artifact name -> schema title."""
    spec = pipeline.pipeline_spec
    return {
        key: {
            name: artifact.artifact_type.schema_title
            for name, artifact in component.output_definitions.artifacts.items()
        }
        for key, component in spec.components.items()
    }


def _collect(
    project: Project, run_dir: Path, types: dict[str, dict[str, str]]
) -> tuple[list[Metric], list[ArtifactFile]]:
    metrics: list[Metric] = []
    artifacts: list[ArtifactFile] = []
    for output_file in sorted(run_dir.rglob("executor_output.json")):
        step_dir = output_file.parent
        step = step_dir.relative_to(run_dir).as_posix()
        known = types.get(f"comp-{step_dir.name}", {})
        written = json.loads(output_file.read_text(encoding="utf-8"))
        for name, entry in sorted(written.get("artifacts", {}).items()):
            for artifact in entry.get("artifacts", []):
                kind = known.get(name, "system.Artifact")
                artifacts.append(
                    ArtifactFile(
                        step=step,
                        name=name,
                        type=kind.removeprefix("system."),
                        path=relative(project, Path(artifact["uri"])),
                    )
                )
                if kind == "system.Metrics":
                    metrics.extend(
                        Metric(step=step, name=key, value=value)
                        for key, value in sorted(artifact.get("metadata", {}).items())
                    )
    return metrics, artifacts

"""Recurring runs declared in `pipelines/<name>/schedules.yaml`, reconciled by deploy.

KFP cannot update a recurring run in place (kubeflow/pipelines#3789). Each declared
schedule therefore maps to a recurring run named `<pipeline>/<schedule>@<hash>`, where
the hash covers everything that defines it (the pipeline version's content hash, cron,
parameters, experiment, concurrency, catch-up). When the hash changes, deploy creates the
new recurring run *disabled*, disables the old one, then enables the new one: at no
moment are two enabled for one schedule name. A schedule removed from the file (or a
file removed) has its recurring runs disabled, not deleted, so their run history stays.
`enabled: false` disables in place (KFP can enable/disable without re-creating).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from kfp_gcp.errors import ConfigError
from kfp_gcp.services.kfp.api import AlreadyExists, KfpApi
from kfp_gcp.services.pipelines import params
from kfp_gcp.services.project import Project, relative

FILE_NAME = "schedules.yaml"
SCHEMA_PATH = "schemas/schedules.schema.json"
_MACRO = re.compile(r"^@(yearly|annually|monthly|weekly|daily|midnight|hourly|every \S+)$")
_RUN_NAME = re.compile(r"^(?P<pipeline>.+)/(?P<schedule>[a-z][a-z0-9-]*)@(?P<hash>[0-9a-f]{8})$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Schedule(_Strict):
    name: Annotated[
        str,
        Field(
            pattern=r"^[a-z][a-z0-9-]{0,62}$",
            description="Unique within the pipeline: lower case letters, digits and -.",
        ),
    ]
    cron: Annotated[
        str,
        Field(
            description="KFP cron with six fields, seconds first ('0 0 2 * * *' is 02:00 "
            "every day), or @hourly/@daily/@weekly/@monthly/@every <duration>. UTC."
        ),
    ]
    parameters: Annotated[
        dict[str, Any],
        Field(description="Pipeline parameters, checked against the pipeline's signature."),
    ] = {}
    experiment: Annotated[
        str | None,
        Field(min_length=1, description="Experiment for the runs (default: the pipeline name)."),
    ] = None
    enabled: Annotated[bool, Field(description="false keeps the schedule but pauses it.")] = True
    max_concurrency: Annotated[int, Field(ge=1, le=10, description="Runs at once.")] = 1
    no_catchup: Annotated[
        bool, Field(description="Skip the intervals missed while paused (no backfill).")
    ] = True

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        fields = value.split()
        if _MACRO.match(value.strip()):
            return value.strip()
        if len(fields) == 5:
            raise ValueError(
                f"KFP cron has six fields with seconds first; write '0 {value.strip()}'"
            )
        if len(fields) != 6:
            raise ValueError("expected six space-separated fields (seconds first) or @daily etc.")
        return " ".join(fields)


class ScheduleFile(_Strict):
    """pipelines/<name>/schedules.yaml"""

    schedules: Annotated[list[Schedule], Field(description="Recurring runs of this pipeline.")]

    @field_validator("schedules")
    @classmethod
    def _unique(cls, value: list[Schedule]) -> list[Schedule]:
        names = [s.name for s in value]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"schedule names must be unique; repeated: {', '.join(repeated)}")
        return value


def schema() -> dict[str, Any]:
    return ScheduleFile.model_json_schema()


def schema_text() -> str:
    return json.dumps(schema(), indent=2, sort_keys=True) + "\n"


def load(
    project: Project, pipeline_folder: Path, signature: list[params.Parameter]
) -> list[Schedule]:
    """The schedules of one pipeline folder (none when there is no file), checked."""
    path = pipeline_folder / FILE_NAME
    if not path.is_file():
        return []
    where = relative(project, path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{where}: not YAML ({exc})", hint="fix the syntax") from None
    try:
        parsed = ScheduleFile.model_validate(data)
    except ValidationError as exc:
        rows = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'file'}: {e['msg']}"
            + (f" (got {e['input']!r})" if not isinstance(e["input"], dict | list) else "")
            for e in exc.errors(include_url=False)
        )
        raise ConfigError(
            f"{where}: {rows}", hint=f"see {SCHEMA_PATH} and docs/publishing.md"
        ) from None
    by_name = {p.name: p for p in signature}
    for schedule in parsed.schedules:
        unknown = sorted(set(schedule.parameters) - set(by_name))
        missing = [p.name for p in signature if p.required and p.name not in schedule.parameters]
        if unknown or missing:
            raise ConfigError(
                f"{where}: schedule {schedule.name!r}: "
                + (f"unknown parameters {', '.join(unknown)}" if unknown else "")
                + ("; " if unknown and missing else "")
                + (f"missing required {', '.join(missing)}" if missing else ""),
                hint=f"the pipeline's parameters are: {', '.join(by_name) or 'none'}",
            )
    return list(parsed.schedules)


def fingerprint(schedule: Schedule, pipeline_digest: str, experiment: str) -> str:
    data = {
        "pipeline": pipeline_digest,
        "cron": schedule.cron,
        "parameters": schedule.parameters,
        "experiment": experiment,
        "max_concurrency": schedule.max_concurrency,
        "no_catchup": schedule.no_catchup,
    }
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def run_name(pipeline: str, schedule: str, digest8: str) -> str:
    return f"{pipeline}/{schedule}@{digest8}"


@dataclasses.dataclass
class ScheduleResult:
    pipeline: str
    schedule: str
    status: str  # created, replaced, unchanged, enabled, disabled, removed, would-*
    recurring_run: str
    writes: int = 0


def _enabled(run: Any) -> bool:
    return str(getattr(run, "mode", "")) == "ENABLE"


def reconcile(
    api: KfpApi,
    pipeline: str,
    pipeline_id: str | None,
    version_id: str | None,
    pipeline_digest: str,
    schedules: list[Schedule],
    existing: list[Any],
    dry_run: bool = False,
) -> list[ScheduleResult]:
    """Make the recurring runs of `pipeline` match `schedules`; `existing` is every
    recurring run in the namespace (listed once per deploy)."""
    ours: dict[str, list[Any]] = {}
    for run in existing:
        match = _RUN_NAME.match(run.display_name or "")
        if match and match["pipeline"] == pipeline:
            ours.setdefault(match["schedule"], []).append(run)
    results: list[ScheduleResult] = []
    prefix = "would-" if dry_run else ""

    def set_enabled(run: Any, enabled: bool) -> int:
        if dry_run:
            return 0
        api.set_recurring_run_enabled(run.recurring_run_id, enabled)
        return 1

    for schedule in schedules:
        experiment = schedule.experiment or pipeline
        name = run_name(pipeline, schedule.name, fingerprint(schedule, pipeline_digest, experiment))
        runs = ours.pop(schedule.name, [])
        current = sorted(
            (r for r in runs if r.display_name == name),
            key=lambda r: (not _enabled(r), str(r.created_at or "")),
        )
        others = [r for r in runs if r.display_name != name]
        writes = 0
        if current:
            keep, duplicates = current[0], current[1:]
            status = "unchanged"
            for run in [*duplicates, *others]:
                if _enabled(run):
                    writes += set_enabled(run, False)
            if _enabled(keep) != schedule.enabled:
                writes += set_enabled(keep, schedule.enabled)
                status = prefix + ("enabled" if schedule.enabled else "disabled")
            results.append(ScheduleResult(pipeline, schedule.name, status, name, writes))
            continue
        status = prefix + ("replaced" if others else "created")
        if not dry_run:
            assert pipeline_id
            assert version_id
            experiment_id = api.experiment_id(experiment)
            try:
                created = api.create_recurring_run(
                    experiment_id=experiment_id,
                    job_name=name,
                    description=f"Declared in pipelines/*/{FILE_NAME} as {schedule.name!r}; "
                    "managed by kfp-gcp pipelines deploy.",
                    cron_expression=schedule.cron,
                    max_concurrency=schedule.max_concurrency,
                    no_catchup=schedule.no_catchup,
                    params=dict(schedule.parameters),
                    pipeline_id=pipeline_id,
                    version_id=version_id,
                    enabled=False,
                )
                new_id = created.recurring_run_id
            except AlreadyExists:
                again = [r for r in api.recurring_runs() if r.display_name == name]
                if not again:
                    raise
                new_id = again[0].recurring_run_id
            writes += 1
            for run in others:
                if _enabled(run):
                    writes += set_enabled(run, False)
            if schedule.enabled:
                api.set_recurring_run_enabled(new_id, True)
                writes += 1
        results.append(ScheduleResult(pipeline, schedule.name, status, name, writes))

    for schedule_name, runs in sorted(ours.items()):
        writes = sum(set_enabled(r, False) for r in runs if _enabled(r))
        if any(_enabled(r) for r in runs):
            results.append(
                ScheduleResult(
                    pipeline, schedule_name, prefix + "removed", runs[0].display_name, writes
                )
            )
    return results

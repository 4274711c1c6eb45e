"""Recurring runs declared in `pipelines/<name>/schedules.yaml`, reconciled by deploy.

KFP cannot update a recurring run in place (kubeflow/pipelines#3789), and it does not
keep recurring-run names unique (a second create with the same name makes a second
one). Each declared schedule therefore maps to a recurring run named
`<pipeline>/<schedule>@<hash>`, where the hash covers everything that defines it: the
pipeline id and version it runs, cron, parameters, experiment, concurrency and
catch-up. Its description carries `MANAGED`; only runs with both are touched.

- A new hash: deploy creates the new recurring run *disabled*, disables the others of
  that schedule, then enables the new one: two are never enabled by one deploy.
- A create whose answer is lost is never sent twice blindly: deploy lists by name first
  (`KfpApi.create_recurring_run`).
- Two deploys at once: after writing, deploy lists the schedule's runs again and repairs
  until nothing changes, with rules both deploys apply alike: among runs of the same
  name the oldest (created_at, then id) is kept; a run of another name that appeared
  during this deploy and is newer than ours wins (the later deploy), and this deploy
  then reports `superseded`. So exactly one stays enabled.
- A schedule removed from its file, or a pipeline removed from the repository or
  renamed (full deploys), has its recurring runs disabled, not deleted, so their run
  history stays. `enabled: false` disables in place.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from kfp_gcp.errors import ConfigError, PublishError
from kfp_gcp.services.kfp.api import KfpApi
from kfp_gcp.services.pipelines import params
from kfp_gcp.services.project import Project, relative

FILE_NAME = "schedules.yaml"
SCHEMA_PATH = "schemas/schedules.schema.json"
MANAGED = "managed by kfp-gcp pipelines deploy"
# Rounds of "list again, repair" after writing, before calling concurrent changes an error.
CONVERGE_ROUNDS = 3
# libyaml when installed (deploy reads a schedules.yaml per pipeline); the same values.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_RUN_NAME = re.compile(r"^(?P<pipeline>.+)/(?P<schedule>[a-z][a-z0-9-]*)@(?P<hash>[0-9a-f]{8})$")

# KFP parses crons with robfig/cron v1.2.0 `cron.Parse` (seconds first, the day of week
# optional): these are its fields, bounds and names.
_MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
_DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
_CRON_FIELDS = [
    ("seconds", 0, 59, {}),
    ("minutes", 0, 59, {}),
    ("hours", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, {m: i for i, m in enumerate(_MONTHS, 1)}),
    ("day of week", 0, 6, {d: i for i, d in enumerate(_DAYS)}),
]
_DESCRIPTORS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
_GO_DURATION = re.compile(r"(?:(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h))+")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}


def check_cron(value: str) -> str:
    """`value` normalised, or ValueError naming the field and its allowed range."""
    spec = value.strip()
    if spec.startswith("@"):
        if spec in _DESCRIPTORS:
            return spec
        if spec.startswith("@every "):
            duration = spec.removeprefix("@every ").strip()
            if _GO_DURATION.fullmatch(duration):
                parts = re.findall(_GO_DURATION.pattern, duration)
                if sum(float(n) * _UNIT_SECONDS[unit] for n, unit in parts) >= 1:
                    return f"@every {duration}"
            raise ValueError(
                f"@every takes a duration of at least 1s such as 30m, 6h or 1h30m; got {duration!r}"
            )
        raise ValueError(
            f"unknown descriptor {spec!r}; use one of {', '.join(_DESCRIPTORS)} or @every"
        )
    fields = spec.split()
    if len(fields) == 5:
        raise ValueError(f"KFP cron has six fields with seconds first; write '0 {spec}'")
    if len(fields) != 6:
        raise ValueError("expected six space-separated fields (seconds first) or @daily etc.")
    for text, (label, low, high, names) in zip(fields, _CRON_FIELDS, strict=True):
        for part in text.split(","):
            error = _cron_part(part, low, high, names)
            if error:
                words = [n.upper() for n in names]
                named = f" or {words[0]}-{words[-1]}" if words else ""
                raise ValueError(
                    f"{label} {part!r}: {error} (allowed: {low}-{high}{named}, *, ranges a-b, "
                    "steps /n, lists a,b)"
                )
    return " ".join(fields)


def _cron_part(part: str, low: int, high: int, names: dict[str, int]) -> str:
    def value(text: str) -> int | None:
        if text.lower() in names:
            return names[text.lower()]
        return int(text) if text.isdigit() else None

    base, slash, step_text = part.partition("/")
    if slash and not step_text.isdigit():
        return "the step must be a whole number"
    if slash and int(step_text) == 0:
        return "the step must be positive"
    if base in ("*", "?"):
        return ""
    first, dash, last = base.partition("-")
    start = value(first)
    end = value(last) if dash else start
    if start is None or end is None:
        return "not a number" + (" or name" if names else "")
    if start < low or end > high:
        return "out of range"
    if start > end:
        return "the range runs backwards"
    return ""


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
        return check_cron(value)


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
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER)  # noqa: S506 (a safe loader)
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


def fingerprint(schedule: Schedule, pipeline_id: str, version_id: str, experiment: str) -> str:
    data = {
        "pipeline_id": pipeline_id,
        "version_id": version_id,
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
class Target:
    """The pipeline a set of schedules runs: its KFP name and ids (None in a dry run of a
    pipeline not yet created)."""

    pipeline: str
    source: str
    pipeline_id: str | None
    version_id: str | None


@dataclasses.dataclass
class ScheduleResult:
    pipeline: str
    schedule: str
    # created, replaced, unchanged, enabled, disabled, repaired, superseded, removed;
    # would-* in a dry run; failed (orphans only)
    status: str
    recurring_run: str
    writes: int = 0
    reason: str = ""
    error: str = ""


def _enabled(run: Any) -> bool:
    return str(getattr(run, "mode", "")) == "ENABLE"


def _key(run: Any) -> tuple[float, str]:
    created = getattr(run, "created_at", None)
    return (created.timestamp() if created is not None else 0.0, str(run.recurring_run_id))


def _parse(run: Any) -> tuple[str, str] | None:
    """(pipeline, schedule) of a recurring run deploy manages, else None."""
    match = _RUN_NAME.match(run.display_name or "")
    if match is None or MANAGED not in (run.description or ""):
        return None
    return match["pipeline"], match["schedule"]


def _winner(runs: list[Any], target: str, snapshot: set[str]) -> tuple[Any | None, bool]:
    """The run of one schedule to keep, and whether it belongs to a concurrent deploy
    (a name other than `target` that appeared after this deploy listed, and is newer)."""
    groups: dict[str, Any] = {}
    for run in sorted(runs, key=_key):
        groups.setdefault(run.display_name, run)  # the oldest of each name
    keep = groups.get(target)
    rivals = [
        run
        for name, run in groups.items()
        if name != target
        and str(run.recurring_run_id) not in snapshot
        and (keep is None or _key(run) > _key(keep))
    ]
    if rivals:
        return max(rivals, key=_key), True
    return keep, False


class _Reconciler:
    def __init__(
        self,
        api: KfpApi,
        target: Target,
        snapshot: set[str],
        experiments: dict[str, str],
        dry_run: bool,
    ) -> None:
        self.api = api
        self.target = target
        self.snapshot = snapshot
        self.experiments = experiments
        self.dry_run = dry_run

    def set_enabled(self, run: Any, enabled: bool) -> int:
        """One change (made unless this is a dry run)."""
        if not self.dry_run:
            self.api.set_recurring_run_enabled(str(run.recurring_run_id), enabled)
            run.mode = "ENABLE" if enabled else "DISABLE"
        return 1

    def listed(self, schedule: str) -> list[Any]:
        prefix = f"{self.target.pipeline}/{schedule}@"
        return [
            run
            for run in self.api.recurring_runs("display_name", prefix)
            if (_parse(run) or ("", ""))[0] == self.target.pipeline
            and run.display_name.startswith(prefix)
        ]

    def create(self, schedule: Schedule, name: str) -> int:
        """Create the recurring run (and its experiment when missing); the writes made."""
        import kfp_server_api  # type: ignore[import-untyped]

        assert self.target.pipeline_id
        assert self.target.version_id
        experiment = schedule.experiment or self.target.pipeline
        writes = 1
        if experiment not in self.experiments:
            self.experiments[experiment], created = self.api.ensure_experiment(experiment)
            writes += created
        body = kfp_server_api.V2beta1RecurringRun(
            display_name=name,
            description=f"Declared in {Path(self.target.source).parent}/{FILE_NAME} as "
            f"{schedule.name!r}; {MANAGED}.",
            pipeline_version_reference=kfp_server_api.V2beta1PipelineVersionReference(
                pipeline_id=self.target.pipeline_id,
                pipeline_version_id=self.target.version_id,
            ),
            runtime_config=kfp_server_api.V2beta1RuntimeConfig(
                parameters=dict(schedule.parameters)
            ),
            trigger=kfp_server_api.V2beta1Trigger(
                cron_schedule=kfp_server_api.V2beta1CronSchedule(cron=schedule.cron)
            ),
            mode=kfp_server_api.RecurringRunMode.DISABLE,  # enabled once the old one is off
            max_concurrency=schedule.max_concurrency,
            no_catchup=schedule.no_catchup,
            experiment_id=self.experiments[experiment],
        )
        self.api.create_recurring_run(body)
        return writes

    def converge(
        self, schedule: Schedule, name: str, runs: list[Any], relist: bool
    ) -> tuple[int, bool]:
        """Disable every run of the schedule but the winner, and set the winner's mode
        when it is ours; after changing anything, list again, until nothing changes.
        Returns the number of changes and whether a concurrent deploy's run won."""
        changes = 0
        for _ in range(CONVERGE_ROUNDS):
            if relist:
                runs = self.listed(schedule.name)
            keep, superseded = _winner(runs, name, self.snapshot)
            off = [r for r in runs if r is not keep and _enabled(r)]
            mode = keep is not None and not superseded and _enabled(keep) != schedule.enabled
            if not off and not mode:
                return changes, superseded
            for run in off:  # first, so that this deploy never has two enabled
                changes += self.set_enabled(run, False)
            if mode:
                changes += self.set_enabled(keep, schedule.enabled)
            if self.dry_run:
                return changes, superseded
            relist = True
        raise PublishError(
            f"schedule {schedule.name!r} of {self.target.pipeline!r}: its recurring runs were "
            f"still changing after {CONVERGE_ROUNDS} checks (another deploy at the same time?)",
            hint="deploy again once the other deploy has finished",
        )

    def one(self, schedule: Schedule, runs: list[Any]) -> ScheduleResult:
        pipeline = self.target.pipeline
        if not (self.target.pipeline_id and self.target.version_id):  # dry run, no version yet
            status = "would-replaced" if runs else "would-created"
            return ScheduleResult(pipeline, schedule.name, status, "")
        experiment = schedule.experiment or pipeline
        name = run_name(
            pipeline,
            schedule.name,
            fingerprint(schedule, self.target.pipeline_id, self.target.version_id, experiment),
        )
        current = [r for r in runs if r.display_name == name]
        created = 0
        if current:
            keep, _ = _winner(current, name, self.snapshot)
            status = "unchanged"
            if _enabled(keep) != schedule.enabled:
                status = "enabled" if schedule.enabled else "disabled"
        else:
            status = "replaced" if runs else "created"
            if self.dry_run:
                return ScheduleResult(pipeline, schedule.name, f"would-{status}", name)
            created = self.create(schedule, name)
        # After a create, list again: to see the new run, and any a concurrent deploy made.
        changes, superseded = self.converge(schedule, name, runs, relist=not current)
        if superseded:
            status = "superseded"
        elif changes and status == "unchanged":
            status = "repaired"
        if self.dry_run:
            return ScheduleResult(
                pipeline, schedule.name, f"would-{status}" if changes else status, name
            )
        return ScheduleResult(pipeline, schedule.name, status, name, created + changes)


def reconcile(
    api: KfpApi,
    target: Target,
    declared: list[Schedule],
    managed: list[Any],
    snapshot: set[str],
    experiments: dict[str, str],
    dry_run: bool = False,
) -> list[ScheduleResult]:
    """Make the recurring runs of `target.pipeline` match `declared`. `managed` is every
    managed recurring run of the namespace as listed when the deploy started (`snapshot`
    their ids); `experiments` caches experiment ids across pipelines."""
    by_schedule: dict[str, list[Any]] = {}
    for run in managed:
        parsed = _parse(run)
        if parsed and parsed[0] == target.pipeline:
            by_schedule.setdefault(parsed[1], []).append(run)
    reconciler = _Reconciler(api, target, snapshot, experiments, dry_run)
    results = [reconciler.one(s, by_schedule.pop(s.name, [])) for s in declared]
    prefix = "would-" if dry_run else ""
    for schedule_name, runs in sorted(by_schedule.items()):
        enabled = [r for r in runs if _enabled(r)]
        if enabled:
            writes = sum(reconciler.set_enabled(r, False) for r in enabled)
            writes = 0 if dry_run else writes
            results.append(
                ScheduleResult(
                    target.pipeline, schedule_name, prefix + "removed", enabled[0].display_name,
                    writes, reason=f"no longer in {FILE_NAME}",
                )
            )  # fmt: skip
    return results


def disable_orphans(
    api: KfpApi, pipelines: Iterable[str], managed: list[Any], dry_run: bool = False
) -> list[ScheduleResult]:
    """Disable the enabled managed recurring runs whose pipeline is not in `pipelines`
    (its folder was removed, or its display name changed)."""
    known = set(pipelines)
    results = []
    for run in sorted(managed, key=lambda r: r.display_name):
        parsed = _parse(run)
        if parsed is None or parsed[0] in known or not _enabled(run):
            continue
        writes = 0
        if not dry_run:
            api.set_recurring_run_enabled(str(run.recurring_run_id), False)
            writes = 1
        results.append(
            ScheduleResult(
                parsed[0], parsed[1], ("would-" if dry_run else "") + "removed", run.display_name,
                writes, reason="the pipeline is no longer in the repository",
            )
        )  # fmt: skip
    return results

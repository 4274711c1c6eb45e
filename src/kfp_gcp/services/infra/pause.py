"""Pausing an environment: every node pool at 0 and Cloud SQL stopped, applied by Terraform
so the state says what runs (terraform/README.md, "Pausing").

Two things pause an environment: `settings.paused` in its terraform.tfvars.json, which
`kfp-gcp infra pause` and `kfp-gcp infra resume` flip through the normal plan, guard and apply; and
`settings.schedule`, the window (UTC) it runs in, which `terraform.plan` reads against the
clock on every plan and passes to Terraform as `schedule_pauses_now`. The scheduled
workflow (.github/workflows/schedule.yml) plans and applies at the window's edges, and
every other plan (pull requests, drift, main) computes the same answer for the same time.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from kfp_gcp.errors import ConfigError, DestroyBlocked
from kfp_gcp.services.project import Project, relative

Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
DAYS: tuple[Day, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HH_MM = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")


class Schedule(BaseModel):
    """When the environment runs, in UTC; paused otherwise. The same rules as
    modules/platform's validation of settings.schedule."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    days: tuple[Day, ...]
    # The settings spell them from/to ("from" is a Python keyword).
    start: str = Field(alias="from")  # "HH:MM"
    end: str = Field(alias="to")

    @field_validator("start", "end")
    @classmethod
    def _clock(cls, value: str) -> str:
        if not _HH_MM.fullmatch(value):
            raise ValueError(f"{value!r} is not a time of day as HH:MM (UTC), such as 06:00")
        return value

    @model_validator(mode="after")
    def _window(self) -> Schedule:
        if not self.days:
            raise ValueError("days must name at least one day (mon ... sun)")
        if self.start >= self.end:
            raise ValueError(
                f"from {self.start} must be earlier than to {self.end} (one window a day, UTC)"
            )
        return self

    def _minutes(self, value: str) -> int:
        hours, minutes = value.split(":")
        return int(hours) * 60 + int(minutes)

    def running_at(self, moment: datetime.datetime) -> bool:
        utc = moment.astimezone(datetime.UTC)
        now = utc.hour * 60 + utc.minute
        return DAYS[utc.weekday()] in self.days and self._minutes(
            self.start
        ) <= now < self._minutes(self.end)

    def next_change(self, moment: datetime.datetime) -> datetime.datetime:
        """When the schedule next flips between running and paused (minute precision)."""
        utc = moment.astimezone(datetime.UTC).replace(second=0, microsecond=0)
        state = self.running_at(utc)
        for day in range(8):
            base = (utc + datetime.timedelta(days=day)).replace(hour=0, minute=0)
            for edge in sorted({self._minutes(self.start), self._minutes(self.end)}):
                candidate = base + datetime.timedelta(minutes=edge)
                if candidate > utc and self.running_at(candidate) != state:
                    return candidate
        raise AssertionError("a schedule with a valid window changes within a week")

    def running_hours_per_week(self) -> float:
        return len(self.days) * (self._minutes(self.end) - self._minutes(self.start)) / 60

    def cron_lines(self) -> list[str]:
        """The GitHub Actions cron lines (UTC) that fire at the window's edges."""
        weekdays = ",".join(str((DAYS.index(d) + 1) % 7) for d in sorted(self.days, key=DAYS.index))
        return [
            f"{int(t.split(':')[1])} {int(t.split(':')[0])} * * {weekdays}"
            for t in (self.start, self.end)
        ]

    def describe(self) -> str:
        return f"{'/'.join(self.days)} {self.start}-{self.end} UTC"


def schedule_of(settings: dict[str, Any], where: str) -> Schedule | None:
    raw = settings.get("schedule")
    if raw is None:
        return None
    try:
        return Schedule.model_validate(raw)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(p) for p in error["loc"]) or "schedule"
        field = {"start": "from", "end": "to"}.get(field, field)
        raise ConfigError(
            f"{where}: settings.schedule.{field}: {error['msg']}",
            hint='e.g. "schedule": {"days": ["mon", "tue", "wed", "thu", "fri"], '
            '"from": "06:00", "to": "19:00"} (UTC)',
        ) from None


@dataclasses.dataclass(frozen=True)
class PauseState:
    """What the settings say at a moment: paused by the setting, by the schedule, or not."""

    setting: bool
    schedule: Schedule | None
    scheduled_pause: bool  # the schedule pauses now

    @property
    def paused(self) -> bool:
        return self.setting or self.scheduled_pause


def state_at(settings: dict[str, Any], moment: datetime.datetime, where: str) -> PauseState:
    schedule = schedule_of(settings, where)
    return PauseState(
        setting=bool(settings.get("paused", False)),
        schedule=schedule,
        scheduled_pause=schedule is not None and not schedule.running_at(moment),
    )


# Editing settings.paused: the smallest text change, checked by parsing the result.


def with_paused(text: str, value: bool) -> str:
    """`text` (a terraform.tfvars.json) with settings.paused set to `value`, the rest of the
    file byte for byte as it was."""
    before = json.loads(text)
    literal = "true" if value else "false"
    found = list(re.finditer(r'"paused"\s*:\s*(true|false)', text))
    if len(found) == 1:
        match = found[0]
        edited = text[: match.start(1)] + literal + text[match.end(1) :]
    elif not found:
        opening = re.search(r'"settings"\s*:\s*\{[ \t]*\n([ \t]*)', text)
        if not opening:
            raise ConfigError(
                'cannot find where to add "paused" in the settings file',
                hint='add "paused": true (or false) under "settings" yourself, then plan and apply',
            )
        indent = opening.group(1)
        at = opening.end(0)
        edited = text[:at] + f'"paused": {literal},\n{indent}' + text[at:]
    else:
        edited = ""
    expected = {**before, "settings": {**before["settings"], "paused": value}}
    if not edited or json.loads(edited) != expected:
        raise ConfigError(
            'cannot change settings.paused safely: "paused" appears more than once',
            hint='set "paused" under "settings" yourself, then plan and apply',
        )
    return edited


def uncommitted(project: Project, path: Path) -> bool | None:
    """Whether `path` differs from git's HEAD (None: not in a git work tree)."""
    try:
        done = subprocess.run(
            ["git", "status", "--porcelain", "--", str(path)],
            cwd=project.root,
            capture_output=True,
            text=True,
            check=False,
        )
    except FileNotFoundError:
        return None
    if done.returncode != 0:
        return None
    return bool(done.stdout.strip())


# The pause-only guard: an unattended (scheduled) apply may change what pausing changes
# and nothing else. Attribute paths that pausing changes, per resource type.

PAUSE_ATTRIBUTES: dict[str, set[str]] = {
    "google_container_node_pool": {"autoscaling", "node_count"},
    "google_sql_database_instance": {"settings.activation_policy"},
    "google_monitoring_alert_policy": {"enabled"},
}


def _differences(before: Any, after: Any, unknown: Any, path: str = "") -> list[str]:
    if unknown is True:
        return []
    if isinstance(before, dict) and isinstance(after, dict):
        found = []
        for key in sorted(set(before) | set(after)):
            inner = unknown.get(key) if isinstance(unknown, dict) else None
            found += _differences(
                before.get(key), after.get(key), inner, f"{path}.{key}" if path else key
            )
        return found
    if (
        isinstance(before, list)
        and isinstance(after, list)
        and len(before) == len(after) == 1
        and isinstance(before[0], dict)
    ):
        # Nested blocks with one element (settings[0]): compare inside, same path.
        inner = unknown[0] if isinstance(unknown, list) and unknown else None
        return _differences(before[0], after[0], inner, path)
    return [] if before == after else [path]


def changes_beyond_pause(plan_json: dict[str, Any]) -> list[str]:
    """Every change in the plan that pausing or resuming would not make, as
    "ADDRESS: what"; empty when the plan only pauses or resumes."""
    found = []
    for change in plan_json.get("resource_changes", []):
        detail = change.get("change", {})
        actions = detail.get("actions", [])
        if actions in (["no-op"], ["read"]):
            continue
        address = change.get("address", "?")
        allowed = PAUSE_ATTRIBUTES.get(change.get("type", ""))
        if actions != ["update"] or allowed is None:
            found.append(f"{address}: {'/'.join(actions)}")
            continue
        changed = _differences(
            detail.get("before") or {}, detail.get("after") or {}, detail.get("after_unknown")
        )
        others = [p for p in changed if not any(p == a or p.startswith(a + ".") for a in allowed)]
        if others:
            found.append(f"{address}: update of {', '.join(others)}")
    return found


# pause / resume.


@dataclasses.dataclass
class PauseResult:
    environment: str
    paused: bool  # what the settings now say
    settings_file: str
    edited: bool  # the file changed (commit it)
    applied: bool  # Terraform changed something
    changes: int  # resources the plan changed
    note: str


Sink = Callable[[str], None]


def set_paused(
    project: Project,
    env: str,
    paused: bool,
    sink: Sink,
    step: Sink,
    now: datetime.datetime | None = None,
) -> PauseResult:
    """Set settings.paused, then plan, guard (nothing protected deleted, nothing but the
    pause changed) and apply. The file is restored if nothing was applied."""
    from kfp_gcp.services.infra import terraform

    folder = terraform.environment_dir(project, env)
    path = folder / terraform.SETTINGS_FILE
    where = relative(project, path)
    try:
        text = path.read_text(encoding="utf-8")
        settings = json.loads(text)["settings"]
    except FileNotFoundError:
        raise ConfigError(
            f"{where} is missing", hint="the environment's settings live there"
        ) from None
    except (json.JSONDecodeError, KeyError, TypeError):
        raise ConfigError(f"{where} is not JSON with a settings object", hint="fix it") from None
    dirty = uncommitted(project, path)
    if dirty:
        raise ConfigError(
            f"{where} has uncommitted changes",
            hint="pausing edits that file and applies it: commit or stash your changes "
            "first, so that the pause is the only change Terraform applies",
        )
    if dirty is None:
        step(f"not in a git work tree: cannot check {where} for other changes")
    moment = now or datetime.datetime.now(datetime.UTC)
    state = state_at(settings, moment, where)
    if not paused and state.scheduled_pause and state.schedule:
        until = state.schedule.next_change(moment)
        raise ConfigError(
            f"{env}'s schedule ({state.schedule.describe()}) has it paused now, until "
            f"{until:%a %Y-%m-%d %H:%M} UTC; resuming would last until the next plan",
            hint=f"to run {env} now, widen or remove settings.schedule in {where}, commit, "
            f"and run `kfp-gcp infra resume --env {env}` (or plan and apply)",
        )
    edited = state.setting != paused
    if edited:
        path.write_text(with_paused(text, paused), encoding="utf-8")
        step(f"{where}: settings.paused = {str(paused).lower()}")
    applied = False
    try:
        _, plan_file, json_file = terraform.plan(project, env, sink, now=moment)
        plan_json = terraform.load_plan_json(json_file)
        destructive = terraform.destructive_changes(plan_json)
        if destructive:
            raise DestroyBlocked(
                "the plan would " + ", ".join(f"{c['action']} {c['address']}" for c in destructive),
                hint="pausing never deletes anything: apply main's pending changes first "
                f"(`kfp-gcp infra plan --env {env}`, `infra guard`, `infra apply`), then pause",
            )
        others = changes_beyond_pause(plan_json)
        if others:
            raise ConfigError(
                f"the plan changes more than the pause: {'; '.join(others[:5])}"
                + (f" (and {len(others) - 5} more)" if len(others) > 5 else ""),
                hint=f"{env}'s estate differs from this checkout in other ways: apply those "
                f"changes first (kfp-gcp infra plan --env {env}, review, apply), then "
                f"{'pause' if paused else 'resume'}",
            )
        changes = [
            c
            for c in plan_json.get("resource_changes", [])
            if c.get("change", {}).get("actions") not in (["no-op"], ["read"])
        ]
        if changes:
            step(f"applying: {len(changes)} resource(s) change")
            applied = True
            terraform.apply(project, env, plan_file, sink)
        else:
            step(f"nothing to change: {env} already is {'paused' if paused else 'running'}")
    except BaseException:
        if edited and not applied:
            path.write_text(text, encoding="utf-8")
            step(f"{where} restored: nothing was applied")
        raise
    if paused:
        note = (
            f"{env} is paused. Commit {where}: until main says paused, the next apply from "
            f"main resumes it."
            if edited
            else f"{env} is paused."
        )
    else:
        note = (
            f"{env} runs again; its pods start as nodes come up (a few minutes). Commit "
            f"{where}: until main says paused=false, the next apply from main pauses it again."
            if edited
            else f"{env} runs."
        )
    return PauseResult(
        environment=env,
        paused=paused,
        settings_file=where,
        edited=edited,
        applied=applied,
        changes=len(changes),
        note=note,
    )

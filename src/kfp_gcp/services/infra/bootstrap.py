"""The bootstrap of one project (terraform/bootstrap): its committed files checked against
each other and against the environment they serve, then init, plan and apply; on the first
run the state moves from a local file into the bucket the apply created; last, the
environment's empty state is created, so that pull-request plans, which may only read the
bucket, work before the environment's first apply.

One project per environment: `<env>.tfvars.json` and `<env>.backend.hcl` in
terraform/bootstrap are that project's settings and state location, and every init passes
`-reconfigure`, so running prod after dev never reads, or migrates, dev's state.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from kfp_gcp.errors import ConfigError, RunError
from kfp_gcp.services.infra import terraform
from kfp_gcp.services.infra.terraform import BACKEND_FILE, SETTINGS_FILE, LineSink
from kfp_gcp.services.project import Project, relative

BOOTSTRAP = "terraform/bootstrap"
# A Terraform override file (the name must end in _override.tf): while it exists, the
# backend is a local file instead of the bucket that does not exist yet.
OVERRIDE_FILE = "local_backend_override.tf"
BOOTSTRAP_PREFIX = "bootstrap"


class _Loose(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Ci(_Loose):
    apply_environments: list[str]


class _StateBucket(_Loose):
    name: str | None = None


class BootstrapSettings(_Loose):
    """What this command reads from `<env>.tfvars.json`; Terraform validates the rest."""

    project_id: str
    project_number: str
    prefix: str
    github_repository: str
    state_bucket: _StateBucket
    ci: _Ci

    @property
    def bucket(self) -> str:
        """The state bucket, named as terraform/bootstrap/state.tf names it."""
        return self.state_bucket.name or f"{self.prefix}-{self.project_id}-tfstate"

    @property
    def ci_apply_email(self) -> str:
        return f"{self.prefix}-ci-apply@{self.project_id}.iam.gserviceaccount.com"

    @property
    def ci_publish_email(self) -> str:
        return f"{self.prefix}-ci-publish@{self.project_id}.iam.gserviceaccount.com"


@dataclasses.dataclass(frozen=True)
class Files:
    folder: Path
    var_file: Path
    backend_file: Path
    settings: BootstrapSettings

    def local_state(self, env: str) -> Path:
        return self.folder / f"{env}.tfstate"


@dataclasses.dataclass
class Outcome:
    applied: bool
    migrated: bool
    github_repository: str
    github_variables: dict[str, str]


def parse_backend(path: Path) -> dict[str, str]:
    """A backend config file of `key = "value"` lines (the only form we commit)."""
    values: dict[str, str] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = re.fullmatch(r'([a-z_]+)\s*=\s*"([^"]*)"', line)
        if not match:
            raise ConfigError(
                f'{path.name}:{number}: expected key = "value", got {raw.strip()!r}',
                hint='write one setting per line, such as bucket = "kfp-acme-ml-dev-tfstate"',
            )
        values[match[1]] = match[2]
    return values


def check_files(project: Project, env: str) -> Files:
    """The bootstrap files of `env`, checked against each other and the environment before
    anything runs: a mismatch found after an apply is a half-done bootstrap."""
    env_dir = terraform.environment_dir(project, env)
    folder = project.root / BOOTSTRAP
    var_file = folder / f"{env}.tfvars.json"
    backend_file = folder / f"{env}.backend.hcl"
    for path, what in ((var_file, "its settings"), (backend_file, "where its state lives")):
        if not path.is_file():
            raise ConfigError(
                f"{relative(project, path)} is missing: {what} for the {env} project",
                hint=f"copy the dev file to {path.name} and edit it (terraform/README.md)",
            )
    settings = _load_settings(project, var_file)
    where = relative(project, var_file)
    if settings.ci.apply_environments != [env]:
        raise ConfigError(
            f"{where}: ci.apply_environments is {settings.ci.apply_environments}, "
            f"but this is the bootstrap of {env}",
            hint=f'set it to ["{env}"]: one project serves one environment, so a job of '
            "another environment can never act in it",
        )
    for other in sorted(folder.glob("*.tfvars.json")):
        if other != var_file and _load_settings(project, other).project_id == settings.project_id:
            raise ConfigError(
                f"{where} and {other.name} both bootstrap project {settings.project_id}",
                hint="give each environment its own project (terraform/README.md)",
            )
    backend = parse_backend(backend_file)
    _expect(project, backend_file, "bucket", backend.get("bucket"), settings.bucket)
    _expect(project, backend_file, "prefix", backend.get("prefix"), BOOTSTRAP_PREFIX)
    env_backend_file = env_dir / BACKEND_FILE
    if env_backend_file.is_file():
        env_backend = parse_backend(env_backend_file)
        _expect(project, env_backend_file, "bucket", env_backend.get("bucket"), settings.bucket)
        _expect(
            project, env_backend_file, "prefix", env_backend.get("prefix"), f"environments/{env}"
        )
    env_settings_file = env_dir / SETTINGS_FILE
    if env_settings_file.is_file():
        env_settings = json.loads(env_settings_file.read_text(encoding="utf-8")).get("settings", {})
        for field, expected in (
            ("project_id", settings.project_id),
            ("project_number", settings.project_number),
            ("ci_apply_service_account", settings.ci_apply_email),
            ("ci_publish_service_account", settings.ci_publish_email),
        ):
            _expect(
                project, env_settings_file, f"settings.{field}", env_settings.get(field), expected
            )
    return Files(folder, var_file, backend_file, settings)


def _load_settings(project: Project, path: Path) -> BootstrapSettings:
    try:
        return BootstrapSettings.model_validate_json(path.read_text(encoding="utf-8"))
    except ValidationError as exc:
        error = exc.errors()[0]
        raise ConfigError(
            f"{relative(project, path)}: {'.'.join(map(str, error['loc']))}: {error['msg']}",
            hint="terraform/bootstrap/README.md describes every variable",
        ) from None


def _expect(project: Project, path: Path, field: str, found: str | None, expected: str) -> None:
    if found != expected:
        raise ConfigError(
            f"{relative(project, path)}: {field} is {found!r}, expected {expected!r}",
            hint="the bootstrap's <env>.tfvars.json decides the project and its state bucket; "
            "make the environment's files agree with it",
        )


def plan_path(project: Project, env: str) -> Path:
    return project.build_dir / "infra" / f"bootstrap-{env}.tfplan"


def bootstrap(
    project: Project,
    env: str,
    sink: LineSink,
    step: Callable[[str], None],
    confirm: Callable[[], bool],
    local_state: bool = False,
) -> Outcome:
    """Init, plan and, once `confirm` agrees, apply the bootstrap of `env`'s project.

    `local_state` (or a local state left by an unfinished first run) keeps the state in
    terraform/bootstrap/<env>.tfstate, and moves it into the bucket after the apply."""
    files = check_files(project, env)
    folder = files.folder
    local_file = files.local_state(env)
    override = folder / OVERRIDE_FILE
    local = local_state or local_file.is_file()
    if local:
        override.write_text(
            "# Written by `kfp-gcp infra bootstrap` for the first run: the state stays in a\n"
            "# local file until the bucket exists. Never commit it (it is git-ignored).\n"
            f'terraform {{\n  backend "local" {{\n    path = "{local_file.name}"\n  }}\n}}\n',
            encoding="utf-8",
        )
        step(f"init, state in {relative(project, local_file)} until the bucket exists")
        terraform.run_terraform(["init", "-input=false", "-no-color", "-reconfigure"], folder, sink)
    else:
        override.unlink(missing_ok=True)
        step(f"init, state in gs://{files.settings.bucket}/{BOOTSTRAP_PREFIX}")
        _init_bucket(files, sink)

    plan_file = plan_path(project, env)
    plan_file.parent.mkdir(parents=True, exist_ok=True)
    step(f"plan of project {files.settings.project_id}")
    changes = _plan(files, sink, out=plan_file) == 2
    applied = False
    if changes:
        if not confirm():
            raise RunError(
                "nothing applied", hint=f"the plan is kept in {relative(project, plan_file)}"
            )
        step("apply")
        terraform.run_terraform(
            ["apply", "-input=false", "-no-color", str(plan_file)], folder, sink
        )
        applied = True

    migrated = False
    if local:
        step(f"move the state into gs://{files.settings.bucket}/{BOOTSTRAP_PREFIX}")
        override.unlink()
        _init_bucket(files, sink, migrate=True)
        if _plan(files, sink) != 0:
            raise RunError(
                "after moving the state into the bucket, the plan is not empty",
                hint=f"the local copy {relative(project, local_file)} is kept: compare it "
                "with the bucket's before you delete it",
            )
        for leftover in (local_file, folder / f"{local_file.name}.backup"):
            leftover.unlink(missing_ok=True)
        migrated = True

    step(f"the state of terraform/environments/{env} (pull-request plans read it)")
    terraform.init(project, env, sink)

    lines: list[str] = []
    terraform.run_terraform(["output", "-json", "github_variables"], folder, lines.append)
    return Outcome(
        applied=applied,
        migrated=migrated,
        github_repository=files.settings.github_repository,
        github_variables=json.loads("\n".join(lines)),
    )


def _init_bucket(files: Files, sink: LineSink, migrate: bool = False) -> None:
    # -reconfigure: never offer to copy another environment's state into this one;
    # -migrate-state -force-copy: copy the first run's local state, without a prompt.
    mode = ["-migrate-state", "-force-copy"] if migrate else ["-reconfigure"]
    terraform.run_terraform(
        ["init", "-input=false", "-no-color", *mode, f"-backend-config={files.backend_file.name}"],
        files.folder,
        sink,
    )


def _plan(files: Files, sink: LineSink, out: Path | None = None) -> int:
    args = ["plan", "-input=false", "-no-color", "-detailed-exitcode"]
    args.append(f"-var-file={files.var_file.name}")
    if out is not None:
        args.append(f"-out={out}")
    return terraform.run_terraform(args, files.folder, sink, ok_codes=(0, 2))

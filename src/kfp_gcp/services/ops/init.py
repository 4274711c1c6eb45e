"""`kfp-gcp init`: a team's configuration from a few answers.

The answers (`Answers`, JSON Schema in schemas/init.schema.json) are the project of each
environment, the region, the prefix, the GitHub repository, and optionally a domain with
the IAP members and a monthly budget. From them init writes, for each environment:

- terraform/bootstrap/<env>.tfvars.json and <env>.backend.hcl (the bootstrap of its project);
- terraform/environments/<env>/backend.hcl and terraform.tfvars.json (its settings).

Everything the answers do not decide (node pools, database tier, schedule, retention...)
is kept from the file being replaced, which in a fresh fork is the template's example for
that environment. The written files are then checked with the models the other commands
read them with (the bootstrap's cross-file check, the sizing of `infra cost` and `infra
quota`, the schedule); if one refuses, every file is put back as it was.

A file that holds another project's settings than the template's example is not replaced
without `force`: init configures a fork once, and changes afterwards are reviewed edits.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from kfp_gcp.errors import ConfigError
from kfp_gcp.services.infra import terraform
from kfp_gcp.services.project import Project, relative

SCHEMA_PATH = "schemas/init.schema.json"
# The example projects the template's committed files name: init replaces them freely.
TEMPLATE_PROJECTS = ("acme-ml-dev", "acme-ml-prod")
ENVIRONMENT_NAMES = ("dev", "staging", "prod")  # modules/platform's settings.environment
DEFAULT_PLAN_SUBJECTS = ["pull_request", "ref:refs/heads/main"]
# Settings that still carry the template's example once init is done, with what to do.
EXAMPLE_VALUES = (
    ("example.com", "settings.monitoring.emails names the template's ml-platform@example.com: "
     "put your team's address there"),
)  # fmt: skip
MODULE_PREFIX = re.compile(r"^[a-z][a-z0-9-]{1,10}[a-z0-9]$")  # modules' var.prefix


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EnvironmentAnswers(_Strict):
    """What differs per environment."""

    project_id: str = Field(
        description="The Google Cloud project of this environment (one project each).",
        pattern=r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$",
    )
    project_number: str = Field(
        description="Its number: gcloud projects describe PROJECT_ID "
        "--format='value(projectNumber)'.",
        pattern=r"^[0-9]{6,20}$",
    )
    domain: str = Field(
        "",
        description="The UI's domain; with it, people reach KFP through IAP on "
        "https://DOMAIN. Empty: no domain, the UI by port-forward.",
        pattern=r"^$|^(([a-z0-9]+|[a-z0-9][-a-z0-9]*[a-z0-9])\.)+[a-z][-a-z0-9]*[a-z0-9]$",
    )
    iap_members: list[str] = Field(
        default_factory=list,
        description="Who IAP lets in, with a domain: user:, group:, serviceAccount: or "
        "domain: members.",
    )
    budget: float | None = Field(
        None, description="A monthly budget in the billing account's currency (alerts at "
        "50, 90 and 100 %; it does not cap spending).", gt=0,
    )  # fmt: skip

    @field_validator("iap_members")
    @classmethod
    def _members(cls, value: list[str]) -> list[str]:
        for member in value:
            if not re.fullmatch(r"(user|group|serviceAccount|domain):\S+", member):
                raise ValueError(
                    f"{member!r} is not an IAM member: write user:alice@example.com, "
                    "group:ml-team@example.com, serviceAccount:... or domain:example.com"
                )
        return value

    @model_validator(mode="after")
    def _members_need_a_domain(self) -> EnvironmentAnswers:
        if self.iap_members and not self.domain:
            raise ValueError("iap_members need a domain: IAP guards https://DOMAIN")
        return self


class Answers(_Strict):
    """`kfp-gcp init`'s answers; the same as its flags (schemas/init.schema.json)."""

    region: str = Field(
        description="The region of every environment, such as europe-west1.",
        pattern=r"^[a-z]+-[a-z]+[0-9]+$",
    )
    prefix: str = Field(
        description="Names the bootstrap's resources (<prefix>-ci-apply, the state bucket "
        "<prefix>-<project_id>-tfstate); each environment's resources are named "
        "<prefix><env> (kfpdev), at most 12 characters.",
        pattern=r"^[a-z][a-z0-9-]{1,9}$",
    )
    github_repository: str = Field(
        description="The GitHub repository CI runs in, owner/name.",
        pattern=r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$",
    )
    github_repository_id: str = Field(
        description="Its numeric id: gh api repos/OWNER/NAME --jq .id.",
        pattern=r"^[1-9][0-9]{0,19}$",
    )
    billing_account: str | None = Field(
        None,
        description="The billing account of the budgets (012345-6789AB-CDEF01); needed with "
        "a budget.",
        pattern=r"^[0-9A-F]{6}-[0-9A-F]{6}-[0-9A-F]{6}$",
    )
    environments: dict[str, EnvironmentAnswers] = Field(
        description="Each environment (a folder under terraform/environments/) and its answers.",
        min_length=1,
    )

    @model_validator(mode="after")
    def _consistent(self) -> Answers:
        for env in self.environments:
            if env not in ENVIRONMENT_NAMES:
                raise ValueError(
                    f"environment {env!r}: settings.environment must be one of "
                    f"{', '.join(ENVIRONMENT_NAMES)}"
                )
            if not MODULE_PREFIX.fullmatch(self.prefix + env):
                raise ValueError(
                    f"prefix {self.prefix!r} makes {env}'s resources {self.prefix + env!r}: "
                    "at most 12 characters, so choose a prefix of at most "
                    f"{12 - len(env)} characters"
                )
        projects = [a.project_id for a in self.environments.values()]
        if len(set(projects)) != len(projects):
            raise ValueError("each environment needs its own project (one project per environment)")
        if self.github_repository.endswith(".git"):
            raise ValueError("github_repository is owner/name, without .git")
        budgets = [e for e, a in self.environments.items() if a.budget is not None]
        if budgets and not self.billing_account:
            raise ValueError(
                f"a budget ({', '.join(budgets)}) needs billing_account: gcloud billing "
                "projects describe PROJECT_ID --format='value(billingAccountName)', after "
                "billingAccounts/"
            )
        return self


def schema() -> dict[str, Any]:
    return Answers.model_json_schema()


def schema_text() -> str:
    return json.dumps(schema(), indent=2, sort_keys=True) + "\n"


def parse(data: dict[str, Any]) -> Answers:
    """The answers, or a ConfigError naming the field and how to fix it."""
    try:
        return Answers.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"]) or "answers"
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] == "string_pattern_mismatch":
            message = f"{error['input']!r} does not match {error['ctx']['pattern']}"
        raise ConfigError(
            f"{where}: {message}",
            hint=_FIELD_HINTS.get(str(error["loc"][-1]) if error["loc"] else "", "")
            or f"see {SCHEMA_PATH}",
        ) from None


_FIELD_HINTS = {
    "project_id": "a project id such as acme-ml-dev (6-30 lower-case letters, digits, hyphens)",
    "project_number": "gcloud projects describe PROJECT_ID --format='value(projectNumber)'",
    "region": "a region such as europe-west1 (gcloud compute regions list)",
    "prefix": "2-10 lower-case letters, digits or hyphens, starting with a letter, such as kfp",
    "github_repository": "owner/name as on GitHub, such as example-org/kfp-platform",
    "github_repository_id": "gh api repos/OWNER/NAME --jq .id",
    "billing_account": "gcloud billing projects describe PROJECT_ID "
    "--format='value(billingAccountName)', without billingAccounts/",
    "domain": "a host name such as kfp.example.com, or empty for none",
}


# Writing.


def multi_region(region: str) -> str:
    """The multi-region a region belongs to (EU, US, ASIA), else the region itself."""
    for prefix, location in (("europe-", "EU"), ("us-", "US"), ("asia-", "ASIA")):
        if region.startswith(prefix):
            return location
    return region


def _zone(location: str, region: str) -> str:
    """`location` moved to `region`, keeping a zonal location's zone letter."""
    match = re.fullmatch(r"[a-z]+-[a-z]+\d+-([a-z])", location)
    return f"{region}-{match[1]}" if match else region


def compact_json(value: Any, width: int = 120) -> str:
    """JSON as the committed settings are written: small objects and lists on one line,
    the rest one key per line, two spaces deep."""

    def inline(item: Any) -> str:
        if isinstance(item, dict):
            if not item:
                return "{}"
            return "{ " + ", ".join(f"{json.dumps(k)}: {inline(v)}" for k, v in item.items()) + " }"
        if isinstance(item, list):
            return "[" + ", ".join(inline(v) for v in item) + "]"
        return json.dumps(item)

    def block(item: Any, depth: int, key: str) -> str:
        pad = "  " * depth
        lead = f"{pad}{json.dumps(key)}: " if key else pad
        one = lead + inline(item)
        if not isinstance(item, dict | list) or not item or (depth and len(one) < width):
            return one
        if isinstance(item, dict):
            inner = ",\n".join(block(v, depth + 1, k) for k, v in item.items())
            return f"{lead}{{\n{inner}\n{pad}}}"
        inner = ",\n".join(block(v, depth + 1, "") for v in item)
        return f"{lead}[\n{inner}\n{pad}]"

    return block(value, 0, "") + "\n"


def _load_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}


def bootstrap_settings(answers: Answers, env: str, current: dict[str, Any]) -> dict[str, Any]:
    mine = answers.environments[env]
    ci = dict(current.get("ci") or {})
    ci["apply_environments"] = [env]
    ci.setdefault("plan_subjects", DEFAULT_PLAN_SUBJECTS)
    settings: dict[str, Any] = {
        "project_id": mine.project_id,
        "project_number": mine.project_number,
        "prefix": answers.prefix,
        "github_repository": answers.github_repository,
        "github_repository_id": answers.github_repository_id,
        "state_bucket": {
            **{k: v for k, v in (current.get("state_bucket") or {}).items() if k != "name"},
            "location": multi_region(answers.region),
        },
        "ci": ci,
    }
    if mine.budget is not None:
        settings["billing_account_id"] = answers.billing_account
    for key, value in current.items():  # what the answers do not decide
        if key not in settings and key != "billing_account_id":
            settings[key] = value
    settings.setdefault("labels", {"platform": "kfp"})
    return settings


def state_bucket(answers: Answers, env: str) -> str:
    """As terraform/bootstrap/state.tf names it."""
    return f"{answers.prefix}-{answers.environments[env].project_id}-tfstate"


def backend(bucket: str, prefix: str, what: str) -> str:
    return (
        f"# {what} (the bootstrap's state_bucket output), written by kfp-gcp init.\n"
        f'bucket = "{bucket}"\nprefix = "{prefix}"\n'
    )


def environment_settings(answers: Answers, env: str, current: dict[str, Any]) -> dict[str, Any]:
    mine = answers.environments[env]
    old = dict(current.get("settings") or {})
    region = answers.region
    account = f"@{mine.project_id}.iam.gserviceaccount.com"
    new: dict[str, Any] = {
        "environment": env,
        "prefix": answers.prefix + env,
        "project_id": mine.project_id,
        "project_number": mine.project_number,
        "region": region,
        "ci_apply_service_account": f"{answers.prefix}-ci-apply{account}",
        "ci_publish_service_account": f"{answers.prefix}-ci-publish{account}",
        "ci_build_service_account": f"{answers.prefix}-ci-build{account}",
    }
    for key, value in old.items():
        if key not in new:
            new[key] = value
    cluster = dict(old.get("cluster") or {})
    cluster["location"] = _zone(str(cluster.get("location", region)), region)
    pools = {}
    for name, pool in (cluster.get("node_pools") or {}).items():
        pool = dict(pool)
        if pool.get("zones"):
            pool["zones"] = [_zone(z, region) for z in pool["zones"]]
        pools[name] = pool
    if pools:
        cluster["node_pools"] = pools
    new["cluster"] = cluster
    storage = dict(old.get("storage") or {})
    location = str(storage.get("location", region))
    storage["location"] = multi_region(region) if location.isupper() else region
    new["storage"] = storage
    ingress = {k: v for k, v in (old.get("ingress") or {}).items() if k != "iap_members"}
    ingress["domain"] = mine.domain
    if mine.domain:
        new["access"] = "iap"
        ingress["iap_members"] = mine.iap_members
    elif new.get("access") == "iap" or "access" not in new:
        new["access"] = "port-forward"
    new["ingress"] = ingress
    if mine.budget is None:
        new.pop("budget", None)
    else:
        budget = dict(old.get("budget") or {})
        amount = int(mine.budget) if float(mine.budget).is_integer() else mine.budget
        budget.update({"amount": amount, "billing_account_id": answers.billing_account})
        new["budget"] = budget
    return {"settings": new}


@dataclasses.dataclass
class Written:
    path: str
    status: str  # created | replaced | unchanged


@dataclasses.dataclass
class InitResult:
    files: list[Written]
    next_command: str
    notes: list[str]


def files_for(project: Project, answers: Answers) -> dict[Path, str]:
    """Every file init writes, with its new text."""
    root = project.root
    found: dict[Path, str] = {}
    for env in answers.environments:
        folder = terraform.environment_dir(project, env)
        boot = root / "terraform" / "bootstrap"
        bucket = state_bucket(answers, env)
        var_file = boot / f"{env}.tfvars.json"
        found[var_file] = compact_json(bootstrap_settings(answers, env, _load_json(var_file)))
        found[boot / f"{env}.backend.hcl"] = backend(
            bucket, "bootstrap", f"The {env} project's state bucket; the bootstrap's own state"
        )
        found[folder / terraform.BACKEND_FILE] = backend(
            bucket, f"environments/{env}", f"The {env} environment's state"
        )
        settings_file = folder / terraform.SETTINGS_FILE
        found[settings_file] = compact_json(
            environment_settings(answers, env, _load_json(settings_file))
        )
    return found


def _template(path: Path) -> bool:
    """Whether a file still holds the template's example project (or nothing)."""
    if not path.is_file():
        return True
    text = path.read_text(encoding="utf-8")
    return any(example in text for example in TEMPLATE_PROJECTS) or not text.strip()


def write(project: Project, answers: Answers, force: bool = False) -> InitResult:
    planned = files_for(project, answers)
    before = {p: p.read_text(encoding="utf-8") if p.is_file() else None for p in planned}
    taken = [
        relative(project, p)
        for p, text in planned.items()
        if before[p] is not None and before[p] != text and not _template(p)
    ]
    if taken and not force:
        raise ConfigError(
            "these files hold another configuration than the template's example: "
            + ", ".join(taken),
            hint="review them and edit by hand, or pass --force to replace them with these "
            "answers (git shows what changed)",
        )
    written = []
    try:
        for path, text in planned.items():
            status = "unchanged" if before[path] == text else (
                "created" if before[path] is None else "replaced"
            )  # fmt: skip
            if status != "unchanged":
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")
            written.append(Written(relative(project, path), status))
        _check(project, answers)
    except Exception:
        for path, old in before.items():  # all or nothing
            if old is None:
                path.unlink(missing_ok=True)
            else:
                path.write_text(old, encoding="utf-8")
        raise
    first = next(iter(answers.environments))
    notes = [
        f"{relative(project, p)}: {what}"
        for p, text in planned.items()
        for needle, what in EXAMPLE_VALUES
        if needle in text and p.name == terraform.SETTINGS_FILE
    ]
    return InitResult(written, f"kfp-gcp infra bootstrap --env {first} --local-state", notes)


def _check(project: Project, answers: Answers) -> None:
    """The written files, read as the other commands read them."""
    from kfp_gcp.services.infra import bootstrap, cost, pause

    for env in answers.environments:
        bootstrap.check_files(project, env)
        sizing = cost.load_sizing(project, env)
        settings_file = terraform.environment_dir(project, env) / terraform.SETTINGS_FILE
        pause.schedule_of(
            {"schedule": sizing.schedule} if sizing.schedule else {},
            relative(project, settings_file),
        )


def current_answers(project: Project, envs: list[str]) -> dict[str, Any]:
    """Answers found in the files (for prompts' defaults), the template's examples left out."""
    found: dict[str, Any] = {"environments": {}}
    for env in envs:
        boot = _load_json(project.root / "terraform" / "bootstrap" / f"{env}.tfvars.json")
        settings = _load_json(
            terraform.environment_dir(project, env) / terraform.SETTINGS_FILE
        ).get("settings", {})
        if boot.get("project_id") in TEMPLATE_PROJECTS or not boot:
            found["environments"][env] = {}
            if settings.get("region"):
                found.setdefault("region", settings["region"])
            continue
        for key in ("prefix", "github_repository", "github_repository_id"):
            if boot.get(key):
                found.setdefault(key, boot[key])
        if settings.get("region"):
            found.setdefault("region", settings["region"])
        ingress = settings.get("ingress") or {}
        mine: dict[str, Any] = {
            "project_id": boot.get("project_id"),
            "project_number": boot.get("project_number"),
            "domain": ingress.get("domain", ""),
            "iap_members": list(ingress.get("iap_members", [])),
        }
        if (settings.get("budget") or {}).get("amount"):
            mine["budget"] = settings["budget"]["amount"]
            found.setdefault("billing_account", settings["budget"].get("billing_account_id"))
        found["environments"][env] = mine
    return found

"""`kfp-gcp init`: write a team's configuration from a few answers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from kfp_gcp import output
from kfp_gcp.cli.common import interactive
from kfp_gcp.cli.common import project as _project
from kfp_gcp.errors import ConfigError


def _per_env(values: list[str] | None, envs: list[str], flag: str) -> dict[str, list[str]]:
    """`ENV=VALUE` entries by environment; a bare VALUE when only one is configured."""
    found: dict[str, list[str]] = {}
    for entry in values or []:
        env, sep, value = entry.partition("=")
        if not (sep and env in envs):
            if len(envs) != 1 or (sep and env in ("dev", "staging", "prod")):
                raise ConfigError(
                    f"{flag} {entry!r}: say which of the environments being configured, "
                    "as ENV=VALUE",
                    hint=f"such as {flag} {envs[0]}=... (configuring: {', '.join(envs)})",
                )
            env, value = envs[0], entry
        found.setdefault(env, []).append(value)
    return found


def _load_answers(path: Path) -> dict[str, Any]:
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(
            f"cannot read the answers {path}: {exc}",
            hint="a YAML or JSON file as schemas/init.schema.json describes",
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path} is not an object", hint="see schemas/init.schema.json")
    return data


def init(
    ctx: typer.Context,
    env: Annotated[
        list[str] | None,
        typer.Option(
            "--env",
            "-e",
            help="An environment to configure (repeat). Default: every folder under "
            "terraform/environments/.",
        ),
    ] = None,
    project_id: Annotated[
        list[str] | None,
        typer.Option(
            "--project-id", help="ENV=PROJECT_ID, one project per environment.", show_default=False
        ),
    ] = None,
    project_number: Annotated[
        list[str] | None,
        typer.Option(
            "--project-number",
            help="ENV=NUMBER (gcloud projects describe PROJECT_ID "
            "--format='value(projectNumber)').",
            show_default=False,
        ),
    ] = None,
    region: Annotated[str | None, typer.Option(help="The region, such as europe-west1.")] = None,
    prefix: Annotated[
        str | None,
        typer.Option(help="Names the bootstrap's resources; environments get PREFIX+ENV (kfpdev)."),
    ] = None,
    github_repository: Annotated[
        str | None, typer.Option("--github-repository", help="OWNER/NAME on GitHub.")
    ] = None,
    github_repository_id: Annotated[
        str | None,
        typer.Option(
            "--github-repository-id", help="Its numeric id (gh api repos/OWNER/NAME --jq .id)."
        ),
    ] = None,
    domain: Annotated[
        list[str] | None,
        typer.Option(
            help="ENV=DOMAIN: the UI on https://DOMAIN behind IAP. Without it, port-forward.",
            show_default=False,
        ),
    ] = None,
    iap_member: Annotated[
        list[str] | None,
        typer.Option(
            "--iap-member",
            help="ENV=MEMBER that IAP lets in (user:, group:, serviceAccount:, domain:); repeat.",
            show_default=False,
        ),
    ] = None,
    budget: Annotated[
        list[str] | None,
        typer.Option(
            help="ENV=AMOUNT: a monthly budget that alerts at 50, 90 and 100 %.", show_default=False
        ),
    ] = None,
    billing_account: Annotated[
        str | None,
        typer.Option(
            "--billing-account", help="The budgets' billing account (012345-6789AB-CDEF01)."
        ),
    ] = None,
    answers_file: Annotated[
        Path | None,
        typer.Option(
            "--answers",
            help="The answers as YAML or JSON (schemas/init.schema.json); flags override them.",
            dir_okay=False,
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Replace files that hold another configuration than the template's."
        ),
    ] = False,
) -> None:
    """Write the team's configuration: each environment's bootstrap and settings files.

    From the project of each environment, the region, a prefix, the GitHub repository and
    optionally a domain with its IAP members and a budget, it writes
    terraform/bootstrap/ENV.tfvars.json and ENV.backend.hcl, and
    terraform/environments/ENV/backend.hcl and terraform.tfvars.json, keeping every other
    setting (node pools, database, schedule...) as the files had it. The files are then
    checked as `infra bootstrap`, `infra cost` and `infra quota` read them; if one is
    refused, nothing is written. On a terminal it asks for what no flag gave; in scripts
    pass the flags (or --answers FILE). A file holding another configuration than the
    template's example is replaced only with --force. Prints the next command.

    Example: kfp-gcp init --env dev --project-id acme-ml-dev --project-number 123456789012
    --region europe-west1 --prefix kfp --github-repository acme/kfp-platform
    --github-repository-id 123456789
    """
    from kfp_gcp.services.infra import terraform
    from kfp_gcp.services.ops import init as service

    project = _project(ctx)
    envs = env or terraform.environments(project)
    for name in envs:
        terraform.environment_dir(project, name)  # a clear error for an unknown one
    data: dict[str, Any] = _load_answers(answers_file) if answers_file else {}
    data.setdefault("environments", {})
    data["environments"] = {e: dict(data["environments"].get(e) or {}) for e in envs}
    for key, value in (
        ("region", region), ("prefix", prefix), ("github_repository", github_repository),
        ("github_repository_id", github_repository_id), ("billing_account", billing_account),
    ):  # fmt: skip
        if value is not None:
            data[key] = value
    for flag, values, key in (
        ("--project-id", project_id, "project_id"),
        ("--project-number", project_number, "project_number"),
        ("--domain", domain, "domain"),
        ("--iap-member", iap_member, "iap_members"),
        ("--budget", budget, "budget"),
    ):
        for name, found in _per_env(values, envs, flag).items():
            if key == "iap_members":
                data["environments"][name][key] = found
            elif key == "budget":
                data["environments"][name][key] = _number(found[-1], flag)
            else:
                data["environments"][name][key] = found[-1]
    _ask(data, service.current_answers(project, envs), envs)
    answers = service.parse(data)
    result = service.write(project, answers, force=force)

    def table() -> Table:
        t = Table("File", "Result", title="kfp-gcp init")
        for written in result.files:
            t.add_row(written.path, written.status)
        return t

    output.emit(ctx.obj, result, table)
    for note in result.notes:
        output.stderr.print(f"note: {note}", highlight=False, soft_wrap=True)
    output.stderr.print(
        "Next: review the files (git diff), then bootstrap each project, starting with: "
        f"{result.next_command}",
        highlight=False,
        soft_wrap=True,
    )


def _number(text: str, flag: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ConfigError(
            f"{flag} {text!r} is not a number", hint=f"such as {flag} dev=200"
        ) from None


_REQUIRED = (
    ("region", "--region", "Region (such as europe-west1)"),
    ("prefix", "--prefix", "Prefix of the resource names (such as kfp)"),
    ("github_repository", "--github-repository", "GitHub repository (OWNER/NAME)"),
    ("github_repository_id", "--github-repository-id",
     "Its numeric id (gh api repos/OWNER/NAME --jq .id)"),
)  # fmt: skip
_REQUIRED_PER_ENV = (
    ("project_id", "--project-id", "Project id for {env}"),
    ("project_number", "--project-number",
     "Project number for {env} (gcloud projects describe ID --format='value(projectNumber)')"),
)  # fmt: skip


def _ask(data: dict[str, Any], defaults: dict[str, Any], envs: list[str]) -> None:
    """Prompt for what is missing on a terminal (optional answers too, once prompting);
    elsewhere a missing answer is an error naming its flag."""
    missing = [(k, flag, q) for k, flag, q in _REQUIRED if not data.get(k)]
    missing_env = [
        (e, k, flag, q.format(env=e))
        for e in envs
        for k, flag, q in _REQUIRED_PER_ENV
        if not data["environments"][e].get(k)
    ]
    if not missing and not missing_env:
        return
    if not interactive():
        flags = [flag for _, flag, _ in missing] + [
            f"{flag} {e}=..." for e, _, flag, _ in missing_env
        ]
        raise ConfigError(
            "missing answers: " + ", ".join(flags),
            hint="pass them as flags (or --answers FILE), or run `kfp-gcp init` on a "
            "terminal to be asked",
        )
    for key, _, question in missing:
        data[key] = typer.prompt(question, default=defaults.get(key) or None)
    known = defaults.get("environments", {})
    for env, key, _, question in missing_env:
        data["environments"][env][key] = typer.prompt(
            question, default=(known.get(env) or {}).get(key) or None
        )
    for env in envs:
        mine = data["environments"][env]
        if "domain" not in mine:
            mine["domain"] = typer.prompt(
                f"Domain for {env}'s UI behind IAP (empty: none, port-forward)",
                default=(known.get(env) or {}).get("domain", ""),
                show_default=False,
            ).strip()
        if mine["domain"] and "iap_members" not in mine:
            members = typer.prompt(
                f"Who IAP lets in on {mine['domain']} (comma-separated, such as "
                "group:ml-team@example.com)",
                default=",".join((known.get(env) or {}).get("iap_members", [])),
            )
            mine["iap_members"] = [m.strip() for m in members.split(",") if m.strip()]
        if "budget" not in mine:
            amount = typer.prompt(
                f"Monthly budget for {env} (empty: none)", default="", show_default=False
            ).strip()
            if amount:
                mine["budget"] = _number(amount, "--budget")
    if any("budget" in data["environments"][e] for e in envs) and not data.get("billing_account"):
        data["billing_account"] = typer.prompt(
            "Billing account of the budgets (012345-6789AB-CDEF01)",
            default=defaults.get("billing_account") or None,
        )
    output.stderr.print(
        "the same without questions: kfp-gcp init --answers FILE, with these answers in FILE:\n"
        + json.dumps(data, indent=2),
        highlight=False,
        markup=False,
    )

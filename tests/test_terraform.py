"""The Terraform, proven offline: fmt, validate, the modules' own `terraform test` files,
and checkov. Runs real Terraform through the runner tests/toolchain.py chooses:
../shared/tools/tf-offline where it exists, else the real providers."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests import toolchain
from tests.conftest import REPO

TERRAFORM = REPO / "terraform"
BASIC_ROLES = ("roles/owner", "roles/editor", "roles/viewer")


def roots() -> list[Path]:
    """Every folder with Terraform code: modules, the contract, bootstrap, environments."""
    return sorted({p.parent for p in TERRAFORM.rglob("*.tf") if ".terraform" not in p.parts})


def with_tests() -> list[Path]:
    return [r for r in roots() if list((r / "tests").glob("*.tftest.hcl"))]


def tf_offline(*args: str, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*toolchain.terraform_command(), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def name(path: Path) -> str:
    return str(path.relative_to(TERRAFORM))


def test_terraform_code_exists_where_the_layout_says():
    found = {name(r) for r in roots()}
    assert {"bootstrap", "contract", "environments/dev", "environments/prod"} <= found
    modules = {"network", "gke", "cloudsql", "storage", "workload-identity", "ingress", "budget"}
    assert {f"modules/{m}" for m in modules} <= found


@pytest.mark.slow
def test_fmt():
    done = tf_offline("terraform", "fmt", "-check", "-recursive", "-diff", "terraform")
    assert done.returncode == 0, f"run `terraform fmt -recursive terraform`:\n{done.stdout}"


@pytest.mark.slow
@pytest.mark.parametrize("root", roots(), ids=name)
def test_validate(root):
    done = tf_offline("validate", str(root.relative_to(REPO)), "-json")
    report = json.loads(done.stdout[done.stdout.index("{") :]) if "{" in done.stdout else {}
    problems = [
        f"{d['severity']}: {d['summary']}: {d.get('detail', '')}"
        for d in report.get("diagnostics", [])
    ]
    assert done.returncode == 0, "\n".join(problems) or done.stderr
    assert report.get("valid"), done.stdout
    # Deprecated arguments are removed in provider 7.0: warnings fail too.
    assert not problems, "\n".join(problems)


@pytest.mark.slow
@pytest.mark.parametrize("root", with_tests(), ids=name)
def test_terraform_test_files_pass(root):
    done = tf_offline("test", str(root.relative_to(REPO)))
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    summary = re.search(r"Success! (\d+) passed, 0 failed", done.stdout)
    assert summary, done.stdout[-2000:]
    assert int(summary[1]) > 0


def test_every_module_and_root_has_tests_and_a_readme():
    for root in roots():
        if root.name == "contract":
            continue  # exercised by the environments' tests
        assert list((root / "tests").glob("*.tftest.hcl")), f"{name(root)} has no tests"
        assert (root / "README.md").is_file(), f"{name(root)} has no README.md"


def test_module_files_follow_the_layout():
    for module in (TERRAFORM / "modules").iterdir():
        if module.is_dir():
            for required in ("versions.tf", "variables.tf", "outputs.tf", "main.tf"):
                assert (module / required).is_file(), f"modules/{module.name}: no {required}"


def test_provider_constraints_and_terraform_version():
    # Pinned to what tf-offline checks (hashicorp/google 6.50.0; its README: "pin ~> 6.50").
    for versions in TERRAFORM.rglob("versions.tf"):
        text = versions.read_text()
        assert 'required_version = ">= 1.11.0"' in text, versions
        for provider in re.findall(r'source\s*=\s*"hashicorp/(google(?:-beta)?)"', text):
            block = text.split(f'"hashicorp/{provider}"', 1)[1].split("}", 1)[0]
            assert '"~> 6.50"' in block, f"{versions}: {provider} constraint"


def test_no_basic_roles_anywhere():
    # A basic role may only appear in a denylist (`contains([...], role)` in a validation).
    for path in TERRAFORM.rglob("*.tf"):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if "contains(" in line:
                continue
            for role in BASIC_ROLES:
                assert f'"{role}"' not in line, f"{path}:{number}: {role}"


def test_no_ungated_data_sources():
    # Plans and tests must need no credentials: a data source needs a count/for_each gate.
    for path in TERRAFORM.rglob("*.tf"):
        text = path.read_text()
        for match in re.finditer(r'^data "google[^"]*" "[^"]+" \{\n(.*?)^\}', text, re.M | re.S):
            assert re.search(r"^\s+(count|for_each)\s*=", match[1], re.M), (
                f"{path}: ungated data source {match[0].splitlines()[0]}"
            )


@pytest.mark.slow
def test_checkov_reports_no_failed_checks():
    checkov = Path(sys.executable).parent / "checkov"
    done = subprocess.run(
        [
            str(checkov),
            "-d",
            "terraform",
            "--framework",
            "terraform",
            "--skip-download",
            "--output",
            "json",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE"},
    )
    reports = json.loads(done.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    failed = [
        f"{c['check_id']} {c['resource']} ({c['file_path']})"
        for report in reports
        for c in report.get("results", {}).get("failed_checks", [])
    ]
    assert not failed, "\n".join(failed)
    documented = (TERRAFORM / "README.md").read_text()
    skipped = {
        c["check_id"]
        for report in reports
        for c in report.get("results", {}).get("skipped_checks", [])
    }
    missing = sorted(s for s in skipped if s not in documented)
    assert not missing, f"skips not listed in terraform/README.md: {missing}"
    # Every inline skip carries a reason (checkov:skip=ID:reason).
    for path in TERRAFORM.rglob("*.tf"):
        for line in path.read_text().splitlines():
            if "checkov:skip=" in line:
                reason = line.split("checkov:skip=", 1)[1].partition(":")[2].strip()
                assert len(reason) > 20, f"{path}: skip without a real reason: {line.strip()}"


# Lock files: none can be made offline (tf-offline serves stand-ins, not the providers), so
# the check starts once the first real init committed them (terraform/README.md).

REAL_LOCK = """\
# This file is maintained automatically by "terraform init".
# Manual edits may be lost in future updates.

provider "registry.terraform.io/hashicorp/google" {
  version     = "{google}"
  constraints = "~> 6.50"
  hashes = [
    "h1:test-only-not-a-real-hash=",
    {zh}
  ]
}

provider "registry.terraform.io/hashicorp/random" {
  version     = "3.7.2"
  constraints = "~> 3.7"
  hashes = [
    "h1:test-only-not-a-real-hash=",
    "zh:0000000000000000000000000000000000000000000000000000000000000000",
  ]
}
"""


def lock(
    google="6.50.0", zh='"zh:1111111111111111111111111111111111111111111111111111111111111111",'
):
    return REAL_LOCK.replace("{google}", google).replace("{zh}", zh)


@pytest.fixture
def lock_project(tmp_path):
    from kfp_gcp.services.project import Project

    for root in ("bootstrap", "environments/dev", "environments/prod"):
        (tmp_path / "terraform" / root).mkdir(parents=True)
    return Project(tmp_path)


def test_no_lock_file_yet_is_not_a_problem(lock_project):
    from kfp_gcp.services.ops import ci

    assert ci.lock_file_problems(lock_project) == []


def test_once_one_root_has_a_lock_file_every_root_needs_one(lock_project):
    from kfp_gcp.services.ops import ci

    (lock_project.root / "terraform/environments/dev/.terraform.lock.hcl").write_text(lock())
    assert ci.lock_file_problems(lock_project) == [
        "terraform/bootstrap/.terraform.lock.hcl is missing (the other roots have theirs)",
        "terraform/environments/prod/.terraform.lock.hcl is missing (the other roots have theirs)",
    ]
    for root in ("bootstrap", "environments/prod"):
        (lock_project.root / "terraform" / root / ".terraform.lock.hcl").write_text(lock())
    assert ci.lock_file_problems(lock_project) == []


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        pytest.param(lock(google="7.2.0"), "hashicorp/google 7.2.0 is not ~> 6.50", id="7.x"),
        pytest.param(lock(google="6.49.0"), "hashicorp/google 6.49.0 is not ~> 6.50", id="old"),
        # What an init from a filesystem mirror (tf-offline) writes: h1: hashes only.
        pytest.param(lock(zh=""), "hashicorp/google has no zh: hashes", id="offline"),
        (
            REAL_LOCK.split('provider "registry.terraform.io/hashicorp/random"')[1],
            "does not lock hashicorp/google",
        ),
    ],
)
def test_a_lock_file_must_pin_the_checked_versions_from_the_registry(
    lock_project, content, problem
):
    from kfp_gcp.services.ops import ci

    for root in ("bootstrap", "environments/dev", "environments/prod"):
        (lock_project.root / "terraform" / root / ".terraform.lock.hcl").write_text(lock())
    (lock_project.root / "terraform/environments/prod/.terraform.lock.hcl").write_text(
        'provider "registry.terraform.io/hashicorp/random"' + content
        if content.startswith(" {")
        else content
    )
    problems = ci.lock_file_problems(lock_project)
    assert len(problems) == 1
    assert problems[0].startswith("terraform/environments/prod/.terraform.lock.hcl")
    assert problem in problems[0]


def test_the_committed_repository_passes_the_lock_file_check(repo):
    from kfp_gcp.services.ops import ci

    assert ci.lock_file_problems(repo) == []


def test_lock_files_are_not_git_ignored():
    for root in ("terraform/bootstrap", "terraform/environments/dev"):
        done = subprocess.run(
            ["git", "check-ignore", "-q", f"{root}/.terraform.lock.hcl"], cwd=REPO, check=False
        )
        assert done.returncode == 1, f"{root}/.terraform.lock.hcl would be ignored by git"


# Custom roles: only permissions that custom roles accept (terraform/custom-role-permissions.yaml).

CUSTOM_ROLE = re.compile(
    r'^resource "google_(?:project|organization)_iam_custom_role" "([^"]+)" \{\n(.*?)^\}',
    re.M | re.S,
)


def custom_role_problems(texts: dict[str, str], supported: dict[str, dict[str, str]]) -> list[str]:
    problems = []
    for where, text in texts.items():
        for name, body in CUSTOM_ROLE.findall(text):
            listed = re.search(r"^\s*permissions\s*=\s*\[(.*?)\]", body, re.M | re.S)
            if not listed:
                problems.append(f"{where}: {name}: list its permissions literally")
                continue
            for permission in re.findall(r'"([^"]+)"', listed[1]):
                entry = supported.get(permission) or {}
                if entry.get("level") != "SUPPORTED" or not entry.get("source"):
                    problems.append(f"{where}: {name}: {permission} is not listed as SUPPORTED")
    return problems


def test_custom_roles_hold_only_permissions_custom_roles_accept():
    import yaml

    listed = yaml.safe_load((TERRAFORM / "custom-role-permissions.yaml").read_text())
    supported = listed["permissions"] or {}
    for permission, entry in supported.items():
        assert entry["source"], f"{permission}: say where"
        assert entry["checked"], f"{permission}: say when"
    texts = {str(p.relative_to(REPO)): p.read_text() for p in TERRAFORM.rglob("*.tf")}
    assert custom_role_problems(texts, supported) == []


def test_the_custom_role_check_catches_an_unlisted_permission():
    role = (
        'resource "google_project_iam_custom_role" "reader" {\n'
        '  permissions = ["servicenetworking.services.get", "compute.networks.get"]\n}\n'
    )
    supported = {"compute.networks.get": {"level": "SUPPORTED", "source": "x", "checked": "y"}}
    assert custom_role_problems({"iam.tf": role}, supported) == [
        "iam.tf: reader: servicenetworking.services.get is not listed as SUPPORTED"
    ]
    indirect = role.replace('["servicenetworking.services.get", "compute.networks.get"]', "local.p")
    assert custom_role_problems({"iam.tf": indirect}, supported) == [
        "iam.tf: reader: list its permissions literally"
    ]


# The apply identity cannot reach Editor; budgets work with a person's credentials.


def test_service_account_user_is_granted_on_service_accounts_only():
    for path in TERRAFORM.rglob("*.tf"):
        text = path.read_text()
        for kind, body in re.findall(
            r'^resource "(google_\w+)" "[^"]+" \{\n(.*?)^\}', text, re.M | re.S
        ):
            if re.search(r'"roles/iam\.(serviceAccountUser|serviceAccountTokenCreator)"', body):
                assert kind == "google_service_account_iam_member", f"{path}: {kind}"
    apply_roles = (TERRAFORM / "bootstrap" / "iam.tf").read_text().split("apply_roles = ", 1)[1]
    assert '"roles/iam.serviceAccountUser"' not in apply_roles.split("grantable_roles", 1)[0]


def test_roots_bill_api_quota_to_their_project():
    for root in ("bootstrap", "environments/dev", "environments/prod"):
        text = "\n".join(p.read_text() for p in (TERRAFORM / root).glob("*.tf"))
        provider = re.search(r'^provider "google" \{\n(.*?)^\}', text, re.M | re.S)
        assert provider, root
        assert re.search(r"^\s*user_project_override\s*=\s*true$", provider[1], re.M), root
        assert re.search(r"^\s*billing_project\s*=\s*\S+", provider[1], re.M), root


# Password rotation: the plan of a rotation (terraform test -verbose) creates the new secret
# version before destroying the old one, and updates the user in place.


@pytest.mark.slow
def test_rotation_creates_the_new_secret_version_before_the_old_one_goes():
    done = tf_offline(
        "test", "terraform/modules/cloudsql", "-filter=tests/rotation.tftest.hcl", "-verbose"
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    plan = done.stdout.split('run "rotation_plan"', 1)[1].split('run "rotate_to_', 1)[0]
    assert "# google_secret_manager_secret_version.password will be replaced" in plan
    assert '+/- resource "google_secret_manager_secret_version" "password"' in plan
    assert "-/+" not in plan  # destroy-then-create would lose the live password
    assert '~ resource "google_sql_user" "kfp"' in plan
    assert "Plan: 1 to add, 1 to change, 1 to destroy." in plan

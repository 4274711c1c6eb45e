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
    for versions in TERRAFORM.rglob("versions.tf"):
        text = versions.read_text()
        assert 'required_version = ">= 1.11.0"' in text, versions
        for provider in re.findall(r'source\s*=\s*"hashicorp/(google(?:-beta)?)"', text):
            block = text.split(f'"hashicorp/{provider}"', 1)[1].split("}", 1)[0]
            assert '">= 6.50, < 8"' in block, f"{versions}: {provider} constraint"


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

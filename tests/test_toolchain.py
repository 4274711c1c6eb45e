"""tests/toolchain.py: where the suite finds upstream sources and Terraform, on this
project's machines (../shared beside the checkout) and on a team's fork (without it).
The choices are tested, and what each branch says when it cannot deliver; the network is not.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests import toolchain
from tests.conftest import REPO


@pytest.fixture
def shared(tmp_path: Path) -> Path:
    folder = tmp_path / "shared" / "upstream"
    folder.mkdir(parents=True)
    return folder


# Upstream sources.


def test_the_environment_variable_wins_over_shared_and_the_cache(tmp_path, shared):
    given = tmp_path / "given"
    chosen = toolchain.choose_upstream(
        {"KFP_GCP_UPSTREAM_DIR": str(given)}, shared, tmp_path / "cache"
    )
    assert chosen == toolchain.Upstream(given.resolve(), "KFP_GCP_UPSTREAM_DIR", fetch=False)


def test_shared_upstream_is_used_where_it_exists(tmp_path, shared):
    chosen = toolchain.choose_upstream({"KFP_GCP_UPSTREAM_DIR": ""}, shared, tmp_path / "cache")
    assert chosen.path == shared
    assert not chosen.fetch  # a folder somebody provides is never written to


def test_a_fork_without_shared_uses_the_fetch_cache_and_may_fill_it(tmp_path):
    cache = tmp_path / "repo" / "build" / "upstream" / "sources"
    chosen = toolchain.choose_upstream({}, tmp_path / "shared" / "upstream", cache)
    assert chosen.path == cache
    assert chosen.fetch
    assert "manifests fetch" in chosen.origin


def test_the_default_cache_is_where_manifests_fetch_writes():
    from kfp_gcp.services.manifests import upstream
    from kfp_gcp.services.project import Project

    assert upstream.cache_dir(Project(REPO)) == toolchain.UPSTREAM_CACHE
    assert toolchain.UPSTREAM_DIR_ENV == upstream.UPSTREAM_DIR_ENV


def test_a_folder_without_the_releases_fails_naming_both_ways_to_provide_them(tmp_path):
    with pytest.raises(pytest.fail.Exception) as failed:
        toolchain.require_upstream(tmp_path / "empty")
    message = str(failed.value)
    assert "unpacked upstream releases are missing" in message
    assert "KFP 2.17.0 (pipelines-2.17.0, argo-workflows-4.0.5): missing" in message
    assert "set KFP_GCP_UPSTREAM_DIR" in message
    assert "access to github.com" in message


def test_a_failed_fetch_is_reported_in_the_fetchs_own_words(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setattr(toolchain, "UPSTREAM", toolchain.Upstream(cache, "the cache", True))
    said = "`kfp-gcp manifests fetch --all` failed (exit code 6):\nrun failed: cannot download"
    monkeypatch.setattr(toolchain, "_fetch", lambda path: said if path == cache else None)
    with pytest.raises(pytest.fail.Exception) as failed:
        toolchain.require_upstream()
    assert f"missing at {cache} (the cache)" in str(failed.value)
    assert said in str(failed.value)


def test_a_provided_folder_is_checked_but_never_fetched_into(tmp_path, monkeypatch):
    monkeypatch.setattr(toolchain, "_fetch", lambda path: pytest.fail("fetched"))
    given = toolchain.Upstream(tmp_path / "given", "KFP_GCP_UPSTREAM_DIR", False)
    monkeypatch.setattr(toolchain, "UPSTREAM", given)
    with pytest.raises(pytest.fail.Exception, match=r"missing at .*given \(KFP_GCP_UPSTREAM_DIR\)"):
        toolchain.require_upstream()


@pytest.mark.slow
def test_the_fetch_runs_kfp_gcp_in_a_subprocess_and_keeps_its_error(tmp_path, monkeypatch):
    # A project of its own (its cache is its build/), and a download URL that refuses at once.
    root = tmp_path / "repo"
    for folder in ("components", "pipelines", "manifests"):
        (root / folder).mkdir(parents=True)
    shutil.copy(REPO / "manifests" / "versions.yaml", root / "manifests")
    monkeypatch.setenv("KFP_GCP_GITHUB_URL", "http://127.0.0.1:9")
    said = toolchain._fetch.__wrapped__(root / "build" / "upstream" / "sources")
    assert said is not None
    assert "manifests fetch --all` failed (exit code 6)" in said
    assert "cannot download http://127.0.0.1:9/kubeflow/pipelines/archive/refs/tags/" in said


# Terraform.


def test_tf_offline_is_used_where_it_exists(tmp_path):
    tool = tmp_path / "tf-offline"
    tool.write_text("#!/bin/sh\n")
    chosen = toolchain.choose_terraform(tool, ["/usr/bin/terraform"])
    assert chosen.argv == [str(tool)]


def test_without_tf_offline_real_terraform_runs_with_the_real_providers(tmp_path):
    chosen = toolchain.choose_terraform(tmp_path / "absent", ["/usr/bin/terraform"])
    assert chosen.argv == [sys.executable, str(REPO / "tests" / "real_terraform.py")]
    assert "/usr/bin/terraform with the real providers" in chosen.description


def test_without_either_the_failure_names_what_to_provide(tmp_path, monkeypatch):
    chosen = toolchain.choose_terraform(tmp_path / "absent", None)
    assert chosen.argv is None
    monkeypatch.setattr(toolchain, "terraform", lambda: chosen)
    with pytest.raises(pytest.fail.Exception) as failed:
        toolchain.terraform_command()
    message = str(failed.value)
    assert "../shared/tools/tf-offline" in message
    assert "Terraform 1.11+ on PATH" in message
    assert "registry.terraform.io" in message


@pytest.mark.slow
def test_the_real_runner_says_where_providers_come_from_when_init_cannot_get_them(tmp_path):
    # Real Terraform, with a provider mirror that refuses connections: init fails as it
    # does without network access to the registry.
    config = tmp_path / "terraformrc"
    config.write_text(
        'provider_installation {\n  network_mirror {\n    url = "https://127.0.0.1:9/"\n  }\n}\n'
    )
    env = {**os.environ, "TF_CLI_CONFIG_FILE": str(config)}
    done = subprocess.run(
        [sys.executable, str(toolchain.REAL_TERRAFORM), "validate", "terraform/modules/budget"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode != 0
    assert "Failed to query available provider packages" in done.stderr  # terraform's words
    assert "terraform init of modules/budget failed" in done.stderr
    assert "../shared/tools/tf-offline" in done.stderr
    assert not list((REPO / "terraform" / "modules" / "budget").glob(".terraform*"))

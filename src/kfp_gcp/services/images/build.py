"""Build images with docker buildx or Cloud Build, each through one seam (`ToolRunner`), and
push only what the registry does not have.

- docker: `docker buildx build --platform linux/amd64 --metadata-file F (--push | --load)`;
  the digest is the metadata file's `containerimage.digest` (docker's reference for
  `buildx build --metadata-file`). Pushing needs docker to be logged in to the registry
  (`gcloud auth configure-docker LOCATION-docker.pkg.dev`).
- cloudbuild: `gcloud builds submit CONTEXT --config F --format=json --suppress-logs`,
  running as the CI build identity, sources and logs in the environment's build bucket;
  the digest is the Build's `results.images[].digest` (Cloud Build REST v1, Build). A
  failed build is gcloud's `ERROR: (gcloud.builds.submit) build ID completed with status
  "FAILURE"` (googlecloudsdk/command_lib/builds/submit_util.py, FailedBuildException).
Every build runs from a staged copy of the context (context.ImageSource.stage), so what is
built is exactly what the tag hashes.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal, Protocol

from kfp_gcp.errors import KfpGcpError, PrerequisiteError, ToolError
from kfp_gcp.services.images.context import DOCKERFILE, ImageSource
from kfp_gcp.services.images.registry import ArtifactRegistry, Repository

# GKE's node pools (e2, n1) are x86-64, whatever machine builds.
PLATFORM = "linux/amd64"
LOCAL_PREFIX = "localhost/kfp-gcp"  # a registry nothing can be pulled from: never Docker Hub
SAID_LINES = 8

LineSink = Callable[[str], None]


@dataclasses.dataclass
class Completed:
    code: int
    stdout: str
    said: list[str]  # stderr, line by line


class ToolRunner(Protocol):
    def __call__(self, argv: list[str], cwd: Path | None, sink: LineSink) -> Completed: ...


def run_tool(argv: list[str], cwd: Path | None, sink: LineSink) -> Completed:
    """Run `argv`: stderr goes line by line to `sink` (progress), stdout is kept whole."""
    with subprocess.Popen(
        argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, bufsize=1,
    ) as process:  # fmt: skip
        assert process.stdout is not None
        assert process.stderr is not None
        stdout = process.stdout
        out: list[str] = []
        reader = threading.Thread(target=lambda: out.append(stdout.read()))
        reader.start()
        said = []
        for line in process.stderr:
            said.append(line.rstrip("\n"))
            sink(said[-1])
        reader.join()
        code = process.wait()
    return Completed(code, "".join(out), said)


def binary(name: str, hint: str) -> str:
    found = shutil.which(name)
    if not found:
        raise PrerequisiteError(f"{name} is not installed", hint=hint)
    return found


def _last_words(said: list[str]) -> str:
    lines = [line.strip() for line in said if line.strip()]
    errors = [line for line in lines if line.startswith(("ERROR", "error"))]
    return " | ".join((errors or lines)[-SAID_LINES:])[-800:]


class Builder(Protocol):
    name: str

    def check(self) -> None: ...

    def build(
        self, image: ImageSource, context: Path, reference: str, push: bool, sink: LineSink
    ) -> str | None: ...


class Docker:
    """The docker CLI (with the buildx plugin) on this machine."""

    name = "docker"

    def __init__(self, runner: ToolRunner | None = None, executable: str | None = None) -> None:
        self.runner = runner or run_tool
        self.executable = executable

    def _argv(self, *args: str) -> list[str]:
        docker = self.executable or binary(
            "docker",
            "install Docker (docs.docker.com/get-docker), or build on Cloud Build: "
            "--builder cloudbuild --env ENV",
        )
        return [docker, *args]

    def check_daemon(self) -> None:
        done = self.runner(self._argv("version", "--format", "{{.Server.Version}}"), None, _quiet)
        if done.code != 0 or not done.stdout.strip():
            raise PrerequisiteError(
                f"no Docker daemon answers: {_last_words(done.said) or f'exit {done.code}'}",
                hint="start Docker (or point DOCKER_HOST at one); images can also be built on "
                "Cloud Build: --builder cloudbuild --env ENV",
            )

    def check(self) -> None:
        """A daemon answers and buildx is there, or a PrerequisiteError says what to do."""
        self.check_daemon()
        done = self.runner(self._argv("buildx", "version"), None, _quiet)
        if done.code != 0:
            raise PrerequisiteError(
                f"docker buildx is not installed: {_last_words(done.said)}",
                hint="install the buildx plugin (docs.docker.com/build/install-buildx), or "
                "build on Cloud Build: --builder cloudbuild --env ENV",
            )

    def has(self, reference: str) -> bool:
        """Whether the local daemon holds `reference`."""
        argv = self._argv("image", "inspect", "--format", "{{.Id}}", reference)
        done = self.runner(argv, None, _quiet)
        return done.code == 0

    def build(
        self, image: ImageSource, context: Path, reference: str, push: bool, sink: LineSink
    ) -> str | None:
        with tempfile.TemporaryDirectory(prefix="kfp-gcp-buildx-") as folder:
            metadata = Path(folder) / "metadata.json"
            argv = self._argv(
                "buildx", "build", "--platform", PLATFORM, "--file", str(context / DOCKERFILE),
                "--tag", reference, "--metadata-file", str(metadata), "--progress", "plain",
                # One manifest per tag: the digest the spec names is the image itself.
                "--provenance=false",
                "--push" if push else "--load",
                str(context),
            )  # fmt: skip
            done = self.runner(argv, context, sink)
            if done.code != 0:
                said = _last_words(done.said)
                raise ToolError(
                    f"docker buildx build of {image.name} failed (exit {done.code}): {said}",
                    hint=_docker_fix(said, reference),
                )
            try:
                digest = json.loads(metadata.read_text(encoding="utf-8"))["containerimage.digest"]
            except (OSError, ValueError, KeyError):
                return None
            return str(digest)


def _quiet(_: str) -> None:
    pass


def _docker_fix(said: str, reference: str) -> str:
    host = reference.split("/", 1)[0]
    if any(word in said for word in ("unauthorized", "denied", "authentication required")):
        return (
            f"log docker in to {host}: `gcloud auth configure-docker {host}` (the identity "
            "needs roles/artifactregistry.writer on the repository: the CI build identity "
            "has it from Terraform)"
        )
    name = reference.rsplit("/", 1)[-1].split(":")[0]
    return f"fix images/{name}/ (the build log is above), then build again"


@dataclasses.dataclass(frozen=True)
class CloudBuildTarget:
    project: str
    region: str
    bucket: str  # gs://NAME
    service_account: str  # the build runs as it (and so it needs no other account)


class CloudBuild:
    """`gcloud builds submit`, running as the environment's CI build identity."""

    name = "cloudbuild"

    def __init__(
        self,
        target: CloudBuildTarget,
        runner: ToolRunner | None = None,
        executable: str | None = None,
    ) -> None:
        self.target = target
        self.runner = runner or run_tool
        self.executable = executable

    def check(self) -> None:
        if not self.target.service_account:
            raise PrerequisiteError(
                "the environment names no CI build identity for Cloud Build to run as",
                hint="set settings ci_build_service_account (terraform/bootstrap output "
                "ci_build_service_account_email) and apply the environment",
            )
        self.executable = self.executable or binary(
            "gcloud", "install the Google Cloud CLI (cloud.google.com/sdk/docs/install)"
        )

    def config(self, reference: str, push: bool) -> dict[str, object]:
        """The Build: one docker step; `images` makes Cloud Build push and report the digest."""
        config: dict[str, object] = {
            "steps": [
                {
                    "name": "gcr.io/cloud-builders/docker",
                    "args": ["build", "--platform", PLATFORM, "--tag", reference, "."],
                }
            ],
            "serviceAccount": f"projects/{self.target.project}/serviceAccounts/"
            f"{self.target.service_account}",
            # A build that runs as a user-specified service account keeps its logs in a
            # bucket of ours or in Cloud Logging.
            "logsBucket": f"{self.target.bucket}/logs",
            "options": {"logging": "GCS_ONLY"},
        }
        if push:
            config["images"] = [reference]
        return config

    def build(
        self, image: ImageSource, context: Path, reference: str, push: bool, sink: LineSink
    ) -> str | None:
        self.check()
        assert self.executable is not None
        with tempfile.TemporaryDirectory(prefix="kfp-gcp-cloudbuild-") as folder:
            config = Path(folder) / "cloudbuild.json"
            config.write_text(json.dumps(self.config(reference, push)), encoding="utf-8")
            argv = [
                self.executable, "builds", "submit", str(context), f"--config={config}",
                f"--project={self.target.project}", f"--region={self.target.region}",
                f"--gcs-source-staging-dir={self.target.bucket}/source", "--suppress-logs",
                "--format=json", "--quiet",
            ]  # fmt: skip
            done = self.runner(argv, None, sink)
        if done.code != 0:
            from kfp_gcp.services.cluster.access import gcloud_words

            said = gcloud_words("\n".join(done.said)) or f"exit code {done.code}"
            raise ToolError(
                f"Cloud Build of {image.name} failed: {said}",
                hint=f"the build's log is in {self.target.bucket}/logs/ (gcloud builds log ID "
                f"--project={self.target.project} --region={self.target.region}); fix the cause, "
                "then push again",
            )
        try:
            build = json.loads(done.stdout)
        except ValueError:
            return None
        for built in build.get("results", {}).get("images", []):
            if built.get("name") == reference and built.get("digest"):
                return str(built["digest"])
        return None


# Building and pushing a set of images.

Status = Literal["built", "pushed", "exists", "would-push", "failed"]


@dataclasses.dataclass
class ImageResult:
    name: str
    tag: str
    reference: str
    status: Status | Literal["building"] = "building"
    digest: str = ""
    seconds: float | None = None
    error: str = ""
    hint: str = ""


Listener = Callable[[ImageResult], None]


def local_reference(image: ImageSource) -> str:
    """The tag `images build` gives an image in the local daemon (`run --local --docker`)."""
    return f"{LOCAL_PREFIX}/{image.name}:{image.tag}"


def _build_one(
    builder: Builder,
    image: ImageSource,
    result: ImageResult,
    push: bool,
    sink: LineSink,
    clock: Callable[[], float],
) -> None:
    began = clock()
    try:
        with tempfile.TemporaryDirectory(prefix=f"kfp-gcp-{image.name}-") as folder:
            context = image.stage(Path(folder) / "context")
            result.digest = builder.build(image, context, result.reference, push, sink) or ""
        result.status = "pushed" if push else "built"
    except KfpGcpError as exc:
        result.status, result.error, result.hint = "failed", exc.message, exc.hint or ""
    result.seconds = clock() - began


def build(
    images: list[ImageSource],
    builder: Builder,
    reference: Callable[[ImageSource], str],
    listener: Listener,
    sink: LineSink,
    clock: Callable[[], float] = time.monotonic,
) -> list[ImageResult]:
    """Build every image (no push); one failure does not stop the others."""
    builder.check()
    results = []
    for image in images:
        result = ImageResult(image.name, image.tag, reference(image))
        listener(result)
        _build_one(builder, image, result, push=False, sink=sink, clock=clock)
        listener(result)
        results.append(result)
    return results


def push(
    images: list[ImageSource],
    builder: Builder,
    repository: Repository,
    registry: ArtifactRegistry,
    listener: Listener,
    sink: LineSink,
    dry_run: bool = False,
    clock: Callable[[], float] = time.monotonic,
) -> list[ImageResult]:
    """Build and push each image whose tag the repository lacks; the others are skipped."""
    results = []
    checked = False
    for image in images:
        tag = image.tag
        result = ImageResult(image.name, tag, repository.reference(image.name, tag))
        existing = registry.digest(repository, image.name, tag)
        if existing:
            result.status, result.digest, result.seconds = "exists", existing, 0.0
        elif dry_run:
            result.status = "would-push"
        else:
            if not checked:
                builder.check()
                checked = True
            listener(result)
            _build_one(builder, image, result, push=True, sink=sink, clock=clock)
            if result.status == "pushed" and not result.digest:
                result.digest = registry.digest(repository, image.name, tag) or ""
        listener(result)
        results.append(result)
    return results


def require_success(results: list[ImageResult], verb: str) -> None:
    failed = [r for r in results if r.status == "failed"]
    if failed:
        hints = list(dict.fromkeys(r.hint for r in failed if r.hint))
        rest = len(results) - len(failed)
        raise ToolError(
            f"{len(failed)} of {len(results)} images failed to {verb}: "
            + "; ".join(f"{r.name}: {r.error}" for r in failed),
            hint="; ".join(hints or ["fix the cause"])
            + (f" ({rest} other{'s' if rest > 1 else ''} went through)" if rest else "")
            + "; run it again: images already in the registry are skipped",
        )

"""The environment's image repository: where each image's tag lives, and whether it is there.

Talks to the Artifact Registry REST API v1 (artifactregistry.googleapis.com):
- `GET v1/{repository}/packages/{image}/tags/{tag}`: a Tag, `{"name": ..., "version":
  ".../versions/sha256:<hex>"}`; the version's last segment is the image's digest. A
  missing package or tag answers 404 NOT_FOUND.
- `GET v1/{repository}/dockerImages?pageSize=&pageToken=`: `{"dockerImages": [DockerImage],
  "nextPageToken": ...}`; a DockerImage has `name`, `uri` (`HOST/P/R/IMAGE@sha256:...`),
  `tags`, `imageSizeBytes` (an int64 as a string), `uploadTime`, `mediaType`, `buildTime`,
  `updateTime`.
(cloud.google.com/artifact-registry/docs/reference/rest/v1/projects.locations.repositories
.packages.tags and .dockerImages). Errors use Google's JSON error body (AIP-193):
`{"error": {"code": 404, "message": ..., "status": "NOT_FOUND"}}`. It does NOT list tags in
any order we rely on, and an image name with `/` goes in the URL as `%2F`.
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kfp_gcp.errors import ConfigError, PrerequisiteError, PublishError
from kfp_gcp.services.images.context import ImageSource, discover
from kfp_gcp.services.infra.terraform import PlatformOutputs
from kfp_gcp.services.project import Project

ARTIFACT_REGISTRY = "https://artifactregistry.googleapis.com"
_REPOSITORY = re.compile(
    r"^(?P<location>[a-z0-9-]+)-docker\.pkg\.dev/(?P<project>[a-z][a-z0-9-]{4,28}[a-z0-9])"
    r"/(?P<repository>[a-z][a-z0-9-]*)$"
)
_RETRIED = (429, 500, 502, 503, 504)

TokenProvider = Callable[[], str]


@dataclasses.dataclass(frozen=True)
class Repository:
    """A Docker repository, `LOCATION-docker.pkg.dev/PROJECT/REPOSITORY`."""

    location: str
    project: str
    repository: str

    @classmethod
    def parse(cls, path: str) -> Repository:
        match = _REPOSITORY.match(path)
        if not match:
            raise ConfigError(
                f"{path!r} is not an Artifact Registry Docker repository",
                hint="the contract's registry.images is LOCATION-docker.pkg.dev/PROJECT/REPOSITORY "
                "(docs/infra-outputs.md)",
            )
        return cls(match["location"], match["project"], match["repository"])

    @property
    def host(self) -> str:
        return f"{self.location}-docker.pkg.dev"

    @property
    def path(self) -> str:
        return f"{self.host}/{self.project}/{self.repository}"

    @property
    def resource(self) -> str:
        return f"projects/{self.project}/locations/{self.location}/repositories/{self.repository}"

    def reference(self, image: str, tag: str, digest: str | None = None) -> str:
        return f"{self.path}/{image}:{tag}" + (f"@{digest}" if digest else "")


@dataclasses.dataclass
class Counters:
    requests: int = 0
    retries: int = 0


class ArtifactRegistry:
    def __init__(
        self,
        token: TokenProvider | None = None,
        base_url: str | None = None,
        attempts: int = 4,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if token is None:
            from kfp_gcp.services.cluster.access import adc_token

            token = adc_token
        self.token = token
        self.base_url = (base_url or ARTIFACT_REGISTRY).rstrip("/")
        self.attempts = attempts
        self.sleep = sleep
        self.counters = Counters()

    def _get(self, path: str, query: dict[str, str] | None = None) -> dict[str, Any] | None:
        """The JSON at `path`, or None for 404."""
        url = f"{self.base_url}/v1/{path}" + (f"?{urllib.parse.urlencode(query)}" if query else "")
        for attempt in range(self.attempts):
            self.counters.requests += 1
            request = urllib.request.Request(  # noqa: S310 (https, or a test server)
                url, headers={"Authorization": f"Bearer {self.token()}"}
            )
            try:
                with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                    body: dict[str, Any] = json.loads(response.read())
                    return body
            except urllib.error.HTTPError as exc:
                if exc.code == 404:
                    return None
                said = _error_message(exc)
                if exc.code in (401, 403):
                    raise PrerequisiteError(
                        f"Artifact Registry refused {path.split('/packages/')[0]}: {said}",
                        hint="the identity needs roles/artifactregistry.reader on the repository "
                        "(writer to push; the CI build identity has it from Terraform); log in "
                        "with `gcloud auth application-default login`",
                    ) from None
                if exc.code not in _RETRIED or attempt == self.attempts - 1:
                    raise PublishError(
                        f"Artifact Registry answered {exc.code} for {path}: {said}",
                        hint="try again later",
                    ) from None
            except urllib.error.URLError as exc:
                if attempt == self.attempts - 1:
                    raise PublishError(
                        f"cannot reach Artifact Registry: {exc.reason}", hint="check the network"
                    ) from None
            self.counters.retries += 1
            self.sleep(min(2**attempt, 8) * 0.5)
        raise AssertionError("unreachable")

    def digest(self, repository: Repository, image: str, tag: str) -> str | None:
        """The digest `image:tag` names in the repository, or None when it is not there."""
        package = urllib.parse.quote(image, safe="")
        found = self._get(f"{repository.resource}/packages/{package}/tags/{tag}")
        if found is None:
            return None
        version = str(found.get("version", ""))
        digest = version.rsplit("/", 1)[-1]
        if not digest.startswith("sha256:"):
            raise PublishError(
                f"Artifact Registry's tag {image}:{tag} names no digest ({version!r})",
                hint="check the repository in the console; the tag should point at an image",
            )
        return digest

    def images(self, repository: Repository) -> list[dict[str, Any]]:
        """Every DockerImage in the repository (all pages)."""
        found: list[dict[str, Any]] = []
        token = ""
        while True:
            query = {"pageSize": "500", **({"pageToken": token} if token else {})}
            page = self._get(f"{repository.resource}/dockerImages", query) or {}
            found.extend(page.get("dockerImages", []))
            token = page.get("nextPageToken", "")
            if not token:
                return found


def _error_message(exc: urllib.error.HTTPError) -> str:
    try:
        body = json.loads(exc.read())
        return str(body["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return exc.reason if isinstance(exc.reason, str) else f"HTTP {exc.code}"


def references(
    root: Path,
    repository: Repository,
    registry: ArtifactRegistry | None = None,
    images: list[ImageSource] | None = None,
) -> dict[str, str]:
    """Image name -> `REPOSITORY/NAME:TAG`, and `@DIGEST` when `registry` is asked. Asked,
    a tag that is not in the repository is an error: no image, no publish."""
    found = {}
    missing = []
    for image in discover(root) if images is None else images:
        tag = image.tag
        digest = registry.digest(repository, image.name, tag) if registry else None
        if registry and digest is None:
            missing.append(f"{image.name}:{tag}")
        found[image.name] = repository.reference(image.name, tag, digest)
    if missing:
        raise PublishError(
            f"{repository.path} does not have {', '.join(missing)}: the pipelines that use "
            "them would not start, so nothing was published",
            hint="build and push them first: kfp-gcp images push --env ENV",
        )
    return found


def for_environment(
    project: Project, outputs: PlatformOutputs, registry: ArtifactRegistry | None = None
) -> tuple[Project, str]:
    """`project` compiling for the environment of `outputs`, and a note for the person.

    Without images/ or without a registry, components keep their local base images (and
    install their packages when they start). With `registry`, each tag must be in the
    repository and its digest is added."""
    images = discover(project.root)
    if not images:
        return project, ""
    if not outputs.registry.images:
        return project, (
            f"environment {outputs.environment} has no registry (settings registry.enabled): "
            "components install their packages when they start"
        )
    repository = Repository.parse(outputs.registry.images)
    found = references(project.root, repository, registry, images)
    how = "with digests" if registry else "by tag"
    note = f"images from {repository.path} ({how}): " + ", ".join(
        f"{image.name}:{image.tag[:12]}" for image in images
    )
    return dataclasses.replace(project, images=tuple(sorted(found.items()))), note

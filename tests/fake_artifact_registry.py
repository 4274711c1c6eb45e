"""A local HTTP server that answers like the Artifact Registry REST API v1 for the calls
kfp-gcp makes (src/kfp_gcp/services/images/registry.py):

- `GET /v1/projects/P/locations/L/repositories/R/packages/PKG/tags/TAG`: a Tag,
  `{"name": ".../packages/PKG/tags/TAG", "version": ".../packages/PKG/versions/sha256:..."}`;
  a package or tag that does not exist is 404 NOT_FOUND (packages.tags.get,
  cloud.google.com/artifact-registry/docs/reference/rest/v1/projects.locations.repositories.packages.tags);
- `GET /v1/projects/P/locations/L/repositories/R/dockerImages?pageSize=&pageToken=`:
  `{"dockerImages": [...], "nextPageToken": ...}`, without nextPageToken on the last page
  (dockerImages.list); a DockerImage has name, uri, tags, imageSizeBytes (an int64 as a
  string), uploadTime, mediaType, buildTime, updateTime.
Errors have Google's JSON shape (AIP-193): `{"error": {"code", "message", "status"}}`. A
request without `Authorization: Bearer` answers 401 UNAUTHENTICATED; a token not in
`tokens` 403 PERMISSION_DENIED with the message Artifact Registry gives ("Permission
'artifactregistry.tags.get' denied on resource ... (or it may not exist)."). `faults` makes
the next requests answer a given status (429, 503) before the real answer.
What this server does NOT do: writes (pushing goes through docker or Cloud Build), other
resources (versions, files, repositories), filters, ordering, the Docker registry API.
Every request is logged as (method, path).
"""

from __future__ import annotations

import dataclasses
import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

REPOSITORY = "projects/acme-ml-dev/locations/europe-west1/repositories/kfpdev-images"


@dataclasses.dataclass
class FakeArtifactRegistry:
    repository: str = REPOSITORY
    tokens: set[str] = dataclasses.field(default_factory=lambda: {"good-token"})
    # image -> tag -> digest
    images: dict[str, dict[str, str]] = dataclasses.field(default_factory=dict)
    faults: list[int] = dataclasses.field(default_factory=list)
    page_size_cap: int = 1000
    log: list[tuple[str, str]] = dataclasses.field(default_factory=list)

    def start(self) -> FakeArtifactRegistry:
        fake = self

        class Handler(_Handler):
            registry = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def push(self, image: str, tag: str, digest: str) -> None:
        self.images.setdefault(image, {})[tag] = digest


class _Handler(BaseHTTPRequestHandler):
    registry: FakeArtifactRegistry

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, code: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, code: int, status: str, message: str) -> None:
        self._send(code, {"error": {"code": code, "message": message, "status": status}})

    def do_GET(self) -> None:
        fake = self.registry
        url = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(url.path)
        fake.log.append(("GET", path))
        if fake.faults:
            code = fake.faults.pop(0)
            status = {429: "RESOURCE_EXHAUSTED", 503: "UNAVAILABLE"}.get(code, "INTERNAL")
            self._error(code, status, "The service is currently unavailable.")
            return
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            self._error(
                401, "UNAUTHENTICATED", "Request is missing required authentication credential."
            )
            return
        prefix = f"/v1/{fake.repository}/"
        if not path.startswith(prefix):
            self._error(404, "NOT_FOUND", "Requested entity was not found.")
            return
        rest = path[len(prefix) :]
        if auth.removeprefix("Bearer ") not in fake.tokens:
            permission = "tags.get" if "/tags/" in rest else "dockerimages.list"
            self._error(
                403,
                "PERMISSION_DENIED",
                f"Permission 'artifactregistry.{permission}' denied on resource "
                f"'{fake.repository}' (or it may not exist).",
            )
            return
        if rest.startswith("packages/") and "/tags/" in rest:
            package, tag = rest.removeprefix("packages/").split("/tags/", 1)
            digest = fake.images.get(package, {}).get(tag)
            if digest is None:
                self._error(404, "NOT_FOUND", "Requested entity was not found.")
                return
            base = f"{fake.repository}/packages/{urllib.parse.quote(package, safe='')}"
            self._send(200, {"name": f"{base}/tags/{tag}", "version": f"{base}/versions/{digest}"})
            return
        if rest == "dockerImages":
            query = urllib.parse.parse_qs(url.query)
            size = min(int(query.get("pageSize", ["100"])[0]), fake.page_size_cap)
            start = int(query.get("pageToken", ["0"])[0] or 0)
            host = "europe-west1-docker.pkg.dev/acme-ml-dev/kfpdev-images"
            everything = [
                {
                    "name": f"{fake.repository}/dockerImages/{image}@{digest}",
                    "uri": f"{host}/{image}@{digest}",
                    "tags": [t for t, d in tags.items() if d == digest],
                    "imageSizeBytes": "104857600",
                    "uploadTime": "2026-12-30T00:01:09.123456Z",
                    "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                    "buildTime": "2026-12-30T00:01:05Z",
                    "updateTime": "2026-12-30T00:01:09.123456Z",
                }
                for image, tags in sorted(fake.images.items())
                for digest in sorted(set(tags.values()))
            ]
            page: dict[str, Any] = {"dockerImages": everything[start : start + size]}
            if start + size < len(everything):
                page["nextPageToken"] = str(start + size)
            self._send(200, page)
            return
        self._error(404, "NOT_FOUND", "Requested entity was not found.")

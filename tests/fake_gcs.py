"""A local HTTP server that answers like Cloud Storage, for the calls Terraform's gcs backend
makes, so that real Terraform can keep its state in it (`storage_custom_endpoint`, through
GOOGLE_BACKEND_STORAGE_CUSTOM_ENDPOINT, and a static `access_token`, through
GOOGLE_OAUTH_ACCESS_TOKEN: hashicorp/terraform internal/backend/remote-state/gcs/backend.go).

The calls are the ones Terraform 1.15's gcs backend (cloud.google.com/go/storage) makes,
recorded against this server, with the JSON API's documented answers
(cloud.google.com/storage/docs/json_api/v1: objects list/get/insert/delete):
- `GET /storage/v1/b/B/o?prefix=&delimiter=/`: the workspaces (backend_state.go,
  Workspaces); `{"kind": "storage#objects", "items": [...], "prefixes": [...]}`, without
  `items` when none match; an unknown bucket is 404 "The specified bucket does not exist.";
- `GET /B/OBJECT` (the XML API, which the Go client reads media through) and
  `GET /storage/v1/b/B/o/OBJECT[?alt=media]`: 404 when missing (XML: NoSuchKey);
- `POST /upload/storage/v1/b/B/o?uploadType=multipart&name=..[&ifGenerationMatch=0]`:
  a multipart/related body (JSON metadata, then the data), sent chunked; the lock is
  written with ifGenerationMatch=0 and fails with 412 conditionNotMet when it exists
  (client.go, Lock); other upload types answer 501, so a change in the client shows;
- `DELETE /storage/v1/b/B/o/OBJECT?ifGenerationMatch=N` (Unlock): 204, 404, or 412.

Permissions follow the predefined roles the bootstrap grants on the state bucket:
tokens in `readers` hold roles/storage.objectViewer (list, get), tokens in `writers`
roles/storage.objectAdmin. A reader's write answers 403 with the JSON API's error shape and
the message Cloud Storage gives ("... does not have storage.objects.create access ...").
What this server does NOT do: versioning, soft delete, resumable uploads, XML API writes,
encryption keys, ACLs. Every request is logged as (method, bucket, object or list prefix, token).
"""

from __future__ import annotations

import base64
import dataclasses
import email.parser
import email.policy
import hashlib
import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclasses.dataclass
class Stored:
    data: bytes
    generation: int


@dataclasses.dataclass
class FakeGcs:
    buckets: set[str]
    readers: set[str] = dataclasses.field(default_factory=set)
    writers: set[str] = dataclasses.field(default_factory=set)
    objects: dict[tuple[str, str], Stored] = dataclasses.field(default_factory=dict)
    log: list[tuple[str, str, str, str]] = dataclasses.field(default_factory=list)
    _generation: int = 1_700_000_000_000_000

    def start(self) -> FakeGcs:
        fake = self

        class Handler(_Handler):
            gcs = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def endpoint(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/storage/v1/"

    def put(self, bucket: str, name: str, data: bytes) -> Stored:
        self._generation += 1
        stored = self.objects[(bucket, name)] = Stored(data, self._generation)
        return stored

    def text(self, bucket: str, name: str) -> str:
        return self.objects[(bucket, name)].data.decode()

    def writes(
        self, token: str | None = None, bucket: str | None = None
    ) -> list[tuple[str, str, str, str]]:
        return [
            e
            for e in self.log
            if e[0] in ("POST", "DELETE") and token in (None, e[3]) and bucket in (None, e[1])
        ]

    def metadata(self, bucket: str, name: str) -> dict[str, Any]:
        stored = self.objects[(bucket, name)]
        md5 = base64.b64encode(hashlib.md5(stored.data).digest()).decode()
        return {
            "kind": "storage#object",
            "id": f"{bucket}/{name}/{stored.generation}",
            "name": name,
            "bucket": bucket,
            "generation": str(stored.generation),
            "metageneration": "1",
            "contentType": "application/json",
            "size": str(len(stored.data)),
            "md5Hash": md5,
            "storageClass": "STANDARD",
            "timeCreated": "2026-01-01T00:00:00.000Z",
            "updated": "2026-01-01T00:00:00.000Z",
        }


class _Handler(BaseHTTPRequestHandler):
    gcs: FakeGcs
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = b""
            while size := int(self.rfile.readline().strip() or b"0", 16):
                body += self.rfile.read(size)
                self.rfile.readline()
            self.rfile.readline()
            return body
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str]) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, payload: dict[str, Any]) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json; charset=UTF-8", {})

    def _error(self, status: int, reason: str, message: str) -> None:
        error = {"code": status, "message": message, "errors": [{"message": message,
                 "domain": "global", "reason": reason}]}  # fmt: skip
        self._json(status, {"error": error})

    def _media(self, bucket: str, name: str) -> None:
        stored = self.gcs.objects[(bucket, name)]
        headers = {"X-Goog-Generation": str(stored.generation), "X-Goog-Metageneration": "1"}
        self._send(200, stored.data, "application/json", headers)

    def _handle(self) -> None:
        body = self._body()
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
        token = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
        parts = [urllib.parse.unquote(p) for p in url.path.split("/")]
        gcs = self.gcs
        if token not in gcs.readers | gcs.writers:
            return self._error(401, "required", "Invalid Credentials")
        who = f"{token}@example.iam.gserviceaccount.com"

        if url.path.startswith("/upload/storage/v1/b/"):
            bucket = parts[5]
            if query.get("uploadType") != "multipart":
                return self._error(501, "notImplemented", f"fake: {query.get('uploadType')}")
            message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
                f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode() + body
            )
            meta_part, data_part = list(message.iter_parts())  # type: ignore[attr-defined]
            name = query.get("name") or json.loads(meta_part.get_payload(decode=True))["name"]
            gcs.log.append(("POST", bucket, name, token))
            if bucket not in gcs.buckets:
                return self._error(404, "notFound", "The specified bucket does not exist.")
            if token not in gcs.writers:
                return self._error(
                    403,
                    "forbidden",
                    f"{who} does not have storage.objects.create access to the Google Cloud "
                    f"Storage object. Permission 'storage.objects.create' denied on resource "
                    "(or it may not exist).",
                )
            current = gcs.objects.get((bucket, name))
            if "ifGenerationMatch" in query and int(query["ifGenerationMatch"]) != (
                current.generation if current else 0
            ):
                return self._error(
                    412, "conditionNotMet", "At least one of the pre-conditions you specified "
                    "did not hold."
                )  # fmt: skip
            gcs.put(bucket, name, data_part.get_payload(decode=True))
            return self._json(200, gcs.metadata(bucket, name))

        if url.path.startswith("/storage/v1/b/"):
            bucket = parts[4]
            if bucket not in gcs.buckets:
                gcs.log.append((self.command, bucket, "", token))
                return self._error(404, "notFound", "The specified bucket does not exist.")
            if len(parts) == 6 and parts[5] == "o" and self.command == "GET":
                gcs.log.append(("LIST", bucket, query.get("prefix", ""), token))
                prefix, delimiter = query.get("prefix", ""), query.get("delimiter", "")
                items, prefixes = [], set()
                for b, name in sorted(gcs.objects):
                    if b != bucket or not name.startswith(prefix):
                        continue
                    rest = name[len(prefix) :]
                    if delimiter and delimiter in rest:
                        prefixes.add(prefix + rest.split(delimiter, 1)[0] + delimiter)
                    else:
                        items.append(gcs.metadata(bucket, name))
                answer: dict[str, Any] = {"kind": "storage#objects"}
                if items:
                    answer["items"] = items
                if prefixes:
                    answer["prefixes"] = sorted(prefixes)
                return self._json(200, answer)
            name = "/".join(parts[6:])
            gcs.log.append((self.command, bucket, name, token))
            current = gcs.objects.get((bucket, name))
            if current is None:
                return self._error(404, "notFound", f"No such object: {bucket}/{name}")
            if self.command == "DELETE":
                if token not in gcs.writers:
                    return self._error(
                        403,
                        "forbidden",
                        f"{who} does not have storage.objects.delete access to the Google "
                        "Cloud Storage object.",
                    )
                if "ifGenerationMatch" in query and int(query["ifGenerationMatch"]) != (
                    current.generation
                ):
                    return self._error(412, "conditionNotMet", "At least one of the "
                        "pre-conditions you specified did not hold.")  # fmt: skip
                del gcs.objects[(bucket, name)]
                return self._send(204, b"", "application/json", {})
            if query.get("alt") == "media":
                return self._media(bucket, name)
            return self._json(200, gcs.metadata(bucket, name))

        # The XML API: media reads.
        bucket, name = parts[1], "/".join(parts[2:])
        gcs.log.append((self.command, bucket, name, token))
        if self.command == "GET" and (bucket, name) in gcs.objects:
            return self._media(bucket, name)
        missing = (
            b"<?xml version='1.0' encoding='UTF-8'?><Error><Code>NoSuchKey</Code>"
            b"<Message>The specified key does not exist.</Message></Error>"
        )
        self._send(404, missing, "application/xml; charset=UTF-8", {})

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

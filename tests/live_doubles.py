"""Recorded seams for `up`, `doctor` and `down` (src/kfp_gcp/services/ops/live.py): every
answer a live environment gives, from tests/fixtures/live/ (tests/fixtures/live/README.md
says where each shape comes from), so that the three commands run end to end with no
network and no cloud.

- `RecordedGoogle`: one local HTTP server for Google's REST APIs, each under /<api>/...
  (the client's base URLs point there); routes map "METHOD /path" to a recorded answer.
- `FakeCluster` + `RecordedKubectl`: what kubectl answers for this environment's cluster,
  stateful where `up` and `down` change it (apply installs KFP, delete removes it).
- `RecordedTerraform`: an in-process stand-in for `terraform.run_terraform`, the Terraform
  seam, answering init, show, plan, apply, output and state like Terraform 1.15 (plan
  JSON from tests/fixtures/plans, made by real Terraform).
- `live(...)`: the `Live` bundle over these, KFP being tests/fake_kfp.py's double reached
  through the recorded port-forward, Cloud SQL tests/test_db.py's fake Admin API, the
  registry tests/fake_artifact_registry.py's.
"""

from __future__ import annotations

import contextlib
import copy
import json
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from kfp_gcp.errors import ToolError
from kfp_gcp.services.cluster import access
from kfp_gcp.services.infra import terraform
from kfp_gcp.services.ops.google import Credentials, GoogleApis
from kfp_gcp.services.ops.live import Live, connect_kfp_factory
from tests.conftest import REPO

FIXTURES = REPO / "tests" / "fixtures" / "live"
PLANS = REPO / "tests" / "fixtures" / "plans"
OUTPUTS_FILE = REPO / "tests" / "fixtures" / "platform-outputs.json"
TOKEN = "good-token"  # what fake_artifact_registry accepts


def fixture(name: str) -> Any:
    path = FIXTURES / name
    return json.loads(path.read_text()) if path.suffix == ".json" else path.read_text()


def google_error(code: int, status: str, message: str, reason: str = "") -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message, "status": status}
    if reason:
        error["errors"] = [{"message": message, "domain": "global", "reason": reason}]
    return {"error": error}


# Google's REST APIs.

PROJECT, NUMBER = "acme-ml-dev", "123456789012"
RUNNER = "kfpdev-kfp-runner@acme-ml-dev.iam.gserviceaccount.com"


def dev_routes() -> dict[str, tuple[int, Any]]:
    """A healthy dev environment (the fixture contract's), answer by answer."""
    ok = 200
    return {
        "GET /oauth2/tokeninfo": (ok, fixture("google/tokeninfo.json")),
        f"GET /cloudresourcemanager/v1/projects/{PROJECT}": (
            ok, fixture("google/project-acme-ml-dev.json"),
        ),
        f"GET /serviceusage/v1/projects/{NUMBER}/services:batchGet": (
            ok, fixture("google/services-dev-enabled.json"),
        ),
        f"GET /compute/compute/v1/projects/{PROJECT}/regions/europe-west1": (
            ok, fixture("google/compute-region-raised.json"),
        ),
        f"GET /compute/compute/v1/projects/{PROJECT}": (
            ok, fixture("google/compute-project-raised.json"),
        ),
        "GET /storage/storage/v1/b/kfp-acme-ml-dev-tfstate/o": (
            ok, fixture("google/objects-state-dev.json"),
        ),
        f"GET /container/v1/projects/{PROJECT}/locations/europe-west1-b/clusters/kfpdev-kfp": (
            ok, fixture("google/cluster-kfpdev-kfp.json"),
        ),
        f"POST /iam/v1/projects/{PROJECT}/serviceAccounts/{RUNNER}:getIamPolicy": (
            ok, fixture("google/iam-kfpdev-kfp-runner.json"),
        ),
        "GET /storage/storage/v1/b/acme-ml-dev-kfpdev-artifacts/iam": (
            ok, fixture("google/bucket-iam-artifacts-dev.json"),
        ),
        f"GET /secretmanager/v1/projects/{PROJECT}/secrets/kfpdev-kfp-db-password/versions/"
        "latest:access": (ok, fixture("google/secret-db-password.json")),
        f"GET /sqladmin/v1/projects/{PROJECT}/instances/kfpdev-kfp": (
            ok, fixture("google/sql-instance-kfpdev-kfp.json"),
        ),
    }  # fmt: skip


class RecordedGoogle:
    def __init__(self, routes: dict[str, tuple[int, Any]] | None = None) -> None:
        self.routes = dev_routes() if routes is None else routes
        self.log: list[str] = []
        recorded = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _serve(self, method: str) -> None:
                path = unquote(urlparse(self.path).path)
                recorded.log.append(f"{method} {self.path}")
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                status, body = recorded.routes.get(
                    f"{method} {path}",
                    (404, google_error(404, "NOT_FOUND", "Requested entity was not found.")),
                )
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=UTF-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def endpoints(self) -> dict[str, str]:
        return {
            api: f"{self.url}/{api}"
            for api in ("oauth2", "cloudresourcemanager", "serviceusage", "container",
                        "storage", "iam", "compute")
        }  # fmt: skip


# The cluster.

NOT_FOUND = 'Error from server (NotFound): {kind} "{name}" not found\n'


class FakeCluster:
    """What kubectl answers for the environment's cluster. Before `apply`, KFP is not there
    (no Deployments, no install ConfigMap); `apply` of the namespaced bundle installs it
    with `after_apply` Deployments; `delete namespace` removes it again."""

    def __init__(self, installed: bool = True, deployments: str = "deployments-healthy.json"):
        self.readyz = (0, "ok", "")
        self.after_apply = deployments
        self.deployments: list[dict[str, Any]] = []
        self.pods: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.logs: dict[str, str] = {}
        self.objects: dict[tuple[str, str], dict[str, Any]] = {}
        self.secrets: set[str] = set()
        self.applied: list[str] = []
        self.calls: list[list[str]] = []
        self.forwards: dict[str, int] = {"svc/mysql": 3306}
        self.diff_text = ""  # what `kubectl diff` shows against an installed KFP
        self.fail: dict[str, tuple[int, str]] = {}  # first argument -> (code, stderr)
        if installed:
            self.install()

    def install(self) -> None:
        self.deployments = fixture(f"kubectl/{self.after_apply}")["items"]
        self.objects[("configmap", "pipeline-install-config")] = fixture(
            "kubectl/configmap-pipeline-install-config.json"
        )
        self.objects[("serviceaccount", "pipeline-runner")] = fixture(
            "kubectl/serviceaccount-pipeline-runner.json"
        )
        self.secrets |= {"mysql-secret", "mlpipeline-minio-artifact"}

    def _apply(self, manifest: str) -> None:
        """Server-side apply as far as the checks can tell: a Deployment appears as the
        `after_apply` answer has it (available, or not), a ConfigMap or ServiceAccount as
        written, a Secret by name."""
        import yaml

        recorded = {
            d["metadata"]["name"]: d for d in fixture(f"kubectl/{self.after_apply}")["items"]
        }
        for doc in (d for d in yaml.safe_load_all(manifest) if d):
            kind, name = doc["kind"], doc["metadata"]["name"]
            if kind == "Deployment":
                self.deployments = [d for d in self.deployments if d["metadata"]["name"] != name]
                self.deployments.append(copy.deepcopy(recorded[name]))
            elif kind in ("ConfigMap", "ServiceAccount"):
                self.objects[(kind.lower(), name)] = doc
            elif kind == "Secret":
                self.secrets.add(name)

    def answer(self, args: list[str], stdin: str | None) -> tuple[int, str, str]:
        self.calls.append(list(args))
        if args and args[0] in self.fail:
            code, said = self.fail[args[0]]
            return code, "", said
        verb = args[0]
        if args[:3] == ["get", "--raw", "/readyz"]:
            return self.readyz
        if args[:1] == ["version"]:
            return 0, json.dumps(fixture("kubectl/version.json")), ""
        if verb == "get" and args[1] in ("deployments", "pods", "events") and "-o" in args:
            items = {"deployments": self.deployments, "pods": self.pods, "events": self.events}
            return 0, json.dumps({"apiVersion": "v1", "kind": "List", "items": items[args[1]]}), ""
        if verb == "get" and args[1] == "secrets":
            names = [a for a in args[2:] if not a.startswith("-") and a not in ("kubeflow", "name")]
            return 0, "\n".join(f"secret/{n}" for n in names if n in self.secrets), ""
        if verb == "get":
            kind, name = args[1], args[2]
            found = self.objects.get((kind, name))
            if found is None:
                return 1, "", NOT_FOUND.format(kind=f"{kind}s", name=name)
            return 0, json.dumps(found), ""
        if verb == "logs":
            pod = next(a for a in args[1:] if a not in ("-n", "kubeflow") and not a.startswith("-"))
            return 0, self.logs.get(pod, ""), ""
        if verb == "apply":
            self.applied.append(stdin or "")
            self._apply(stdin or "")
            return 0, "serverside-applied\n", ""
        if verb == "wait":
            return 0, "condition met\n", ""
        if verb == "diff":
            if not self.deployments:
                return 1, "diff -u -N /tmp/LIVE/apps.v1.Deployment.kubeflow.ml-pipeline ...", ""
            return (1, self.diff_text, "") if self.diff_text else (0, "", "")
        if verb == "delete":
            if args[1] == "namespace":
                self.deployments, self.objects, self.secrets = [], {}, set()
            return 0, f"{args[1]} deleted\n", ""
        return 1, "", f"error: unknown command {args!r} in the recorded cluster\n"


class RecordedKubectl(access.Kubectl):
    """The kubectl seam answering from a FakeCluster; port-forwards yield recorded ports."""

    def __init__(self, cluster: FakeCluster) -> None:
        self.env: dict[str, str] = {}
        self.binary = "kubectl"
        self.request_timeout_s = None
        self.cluster = cluster

    def run(
        self, args: list[str], stdin: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        code, out, err = self.cluster.answer(args, stdin)
        if check and code != 0:
            raise ToolError(f"kubectl {args[0]} failed: {' '.join(err.split())}", hint="recorded")
        return subprocess.CompletedProcess(["kubectl", *args], code, out, err)

    @contextlib.contextmanager
    def forward(self, namespace: str, target: str, remote_port: int) -> Iterator[int]:
        from kfp_gcp.errors import RunError

        self.cluster.calls.append(["port-forward", "-n", namespace, target])
        if target not in self.cluster.forwards:  # what kubectl says with no ready pod behind
            raise RunError(
                f"kubectl port-forward to {target} failed: error: unable to forward port "
                "because pod is not running. Current status=Pending",
                hint=f"kubectl -n {namespace} get {target} and its pods say why",
            )
        yield self.cluster.forwards[target]


# Terraform.


def plan_json(actions: dict[str, list[str]]) -> dict[str, Any]:
    """A `terraform show -json` plan with these resource changes, in the structure real
    Terraform wrote tests/fixtures/plans/safe-update.json (format_version, resource_changes
    with address, module_address, mode, type, name, change.actions)."""
    template = json.loads((PLANS / "safe-update.json").read_text())
    changes = []
    for address, acts in actions.items():
        module, _, resource = address.rpartition(".google_")
        kind, name = ("google_" + resource).split(".")
        changes.append(
            {
                "address": address,
                "module_address": module,
                "mode": "managed",
                "type": kind,
                "name": name,
                "provider_name": "registry.terraform.io/hashicorp/google",
                "change": {
                    "actions": acts,
                    "before": None if acts == ["create"] else {"name": name},
                    "after": None if acts == ["delete"] else {"name": name},
                    "after_unknown": {},
                    "before_sensitive": {} if acts != ["create"] else False,
                    "after_sensitive": {} if acts != ["delete"] else False,
                },
            }
        )
    keep = ("format_version", "terraform_version", "applyable", "complete", "errored")
    return {**{k: template[k] for k in keep if k in template}, "resource_changes": changes}


ESTATE = [
    "module.platform.module.network.google_compute_network.vpc",
    "module.platform.module.gke.google_container_cluster.cluster",
    "module.platform.module.cloudsql.google_sql_database_instance.primary",
    "module.platform.module.storage.google_storage_bucket.bucket",
    "module.platform.module.registry.google_storage_bucket.builds",
    "module.platform.module.workload_identity.google_service_account.service_account",
]


class RecordedTerraform:
    """Stand-in for `terraform.run_terraform`. Before the first apply the estate is to be
    created (plan: changes, output: none); an apply makes the plan empty and the outputs
    the fixture contract; a destroy apply removes what the state lists. `fail` makes the
    next call of a command fail with Terraform's words."""

    def __init__(self, applied: bool = False) -> None:
        self.applied = applied
        self.destroyed = False
        self.protections_lifted = False
        self.state = list(ESTATE) if applied else []
        self.calls: list[list[str]] = []
        self.fail: dict[str, str] = {}
        self.fail_destroy: str | None = None  # the first destroy apply fails with this
        self.pending = "safe-update.json"  # the plan when something is to change
        self.last_plan: dict[str, Any] = {}
        self.last_kind = ""  # destroy | protections | change
        self.outputs_file = OUTPUTS_FILE  # what `terraform output -json platform` prints

    def __call__(
        self, args: list[str], cwd: Path, sink: Any, ok_codes: tuple[int, ...] = (0,)
    ) -> int:
        self.calls.append(list(args))
        command = args[0]
        if command in self.fail:
            said = self.fail.pop(command)
            for line in ["", f"Error: {said}", ""]:
                sink(line)
            raise ToolError(
                f"terraform {command} failed in {cwd.name} (exit code 1): "
                + "; ".join(terraform.diagnostics([f"Error: {said}"])),
                hint=terraform.fix_for(said, env=cwd.name),
            )
        if command == "init":
            sink("Terraform has been successfully initialized!")
            return 0
        if command == "show" and len(args) == 2:
            sink('{"format_version":"1.0"}')
            return 0
        if command == "show":
            sink(json.dumps(self.last_plan))
            return 0
        if command == "plan":
            destroy = "-destroy" in args
            var_file = any(a.startswith("-var-file=") for a in args)
            if destroy:
                self.last_kind = "destroy"
                self.last_plan = plan_json({a: ["delete"] for a in self.state})
            elif var_file and self.applied and not self.protections_lifted:
                self.last_kind = "protections"  # deletion_protection true -> false, in place
                self.last_plan = plan_json({ESTATE[1]: ["update"], ESTATE[2]: ["update"]})
            elif not self.applied:
                self.last_kind = "change"
                self.last_plan = json.loads((PLANS / self.pending).read_text())
            else:
                self.last_kind = "none"
                self.last_plan = plan_json({})
            changes = any(
                set(c["change"]["actions"]) - {"no-op"}
                for c in self.last_plan.get("resource_changes", [])
            )
            out = next(a for a in args if a.startswith("-out=")).removeprefix("-out=")
            Path(out).write_text("binary plan")
            sink("Plan: 2 to change." if changes else "No changes. Your infrastructure matches.")
            return 2 if changes and "-detailed-exitcode" in args else 0
        if command == "apply":
            if self.last_kind == "destroy":
                if self.fail_destroy:
                    said, self.fail_destroy = self.fail_destroy, None
                    self.state = [a for a in self.state if a.endswith("google_compute_network.vpc")]
                    return self._fail(args, cwd, sink, said)
                gone = [c["address"] for c in self.last_plan["resource_changes"]]
                self.state = [a for a in self.state if a not in gone]
                self.destroyed = not self.state
            elif self.last_kind == "protections":
                self.protections_lifted = True
            elif self.last_kind == "change":
                self.applied = True
                self.state = list(ESTATE)
            sink("Apply complete!")
            return 0
        if command == "output":
            if not self.applied or self.destroyed:
                return self._fail(args, cwd, sink, 'Output "platform" not found')
            sink(self.outputs_file.read_text())
            return 0
        if command == "state" and args[1] == "list":
            for address in self.state:
                sink(address)
            return 0
        if command == "state" and args[1] == "rm":
            self.state.remove(args[2])
            sink(f"Removed {args[2]}")
            return 0
        raise AssertionError(f"the recorded terraform does not know {args}")

    def _fail(self, args: list[str], cwd: Path, sink: Any, said: str) -> int:
        self.fail[args[0]] = said
        return self(args, cwd, sink)


# The bundle.


class RecordedBuilder:
    """The image builder seam: a build "pushes" into the fake registry."""

    name = "recorded"

    def __init__(self, registry: Any) -> None:
        self.registry = registry
        self.built: list[str] = []
        self.fail: set[str] = set()

    def check(self) -> None:
        pass

    def build(self, image: Any, context: Path, reference: str, push: bool, sink: Any) -> str:
        if image.name in self.fail:
            self.fail.discard(image.name)
            raise ToolError(f"docker buildx build of {image.name} failed: recorded", hint="retry")
        self.built.append(image.name)
        digest = "sha256:" + format(len(self.built), "064x")
        self.registry.push(image.name, image.tag, digest)
        sink(f"pushed {reference}")
        return digest


def live(
    google: RecordedGoogle,
    cluster: FakeCluster,
    sql: Any = None,
    kfp_port: int | None = None,
    registry: Any = None,
    builder: Any = None,
    database: Any = None,
    credentials: Any = None,
    network: str | None = None,
    addresses: dict[str, list[str]] | None = None,
) -> Live:
    from kfp_gcp.services.cluster.access import SecretManager
    from kfp_gcp.services.images.registry import ArtifactRegistry
    from kfp_gcp.services.infra.quota import ComputeQuotas
    from kfp_gcp.services.ops.sqladmin import SqlAdmin
    from tests.test_deploy import RecordedDatabase

    if kfp_port is not None:
        cluster.forwards["svc/ml-pipeline"] = kfp_port

    def token() -> str:
        return TOKEN

    @contextlib.contextmanager
    def session(outputs: Any) -> Iterator[access.Kubectl]:
        yield RecordedKubectl(cluster)

    secrets = SecretManager(token, base_url=f"{google.url}/secretmanager", attempts=1)
    gcloud_calls: list[list[str]] = []

    def gcloud(args: list[str]) -> str:
        gcloud_calls.append(list(args))
        return ""

    found = Live(
        token=token,
        credentials=credentials or (lambda: Credentials(TOKEN, "", "acme-ml-dev")),
        google=GoogleApis(token, endpoints=google.endpoints(), timeout_s=5),
        quotas=ComputeQuotas(token, base_url=f"{google.url}/compute", attempts=1),
        sql=sql or SqlAdmin(token, base_url=f"{google.url}/sqladmin", attempts=1),
        secrets=secrets,
        session=session,
        kfp=connect_kfp_factory(secrets),
        database_query=database or RecordedDatabase(),
        network=lambda: network,
        resolve=lambda host: (addresses or {}).get(host, []),
        registry=ArtifactRegistry(token, base_url=registry.url, sleep=lambda s: None)
        if registry is not None
        else None,
        builder=(lambda outputs: builder) if builder is not None else None,
        gcloud=gcloud,
    )
    found.gcloud_calls = gcloud_calls  # type: ignore[attr-defined]
    return found


def copy_routes(routes: dict[str, tuple[int, Any]]) -> dict[str, tuple[int, Any]]:
    return copy.deepcopy(routes)

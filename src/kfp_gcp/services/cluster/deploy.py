"""Putting rendered manifests on the cluster: `manifests apply`, `manifests diff` (live),
and `ui` (a port-forward to the KFP UI for no-domain mode)."""

from __future__ import annotations

import dataclasses
import json
import secrets
import subprocess
from collections.abc import Callable
from typing import Any

import yaml

from kfp_gcp.errors import ConfigError
from kfp_gcp.services.cluster.access import (
    Kubectl,
    SecretManager,
    cluster_credentials,
    secret_manifest,
    wait_for_deployments,
)
from kfp_gcp.services.infra.terraform import PlatformOutputs

# Names of Kubernetes Secrets the upstream Deployments reference, not secret values.
MYSQL_SECRET = "mysql-secret"  # noqa: S105
OBJECT_STORE_SECRET = "mlpipeline-minio-artifact"  # noqa: S105
# KFP versions whose API server needs real S3-interoperable (HMAC) keys for GCS.
NEEDS_HMAC = {"2.14.4"}


@dataclasses.dataclass
class ApplyReport:
    environment: str
    version: str
    cluster: str
    cluster_scoped_objects: int
    namespaced_objects: int
    secrets: list[str]
    deployments: list[str]


def objects(text: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


def iap_secret_name(namespaced: list[dict[str, Any]]) -> str | None:
    """The OAuth client Secret the rendered BackendConfig expects, if IAP is on."""
    for obj in namespaced:
        if obj.get("kind") == "BackendConfig":
            credentials = obj.get("spec", {}).get("iap", {}).get("oauthclientCredentials", {})
            if credentials.get("secretName"):
                return str(credentials["secretName"])
    return None


def secrets_for(
    outputs: PlatformOutputs,
    version: str,
    namespaced: list[dict[str, Any]],
    manager: SecretManager,
    object_store_secret: str | None,
    existing: set[str],
) -> dict[str, dict[str, str]]:
    """The Kubernetes Secrets to create, name -> data, read from Secret Manager."""
    wanted: dict[str, dict[str, str]] = {
        MYSQL_SECRET: {
            "username": outputs.cloudsql_user,
            "password": manager.access(outputs.cloudsql_password_secret),
        }
    }
    if version in NEEDS_HMAC:
        if not object_store_secret:
            raise ConfigError(
                f"KFP {version}'s API server needs S3-interoperable HMAC keys for the bucket",
                hint='store {"accesskey": ..., "secretkey": ...} of an HMAC key of the '
                "pipeline-runner service account in Secret Manager and pass "
                "--object-store-secret projects/P/secrets/S (docs/manifests.md)",
            )
        keys = json.loads(manager.access(object_store_secret))
        if set(keys) != {"accesskey", "secretkey"}:
            raise ConfigError(
                f"{object_store_secret} must hold JSON with exactly accesskey and secretkey",
                hint="gcloud secrets versions add ... with the HMAC key's id and secret",
            )
        wanted[OBJECT_STORE_SECRET] = keys
    elif OBJECT_STORE_SECRET not in existing:
        # 2.17.0 only warns without a working object store; the UI signs with secretkey.
        wanted[OBJECT_STORE_SECRET] = {
            "accesskey": "unused-gcs-via-workload-identity",
            "secretkey": secrets.token_urlsafe(32),
        }
    iap = iap_secret_name(namespaced)
    if iap:
        wanted[iap] = {
            "client_id": manager.access(outputs.iap_client_id_secret),
            "client_secret": manager.access(outputs.iap_client_secret_secret),
        }
    return wanted


def existing_secrets(kubectl: Kubectl, namespace: str, names: list[str]) -> set[str]:
    done = kubectl.run(
        ["get", "secrets", "-n", namespace, "--ignore-not-found", "-o", "name", *names],
        check=False,
    )
    return {line.removeprefix("secret/") for line in done.stdout.split()}


def apply(
    outputs: PlatformOutputs,
    version: str,
    cluster_scoped: str,
    namespaced: str,
    step: Callable[[str], None],
    progress: Callable[[int, int], None],
    manager: SecretManager | None = None,
    object_store_secret: str | None = None,
    timeout_s: float = 900,
) -> ApplyReport:
    """Cluster-scoped bundle first (CRDs established), then the Secrets from Secret
    Manager, then everything else with server-side apply; then wait for the Deployments."""
    manager = manager or SecretManager()
    cluster_objects = objects(cluster_scoped)
    namespaced_objects = objects(namespaced)
    namespace = outputs.kfp_namespace
    crds = [
        o["metadata"]["name"] for o in cluster_objects if o["kind"] == "CustomResourceDefinition"
    ]
    deployments = {o["metadata"]["name"] for o in namespaced_objects if o["kind"] == "Deployment"}
    with cluster_credentials(outputs) as env:
        kubectl = Kubectl(env)
        # Every secret is read before the first write: a missing one changes nothing.
        existing = existing_secrets(kubectl, namespace, [OBJECT_STORE_SECRET])
        wanted = secrets_for(
            outputs, version, namespaced_objects, manager, object_store_secret, existing
        )
        step(f"applying {len(cluster_objects)} cluster-scoped objects")
        kubectl.apply(cluster_scoped)
        kubectl.wait_established(crds)
        step(f"creating Secrets from Secret Manager: {', '.join(sorted(wanted))}")
        kubectl.apply(
            "---\n".join(secret_manifest(n, namespace, d) for n, d in sorted(wanted.items()))
        )
        step(f"applying {len(namespaced_objects)} objects in {namespace}")
        kubectl.apply(namespaced)
        step(f"waiting for {len(deployments)} Deployments")
        wait_for_deployments(kubectl, namespace, deployments, timeout_s, progress)
    return ApplyReport(
        environment=outputs.environment,
        version=version,
        cluster=outputs.cluster_name,
        cluster_scoped_objects=len(cluster_objects),
        namespaced_objects=len(namespaced_objects),
        secrets=sorted(wanted),
        deployments=sorted(deployments),
    )


def live_diff(outputs: PlatformOutputs, cluster_scoped: str, namespaced: str) -> str:
    with cluster_credentials(outputs) as env:
        kubectl = Kubectl(env)
        return kubectl.diff(cluster_scoped) + kubectl.diff(namespaced)


def port_forward(outputs: PlatformOutputs, port: int, ready: Callable[[str], None]) -> int:
    """Forward localhost:port to the ml-pipeline-ui Service until interrupted."""
    with cluster_credentials(outputs) as env:
        kubectl = Kubectl(env)
        command = [
            kubectl.binary, "port-forward", "-n", outputs.kfp_namespace,
            "svc/ml-pipeline-ui", f"{port}:80", "--address=127.0.0.1",
        ]  # fmt: skip
        with subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        ) as process:
            assert process.stdout is not None
            announced = False
            for line in process.stdout:
                if not announced and line.startswith("Forwarding from"):
                    ready(f"http://localhost:{port}")
                    announced = True
            return process.wait()

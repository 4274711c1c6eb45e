"""Putting rendered manifests on the cluster: `manifests apply`, `manifests diff` (live),
and `ui` (a port-forward to the KFP UI, or the inverse proxy's URL)."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import secrets
import subprocess
from collections.abc import Callable
from typing import Any

import yaml

from kfp_gcp.errors import ConfigError, RunError
from kfp_gcp.services.cluster import database
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
# What the inverse proxy agent writes after registering (components/inverse-proxy; keys
# from upstream's proxy/attempt-register-vm-on-proxy.sh).
INVERSE_PROXY_CONFIG = "inverse-proxy-config"
# The Cloud SQL proxy's objects (components/cloudsql) carry this label; its Service is mysql.
PROXY_LABEL = "cloudsql-proxy"
PROXY_SERVICE = "mysql"
# Upstream's install ConfigMap; its appVersion is the deployed KFP release.
INSTALL_CONFIG = "pipeline-install-config"


@dataclasses.dataclass
class ApplyReport:
    environment: str
    version: str
    cluster: str
    cluster_scoped_objects: int
    namespaced_objects: int
    secrets: list[str]
    deployments: list[str]
    database_user: str  # the account ML Metadata logs in as, checked on the live instance
    deployed_before: str  # the KFP version the cluster ran ("" on a first install)
    backup: str  # the backup taken before a version change, else ""
    waited: bool  # False when the environment is paused: nothing runs to wait for


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
            account = outputs.service_accounts.object_store
            raise ConfigError(
                f"KFP {version}'s API server needs S3-interoperable HMAC keys for the bucket",
                hint=f"create a key of the read-only account Terraform made for it: gcloud "
                f"storage hmac create {account} --project={outputs.project_id}; store "
                '{"accesskey": ..., "secretkey": ...} in Secret Manager and pass '
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


def proxy_objects(namespaced: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The Cloud SQL proxy's objects of a render (its KSA, Deployment, Service, PDB, policy)."""
    return [o for o in namespaced if (o["metadata"].get("labels") or {}).get("app") == PROXY_LABEL]


def check_database_user(
    kubectl: Kubectl,
    outputs: PlatformOutputs,
    password: str,
    query: database.DatabaseQuery,
) -> str:
    """ML Metadata can log in as the contract's database user (through a port-forward to
    the proxy Service), or a ConfigError says how to fix the user. For apply and doctor."""
    with kubectl.forward(outputs.kfp_namespace, f"svc/{PROXY_SERVICE}", 3306) as port:
        statement = query(port, outputs.cloudsql_user, password)
    return database.check_mlmd_user(statement, outputs.cloudsql_password_secret)


def deployed_version(kubectl: Kubectl, namespace: str) -> str:
    """The KFP version the cluster runs: pipeline-install-config's appVersion, which every
    upstream release sets to its tag (base/installs/generic/pipeline-install-config.yaml);
    "" when KFP is not installed yet."""
    done = kubectl.run(
        ["get", "configmap", INSTALL_CONFIG, "-n", namespace, "-o", "json"], check=False
    )
    if done.returncode != 0:
        if "NotFound" in done.stderr:
            return ""
        raise RunError(
            f"cannot read {namespace}/{INSTALL_CONFIG}: {done.stderr.strip()[-300:]}",
            hint="check your access to the cluster (roles/container.developer)",
        )
    return str((json.loads(done.stdout).get("data") or {}).get("appVersion", ""))


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
    database_query: database.DatabaseQuery | None = None,
    backup: Callable[[str], str] | None = None,
    kubectl: Kubectl | None = None,
) -> ApplyReport:
    """Cluster-scoped bundle first (CRDs established), then the Secrets from Secret
    Manager, then the Cloud SQL proxy alone and a check, through it, that ML Metadata can
    log in as the database user; only then everything else with server-side apply, and a
    wait for the Deployments.

    Before a KFP version change (the cluster's pipeline-install-config names another
    version), `backup(description)` takes a database backup first, since the new version's
    servers migrate the schemas; it returns the backup's id. A paused environment (the
    contract's `paused`) gets its objects applied but nothing is waited for or checked
    through the database, which is stopped; a version change waits until it runs.
    `kubectl`: a session already open on the contract's cluster (`up`), else one is."""
    manager = manager or SecretManager()
    cluster_objects = objects(cluster_scoped)
    namespaced_objects = objects(namespaced)
    namespace = outputs.kfp_namespace
    crds = [
        o["metadata"]["name"] for o in cluster_objects if o["kind"] == "CustomResourceDefinition"
    ]
    deployments = {o["metadata"]["name"] for o in namespaced_objects if o["kind"] == "Deployment"}
    proxy = proxy_objects(namespaced_objects)
    proxy_deployments = {o["metadata"]["name"] for o in proxy if o["kind"] == "Deployment"}
    if not proxy_deployments:
        raise RunError(
            f"the render has no Deployment labelled app={PROXY_LABEL} (the Cloud SQL proxy)",
            hint="the overlay must list components/cloudsql; render again",
        )
    with contextlib.ExitStack() as stack:
        if kubectl is None:
            kubectl = Kubectl(stack.enter_context(cluster_credentials(outputs)))
        before = deployed_version(kubectl, namespace)
        taken = ""
        if before and before != version:
            if outputs.paused:
                raise RunError(
                    f"{outputs.environment} is paused: KFP {before} -> {version} needs a "
                    "database backup first, and a stopped instance takes none",
                    hint=f"resume it (kfp-gcp infra resume --env {outputs.environment}), "
                    "then apply again",
                )
            if backup is None:
                raise RunError(
                    f"KFP {before} -> {version} without a database backup",
                    hint="apply through `kfp-gcp manifests apply`, which backs up first",
                )
            step(f"KFP {before} -> {version}: backing up the database first")
            taken = backup(f"kfp-gcp: before KFP {before} -> {version}")
            step(f"backup {taken} taken")
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
        if outputs.paused:
            step(
                f"{outputs.environment} is paused: applying everything without waiting; the "
                "Deployments start, and the database user is checked, once it runs again"
            )
            account = ""
        else:
            step(f"applying the Cloud SQL proxy ({len(proxy)} objects) and waiting for it")
            kubectl.apply(yaml.safe_dump_all(proxy, sort_keys=False))
            wait_for_deployments(kubectl, namespace, proxy_deployments, timeout_s, lambda *_: None)
            step("checking that ML Metadata can log in as the database user")
            account = check_database_user(
                kubectl,
                outputs,
                wanted[MYSQL_SECRET]["password"],
                database_query or database.show_create_user,
            )
        step(f"applying {len(namespaced_objects)} objects in {namespace}")
        kubectl.apply(namespaced)
        if not outputs.paused:
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
        database_user=account,
        deployed_before=before,
        backup=taken,
        waited=not outputs.paused,
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


def inverse_proxy_url(outputs: PlatformOutputs) -> str:
    """The UI's URL on Google's inverting proxy, read from the ConfigMap the agent fills."""
    namespace = outputs.kfp_namespace
    with cluster_credentials(outputs) as env:
        done = Kubectl(env).run(
            ["get", "configmap", INVERSE_PROXY_CONFIG, "-n", namespace, "-o", "json"],
            check=False,
        )
    if done.returncode != 0:
        if "NotFound" in done.stderr:
            raise RunError(
                f"{namespace}/{INVERSE_PROXY_CONFIG} does not exist: the inverse proxy is not "
                "deployed",
                hint=f"kfp-gcp manifests apply --env {outputs.environment} (the contract says "
                f"access {outputs.access})",
            )
        raise RunError(
            f"kubectl get configmap failed: {done.stderr.strip()[-400:]}",
            hint="check your access to the cluster (roles/container.developer)",
        )
    hostname = (json.loads(done.stdout).get("data") or {}).get("Hostname", "").strip()
    if not hostname:
        raise RunError(
            "the inverse proxy agent has not registered yet (no Hostname in "
            f"{namespace}/{INVERSE_PROXY_CONFIG})",
            hint=f"kubectl -n {namespace} logs deploy/proxy-agent says how far it got; it "
            "needs egress to storage.googleapis.com and the proxy's region",
        )
    return hostname if hostname.startswith("https://") else f"https://{hostname}"

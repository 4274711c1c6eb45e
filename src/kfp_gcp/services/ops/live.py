"""Every seam `up`, `doctor` and `down` talk through, in one place, so that tests drive all
three with recorded answers: Google's REST APIs (ops.google), the Compute quotas
(infra.quota), Cloud SQL (ops.sqladmin), Secret Manager and the cluster (cluster.access:
gcloud for credentials, then kubectl), the database login check (cluster.database),
Artifact Registry and the image builder (images), KFP (kfp.api), and name resolution.
Terraform's seam is `infra.terraform.run_terraform`, which every Terraform step calls.

KFP is reached the way its access mode allows: through IAP with an ID token when the
environment has a domain, else through a port-forward to the API server's Service
(`svc/ml-pipeline`, port 8888), which needs nothing but cluster access.
"""

from __future__ import annotations

import contextlib
import dataclasses
import socket
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

from kfp_gcp.services.cluster import database
from kfp_gcp.services.cluster.access import (
    Kubectl,
    SecretManager,
    cluster_credentials,
    run_gcloud,
)
from kfp_gcp.services.infra.quota import ComputeQuotas
from kfp_gcp.services.infra.terraform import PlatformOutputs
from kfp_gcp.services.kfp.api import KfpApi, RetryPolicy
from kfp_gcp.services.ops.google import AdcToken, Credentials, GoogleApis, probe_network
from kfp_gcp.services.ops.sqladmin import SqlAdmin

API_SERVICE = "svc/ml-pipeline"
API_PORT = (
    8888  # the API server's HTTP port (upstream base/pipeline/ml-pipeline-apiserver-service.yaml)
)

Session = Callable[[PlatformOutputs], AbstractContextManager[Kubectl]]
KfpConnector = Callable[[PlatformOutputs, Kubectl, RetryPolicy], AbstractContextManager[KfpApi]]


def resolve_addresses(host: str) -> list[str]:
    """The IPv4 addresses `host` resolves to (empty when it does not resolve)."""
    try:
        infos = socket.getaddrinfo(host, 443, socket.AF_INET, socket.SOCK_STREAM)
    except OSError:
        return []
    return sorted({str(info[4][0]) for info in infos})


@dataclasses.dataclass
class Live:
    token: Callable[[], str]
    credentials: Callable[[], Credentials]
    google: GoogleApis
    quotas: ComputeQuotas
    sql: SqlAdmin
    secrets: SecretManager
    session: Session
    kfp: KfpConnector
    database_query: database.DatabaseQuery = database.show_create_user
    network: Callable[[], str | None] = probe_network
    resolve: Callable[[str], list[str]] = resolve_addresses
    gcloud: Callable[[list[str]], str] = run_gcloud
    registry: Any = None  # images.registry.ArtifactRegistry, made on first use
    builder: Callable[[PlatformOutputs], Any] | None = None  # images.build.Builder

    @classmethod
    def real(cls, request_timeout_s: int | None = None) -> Live:
        """The seams against Google Cloud, with Application Default Credentials for every
        Google API. `request_timeout_s` bounds each call, for checks that must answer fast."""
        token = AdcToken(timeout_s=float(request_timeout_s or 30))

        @contextlib.contextmanager
        def session(outputs: PlatformOutputs) -> Iterator[Kubectl]:
            limit = None if request_timeout_s is None else request_timeout_s * 6
            with cluster_credentials(outputs, timeout_s=limit) as env:
                yield Kubectl(env, request_timeout_s=request_timeout_s)

        timeout = float(request_timeout_s or 30)
        secrets = SecretManager(token, attempts=1 if request_timeout_s else 4)
        return cls(
            token=token,
            credentials=token.identify,
            google=GoogleApis(token, timeout_s=timeout),
            quotas=ComputeQuotas(token, attempts=1 if request_timeout_s else 4),
            sql=SqlAdmin(token, attempts=1 if request_timeout_s else 5),
            secrets=secrets,
            session=session,
            kfp=connect_kfp_factory(secrets),
        )

    def artifact_registry(self) -> Any:
        if self.registry is None:
            from kfp_gcp.services.images.registry import ArtifactRegistry

            self.registry = ArtifactRegistry(self.token)
        return self.registry


def connect_kfp_factory(secrets: SecretManager, token_source: Any = None) -> KfpConnector:
    """How `up`, `doctor` and `down` reach KFP: IAP with an ID token for the IAP client id
    (read from Secret Manager) when the contract has a domain, else a port-forward to the
    API server through the cluster session's kubectl."""

    @contextlib.contextmanager
    def connect(
        outputs: PlatformOutputs, kubectl: Kubectl, policy: RetryPolicy
    ) -> Iterator[KfpApi]:
        from kfp_gcp.services.kfp import target as kfp_target

        namespace = outputs.kfp_namespace
        if outputs.access == "iap" and outputs.domain:
            audience = secrets.access(outputs.iap_client_id_secret).strip()
            target = kfp_target.Target(f"https://{outputs.domain}", namespace, audience)
            yield kfp_target.connect(target, policy=policy, token_source=token_source)
            return
        with kubectl.forward(namespace, API_SERVICE, API_PORT) as port:
            yield KfpApi(f"http://127.0.0.1:{port}", namespace, policy=policy)

    return connect

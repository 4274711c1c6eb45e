"""Which KFP to talk to, and how: from the environment's outputs contract, or `--host`.

- Default: `https://<domain>` from the contract, through IAP with an ID token whose
  audience is the IAP OAuth client id, read from Secret Manager (`iap_client_id_secret`).
- No-domain mode (empty `domain`): there is no public endpoint; `--host` is required,
  normally `http://localhost:8080` from `kfp-gcp ui --env E` (a port-forward to the UI,
  which proxies `/apis/v2beta1`). No authentication is sent to a plain host unless
  KFP_GCP_ID_TOKEN is set.
- The KFP namespace is the contract's `kfp_namespace` (or `--namespace`), passed on every
  namespaced call.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kfp_gcp.errors import ConfigError, PrerequisiteError
from kfp_gcp.services.infra import terraform
from kfp_gcp.services.kfp import auth as kfp_auth
from kfp_gcp.services.kfp.api import KfpApi, Retry, RetryPolicy
from kfp_gcp.services.project import Project

DEFAULT_NAMESPACE = "kubeflow"


@dataclasses.dataclass
class Target:
    host: str
    namespace: str
    audience: str | None  # the IAP OAuth client id; None for a plain host

    @property
    def auth(self) -> str:
        return "IAP ID token" if self.audience else "none (plain host)"


def resolve(
    project: Project,
    env: str,
    host: str | None,
    outputs_file: Path | None = None,
    namespace: str | None = None,
    secrets: Any = None,
) -> Target:
    outputs = None
    if outputs_file is not None or host is None:
        outputs = terraform.contract(project, env, outputs_file)
    ns = namespace or (outputs.kfp_namespace if outputs else None) or DEFAULT_NAMESPACE
    if host is not None:
        return Target(host=host.rstrip("/"), namespace=ns, audience=None)
    assert outputs is not None
    if not outputs.domain:
        raise ConfigError(
            f"environment {env!r} has no domain (no-domain mode), so KFP has no public endpoint",
            hint=f"run `kfp-gcp ui --env {env}` in another terminal and pass "
            "--host http://localhost:8080",
        )
    if not outputs.iap_client_id_secret:
        raise ConfigError(
            f"environment {env!r} has a domain but no iap_client_id_secret in its outputs",
            hint="store the IAP OAuth client id in Secret Manager (docs/infra-outputs.md)",
        )
    if secrets is None:
        from kfp_gcp.services.cluster.access import SecretManager

        secrets = SecretManager()
    try:
        audience = secrets.access(outputs.iap_client_id_secret).strip()
    except PrerequisiteError as exc:
        # No ADC at all: a plain `application-default login` would fix this read, then fail
        # at the ID token; say at once what does both.
        raise PrerequisiteError(exc.message, hint=kfp_auth.IMPERSONATE_HINT) from None
    return Target(host=f"https://{outputs.domain}", namespace=ns, audience=audience)


def connect(
    target: Target,
    policy: RetryPolicy | None = None,
    environ: dict[str, str] | None = None,
    token_source: kfp_auth.TokenSource | None = None,
    on_retry: Callable[[Retry], None] | None = None,
) -> KfpApi:
    env = os.environ if environ is None else environ
    credentials = None
    if target.audience:
        source = token_source or kfp_auth.id_token_source(target.audience, dict(env))
        credentials = kfp_auth.IdTokenCredentials(source, target.audience)
    elif token_source is not None or env.get(kfp_auth.TOKEN_ENV):
        source = token_source or kfp_auth.StaticToken(env[kfp_auth.TOKEN_ENV])
        credentials = kfp_auth.IdTokenCredentials(source, None)
    return KfpApi(
        target.host, target.namespace, credentials=credentials, policy=policy, on_retry=on_retry
    )

"""Google ID tokens for KFP behind IAP, refreshed before expiry on every request.

IAP accepts a Google-signed ID token whose audience (`aud`) is the IAP OAuth client id.
Sources, first match wins (`id_token_source`):

1. `KFP_GCP_ID_TOKEN`: a token minted elsewhere, e.g. by `google-github-actions/auth`
   with `token_format: id_token`, `id_token_audience: <IAP client id>` and
   `id_token_include_email: true`. It cannot be refreshed, so an expired one is an error
   that says how to mint a new one.
2. Application Default Credentials that can mint ID tokens:
   - a service-account key or the metadata server (`google.oauth2.id_token`);
   - impersonated credentials (`gcloud auth application-default login
     --impersonate-service-account`): `impersonated_credentials.IDTokenCredentials`;
   - external-account (Workload Identity Federation) credentials with a service account
     to impersonate: the IAM Credentials `generateIdToken` API, called with the
     credentials' own access token.

The kfp SDK's own paths are not used: `existing_token` is static, and on a 401 the SDK
"refreshes" it with an OAuth *access* token, which IAP rejects. `IdTokenCredentials` is a
`TokenCredentialsBase` whose `refresh_api_key_hook` kfp_server_api calls before every
request (`Configuration.get_api_key_with_prefix`); it refuses to send anything that is
not an unexpired JWT for the expected audience, so an access token can never leak in.
"""

from __future__ import annotations

import base64
import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any, Protocol

from kfp_gcp.errors import ConfigError, PrerequisiteError

TOKEN_ENV = "KFP_GCP_ID_TOKEN"  # noqa: S105 (the name of a variable, not a secret)
IAM_CREDENTIALS = "https://iamcredentials.googleapis.com"
# What works for a person: a user login cannot mint an ID token for another audience.
IMPERSONATE_HINT = (
    "log in as a service account you may impersonate (you hold "
    "roles/iam.serviceAccountTokenCreator on it; it is in ingress.iap_members): `gcloud auth "
    "application-default login --impersonate-service-account=SA_EMAIL`, or set "
    f"{TOKEN_ENV} (docs/publishing.md, IAM the caller needs)"
)
# Refresh this long before `exp`: covers clock skew and a slow upload in flight.
REFRESH_MARGIN_S = 300.0

Clock = Callable[[], float]


def claims(token: str) -> dict[str, Any]:
    """The payload of a JWT, unverified (IAP verifies it; we only read `aud` and `exp`)."""
    parts = token.split(".")
    if len(parts) != 3:
        raise ValueError("not a JWT")
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    data = json.loads(base64.urlsafe_b64decode(payload))
    if not isinstance(data, dict):
        raise ValueError("JWT payload is not an object")
    return data


class TokenSource(Protocol):
    """Returns a fresh ID token; `refresh` forces a new one where that is possible."""

    description: str

    def token(self) -> str: ...


class StaticToken:
    """A pre-minted token (KFP_GCP_ID_TOKEN)."""

    def __init__(self, value: str, clock: Clock = time.time) -> None:
        self.value = value.strip()
        self.clock = clock
        self.description = f"${TOKEN_ENV}"

    def token(self) -> str:
        return self.value


class RefreshingToken:
    """An ID token from a google-auth credentials object (`.refresh(request)`, `.token`),
    re-minted when it is within REFRESH_MARGIN_S of its `exp`."""

    def __init__(
        self,
        credentials: Any,
        description: str,
        request: Any = None,
        clock: Clock = time.time,
    ) -> None:
        self.credentials = credentials
        self.description = description
        self.request = request
        self.clock = clock
        self._token: str | None = None
        self._exp = 0.0

    def token(self) -> str:
        if self._token is None or self._exp - self.clock() < REFRESH_MARGIN_S:
            if self.request is None:
                from google.auth.transport.requests import Request

                self.request = Request()
            self.credentials.refresh(self.request)
            token = str(self.credentials.token)
            try:
                self._exp = float(claims(token).get("exp", 0))
            except ValueError:
                self._exp = 0.0
            self._token = token
        return self._token


HttpPost = Callable[[str, dict[str, str], bytes], dict[str, Any]]


def _http_post(url: str, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (https)
        data: dict[str, Any] = json.loads(response.read())
    return data


class GenerateIdToken:
    """Credentials-like object: `refresh` calls IAM Credentials `generateIdToken` for
    `service_account` with an access token of `source` (external-account / WIF)."""

    def __init__(
        self,
        source: Any,
        service_account: str,
        audience: str,
        post: HttpPost = _http_post,
        base_url: str = IAM_CREDENTIALS,
    ) -> None:
        self.source = source
        self.service_account = service_account
        self.audience = audience
        self.post = post
        self.base_url = base_url.rstrip("/")
        self.token: str | None = None

    def refresh(self, request: Any) -> None:
        if not self.source.valid:
            self.source.refresh(request)
        url = (
            f"{self.base_url}/v1/projects/-/serviceAccounts/{self.service_account}:generateIdToken"
        )
        body = json.dumps({"audience": self.audience, "includeEmail": True}).encode()
        headers = {
            "Authorization": f"Bearer {self.source.token}",
            "Content-Type": "application/json",
        }
        try:
            self.token = str(self.post(url, headers, body)["token"])
        except urllib.error.HTTPError as exc:
            raise PrerequisiteError(
                f"IAM Credentials generateIdToken for {self.service_account} answered {exc.code}",
                hint=f"grant roles/iam.serviceAccountOpenIdTokenCreator on {self.service_account} "
                "to the identity running kfp-gcp (docs/publishing.md lists the IAM)",
            ) from None


def adc_id_token_credentials(audience: str) -> tuple[Any, str]:
    """ID-token credentials from Application Default Credentials, and what they are."""
    import google.auth
    import google.auth.exceptions
    from google.auth import external_account, impersonated_credentials
    from google.oauth2 import id_token

    try:
        credentials, _ = google.auth.default(
            scopes=["https://www.googleapis.com/auth/cloud-platform"]
        )
    except google.auth.exceptions.DefaultCredentialsError as exc:
        raise PrerequisiteError(
            f"no Google credentials to reach KFP through IAP: {exc}",
            hint=IMPERSONATE_HINT,
        ) from None
    if isinstance(credentials, impersonated_credentials.Credentials):
        return (
            impersonated_credentials.IDTokenCredentials(  # type: ignore[no-untyped-call]
                credentials, target_audience=audience, include_email=True
            ),
            f"ADC impersonating {credentials.service_account_email}",
        )
    if isinstance(credentials, external_account.Credentials):
        email = credentials.service_account_email
        if not email:
            raise PrerequisiteError(
                "the external-account (Workload Identity Federation) credentials impersonate no "
                "service account, and a federated identity cannot get an ID token",
                hint="set service_account in google-github-actions/auth, or pass the ID token "
                f"it mints (token_format: id_token) in {TOKEN_ENV}",
            )
        return GenerateIdToken(credentials, email, audience), f"WIF as {email}"
    try:
        return (
            id_token.fetch_id_token_credentials(audience),  # type: ignore[no-untyped-call]
            "ADC (service account or metadata server)",
        )
    except google.auth.exceptions.DefaultCredentialsError:
        raise PrerequisiteError(
            f"Application Default Credentials of type {type(credentials).__name__} cannot mint "
            "ID tokens (a user login cannot)",
            hint=IMPERSONATE_HINT,
        ) from None


def id_token_source(
    audience: str,
    environ: dict[str, str] | None = None,
    clock: Clock = time.time,
    adc: Callable[[str], tuple[Any, str]] = adc_id_token_credentials,
) -> TokenSource:
    env = os.environ if environ is None else environ
    if env.get(TOKEN_ENV):
        return StaticToken(env[TOKEN_ENV], clock)
    credentials, description = adc(audience)
    return RefreshingToken(credentials, description, clock=clock)


try:  # the base class lives in kfp (imported lazily by the commands)
    from kfp.client.token_credentials_base import TokenCredentialsBase as _Base
except ImportError:  # pragma: no cover
    _Base = object


class IdTokenCredentials(_Base):  # type: ignore[misc]
    """kfp `credentials=`: puts a fresh ID token on every request, and nothing else."""

    def __init__(self, source: TokenSource, audience: str | None, clock: Clock = time.time) -> None:
        self.source = source
        self.audience = audience
        self.clock = clock

    def checked_token(self) -> str:
        token = self.source.token()
        try:
            data = claims(token)
        except ValueError:
            raise ConfigError(
                f"the token from {self.source.description} is not an ID token (a JWT); an OAuth "
                "access token is rejected by IAP",
                hint="mint an ID token with the IAP client id as audience (docs/publishing.md)",
            ) from None
        aud = data.get("aud")
        if self.audience and aud != self.audience:
            raise ConfigError(
                f"the ID token from {self.source.description} is for audience {aud!r}, not this "
                "environment's IAP client id",
                hint="mint it with id_token_audience set to the IAP OAuth client id",
            )
        if float(data.get("exp", 0)) <= self.clock():
            raise ConfigError(
                f"the ID token from {self.source.description} has expired",
                hint="mint a new one (tokens live one hour), or unset it to use ADC "
                "(which refreshes)",
            )
        return token

    def refresh_api_key_hook(self, config: Any) -> None:
        token = self.checked_token()
        config.api_key["authorization"] = token
        config.api_key_prefix["authorization"] = "Bearer"

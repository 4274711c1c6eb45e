"""Where the ID token for IAP comes from (services/kfp/auth.py), case by case: which
Application Default Credentials mint it and how, when it is refreshed, and what is refused
before it is sent. google-auth's own credential classes are built offline; the only
network is IAM Credentials' generateIdToken, played by a local server."""

import base64
import json
import threading
import urllib.error
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import ClassVar

import google.auth
import google.auth.exceptions
import google.oauth2.credentials
import google.oauth2.id_token
import pytest
from google.auth import identity_pool, impersonated_credentials

from kfp_gcp.errors import ConfigError, PrerequisiteError
from kfp_gcp.services.kfp import auth as kfp_auth
from tests.test_publish_auth import AUDIENCE, Clock, FakeIdTokenCredentials, jwt

SA = "ci@p.iam.gserviceaccount.com"


def token_from(payload: bytes) -> str:
    encoded = base64.urlsafe_b64encode(payload).decode().rstrip("=")
    return f"e30.{encoded}.sig"


# The JWT payload, whatever its length.


@pytest.mark.parametrize("pad", range(4))
def test_claims_are_read_whatever_padding_the_payload_needs(pad):
    data = {"aud": AUDIENCE, "exp": 100, "x": "y" * pad}
    assert kfp_auth.claims(token_from(json.dumps(data).encode())) == data


@pytest.mark.parametrize(
    ("token", "words"),
    [("a.b", "not a JWT"), ("a.b.c.d", "not a JWT"), (token_from(b"[1, 2]"), "not an object")],
)
def test_what_is_not_a_jwt_with_an_object_payload_is_refused(token, words):
    with pytest.raises(ValueError, match=words):
        kfp_auth.claims(token)
    credentials = kfp_auth.IdTokenCredentials(kfp_auth.StaticToken(token), AUDIENCE, Clock())
    with pytest.raises(ConfigError, match=r"from \$KFP_GCP_ID_TOKEN is not an ID token"):
        credentials.checked_token()


# Refusals before anything is sent.


def test_a_token_expires_at_its_exp_second():
    clock = Clock()
    credentials = kfp_auth.IdTokenCredentials(kfp_auth.StaticToken(jwt(exp=100)), AUDIENCE, clock)
    clock.now = 99.5
    assert credentials.checked_token() == jwt(exp=100)
    clock.now = 100
    with pytest.raises(ConfigError, match=r"^the ID token from \$KFP_GCP_ID_TOKEN has expired$"):
        credentials.checked_token()


def test_without_an_expected_audience_any_audience_is_sent():
    token = jwt(aud="any-client-id")
    credentials = kfp_auth.IdTokenCredentials(kfp_auth.StaticToken(token), None, Clock())
    assert credentials.checked_token() == token


def test_a_wrong_audience_is_named():
    token = jwt(aud="someone-else")
    credentials = kfp_auth.IdTokenCredentials(kfp_auth.StaticToken(token), AUDIENCE, Clock())
    with pytest.raises(ConfigError) as error:
        credentials.checked_token()
    assert error.value.message == (
        "the ID token from $KFP_GCP_ID_TOKEN is for audience 'someone-else', not this "
        "environment's IAP client id"
    )


# Sources.


def test_a_preminted_token_comes_from_the_environment_trimmed(monkeypatch):
    monkeypatch.setenv(kfp_auth.TOKEN_ENV, jwt() + "\n")  # as read from a file
    source = kfp_auth.id_token_source(AUDIENCE, adc=lambda audience: pytest.fail("no ADC"))
    assert isinstance(source, kfp_auth.StaticToken)
    assert source.token() == jwt()
    assert source.description == "$KFP_GCP_ID_TOKEN"


def test_an_empty_token_variable_falls_back_to_adc():
    asked = []

    def adc(audience):
        asked.append(audience)
        return FakeIdTokenCredentials(Clock()), "fake ADC"

    source = kfp_auth.id_token_source(AUDIENCE, {kfp_auth.TOKEN_ENV: ""}, adc=adc)
    assert asked == [AUDIENCE]
    assert source.description == "fake ADC"


def test_a_refreshing_token_is_minted_once_and_again_only_inside_the_margin():
    clock = Clock()
    creds = FakeIdTokenCredentials(clock, lifetime=3600)
    request = object()
    requests = []
    refresh = creds.refresh
    creds.refresh = lambda r: (requests.append(r), refresh(r))
    source = kfp_auth.RefreshingToken(creds, "fake ADC", request=request, clock=clock)
    first = source.token()
    assert source.token() == first
    clock.now = 3600 - kfp_auth.REFRESH_MARGIN_S  # exactly the margin left: still good
    assert source.token() == first
    clock.now += 1
    assert source.token() != first
    assert creds.refreshes == 2
    assert requests == [request, request]  # the transport given, not a new one


def test_a_token_without_a_readable_exp_is_minted_for_every_request():
    class Opaque:
        token, refreshes = "not-a-jwt", 0

        def refresh(self, request):
            self.refreshes += 1

    creds = Opaque()
    source = kfp_auth.RefreshingToken(creds, "odd", request=object(), clock=Clock())
    assert source.token() == source.token() == "not-a-jwt"
    assert creds.refreshes == 2


# Which Application Default Credentials mint ID tokens, and how.


@pytest.fixture
def adc(monkeypatch):
    """Make google.auth.default return the given credentials (or raise)."""

    def use(credentials):
        def default(scopes=None):
            if isinstance(credentials, Exception):
                raise credentials
            assert scopes == ["https://www.googleapis.com/auth/cloud-platform"]
            return credentials, "project"

        monkeypatch.setattr(google.auth, "default", default)

    return use


def federated(impersonate=True):
    url = f"https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/{SA}:generateAccessToken"
    return identity_pool.Credentials(
        audience="//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/github",
        subject_token_type="urn:ietf:params:oauth:token-type:jwt",
        token_url="https://sts.googleapis.com/v1/token",
        credential_source={"file": "/dev/null"},
        service_account_impersonation_url=url if impersonate else None,
    )


def test_impersonated_adc_mints_with_the_service_accounts_email(adc):
    user = google.oauth2.credentials.Credentials(token="ya29.user")
    adc(impersonated_credentials.Credentials(user, "sa@p.iam.gserviceaccount.com", ["x"]))
    credentials, description = kfp_auth.adc_id_token_credentials(AUDIENCE)
    assert isinstance(credentials, impersonated_credentials.IDTokenCredentials)
    assert credentials._target_audience == AUDIENCE
    assert credentials._include_email is True
    assert description == "ADC impersonating sa@p.iam.gserviceaccount.com"


def test_federated_adc_mints_through_generate_id_token_for_its_service_account(adc):
    adc(federated())
    credentials, description = kfp_auth.adc_id_token_credentials(AUDIENCE)
    assert isinstance(credentials, kfp_auth.GenerateIdToken)
    assert (credentials.service_account, credentials.audience) == (SA, AUDIENCE)
    assert description == f"WIF as {SA}"


def test_federated_adc_without_a_service_account_says_how_to_get_a_token(adc):
    adc(federated(impersonate=False))
    with pytest.raises(PrerequisiteError) as error:
        kfp_auth.adc_id_token_credentials(AUDIENCE)
    assert "a federated identity cannot get an ID token" in error.value.message
    assert "token_format: id_token" in error.value.hint
    assert kfp_auth.TOKEN_ENV in error.value.hint


def test_a_service_account_or_the_metadata_server_mints_directly(adc, monkeypatch):
    adc(google.oauth2.credentials.Credentials(token="ya29.x"))
    minted = object()
    asked = []
    monkeypatch.setattr(
        google.oauth2.id_token,
        "fetch_id_token_credentials",
        lambda audience: asked.append(audience) or minted,
    )
    assert kfp_auth.adc_id_token_credentials(AUDIENCE) == (
        minted,
        "ADC (service account or metadata server)",
    )
    assert asked == [AUDIENCE]


def test_a_user_login_cannot_mint_and_is_told_to_impersonate(adc, monkeypatch):
    adc(google.oauth2.credentials.Credentials(token="ya29.x"))

    def cannot(audience):
        raise google.auth.exceptions.DefaultCredentialsError("no service account")

    monkeypatch.setattr(google.oauth2.id_token, "fetch_id_token_credentials", cannot)
    with pytest.raises(PrerequisiteError) as error:
        kfp_auth.adc_id_token_credentials(AUDIENCE)
    assert "of type Credentials cannot mint ID tokens" in error.value.message
    assert error.value.hint == kfp_auth.IMPERSONATE_HINT


def test_no_adc_at_all_is_told_to_impersonate(adc):
    adc(google.auth.exceptions.DefaultCredentialsError("Could not automatically determine"))
    with pytest.raises(PrerequisiteError) as error:
        kfp_auth.adc_id_token_credentials(AUDIENCE)
    assert "no Google credentials to reach KFP through IAP" in error.value.message
    assert "--impersonate-service-account" in error.value.hint


# generateIdToken, against a local server shaped like IAM Credentials' v1 API.


class IamCredentials(BaseHTTPRequestHandler):
    answers: ClassVar[list] = []
    seen: ClassVar[list] = []

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        IamCredentials.seen.append((self.path, dict(self.headers), body))
        status, answer = IamCredentials.answers.pop(0)
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def iam(socket_enabled):
    server = HTTPServer(("127.0.0.1", 0), IamCredentials)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    IamCredentials.seen = []
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()


class Federated:
    """external_account.Credentials as GenerateIdToken uses it: an access token."""

    def __init__(self, valid):
        self.valid, self.token, self.refreshes = valid, "ya29.federated", 0

    def refresh(self, request):
        self.refreshes += 1
        self.valid = True


@pytest.mark.parametrize("valid", [True, False])
def test_generate_id_token_posts_the_audience_with_the_federated_access_token(iam, valid):
    IamCredentials.answers = [(200, {"token": jwt()})]
    source = Federated(valid)
    minter = kfp_auth.GenerateIdToken(source, SA, AUDIENCE, base_url=iam)
    minter.refresh(request=object())
    assert minter.token == jwt()
    assert source.refreshes == (0 if valid else 1)  # an access token still valid is reused
    ((path, headers, body),) = IamCredentials.seen
    assert path == f"/v1/projects/-/serviceAccounts/{SA}:generateIdToken"
    assert headers["Authorization"] == "Bearer ya29.federated"
    assert headers["Content-Type"] == "application/json"
    assert body == {"audience": AUDIENCE, "includeEmail": True}


def test_generate_id_token_refused_names_the_role_to_grant(iam):
    IamCredentials.answers = [(403, {"error": {"code": 403, "status": "PERMISSION_DENIED"}})]
    minter = kfp_auth.GenerateIdToken(Federated(True), SA, AUDIENCE, base_url=iam)
    with pytest.raises(PrerequisiteError) as error:
        minter.refresh(request=object())
    assert error.value.message == f"IAM Credentials generateIdToken for {SA} answered 403"
    assert f"roles/iam.serviceAccountOpenIdTokenCreator on {SA}" in error.value.hint


def test_other_failures_of_the_post_are_not_disguised():
    def post(url, headers, body):
        raise urllib.error.URLError("connection refused")

    minter = kfp_auth.GenerateIdToken(Federated(True), SA, AUDIENCE, post=post)
    with pytest.raises(urllib.error.URLError):
        minter.refresh(request=object())


# Exact constants and wiring.


def test_generate_id_token_calls_the_real_iam_credentials_host_by_default():
    posted = []

    def post(url, headers, body):
        posted.append(url)
        return {"token": jwt()}

    kfp_auth.GenerateIdToken(Federated(True), SA, AUDIENCE, post=post).refresh(request=object())
    assert posted == [
        f"https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/{SA}:generateIdToken"
    ]


def test_a_token_is_reminted_five_minutes_before_its_exp():
    clock = Clock()
    creds = FakeIdTokenCredentials(clock, lifetime=3600)
    source = kfp_auth.RefreshingToken(creds, "fake ADC", request=object(), clock=clock)
    first = source.token()
    clock.now = 3300.0  # exactly 300 s left: still sent
    assert source.token() == first
    clock.now = 3300.5
    assert source.token() != first
    assert creds.refreshes == 2


def test_without_a_transport_one_google_auth_request_is_made_and_reused(monkeypatch):
    import google.auth.transport.requests

    made = []

    class Request:
        def __init__(self):
            made.append(self)

    monkeypatch.setattr(google.auth.transport.requests, "Request", Request)
    clock = Clock()
    creds = FakeIdTokenCredentials(clock, lifetime=3600)
    seen = []
    refresh = creds.refresh
    creds.refresh = lambda r: (seen.append(r), refresh(r))
    source = kfp_auth.RefreshingToken(creds, "fake ADC", clock=clock)
    source.token()
    clock.now = 3400.0
    source.token()
    assert len(made) == 1
    assert seen == [made[0], made[0]]


def test_the_adc_source_refreshes_by_the_clock_it_is_given():
    clock = Clock()
    creds = FakeIdTokenCredentials(clock, lifetime=3600)
    source = kfp_auth.id_token_source(
        AUDIENCE, {}, clock=clock, adc=lambda audience: (creds, "fake ADC")
    )
    source.request = object()
    first = source.token()
    clock.now = 3400.0  # inside the margin by the given clock (the wall clock is decades past)
    assert source.token() != first
    assert creds.refreshes == 2
    clock.now = 3500.0  # fresh again by the given clock
    source.token()
    assert creds.refreshes == 2

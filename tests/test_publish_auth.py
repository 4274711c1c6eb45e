"""ID tokens through IAP: fake credential objects and a fake clock, no network but 127.0.0.1."""

import base64
import json

import pytest

from kfp_gcp.errors import ConfigError
from kfp_gcp.services.kfp import auth as kfp_auth
from kfp_gcp.services.kfp import publish
from kfp_gcp.services.kfp.api import KfpApi, RetryPolicy
from kfp_gcp.services.project import select
from tests.fake_kfp import FakeKfp
from tests.test_publish import pipeline_source

AUDIENCE = "123-abc.apps.googleusercontent.com"


def jwt(aud=AUDIENCE, exp=3600.0, n=0):
    def part(data):
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'RS256'})}.{part({'aud': aud, 'exp': exp, 'n': n})}.sig"


class Clock:
    now = 0.0

    def __call__(self):
        return self.now


class FakeIdTokenCredentials:
    """Shaped like google-auth's IDTokenCredentials: refresh(request) sets .token."""

    def __init__(self, clock, lifetime=3600):
        self.clock, self.lifetime, self.refreshes, self.token = clock, lifetime, 0, None

    def refresh(self, request):
        self.refreshes += 1
        self.token = jwt(exp=self.clock() + self.lifetime, n=self.refreshes)


@pytest.fixture
def fake(socket_enabled):
    server = FakeKfp().start()
    yield server
    server.stop()


def test_an_expiring_token_is_replaced_by_a_fresh_id_token_never_an_access_token(
    fake, make_project, monkeypatch
):
    import kfp.client.auth

    def no_access_tokens():
        raise AssertionError("the SDK's access-token refresh must never run")

    monkeypatch.setattr(kfp.client.auth, "get_gcp_access_token", no_access_tokens)
    clock = Clock()
    creds = FakeIdTokenCredentials(clock)
    source = kfp_auth.RefreshingToken(creds, "fake ADC", request=object(), clock=clock)
    seen = []

    def check(header):  # what IAP checks: a Bearer JWT for our audience, not expired
        token = header.removeprefix("Bearer ")
        data = kfp_auth.claims(token)
        seen.append(data["n"])
        return header.startswith("Bearer ") and data["aud"] == AUDIENCE and data["exp"] > clock()

    fake.check_auth = check
    project = make_project({"alpha": pipeline_source("alpha")})
    prepared = publish.prepare(project, select(project, "pipeline"))
    credentials = kfp_auth.IdTokenCredentials(source, AUDIENCE, clock=clock)
    api = KfpApi(fake.url, "kubeflow", credentials=credentials, policy=RetryPolicy())
    assert publish.deploy(api, project, prepared).results[0].status == "created"
    assert creds.refreshes == 1
    clock.now = 3600 - 200  # inside the refresh margin: the next request gets a new token
    summary = publish.deploy(api, project, prepared)
    assert summary.results[0].status == "unchanged"
    assert creds.refreshes == 2
    assert set(seen) == {1, 2}
    assert all(r.status != 401 for r in fake.log)


def test_a_preminted_token_is_used_as_is_and_an_expired_one_is_refused():
    clock = Clock()
    source = kfp_auth.id_token_source(AUDIENCE, {kfp_auth.TOKEN_ENV: jwt(exp=100)}, clock=clock)
    credentials = kfp_auth.IdTokenCredentials(source, AUDIENCE, clock=clock)

    class Config:
        def __init__(self):
            self.api_key, self.api_key_prefix = {}, {}

    config = Config()
    credentials.refresh_api_key_hook(config)
    assert config.api_key["authorization"] == jwt(exp=100)
    assert config.api_key_prefix["authorization"] == "Bearer"
    clock.now = 200
    with pytest.raises(ConfigError, match="expired"):
        credentials.refresh_api_key_hook(config)


@pytest.mark.parametrize(
    ("token", "words"),
    [("ya29.an-access-token", "not an ID token"), (jwt(aud="someone-else"), "audience")],
)
def test_access_tokens_and_wrong_audiences_are_never_sent(token, words):
    source = kfp_auth.StaticToken(token)
    credentials = kfp_auth.IdTokenCredentials(source, AUDIENCE, clock=Clock())
    with pytest.raises(ConfigError, match=words):
        credentials.checked_token()


def test_without_the_env_var_adc_is_asked_for_id_token_credentials():
    asked = []

    def adc(audience):
        asked.append(audience)
        return FakeIdTokenCredentials(Clock()), "fake"

    source = kfp_auth.id_token_source(AUDIENCE, {}, adc=adc)
    assert asked == [AUDIENCE]
    assert isinstance(source, kfp_auth.RefreshingToken)


def test_workload_identity_federation_mints_through_generate_id_token():
    calls = []

    class FederatedCredentials:  # external_account.Credentials: an access token for the SA
        valid, token = False, "ya29.federated"

        def refresh(self, request):
            self.valid = True

    def post(url, headers, body):
        calls.append((url, headers, json.loads(body)))
        return {"token": jwt()}

    creds = kfp_auth.GenerateIdToken(
        FederatedCredentials(), "ci@p.iam.gserviceaccount.com", AUDIENCE, post=post
    )
    source = kfp_auth.RefreshingToken(creds, "WIF", request=object(), clock=Clock())
    assert kfp_auth.claims(source.token())["aud"] == AUDIENCE
    ((url, headers, body),) = calls
    assert url.endswith("/serviceAccounts/ci@p.iam.gserviceaccount.com:generateIdToken")
    assert headers["Authorization"] == "Bearer ya29.federated"
    assert body == {"audience": AUDIENCE, "includeEmail": True}


def test_domain_mode_reads_the_iap_client_id_from_secret_manager(tmp_path, repo):
    from kfp_gcp.services.kfp import target as kfp_target

    data = json.loads((repo.root / "tests/fixtures/platform-outputs.json").read_text())
    data.update(
        domain="kfp.example.com",
        iap_client_id_secret="projects/p/secrets/iap-client-id",
        kfp_namespace="kubeflow-pipelines",
    )
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps(data))

    class Secrets:
        def access(self, name):
            assert name == "projects/p/secrets/iap-client-id"
            return AUDIENCE + "\n"

    target = kfp_target.resolve(repo, "dev", None, outputs, secrets=Secrets())
    assert target == kfp_target.Target("https://kfp.example.com", "kubeflow-pipelines", AUDIENCE)

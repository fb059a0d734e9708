"""Auth flow: login, me, and every way a bad credential or token must be refused with 401."""

from __future__ import annotations

import base64
import json
import time

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.security]

ISSUER, AUDIENCE = "prsm-reference", "prsm-api"


def _claims(username: str, **overrides: object) -> dict[str, object]:
    now = int(time.time())
    claims: dict[str, object] = {"sub": username, "iat": now, "exp": now + 300,
                                 "iss": ISSUER, "aud": AUDIENCE}
    claims.update(overrides)
    return claims


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_login_then_me_names_the_user(prsm_api, prsm_deployment):
    me = prsm_api.call("me").expect(200)
    assert me.body["username"] == prsm_deployment.credentials.username


def test_login_answers_bearer_token_shape(prsm_client, prsm_deployment):
    response = prsm_client().login(prsm_deployment.credentials).expect(200)
    assert response.body["token_type"].lower() == "bearer"
    assert response.body["expires_in"] > 0
    assert response.body["access_token"].count(".") == 2


def test_wrong_password_is_401(prsm_client, prsm_deployment):
    response = prsm_client().call(
        "login", {"username": prsm_deployment.credentials.username, "password": "not-it"})
    response.expect(401)
    assert "access_token" not in json.dumps(response.body)


def test_unknown_user_is_401(prsm_client):
    prsm_client().call("login", {"username": "nobody-here", "password": "x"}).expect(401)


def test_missing_token_is_401(prsm_client):
    prsm_client().call("me").expect(401)


def test_garbage_token_is_401(prsm_client):
    prsm_client().call("me", token="not.a.jwt").expect(401)


def test_tampered_token_is_401(prsm_api):
    header, _payload, signature = prsm_api.token.split(".")
    forged = _b64(_claims("someone-else"))
    prsm_api.call("me", token=f"{header}.{forged}.{signature}").expect(401)


def test_alg_none_token_is_401(prsm_api, prsm_deployment):
    user = prsm_deployment.credentials.username
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_claims(user))}."
    prsm_api.call("me", token=unsigned).expect(401)


def test_protected_endpoints_refuse_anonymous_calls(prsm_client):
    client = prsm_client()
    calls = [("memory_stats", None, {}), ("memory_get", {"key": "k"}, {}),
             ("task_submit", {"type": "echo", "payload": {}}, {}),
             ("generate", {"prompt": "x"}, {})]
    for operation, body, path in calls:
        client.call(operation, body, **path).expect(401)


@pytest.mark.requires("token_signing")
@pytest.mark.parametrize("defect", [
    {"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200},
    {"aud": "another-service"},
    {"iss": "someone-else"},
    {"sub": "not-a-configured-user"},
], ids=["expired", "wrong-audience", "wrong-issuer", "unknown-subject"])
def test_correctly_signed_but_invalid_claims_are_401(prsm_api, prsm_deployment, defect):
    user = prsm_deployment.credentials.username
    valid = prsm_deployment.token_signer(_claims(user))
    prsm_api.call("me", token=valid).expect(200)  # the signer itself is right
    prsm_api.call("me", token=prsm_deployment.token_signer(_claims(user, **defect))).expect(401)


@pytest.mark.requires("token_signing", "token_lifetime_cap")
def test_a_correctly_signed_token_living_longer_than_the_server_allows_is_401(prsm_api,
                                                                             prsm_deployment):
    user, now = prsm_deployment.credentials.username, int(time.time())
    year = prsm_deployment.token_signer(_claims(user, iat=now, exp=now + 365 * 86400))
    prsm_api.call("me", token=year).expect(401)

"""Pure units of the reference API: passwords, tokens, L1 cache, rate limiting, settings."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest

from reference_system.api.auth import decode_token, issue_token
from reference_system.api.errors import ApiError
from reference_system.api.middleware import RateLimit
from reference_system.memory import L1Cache
from reference_system.passwords import hash_password, verify_password
from reference_system.settings import Settings, SettingsError

SECRET = "k" * 64


def _settings(**overrides: object) -> Settings:
    base = dict(postgres_dsn="postgresql://x", redis_url="redis://x", jwt_secret=SECRET,
                users={"alice": hash_password("pw", n=2**4)})
    base.update(overrides)
    return Settings(**base)  # type: ignore[arg-type]


def test_password_hash_verifies_only_the_right_password():
    encoded = hash_password("correct horse", n=2**4)
    assert verify_password("correct horse", encoded)
    assert not verify_password("wrong", encoded)
    assert not verify_password("correct horse", "md5$abc")
    assert hash_password("same", n=2**4) != hash_password("same", n=2**4)  # salted


def test_issued_token_round_trips():
    settings = _settings()
    claims = decode_token(settings, issue_token(settings, "alice"))
    assert claims["sub"] == "alice" and claims["aud"] == "prsm-api"


@pytest.mark.parametrize("claims_change", [{"exp": 0}, {"aud": "x"}, {"iss": "x"}])
def test_tokens_with_bad_claims_are_refused(claims_change):
    now = int(time.time())
    claims = {"sub": "alice", "iat": now, "exp": now + 60, "iss": "prsm-reference",
              "aud": "prsm-api", **claims_change}
    with pytest.raises(ApiError) as excinfo:
        decode_token(_settings(), jwt.encode(claims, SECRET, algorithm="HS256"))
    assert excinfo.value.status == 401


def test_missing_required_claim_is_refused():
    token = jwt.encode({"sub": "alice", "aud": "prsm-api", "iss": "prsm-reference"}, SECRET,
                       algorithm="HS256")
    with pytest.raises(ApiError):
        decode_token(_settings(), token)


def test_alg_none_and_other_algorithms_are_refused():
    settings = _settings()
    valid = jwt.decode(issue_token(settings, "alice"), options={"verify_signature": False})
    header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
    body = base64.urlsafe_b64encode(json.dumps(valid).encode()).rstrip(b"=").decode()
    for token in (f"{header}.{body}.", jwt.encode(valid, SECRET, algorithm="HS512")):
        with pytest.raises(ApiError):
            decode_token(settings, token)


def test_l1_evicts_least_recently_used():
    cache = L1Cache(capacity=2)
    cache.put("a", 1, None)
    cache.put("b", 2, None)
    assert cache.get("a") == (True, 1)  # a is now most recent
    cache.put("c", 3, None)
    assert cache.get("b") == (False, None)
    assert cache.get("a") == (True, 1) and cache.get("c") == (True, 3)


def test_l1_expires_entries():
    cache = L1Cache(capacity=4)
    cache.put("a", 1, ttl_s=0.0)
    assert cache.get("a") == (False, None) and len(cache) == 0


def test_rate_limit_bucket_refills_at_the_rate():
    limiter = RateLimit(app=None, per_second=10, burst=2)  # type: ignore[arg-type]
    assert limiter._take("c", now=100.0) == 0
    assert limiter._take("c", now=100.0) == 0
    wait = limiter._take("c", now=100.0)
    assert wait == pytest.approx(0.1)
    assert limiter._take("c", now=100.2) == 0
    assert limiter._take("other", now=100.0) == 0  # per client


@pytest.mark.parametrize(("env", "fragment"), [
    ({}, "PRSM_REF_POSTGRES_DSN"),
    ({"PRSM_REF_POSTGRES_DSN": "x", "PRSM_REF_REDIS_URL": "y", "PRSM_REF_JWT_SECRET": "short"},
     "at least 32"),
    ({"PRSM_REF_POSTGRES_DSN": "x", "PRSM_REF_REDIS_URL": "y", "PRSM_REF_JWT_SECRET": "s" * 32,
      "PRSM_REF_USERS": "{bad"}, "not valid JSON"),
    ({"PRSM_REF_POSTGRES_DSN": "x", "PRSM_REF_REDIS_URL": "y", "PRSM_REF_JWT_SECRET": "s" * 32,
      "PRSM_REF_USERS": "{}", "PRSM_REF_PORT": "eighty"}, "PRSM_REF_PORT"),
])
def test_settings_errors_name_the_variable(env, fragment):
    with pytest.raises(SettingsError, match=fragment):
        Settings.from_env(env)


def test_only_configured_admins_get_the_admin_role_claim():
    settings = _settings(users={"alice": "h", "root": "h"}, admins=frozenset({"root"}))
    roles = {name: decode_token(settings, issue_token(settings, name))["role"]
             for name in ("alice", "root")}
    assert roles == {"alice": "user", "root": "admin"}


_BASE_ENV = {"PRSM_REF_POSTGRES_DSN": "x", "PRSM_REF_REDIS_URL": "y",
             "PRSM_REF_JWT_SECRET": "s" * 32}


@pytest.mark.parametrize(("admins", "fragment"), [
    ("not json", "PRSM_REF_ADMINS is not valid JSON"),
    ('{"root": true}', "JSON list of usernames"),
    ('["nobody"]', "'nobody', which is not a user"),
])
def test_admin_settings_errors_name_the_variable_and_the_fix(admins, fragment):
    env = {**_BASE_ENV, "PRSM_REF_USERS": '{"root": "h"}', "PRSM_REF_ADMINS": admins}
    with pytest.raises(SettingsError, match=fragment):
        Settings.from_env(env)
    assert Settings.from_env({**env, "PRSM_REF_ADMINS": '["root"]'}).admins == {"root"}


def test_an_admin_unlock_lifts_a_lockout_and_says_whether_there_was_one():
    from reference_system.api.lockout import LoginGuard

    guard = LoginGuard(max_failures=2, lock_s=60)
    guard.failed("eve", now=0.0)
    guard.failed("eve", now=0.0)
    assert guard.retry_after("eve", now=1.0) > 0
    assert guard.clear("eve", now=1.0) is True
    assert guard.retry_after("eve", now=1.0) == 0 and guard.clear("eve", now=1.0) is False


def test_a_user_on_a_plan_has_a_bucket_of_their_own_and_others_are_not_limited():
    limiter = RateLimit(app=None, per_second=0, user_limits={"meter": (1.0, 2.0)},  # type: ignore[arg-type]
                        subject=lambda header: header.removeprefix("Bearer ") or None)

    def scope(token: str, client: str = "10.0.0.1") -> dict:
        return {"headers": [(b"authorization", f"Bearer {token}".encode())],
                "client": (client, 1)}

    key, limit = limiter._limit(scope("meter"))
    assert (key, limit) == ("user:meter", (1.0, 2.0))
    assert limiter._limit(scope("meter", "10.0.0.2"))[0] == key  # per user, not per address
    assert limiter._limit(scope("plain")) == ("client:10.0.0.1", None)  # no plan, no limit
    assert [limiter._take(key, 50.0, *limit) for _ in range(3)] == [0, 0, 1.0]


@pytest.mark.parametrize(("plans", "fragment"), [
    ("[1]", "PRSM_REF_PLANS: give"),
    ('{"m": {"per_second": 0, "users": ["alice"]}}', "PRSM_REF_PLANS.m: give"),
    ('{"m": {"per_second": 2, "burst": 0.5}}', "PRSM_REF_PLANS.m: give"),
    ('{"m": {"per_second": 2, "users": ["bob"]}}', "'bob', which is not a user"),
])
def test_plan_settings_errors_name_the_plan_and_the_fix(plans, fragment):
    env = {**_BASE_ENV, "PRSM_REF_USERS": '{"alice": "h"}', "PRSM_REF_PLANS": plans}
    with pytest.raises(SettingsError, match=fragment):
        Settings.from_env(env)
    good = '{"m": {"per_second": 2, "users": ["alice"]}}'
    assert Settings.from_env({**env, "PRSM_REF_PLANS": good}).user_rate_limits == {
        "alice": (2.0, 2.0)}


def test_the_document_declares_403_with_the_error_body_where_a_route_can_refuse_one():
    from reference_system.api import admin, ftns, routes
    from reference_system.api.app import create_app
    from reference_system.api.auth import current_admin

    app = create_app(_settings())
    paths = app.openapi()["paths"]
    can_refuse = {("POST", "/api/v1/ftns/transfer")}  # a source account not the caller's
    for route in (r for module in (admin, ftns, routes) for r in module.router.routes):
        if any(d.call is current_admin for d in route.dependant.dependencies):
            can_refuse |= {(m, route.path) for m in route.methods}
    assert {p for _, p in can_refuse} >= {"/api/admin/users", "/api/admin/lockouts/clear"}
    for method, path in can_refuse:
        refusal = paths[path][method.lower()]["responses"].get("403")
        assert refusal is not None, (method, path)
        assert refusal["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")

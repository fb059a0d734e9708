"""The security scenarios' helpers on their own: token variants, the sweep's judgement and
operations, the secrets canary."""

from __future__ import annotations

import os
from types import SimpleNamespace

import jwt

from prsm_validate.client.profiles import PROFILES
from prsm_validate.security import sweep
from prsm_validate.security.canary import find_secrets
from prsm_validate.security.tokens import VARIANTS, bad_tokens, claims_of

SECRET = "s" * 32


def _sign(claims):
    return jwt.encode(claims, SECRET, algorithm="HS256")


def _valid(token):
    try:
        jwt.decode(token, SECRET, algorithms=["HS256"], audience="api", issuer="me")
    except jwt.PyJWTError:
        return False
    return True


def test_each_variant_differs_from_a_good_token_and_is_refused_by_a_correct_verifier():
    import time

    good = _sign({"sub": "u", "iss": "me", "aud": "api", "iat": int(time.time()),
                  "exp": int(time.time()) + 60})
    assert _valid(good)
    for signer in (_sign, None):  # correctly signed variants, or the original signature kept
        tokens = bad_tokens(good, signer)
        assert set(tokens) == set(VARIANTS) and tokens["no-token"] is None
        for name, token in tokens.items():
            assert token is None or not _valid(token), name
    signed = bad_tokens(good, _sign)
    assert claims_of(signed["wrong-audience"])["aud"] == "another-service"
    assert claims_of(signed["expired"])["exp"] < time.time()


def test_only_a_401_with_a_bearer_challenge_passes():
    assert sweep.judge(401, "Bearer realm=x") is None
    assert "WWW-Authenticate" in sweep.judge(401, None)
    assert "got 200" in sweep.judge(200, "Bearer")


def test_operations_come_from_the_document_and_public_ones_from_the_profile():
    class Contract:
        document = {"paths": {"/health": {"get": {}}, "/api/memory/{key}": {"delete": {}},
                              "/api/x": {"parameters": [], "post": {}}}}

    ops = {op.name: op for op in sweep.operations(Contract(), PROFILES["reference"])}
    assert set(ops) == {"GET /health", "DELETE /api/memory/{key}", "POST /api/x"}
    assert ops["GET /health"].public and not ops["POST /api/x"].public
    assert ops["DELETE /api/memory/{key}"].url() == f"/api/memory/{sweep.PLACEHOLDER}"
    from_profile = sweep.operations(None, PROFILES["reference"])
    assert any(op.path == "/api/v1/ftns/transfer" for op in from_profile)


def test_the_canary_finds_a_secret_except_in_a_private_credentials_file(tmp_path):
    (tmp_path / "log.txt").write_text("user logged in with hunter2-hunter2\n")
    private = tmp_path / "credentials.json"
    private.write_text('{"password": "hunter2-hunter2"}')
    os.chmod(private, 0o600)
    hits = find_secrets([tmp_path], {"password": "hunter2-hunter2", "short": "abc"})
    assert [(os.path.basename(h.path), h.secret) for h in hits] == [("log.txt", "password")]
    os.chmod(private, 0o644)
    assert len(find_secrets([tmp_path], {"password": "hunter2-hunter2"})) == 2


def test_fuzz_failures_are_classed_security_first_then_server_errors_then_contract():
    from prsm_validate.security.fuzz import severity

    assert severity("JsonSchemaError: Response violates schema") == (2, "contract")
    assert severity("ServerError: 500; UndefinedStatusCode: 500")[1] == "availability"
    assert severity("IgnoredAuth: API accepts requests without authentication; "
                    "JsonSchemaError: x")[1] == "security"


def test_only_an_undeclared_400_is_tolerated():
    from prsm_validate.security.fuzz import _only_undeclared_400

    class UndefinedStatusCode(Exception):
        def __init__(self, status_code):
            self.status_code = status_code

    assert _only_undeclared_400(ExceptionGroup("g", [UndefinedStatusCode(400)]))
    assert not _only_undeclared_400(ExceptionGroup("g", [UndefinedStatusCode(500)]))
    assert not _only_undeclared_400(ExceptionGroup("g", [UndefinedStatusCode(400),
                                                         ValueError("schema")]))


def test_retry_after_is_read_as_seconds_or_an_http_date_and_nothing_else():
    from prsm_validate.security.ratelimit import retry_after_seconds

    assert retry_after_seconds("3") == 3.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == 10.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412490.0) == 0.0
    for bad in (None, "", "-1", "1.5", "soon", "Wed, 21 Oct 2015 07:28:00"):
        assert retry_after_seconds(bad) is None, bad


def test_a_burst_stops_at_the_first_refusal_or_at_its_bound():
    from types import SimpleNamespace

    from prsm_validate.security.ratelimit import burst

    statuses = iter([200, 200, 429, 200])
    seen = burst(lambda: SimpleNamespace(status=next(statuses)), 10, 5.0)
    assert (seen.served, seen.sent, seen.refused.status) == (2, 3, 429)
    unlimited = burst(lambda: SimpleNamespace(status=200), 7, 5.0)
    assert (unlimited.served, unlimited.sent, unlimited.refused) == (7, 7, None)
    assert unlimited.allowance(2.0, 4.0) == 4.0 + 2.0 * unlimited.elapsed_s


def test_the_profile_marks_admin_only_operations_in_the_document():
    document = {"paths": {"/api/admin/users": {"get": {}}, "/api/auth/me": {"get": {}}}}
    ops = {op.name: op for op in sweep.operations(SimpleNamespace(document=document),
                                                  PROFILES["reference"])}
    assert ops["GET /api/admin/users"].admin and not ops["GET /api/admin/users"].public
    assert not ops["GET /api/auth/me"].admin


def test_a_document_waiving_auth_does_not_make_an_operation_public():
    document = {"paths": {"/api/open": {"get": {"security": []}},
                          "/health": {"get": {"security": []}}}}
    ops = {op.name: op for op in sweep.operations(SimpleNamespace(document=document),
                                                  PROFILES["prime-spark"])}
    waived = ops["GET /api/open"]
    assert waived.waived and not waived.public  # still swept
    assert ops["GET /health"].public  # the profile's own public route
    assert "list it in the target's public_routes" in sweep.judge_operation(waived, 200, None)
    assert "public_routes" not in sweep.judge_operation(waived, 403, None)
    assert sweep.judge_operation(waived, 401, "Bearer") is None


def test_negative_data_rejection_is_judged_only_where_strict_input_is_declared():
    from prsm_validate.security.fuzz import all_checks, not_run

    strict = {c.__name__ for c in all_checks(strict=True)}
    lax = {c.__name__ for c in all_checks(strict=False)}
    assert "negative_data_rejection" in strict and "negative_data_rejection" not in lax
    assert strict - lax == {"negative_data_rejection"}
    assert not_run(False) == ["object_level_authorization", "negative_data_rejection"]

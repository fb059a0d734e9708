"""Hostile input (OWASP API8, targeted cases on top of the fuzzing): NaN, Infinity, 1e400, NUL,
control characters and lone UTF-16 surrogates (not encodable as UTF-8) in strings, object
keys and path parameters, 10,000-deep JSON, a chunked oversize body, and type coercion. On any
target none of these is a server error; where the target declares strict input (the
reference: ``strict_input``) each is refused with 422 before it reaches storage, and an
integer field takes neither ``"10"`` nor ``true``."""

from __future__ import annotations

import uuid

import httpx
import pytest

from prsm_validate import SecurityViolation, excerpt

pytestmark = [pytest.mark.security]
TIMEOUT_S = 5.0
NUMBERS = {"nan": "NaN", "infinity": "Infinity", "minus-infinity": "-Infinity",
           "overflow": "1e400"}
STRINGS = {"nul-in-value": '"a\\u0000b"', "nul-in-object-key": '{"a\\u0000b": 1}',
           "control-chars": '"\\u0001\\u001f\\u007f"',
           "lone-surrogate": '"a\\ud800b"', "lone-surrogate-key": '{"\\udfff": 1}'}


def _send(prsm_api, prsm_deployment, operation: str, content: str | bytes | None = None,
          **path: str) -> httpx.Response:
    route = prsm_api.api.route(operation)
    url = prsm_deployment.api_url + route.path.format(**path)
    headers = {"Authorization": f"Bearer {prsm_api.token}",
               "Content-Type": "application/json"}
    with httpx.Client(trust_env=False, timeout=TIMEOUT_S) as http:
        return http.request(route.method, url, content=content, headers=headers)


def _no_server_error(response: httpx.Response, case: str) -> None:
    if response.status_code >= 500:
        raise SecurityViolation(f"{case}: HTTP {response.status_code} (a server error on "
                                f"hostile input); body: {excerpt(response.text)}")


def _strict(prsm_deployment) -> bool:
    return "strict_input" in prsm_deployment.api_profile.features


def _expect_422(response: httpx.Response, case: str) -> None:
    if response.status_code != 422:
        raise SecurityViolation(f"{case}: expected HTTP 422, got {response.status_code}; "
                                f"body: {excerpt(response.text)}")


@pytest.mark.parametrize("case", [*NUMBERS, *STRINGS])
def test_non_finite_numbers_and_nul_in_a_body(prsm_api, prsm_deployment, case):
    literal = NUMBERS.get(case) or STRINGS[case]
    key = f"hostile-{uuid.uuid4().hex[:8]}"
    response = _send(prsm_api, prsm_deployment, "memory_set",
                     f'{{"key": "{key}", "value": {{"x": {literal}}}}}')
    _no_server_error(response, f"memory_set with {case} in the value")
    if response.is_success:  # accepted: reading it back must not break either
        _no_server_error(_send(prsm_api, prsm_deployment, "memory_get",
                               f'{{"key": "{key}"}}'), f"memory_get of a value with {case}")
    elif _strict(prsm_deployment) and case != "control-chars":
        _expect_422(response, f"memory_set with {case} in the value")


def test_nul_in_a_key_field_and_a_path_parameter(prsm_api, prsm_deployment):
    body = _send(prsm_api, prsm_deployment, "memory_set", '{"key": "a\\u0000b", "value": 1}')
    _no_server_error(body, "memory_set with NUL in the key")
    for raw in ("a%00b", "a%01b", "%7F"):
        path = _send(prsm_api, prsm_deployment, "memory_delete", key=raw)
        _no_server_error(path, f"memory_delete of key {raw!r}")
        task = _send(prsm_api, prsm_deployment, "task_status", task_id=raw)
        _no_server_error(task, f"task_status of id {raw!r}")
        if _strict(prsm_deployment):
            _expect_422(path, f"memory_delete of key {raw!r}")
    if _strict(prsm_deployment):
        _expect_422(body, "memory_set with NUL in the key")


def test_deeply_nested_json_is_refused_without_a_server_error(prsm_api, prsm_deployment):
    depth = 10_000
    nested = '{"key": "deep", "value": ' + "[" * depth + "]" * depth + "}"
    response = _send(prsm_api, prsm_deployment, "memory_set", nested)
    _no_server_error(response, f"memory_set with {depth}-deep JSON")


@pytest.mark.requires("body_limit_413")
def test_a_chunked_oversize_body_is_413(prsm_api, prsm_deployment):
    def chunks():
        yield b'{"key": "big", "value": "'
        for _ in range(32):
            yield b"x" * 65_536
        yield b'"}'

    route = prsm_api.api.route("memory_set")
    headers = {"Authorization": f"Bearer {prsm_api.token}",
               "Content-Type": "application/json"}
    with httpx.Client(trust_env=False, timeout=TIMEOUT_S) as http:
        response = http.post(prsm_deployment.api_url + route.path, content=chunks(),
                             headers=headers)
    assert "content-length" not in {k.lower() for k in response.request.headers}
    if response.status_code != 413:
        raise SecurityViolation(f"a chunked 2 MiB body (no Content-Length): expected HTTP "
                                f"413, got {response.status_code}; body: "
                                f"{excerpt(response.text)}")


@pytest.mark.requires("strict_input")
@pytest.mark.parametrize("value", ['"10"', "true", "10.5"], ids=["string", "bool", "float"])
def test_an_integer_field_takes_no_coerced_value(prsm_api, prsm_deployment, value):
    key = f"coerce-{uuid.uuid4().hex[:8]}"
    _expect_422(_send(prsm_api, prsm_deployment, "memory_set",
                      f'{{"key": "{key}", "value": 1, "ttl": {value}}}'),
                f"memory_set with ttl {value}")
    _expect_422(_send(prsm_api, prsm_deployment, "task_submit",
                      f'{{"type": "echo", "payload": {{}}, "priority": {value}}}'),
                f"task_submit with priority {value}")
    if prsm_api.api.supports("transfer"):
        user = prsm_deployment.credentials.username
        _expect_422(_send(prsm_api, prsm_deployment, "transfer",
                          f'{{"id": "{key}", "from": "{user}", "to": "{user}/{key}", '
                          f'"amount": {value}}}'), f"transfer with amount {value}")
        after = prsm_api.call("balance", account=f"{user}/{key}").expect(200).body["balance"]
        assert after == 0, (key, after)

"""Every error answer carries the stable code of its status (the reference contract's error
vocabulary: ``{"error": {"code", "message"}}``), whichever layer refused the request: the
token check, routing, validation, the ledger, the body size limit."""

from __future__ import annotations

import uuid

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.requires("error_codes")]
CODES = {401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
         409: "conflict", 413: "payload_too_large", 422: "validation_error"}


def _assert_code(status: int, body: object, why: str) -> None:
    assert isinstance(body, dict) and isinstance(body.get("error"), dict), (why, status, body)
    assert body["error"].get("code") == CODES[status], (why, status, body)
    assert body["error"].get("message"), (why, body)


def test_each_refusal_names_the_code_of_its_status(prsm_api, prsm_client):
    anonymous = prsm_client(login=False).call("me")
    assert anonymous.status == 401
    _assert_code(401, anonymous.body, "no token")
    for why, raw in (("unknown route", prsm_api.http.get("/api/no-such-route")),
                     ("wrong method", prsm_api.http.put("/api/memory/set", json={}))):
        assert raw.status_code in CODES, (why, raw.status_code)
        _assert_code(raw.status_code, raw.json(), why)
    missing = prsm_api.call("task_status", task_id=str(uuid.uuid4()))
    assert missing.status == 404
    _assert_code(404, missing.body, "unknown task")
    invalid = prsm_api.call("memory_set", {"value": 1})
    assert invalid.status == 422
    _assert_code(422, invalid.body, "missing key")
    oversize = prsm_api.call("memory_set", {"key": "big", "value": "x" * (2 << 20)})
    assert oversize.status == 413
    _assert_code(413, oversize.body, "oversize body")


@pytest.mark.requires("consensus")
def test_ledger_refusals_name_their_codes(prsm_api, prsm_deployment):
    user = prsm_deployment.credentials.username
    foreign = prsm_api.call("transfer", {"from": "treasury", "to": user, "amount": 1})
    assert foreign.status == 403
    _assert_code(403, foreign.body, "someone else's account")
    overdraft = prsm_api.call("transfer", {"from": f"{user}/empty-{uuid.uuid4().hex[:6]}",
                                           "to": user, "amount": 5})
    assert overdraft.status == 409
    _assert_code(409, overdraft.body, "more than the balance")

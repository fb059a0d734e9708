"""Idempotency and replay: a transfer id names one request of one user. Repeated as it was, it
answers the first outcome and is applied once (the balances say so); reused with a different
body, or by another user, it is refused (409 or 422), never reported as applied."""

from __future__ import annotations

import uuid

import pytest

from prsm_validate import SecurityViolation, excerpt

pytestmark = [pytest.mark.security]
CONFLICT = (409, 422)


def _balance(api, account: str) -> int:
    return int(api.call("balance", account=account).expect(200).body["balance"])


@pytest.fixture
def funded(prsm_api, prsm_deployment):
    """A fresh sub-account of user A holding 100, and a fresh destination."""
    if not prsm_api.api.supports("transfer"):
        pytest.skip(f"profile {prsm_api.profile} has no operation 'transfer'")
    owner, tag = prsm_deployment.credentials.username, uuid.uuid4().hex[:8]
    source, target = f"{owner}/replay-{tag}", f"{owner}/replay-{tag}-to"
    prsm_api.call("transfer", {"id": f"fund-{tag}", "from": owner, "to": source,
                               "amount": 100}).expect(200)
    return source, target


def _not_applied(response, what: str) -> None:
    if response.status not in CONFLICT:
        raise SecurityViolation(f"{what}: expected HTTP 409 or 422, got {response.status}; "
                                f"body: {excerpt(response.body)}")


def test_a_repeated_transfer_is_applied_once_with_the_same_answer(prsm_api, funded):
    source, target = funded
    op = {"id": f"rep-{uuid.uuid4().hex}", "from": source, "to": target, "amount": 7}
    first = prsm_api.call("transfer", op).expect(200)
    again = prsm_api.call("transfer", op).expect(200)
    assert again.body["id"] == first.body["id"] and again.body["amount"] == 7
    assert again.body.get("from_balance") == first.body.get("from_balance") == 93
    assert (_balance(prsm_api, source), _balance(prsm_api, target)) == (93, 7)


def test_a_transfer_id_reused_with_another_body_is_refused(prsm_api, funded):
    source, target = funded
    op = {"id": f"body-{uuid.uuid4().hex}", "from": source, "to": target, "amount": 5}
    prsm_api.call("transfer", op).expect(200)
    _not_applied(prsm_api.call("transfer", {**op, "amount": 50}),
                 f"transfer id {op['id']} reused with amount 50 (first: 5)")
    assert (_balance(prsm_api, source), _balance(prsm_api, target)) == (95, 5)


def test_a_transfer_id_reused_by_another_user_is_refused(prsm_api, prsm_second_api, funded,
                                                         prsm_deployment):
    source, target = funded
    op = {"id": f"user-{uuid.uuid4().hex}", "from": source, "to": target, "amount": 3}
    prsm_api.call("transfer", op).expect(200)
    other = prsm_deployment.second_credentials.username
    _not_applied(prsm_second_api.call("transfer", {"id": op["id"], "from": other,
                                                   "to": target, "amount": 3}),
                 f"user B reuses user A's transfer id {op['id']}")
    assert (_balance(prsm_api, source), _balance(prsm_api, target)) == (97, 3)

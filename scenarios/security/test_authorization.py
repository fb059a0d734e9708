"""Object-level authorization (OWASP API1, BOLA): user B cannot read, overwrite or delete what
user A created. Each attempt is refused (403 or 404) and A's resource is unchanged afterwards.
The local and docker targets have a second user; a remote target's entry names one as
``second_user: {username_env, password_env}`` (else these skip, saying so). Non-destructive:
only resources the test created are touched."""

from __future__ import annotations

import uuid

import pytest

from prsm_validate import SecurityViolation, excerpt, task_template

pytestmark = [pytest.mark.security]
REFUSED = (403, 404)


def _refused(response, what: str) -> None:
    if response.status not in REFUSED:
        raise SecurityViolation(f"{what}: expected HTTP 403 or 404, got {response.status}; "
                                f"body: {excerpt(response.body)}")


def test_another_user_cannot_read_overwrite_or_delete_a_memory_key(prsm_api, prsm_second_api):
    key, value = f"bola-{uuid.uuid4().hex[:12]}", {"owner": "a", "n": 1}
    prsm_api.call("memory_set", {"key": key, "value": value}).expect()
    _refused(prsm_second_api.call("memory_get", {"key": key}),
             f"user B reads user A's memory key {key!r}")
    _refused(prsm_second_api.call("memory_delete", key=key),
             f"user B deletes user A's memory key {key!r}")
    # B may write a key of the same name in its own space, never A's value.
    prsm_second_api.call("memory_set", {"key": key, "value": {"owner": "b"}})
    got = prsm_api.call("memory_get", {"key": key})
    if got.status != 200 or got.body["value"] != value:
        raise SecurityViolation(f"user A's memory key {key!r} changed after user B wrote and "
                                f"deleted it: HTTP {got.status}; body: {excerpt(got.body)}")


def test_another_user_cannot_see_or_cancel_a_task(prsm_api, prsm_second_api):
    template = task_template(prsm_api, "long")
    submitted = prsm_api.call("task_submit", template.body(seconds=5)).expect()
    task_id = submitted.body["task_id"]
    try:
        _refused(prsm_second_api.call("task_status", task_id=task_id),
                 f"user B reads user A's task {task_id}")
        _refused(prsm_second_api.call("task_cancel", task_id=task_id),
                 f"user B cancels user A's task {task_id}")
        status = prsm_api.call("task_status", task_id=task_id).expect(200).body["status"]
        if prsm_api.api.vocabulary.role_of(status) == "cancelled":
            raise SecurityViolation(f"user A's task {task_id} was cancelled by user B's call")
    finally:
        prsm_api.call("task_cancel", task_id=task_id)


def test_another_user_cannot_spend_from_an_account(prsm_api, prsm_second_api, prsm_deployment):
    if not prsm_api.api.supports("transfer"):
        pytest.skip(f"profile {prsm_api.profile} has no operation 'transfer'")
    owner = prsm_deployment.credentials.username
    account = f"{owner}/bola-{uuid.uuid4().hex[:8]}"
    prsm_api.call("transfer", {"id": f"fund-{uuid.uuid4().hex}", "from": owner,
                               "to": account, "amount": 50}).expect(200)
    thief = prsm_deployment.second_credentials.username
    response = prsm_second_api.call("transfer", {"id": f"steal-{uuid.uuid4().hex}",
                                                 "from": account, "to": thief, "amount": 10})
    if response.status != 403:
        raise SecurityViolation(f"user B spends from user A's account {account}: expected "
                                f"HTTP 403, got {response.status}; body: {excerpt(response.body)}")
    balance = prsm_api.call("balance", account=account).expect(200).body["balance"]
    assert balance == 50, (account, balance)

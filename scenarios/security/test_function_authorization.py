"""Function-level authorization (OWASP API5, BFLA): every operation the target's profile
declares admin-only refuses a plain user (403, or 404 where the contract hides the operation)
with an error body of the target's declared shape, and the refused call changed nothing. The
target's admin user is served. The local and docker targets have an admin user; a remote
target's entry names one as ``admin_user: {username_env, password_env}`` (else that part skips,
saying so). Skips with the reason when the profile declares no admin-only operation.
Non-destructive: the operations act only on names the test made up."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from prsm_validate import (
    ApiClient,
    ContractViolation,
    Response,
    SecurityViolation,
    error_body,
    excerpt,
)

pytestmark = [pytest.mark.security]
REFUSED = (403, 404)
LOCKOUT_FAILURES = 5  # the login_lockout feature's limit
PLACEHOLDER = "00000000-0000-4000-8000-000000000000"

Check = Callable[[], str | None]  # None: as expected, else the problem


@dataclass
class AdminCall:
    """One admin-only operation's request, and what tells whether it took effect."""

    operation: str
    body: dict | None = None
    unchanged: Check = lambda: None  # after a refused call
    applied: Callable[[Response], str | None] = lambda _: None  # after the admin's call


def _listing(api: ApiClient, plain_user: str) -> AdminCall:
    def applied(response: Response) -> str | None:
        names = [u.get("username") for u in response.body.get("users", [])
                 if isinstance(u, dict)]
        return None if plain_user in names else f"the user list lacks {plain_user!r}: {names}"

    return AdminCall("list_users", applied=applied)


def _unlock(api: ApiClient, make_client: Callable[..., ApiClient]) -> AdminCall:
    victim, anonymous = f"bfla-{uuid.uuid4().hex[:10]}", make_client()
    locking = "login_lockout" in api.api.features

    def login_status() -> int:
        return anonymous.call("login", {"username": victim, "password": "guess"}).status

    if locking:
        for _ in range(LOCKOUT_FAILURES):
            login_status()

    def unchanged() -> str | None:
        status = login_status() if locking else 429
        return None if status == 429 else f"{victim!r} is no longer locked out (login {status})"

    def applied(response: Response) -> str | None:
        if response.body.get("cleared") is not locking:
            return f"unlock of {victim!r} answered {excerpt(response.body)}"
        status = login_status()
        return None if status == 401 else f"{victim!r} still locked after unlock ({status})"

    return AdminCall("unlock_login", {"username": victim}, unchanged, applied)


def _calls(api: ApiClient, make_client: Callable[..., ApiClient], plain_user: str
           ) -> list[AdminCall]:
    """Every admin-only operation of the profile, each with its known effect check."""
    operations = api.api.admin_operations()
    if not operations:
        pytest.skip(f"profile {api.profile} declares no admin-only operation")
    known = {"list_users": lambda: _listing(api, plain_user),
             "unlock_login": lambda: _unlock(api, make_client)}
    return [known[op]() if op in known else AdminCall(op, {} if api.api.route(
        op).method in ("POST", "PUT", "PATCH") else None) for op in operations]


def _send(client: ApiClient, call: AdminCall) -> Response:
    params = {name: PLACEHOLDER for name in re.findall(r"\{(\w+)",
                                                      client.api.route(call.operation).path)}
    return client.call(call.operation, call.body, **params)


def test_a_plain_user_is_refused_every_admin_only_operation(prsm_api, prsm_client,
                                                            prsm_deployment):
    plain = prsm_deployment.credentials.username
    for call in _calls(prsm_api, prsm_client, plain):
        response = _send(prsm_api, call)
        if response.status not in REFUSED:
            raise SecurityViolation(
                f"plain user {plain!r} calls admin-only {call.operation}: expected HTTP 403 or "
                f"404, got {response.status}; body: {excerpt(response.body)}")
        error_body(response, prsm_api)
        problem = call.unchanged()
        if problem:
            raise SecurityViolation(f"plain user's refused {call.operation} changed state: "
                                    f"{problem}")


def test_the_admin_user_is_served_every_admin_only_operation(prsm_api, prsm_client,
                                                             prsm_deployment, request):
    calls = _calls(prsm_api, prsm_client, prsm_deployment.credentials.username)
    admin = request.getfixturevalue("prsm_admin_api")  # after: no admin operation, no admin
    for call in calls:
        response = _send(admin, call).expect()
        problem = call.applied(response)
        if problem:
            raise ContractViolation(f"admin's {call.operation} did not take effect: {problem}")

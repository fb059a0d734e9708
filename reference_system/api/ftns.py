"""FTNS ledger routes: transfers and balances, ordered through the PBFT cluster.

A user owns the account named like them and its sub-accounts ``<user>/<name>``; they may move
tokens out of those only. Transfers carry a client-chosen ``id``: the ledger applies an id at
most once, so retrying after an unknown outcome (503) is safe and exactly-once.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from pydantic import Field

from reference_system.api.auth import User
from reference_system.api.errors import COMMON, ApiError, declared
from reference_system.api.models import Integer, Strict
from reference_system.api.strict import CleanPath, StrictRoute

router = APIRouter(responses=declared(*COMMON, 401), route_class=StrictRoute)
ACCOUNT = r"^[A-Za-z0-9_.:\-]+(/[A-Za-z0-9_.:\-]+)?$"


class TransferRequest(Strict):
    """``{id?, from?, to, amount}``; ``from`` defaults to the caller's own account."""

    id: str | None = Field(default=None, min_length=1, max_length=128)
    source: str | None = Field(default=None, alias="from", pattern=ACCOUNT, max_length=128)
    to: str = Field(pattern=ACCOUNT, max_length=128)
    amount: Integer = Field(gt=0, le=10**15)


def owns(user: str, account: str) -> bool:
    """``user`` may spend from ``account``: their own, or one of their sub-accounts."""
    return account == user or account.startswith(user + "/")


@router.post("/api/v1/ftns/transfer", responses=declared(403, 409))
async def transfer(body: TransferRequest, user: User, request: Request) -> dict[str, Any]:
    """Move tokens; 403 when the source is not the caller's; 409 when it cannot pay or when
    the id was already used for another transfer (an id names one request: repeated as it
    was, it answers the first outcome)."""
    source = body.source or user
    if not owns(user, source):
        raise ApiError(403, f"user {user!r} may not spend from account {source!r}")
    transfer_id = body.id or str(uuid.uuid4())
    result = await request.app.state.ordering.submit(
        {"op": "transfer", "id": transfer_id, "from": source, "to": body.to,
         "amount": body.amount})
    if not result.get("ok"):
        conflict = result.get("error") == "insufficient funds" or result.get("conflict")
        raise ApiError(409 if conflict else 422,
                       f"transfer {transfer_id} rejected: {result.get('error')}")
    return {"id": transfer_id, "from": source, "to": body.to, "amount": body.amount,
            "status": "applied", "from_balance": result.get("from_balance"),
            "duplicate": bool(result.get("duplicate"))}


async def _balance(request: Request, account: str) -> int:
    result = await request.app.state.ordering.submit(
        {"op": "balance", "id": None, "account": account})
    return int(result["balance"])


# 404: an account name with a line break matches no route (the path converter stops there).
@router.get("/api/v1/ftns/balance/{account:path}", responses=declared(404))
async def balance_of(account: CleanPath, user: User, request: Request) -> dict[str, Any]:
    """Any account's balance (the ledger is public), read through consensus."""
    return {"account": account, "balance": await _balance(request, account)}


@router.get("/api/v1/ftns/balance")
async def own_balance(user: User, request: Request) -> dict[str, Any]:
    """The caller's balance in the prsm-platform shape (nothing is locked here)."""
    balance = await _balance(request, user)
    return {"user_id": user, "balance": balance, "locked_balance": 0,
            "available_balance": balance}

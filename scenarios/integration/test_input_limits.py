"""The reference contract's input limits hold exactly at their boundaries: a value at a limit
is accepted, the first value past it is refused with 422 naming the field; an omitted length
takes its documented default. The limits and defaults are the ones the README documents under
"Input limits" (reference profile only: another deployment states its own)."""

from __future__ import annotations

import uuid

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.requires("input_limits")]
LIMITS = {"account": 128, "transfer_id": 128, "amount": 10**15, "memory_key": 256,
          "ttl_s": 365 * 24 * 3600, "prompt": 32_000, "model": 128, "max_tokens": 2048,
          "temperature": 2.0, "priority": 10, "username": 128}
DEFAULT_TOKENS = {"generate": 64, "inference": 16}  # words answered when max_tokens is omitted


def _refused_naming(response, field: str) -> bool:
    if response.status != 422:
        return False
    details = response.body["error"].get("details") or []
    return any(field in map(str, d.get("loc", ())) for d in details)


def _check(api, operation: str, field: str, at_limit: dict, past_limit: dict,
           accepted: tuple[int, ...] = (200,)) -> None:
    ok = api.call(operation, at_limit)
    assert ok.status in accepted, (operation, field, "at the limit", ok.status, ok.body)
    refused = api.call(operation, past_limit)
    assert _refused_naming(refused, field), (operation, field, "past the limit",
                                             refused.status, refused.body)


def test_memory_limits(prsm_api):
    key = "k" * LIMITS["memory_key"]
    _check(prsm_api, "memory_set", "key", {"key": key, "value": 1},
           {"key": key + "k", "value": 1})
    _check(prsm_api, "memory_get", "key", {"key": key}, {"key": key + "k"})
    short = f"ttl-{uuid.uuid4().hex[:8]}"
    _check(prsm_api, "memory_set", "ttl", {"key": short, "value": 1, "ttl": LIMITS["ttl_s"]},
           {"key": short, "value": 1, "ttl": LIMITS["ttl_s"] + 1})


def test_generation_limits(prsm_api):
    _check(prsm_api, "generate", "prompt", {"prompt": "p" * LIMITS["prompt"], "max_tokens": 1},
           {"prompt": "p" * (LIMITS["prompt"] + 1), "max_tokens": 1})
    _check(prsm_api, "generate", "max_tokens", {"prompt": "x", "max_tokens": LIMITS["max_tokens"]},
           {"prompt": "x", "max_tokens": LIMITS["max_tokens"] + 1})
    _check(prsm_api, "generate", "temperature",
           {"prompt": "x", "max_tokens": 1, "temperature": LIMITS["temperature"]},
           {"prompt": "x", "max_tokens": 1, "temperature": LIMITS["temperature"] + 0.01})
    # Model names of 1 to 128 characters are judged by name (unknown: 404, the named model
    # does not exist; a well-formed body is not a validation error), longer ones are refused
    # as too long.
    short = prsm_api.call("generate", {"prompt": "x", "max_tokens": 1, "model": "m"})
    assert not _refused_naming(short, "model"), short.body
    _check(prsm_api, "generate", "model", {"prompt": "x", "max_tokens": 1, "model": "m" * 128},
           {"prompt": "x", "max_tokens": 1, "model": "m" * (LIMITS["model"] + 1)},
           accepted=(404,))


def test_task_priority_limit(prsm_api):
    _check(prsm_api, "task_submit", "priority",
           {"type": "echo", "payload": {}, "priority": LIMITS["priority"]},
           {"type": "echo", "payload": {}, "priority": LIMITS["priority"] + 1})


def test_login_username_limit(prsm_client):
    client = prsm_client(login=False)
    name = "u" * LIMITS["username"]
    _check(client, "login", "username", {"username": name, "password": "x"},
           {"username": name + "u", "password": "x"}, accepted=(401,))


@pytest.mark.requires("consensus")
def test_transfer_limits(prsm_api, prsm_deployment):
    user = prsm_deployment.credentials.username
    account = f"{user}/" + "a" * (LIMITS["account"] - len(user) - 1)
    # At the limit the transfer is valid; an empty source cannot pay it: 409, not 422.
    _check(prsm_api, "transfer", "from", {"from": account, "to": user, "amount": 1},
           {"from": account + "a", "to": user, "amount": 1}, accepted=(409,))
    _check(prsm_api, "transfer", "to", {"to": account, "amount": 1},
           {"to": account + "a", "amount": 1})
    tid = "t" * (LIMITS["transfer_id"] - 32) + uuid.uuid4().hex
    _check(prsm_api, "transfer", "id", {"id": tid, "to": f"{user}/lim", "amount": 1},
           {"id": tid + "t", "to": f"{user}/lim", "amount": 1})
    _check(prsm_api, "transfer", "amount",
           {"from": f"{user}/empty-{uuid.uuid4().hex[:6]}", "to": user,
            "amount": LIMITS["amount"]},
           {"to": f"{user}/lim", "amount": LIMITS["amount"] + 1}, accepted=(409,))


def test_omitted_lengths_take_their_defaults(prsm_api):
    for operation, words in DEFAULT_TOKENS.items():
        body = {"prompt": f"defaults {uuid.uuid4().hex[:6]}"}
        response = prsm_api.call(operation, body)
        assert response.status == 200, (operation, response.body)
        assert len(response.body["response"].split()) == words, (operation, response.body)

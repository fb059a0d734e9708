"""A compute task's result is checked against the work it claims: ``rounds`` applications of
sha256 to its input, computed here independently; more rounds than the documented cap
(1,000,000) run exactly the cap and say so. Reference contract (built-in task types)."""

from __future__ import annotations

import hashlib

import pytest

from prsm_validate import eventually

pytestmark = [pytest.mark.integration, pytest.mark.requires("task_compute")]
ROUNDS_CAP = 1_000_000


def _sha256_rounds(text: str, rounds: int) -> str:
    digest = text.encode()
    for _ in range(rounds):
        digest = hashlib.sha256(digest).digest()
    return digest.hex()


def _result(api, payload: dict) -> dict:
    submitted = api.call("task_submit", {"type": "compute", "payload": payload})
    assert submitted.status == 200, submitted.body
    task_id = submitted.body["task_id"]
    done = eventually(lambda: (b := api.call("task_status", task_id=task_id).body)
                      .get("status") in ("completed", "failed") and b, 60,
                      what=f"compute task {task_id} to finish")
    assert done["status"] == "completed", done
    return done["result"]


@pytest.mark.parametrize(("payload", "rounds"), [
    ({"input": "prsm", "rounds": 7}, 7),
    ({"input": "default rounds"}, 1000),
    ({"input": "capped", "rounds": ROUNDS_CAP + 1}, ROUNDS_CAP),
], ids=["seven", "default", "capped"])
def test_compute_result_is_the_claimed_sha256_chain(prsm_api, payload, rounds):
    result = _result(prsm_api, payload)
    assert result["rounds"] == rounds, result
    assert result["digest"] == _sha256_rounds(payload["input"], rounds), result


PYTHON_INTERNALS = ("Traceback (most recent call last)", "invalid literal for int()",
                    "could not convert string to float", "object has no attribute",
                    'File "/')


def test_a_task_that_fails_does_not_show_the_servers_exception_text(prsm_api):
    submitted = prsm_api.call("task_submit", {"type": "compute",
                                              "payload": {"input": "x", "rounds": "many"}})
    if submitted.status != 200:  # refused up front: nothing ran, nothing to leak
        assert 400 <= submitted.status < 500, submitted.body
        return
    task_id = submitted.body["task_id"]
    done = eventually(lambda: (b := prsm_api.call("task_status", task_id=task_id).body)
                      .get("status") in ("completed", "failed") and b, 60,
                      what=f"compute task {task_id} to finish")
    leaked = [text for text in PYTHON_INTERNALS if text in str(done)]
    assert not leaked, f"the task's status shows the server's exception text {leaked}: {done}"

"""Tasks: submit, status until done, cancel, and the errors around them."""

from __future__ import annotations

import time
import uuid

import pytest

pytestmark = pytest.mark.integration


def _wait_status(api, task_id: str, wanted: set[str], timeout_s: float = 15.0) -> dict:
    deadline = time.monotonic() + timeout_s
    body: dict = {}
    while time.monotonic() < deadline:
        body = api.call("task_status", task_id=task_id).body
        if body.get("status") in wanted:
            return body
        time.sleep(0.05)
    pytest.fail(f"task {task_id} not {wanted} within {timeout_s}s: {body}", pytrace=False)


def test_submitted_task_completes_with_its_result(prsm_api):
    submitted = prsm_api.call("task_submit", {"type": "echo", "payload": {"n": 42}})
    assert submitted.status == 200 and submitted.body["status"] == "queued"
    done = _wait_status(prsm_api, submitted.body["task_id"], {"completed", "failed"})
    assert done["status"] == "completed" and done["result"] == {"n": 42}


def test_compute_task_result_is_deterministic(prsm_api):
    ids = [prsm_api.call("task_submit", {"type": "compute",
                                         "payload": {"input": "x", "rounds": 10}}).body["task_id"]
           for _ in range(2)]
    results = [_wait_status(prsm_api, i, {"completed"})["result"] for i in ids]
    assert results[0] == results[1] and len(results[0]["digest"]) == 64


def test_running_task_can_be_cancelled(prsm_api):
    task_id = prsm_api.call("task_submit", {"type": "sleep",
                                            "payload": {"seconds": 30}}).body["task_id"]
    cancelled = prsm_api.call("task_cancel", task_id=task_id)
    assert cancelled.status == 200 and cancelled.body["status"] == "cancelled"
    assert prsm_api.call("task_status", task_id=task_id).body["status"] == "cancelled"


def test_finished_task_cannot_be_cancelled(prsm_api):
    task_id = prsm_api.call("task_submit", {"type": "echo", "payload": {}}).body["task_id"]
    _wait_status(prsm_api, task_id, {"completed"})
    assert prsm_api.call("task_cancel", task_id=task_id).status == 409


def test_unknown_task_is_404(prsm_api):
    assert prsm_api.call("task_status", task_id=str(uuid.uuid4())).status == 404
    assert prsm_api.call("task_status", task_id="not-a-uuid").status == 404


def test_unknown_task_type_is_422(prsm_api):
    assert prsm_api.call("task_submit", {"type": "mine-bitcoin", "payload": {}}).status == 422


def test_higher_priority_runs_first_when_queued_together(prsm_api):
    blockers = [prsm_api.call("task_submit", {"type": "sleep", "payload": {"seconds": 0.5}})
                .body["task_id"] for _ in range(4)]
    low = prsm_api.call("task_submit", {"type": "echo", "payload": {}, "priority": 0})
    high = prsm_api.call("task_submit", {"type": "echo", "payload": {}, "priority": 9})
    done_low = _wait_status(prsm_api, low.body["task_id"], {"completed"})
    done_high = _wait_status(prsm_api, high.body["task_id"], {"completed"})
    assert done_high["updated_at"] <= done_low["updated_at"]
    for task_id in blockers:
        _wait_status(prsm_api, task_id, {"completed"})

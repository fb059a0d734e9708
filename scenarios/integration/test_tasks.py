"""Tasks: submit, status until done, cancel, and the errors around them.

Status names, priority values and task types come from the target's vocabulary (its profile,
or ``vocabulary:`` in its targets-file entry); expectations only the reference system meets
(an echo task, a compute task, timestamps) are features the scenario requires.
"""

from __future__ import annotations

import time
import uuid

import pytest

from prsm_validate import ContractViolation, excerpt, task_status, task_template, wait_task

pytestmark = pytest.mark.integration


def _submit(api, body) -> str:
    submitted = api.call("task_submit", body).expect(200, 201, 202).body
    role = api.api.vocabulary.role_of(submitted["status"])
    if role not in ("queued", "running", "done"):
        raise ContractViolation(f"task_submit: new task's status {submitted['status']!r} is "
                                f"not queued/running/done in the vocabulary; body: "
                                f"{excerpt(submitted)}")
    return submitted["task_id"]


def test_submitted_task_completes(prsm_api):
    task_id = _submit(prsm_api, task_template(prsm_api, "quick").body())
    done = wait_task(prsm_api, task_id, {"done", "failed"})
    assert prsm_api.api.vocabulary.role_of(done["status"]) == "done", done


@pytest.mark.requires("task_echo")
def test_echo_task_result_is_its_payload(prsm_api):
    task_id = _submit(prsm_api, {"type": "echo", "payload": {"n": 42}})
    done = wait_task(prsm_api, task_id, {"done"})
    assert done["result"] == {"n": 42}


@pytest.mark.requires("task_compute")
def test_compute_task_result_is_deterministic(prsm_api):
    ids = [_submit(prsm_api, {"type": "compute", "payload": {"input": "x", "rounds": 10}})
           for _ in range(2)]
    results = [wait_task(prsm_api, i, {"done"})["result"] for i in ids]
    assert results[0] == results[1] and len(results[0]["digest"]) == 64


def test_running_task_can_be_cancelled(prsm_api):
    task_id = _submit(prsm_api, task_template(prsm_api, "long").body(seconds=30))
    wait_task(prsm_api, task_id, {"running"}, timeout_s=10)
    cancelled = prsm_api.call("task_cancel", task_id=task_id).expect(200, 202, 204)
    if cancelled.status != 204:
        assert prsm_api.api.vocabulary.role_of(cancelled.body["status"]) == "cancelled", \
            cancelled.body
    wait_task(prsm_api, task_id, {"cancelled"}, timeout_s=5)


def test_finished_task_cannot_be_cancelled(prsm_api):
    task_id = _submit(prsm_api, task_template(prsm_api, "quick").body())
    wait_task(prsm_api, task_id, {"done"})
    answer = prsm_api.call("task_cancel", task_id=task_id)
    assert 400 <= answer.status < 500, (f"cancelling a finished task answered HTTP "
                                        f"{answer.status}: {excerpt(answer.body)}")
    assert prsm_api.api.vocabulary.role_of(task_status(prsm_api, task_id)["status"]) == "done"


def test_unknown_task_is_404(prsm_api):
    prsm_api.call("task_status", task_id=str(uuid.uuid4())).expect(404)
    prsm_api.call("task_status", task_id="not-a-uuid").expect(404, 422)


def test_unknown_task_type_is_refused(prsm_api):
    prsm_api.call("task_submit", {"type": f"no-such-type-{uuid.uuid4().hex[:6]}",
                                  "payload": {}}).expect(400, 422)


def _first_done(api, task_ids: list[str], timeout_s: float = 20.0) -> dict[str, float]:
    """When each task was first seen done (polled together, every 20 ms)."""
    seen: dict[str, float] = {}
    deadline = time.monotonic() + timeout_s
    while len(seen) < len(task_ids) and time.monotonic() < deadline:
        for task_id in task_ids:
            if task_id not in seen and api.api.vocabulary.role_of(
                    task_status(api, task_id)["status"]) == "done":
                seen[task_id] = time.monotonic()
        time.sleep(0.02)
    missing = [t for t in task_ids if t not in seen]
    if missing:
        raise ContractViolation(f"tasks {missing} not done within {timeout_s:g} s")
    return seen


def test_higher_priority_runs_first_when_queued_together(prsm_api):
    vocab = prsm_api.api.vocabulary
    long, quick = task_template(prsm_api, "long"), task_template(prsm_api, "quick")
    blockers = [_submit(prsm_api, long.body(seconds=0.5)) for _ in range(4)]
    low = _submit(prsm_api, quick.body(priority=vocab.priority_low))
    high = _submit(prsm_api, quick.body(priority=vocab.priority_high))
    done = _first_done(prsm_api, [low, high, *blockers])
    if "task_timestamps" in prsm_api.api.features:  # the target's own clock: exact order
        low_at, high_at = (task_status(prsm_api, t)["updated_at"] for t in (low, high))
        assert high_at <= low_at, f"the high-priority task finished at {high_at}, the low one "\
                                  f"at {low_at}"
        return
    assert done[high] <= done[low] + 0.05, (
        f"the high-priority task finished {done[high] - done[low]:.2f} s after the low one")

"""Worker failover (edge roadmap Task 2.3 scenario 3; Phase 0: automatic recovery from 1-node
failures): the worker a task was assigned to is killed while it runs; the task must complete
on a surviving worker within a stated bound, never be lost, and never run twice.

"Never run twice" is judged from outside, by polling the task: once done it stays done with
the same result and worker (no second execution overwrites it), the worker that completed it
is not the killed one, and its attempts (when the target reports them) are at most two.
"""

from __future__ import annotations

import json
import time

import pytest

from prsm_validate import SafetyViolation, excerpt, task_status, task_template, wait_task

pytestmark = [pytest.mark.integration, pytest.mark.chaos,
              pytest.mark.requires("kill", "task_workers")]
TASK_S, BOUND_S, SETTLE_S = 3.0, 20.0, 1.0


def _running_on_a_worker(api, control, task_id: str) -> str:
    body = wait_task(api, task_id, {"running"}, timeout_s=10)
    worker = body["worker"]
    if worker not in control.components():
        pytest.skip(f"task {task_id} runs on {worker!r}, which the target's control does not "
                    f"declare (declared: {control.components()})")
    return worker


def test_task_completes_on_a_surviving_worker_when_its_worker_is_killed(
        prsm_api, prsm_control, prsm_nemesis, record_property):
    vocab = prsm_api.api.vocabulary
    long = task_template(prsm_api, "long")
    task_id = prsm_api.call("task_submit", long.body(seconds=TASK_S)).expect().body["task_id"]
    killed = _running_on_a_worker(prsm_api, prsm_control, task_id)
    prsm_nemesis.kill(killed)
    started = time.monotonic()
    deadline, body = started + BOUND_S, {}
    while time.monotonic() < deadline:
        body = task_status(prsm_api, task_id)
        if vocab.role_of(body["status"]) in ("done", "failed", "cancelled"):
            break
        time.sleep(0.1)
    took = time.monotonic() - started
    record_property("failover", {"task": task_id, "killed": killed, "seconds": round(took, 2),
                                 "final": json.loads(json.dumps(body))})  # plain, for xdist
    role = vocab.role_of(body.get("status"))
    if role is None or role in ("queued", "running"):
        raise SafetyViolation(f"task {task_id} lost: still {body.get('status')} on "
                              f"{body.get('worker')} ({killed} killed) after {BOUND_S:g} s")
    assert role == "done", f"task {task_id} ended {body['status']} after its worker died"
    assert body["worker"] != killed, f"task {task_id} reported done by the killed {killed}"
    time.sleep(SETTLE_S)
    again = task_status(prsm_api, task_id)
    if (again["status"], again.get("result"), again["worker"]) != (
            body["status"], body.get("result"), body["worker"]):
        raise SafetyViolation(f"task {task_id} ran twice: done as {excerpt(body)}, then "
                              f"{excerpt(again)}")
    attempts = again.get("attempts")
    if isinstance(attempts, int) and attempts > 2:
        raise SafetyViolation(f"task {task_id} was started {attempts} times for one kill")

"""Batching: the primary turns queued requests into PRE-PREPAREs while the window allows.

Batching by size and time: with nothing in flight a request is proposed at once (an idle
cluster's latency); while a batch is in flight, a batch short of ``max_batch`` waits up to
``batch_delay`` for more requests (the ``batch`` timer), and at most ``max_inflight`` batches
are outstanding, so batches grow with load and stay single requests when idle.
"""

from __future__ import annotations

from reference_system.consensus.events import Broadcast, SetTimer
from reference_system.consensus.messages import PrePrepare, Request, batch_digest
from reference_system.consensus.state import BATCH_TIMER, ReplicaState


def propose(r: ReplicaState) -> None:
    """Primary: turn queued requests into pre-prepares while the window allows."""
    if not r.is_primary:
        return
    log, params = r.log, r.params
    limit = r.checkpoints.stable_seq + params.window
    while (log.queue and log.next_seq < limit
           and log.next_seq - log.last_executed < params.max_inflight):
        if _batch_should_wait(r):
            if not log.batch_timer_armed:
                log.batch_timer_armed = True
                r.emit(SetTimer(BATCH_TIMER, params.batch_delay))
            return
        batch = _take_batch(r)
        if batch:
            _pre_prepare(r, tuple(batch))


def on_batch_timer(r: ReplicaState) -> None:
    """The batch timer fired: propose what is queued, full batch or not."""
    r.log.batch_timer_armed, r.log.batch_due = False, True
    propose(r)
    r.log.batch_due = False


def _batch_should_wait(r: ReplicaState) -> bool:
    log = r.log
    return (r.params.batch_delay > 0 and not log.batch_due
            and log.next_seq > log.last_executed
            and len(log.queue) < r.params.max_batch)


def _take_batch(r: ReplicaState) -> list[Request]:
    queue = r.log.queue
    batch: list[Request] = []
    while queue and len(batch) < r.params.max_batch:
        request = queue.pop(next(iter(queue)))
        if not r.executed_already(request):
            batch.append(request)
    return batch


def _pre_prepare(r: ReplicaState, batch: tuple[Request, ...]) -> None:
    log = r.log
    log.next_seq += 1
    pp = r.sign(PrePrepare(r.views.view, log.next_seq, batch_digest(batch), r.id, batch))
    r.slot(r.views.view, pp.seq).pre_prepare = pp
    for request in batch:
        log.in_progress[request.key] = request
    r.emit(Broadcast(pp))

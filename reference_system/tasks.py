"""Task queue (PostgreSQL-backed), executed by workers: ``prsm-ref worker`` processes (the
local and docker targets run two) or asyncio loops inside the API (``PRSM_REF_TASK_WORKERS``).

Submission is durable before it is acknowledged. A worker claims the highest-priority, oldest
queued task with ``FOR UPDATE SKIP LOCKED`` under a lease it renews while the task runs; a task
whose lease ran out (its worker died) is claimed again by a surviving worker. Each claim counts
an attempt, and only the holder of the current attempt can finish the task, so a task is never
completed twice. The status names the worker and the attempts. When a consensus cluster is
configured, the API first orders the submission through it (the cluster's task queue fixes its
position and assigned worker, the same on every replica) and stores that assignment with the
task.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

log = logging.getLogger("prsm.tasks")

TASK_TYPES = ("echo", "compute", "sleep", "inference")
MAX_SLEEP_S = 30.0
SCHEMA = """
CREATE TABLE IF NOT EXISTS tasks (
    id         uuid PRIMARY KEY,
    owner      text NOT NULL,
    type       text NOT NULL,
    payload    jsonb NOT NULL,
    priority   int NOT NULL DEFAULT 0,
    status     text NOT NULL,
    result     jsonb,
    error      text,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
ALTER TABLE tasks ADD COLUMN IF NOT EXISTS assignment jsonb;
ALTER TABLE tasks ADD COLUMN IF NOT EXISTS worker text;
ALTER TABLE tasks ADD COLUMN IF NOT EXISTS attempts int NOT NULL DEFAULT 0;
ALTER TABLE tasks ADD COLUMN IF NOT EXISTS lease_until timestamptz;
CREATE INDEX IF NOT EXISTS tasks_queued ON tasks (priority DESC, created_at) WHERE status = 'queued'
"""
FINAL = ("completed", "failed", "cancelled")
LEASE_S = 2.0  # a running task whose worker stops renewing for this long is claimed again
RENEW_S = 0.4
Executor = Callable[[str, dict[str, Any]], Awaitable[Any]]


CHANNEL = "prsm_tasks"


async def listen_for_submissions(dsn: str, queue: TaskQueue) -> None:
    """Wake ``queue``'s loops on every submission (``NOTIFY prsm_tasks``), reconnecting."""
    import psycopg

    while True:
        try:
            async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
                await conn.execute(f"LISTEN {CHANNEL}")
                async for _ in conn.notifies():
                    queue.wake()
        except Exception as exc:  # database away: the loops still poll every 0.5 s
            log.warning("task listener: %s", type(exc).__name__)
            await asyncio.sleep(0.5)


def default_worker_name() -> str:
    """``host:pid``: unique per worker process."""
    return f"{socket.gethostname()}:{os.getpid()}"


class TaskQueue:
    """Durable submissions, worker execution and cancellation."""

    def __init__(self, pool: AsyncConnectionPool, execute: Executor, workers: int = 2,
                 name: str | None = None) -> None:
        self.pool = pool
        self.execute = execute
        self.workers = workers
        self.name = name or default_worker_name()
        self._wake = asyncio.Event()
        self._running: dict[str, asyncio.Task[Any]] = {}
        self._loops: list[asyncio.Task[None]] = []

    def wake(self) -> None:
        """A task was submitted elsewhere: look for it now."""
        self._wake.set()

    def start(self) -> None:
        """Start the worker loops."""
        self._loops = [asyncio.create_task(self._work()) for _ in range(self.workers)]

    async def stop(self) -> None:
        """Stop the workers; tasks in flight return to the queue on the next start."""
        for loop in self._loops:
            loop.cancel()
        for loop in self._loops:
            with contextlib.suppress(asyncio.CancelledError):
                await loop

    async def submit(self, owner: str, type_: str, payload: dict[str, Any], priority: int,
                     task_id: str | None = None, assignment: dict[str, Any] | None = None
                     ) -> str:
        """Store a queued task (with its consensus ``assignment``, if any); returns its id."""
        task_id = task_id or str(uuid.uuid4())
        async with self.pool.connection() as conn:
            await conn.execute(
                "INSERT INTO tasks (id, owner, type, payload, priority, status, assignment) "
                "VALUES (%s, %s, %s, %s, %s, 'queued', %s)",
                (task_id, owner, type_, Jsonb(payload), priority,
                 None if assignment is None else Jsonb(assignment)))
            await conn.execute(f"NOTIFY {CHANNEL}")  # wakes the worker processes
        self._wake.set()
        return task_id

    async def get(self, owner: str, task_id: str) -> dict[str, Any] | None:
        """The task as a dict, or None if absent or owned by someone else."""
        async with self.pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(
                "SELECT id::text AS task_id, type, status, priority, payload, result, error, "
                "assignment, worker, attempts, created_at, updated_at FROM tasks "
                "WHERE id = %s AND owner = %s",
                (task_id, owner))
            row = await cur.fetchone()
        if row is None:
            return None
        row["created_at"] = row["created_at"].isoformat()
        row["updated_at"] = row["updated_at"].isoformat()
        return row

    async def cancel(self, owner: str, task_id: str) -> str | None:
        """Cancel a queued or running task: returns the resulting status, None if absent."""
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "UPDATE tasks SET status = 'cancelled', updated_at = clock_timestamp() "
                "WHERE id = %s AND owner = %s AND status IN ('queued', 'running') "
                "RETURNING status", (task_id, owner))
            row = await cur.fetchone()
            if row is None:
                cur = await conn.execute(
                    "SELECT status FROM tasks WHERE id = %s AND owner = %s", (task_id, owner))
                row = await cur.fetchone()
                return None if row is None else str(row[0])
        running = self._running.get(task_id)
        if running is not None:
            running.cancel()
        return "cancelled"

    async def counts(self) -> dict[str, int]:
        """Number of tasks per status."""
        async with self.pool.connection() as conn:
            cur = await conn.execute("SELECT status, count(*) FROM tasks GROUP BY status")
            return {status: int(n) for status, n in await cur.fetchall()}

    async def _work(self) -> None:
        while True:
            claimed = await self._claim()
            if claimed is None:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=0.5)
                continue
            await self._run(*claimed)

    async def _claim(self) -> tuple[str, str, dict[str, Any], int] | None:
        try:
            async with self.pool.connection() as conn:
                cur = await conn.execute(
                    "UPDATE tasks SET status = 'running', worker = %s, attempts = attempts + 1, "
                    "lease_until = clock_timestamp() + make_interval(secs => %s), "
                    "updated_at = clock_timestamp() "
                    "WHERE id = (SELECT id FROM tasks WHERE status = 'queued' OR (status = "
                    "'running' AND lease_until < clock_timestamp()) "
                    "ORDER BY priority DESC, created_at LIMIT 1 FOR UPDATE SKIP LOCKED) "
                    "RETURNING id::text, type, payload, attempts", (self.name, LEASE_S))
                row = await cur.fetchone()
        except Exception as exc:  # database down: back off, the API's health reports it
            log.warning("task claim failed: %s", type(exc).__name__)
            await asyncio.sleep(0.5)
            return None
        return None if row is None else (row[0], row[1], row[2], row[3])

    async def _run(self, task_id: str, type_: str, payload: dict[str, Any], attempt: int
                   ) -> None:
        job = asyncio.create_task(self.execute(type_, payload))
        self._running[task_id] = job
        renew = asyncio.create_task(self._renew(task_id, attempt, job))
        try:
            result = await job
            await self._finish(task_id, attempt, "completed", result, None)
        except asyncio.CancelledError:
            if not job.cancelled():
                raise
        except Exception:
            log.exception("task %s (%s) failed", task_id, type_)  # the detail stays in the log
            await self._finish(task_id, attempt, "failed", None, public_error(type_))
        finally:
            renew.cancel()
            self._running.pop(task_id, None)

    async def _renew(self, task_id: str, attempt: int, job: asyncio.Task[Any]) -> None:
        """Keep the lease while the task runs; stop the job when the task was cancelled or
        taken over (its attempt is no longer ours)."""
        while not job.done():
            await asyncio.sleep(RENEW_S)
            try:
                async with self.pool.connection() as conn:
                    cur = await conn.execute(
                        "UPDATE tasks SET lease_until = clock_timestamp() + make_interval("
                        "secs => %s) WHERE id = %s AND worker = %s AND attempts = %s "
                        "AND status = 'running'", (LEASE_S, task_id, self.name, attempt))
            except Exception as exc:  # keep running: the lease decides, not one failed renewal
                log.warning("lease renewal failed: %s", type(exc).__name__)
                continue
            if cur.rowcount == 0:
                job.cancel()
                return

    async def _finish(self, task_id: str, attempt: int, status: str, result: Any,
                      error: str | None) -> None:
        async with self.pool.connection() as conn:
            await conn.execute(
                "UPDATE tasks SET status = %s, result = %s, error = %s, lease_until = NULL, "
                "updated_at = clock_timestamp() WHERE id = %s AND status = 'running' "
                "AND worker = %s AND attempts = %s",
                (status, Jsonb(result), error, task_id, self.name, attempt))


async def execute_builtin(type_: str, payload: dict[str, Any]) -> Any:
    """The built-in task types: echo, compute (sha256 rounds), sleep (bounded), inference."""
    if type_ == "inference":
        from reference_system import llm

        gen = llm.builtin_generate(str(payload.get("prompt", "")), "prsm-tiny",
                                   int(payload.get("max_tokens", 32)), 0.0)
        return {"response": gen.text, "model": gen.model}
    if type_ == "echo":
        return payload
    if type_ == "compute":  # in a thread: the event loop (lease renewal, requests) goes on
        return await asyncio.to_thread(_compute, payload)
    if type_ == "sleep":
        seconds = min(float(payload.get("seconds", 1.0)), MAX_SLEEP_S)
        await asyncio.sleep(seconds)
        return {"slept_s": seconds}
    raise ValueError(f"task type {type_!r} has no executor")


def _compute(payload: dict[str, Any]) -> dict[str, Any]:
    """``rounds`` (capped at 1,000,000) applications of sha256 to ``input``."""
    rounds = min(int(payload.get("rounds", 1000)), 1_000_000)
    digest = str(payload.get("input", "")).encode()
    for _ in range(rounds):
        digest = hashlib.sha256(digest).digest()
    return {"rounds": rounds, "digest": digest.hex()}


def public_error(type_: str) -> str:
    """What a failed task's status says: the task type and where to look, never the
    exception's text (it can carry internals: values, paths, queries)."""
    return (f"task of type {type_!r} failed: its payload does not fit the type or it could not "
            "run; the worker's log has the detail")

"""Task queue (local, PostgreSQL-backed) with a small pool of asyncio workers.

Submission is durable before it is acknowledged. Workers claim the highest-priority, oldest
queued task with ``FOR UPDATE SKIP LOCKED``. When a consensus cluster is configured, the API
first orders the submission through it (the cluster's task queue fixes its position and
assigned worker, the same on every replica) and stores that assignment with the task.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
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
CREATE INDEX IF NOT EXISTS tasks_queued ON tasks (priority DESC, created_at) WHERE status = 'queued'
"""
FINAL = ("completed", "failed", "cancelled")
Executor = Callable[[str, dict[str, Any]], Awaitable[Any]]


class TaskQueue:
    """Durable submissions, worker execution and cancellation."""

    def __init__(self, pool: AsyncConnectionPool, execute: Executor, workers: int = 2) -> None:
        self.pool = pool
        self.execute = execute
        self.workers = workers
        self._wake = asyncio.Event()
        self._running: dict[str, asyncio.Task[Any]] = {}
        self._loops: list[asyncio.Task[None]] = []

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
        self._wake.set()
        return task_id

    async def get(self, owner: str, task_id: str) -> dict[str, Any] | None:
        """The task as a dict, or None if absent or owned by someone else."""
        async with self.pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(
                "SELECT id::text AS task_id, type, status, priority, payload, result, error, "
                "assignment, created_at, updated_at FROM tasks WHERE id = %s AND owner = %s",
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

    async def _claim(self) -> tuple[str, str, dict[str, Any]] | None:
        try:
            async with self.pool.connection() as conn:
                cur = await conn.execute(
                    "UPDATE tasks SET status = 'running', updated_at = clock_timestamp() "
                    "WHERE id = (SELECT id FROM tasks WHERE status = 'queued' "
                    "ORDER BY priority DESC, created_at LIMIT 1 FOR UPDATE SKIP LOCKED) "
                    "RETURNING id::text, type, payload")
                row = await cur.fetchone()
        except Exception as exc:  # database down: back off, the API's health reports it
            log.warning("task claim failed: %s", type(exc).__name__)
            await asyncio.sleep(0.5)
            return None
        return None if row is None else (row[0], row[1], row[2])

    async def _run(self, task_id: str, type_: str, payload: dict[str, Any]) -> None:
        job = asyncio.create_task(self.execute(type_, payload))
        self._running[task_id] = job
        try:
            result = await job
            await self._finish(task_id, "completed", result, None)
        except asyncio.CancelledError:
            if not job.cancelled():
                raise
        except Exception as exc:
            await self._finish(task_id, "failed", None, f"{type(exc).__name__}: {exc}")
        finally:
            self._running.pop(task_id, None)

    async def _finish(self, task_id: str, status: str, result: Any, error: str | None) -> None:
        async with self.pool.connection() as conn:
            await conn.execute(
                "UPDATE tasks SET status = %s, result = %s, error = %s, "
                "updated_at = clock_timestamp() WHERE id = %s AND status = 'running'",
                (status, Jsonb(result), error, task_id))


async def execute_builtin(type_: str, payload: dict[str, Any]) -> Any:
    """The built-in task types: echo, compute (sha256 rounds), sleep (bounded)."""
    if type_ == "echo":
        return payload
    if type_ == "compute":
        rounds = min(int(payload.get("rounds", 1000)), 1_000_000)
        digest = str(payload.get("input", "")).encode()
        for _ in range(rounds):
            digest = hashlib.sha256(digest).digest()
        return {"rounds": rounds, "digest": digest.hex()}
    if type_ == "sleep":
        seconds = min(float(payload.get("seconds", 1.0)), MAX_SLEEP_S)
        await asyncio.sleep(seconds)
        return {"slept_s": seconds}
    raise ValueError(f"task type {type_!r} has no executor")

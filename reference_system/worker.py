"""The task worker process (``prsm-ref worker``): claims tasks from PostgreSQL under a lease
and runs them (see :mod:`reference_system.tasks`); ``/health`` and ``/stats`` over HTTP.

Several workers share the queue; a killed worker's running task is taken over by another once
its lease runs out. A ``NOTIFY`` on submission wakes the workers at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from psycopg_pool import AsyncConnectionPool

from reference_system import tasks
from reference_system.httpd import MiniHttp, json_reply
from reference_system.telemetry import SCHEMA_LOCK  # the one lock every schema change takes

log = logging.getLogger("prsm.worker")


async def run(postgres_dsn: str, name: str, loops: int, host: str, port: int) -> None:
    """Work until SIGINT/SIGTERM."""
    pool = AsyncConnectionPool(postgres_dsn, min_size=1, max_size=loops + 2, open=False)
    await pool.open(wait=True, timeout=30)
    async with pool.connection() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
        await conn.execute(tasks.SCHEMA)
    queue = tasks.TaskQueue(pool, tasks.execute_builtin, loops, name)
    queue.start()
    listener = asyncio.create_task(tasks.listen_for_submissions(postgres_dsn, queue))
    http = MiniHttp()
    http.route("GET", "/health", lambda _: _ok(json_reply(200, {"status": "ok", "worker": name})))
    await http.start(host, port)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener
        await queue.stop()
        await pool.close()


async def _ok(reply: tuple[int, str, bytes]) -> tuple[int, str, bytes]:
    return reply

"""The API application factory and its lifespan (pools, schemas, workers)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
from collections.abc import AsyncIterator

import psycopg
from fastapi import FastAPI
from prometheus_client import CollectorRegistry, Gauge
from psycopg_pool import AsyncConnectionPool
from redis.asyncio import Redis

from reference_system import memory, tasks, telemetry
from reference_system.api import admin, ftns
from reference_system.api.auth import verified_subject
from reference_system.api.errors import install_error_handlers
from reference_system.api.health import Probes
from reference_system.api.lockout import LoginGuard
from reference_system.api.middleware import BodyLimit, RateLimit, RequestMetrics
from reference_system.api.ordering import Ordering
from reference_system.api.routes import router
from reference_system.inference import EdgeRouter
from reference_system.settings import Settings

log = logging.getLogger("prsm.api")


def create_app(settings: Settings) -> FastAPI:
    """Build the API for ``settings``; resources open in the lifespan."""
    registry = CollectorRegistry()
    app = FastAPI(title="PRSM reference API", lifespan=_lifespan, docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.state.registry = registry
    app.state.login_guard = LoginGuard()
    install_error_handlers(app)
    app.include_router(router)
    app.include_router(ftns.router)
    app.include_router(admin.router)
    app.add_middleware(RateLimit, per_second=settings.rate_limit_per_s,
                       user_limits=settings.user_rate_limits,
                       subject=functools.partial(verified_subject, settings))
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestMetrics, registry=registry)
    return app


async def _database_up(dsn: str, timeout_s: float = 30.0) -> None:
    """Wait until PostgreSQL accepts a connection, polling briefly: the pool's own retry
    starts at a second and doubles, which a database starting beside us would cost."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        try:
            conn = await psycopg.AsyncConnection.connect(dsn, connect_timeout=2)
        except psycopg.OperationalError:
            if loop.time() > deadline:
                return  # the pool reports the error with its own message
            await asyncio.sleep(0.05)
            continue
        await conn.close()
        return


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    await _database_up(settings.postgres_dsn)
    pool = AsyncConnectionPool(settings.postgres_dsn, min_size=2, max_size=10, open=False,
                               timeout=settings.dependency_timeout_s * 5)
    await pool.open(wait=True, timeout=30)
    async with pool.connection() as conn, conn.transaction():
        # Replicas start together: CREATE ... IF NOT EXISTS races without a lock.
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (telemetry.SCHEMA_LOCK,))
        await conn.execute(memory.SCHEMA)
        await conn.execute(tasks.SCHEMA)
        await conn.execute(telemetry.SCHEMA)
    redis = Redis.from_url(settings.redis_url, socket_timeout=settings.dependency_timeout_s * 5)
    app.state.pool, app.state.redis = pool, redis
    app.state.memory = memory.MemoryStore(memory.L1Cache(settings.l1_capacity), redis, pool)
    app.state.tasks = tasks.TaskQueue(pool, tasks.execute_builtin, settings.task_workers,
                                      f"api:{settings.port}")
    app.state.router = EdgeRouter(settings.edge_url, settings.edge_probe_interval_s)
    app.state.ordering = await Ordering.open(settings)
    app.state.probes = Probes()
    _export_tier_ratios(app)
    app.state.tasks.start()
    app.state.router.start()
    _freeze_startup_heap()
    try:
        yield
    finally:
        await app.state.probes.close()
        await app.state.router.stop()
        await app.state.ordering.close()
        await app.state.tasks.stop()
        await redis.aclose()
        await pool.close()


def _freeze_startup_heap() -> None:
    """Keep the objects alive at startup (modules, app, pools) out of every later collection:
    a full collection of them takes 13-23 ms here, a stall every request waiting behind it feels
    (the health p99 target is 10 ms)."""
    gc.collect()
    gc.freeze()


def _export_tier_ratios(app: FastAPI) -> None:
    ratio = Gauge("memory_tier_hit_ratio", "Hit ratio per memory tier", ["tier"],
                  registry=app.state.registry)
    lookups = Gauge("memory_tier_lookups", "Lookups per memory tier and outcome",
                    ["tier", "outcome"], registry=app.state.registry)
    for name, stats in app.state.memory.stats.items():
        ratio.labels(name).set_function(lambda s=stats: s.ratio() or 0.0)
        lookups.labels(name, "hit").set_function(lambda s=stats: s.hits)
        lookups.labels(name, "miss").set_function(lambda s=stats: s.misses)

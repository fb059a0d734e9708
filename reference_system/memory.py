"""Three-tier memory: L1 in-process LRU, L2 Redis, L3 PostgreSQL (durable).

Writes go to L3 first (the durable copy, committed before the write is acknowledged), then L2,
then L1. Reads fall through L1 -> L2 -> L3 and back-fill the faster tiers with the remaining
TTL. Per-tier hit and miss counts are exported so a hit ratio can be checked.

Within one process, the writes of a key and the reads of it that miss L1 take turns (a lock per
key): a read that fetched a value from L2 must not back-fill L1 after a newer write has put
its own value there, and two writes must reach every tier in the same order. Found by the
linearizability scenario on the docker target (a read saw the newer value, then the older).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool
from redis.asyncio import Redis

TIERS = ("l1", "l2", "l3")
SCHEMA = """
CREATE TABLE IF NOT EXISTS memory_items (
    key        text PRIMARY KEY,
    value      jsonb NOT NULL,
    expires_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now()
)
"""
_REDIS_PREFIX = "prsm:mem:"


class L1Cache:
    """A bounded LRU map with per-entry expiry on the monotonic clock."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._items: OrderedDict[str, tuple[Any, float | None]] = OrderedDict()

    def get(self, key: str) -> tuple[bool, Any]:
        """``(found, value)``; expired entries are dropped and count as absent."""
        entry = self._items.get(key)
        if entry is None:
            return False, None
        value, expires = entry
        if expires is not None and expires <= time.monotonic():
            del self._items[key]
            return False, None
        self._items.move_to_end(key)
        return True, value

    def put(self, key: str, value: Any, ttl_s: float | None) -> None:
        """Insert or refresh ``key``, evicting the least recently used entry when full."""
        expires = None if ttl_s is None else time.monotonic() + ttl_s
        self._items[key] = (value, expires)
        self._items.move_to_end(key)
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)

    def delete(self, key: str) -> bool:
        """Remove ``key``; True if it was present."""
        return self._items.pop(key, None) is not None

    def __len__(self) -> int:
        return len(self._items)


@dataclass
class TierStats:
    """Hit and miss counters for one tier."""

    hits: int = 0
    misses: int = 0

    def ratio(self) -> float | None:
        """Hits over lookups, or None before the first lookup."""
        total = self.hits + self.misses
        return self.hits / total if total else None


class KeyLocks:
    """One asyncio lock per key, dropped when no task holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        """Hold ``key``'s lock for the ``async with`` block."""
        lock, users = self._locks.get(key, (None, 0))
        lock = lock or asyncio.Lock()
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    def __len__(self) -> int:
        return len(self._locks)


@dataclass
class MemoryStore:
    """The three tiers behind the memory API."""

    l1: L1Cache
    redis: Redis
    pool: AsyncConnectionPool
    stats: dict[str, TierStats] = field(default_factory=lambda: {t: TierStats() for t in TIERS})
    locks: KeyLocks = field(default_factory=KeyLocks)

    async def set(self, key: str, value: Any, ttl_s: int | None) -> None:
        """Store ``value`` durably, then in the caches."""
        async with self.locks.hold(key):
            await self._set(key, value, ttl_s)

    async def _set(self, key: str, value: Any, ttl_s: int | None) -> None:
        async with self.pool.connection() as conn:
            await conn.execute(
                "INSERT INTO memory_items (key, value, expires_at) VALUES "
                "(%s, %s, now() + make_interval(secs => %s)) ON CONFLICT (key) DO UPDATE SET "
                "value = EXCLUDED.value, expires_at = EXCLUDED.expires_at, updated_at = now()",
                (key, Jsonb(value), ttl_s),
            )
        await self._fill_l2(key, value, ttl_s)
        self.l1.put(key, value, ttl_s)

    async def get(self, key: str) -> tuple[bool, Any, str | None]:
        """``(found, value, tier that served it)``, back-filling faster tiers."""
        found, value = self.l1.get(key)
        if self._count("l1", found):
            return True, value, "l1"
        async with self.locks.hold(key):
            return await self._get_below_l1(key)

    async def _get_below_l1(self, key: str) -> tuple[bool, Any, str | None]:
        found, value, ttl = await self._get_l2(key)
        if self._count("l2", found):
            self.l1.put(key, value, ttl)
            return True, value, "l2"
        found, value, ttl = await self._get_l3(key)
        if self._count("l3", found):
            await self._fill_l2(key, value, ttl)
            self.l1.put(key, value, ttl)
            return True, value, "l3"
        return False, None, None

    async def delete(self, key: str) -> bool:
        """Remove ``key`` from every tier; True if the durable copy existed."""
        async with self.locks.hold(key):
            return await self._delete(key)

    async def _delete(self, key: str) -> bool:
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "DELETE FROM memory_items WHERE key = %s AND "
                "(expires_at IS NULL OR expires_at > now())", (key,))
            existed = cur.rowcount > 0
        await self.redis.delete(_REDIS_PREFIX + key)
        self.l1.delete(key)
        return existed

    async def item_count(self) -> int:
        """Live items in the durable tier."""
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT count(*) FROM memory_items WHERE expires_at IS NULL OR expires_at > now()")
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    def _count(self, tier: str, hit: bool) -> bool:
        stats = self.stats[tier]
        if hit:
            stats.hits += 1
        else:
            stats.misses += 1
        return hit

    async def _fill_l2(self, key: str, value: Any, ttl_s: float | None) -> None:
        ttl = None if ttl_s is None else max(1, int(ttl_s))
        await self.redis.set(_REDIS_PREFIX + key, json.dumps(value), ex=ttl)

    async def _get_l2(self, key: str) -> tuple[bool, Any, float | None]:
        async with self.redis.pipeline(transaction=False) as pipe:
            raw, ttl_ms = await pipe.get(_REDIS_PREFIX + key).pttl(_REDIS_PREFIX + key).execute()
        if raw is None:
            return False, None, None
        return True, json.loads(raw), (ttl_ms / 1000 if ttl_ms and ttl_ms > 0 else None)

    async def _get_l3(self, key: str) -> tuple[bool, Any, float | None]:
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT value, extract(epoch FROM expires_at - now()) FROM memory_items "
                "WHERE key = %s AND (expires_at IS NULL OR expires_at > now())", (key,))
            row = await cur.fetchone()
        if row is None:
            return False, None, None
        return True, row[0], (float(row[1]) if row[1] is not None else None)

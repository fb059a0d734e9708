"""Within one API process, a read that misses L1 cannot back-fill a value older than a write
that finished meanwhile (the docker target's linearizability scenario caught that race)."""

from __future__ import annotations

import asyncio
from typing import Any

from reference_system.memory import KeyLocks, L1Cache, MemoryStore


class SlowL2Store(MemoryStore):
    """The real tier logic over a dict for L2/L3, whose L2 reads answer when released."""

    def __init__(self) -> None:
        super().__init__(L1Cache(8), redis=None, pool=None)  # type: ignore[arg-type]
        self.l2: dict[str, Any] = {}
        self.l2_answers = asyncio.Event()

    async def _set(self, key: str, value: Any, ttl_s: int | None) -> None:
        self.l2[key] = value
        self.l1.put(key, value, ttl_s)

    async def _get_l2(self, key: str) -> tuple[bool, Any, float | None]:
        value = self.l2.get(key)  # read now, answered later
        await self.l2_answers.wait()
        return value is not None, value, None


def test_a_slow_read_does_not_back_fill_over_a_newer_write():
    async def scenario() -> tuple[Any, Any]:
        store = SlowL2Store()
        store.l2["k"] = "old"
        read = asyncio.ensure_future(store.get("k"))
        await asyncio.sleep(0)  # the read has missed L1 and fetched "old" from L2
        write = asyncio.ensure_future(store.set("k", "new", None))
        await asyncio.sleep(0.01)
        store.l2_answers.set()
        await asyncio.gather(read, write)
        return (await read)[1], store.l1.get("k")[1]
    read_value, cached = asyncio.run(scenario())
    assert read_value == "old"  # concurrent with the write: either answer is linearizable
    assert cached == "new"  # but the cache must not go back to the older value


def test_key_locks_are_dropped_when_unused():
    async def scenario() -> int:
        locks = KeyLocks()
        async with locks.hold("a"), locks.hold("b"):
            assert len(locks) == 2
        return len(locks)
    assert asyncio.run(scenario()) == 0

"""The edge router keeps probing whatever a probe raises (pure logic, a stand-in client)."""

from __future__ import annotations

import asyncio

from reference_system.inference import EdgeRouter


class _Answer:
    status_code = 200


class _FlakyEdge:
    """Raises an error httpx does not wrap on the first probes, then answers 200."""

    def __init__(self, failures: int) -> None:
        self.failures = failures

    async def get(self, path: str) -> _Answer:
        if self.failures:
            self.failures -= 1
            raise RuntimeError("unexpected transport state")
        return _Answer()

    async def aclose(self) -> None:
        return None


def test_an_unexpected_probe_error_does_not_end_probing():
    async def scenario() -> tuple[bool, bool]:
        router = EdgeRouter("http://edge", probe_interval_s=0.01)
        router._client = _FlakyEdge(failures=3)  # type: ignore[assignment]
        router._probe = asyncio.create_task(router._probe_loop())
        await asyncio.sleep(0.02)
        during = router.healthy
        for _ in range(200):
            if router.healthy:
                break
            await asyncio.sleep(0.01)
        after, died = router.healthy, router._probe.done()
        await router.stop()
        return during, after and not died

    during, recovered = asyncio.run(scenario())
    assert during is False and recovered

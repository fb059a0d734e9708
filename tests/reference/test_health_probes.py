"""The API's ``/health`` probes: a dependency that is up is probed at most every ``fresh_s``, a
recent "up" answers at once while a new probe runs, a "down" is probed again on every call, and
a hung dependency is reported down after the timeout however many callers share its probe, and
a probe left hung by a dependency that recovered does not hide the recovery."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from reference_system.api.health import Probes

FRESH_S, STALE_S, TIMEOUT_S, RETRY_WAIT_S, MAX_HUNG = 0.05, 0.2, 0.1, 0.01, 2


class Dependency:
    """A check that counts its calls and answers when released (never, when hung)."""

    def __init__(self, error: BaseException | None = None, hung_calls: int = 0) -> None:
        self.calls = 0
        self.error = error
        self.answer = asyncio.Event()
        self.hung_calls = hung_calls  # the first ones never answer (their connection is dead)

    async def check(self) -> None:
        self.calls += 1
        if self.calls <= self.hung_calls:
            await asyncio.Event().wait()
        await self.answer.wait()
        if self.error is not None:
            raise self.error


def _run(scenario: Callable[[Probes, Dependency], Awaitable[Any]], **kwargs: Any) -> Any:
    async def main() -> Any:
        probes, dependency = Probes(FRESH_S, STALE_S, RETRY_WAIT_S, MAX_HUNG), Dependency(**kwargs)
        try:
            return await scenario(probes, dependency)
        finally:
            await probes.close()
    return asyncio.run(main())


def _probe(probes: Probes, dependency: Dependency) -> Awaitable[dict[str, Any]]:
    return probes.probe("db", dependency.check, TIMEOUT_S)


def test_the_first_caller_waits_for_the_probe_and_the_next_reuse_it():
    async def scenario(probes: Probes, dependency: Dependency) -> None:
        first = asyncio.ensure_future(_probe(probes, dependency))
        await asyncio.sleep(0.01)
        assert not first.done()
        dependency.answer.set()
        assert (await first)["status"] == "up"
        again = await _probe(probes, dependency)
        assert again["status"] == "up" and again["age_ms"] < FRESH_S * 1000
        assert dependency.calls == 1
    _run(scenario)


def test_a_recent_result_answers_at_once_while_a_new_probe_runs():
    async def scenario(probes: Probes, dependency: Dependency) -> None:
        dependency.answer.set()
        await _probe(probes, dependency)
        dependency.answer.clear()  # the next probe hangs
        await asyncio.sleep(FRESH_S)
        answers = [await asyncio.wait_for(_probe(probes, dependency), 0.01) for _ in range(3)]
        assert [a["status"] for a in answers] == ["up"] * 3
        assert dependency.calls == 2  # one refresh in flight, shared
    _run(scenario)


def test_a_hung_dependency_is_down_once_its_last_answer_is_stale():
    async def scenario(probes: Probes, dependency: Dependency) -> dict[str, Any]:
        dependency.answer.set()
        await _probe(probes, dependency)
        dependency.answer.clear()
        await asyncio.sleep(STALE_S)
        return await asyncio.wait_for(_probe(probes, dependency), TIMEOUT_S * 2)
    answer = _run(scenario)
    assert answer == {"status": "down", "error": f"no answer within {TIMEOUT_S:g}s",
                      "latency_ms": pytest.approx(TIMEOUT_S * 1000, abs=50), "age_ms": 0.0}


def test_a_failing_check_is_down_with_its_error_and_recovers():
    async def scenario(probes: Probes, dependency: Dependency) -> list[dict[str, Any]]:
        dependency.answer.set()
        down = await _probe(probes, dependency)
        dependency.error = None
        await asyncio.sleep(STALE_S)
        return [down, await _probe(probes, dependency)]
    down, up = _run(scenario, error=ConnectionRefusedError())
    assert (down["status"], down["error"]) == ("down", "ConnectionRefusedError")
    assert up["status"] == "up"


def test_a_down_dependency_is_probed_again_on_every_call():
    async def scenario(probes: Probes, dependency: Dependency) -> list[dict[str, Any]]:
        dependency.answer.set()
        down = await _probe(probes, dependency)
        dependency.error = None  # it recovers: the very next call sees it
        return [down, await _probe(probes, dependency), dependency.calls]
    down, up, calls = _run(scenario, error=ConnectionRefusedError())
    assert (down["status"], up["status"], calls) == ("down", "up", 2)


def test_callers_of_a_hung_probe_do_not_each_wait_for_the_timeout():
    async def scenario(probes: Probes, dependency: Dependency) -> list[dict[str, Any]]:
        await _probe(probes, dependency)  # hangs: down after the timeout
        return [await asyncio.wait_for(_probe(probes, dependency), RETRY_WAIT_S * 3)
                for _ in range(3)]
    answers = _run(scenario)
    assert [a["status"] for a in answers] == ["down"] * 3


def test_a_dependency_that_recovers_from_a_hang_is_up_on_the_next_call():
    async def scenario(probes: Probes, dependency: Dependency) -> list[dict[str, Any]]:
        down = await _probe(probes, dependency)  # the first probe never answers
        dependency.answer.set()  # the dependency is back; that probe's connection is not
        up = await asyncio.wait_for(_probe(probes, dependency), RETRY_WAIT_S * 3)
        return [down, up, dependency.calls]
    down, up, calls = _run(scenario, hung_calls=1)
    assert (down["status"], up["status"], calls) == ("down", "up", 2)


def test_a_long_hang_keeps_at_most_max_hung_probes_in_flight():
    async def scenario(probes: Probes, dependency: Dependency) -> list[str]:
        answers = []
        for _ in range(8):  # about five timeouts long
            answers.append((await _probe(probes, dependency))["status"])
            await asyncio.sleep(TIMEOUT_S / 2)
        return [*answers, dependency.calls]
    *answers, calls = _run(scenario, hung_calls=100)
    assert answers == ["down"] * 8
    assert calls == MAX_HUNG

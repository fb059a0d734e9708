"""The gateway balances connections over backends and falls back when one stops listening."""

from __future__ import annotations

import asyncio

from prsm_validate.targets.gateway import Gateway


async def _backend(name: bytes) -> asyncio.base_events.Server:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readline()
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n" + name)
        await writer.drain()
        writer.close()

    return await asyncio.start_server(answer, "127.0.0.1", 0)


async def _ask(port: int) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /health HTTP/1.1\r\n\r\n")
    data = await reader.read()
    writer.close()
    return data[-1:]


async def _scenario() -> tuple[list[bytes], list[bytes], dict]:
    servers = [await _backend(b"a"), await _backend(b"b")]
    backends = [s.sockets[0].getsockname()[:2] for s in servers]
    gateway = Gateway(backends)
    front = await asyncio.start_server(gateway.serve, "127.0.0.1", 0)
    port = front.sockets[0].getsockname()[1]
    both = [await _ask(port) for _ in range(4)]
    servers[0].close()
    await servers[0].wait_closed()
    after = [await _ask(port) for _ in range(4)]
    await gateway._probe(backends[0])
    front.close()
    servers[1].close()
    return both, after, dict(gateway.healthy)


def test_round_robin_then_fallback_to_the_live_backend() -> None:
    both, after, healthy = asyncio.run(_scenario())
    assert sorted(both) == [b"a", b"a", b"b", b"b"]
    assert after == [b"b"] * 4  # no connection lost to the closed backend
    assert list(healthy.values()) == [False, True]

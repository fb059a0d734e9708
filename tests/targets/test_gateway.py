"""The gateway balances requests over backends, falls back when one stops listening, retries
idempotent requests when a backend dies with them in flight and fails the others fast."""

from __future__ import annotations

import asyncio
import json

from prsm_validate.targets.gateway import Gateway


class Backend:
    """A loopback HTTP backend answering its name, or dying on the requests it reads."""

    def __init__(self, name: bytes, dies: bool = False) -> None:
        self.name, self.dies = name, dies
        self.requests: list[bytes] = []
        self.server: asyncio.base_events.Server | None = None

    async def start(self) -> tuple[str, int]:
        self.server = await asyncio.start_server(self._answer, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[:2]

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while head := await reader.readuntil(b"\r\n\r\n"):
            length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                           if line.lower().startswith(b"content-length:")), 0)
            self.requests.append(head.split(b"\r\n", 1)[0] + await reader.readexactly(length))
            if self.dies:  # killed with the request in flight: no answer at all
                writer.transport.abort()
                return
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n" + self.name)
            await writer.drain()


async def _ask(port: int, request: bytes) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    data = await reader.read()
    writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


GET = b"GET /health HTTP/1.1\r\nHost: api\r\nConnection: close\r\n\r\n"
POST = (b"POST /api/v1/ftns/transfer HTTP/1.1\r\nHost: api\r\nConnection: close\r\n"
        b"Content-Length: 2\r\n\r\n{}")
KEYED = (b"POST /api/v1/ftns/transfer HTTP/1.1\r\nHost: api\r\nConnection: close\r\n"
         b"Idempotency-Key: k-1\r\nContent-Length: 2\r\n\r\n{}")


async def _fallback_scenario() -> tuple[list[bytes], list[bytes], dict]:
    backends = [Backend(b"a"), Backend(b"b")]
    addresses = [await b.start() for b in backends]
    gateway = Gateway(addresses)
    front = await asyncio.start_server(gateway.serve, "127.0.0.1", 0)
    port = front.sockets[0].getsockname()[1]
    both = [(await _ask(port, GET))[1] for _ in range(4)]
    backends[0].server.close()  # type: ignore[union-attr]
    await backends[0].server.wait_closed()  # type: ignore[union-attr]
    after = [(await _ask(port, POST))[1] for _ in range(4)]  # never sent to a: any method
    await gateway._probe(addresses[0])
    front.close()
    backends[1].server.close()  # type: ignore[union-attr]
    return both, after, dict(gateway.healthy)


def test_round_robin_then_fallback_to_the_live_backend() -> None:
    both, after, healthy = asyncio.run(_fallback_scenario())
    assert sorted(both) == [b"a", b"a", b"b", b"b"]
    assert after == [b"b"] * 4  # no request lost to the closed backend
    assert list(healthy.values()) == [False, True]


async def _dying_scenario(request: bytes) -> tuple[int, bytes, Backend, Backend]:
    dying, live = Backend(b"a", dies=True), Backend(b"b")
    gateway = Gateway([await dying.start(), await live.start()])
    front = await asyncio.start_server(gateway.serve, "127.0.0.1", 0)
    status, body = await _ask(front.sockets[0].getsockname()[1], request)
    front.close()
    for backend in (dying, live):
        backend.server.close()  # type: ignore[union-attr]
    return status, body, dying, live


def test_a_get_in_flight_on_a_dying_backend_is_retried_on_another() -> None:
    status, body, dying, live = asyncio.run(_dying_scenario(GET))
    assert (status, body) == (200, b"b")
    assert len(dying.requests) == 1 and len(live.requests) == 1


def test_a_request_with_an_idempotency_key_is_retried() -> None:
    status, body, dying, live = asyncio.run(_dying_scenario(KEYED))
    assert (status, body) == (200, b"b")
    assert dying.requests == live.requests == [b"POST /api/v1/ftns/transfer HTTP/1.1{}"]


def test_a_non_idempotent_request_in_flight_fails_fast_and_is_not_resent() -> None:
    status, body, dying, live = asyncio.run(_dying_scenario(POST))
    assert status == 502
    error = json.loads(body)
    assert error["status"] == 502 and "not retried" in error["error"]
    assert "Idempotency-Key" in error["error"]
    assert len(dying.requests) == 1 and live.requests == []  # it may have taken effect


async def _keep_alive_scenario() -> list[bytes]:
    backend = Backend(b"a")
    gateway = Gateway([await backend.start()])
    front = await asyncio.start_server(gateway.serve, "127.0.0.1", 0)
    reader, writer = await asyncio.open_connection("127.0.0.1", front.sockets[0].getsockname()[1])
    answers = []
    for _ in range(3):  # one client connection, three requests
        writer.write(b"GET /health HTTP/1.1\r\nHost: api\r\n\r\n")
        head = await reader.readuntil(b"\r\n\r\n")
        answers.append(head.split(b"\r\n", 1)[0] + await reader.readexactly(1))
    writer.close()
    front.close()
    backend.server.close()  # type: ignore[union-attr]
    return answers


def test_requests_on_one_kept_alive_connection_are_each_answered() -> None:
    assert asyncio.run(_keep_alive_scenario()) == [b"HTTP/1.1 200 OK" + b"a"] * 3


async def _no_backend() -> tuple[int, bytes]:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    address = server.sockets[0].getsockname()[:2]
    server.close()
    await server.wait_closed()
    gateway = Gateway([address])
    front = await asyncio.start_server(gateway.serve, "127.0.0.1", 0)
    answer = await _ask(front.sockets[0].getsockname()[1], GET)
    front.close()
    return answer


def test_no_backend_at_all_is_503_with_a_json_body() -> None:
    status, body = asyncio.run(_no_backend())
    assert status == 503 and json.loads(body) == {"error": "no backend available",
                                                  "status": 503}

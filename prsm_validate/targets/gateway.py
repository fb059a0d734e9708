"""An HTTP load balancer in front of the API replicas, as a Kubernetes Service with an
ingress or an L7 load balancer would be: ``python -m prsm_validate.targets.gateway --port P
--backend HOST:PORT ...`` (the local target starts one in front of its API replicas).

Each request goes to the next healthy backend (round robin). A backend is healthy while its
``GET /health`` probe (every ``--probe-ms``) answers. What happens when a backend fails:

- it refuses the connection (restarting, draining): the request was never sent, so it goes to
  the next backend at once, whatever its method;
- it dies with the request in flight (connection reset or closed before a whole response):
  an *idempotent* request (GET, HEAD, OPTIONS, or one carrying an ``Idempotency-Key``
  header, which the API deduplicates) is sent again to the next backend; any other request
  fails fast with ``502`` and a JSON body saying it was not retried, because it may have
  taken effect;
- it does not answer within ``--timeout-s``: ``504``, not retried (a slow backend may still
  act on it); no backend at all: ``503``.

Requests and responses are read whole (bounded by ``MAX_BODY``, else ``413``/``502``), so a
response is relayed only once it is complete and a failure can still be retried. Loopback
only. HTTP/1.1 is parsed with h11 on both sides.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import logging
import signal
from dataclasses import dataclass

import h11

from prsm_validate.errors import PrsmError
from prsm_validate.faultproxy.core import is_loopback

log = logging.getLogger("prsm_validate.gateway")
CHUNK = 64 * 1024
MAX_BODY = 16 * 1024 * 1024
IDEMPOTENT_METHODS = frozenset({b"GET", b"HEAD", b"OPTIONS"})
IDEMPOTENCY_HEADER = b"idempotency-key"
HOP_BY_HOP = frozenset({b"connection", b"keep-alive", b"transfer-encoding", b"upgrade", b"te",
                        b"trailer", b"proxy-connection", b"content-length"})
Backend = tuple[str, int]


class BackendFailed(PrsmError):
    """The backend failed after the request was sent (its outcome is unknown)."""


@dataclass
class Message:
    """A whole HTTP request or response: head (h11 event) and body."""

    head: h11.Request | h11.Response
    body: bytes


def idempotent(request: h11.Request) -> bool:
    """Whether the request may be sent twice: a safe method, or an idempotency key."""
    return request.method in IDEMPOTENT_METHODS or any(
        name.lower() == IDEMPOTENCY_HEADER for name, _ in request.headers)


def _headers(head: h11.Request | h11.Response, body: bytes) -> list[tuple[bytes, bytes]]:
    """End-to-end headers of ``head``, framed for a body read whole."""
    kept = [(n, v) for n, v in head.headers if n.lower() not in HOP_BY_HOP]
    return [*kept, (b"content-length", str(len(body)).encode())]


def _error(status: int, message: str) -> Message:
    body = json.dumps({"error": message, "status": status}).encode()
    return Message(h11.Response(status_code=status, headers=[
        (b"content-type", b"application/json")]), body)


class Gateway:
    """Round robin over healthy backends; connect fallback; idempotent retries."""

    def __init__(self, backends: list[Backend], probe_s: float = 0.1,
                 timeout_s: float = 60.0) -> None:
        self.backends = backends
        self.healthy = {backend: True for backend in backends}
        self.probe_s = probe_s
        self.timeout_s = timeout_s
        self._turn = itertools.count()

    def candidates(self) -> list[Backend]:
        """Backends in the order to try for the next request: healthy ones first."""
        start = next(self._turn) % len(self.backends)
        order = self.backends[start:] + self.backends[:start]
        return [b for b in order if self.healthy[b]] + [b for b in order if not self.healthy[b]]

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Serve one client connection, request by request (keep-alive as the client asks)."""
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_BODY)
        try:
            while (request := await _read(conn, reader, h11.Request)) is not None:
                await _write(conn, writer, await self.forward(request))
                if conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                    break
                conn.start_next_cycle()
        except h11.RemoteProtocolError as exc:
            with contextlib.suppress(h11.LocalProtocolError, ConnectionError):
                status = 413 if "too large" in str(exc) else 400
                await _write(conn, writer, _error(status, f"bad request: {exc}"))
        except (ConnectionError, h11.LocalProtocolError):
            pass
        finally:
            writer.close()

    async def forward(self, request: Message) -> Message:
        """The backends' response to ``request``, or the gateway's own error response."""
        retry = idempotent(request.head)  # type: ignore[arg-type]
        for backend in self.candidates():
            try:
                reader, writer = await asyncio.open_connection(*backend)
            except OSError:
                self.healthy[backend] = False
                continue  # never sent: any request may go to the next backend
            try:
                return await asyncio.wait_for(_exchange(reader, writer, request),
                                              self.timeout_s)
            except TimeoutError:
                return _error(504, f"backend {backend[0]}:{backend[1]} did not answer within "
                                   f"{self.timeout_s:g} s; not retried")
            except BackendFailed as exc:
                self.healthy[backend] = False
                if not retry:
                    return _error(502, f"backend {backend[0]}:{backend[1]} failed with the "
                                       f"request in flight ({exc}); not retried: it is not "
                                       "idempotent (send an Idempotency-Key to allow it)")
                log.info("retrying %s on another backend: %s", request.head.target, exc)
            finally:
                writer.close()
        return _error(503, "no backend available")

    async def probe_forever(self) -> None:
        """Mark each backend healthy while its /health answers at all (any HTTP status: a
        degraded API still serves; only a closed or silent port is out), unless it says it
        is draining (``X-Draining: true``: it is stopping and takes no new connection)."""
        while True:
            await asyncio.gather(*(self._probe(b) for b in self.backends))
            await asyncio.sleep(self.probe_s)

    async def _probe(self, backend: Backend) -> None:
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(*backend), 1.0)
            writer.write(b"GET /health HTTP/1.1\r\nHost: gateway\r\nConnection: close\r\n\r\n")
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 1.0)
            writer.close()
            self.healthy[backend] = (head.startswith(b"HTTP/1.1 ")
                                     and b"\r\nx-draining: true" not in head.lower())
        except (OSError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            self.healthy[backend] = False


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    request: Message) -> Message:
    """Send ``request`` on a fresh backend connection and read the whole response."""
    conn = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_BODY)
    head = request.head
    try:
        writer.write(conn.send(h11.Request(method=head.method, target=head.target,  # type: ignore[union-attr]
                                           headers=_headers(head, request.body))))
        writer.write(conn.send(h11.Data(data=request.body)) if request.body else b"")
        writer.write(conn.send(h11.EndOfMessage()))
        await writer.drain()
        response = await _read(conn, reader, h11.Response)
    except (ConnectionError, OSError, h11.ProtocolError) as exc:
        raise BackendFailed(type(exc).__name__) from exc
    if response is None:
        raise BackendFailed("closed before answering")
    return response


async def _read(conn: h11.Connection, reader: asyncio.StreamReader,
                kind: type) -> Message | None:
    """The next whole message of ``kind`` (None: the peer closed before one began)."""
    head, body = None, bytearray()
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            data = await reader.read(CHUNK)
            if not data and head is not None:
                raise ConnectionResetError("closed mid-message")
            conn.receive_data(data)
        elif isinstance(event, h11.ConnectionClosed) or event is h11.PAUSED:
            return None
        elif isinstance(event, kind):
            head = event
        elif isinstance(event, h11.Data):
            body += event.data
            if len(body) > MAX_BODY:
                raise h11.RemoteProtocolError("body too large")
        elif isinstance(event, h11.EndOfMessage):
            return Message(head, bytes(body))  # type: ignore[arg-type]


async def _write(conn: h11.Connection, writer: asyncio.StreamWriter, response: Message) -> None:
    head = response.head
    writer.write(conn.send(h11.Response(status_code=head.status_code,  # type: ignore[union-attr]
                                        headers=_headers(head, response.body),
                                        reason=head.reason)))  # type: ignore[union-attr]
    if response.body:
        writer.write(conn.send(h11.Data(data=response.body)))
    writer.write(conn.send(h11.EndOfMessage()))
    await writer.drain()


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not is_loopback(host):
        raise argparse.ArgumentTypeError(f"{text!r}: the gateway forwards to loopback only")
    return host, int(port)


async def run_gateway(host: str, port: int, backends: list[Backend], probe_s: float,
                      timeout_s: float = 60.0) -> None:
    """Serve until SIGINT/SIGTERM."""
    gateway = Gateway(backends, probe_s, timeout_s)
    server = await asyncio.start_server(gateway.serve, host, port)
    prober = asyncio.create_task(gateway.probe_forever())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(f"gateway listening on {host}:{server.sockets[0].getsockname()[1]} -> "
          f"{', '.join(f'{h}:{p}' for h, p in backends)}", flush=True)
    await stop.wait()
    prober.cancel()
    server.close()


def main(argv: list[str] | None = None) -> int:
    """``python -m prsm_validate.targets.gateway``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", type=str)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--backend", action="append", type=_address, required=True)
    parser.add_argument("--probe-ms", type=float, default=100.0)
    parser.add_argument("--timeout-s", type=float, default=60.0,
                        help="how long a backend may take to answer (default 60)")
    args = parser.parse_args(argv)
    if not is_loopback(args.host):
        parser.error(f"--host {args.host!r}: the gateway listens on loopback only")
    from prsm_validate.faultproxy.server import new_event_loop

    loop = new_event_loop()
    try:
        loop.run_until_complete(run_gateway(args.host, args.port, args.backend,
                                            args.probe_ms / 1000, args.timeout_s))
    finally:
        loop.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

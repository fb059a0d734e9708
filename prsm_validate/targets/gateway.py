"""A TCP load balancer in front of the API replicas, as a Kubernetes Service or an L4 load
balancer would be: ``python -m prsm_validate.targets.gateway --port P --backend HOST:PORT ...``
(the local target starts one in front of its API replicas).

Each client connection goes to the next healthy backend (round robin). A backend is healthy
while its ``GET /health`` probe (every ``--probe-ms``) answers; a connection that cannot be
opened to the chosen backend is retried on the others at once, so a replica that stopped
listening (restarting, draining) loses no new connection. Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import logging
import signal

from prsm_validate.nemesis.proxy.core import is_loopback

log = logging.getLogger("prsm_validate.gateway")
CHUNK = 64 * 1024


class Gateway:
    """Round robin over healthy backends, with connect-failure fallback."""

    def __init__(self, backends: list[tuple[str, int]], probe_s: float = 0.1) -> None:
        self.backends = backends
        self.healthy = {backend: True for backend in backends}
        self.probe_s = probe_s
        self._turn = itertools.count()

    def candidates(self) -> list[tuple[str, int]]:
        """Backends in the order to try for the next connection: healthy ones first."""
        start = next(self._turn) % len(self.backends)
        order = self.backends[start:] + self.backends[:start]
        return [b for b in order if self.healthy[b]] + [b for b in order if not self.healthy[b]]

    async def connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        """A connection to the first backend that accepts one, else None."""
        for backend in self.candidates():
            try:
                return await asyncio.open_connection(*backend)
            except OSError:
                self.healthy[backend] = False
        return None

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Relay one client connection to a backend."""
        upstream = await self.connect()
        if upstream is None:
            writer.close()
            return
        up_reader, up_writer = upstream
        await asyncio.gather(_pump(reader, up_writer), _pump(up_reader, writer))

    async def probe_forever(self) -> None:
        """Mark each backend healthy while its /health answers at all (any HTTP status: a
        degraded API still serves; only a closed or silent port is out), unless it says it
        is draining (``X-Draining: true``: it is stopping and takes no new connection)."""
        while True:
            await asyncio.gather(*(self._probe(b) for b in self.backends))
            await asyncio.sleep(self.probe_s)

    async def _probe(self, backend: tuple[str, int]) -> None:
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(*backend), 1.0)
            writer.write(b"GET /health HTTP/1.1\r\nHost: gateway\r\nConnection: close\r\n\r\n")
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 1.0)
            writer.close()
            self.healthy[backend] = (head.startswith(b"HTTP/1.1 ")
                                     and b"\r\nx-draining: true" not in head.lower())
        except (OSError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            self.healthy[backend] = False


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError, OSError):
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
    with contextlib.suppress(Exception):
        writer.close()


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not is_loopback(host):
        raise argparse.ArgumentTypeError(f"{text!r}: the gateway forwards to loopback only")
    return host, int(port)


async def run_gateway(host: str, port: int, backends: list[tuple[str, int]],
                      probe_s: float) -> None:
    """Serve until SIGINT/SIGTERM."""
    gateway = Gateway(backends, probe_s)
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
    args = parser.parse_args(argv)
    if not is_loopback(args.host):
        parser.error(f"--host {args.host!r}: the gateway listens on loopback only")
    from prsm_validate.nemesis.proxy.server import new_event_loop

    loop = new_event_loop()
    try:
        loop.run_until_complete(run_gateway(args.host, args.port, args.backend,
                                            args.probe_ms / 1000))
    finally:
        loop.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

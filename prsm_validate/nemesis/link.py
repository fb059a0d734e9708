"""A TCP link the harness controls: a forwarding proxy on loopback that can be cut and healed.

A cut holds both directions: nothing is read or forwarded, connections stay open, TCP buffers
fill; as on a real partition, nothing arrives until the heal, then the held bytes flow on (or
the endpoints time out and reconnect, which is their business). The proxy runs its own asyncio
loop in a daemon thread, so synchronous harness code can own it.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from dataclasses import dataclass, field

CHUNK = 64 * 1024


@dataclass
class LinkProxy:
    """Forwards ``listen`` -> ``upstream``; :meth:`cut` and :meth:`heal` partition the link."""

    upstream: tuple[str, int]
    host: str = "127.0.0.1"
    port: int = 0
    _loop: asyncio.AbstractEventLoop | None = None
    _open: asyncio.Event | None = None
    _server: asyncio.base_events.Server | None = None
    _thread: threading.Thread | None = None
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)

    def start(self) -> tuple[str, int]:
        """Listen (port 0 = a free one) and return the bound address."""
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,), daemon=True,
                                        name=f"link-proxy->{self.upstream[1]}")
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("link proxy did not start")
        return self.host, self.port

    def _run(self, ready: threading.Event) -> None:
        self._loop = asyncio.new_event_loop()
        self._loop.run_until_complete(self._listen())
        ready.set()
        self._loop.run_forever()

    async def _listen(self) -> None:
        self._open = asyncio.Event()
        self._open.set()
        self._server = await asyncio.start_server(self._accept, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}
        await asyncio.gather(self._pump(reader, up_writer), self._pump(up_reader, writer))
        self._writers -= {writer, up_writer}

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        assert self._open is not None
        with contextlib.suppress(ConnectionError, OSError):
            while True:
                await self._open.wait()  # a cut holds the bytes where they are
                data = await reader.read(CHUNK)
                if not data:
                    break
                await self._open.wait()
                writer.write(data)
                await writer.drain()
        with contextlib.suppress(Exception):
            writer.close()

    def _call(self, action: str) -> None:
        assert self._loop is not None and self._open is not None
        method = self._open.clear if action == "cut" else self._open.set
        self._loop.call_soon_threadsafe(method)

    def cut(self) -> None:
        """Partition the link: nothing passes in either direction until :meth:`heal`."""
        self._call("cut")

    def heal(self) -> None:
        """Let traffic flow again."""
        self._call("heal")

    def stop(self) -> None:
        """Close the listener and every connection; stop the thread."""
        if self._loop is None:
            return

        async def close() -> None:
            if self._server is not None:
                self._server.close()
            for writer in list(self._writers):
                writer.close()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(5)
        self._loop = None

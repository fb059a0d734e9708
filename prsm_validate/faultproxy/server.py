"""The fault proxy server: embeddable from synchronous code, or run in the foreground.

:class:`ProxyServer` runs the API and every proxy on one event loop (uvloop when installed) in a
daemon thread: ``start()`` returns the API address, ``stop()`` closes every listener and
connection and joins the thread; it is also a context manager. :func:`serve_forever` is the
same service in the calling thread, for ``prsm-validate proxy``.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any

from prsm_validate.faultproxy.api import ToxiproxyApi, serve_http
from prsm_validate.faultproxy.core import ProxyCollection, is_loopback

DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 8474


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop's loop if it is installed (faster forwarding), else asyncio's."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


class ProxyService:
    """The API listener and the proxy collection, on the running loop."""

    def __init__(self, seed: int | None = None, loopback_only: bool = True) -> None:
        self.collection = ProxyCollection(seed=seed, loopback_only=loopback_only)
        self.api = ToxiproxyApi(self.collection)
        self.server: asyncio.base_events.Server | None = None
        self.clients: set[asyncio.StreamWriter] = set()

    async def open(self, host: str, port: int) -> tuple[str, int]:
        """Listen for API requests; returns the bound address."""
        if self.collection.loopback_only and not is_loopback(host):
            raise ValueError(f"proxy API host {host!r} is not a loopback address")
        self.server = await asyncio.start_server(self._client, host, port)
        bound = self.server.sockets[0].getsockname()
        return bound[0], bound[1]

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.clients.add(writer)
        try:
            await serve_http(self.api, reader, writer)
        finally:
            self.clients.discard(writer)

    async def close(self) -> None:
        """Stop the API and every proxy; drop every connection."""
        if self.server is not None:
            self.server.close()
        for writer in list(self.clients):
            writer.close()  # its reader sees EOF and the handler returns
        await self.collection.close()


class ProxyServer:
    """A Toxiproxy-compatible server in a background thread, owned by synchronous code."""

    def __init__(self, host: str = DEFAULT_HOST, port: int = 0, seed: int | None = None,
                 loopback_only: bool = True) -> None:
        self.host, self.port = host, port
        self.service = ProxyService(seed=seed, loopback_only=loopback_only)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Base URL of the API (after :meth:`start`)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> tuple[str, int]:
        """Start the loop thread and the API listener; returns the bound API address."""
        loop = new_event_loop()
        try:
            self.host, self.port = loop.run_until_complete(self.service.open(self.host,
                                                                             self.port))
        except BaseException:
            loop.close()
            raise
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, daemon=True,
                                        name=f"fault-proxy:{self.port}")
        self._thread.start()
        return self.host, self.port

    def call(self, function: Callable[[], Any]) -> Any:
        """Run ``function`` on the server's loop and return its result (for inspection)."""
        assert self._loop is not None, "ProxyServer not started"

        async def call() -> Any:
            return function()

        return asyncio.run_coroutine_threadsafe(call(), self._loop).result(10)

    def stop(self) -> None:
        """Close every proxy, connection and the API; stop and join the thread. Idempotent."""
        loop, self._loop = self._loop, None
        if loop is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self.service.close(), loop).result(10)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            if self._thread is not None:
                self._thread.join(10)
            if not loop.is_running():
                loop.close()

    def __enter__(self) -> ProxyServer:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()


async def serve_forever(host: str, port: int, stop: asyncio.Event,
                        on_ready: Callable[[str, int], None], seed: int | None = None,
                        loopback_only: bool = True) -> None:
    """Serve in the calling loop until ``stop`` is set; ``on_ready`` gets the API address."""
    service = ProxyService(seed=seed, loopback_only=loopback_only)
    try:
        on_ready(*await service.open(host, port))
        await stop.wait()
    finally:
        await service.close()

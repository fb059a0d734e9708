"""Node introspection over HTTP: ``/status``, ``/log?from=&to=``, ``/metrics``.

A few lines of asyncio HTTP/1.1 (keep-alive, GET only) so the node needs no web framework and
serves from the same event loop as the replica, seeing its state without locks.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

Route = Callable[[dict[str, str]], tuple[int, str, bytes]]


def json_body(status: int, body: Any) -> tuple[int, str, bytes]:
    """A JSON response triple."""
    return status, "application/json", json.dumps(body).encode()


class IntrospectionServer:
    """Routes GET paths to synchronous handlers taking the query parameters."""

    def __init__(self, routes: dict[str, Route]) -> None:
        self.routes = routes
        self.server: asyncio.base_events.Server | None = None

    async def start(self, host: str, port: int) -> None:
        """Listen on ``host:port``."""
        self.server = await asyncio.start_server(self._serve, host, port)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError, ValueError):
            while True:
                line = await reader.readline()
                if not line:
                    break
                method, target, _ = line.decode("latin-1").split(" ", 2)
                while (await reader.readline()).strip():
                    pass  # headers: GET requests carry no body we need
                status, kind, body = self._dispatch(method, target)
                writer.write(f"HTTP/1.1 {status} {'OK' if status == 200 else 'Error'}\r\n"
                             f"Content-Type: {kind}\r\nContent-Length: {len(body)}\r\n\r\n"
                             .encode() + body)
                await writer.drain()
        writer.close()

    def _dispatch(self, method: str, target: str) -> tuple[int, str, bytes]:
        url = urlsplit(target)
        route = self.routes.get(url.path)
        if method != "GET" or route is None:
            return json_body(404, {"error": f"no route {method} {url.path}"})
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        try:
            return route(query)
        except ValueError as exc:
            return json_body(400, {"error": str(exc)})

    async def close(self) -> None:
        """Stop listening."""
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

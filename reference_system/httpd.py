"""A minimal asyncio HTTP/1.1 server for the small processes (edge agent, pipeline).

They need a health endpoint, metrics and one JSON POST; importing a web framework would
dominate their start-up time. Keep-alive is supported; bodies need Content-Length.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

Handler = Callable[[bytes], Awaitable[tuple[int, str, bytes]]]
MAX_BODY = 1 << 20
_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
            413: "Payload Too Large", 500: "Internal Server Error", 503: "Service Unavailable"}


def json_reply(status: int, body: Any) -> tuple[int, str, bytes]:
    """A JSON response triple."""
    return status, "application/json", json.dumps(body).encode()


class MiniHttp:
    """Routes ``(method, path)`` to async handlers taking the request body."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Handler] = {}
        self.server: asyncio.base_events.Server | None = None

    def route(self, method: str, path: str, handler: Handler) -> None:
        """Register ``handler`` for ``method path`` (query strings are ignored)."""
        self.routes[(method, path)] = handler

    async def start(self, host: str, port: int) -> None:
        """Listen on ``host:port``."""
        self.server = await asyncio.start_server(self._serve, host, port)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError, ValueError):
            while True:
                request_line = await reader.readline()
                if not request_line:
                    break
                method, target, _ = request_line.decode("latin-1").split(" ", 2)
                headers = await _read_headers(reader)
                length = int(headers.get("content-length", "0"))
                if length > MAX_BODY:
                    await _write(writer, *json_reply(413, {"error": "body too large"}))
                    break
                body = await reader.readexactly(length) if length else b""
                await _write(writer, *await self._dispatch(method, target.split("?")[0], body))
        writer.close()

    async def _dispatch(self, method: str, path: str, body: bytes) -> tuple[int, str, bytes]:
        handler = self.routes.get((method, path))
        if handler is None:
            return json_reply(404, {"error": f"no route {method} {path}"})
        try:
            return await handler(body)
        except ValueError as exc:
            return json_reply(400, {"error": str(exc)})
        except Exception as exc:
            return json_reply(500, {"error": type(exc).__name__})


async def _read_headers(reader: asyncio.StreamReader) -> dict[str, str]:
    headers = {}
    while True:
        line = (await reader.readline()).decode("latin-1").strip()
        if not line:
            return headers
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()


async def _write(writer: asyncio.StreamWriter, status: int, content_type: str,
                 body: bytes) -> None:
    head = (f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}\r\n"
            f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n")
    writer.write(head.encode("latin-1") + body)
    await writer.drain()

"""Toxiproxy's HTTP API over a :class:`ProxyCollection`: routes, status codes, bodies.

Routes, methods and status codes follow Toxiproxy 2.x (``api.go``): creating a proxy answers
201, creating a toxic 200, deletes and ``/reset`` 204, errors ``{"error": ..., "status": ...}``.
``PATCH`` is accepted wherever Toxiproxy accepts it (the updates). HTTP/1.1 is parsed with h11
(keep-alive, chunked bodies) on the proxies' own event loop.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import unquote

import h11

from prsm_validate.faultproxy.core import ApiError, ProxyCollection

#: Reported by ``GET /version``: the Toxiproxy API version this server follows, and that it is
#: this implementation.
VERSION = "2.12.0-prsm-validate"
MAX_BODY = 1024 * 1024

Handler = Callable[..., Awaitable[tuple[int, Any]]]


class ToxiproxyApi:
    """The API's request handlers; :meth:`dispatch` maps method and path to one of them."""

    def __init__(self, collection: ProxyCollection) -> None:
        self.collection = collection
        self.routes: list[tuple[str, re.Pattern[str], Handler]] = [
            ("GET", re.compile(r"/version"), self.version),
            ("POST", re.compile(r"/reset"), self.reset),
            ("POST", re.compile(r"/populate"), self.populate),
            ("GET", re.compile(r"/proxies"), self.proxy_index),
            ("POST", re.compile(r"/proxies"), self.proxy_create),
            ("GET", re.compile(r"/proxies/([^/]+)"), self.proxy_show),
            ("POST|PATCH", re.compile(r"/proxies/([^/]+)"), self.proxy_update),
            ("DELETE", re.compile(r"/proxies/([^/]+)"), self.proxy_delete),
            ("GET", re.compile(r"/proxies/([^/]+)/toxics"), self.toxic_index),
            ("POST", re.compile(r"/proxies/([^/]+)/toxics"), self.toxic_create),
            ("GET", re.compile(r"/proxies/([^/]+)/toxics/([^/]+)"), self.toxic_show),
            ("POST|PATCH", re.compile(r"/proxies/([^/]+)/toxics/([^/]+)"), self.toxic_update),
            ("DELETE", re.compile(r"/proxies/([^/]+)/toxics/([^/]+)"), self.toxic_delete),
        ]

    async def dispatch(self, method: str, path: str, body: bytes) -> tuple[int, Any]:
        """Status and JSON value (None: no body) for one request."""
        path = path.split("?", 1)[0].rstrip("/") or "/"
        allowed = False
        for methods, pattern, handler in self.routes:
            match = pattern.fullmatch(path)
            if match is None:
                continue
            allowed = True
            if method in methods.split("|"):
                args = [unquote(group) for group in match.groups()]
                try:
                    return await handler(*args, body=body)
                except ApiError as exc:
                    return exc.status, exc.to_json()
        if allowed:
            return 405, ApiError("method not allowed", 405).to_json()
        return 404, ApiError("not found", 404).to_json()

    async def version(self, body: bytes) -> tuple[int, Any]:
        """``GET /version``."""
        return 200, {"version": VERSION}

    async def reset(self, body: bytes) -> tuple[int, Any]:
        """``POST /reset``: enable all proxies, remove all toxics."""
        await self.collection.reset()
        return 204, None

    async def populate(self, body: bytes) -> tuple[int, Any]:
        """``POST /populate``: create or replace a list of proxies."""
        proxies = await self.collection.populate(_json(body))
        return 201, {"proxies": [proxy.to_json() for proxy in proxies]}

    async def proxy_index(self, body: bytes) -> tuple[int, Any]:
        """``GET /proxies``: every proxy by name, with its toxics."""
        return 200, {name: p.to_json() for name, p in self.collection.proxies.items()}

    async def proxy_create(self, body: bytes) -> tuple[int, Any]:
        """``POST /proxies``."""
        proxy = await self.collection.add(_json(body))
        return 201, proxy.to_json()

    async def proxy_show(self, name: str, body: bytes) -> tuple[int, Any]:
        """``GET /proxies/{proxy}``."""
        return 200, self.collection.get(name).to_json()

    async def proxy_update(self, name: str, body: bytes) -> tuple[int, Any]:
        """``POST /proxies/{proxy}``: listen, upstream, enabled."""
        proxy = self.collection.get(name)
        fields = _json(body)
        if not isinstance(fields, dict):
            raise ApiError("bad request body: expected a JSON object", 400)
        await proxy.update(fields)
        return 200, proxy.to_json()

    async def proxy_delete(self, name: str, body: bytes) -> tuple[int, Any]:
        """``DELETE /proxies/{proxy}``."""
        await self.collection.remove(name)
        return 204, None

    async def toxic_index(self, name: str, body: bytes) -> tuple[int, Any]:
        """``GET /proxies/{proxy}/toxics``."""
        return 200, [spec.to_json() for spec in self.collection.get(name).toxics.values()]

    async def toxic_create(self, name: str, body: bytes) -> tuple[int, Any]:
        """``POST /proxies/{proxy}/toxics`` (200, as Toxiproxy answers)."""
        return 200, self.collection.get(name).add_toxic(_json(body)).to_json()

    async def toxic_show(self, name: str, toxic: str, body: bytes) -> tuple[int, Any]:
        """``GET /proxies/{proxy}/toxics/{toxic}``."""
        return 200, self.collection.get(name).toxic(toxic).to_json()

    async def toxic_update(self, name: str, toxic: str, body: bytes) -> tuple[int, Any]:
        """``POST /proxies/{proxy}/toxics/{toxic}``: attributes, toxicity."""
        return 200, self.collection.get(name).update_toxic(toxic, _json(body)).to_json()

    async def toxic_delete(self, name: str, toxic: str, body: bytes) -> tuple[int, Any]:
        """``DELETE /proxies/{proxy}/toxics/{toxic}``."""
        self.collection.get(name).remove_toxic(toxic)
        return 204, None


def _json(body: bytes) -> Any:
    try:
        return json.loads(body or b"null")
    except ValueError as exc:
        raise ApiError(f"bad request body: {exc}", 400) from exc


async def serve_http(api: ToxiproxyApi, reader: asyncio.StreamReader,
                     writer: asyncio.StreamWriter) -> None:
    """Serve HTTP/1.1 requests on one API connection until the client closes it."""
    conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_BODY)
    try:
        while await _serve_one(api, conn, reader, writer):
            conn.start_next_cycle()
    except (h11.RemoteProtocolError, ConnectionError):
        pass
    finally:
        writer.close()


async def _serve_one(api: ToxiproxyApi, conn: h11.Connection, reader: asyncio.StreamReader,
                     writer: asyncio.StreamWriter) -> bool:
    request, body = None, bytearray()
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            data = await reader.read(65536)
            conn.receive_data(data)
            continue
        if event is h11.PAUSED or isinstance(event, h11.ConnectionClosed):
            return False
        if isinstance(event, h11.Request):
            request = event
        elif isinstance(event, h11.Data):
            body += event.data
            if len(body) > MAX_BODY:
                raise h11.RemoteProtocolError("request body too large")
        elif isinstance(event, h11.EndOfMessage):
            break
    assert request is not None
    status, value = await api.dispatch(request.method.decode(), request.target.decode(),
                                       bytes(body))
    await _respond(conn, writer, status, value)
    return conn.our_state is h11.DONE and conn.their_state is h11.DONE


async def _respond(conn: h11.Connection, writer: asyncio.StreamWriter, status: int,
                   value: Any) -> None:
    payload = b"" if value is None else json.dumps(value).encode()
    headers = []
    if status != 204:
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))]
    writer.write(conn.send(h11.Response(status_code=status, headers=headers)))
    if payload:
        writer.write(conn.send(h11.Data(data=payload)))
    writer.write(conn.send(h11.EndOfMessage()))
    await writer.drain()

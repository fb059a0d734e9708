"""Proxies and the collection of them: what the Toxiproxy API manipulates.

Everything here runs on the proxy server's event loop (the API handlers too), so no locks.
Listen addresses are loopback only (``loopback_only=False`` lifts that for upstreams, e.g. a
container network): this proxy is a test tool, not a service to expose.
"""

from __future__ import annotations

import asyncio
import ipaddress
import random
from typing import Any

from prsm_validate.errors import UsageProblem
from prsm_validate.faultproxy.link import Connection
from prsm_validate.faultproxy.toxics import (
    ToxicError,
    ToxicSpec,
    parse_attributes,
    parse_toxic,
    parse_toxicity,
)


class ApiError(UsageProblem):
    """An error the API answers with Toxiproxy's body ``{"error": ..., "status": ...}``."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.message, self.status = message, status

    def to_json(self) -> dict[str, Any]:
        """Toxiproxy's error body."""
        return {"error": self.message, "status": self.status}


def proxy_not_found() -> ApiError:
    """404 for an unknown proxy, in Toxiproxy's words."""
    return ApiError("proxy not found", 404)


def parse_address(text: Any, field: str) -> tuple[str, int]:
    """``host:port`` or ``[v6]:port`` as Go writes addresses; an empty host means loopback."""
    if not isinstance(text, str) or ":" not in text:
        raise ApiError(f"bad request body: {field} must be host:port, got {text!r}", 400)
    host, _, port = text.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    if not port.isdigit() or int(port) > 65535:
        raise ApiError(f"bad request body: {field} has no valid port: {text!r}", 400)
    return host, int(port)


def format_address(host: str, port: int) -> str:
    """An address as Go's ``net.Addr.String()`` writes it."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine's loopback interface."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Proxy:
    """One named proxy: a listener, its upstream, its toxics and live connections."""

    def __init__(self, collection: ProxyCollection, name: str, listen: str, upstream: str
                 ) -> None:
        self.collection = collection
        self.name, self.listen, self.upstream = name, listen, upstream
        self.enabled = False
        self.toxics: dict[str, ToxicSpec] = {}
        self.connections: set[Connection] = set()
        self.server: asyncio.base_events.Server | None = None

    @property
    def rng(self) -> random.Random:
        """The collection's random source (toxicity draws, jitter), seedable for replays."""
        return self.collection.rng

    def validate(self) -> None:
        """Refuse addresses this proxy may not use (400)."""
        host, _ = parse_address(self.listen, "listen")
        if self.collection.loopback_only and not is_loopback(host):
            raise ApiError(f"listen {self.listen!r} is not a loopback address; this proxy "
                           "listens on loopback only", 400)
        up_host, _ = parse_address(self.upstream, "upstream")
        if self.collection.loopback_only and not is_loopback(up_host):
            raise ApiError(f"upstream {self.upstream!r} is not a loopback address", 400)

    def upstream_address(self) -> tuple[str, int]:
        """Where accepted connections are forwarded."""
        return parse_address(self.upstream, "upstream")

    async def start(self) -> None:
        """Listen; ``listen`` then holds the bound address (port 0 becomes the real port)."""
        if self.enabled:
            return
        self.server, self.listen = await self._bind(self.listen)
        self.enabled = True

    async def _bind(self, listen: str) -> tuple[asyncio.base_events.Server, str]:
        """A listener on ``listen`` and its bound address; raises ApiError, changing nothing."""
        host, port = parse_address(listen, "listen")
        host = "127.0.0.1" if host == "localhost" else host
        loop = asyncio.get_running_loop()
        try:
            server = await loop.create_server(lambda: Connection(self).client, host, port)
        except OSError as exc:
            raise ApiError(f"listen {listen}: {exc.strerror or exc}", 500) from exc
        bound = server.sockets[0].getsockname()
        return server, format_address(bound[0], bound[1])

    async def stop(self) -> None:
        """Close the listener and drop every connection."""
        if not self.enabled:
            return
        self.enabled = False
        if self.server is not None:
            self.server.close()
            self.server = None
        self._drop_connections()

    def _drop_connections(self) -> None:
        for connection in list(self.connections):
            connection.drop()

    async def update(self, body: dict[str, Any]) -> None:
        """Apply ``POST /proxies/{name}``: new listen/upstream restart it, enabled flips it.

        All or nothing: the new listener is bound before the old one is closed, so an update
        that fails (the address is in use, a field is wrong) leaves the proxy as it was.
        """
        listen = body.get("listen", self.listen)
        upstream = body.get("upstream", self.upstream)
        enabled = body.get("enabled", self.enabled)
        if not isinstance(enabled, bool):
            raise ApiError("bad request body: enabled must be true or false", 400)
        moved = (listen, upstream) != (self.listen, self.upstream)
        if moved:
            Proxy(self.collection, self.name, listen, upstream).validate()
        if not enabled:
            await self.stop()
            self.listen, self.upstream = listen, upstream
            return
        rebind = listen != self.listen or not self.enabled
        server, bound = await self._bind(listen) if rebind else (self.server, self.listen)
        # Nothing below can fail: the proxy moves as a whole.
        if moved:
            self._drop_connections()
        if rebind and self.server is not None:
            self.server.close()
        self.server, self.listen, self.upstream, self.enabled = server, bound, upstream, True

    def track(self, connection: Connection) -> None:
        """A connection was accepted."""
        self.connections.add(connection)

    def untrack(self, connection: Connection) -> None:
        """A connection ended."""
        self.connections.discard(connection)

    def toxics_of(self, stream: str) -> list[ToxicSpec]:
        """Toxics acting on ``stream``, in the order they were added (the chain order)."""
        return [spec for spec in self.toxics.values() if spec.stream == stream]

    def toxic(self, name: str) -> ToxicSpec:
        """Toxic ``name`` or 404."""
        if name not in self.toxics:
            raise ApiError("toxic not found", 404)
        return self.toxics[name]

    def add_toxic(self, body: Any) -> ToxicSpec:
        """Apply ``POST /proxies/{name}/toxics``; live connections get it at once."""
        try:
            spec = parse_toxic(body)
        except ToxicError as exc:
            raise ApiError(str(exc), exc.status) from exc
        if spec.name in self.toxics:
            raise ApiError("toxic already exists", 409)
        self.toxics[spec.name] = spec
        for connection in list(self.connections):
            connection.link(spec.stream).add_toxic(spec, self.rng)
        return spec

    def update_toxic(self, name: str, body: Any) -> ToxicSpec:
        """Apply ``POST /proxies/{name}/toxics/{toxic}`` (attributes and toxicity)."""
        spec = self.toxic(name)
        if not isinstance(body, dict):
            raise ApiError("bad request body: expected a JSON object", 400)
        try:
            attributes = parse_attributes(spec.type, body.get("attributes"), spec.attributes)
            toxicity = parse_toxicity(body.get("toxicity", spec.toxicity))
        except ToxicError as exc:
            raise ApiError(str(exc), exc.status) from exc
        spec.attributes, spec.toxicity = attributes, toxicity
        for connection in list(self.connections):
            connection.link(spec.stream).replace_toxic(spec, self.rng)
        return spec

    def remove_toxic(self, name: str) -> None:
        """Apply ``DELETE /proxies/{name}/toxics/{toxic}``."""
        spec = self.toxic(name)
        del self.toxics[name]
        for connection in list(self.connections):
            connection.link(spec.stream).remove_toxic(name)

    def remove_all_toxics(self) -> None:
        """Remove every toxic (``POST /reset``)."""
        for name in list(self.toxics):
            self.remove_toxic(name)

    def to_json(self) -> dict[str, Any]:
        """Toxiproxy's JSON form of a proxy, with its toxics."""
        return {"name": self.name, "listen": self.listen, "upstream": self.upstream,
                "enabled": self.enabled, "toxics": [t.to_json() for t in self.toxics.values()]}


class ProxyCollection:
    """Every proxy of one server, by name."""

    def __init__(self, seed: int | None = None, loopback_only: bool = True) -> None:
        self.proxies: dict[str, Proxy] = {}
        self.rng = random.Random(seed)
        self.loopback_only = loopback_only

    def get(self, name: str) -> Proxy:
        """Proxy ``name`` or 404."""
        if name not in self.proxies:
            raise proxy_not_found()
        return self.proxies[name]

    def new_proxy(self, body: Any, where: str = "") -> tuple[Proxy, bool]:
        """A validated, not yet started proxy from a JSON body, and whether to enable it."""
        if not isinstance(body, dict):
            raise ApiError("bad request body: expected a JSON object", 400)
        for field in ("name", "upstream"):
            if not isinstance(body.get(field), str) or not body[field]:
                raise ApiError(f"missing required field: {field}{where}", 400)
        enabled = body.get("enabled", True)
        if not isinstance(enabled, bool):
            raise ApiError("bad request body: enabled must be true or false", 400)
        proxy = Proxy(self, body["name"], body.get("listen") or "127.0.0.1:0", body["upstream"])
        proxy.validate()
        return proxy, enabled

    async def add(self, body: Any) -> Proxy:
        """Apply ``POST /proxies``: create (409 if the name is taken) and start if enabled."""
        proxy, enabled = self.new_proxy(body)
        if proxy.name in self.proxies:
            raise ApiError("proxy already exists", 409)
        if enabled:
            await proxy.start()
        self.proxies[proxy.name] = proxy
        return proxy

    async def remove(self, name: str) -> None:
        """Apply ``DELETE /proxies/{name}``: stop it and forget it."""
        proxy = self.get(name)
        await proxy.stop()
        del self.proxies[name]

    async def populate(self, body: Any) -> list[Proxy]:
        """Apply ``POST /populate``: validate all, then create or replace each proxy whose
        listen or upstream differ (an identical one is kept as it is)."""
        if not isinstance(body, list):
            raise ApiError("bad request body: expected a JSON array of proxies", 400)
        wanted = [self.new_proxy(item, f" at proxy {i + 1}") for i, item in enumerate(body)]
        names = [proxy.name for proxy, _ in wanted]
        if len(set(names)) != len(names):
            raise ApiError("bad request body: duplicate proxy name", 400)
        return [await self._add_or_replace(proxy, enabled) for proxy, enabled in wanted]

    async def _add_or_replace(self, proxy: Proxy, enabled: bool) -> Proxy:
        existing = self.proxies.get(proxy.name)
        if existing is not None:
            if (existing.listen, existing.upstream) == (proxy.listen, proxy.upstream):
                return existing
            await self.remove(proxy.name)
        if enabled:
            await proxy.start()
        self.proxies[proxy.name] = proxy
        return proxy

    async def reset(self) -> None:
        """Apply ``POST /reset``: enable every proxy, remove every toxic."""
        for proxy in self.proxies.values():
            await proxy.start()
            proxy.remove_all_toxics()

    async def close(self) -> None:
        """Stop every proxy (server shutdown)."""
        for proxy in list(self.proxies.values()):
            await proxy.stop()
        self.proxies.clear()

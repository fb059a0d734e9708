"""A small synchronous client of the Toxiproxy HTTP API, for the harness.

Works against :class:`~prsm_validate.faultproxy.server.ProxyServer` or a real Toxiproxy.
Every non-2xx answer raises :class:`ProxyApiError` with the server's status and message.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx

from prsm_validate.errors import HarnessError


class ProxyApiError(HarnessError):
    """A Toxiproxy API error: ``status`` (404 unknown, 409 duplicate, 400 bad input, ...)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status, self.message = status, message


class ProxyClient:
    """Create and delete proxies, add and remove toxics, enable, disable, reset."""

    def __init__(self, url: str, timeout_s: float = 10.0) -> None:
        self._http = httpx.Client(base_url=url, timeout=timeout_s, trust_env=False)

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._http.close()

    def __enter__(self) -> ProxyClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        response = self._http.request(method, path, json=body)
        if response.status_code >= 400:
            try:
                message = response.json().get("error", response.text)
            except ValueError:
                message = response.text
            raise ProxyApiError(response.status_code, message)
        return response.json() if response.content else None

    def version(self) -> str:
        """The server's version string."""
        return self._call("GET", "/version")["version"]

    def proxies(self) -> dict[str, dict[str, Any]]:
        """Every proxy by name, with its toxics."""
        return self._call("GET", "/proxies")

    def create_proxy(self, name: str, upstream: str, listen: str = "127.0.0.1:0",
                     enabled: bool = True) -> dict[str, Any]:
        """Create a proxy; the answer's ``listen`` is the bound address (port 0 resolved)."""
        return self._call("POST", "/proxies", {"name": name, "listen": listen,
                                               "upstream": upstream, "enabled": enabled})

    def populate(self, proxies: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Create or replace a list of proxies."""
        return self._call("POST", "/populate", proxies)["proxies"]

    def proxy(self, name: str) -> dict[str, Any]:
        """One proxy with its toxics."""
        return self._call("GET", f"/proxies/{quote(name, safe='')}")

    def update_proxy(self, name: str, **fields: Any) -> dict[str, Any]:
        """Change ``listen``, ``upstream`` or ``enabled``."""
        return self._call("POST", f"/proxies/{quote(name, safe='')}", fields)

    def enable(self, name: str) -> dict[str, Any]:
        """Listen again."""
        return self.update_proxy(name, enabled=True)

    def disable(self, name: str) -> dict[str, Any]:
        """Close the listener and drop every connection."""
        return self.update_proxy(name, enabled=False)

    def delete_proxy(self, name: str) -> None:
        """Delete a proxy (its connections are dropped)."""
        self._call("DELETE", f"/proxies/{quote(name, safe='')}")

    def toxics(self, proxy: str) -> list[dict[str, Any]]:
        """The toxics of a proxy."""
        return self._call("GET", f"/proxies/{quote(proxy, safe='')}/toxics")

    def add_toxic(self, proxy: str, type: str, attributes: dict[str, int] | None = None,
                  stream: str = "downstream", toxicity: float = 1.0,
                  name: str | None = None) -> dict[str, Any]:
        """Add a toxic (live connections get it at once); the name defaults to type_stream."""
        body = {"type": type, "stream": stream, "toxicity": toxicity,
                "attributes": attributes or {}, "name": name or f"{type}_{stream}"}
        return self._call("POST", f"/proxies/{quote(proxy, safe='')}/toxics", body)

    def update_toxic(self, proxy: str, name: str, attributes: dict[str, int] | None = None,
                     toxicity: float | None = None) -> dict[str, Any]:
        """Change a toxic's attributes or toxicity."""
        body: dict[str, Any] = {"attributes": attributes or {}}
        if toxicity is not None:
            body["toxicity"] = toxicity
        path = f"/proxies/{quote(proxy, safe='')}/toxics/{quote(name, safe='')}"
        return self._call("POST", path, body)

    def remove_toxic(self, proxy: str, name: str) -> None:
        """Remove a toxic."""
        self._call("DELETE", f"/proxies/{quote(proxy, safe='')}/toxics/{quote(name, safe='')}")

    def reset(self) -> None:
        """Enable every proxy and remove every toxic."""
        self._call("POST", "/reset")

    @contextlib.contextmanager
    def toxic(self, proxy: str, type: str, attributes: dict[str, int] | None = None,
              stream: str = "downstream", toxicity: float = 1.0,
              name: str | None = None) -> Iterator[dict[str, Any]]:
        """A toxic for the duration of a ``with`` block, removed on exit (also on error)."""
        toxic = self.add_toxic(proxy, type, attributes, stream, toxicity, name)
        try:
            yield toxic
        finally:
            self.remove_toxic(proxy, toxic["name"])

    @contextlib.contextmanager
    def down(self, proxy: str) -> Iterator[None]:
        """The proxy disabled for the duration of a ``with`` block."""
        self.disable(proxy)
        try:
            yield
        finally:
            self.enable(proxy)

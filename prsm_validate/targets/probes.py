"""Readiness probes by protocol: each returns True when the server answers correctly."""

from __future__ import annotations

import json
import socket
import urllib.request


def redis_ping(host: str, port: int, timeout_s: float = 0.5) -> bool:
    """RESP ``PING`` answered with ``+PONG``."""
    with socket.create_connection((host, port), timeout_s) as sock:
        sock.sendall(b"*1\r\n$4\r\nPING\r\n")
        return sock.recv(64).startswith(b"+PONG")


def postgres_query(dsn: str, timeout_s: float = 1.0) -> bool:
    """A connection that runs ``SELECT 1``."""
    import psycopg

    with psycopg.connect(dsn, connect_timeout=max(1, int(timeout_s))) as conn:
        return conn.execute("SELECT 1").fetchone() == (1,)


# Loopback probes must never go through a proxy taken from the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_ok(url: str, timeout_s: float = 1.0) -> bool:
    """GET ``url`` answers 2xx."""
    try:
        with _OPENER.open(url, timeout=timeout_s) as response:
            return 200 <= response.status < 300
    except urllib.error.HTTPError:
        return False
    except urllib.error.URLError as exc:
        raise ConnectionError(str(exc.reason)) from None


def http_component_up(url: str, component: str, timeout_s: float = 2.0) -> bool:
    """GET ``url`` answers 2xx with JSON whose ``components.<component>.status`` is up."""
    try:
        with _OPENER.open(url, timeout=timeout_s) as response:
            body = json.loads(response.read())
    except urllib.error.HTTPError:
        return False
    except urllib.error.URLError as exc:
        raise ConnectionError(str(exc.reason)) from None
    return body.get("components", {}).get(component, {}).get("status") == "up"


def tcp_open(host: str, port: int, timeout_s: float = 0.5) -> bool:
    """A TCP connection is accepted."""
    with socket.create_connection((host, port), timeout_s):
        return True

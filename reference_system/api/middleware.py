"""Pure ASGI middleware: request metrics, body size limit, rate limits (per user on a plan,
else per client address).

Pure ASGI (not ``BaseHTTPMiddleware``) keeps the per-request overhead to a few microseconds,
which matters for the health p99 < 10 ms target.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any

from fastapi import HTTPException
from prometheus_client import CollectorRegistry, Counter, Histogram

from reference_system.api.errors import error_body

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


async def send_json(send: Send, status: int, body: dict[str, Any],
                    headers: list[tuple[bytes, bytes]] | None = None) -> None:
    """Send a complete JSON response from middleware."""
    payload = json.dumps(body).encode()
    head = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": head + (headers or [])})
    await send({"type": "http.response.body", "body": payload})


class RequestMetrics:
    """Counts requests and observes latency per method, route template and status."""

    def __init__(self, app: ASGIApp, registry: CollectorRegistry) -> None:
        self.app = app
        self.requests = Counter("http_requests_total", "HTTP requests served",
                                ["method", "route", "status"], registry=registry)
        self.latency = Histogram("http_request_duration_seconds", "HTTP request latency",
                                 ["method", "route"], buckets=_BUCKETS, registry=registry)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        started = time.perf_counter()

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            self.latency.labels(scope["method"], route).observe(time.perf_counter() - started)
            self.requests.labels(scope["method"], route, str(status)).inc()


class BodyTooLarge(HTTPException):
    """The request body exceeded the configured limit. An HTTP 413 exception: FastAPI
    re-raises those from its body parsing (any other exception there is its 400, which a
    chunked body without Content-Length got), and the error handlers answer it structured."""

    def __init__(self, max_bytes: int = 0) -> None:
        super().__init__(413, f"request body exceeds {max_bytes} bytes")


class BodyLimit:
    """Answers 413 when a request body is larger than ``max_bytes``."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", ())).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._reject(send)
            return
        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise BodyTooLarge(self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await self._reject(send)

    async def _reject(self, send: Send) -> None:
        message = f"request body exceeds {self.max_bytes} bytes"
        await send_json(send, 413, error_body(413, message))


Limit = tuple[float, float]  # (requests per second, burst)


class RateLimit:
    """Token buckets: one per user on a plan (``user_limits``, the user proven by the request's
    token via ``subject``), else one per client address at ``per_second``; answers 429 with
    Retry-After (whole seconds) and the structured body when the bucket is empty. Per API
    process; /health and /metrics are never limited."""

    def __init__(self, app: ASGIApp, per_second: float, burst: float | None = None,
                 user_limits: Mapping[str, Limit] | None = None,
                 subject: Callable[[str], str | None] | None = None) -> None:
        self.app = app
        self.rate = per_second
        self.burst = burst or max(1.0, per_second)
        self.user_limits = dict(user_limits or {})
        self.subject = subject  # Authorization header -> verified username, or None
        self.buckets: dict[str, tuple[float, float]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        exempt = scope["type"] != "http" or scope["path"] in ("/health", "/metrics")
        key, limit = ("", None) if exempt else self._limit(scope)
        if limit is None:
            await self.app(scope, receive, send)
            return
        wait = self._take(key, time.monotonic(), *limit)
        if wait > 0:
            headers = [(b"retry-after", str(math.ceil(wait)).encode())]
            await send_json(send, 429, error_body(429, "rate limit exceeded"), headers)
            return
        await self.app(scope, receive, send)

    def _limit(self, scope: Scope) -> tuple[str, Limit | None]:
        """The bucket of this request and its limit (None: not limited)."""
        if self.user_limits and self.subject is not None:
            header = dict(scope.get("headers", ())).get(b"authorization", b"")
            user = self.subject(header.decode("latin-1")) if header else None
            if user in self.user_limits:
                return f"user:{user}", self.user_limits[user]
        client = (scope.get("client") or ("unknown", 0))[0]
        return f"client:{client}", ((self.rate, self.burst) if self.rate > 0 else None)

    def _take(self, key: str, now: float, rate: float | None = None,
              burst: float | None = None) -> float:
        """Take one token; return 0 on success or the seconds until one is available."""
        rate, burst = rate or self.rate, burst or self.burst
        tokens, last = self.buckets.get(key, (burst, now))
        tokens = min(burst, tokens + (now - last) * rate)
        if tokens >= 1:
            self.buckets[key] = (tokens - 1, now)
            return 0.0
        self.buckets[key] = (tokens, now)
        return (1 - tokens) / rate

"""The integration client: each API operation, recorded in a history (invoke, then ok/fail/info).

``ok`` = 2xx; ``fail`` = a definite refusal (4xx: the operation did not happen); ``info`` =
unknown outcome (timeout, connection error, 5xx). After ``info`` the client continues as a new
process, as Jepsen does, because the old one may still have an operation in flight.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import httpx

from prsm_validate.client.profiles import route
from prsm_validate.history import History
from prsm_validate.targets.base import Credentials

_process_ids = itertools.count()


@dataclass
class Response:
    """What an operation returned."""

    status: int
    body: Any
    headers: httpx.Headers
    elapsed_ms: float

    @property
    def ok(self) -> bool:
        """2xx."""
        return 200 <= self.status < 300


class ApiClient:
    """A synchronous client for one target, speaking its API profile."""

    def __init__(self, base_url: str, profile: str, history: History | None = None,
                 timeout_s: float = 10.0, metrics: Any = None) -> None:
        self.profile = profile
        self.history = history
        self.metrics = metrics  # a MetricStore: http_req_duration / http_req_failed per op
        self.http = httpx.Client(base_url=base_url, timeout=timeout_s, trust_env=False)
        self.token: str | None = None
        self.process = next(_process_ids)

    def close(self) -> None:
        """Release the connection pool."""
        self.http.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def call(self, operation: str, body: Any = None, *, token: str | None = None,
             headers: dict[str, str] | None = None, **path: str) -> Response:
        """Perform ``operation`` (path placeholders as keywords), recording it."""
        r = route(self.profile, operation)
        url = r.path.format(**path)
        sent = dict(headers or {})
        bearer = token if token is not None else self.token
        if r.auth and bearer and "Authorization" not in sent:
            sent["Authorization"] = f"Bearer {bearer}"
        value = _recorded_value(operation, body, path)
        return self._send(operation, r.method, url, body, sent, value)

    def _send(self, f: str, method: str, url: str, body: Any, headers: dict[str, str],
              value: Any) -> Response:
        process = self.process
        self._record(process, "invoke", f, value, url)
        try:
            raw = self.http.request(method, url, json=body, headers=headers)
        except httpx.HTTPError as exc:
            self._record(process, "info", f, {"error": type(exc).__name__}, url)
            self._measure(f, None, True)
            self.process = next(_process_ids)
            raise
        response = Response(raw.status_code, _json(raw), raw.headers,
                            raw.elapsed.total_seconds() * 1000)
        self._measure(f, response.elapsed_ms, response.status >= 500)
        kind = "ok" if response.ok else ("info" if response.status >= 500 else "fail")
        recorded = {"status": response.status, "body": redact(response.body)}
        self._record(process, kind, f, recorded, url)
        if kind == "info":
            self.process = next(_process_ids)
        return response

    def _measure(self, f: str, elapsed_ms: float | None, failed: bool) -> None:
        # Server errors and transport failures count as failed; a 4xx is a valid answer.
        if self.metrics is None:
            return
        if elapsed_ms is not None:
            self.metrics.trend("http_req_duration", elapsed_ms, name=f)
        self.metrics.rate("http_req_failed", failed, name=f)

    def _record(self, process: int, kind: str, f: str, value: Any, endpoint: str) -> None:
        if self.history is not None:
            self.history.append(process, kind, f, value, endpoint=endpoint)  # type: ignore[arg-type]

    def login(self, credentials: Credentials) -> Response:
        """Log in and keep the bearer token for later calls."""
        response = self.call("login", {"username": credentials.username,
                                       "password": credentials.password})
        if response.ok:
            self.token = response.body["access_token"]
        return response


def _json(raw: httpx.Response) -> Any:
    try:
        return raw.json()
    except ValueError:
        return raw.text


SECRET_KEYS = ("password", "token", "secret")


def redact(value: Any) -> Any:
    """``value`` with every secret-looking field (password, token, secret) masked."""
    if isinstance(value, dict):
        return {k: ("***" if any(s in str(k).lower() for s in SECRET_KEYS) else redact(v))
                for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def _recorded_value(operation: str, body: Any, path: dict[str, str]) -> Any:
    """The operation's value for the history, never containing a secret."""
    if path:
        return redact({**path, **(body if isinstance(body, dict) else {})})
    return redact(body)

"""The integration client: each API operation, recorded in a history (invoke, then ok/fail/info).

``ok`` = 2xx; ``fail`` = a definite refusal (4xx: the operation did not happen); ``info`` =
unknown outcome (timeout, connection error, 5xx). After ``info`` the client continues as a new
process, as Jepsen does, because the old one may still have an operation in flight.

Every operation is timed, error paths too (``http_req_duration{name, status}``; a timeout or
refused connection is recorded with ``status:error`` and its elapsed time). Every response is
checked against the target's OpenAPI document when there is one (a finding raises
:class:`~prsm_validate.errors.ContractViolation`). A timeout or connection error raises
:class:`Unavailable`, one line naming operation, method, path, timeout and elapsed time.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from prsm_validate.client.profiles import Profile, profile
from prsm_validate.errors import (
    AVAILABILITY,
    CONTRACT,
    SECURITY,
    ContractViolation,
    PrsmFailure,
    excerpt,
)
from prsm_validate.history import History
from prsm_validate.targets.base import Credentials

if TYPE_CHECKING:
    from prsm_validate.client.openapi import Contract
    from prsm_validate.targets.base import Deployment



class Unavailable(PrsmFailure, httpx.TransportError):
    """No answer: a timeout, a refused, reset or dropped connection (class availability)."""

    failure_class = AVAILABILITY


class UnexpectedStatus(PrsmFailure, AssertionError):
    """An answer with a status the scenario did not expect (5xx: availability; access granted
    where 401/403 was due: security; else contract)."""


class Body(dict):  # type: ignore[type-arg]
    """A JSON object from a response: a missing field is a contract finding naming the
    operation and the body, not a bare KeyError."""

    __slots__ = ("where",)

    def __init__(self, fields: dict[str, Any], where: str = "response") -> None:
        super().__init__(fields)
        self.where = where

    def __missing__(self, key: Any) -> Any:
        raise ContractViolation(f"{self.where}: no field {key!r} in {excerpt(dict(self))}")


@dataclass
class Response:
    """What an operation returned."""

    status: int
    body: Any
    headers: httpx.Headers
    elapsed_ms: float
    operation: str = ""
    method: str = ""
    path: str = ""

    @property
    def ok(self) -> bool:
        """2xx."""
        return 200 <= self.status < 300

    def expect(self, *statuses: int) -> Response:
        """This response if its status is one of ``statuses`` (default: any 2xx), else fail
        with one line: operation, status and a body excerpt."""
        if (self.status in statuses) if statuses else self.ok:
            return self
        wanted = " or ".join(str(s) for s in statuses) if statuses else "2xx"
        granted = self.ok and bool(statuses) and set(statuses) <= {401, 403}
        raise UnexpectedStatus(
            f"{self.operation} ({self.method} {self.path}): expected HTTP {wanted}, got "
            f"{self.status}; body: {excerpt(self.body)}",
            AVAILABILITY if self.status >= 500 else SECURITY if granted else CONTRACT)


class _Unrecorded:
    """The operation recorder of a client without a history: records nothing."""

    def __enter__(self) -> _Unrecorded:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def ok(self, value: Any = None, **extra: Any) -> None:
        """Nothing to record."""

    fail = info = ok


_UNRECORDED = _Unrecorded()


class ApiClient:
    """A synchronous client for one target, speaking its API profile. Every call is an
    operation of its history (:meth:`History.operation`); process ids come from the history,
    so two clients never share one."""

    def __init__(self, base_url: str, api_profile: str | Profile, history: History | None = None,
                 timeout_s: float = 10.0, metrics: Any = None,
                 contract: Contract | None = None) -> None:
        self.api = profile(api_profile)
        self.profile = self.api.name
        self.history = history
        self.metrics = metrics  # a MetricStore: http_req_duration / http_req_failed per op
        self.contract = contract
        self.timeout_s = timeout_s
        self.http = httpx.Client(base_url=base_url, timeout=timeout_s, trust_env=False)
        self.token: str | None = None
        self.process = history.new_process() if history is not None else 0

    @classmethod
    def for_deployment(cls, deployment: Deployment, history: History | None = None,
                       timeout_s: float = 10.0, metrics: Any = None,
                       base_url: str | None = None) -> ApiClient:
        """A client for ``deployment``: its profile (with overrides) and its contract."""
        return cls(base_url or deployment.api_url, deployment.api_profile or deployment.profile,
                   history, timeout_s, metrics, deployment.contract)

    def close(self) -> None:
        """Release the connection pool."""
        self.http.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def call(self, operation: str, body: Any = None, *, token: str | None = None,
             headers: dict[str, str] | None = None, timeout_s: float | None = None,
             **path: str) -> Response:
        """Perform ``operation`` (path placeholders as keywords), recording it."""
        r = self.api.route(operation)
        url = r.path.format(**path) if path else r.path
        sent = dict(headers or {})
        bearer = token if token is not None else self.token
        if r.auth and bearer and "Authorization" not in sent:
            sent["Authorization"] = f"Bearer {bearer}"
        value = _recorded_value(operation, body, path)
        return self._send(operation, r.method, r.path, url, body, sent, value, timeout_s)

    def _send(self, f: str, method: str, template: str, url: str, body: Any,
              headers: dict[str, str], value: Any, timeout_s: float | None) -> Response:
        started = time.perf_counter()
        timeout = timeout_s or self.timeout_s
        with self._operation(f, value, url) as op:
            try:
                raw = self.http.request(method, url, json=body, headers=headers,
                                        timeout=timeout)
            except httpx.HTTPError as exc:
                elapsed = time.perf_counter() - started
                op.info({"error": type(exc).__name__}, endpoint=url)
                self._measure(f, elapsed * 1000, True, "error")
                self._next_process()
                raise Unavailable(transport_message(exc, f, method, template, timeout,
                                                    elapsed)) from exc
            elapsed_ms = (time.perf_counter() - started) * 1000
            response = Response(raw.status_code, parse_body(raw, f), raw.headers, elapsed_ms,
                                f, method, template)
            self._measure(f, elapsed_ms, response.status >= 500, str(response.status))
            recorded = {"status": response.status, "body": redact(response.body)}
            if response.ok:
                op.ok(recorded, endpoint=url)
            elif response.status < 500:
                op.fail(recorded, endpoint=url)
            else:
                op.info(recorded, endpoint=url)
                self._next_process()
        self._check_contract(response, raw)
        return response

    def _operation(self, f: str, value: Any, url: str) -> Any:
        """This call in the history (invoke, then ok/fail/info), or nothing without one."""
        if self.history is None:
            return _UNRECORDED
        return self.history.operation(self.process, f, value, endpoint=url)

    def _next_process(self) -> None:
        """After an unknown outcome the client goes on as a new process (Jepsen)."""
        if self.history is not None:
            self.process = self.history.new_process()

    def _check_contract(self, response: Response, raw: httpx.Response) -> None:
        # A 5xx is an availability failure of its own, whatever the document says of it.
        if self.contract is None or response.status >= 500:
            return
        finding = self.contract.check(response.operation, response.method, response.path,
                                      response.status, raw.headers.get("content-type", ""),
                                      response.body)
        if finding is not None:
            raise ContractViolation(str(finding))

    def _measure(self, f: str, elapsed_ms: float, failed: bool, status: str) -> None:
        # Server errors and transport failures count as failed; a 4xx is a valid answer.
        if self.metrics is None:
            return
        self.metrics.trend("http_req_duration", elapsed_ms, name=f, status=status)
        self.metrics.rate("http_req_failed", failed, name=f)

    def login(self, credentials: Credentials) -> Response:
        """Log in and keep the bearer token for later calls."""
        response = self.call("login", {"username": credentials.username,
                                       "password": credentials.password})
        if response.ok:
            self.token = response.body["access_token"]
        return response


_TRANSPORT_WORDS = (
    (httpx.TimeoutException, "timeout"),
    (httpx.ConnectError, "connection refused"),
    (httpx.RemoteProtocolError, "connection dropped"),
    (httpx.ReadError, "connection reset"),
    (httpx.WriteError, "connection reset"),
)


def transport_message(exc: BaseException, operation: str, method: str, path: str,
                      timeout_s: float, elapsed_s: float) -> str:
    """One line for a request that got no answer."""
    what = next((w for t, w in _TRANSPORT_WORDS if isinstance(exc, t)), type(exc).__name__)
    return (f"{what} on {operation} after {elapsed_s:.1f} s ({method} {path}, timeout "
            f"{timeout_s:g} s)")


def parse_body(raw: httpx.Response, operation: str) -> Any:
    """A response's JSON (objects as :class:`Body`), or its text when it is not JSON."""
    where = f"{operation} (HTTP {raw.status_code})"
    try:
        return json.loads(raw.content, object_hook=lambda fields: Body(fields, where))
    except ValueError:
        return raw.text


# Only secrets are masked: token values, passwords, authorization headers, keys.
_SECRET_NAMES = frozenset({
    "password", "passwd", "secret", "token", "access_token", "refresh_token", "id_token",
    "authorization", "api_key", "apikey", "client_secret", "jwt", "private_key",
    "confirm_password", "new_password", "old_password", "cookie", "set_cookie"})
_SECRET_SUFFIXES = ("_password", "_secret", "_token", "_api_key")


def is_secret(key: Any) -> bool:
    """True for a field name that holds a secret (``max_tokens``, ``token_type`` do not)."""
    name = str(key).lower().replace("-", "_")
    return name in _SECRET_NAMES or name.endswith(_SECRET_SUFFIXES)


def redact(value: Any) -> Any:
    """``value`` with every secret field masked (see :func:`is_secret`)."""
    if isinstance(value, dict):
        return {k: ("***" if is_secret(k) else redact(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def _recorded_value(operation: str, body: Any, path: dict[str, str]) -> Any:
    """The operation's value for the history, never containing a secret."""
    if path:
        return redact({**path, **(body if isinstance(body, dict) else {})})
    return redact(body)

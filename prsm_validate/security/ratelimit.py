"""The rate limit scenario's helpers (OWASP API4): a bounded burst and the reading of a
``Retry-After`` header (RFC 9110 10.2.3: a number of seconds or an HTTP date)."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """The seconds a ``Retry-After`` value asks to wait, or None when it is neither a
    non-negative integer nor an HTTP date."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; a zone-less one is not an HTTP date
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


@dataclass
class Burst:
    """What a burst saw: the answers served before the first refusal, that refusal (None if
    none came), the requests sent and the seconds they took."""

    served: int
    refused: Any
    sent: int
    elapsed_s: float

    def allowance(self, per_second: float, burst: float) -> float:
        """The most requests a limit of ``per_second`` and ``burst`` serves in this time."""
        return burst + per_second * self.elapsed_s


def burst(call: Callable[[], Any], max_requests: int, max_s: float) -> Burst:
    """Call ``call`` until it answers 429, ``max_requests`` are sent or ``max_s`` pass; any
    other non-2xx answer is returned to the caller as the refusal too (it is judged there)."""
    started, served = time.monotonic(), 0
    for sent in range(1, max_requests + 1):
        response = call()
        if not 200 <= response.status < 300:
            return Burst(served, response, sent, time.monotonic() - started)
        served += 1
        if time.monotonic() - started > max_s:
            break
    return Burst(served, None, served, time.monotonic() - started)

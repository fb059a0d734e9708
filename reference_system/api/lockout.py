"""Login brute-force protection: after ``max_failures`` failed logins for one username within
``window_s``, that username's logins are refused with 429 and Retry-After for ``lock_s``
(whatever the password). A successful login clears the count. Unknown usernames are counted
like known ones, so the lockout does not tell them apart either. Per API process; the table is
bounded (the oldest entries go first)."""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from dataclasses import dataclass

MAX_TRACKED = 10_000


@dataclass
class _Record:
    failures: int
    first_at: float
    locked_until: float = 0.0


class LoginGuard:
    """Failed-login counts per username."""

    def __init__(self, max_failures: int = 5, window_s: float = 60.0, lock_s: float = 60.0
                 ) -> None:
        self.max_failures, self.window_s, self.lock_s = max_failures, window_s, lock_s
        self._records: OrderedDict[str, _Record] = OrderedDict()

    def retry_after(self, username: str, now: float | None = None) -> int:
        """Seconds until ``username`` may try again (0: now)."""
        now = time.monotonic() if now is None else now
        record = self._records.get(username)
        if record is None or record.locked_until <= now:
            return 0
        return max(1, math.ceil(record.locked_until - now))

    def failed(self, username: str, now: float | None = None) -> None:
        """Count a failed login; lock the username at the limit."""
        now = time.monotonic() if now is None else now
        record = self._records.get(username)
        if record is None or now - record.first_at > self.window_s:
            record = _Record(0, now)
        record.failures += 1
        if record.failures >= self.max_failures:
            record.locked_until = now + self.lock_s
            record.failures, record.first_at = 0, now
        self._records[username] = record
        self._records.move_to_end(username)
        while len(self._records) > MAX_TRACKED:
            self._records.popitem(last=False)

    def succeeded(self, username: str) -> None:
        """A correct login clears the username's count."""
        self._records.pop(username, None)

    def clear(self, username: str, now: float | None = None) -> bool:
        """Lift ``username``'s lockout and count (an admin's unlock); True if it was locked."""
        locked = self.retry_after(username, now) > 0
        self._records.pop(username, None)
        return locked

"""Histories: every client operation recorded as invoke/ok/fail/info events (DESIGN.md 8).

One event per JSON line with Jepsen-compatible fields ``index, time, process, type, f, value``
plus optional ``node`` and ``endpoint``. ``time`` is monotonic nanoseconds since the history
began. An ``info`` completion means the outcome is unknown; that process is never reused.

Clients record through :meth:`History.operation`, which turns any exception (timeout,
connection reset, a bug) into an ``info`` completion, so no operation is ever lost::

    with history.operation(process, "write", 3) as op:
        response = client.write(3)
        op.ok() if response.ok else op.fail(response.status)
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from prsm_validate.errors import HarnessError

EventType = Literal["invoke", "ok", "fail", "info"]
EVENT_TYPES: tuple[str, ...] = ("invoke", "ok", "fail", "info")
SAME: Any = object()  # "the completion value is the invocation's value"


@dataclass(frozen=True)
class Event:
    """One history event: an invocation or the completion of one."""

    index: int
    time: int
    process: int
    type: EventType
    f: str
    value: Any = None
    node: str | None = None
    endpoint: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The event as a JSON object, omitting empty optional fields."""
        data = asdict(self)
        extra = data.pop("extra")
        data = {k: v for k, v in data.items() if v is not None or k == "value"}
        data.update(extra)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Event:
        """Build an event from a JSON object, keeping unknown keys in ``extra``."""
        known = {"index", "time", "process", "type", "f", "value", "node", "endpoint"}
        if data.get("type") not in EVENT_TYPES:
            raise ValueError(f"event type must be one of {EVENT_TYPES}: {data!r}")
        return cls(
            index=int(data["index"]),
            time=int(data.get("time", 0)),
            process=data["process"],
            type=data["type"],
            f=str(data["f"]),
            value=data.get("value"),
            node=data.get("node"),
            endpoint=data.get("endpoint"),
            extra={k: v for k, v in data.items() if k not in known},
        )


class ProcessCrashed(HarnessError, RuntimeError):
    """A process whose last operation ended in ``info`` may not be used again."""


class OperationRecorder:
    """One invoked operation awaiting its completion; see :meth:`History.operation`."""

    def __init__(self, history: History, invocation: Event,
                 suppress: tuple[type[BaseException], ...]) -> None:
        self.history = history
        self.invocation = invocation
        self.completion: Event | None = None
        self._suppress = suppress

    def ok(self, value: Any = SAME, **extra: Any) -> Event:
        """Record success; ``value`` defaults to the invocation's value (Jepsen style)."""
        return self._complete("ok", value, extra)

    def fail(self, value: Any = SAME, **extra: Any) -> Event:
        """Record a definite failure: no effect (for a cas: the compare did not match)."""
        return self._complete("fail", value, extra)

    def info(self, value: Any = SAME, **extra: Any) -> Event:
        """Record an unknown outcome; the process may not be used again."""
        return self._complete("info", value, extra)

    def _complete(self, type: EventType, value: Any, extra: dict[str, Any]) -> Event:
        if self.completion is not None:
            raise RuntimeError(f"operation {self.invocation.index} already completed as "
                               f"{self.completion.type}")
        if value is SAME:
            value = self.invocation.value
        self.completion = self.history.append(self.invocation.process, type,
                                              self.invocation.f, value, **extra)
        return self.completion

    def __enter__(self) -> OperationRecorder:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 traceback: object) -> bool:
        if self.completion is None:
            error = "no outcome recorded" if exc is None else f"{kind.__name__}: {exc}"  # type: ignore[union-attr]
            self.info(error=error)
        return exc is not None and isinstance(exc, self._suppress)


class History:
    """A thread-safe, append-only history, optionally streamed to a JSON Lines file."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._events: list[Event] = []
        self._lock = threading.Lock()
        self._start = time.monotonic_ns()
        self._index = itertools.count()
        self._crashed: set[int] = set()
        self._reserved = -1
        self._file = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = path.open("a", encoding="utf-8")

    def append(self, process: int, type: EventType, f: str, value: Any = None,
               **extra: Any) -> Event:
        """Record one event and return it."""
        node = extra.pop("node", None)
        endpoint = extra.pop("endpoint", None)
        with self._lock:
            if type == "invoke" and process in self._crashed:
                raise ProcessCrashed(f"process {process} ended in info and cannot be reused")
            event = Event(next(self._index), time.monotonic_ns() - self._start, process, type, f,
                          value, node, endpoint, extra)
            self._events.append(event)
            if type == "info":
                self._crashed.add(process)
            if self._file is not None:
                self._file.write(json.dumps(event.to_json(), default=str) + "\n")
                self._file.flush()
        return event

    def invoke(self, process: int, f: str, value: Any = None, **extra: Any) -> Event:
        """Record the invocation of operation ``f`` by ``process``."""
        return self.append(process, "invoke", f, value, **extra)

    def operation(self, process: int, f: str, value: Any = None, *,
                  suppress: tuple[type[BaseException], ...] = (),
                  **extra: Any) -> OperationRecorder:
        """Invoke ``f`` now and return a context manager that records its completion.

        Inside the block call ``op.ok(...)`` / ``op.fail(...)`` / ``op.info(...)``. Leaving the
        block without a completion records ``info``: on an exception with its type and message
        (the exception propagates unless its type is in ``suppress``), otherwise "no outcome
        recorded".
        """
        return OperationRecorder(self, self.invoke(process, f, value, **extra), suppress)

    def new_process(self) -> int:
        """A process id not used in this history yet (for a client replacing a crashed one)."""
        with self._lock:
            used = [e.process for e in self._events if isinstance(e.process, int)]
            self._reserved = max([*used, self._reserved]) + 1
            return self._reserved

    @property
    def events(self) -> list[Event]:
        """A snapshot of the events recorded so far."""
        with self._lock:
            return list(self._events)

    def __iter__(self) -> Iterator[Event]:
        return iter(self.events)

    def __len__(self) -> int:
        return len(self._events)

    def close(self) -> None:
        """Close the backing file, if any."""
        if self._file is not None:
            self._file.close()
            self._file = None


def write_jsonl(events: Iterable[Event], path: Path) -> None:
    """Write events to ``path`` as JSON Lines."""
    with path.open("w", encoding="utf-8") as out:
        for event in events:
            out.write(json.dumps(event.to_json(), default=str) + "\n")


def read_jsonl(path: Path) -> list[Event]:
    """Read a JSON Lines history; a malformed line raises ValueError naming the line."""
    events = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            events.append(Event.from_json(json.loads(line)))
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}:{number}: not a history event: {exc}") from exc
    return events

"""History file formats: our JSON Lines, and Jepsen's text history logs, with detection.

Jepsen logs one line per event through ``jepsen.util``, e.g. (fields separated by a tab or a
run of spaces; published logs use both)::

    INFO  jepsen.util - 3	:invoke	:cas	[1 2]
    INFO  jepsen.util - 3	:fail	:cas	[1 2]
    INFO  jepsen.util - 1	:fail	:read	:timed-out
    INFO  jepsen.util - :nemesis	:info	:start	nil

Other lines are ignored; ``:nemesis`` lines are fault records, not client operations.
``:fail`` with ``:timed-out`` and ``:info`` are unknown outcomes and become ``info`` events
(the original type is kept in ``jepsen_type``). Jepsen lets a process carry on after a timed-out
read, while our histories never reuse a process after ``info``, so such a process continues
under a fresh id (the original in ``jepsen_process``). Event times are line numbers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prsm_validate.errors import UsageProblem
from prsm_validate.history import EVENT_TYPES, Event

FORMATS = ("jsonl", "jepsen")
JEPSEN_LINE = re.compile(r"jepsen\.util\s+-\s+(?P<rest>\S.*)$")
SNIFF_LINES = 50


class HistoryFormatError(UsageProblem, ValueError):
    """A history file that cannot be read; the message names the file and line."""


@dataclass
class LoadedHistory:
    """Events read from a file, with the source line of each event."""

    path: Path
    format: str
    events: list[Event]
    lines: list[int]

    def line_of(self, index: int | None) -> int | None:
        """The source line of the event with ``index``, if known."""
        for event, line in zip(self.events, self.lines, strict=True):
            if event.index == index:
                return line
        return None


def detect_format(path: Path) -> str:
    """``jsonl`` or ``jepsen``, judged from the first non-empty lines of ``path`` (a file
    named ``*.jsonl`` is JSON Lines whatever they hold)."""
    with path.open(encoding="utf-8", errors="replace") as lines:
        for number, line in enumerate(lines, 1):
            if number > SNIFF_LINES:
                break
            if JEPSEN_LINE.search(line):
                return "jepsen"
            if line.lstrip().startswith("{"):
                return "jsonl"
    if path.suffix == ".jsonl":  # named so: its lines are reported as not events, one by one
        return "jsonl"
    raise HistoryFormatError(f"{path}: neither JSON Lines events nor Jepsen 'jepsen.util - ' "
                             f"lines in the first {SNIFF_LINES} lines; pass --format")


def load_history(path: Path, format: str | None = None) -> LoadedHistory:
    """Read a history file in ``format`` (detected when None)."""
    pairs = list(iter_history(path, format))
    return LoadedHistory(path, format or detect_format(path), [e for _, e in pairs],
                         [n for n, _ in pairs])


def iter_history(path: Path, format: str | None = None) -> Iterator[tuple[int, Event]]:
    """(line number, event) for each event of a history file, read as it is consumed (a
    checker that pairs events as they come holds only the operations, not every event)."""
    if not path.is_file():
        raise HistoryFormatError(f"{path}: no such file")
    format = format or detect_format(path)
    if format not in FORMATS:
        raise HistoryFormatError(f"{path}: unknown format {format!r}; choose {FORMATS}")
    return iter_jsonl(path) if format == "jsonl" else iter_jepsen_log(path)


def iter_jsonl(path: Path) -> Iterator[tuple[int, Event]]:
    """(line number, event) for each line of a JSON Lines history."""
    with path.open(encoding="utf-8", errors="replace") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
                if not isinstance(data, dict):
                    raise TypeError(f"a JSON {type(data).__name__}, not an object with "
                                    "index, type, process, f")
                yield number, Event.from_json(data)
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                raise HistoryFormatError(f"{path}:{number}: not a history event: {exc}") from None


def read_jepsen_log(path: Path) -> list[Event]:
    """The client events of a Jepsen text history log."""
    return [event for _, event in iter_jepsen_log(path)]


def iter_jepsen_log(path: Path) -> Iterator[tuple[int, Event]]:
    """(line number, event) for each client operation line of a Jepsen log."""
    importer = _JepsenImporter(path)
    with path.open(encoding="utf-8", errors="replace") as text:
        for number, line in enumerate(text, 1):
            match = JEPSEN_LINE.search(line.rstrip("\r\n"))
            if match:
                event = importer.event(match.group("rest"), number)
                if event is not None:
                    yield number, event


class _JepsenImporter:
    """Turns Jepsen op lines into events, renumbering processes reused after unknown outcomes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.index = 0
        self.alias: dict[int, int] = {}
        self.crashed: set[int] = set()
        self.fresh = 1_000_000  # above any Jepsen process number

    def event(self, rest: str, number: int) -> Event | None:
        process, kind, f, value = self._fields(rest, number)
        if process is None:
            return None
        extra: dict[str, Any] = {}
        if kind == "invoke" and process in self.crashed:
            self.crashed.discard(process)
            self.alias[process], self.fresh = self.fresh, self.fresh + 1
        ours = self.alias.get(process, process)
        if ours != process:
            extra["jepsen_process"] = process
        kind, value = self._unknown_outcome(kind, value, extra)
        if kind == "info":
            self.crashed.add(process)
        self.index += 1
        return Event(self.index - 1, number, ours, kind, f, value, extra=extra)  # type: ignore[arg-type]

    def _fields(self, rest: str, number: int) -> tuple[int | None, str, str, Any]:
        # Published logs separate the fields with tabs or with runs of spaces; the value
        # itself may contain spaces ("[1 2]"), so only the first three separators count.
        parts = rest.split(None, 3)
        if parts[0] == ":nemesis":
            return None, "", "", None
        if len(parts) < 3:
            raise self._error(number, "expected process, :type, :f and value separated by "
                                      "tabs or spaces")
        if not parts[0].isdigit():
            raise self._error(number, f"process {parts[0]!r} is not a number or :nemesis")
        kind = parts[1].lstrip(":")
        if kind not in EVENT_TYPES:
            raise self._error(number, f"type {parts[1]!r} is not one of :invoke :ok :fail :info")
        try:
            value = parse_edn(parts[3]) if len(parts) > 3 else None
        except ValueError as exc:
            raise self._error(number, f"value {parts[3]!r}: {exc}") from None
        return int(parts[0]), kind, parts[2].lstrip(":"), value

    @staticmethod
    def _unknown_outcome(kind: str, value: Any, extra: dict[str, Any]) -> tuple[str, Any]:
        # ":fail ... :timed-out" and ":info" mean the outcome is unknown.
        timed_out = kind == "fail" and value == ":timed-out"
        if kind == "info" or timed_out:
            if timed_out:
                extra["jepsen_type"] = "fail"
            if isinstance(value, str) and value.startswith(":"):
                extra["error"] = value[1:]
                value = None
            return "info", value
        return kind, value

    def _error(self, number: int, message: str) -> HistoryFormatError:
        return HistoryFormatError(f"{self.path}:{number}: {message}")


def write_jepsen_log(events: Iterable[Event], path: Path) -> None:
    """Write client events as Jepsen ``jepsen.util`` log lines (the inverse of the import)."""
    with path.open("w", encoding="utf-8") as out:
        for event in events:
            out.write(jepsen_line(event) + "\n")


def jepsen_line(event: Event) -> str:
    """One event as a Jepsen log line."""
    process = event.extra.get("jepsen_process", event.process)
    kind = event.extra.get("jepsen_type", event.type)
    value = event.value
    if event.type == "info" and value is None and "error" in event.extra:
        value = ":" + str(event.extra["error"])
    return f"INFO  jepsen.util - {process}\t:{kind}\t:{event.f}\t{to_edn(value)}"


def to_edn(value: Any) -> str:
    """An EDN rendering of a JSON value; strings starting with ':' are keywords."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return value if _is_keyword(value) else json.dumps(value)
    if isinstance(value, list | tuple):
        return "[" + " ".join(to_edn(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{to_edn(k)} {to_edn(v)}" for k, v in value.items()) + "}"
    raise ValueError(f"no EDN form for {value!r}")


def _is_keyword(text: str) -> bool:
    return re.fullmatch(r":[^\s\[\]{}()\",]+", text) is not None


EDN_TOKEN = re.compile(r'\s*(?:(?P<open>#\{|[\[({])|(?P<close>[\])}])|(?P<string>"(?:\\.|[^"\\])*")'
                       r'|(?P<atom>[^\s,\[\](){}"]+))[\s,]*')


def parse_edn(text: str) -> Any:
    """Parse the EDN values Jepsen prints: nil, booleans, numbers, keywords (kept as ':kw'
    strings), strings, vectors, lists, sets (as lists) and maps."""
    tokens = _edn_tokens(text)
    value, position = _edn_value(tokens, 0)
    if position != len(tokens):
        raise ValueError("trailing characters after the value")
    return value


def _edn_tokens(text: str) -> list[tuple[str, str]]:
    tokens, position, text = [], 0, text.strip()
    while position < len(text):
        match = EDN_TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise ValueError(f"unexpected character at {position}")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        position = match.end()
    if not tokens:
        raise ValueError("empty value")
    return tokens


def _edn_value(tokens: list[tuple[str, str]], position: int) -> tuple[Any, int]:
    if position >= len(tokens):
        raise ValueError("unterminated collection")
    kind, text = tokens[position]
    if kind == "string":
        return json.loads(text), position + 1
    if kind == "atom":
        return _edn_atom(text), position + 1
    if kind == "close":
        raise ValueError(f"unexpected {text!r}")
    items, position = [], position + 1
    while position < len(tokens) and tokens[position][0] != "close":
        item, position = _edn_value(tokens, position)
        items.append(item)
    if position >= len(tokens):
        raise ValueError("unterminated collection")
    if text == "{":
        if len(items) % 2:
            raise ValueError("map with an odd number of forms")
        return {_key(k): v for k, v in zip(items[::2], items[1::2], strict=True)}, position + 1
    return items, position + 1


def _key(key: Any) -> Any:
    return json.dumps(key) if isinstance(key, list | dict) else key


def _edn_atom(text: str) -> Any:
    if text in ("nil", "true", "false"):
        return {"nil": None, "true": True, "false": False}[text]
    if text.startswith(":"):
        return text
    number = text.rstrip("NM")
    try:
        return int(number)
    except ValueError:
        pass
    try:
        return float(number)
    except ValueError:
        raise ValueError(f"unknown atom {text!r}") from None

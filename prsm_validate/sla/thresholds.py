"""k6-style threshold expressions: ``metric{tag:value}`` with conditions like ``p(99)<10ms``.

Grammar of a condition::

    aggregation op number [unit] [over WINDOW] [abortOnFail]
    aggregation := avg | min | max | med | p(N) | rate | count
    op          := < | <= | > | >= | ==
    unit        := us | ms | s | m   (durations; a bare number is milliseconds, as in k6)

``over 60s`` means every 60-second window of the test (aligned to its start) must hold, not
only the whole run; a window is a whole number of seconds (metrics are kept per second).
``abortOnFail`` (k6's ``abortOnFail: true``, written as a trailing keyword) stops the session
after the test whose threshold it breached, like ``-x`` for SLAs. A parse error raises
:class:`ThresholdSyntaxError` with a caret under the offending position; the plugin turns it into
``pytest.UsageError``.

Which aggregations apply follows k6's metric types: trends take ``avg min max med p(N)`` (and
``count``, the number of samples); rates take ``rate`` (hits / trials) and ``count`` (trials);
counters take ``count`` (the sum) and ``rate`` (the sum per second).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from prsm_validate.errors import UsageProblem

UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}
_CONDITION = re.compile(
    r"\s*(?P<agg>avg|min|max|med|p\((?P<pct>\d+(?:\.\d+)?)\)|rate|count)\s*"
    r"(?P<op><=|>=|==|<|>)\s*(?P<num>-?\d+(?:\.\d+)?)\s*(?P<unit>us|ms|s|m)?"
    r"(?:\s+over\s+(?P<win>\d+(?:\.\d+)?)\s*(?P<wunit>ms|s|m))?"
    r"(?P<abort>\s+abortOnFail)?\s*$")
_SELECTOR = re.compile(r"\s*(?P<name>[A-Za-z_][\w.]*)\s*(?:\{(?P<tags>[^}]*)\})?\s*$")


class ThresholdSyntaxError(UsageProblem, ValueError):
    """An expression that is not a valid threshold; the message points at the problem."""

    def __init__(self, text: str, position: int, problem: str) -> None:
        super().__init__(f"invalid threshold {problem}:\n    {text}\n    {' ' * position}^")
        self.text, self.position, self.problem = text, position, problem


@dataclass(frozen=True)
class Selector:
    """A metric name and the tags a sample must carry."""

    name: str
    tags: tuple[tuple[str, str], ...] = ()

    def matches(self, name: str, tags: dict[str, str]) -> bool:
        """True when a sample of ``name`` with ``tags`` belongs to this selector."""
        return name == self.name and all(tags.get(k) == v for k, v in self.tags)

    def __str__(self) -> str:
        inner = ",".join(f"{k}:{v}" for k, v in self.tags)
        return f"{self.name}{{{inner}}}" if inner else self.name


@dataclass(frozen=True)
class Condition:
    """One condition on an aggregation of a metric."""

    text: str
    aggregation: str
    percentile: float | None
    op: str
    value: float  # milliseconds for durations
    window_s: int | None = None
    abort_on_fail: bool = False


@dataclass(frozen=True)
class Threshold:
    """A selector and its conditions, as declared."""

    selector: Selector
    conditions: tuple[Condition, ...] = field(default_factory=tuple)

    def __str__(self) -> str:
        return f"{self.selector}: " + ", ".join(c.text for c in self.conditions)


def parse_selector(text: str) -> Selector:
    """Parse ``name{tag:value,...}``."""
    match = _SELECTOR.match(text)
    if not match:
        raise ThresholdSyntaxError(text, _first_bad(text, r"[A-Za-z_][\w.]*"),
                                   "metric: expected name{tag:value,...}")
    tags = []
    for part in filter(None, (p.strip() for p in (match.group("tags") or "").split(","))):
        key, sep, value = part.partition(":")
        if not sep or not key.strip() or not value.strip():
            raise ThresholdSyntaxError(text, text.find(part), "tag: expected key:value")
        tags.append((key.strip(), value.strip()))
    return Selector(match.group("name"), tuple(tags))


def parse_condition(text: str) -> Condition:
    """Parse one condition such as ``p(99)<10ms over 60s``."""
    match = _CONDITION.match(text)
    if not match:
        raise ThresholdSyntaxError(text, _condition_error_at(text),
                                   "condition: expected e.g. p(99)<10ms, rate<0.01, count>5")
    agg = "p" if match.group("pct") else match.group("agg")
    pct = float(match.group("pct")) if match.group("pct") else None
    if pct is not None and not 0 < pct <= 100:
        raise ThresholdSyntaxError(text, text.find("p(") + 2, "percentile: must be in (0, 100]")
    unit = match.group("unit")
    if unit and agg in ("rate", "count"):
        raise ThresholdSyntaxError(text, match.start("unit"), f"unit: {agg} takes no unit")
    value = float(match.group("num")) * UNITS_MS.get(unit or "ms", 1.0) if agg not in (
        "rate", "count") else float(match.group("num"))
    window = _window_s(text, match)
    return Condition(text.strip(), agg, pct, match.group("op"), value, window,
                     bool(match.group("abort")))


def parse_threshold(selector: str, conditions: list[str]) -> Threshold:
    """A threshold from a selector and its condition strings."""
    if not conditions:
        raise ThresholdSyntaxError(selector, len(selector), "threshold: no condition given")
    return Threshold(parse_selector(selector), tuple(parse_condition(c) for c in conditions))


def parse_line(line: str) -> Threshold:
    """Parse a line ``metric{tags}: cond, cond`` (ini key, gate files); carets point into it."""
    head, sep, rest = line.rpartition("}:") if "}" in line else line.partition(":")
    if not sep:
        raise ThresholdSyntaxError(line, len(line), "line: expected 'metric{tags}: condition'")
    selector = head + ("}" if sep == "}:" else "")
    offset = len(head) + len(sep)
    conditions = []
    for part in rest.split(","):
        try:
            if part.strip():
                conditions.append(parse_condition(part))
        except ThresholdSyntaxError as exc:
            raise ThresholdSyntaxError(line, offset + exc.position, exc.problem) from None
        offset += len(part) + 1
    if not conditions:
        raise ThresholdSyntaxError(line, len(line), "threshold: no condition given")
    try:
        return Threshold(parse_selector(selector), tuple(conditions))
    except ThresholdSyntaxError as exc:
        raise ThresholdSyntaxError(line, exc.position, exc.problem) from None


def _window_s(text: str, match: re.Match[str]) -> int | None:
    """The window in whole seconds (metrics are bucketed per second)."""
    if not match.group("win"):
        return None
    seconds = float(match.group("win")) * UNITS_MS[match.group("wunit")] / 1000
    if seconds < 1 or seconds != int(seconds):
        raise ThresholdSyntaxError(text, match.start("win"),
                                   "window: must be a whole number of seconds, at least 1s")
    return int(seconds)


def _first_bad(text: str, pattern: str) -> int:
    match = re.match(r"\s*" + pattern, text)
    return match.end() if match else len(text) - len(text.lstrip())


_TOKENS = (  # the parts of a condition in order, and whether each is required
    (re.compile(r"(avg|min|max|med|p\(\d+(\.\d+)?\)|rate|count)"), True),
    (re.compile(r"(<=|>=|==|<|>)"), True),
    (re.compile(r"-?\d+(\.\d+)?"), True),
    (re.compile(r"(us|ms|s|m)(?![A-Za-z])"), False),
    (re.compile(r"over\s+\d+(\.\d+)?\s*(ms|s|m)(?![A-Za-z])"), False),
    (re.compile(r"abortOnFail"), False),
)


def _condition_error_at(text: str) -> int:
    """The position where the longest valid prefix of a condition stops."""
    position = 0
    for pattern, required in _TOKENS:
        position = _skip_spaces(text, position)
        match = pattern.match(text, position)
        if match:
            position = match.end()
        elif required:
            return position
    return _skip_spaces(text, position)


def _skip_spaces(text: str, position: int) -> int:
    return position + len(text[position:]) - len(text[position:].lstrip())

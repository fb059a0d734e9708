"""Failure classes: what kind of defect a failing test found, and its cause in one line.

=============  ==============================================================================
contract       the target answered, but not as its contract states (a failed assertion on a
               response, an undeclared status, a body that breaks its schema)
availability   no answer or a server error: timeouts, refused connections, 5xx, a target that
               did not start
sla            a threshold breached (or measured nothing)
safety         an invariant checker said false: agreement, conservation, lost or duplicated
               acknowledged writes, linearizability
security       a security scenario's expectation failed
harness        an error of the harness itself (a bug, a misconfiguration): not a finding about
               the target
=============  ==============================================================================

An exception may carry its class in a ``failure_class`` attribute (the client's and checkers'
errors do); otherwise the class follows from the exception type, the test's markers and the
SLA plugin's breach flag.
"""

from __future__ import annotations

from typing import Any

CLASSES = ("contract", "availability", "sla", "safety", "security", "harness")
AVAILABILITY_ERRORS = ("TimeoutException", "TransportError", "ConnectError", "ReadTimeout",
                       "ConnectTimeout", "RemoteProtocolError", "StartupError",
                       "ConnectionError", "TimeoutError", "ConnectionRefusedError")
AVAILABILITY_WORDS = ("did not start", "HTTP 500", "HTTP 502", "HTTP 503", "HTTP 504",
                      "timed out", "no answer")
SAFETY_WORDS = ("'valid': False", '"valid": false', "not linearizable", "diverge",
                "lost acknowledged", "duplicated", "conservation")
MAX_CAUSE = 240


def classify(exc: BaseException | None, text: str, markers: set[str], sla_breach: bool,
             when: str) -> tuple[str, str]:
    """The failure class and one-line cause of a failed test phase."""
    cause = one_line(exc, text)
    declared = getattr(exc, "failure_class", None)
    if isinstance(declared, str) and declared in CLASSES:
        return declared, cause
    if sla_breach:
        return "sla", cause
    name = type(exc).__name__ if exc is not None else ""
    mro = {c.__name__ for c in type(exc).__mro__} if exc is not None else set()
    if mro & set(AVAILABILITY_ERRORS) or any(w in cause for w in AVAILABILITY_WORDS):
        return "availability", cause
    if any(w in text for w in SAFETY_WORDS):
        return "safety", cause
    if name in ("AssertionError", "Failed") and when == "call":
        return ("security" if "security" in markers else "contract"), cause
    if name == "Failed":  # pytest.fail in a fixture: the harness says what is wrong
        return "harness", cause
    return "harness", cause


def one_line(exc: BaseException | None, text: str) -> str:
    """The first meaningful line of the failure (its type named unless an assertion)."""
    message = str(exc) if exc is not None else ""
    lines = [line.strip() for line in (message or text).splitlines() if line.strip()]
    first = lines[0] if lines else "no message"
    if exc is not None and type(exc).__name__ not in ("AssertionError", "Failed"):
        first = f"{type(exc).__name__}: {first}"
    return first if len(first) <= MAX_CAUSE else first[: MAX_CAUSE - 3] + "..."


def counts(tests: list[dict[str, Any]]) -> dict[str, int]:
    """Failures per class (in :data:`CLASSES` order, only classes that occurred)."""
    found: dict[str, int] = {}
    for test in tests:
        failure = test.get("failure")
        if failure:
            found[failure["class"]] = found.get(failure["class"], 0) + 1
    return {c: found[c] for c in CLASSES if c in found}

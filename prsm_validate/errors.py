"""The harness's exceptions, under one root :class:`PrsmError`.

::

    PrsmError
    ├── UsageProblem        the user's input is wrong; the message names it and the fix
    │                       (plugin: pytest.UsageError; commands: one line, exit 2)
    │   ├── TargetConfigError, ControlConfigError (targets file), GateFileError,
    │   │   ThresholdSyntaxError, VocabularyError, EquivalentsError, TargetRefused
    │   ├── HistoryError, HistoryFormatError (a history that cannot be read)
    │   ├── JournalError, ControlError of the Chaos Toolkit controller, NothingKept
    ├── HarnessError        the harness could not do its part (not a finding on the target)
    │   ├── StartupError, ImageError, ControlError (declared control), ToolMissing
    │   ├── ProcessCrashed, LoadCancelled, OperationUnsupported
    ├── PrsmFailure         a finding, with its failure class (DESIGN.md 12)
    │   ├── ContractViolation, UnexpectedStatus   contract (or security / availability)
    │   ├── Unavailable                           availability
    │   ├── SafetyViolation, SecurityViolation, SlaViolation, WorkloadDidNotRun
    └── internal signals    OutOfBudget (checker search), BackendFailed (gateway)

(``BudgetExhausted`` of the nightly is a ``BaseException`` on purpose: like Ctrl-C it unwinds
whatever the night is doing.) Classes keep a builtin base where callers catch one
(``ValueError``, ``RuntimeError``, ``AssertionError``, ``LookupError``).

Every failure of a scenario belongs to one class (:mod:`prsm_validate.report.failures`):
``contract``, ``availability``, ``sla``, ``safety``, ``security`` or ``harness``. The client,
the workloads and the checkers raise a :class:`PrsmFailure` whose ``failure_class`` attribute
says which, and whose message is the one-line cause.
"""

from __future__ import annotations

import re
from typing import Any

CONTRACT, AVAILABILITY, SLA, SAFETY = "contract", "availability", "sla", "safety"
SECURITY, HARNESS = "security", "harness"
EXCERPT_CHARS = 200


class PrsmError(Exception):
    """The root of every exception the harness raises."""


class UsageProblem(PrsmError):
    """Wrong input from the user (a file, an option, a value); the message names the fix."""


class HarnessError(PrsmError):
    """The harness could not do its part; says nothing about the target."""


class PrsmFailure(PrsmError):
    """A failure found by the harness, with its class; ``str()`` is the one-line cause."""

    failure_class: str = HARNESS

    def __init__(self, message: str, failure_class: str | None = None) -> None:
        super().__init__(message)
        if failure_class is not None:
            self.failure_class = failure_class

    def one_line(self) -> str:
        """The cause on one line."""
        return one_line(str(self))


class OperationUnsupported(HarnessError, LookupError):
    """The target's API profile has no such operation; the scenario skips with this reason."""


class ContractViolation(PrsmFailure, AssertionError):
    """A response the target's contract does not allow (undeclared status, schema break,
    missing field, wrong vocabulary)."""

    failure_class = CONTRACT


class SafetyViolation(PrsmFailure, AssertionError):
    """A checker said false: lost, duplicated or diverging data."""

    failure_class = SAFETY


class SecurityViolation(PrsmFailure, AssertionError):
    """An access the target should have refused was granted."""

    failure_class = SECURITY


class SlaViolation(PrsmFailure, AssertionError):
    """A measured figure broke its service level."""

    failure_class = SLA


class WorkloadDidNotRun(PrsmFailure, AssertionError):
    """A workload completed fewer operations than its stated minimum: never a pass."""


def one_line(text: str, limit: int = 400) -> str:
    """``text`` folded onto one line, at most ``limit`` characters."""
    line = re.sub(r"\s+", " ", text).strip()
    return line if len(line) <= limit else line[: limit - 3] + "..."


def excerpt(body: Any, limit: int = EXCERPT_CHARS) -> str:
    """A short, one-line view of a response body for failure messages."""
    import json

    text = body if isinstance(body, str) else json.dumps(body, default=str)
    return one_line(text, limit) if text else "(empty body)"


def require_valid(verdict: Any) -> None:
    """Fail unless a checker's verdict is valid: false is a safety finding, "unknown" (the
    checker could not decide) a harness error; both name the checker and its reason."""
    if verdict.valid is True:
        return
    text = f"{verdict.checker}: {verdict.label}" + (f": {verdict.reason}" if verdict.reason
                                                     else "")
    if verdict.valid is False:
        raise SafetyViolation(text)
    raise PrsmFailure(f"{text} (the checker could not decide; unknown never passes)")

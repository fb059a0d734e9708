"""Verdicts: what a checker decided, with the evidence, in a JSON-ready shape.

Jepsen's convention: ``valid`` is ``True``, ``False`` or ``"unknown"``; verdicts compose by
priority false > unknown > true, so a checker that could not decide never counts as a pass.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

Validity = bool | Literal["unknown"]
UNKNOWN: Literal["unknown"] = "unknown"


@dataclass
class Verdict:
    """One checker's decision: ``valid``, a one-line reason, a minimal witness and figures."""

    checker: str
    valid: Validity
    reason: str = ""
    witness: Any = None
    figures: dict[str, Any] = field(default_factory=dict)

    def __bool__(self) -> bool:
        # ``assert verdict`` must fail for "unknown" as well as for False.
        return self.valid is True

    @property
    def label(self) -> str:
        """``VALID``, ``INVALID`` or ``UNKNOWN``."""
        return {True: "VALID", False: "INVALID"}.get(self.valid, "UNKNOWN")  # type: ignore[arg-type]

    def to_json(self) -> dict[str, Any]:
        """The verdict as a JSON object (witness and figures made JSON-safe)."""
        return {"checker": self.checker, "valid": self.valid, "reason": self.reason,
                "witness": json_safe(self.witness), "figures": json_safe(self.figures)}

    def __str__(self) -> str:
        return f"{self.checker}: {self.label}" + (f" - {self.reason}" if self.reason else "")


def merge_validity(values: Iterable[Validity]) -> Validity:
    """Priority merge: any False wins, then any "unknown"; nothing at all is "unknown"."""
    values = list(values)
    if any(v is False for v in values):
        return False
    if not values or any(v is not True for v in values):
        # An empty set of checks proves nothing, so it cannot be a pass.
        return UNKNOWN
    return True


def compose(verdicts: Iterable[Verdict], checker: str = "compose") -> Verdict:
    """One verdict from many: validity by priority, witnesses of the non-passing ones."""
    verdicts = list(verdicts)
    valid = merge_validity(v.valid for v in verdicts)
    bad = [v for v in verdicts if v.valid is not True]
    reason = "; ".join(str(v) for v in bad) if bad else f"{len(verdicts)} checks valid"
    return Verdict(checker, valid, reason,
                   witness={v.checker: v.witness for v in bad} or None,
                   figures={"checks": [v.to_json() for v in verdicts]})


def json_safe(value: Any) -> Any:
    """``value`` with tuples, sets and non-string keys turned into JSON-compatible forms."""
    if isinstance(value, dict):
        return {str(k) if not isinstance(k, str) else k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted((json_safe(v) for v in value), key=repr)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if hasattr(value, "to_json"):
        return value.to_json()
    return repr(value)

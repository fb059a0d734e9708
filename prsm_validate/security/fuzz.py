"""Input fuzzing with schemathesis (a peer tool, through its Python API) over the target's own
OpenAPI document: for every operation, a bounded number of generated requests, positive and
negative, each sent authenticated and judged by all of schemathesis's checks (server errors,
status and content type, response schema conformance, negative data rejection, ignored auth,
use after free, ...). Hypothesis is seeded from the run's seed, so a run replays; a failure
is kept with schemathesis's own reproduction (a curl line) and the sweep goes on.

Written here: only the loop over operations and the collection of failures.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

MODES = ("positive", "negative")
# Checks that need something this run does not give them: a second user's token, or resources
# linked by the document (the reference declares no links). Named in the report, not run.
SKIPPED_CHECKS = ("object_level_authorization",)
# Run only on a target that declares strict input (the profile feature ``strict_input``): any
# other may coerce (``true`` for an integer) or ignore what its schema does not allow, as
# test_hostile_input also allows it; failing it there would be a false alarm.
STRICT_ONLY = ("negative_data_rejection",)
# Tolerated, and counted: an undeclared 400 to a negative case (a body that is not even JSON
# gets HTTP's generic "Bad Request" from most frameworks, whatever the document declares).
TOLERATED = "undeclared 400 to a malformed request"


@dataclass
class FuzzReport:
    """What the fuzzing did and found."""

    seed: int
    max_examples: int
    operations: list[str] = field(default_factory=list)
    cases: int = 0
    failures: list[dict[str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # operations schemathesis could not run
    tolerated: int = 0  # cases failing only by TOLERATED
    seconds: float = 0.0
    strict: bool = True  # the target declares strict input (else STRICT_ONLY checks not run)

    def to_json(self) -> dict[str, Any]:
        """For the report (``record_property``)."""
        return {"seed": self.seed, "max_examples_per_operation_and_mode": self.max_examples,
                "operations": len(self.operations), "cases": self.cases,
                "failures": self.failures, "errors": self.errors,
                "tolerated": {TOLERATED: self.tolerated},
                "seconds": round(self.seconds, 1), "checks_not_run": not_run(self.strict)}


def not_run(strict: bool) -> list[str]:
    """The checks left out, for a target that does or does not declare strict input."""
    return [*SKIPPED_CHECKS, *(() if strict else STRICT_ONLY)]


def all_checks(strict: bool = True) -> list[Any]:
    """Every check schemathesis registers, less :func:`not_run`."""
    from schemathesis.checks import CHECKS, load_all_checks

    load_all_checks()
    return [c for c in CHECKS.get_all() if c.__name__ not in not_run(strict)]


def fuzz(document: dict[str, Any], base_url: str, token: str, seed: int, max_examples: int,
         skip: tuple[str, ...] = (), budget_s: float = 60.0, strict: bool = True) -> FuzzReport:
    """Fuzz every operation of ``document`` (``skip``: "METHOD /path" labels left out;
    ``strict``: the target declares strict input)."""
    import schemathesis

    report = FuzzReport(seed, max_examples, strict=strict)
    started = time.monotonic()
    schema = schemathesis.openapi.from_dict(document)
    # No NUL in generated strings: a document cannot say "no NUL" of every string, and a
    # server that stores text (PostgreSQL) must refuse it; test_hostile_input sends NULs.
    schema.config.generation.update(allow_x00=False)
    checks = all_checks(strict)
    headers = {"Authorization": f"Bearer {token}"}
    for result in schema.get_all_operations():
        try:
            operation = result.ok()
        except Exception as exc:  # an operation schemathesis cannot read
            report.errors.append(f"{type(exc).__name__}: {str(exc)[:160]}")
            continue
        if operation.label in skip:
            continue
        report.operations.append(operation.label)
        for mode in MODES:
            if time.monotonic() - started > budget_s:
                report.errors.append(f"time budget of {budget_s:g} s spent before "
                                     f"{operation.label} ({mode})")
                break
            _fuzz_operation(operation, mode, base_url, headers, checks, report)
    report.seconds = time.monotonic() - started
    return report


def _fuzz_operation(operation: Any, mode: str, base_url: str, headers: dict[str, str],
                    checks: list[Any], report: FuzzReport) -> None:
    import hypothesis
    from hypothesis import HealthCheck, Phase, settings
    from schemathesis import GenerationMode

    seen: set[str] = set()

    @hypothesis.seed(report.seed)
    @settings(max_examples=report.max_examples, deadline=None, database=None,
              derandomize=False, phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck), print_blob=False)
    @hypothesis.given(case=operation.as_strategy(generation_mode=GenerationMode(mode)))
    def run(case: Any) -> None:
        report.cases += 1
        try:
            case.call_and_validate(base_url=base_url, headers=headers, checks=checks,
                                   timeout=5)
        except (Exception, BaseExceptionGroup) as exc:  # a check failed: keep it, go on
            if mode == "negative" and _only_undeclared_400(exc):
                report.tolerated += 1
                return
            title = _title(exc)
            if title in seen or len(report.failures) >= 50:
                return
            seen.add(title)
            report.failures.append({
                "operation": operation.label, "mode": mode, "failure": title,
                "response": _response_line(exc),
                "curl": case.as_curl_command(headers=headers, base_url=base_url).replace(
                    headers["Authorization"], "Bearer $TOKEN")})

    try:
        run()
    except hypothesis.errors.Unsatisfiable:
        report.errors.append(f"{operation.label} ({mode}): no {mode} example can be made")


def _title(exc: BaseException) -> str:
    """One line naming what failed (a FailureGroup names each check's failure)."""
    inner = getattr(exc, "exceptions", None)
    if inner:
        return "; ".join(sorted({_title(e) for e in inner}))[:300]
    title = getattr(exc, "title", None)
    text = title or str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:300]


def _response_line(exc: BaseException) -> str:
    """The ``[status] Reason: body`` part of schemathesis's message."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    start = next((i for i, line in enumerate(lines) if line.startswith("[")), None)
    return " ".join(lines[start:start + 2])[:300] if start is not None else ""


def _only_undeclared_400(exc: BaseException) -> bool:
    failures = list(getattr(exc, "exceptions", None) or [exc])
    return bool(failures) and all(getattr(f, "status_code", None) == 400
                                  and type(f).__name__ == "UndefinedStatusCode"
                                  for f in failures)


# schemathesis failures that break the document (a contract finding), and a server error
_CONTRACT = ("JsonSchemaError", "UndefinedStatusCode", "UndefinedContentType",
             "MalformedMediaType", "MissingContentType", "MissingHeaders",
             "AllowHeaderMismatch", "DiscriminatorMismatch", "ContentDeserializationError")


def severity(failure: str) -> tuple[int, str]:
    """Rank and failure class of a failure line (security first, then a server error, then a
    document the responses break)."""
    kinds = {part.split(":")[0].strip() for part in failure.split(";")}
    if kinds <= set(_CONTRACT):
        return 2, "contract"
    if kinds <= {*_CONTRACT, "ServerError"}:
        return 1, "availability"
    return 0, "security"

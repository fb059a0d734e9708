"""prsm-validate: a test, chaos and load validation harness for the PRSM platform.

This package is the scenario API: what a scenario (ours under ``scenarios/`` or a user's) may
import, as ``from prsm_validate import eventually, assert_safe, ...``. Everything else is
internal and may change. Names are resolved lazily (PEP 562), so ``import prsm_validate`` and
loading the pytest plugin (:mod:`prsm_validate.plugin`) stay cheap; the command line is
:mod:`prsm_validate.cli`. ``tests/structure/test_public_api.py`` keeps scenarios on these names.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_CAPABILITIES = ("KILL", "PAUSE", "RESTART", "LINK_FAULTS", "PARTITION", "BYZANTINE", "DB",
                 "REDIS", "BROKER", "CONSENSUS", "EDGE", "PIPELINE", "TOKEN_SIGNING",
                 "WIPE", "FAULT_CAPABILITIES")

# public name -> (module, attribute in it; None: the module itself)
_EXPORTS: dict[str, tuple[str, str | None]] = {
    # verdicts and checkers
    "Verdict": ("prsm_validate.checker.verdict", "Verdict"),
    "assert_safe": ("prsm_validate.checker.cluster", "assert_safe"),
    "check_agreement": ("prsm_validate.checker", "check_agreement"),
    "check_linearizable": ("prsm_validate.checker", "check_linearizable"),
    "check_recovery": ("prsm_validate.checker", "check_recovery"),
    "faults_from_history": ("prsm_validate.checker", "faults_from_history"),
    "progress_from_history": ("prsm_validate.checker", "progress_from_history"),
    "FaultWindow": ("prsm_validate.checker.liveness", "FaultWindow"),
    "NodeLog": ("prsm_validate.client.nodes", "NodeLog"),
    # recording, waiting, seeding
    "History": ("prsm_validate.history", "History"),
    "eventually": ("prsm_validate.waiting", "eventually"),
    "progress": ("prsm_validate.client.workload", "progress"),
    "ClientLog": ("prsm_validate.client.workload", "ClientLog"),
    "run_clients": ("prsm_validate.client.workload", "run_clients"),
    "derive_seed": ("prsm_validate.seeds", "derive_seed"),
    # faults
    "Nemesis": ("prsm_validate.nemesis.core", "Nemesis"),
    "ScheduleConfig": ("prsm_validate.generator.schedule", "ScheduleConfig"),
    "generate_schedule": ("prsm_validate.generator.schedule", "generate"),
    "run_schedule": ("prsm_validate.nemesis.scheduler", "run_schedule"),
    "ByzzSchedule": ("prsm_validate.generator.byzzfuzz", "ByzzSchedule"),
    "parse_byzzfuzz": ("prsm_validate.generator.byzzfuzz", "parse"),
    "generate_byzzfuzz": ("prsm_validate.generator.byzzfuzz", "generate"),
    "run_byzzfuzz_cuts": ("prsm_validate.nemesis.byzzfuzz", "run_cuts"),
    "byzzfuzz_base_rounds": ("prsm_validate.nemesis.byzzfuzz", "base_rounds"),
    "TwinsSchedule": ("prsm_validate.generator.twins", "TwinsSchedule"),
    "parse_twins": ("prsm_validate.generator.twins", "parse"),
    "run_twins_rounds": ("prsm_validate.nemesis.twins", "run_twins_rounds"),
    "twins_as_run": ("prsm_validate.nemesis.twins", "as_run"),
    "cluster_machine": ("prsm_validate.nemesis.stateful", "cluster_machine"),
    # targets and the API
    "Deployment": ("prsm_validate.targets.base", "Deployment"),
    "Redeploy": ("prsm_validate.targets.base", "Redeploy"),
    "ApiClient": ("prsm_validate.client.api", "ApiClient"),
    "Response": ("prsm_validate.client.api", "Response"),
    "Unavailable": ("prsm_validate.client.api", "Unavailable"),
    "parse_body": ("prsm_validate.client.api", "parse_body"),
    "error_body": ("prsm_validate.client.checks", "error_body"),
    "llm_model": ("prsm_validate.client.checks", "llm_model"),
    "task_status": ("prsm_validate.client.checks", "task_status"),
    "task_template": ("prsm_validate.client.checks", "task_template"),
    "wait_task": ("prsm_validate.client.checks", "wait_task"),
    "document_problem": ("prsm_validate.client.openapi", "document_problem"),
    "validation_details": ("prsm_validate.client.profiles", "validation_details"),
    "FEATURES": ("prsm_validate.client.profiles", "FEATURES"),
    "telemetry": ("prsm_validate.client.telemetry", None),
    # load and drills
    "Endpoint": ("prsm_validate.load.engine", "Endpoint"),
    "Traffic": ("prsm_validate.drills.traffic", "Traffic"),
    "Watch": ("prsm_validate.drills.recovery", "Watch"),
    "measure_recovery": ("prsm_validate.drills.recovery", "measure"),
    "PROBE_TIMEOUT_S": ("prsm_validate.drills.recovery", "PROBE_TIMEOUT_S"),
    "run_pitr_drill": ("prsm_validate.drills.pitr", "run"),
    "selected_gate": ("prsm_validate.session", "selected_gate"),
    # failures
    "PrsmError": ("prsm_validate.errors", "PrsmError"),
    "PrsmFailure": ("prsm_validate.errors", "PrsmFailure"),
    "ContractViolation": ("prsm_validate.errors", "ContractViolation"),
    "SafetyViolation": ("prsm_validate.errors", "SafetyViolation"),
    "SlaViolation": ("prsm_validate.errors", "SlaViolation"),
    "SecurityViolation": ("prsm_validate.errors", "SecurityViolation"),
    # security scenarios
    "bad_tokens": ("prsm_validate.security.tokens", "bad_tokens"),
    "auth_sweep": ("prsm_validate.security.sweep", None),
    "find_secrets": ("prsm_validate.security.canary", "find_secrets"),
    "rate_burst": ("prsm_validate.security.ratelimit", "burst"),
    "retry_after_seconds": ("prsm_validate.security.ratelimit", "retry_after_seconds"),
    "fuzz_openapi": ("prsm_validate.security.fuzz", "fuzz"),
    "fuzz_severity": ("prsm_validate.security.fuzz", "severity"),
    "excerpt": ("prsm_validate.errors", "excerpt"),
    "require_valid": ("prsm_validate.errors", "require_valid"),
    **{name: ("prsm_validate.targets.base", name) for name in _CAPABILITIES},
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    """Import a public name's module on first use (PEP 562)."""
    try:
        module_name, attribute = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'prsm_validate' has no attribute {name!r}") from None
    module = importlib.import_module(module_name)
    value = module if attribute is None else getattr(module, attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


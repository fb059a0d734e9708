"""Which modules of ``reference_system`` are mutated, their subsystem, and the scenarios that
reach each one (the narrowest set that exercises it, cheapest first, so that ``-x`` stops a
killed mutant early).

Scenarios whose verdict depends on timing thresholds (``scenarios/sla/test_latency.py``, the
load scenarios, the pipeline's end-to-end latency) are never used here: on a busy machine a
slow run would count as a kill. Modules left out are listed in :data:`EXCLUDED` with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass

SUBSYSTEMS: dict[str, str] = {
    "ledger": "state machine and ledger",
    "consensus": "consensus core",
    "memory": "memory tiers",
    "auth": "auth",
    "tasks": "tasks",
    "pipeline": "pipeline",
    "edge": "edge and inference",
    "api": "API middleware",
}

# Goals of issue 22: at least 80 % per subsystem, 90 % for the state machine and ledger.
GOALS: dict[str, float] = {key: (0.9 if key == "ledger" else 0.8) for key in SUBSYSTEMS}

_CONSENSUS = "scenarios/consensus/test_consensus.py"
_RECOVERY = "scenarios/consensus/test_recovery.py"
_BYZANTINE = "scenarios/byzantine/test_byzantine.py"
_PARTITION = "scenarios/partition/test_partitions.py"
_AUTH = "scenarios/integration/test_auth.py"
_HEALTH = "scenarios/integration/test_health_metrics.py"
_LIMITS = "scenarios/integration/test_input_limits.py"
_QUORUM = "scenarios/consensus/test_health_quorum.py"
_INTROSPECTION = "scenarios/consensus/test_introspection.py"
_RESTART_AFTER_TRANSFER = "scenarios/consensus/test_restart_after_state_transfer.py"
_ERROR_CODES = "scenarios/integration/test_error_codes.py"
_TASK_RESULTS = "scenarios/integration/test_task_results.py"
_EDGE_HTTP = "scenarios/edge/test_edge_agent_http.py"
_MEMORY = "scenarios/integration/test_memory.py"
_LINEAR = "scenarios/integration/test_memory_linearizable.py"
_TASKS = "scenarios/integration/test_tasks.py"
_LLM = "scenarios/integration/test_llm.py"
_EDGE = "scenarios/edge/test_failover.py"
_DLQ = "scenarios/pipeline/test_dead_letter.py"
_NO_LOSS = "scenarios/pipeline/test_no_loss.py"
_HOSTILE = "scenarios/security/test_hostile_input.py"
_LOGIN = "scenarios/security/test_login.py"
_BOLA = "scenarios/security/test_authorization.py"
_REPLAY = "scenarios/security/test_replay.py"

_CORE = (f"{_CONSENSUS}::test_a_retried_transfer_applies_exactly_once",
         f"{_CONSENSUS}::test_transfers_commit_identically_on_every_replica",
         f"{_RECOVERY}::test_one_backup_killed_under_load_then_caught_up",
         f"{_RECOVERY}::test_primary_fails_view_change_then_commits_resume",
         f"{_RECOVERY}::test_wiped_replica_recovers_by_state_transfer",
         f"{_CONSENSUS}::test_restarted_cluster_reaches_consensus_within_30s_with_ledger_intact")
_BYZ_CASE = f"{_BYZANTINE}::test_f_byzantine_replicas_keep_the_honest_ones_safe_and_live"
# Signatures and equivocation: what a faulty replica's messages must not get past.
_SIGNED = (f"{_BYZ_CASE}[forge-backup]", f"{_BYZ_CASE}[equivocate-primary]",
           f"{_BYZ_CASE}[mutate-view-backup]")
_PARTITIONS = (f"{_PARTITION}::test_a_backup_cut_off_alone_waits_one_view_ahead",)


@dataclass(frozen=True)
class Module:
    """A mutated module: its path in ``reference_system``, subsystem, and scenario node ids."""

    path: str
    subsystem: str
    scenarios: tuple[str, ...]


MODULES: tuple[Module, ...] = (
    Module("consensus/state_machine.py", "ledger", (_CONSENSUS, _TASKS, _TASK_RESULTS,
           f"{_RECOVERY}::test_wiped_replica_recovers_by_state_transfer", _REPLAY)),
    Module("api/ftns.py", "ledger", (_CONSENSUS, f"{_LIMITS}::test_transfer_limits", _REPLAY)),
    Module("consensus/replica.py", "consensus", _CORE + _SIGNED + _PARTITIONS),
    Module("consensus/state.py", "consensus", _CORE + _SIGNED + _PARTITIONS),
    Module("consensus/batching.py", "consensus", _CORE + _PARTITIONS),
    Module("consensus/normal.py", "consensus", _CORE + _SIGNED + _PARTITIONS),
    Module("consensus/checkpoints.py", "consensus", (*_CORE, _RESTART_AFTER_TRANSFER,
                                                     *_SIGNED, *_PARTITIONS)),
    Module("consensus/viewchange.py", "consensus", _CORE + _PARTITIONS + _SIGNED),
    Module("consensus/recovery.py", "consensus", (*_CORE, _RESTART_AFTER_TRANSFER, *_PARTITIONS)),
    Module("consensus/certs.py", "consensus", _CORE + _SIGNED + _PARTITIONS),
    Module("consensus/messages.py", "consensus", _CORE + _SIGNED),
    Module("consensus/crypto.py", "consensus", _CORE + _SIGNED),
    Module("consensus/durable.py", "consensus", (*_CORE, _RESTART_AFTER_TRANSFER)),
    Module("consensus/node.py", "consensus", (_INTROSPECTION, *_CORE, _RESTART_AFTER_TRANSFER,
                                              *_PARTITIONS)),
    Module("consensus/transport.py", "consensus", _CORE + _PARTITIONS),
    Module("consensus/client.py", "consensus", _CORE + _PARTITIONS),
    Module("consensus/events.py", "consensus", _CORE),
    Module("consensus/introspect.py", "consensus", (_INTROSPECTION, *_CORE)),
    Module("consensus/config.py", "consensus", _CORE),
    Module("consensus/byzantine.py", "consensus", (_BYZANTINE,)),
    Module("api/ordering.py", "consensus", (_CONSENSUS, _TASKS, _QUORUM)),
    Module("memory.py", "memory", (_MEMORY, _LINEAR,
           f"{_HEALTH}::test_metrics_export_memory_tier_hit_ratios")),
    Module("api/auth.py", "auth", (_AUTH, f"{_LIMITS}::test_login_username_limit", _LOGIN)),
    Module("passwords.py", "auth", (_AUTH,)),
    Module("tasks.py", "tasks", (_TASKS, _TASK_RESULTS, f"{_LIMITS}::test_task_priority_limit")),
    Module("worker.py", "tasks", (_TASKS, _TASK_RESULTS, "scenarios/integration/"
                                  "test_task_failover.py")),
    Module("pipeline.py", "pipeline", (_DLQ, _NO_LOSS)),
    Module("telemetry.py", "pipeline", (_DLQ, _NO_LOSS)),
    Module("edge.py", "edge", (_EDGE_HTTP, _EDGE)),
    Module("inference.py", "edge", (_EDGE, f"{_LIMITS}::test_omitted_lengths_take_their_defaults")),
    Module("llm.py", "edge", (_LLM, f"{_LIMITS}::test_generation_limits")),
    Module("httpd.py", "edge", (_EDGE_HTTP, _EDGE, _DLQ)),
    Module("api/middleware.py", "api", (_HEALTH, _ERROR_CODES, f"{_AUTH}::test_protected_"
                                        "endpoints_refuse_anonymous_calls")),
    Module("api/errors.py", "api", (_HEALTH, _ERROR_CODES, _LLM)),
    Module("api/health.py", "api", (_HEALTH, _QUORUM)),
    Module("api/app.py", "api", (_HEALTH, _AUTH, _ERROR_CODES)),
    Module("api/routes.py", "api", (_HEALTH, _MEMORY, _TASKS, _LLM, _AUTH, _ERROR_CODES,
                                    _LIMITS, _BOLA, _LOGIN)),
    Module("api/models.py", "api", (_HEALTH, _LIMITS, _MEMORY, _TASKS, _LLM, _HOSTILE)),
    Module("api/strict.py", "api", (_HOSTILE, _MEMORY, _ERROR_CODES)),
    Module("api/lockout.py", "auth", (_LOGIN, _AUTH)),
    Module("api/admin.py", "auth", ("scenarios/security/test_function_authorization.py",
                                    _LOGIN)),
    Module("settings.py", "api", (_HEALTH, _AUTH)),
)

EXCLUDED: dict[str, str] = {
    "consensus/sim.py": "the deterministic simulator of the harness's own tests; no deployment "
                        "runs it",
    "consensus/launch.py": "the benchmarks' cluster launcher; targets build clusters themselves",
    "cli.py": "command-line glue: a mutant there stops every process from starting",
    "commandline.py": "command-line glue (as cli.py)",
    "commands/": "command-line glue (as cli.py)",
    "ports.py": "free-port helper of the launchers",
    "api/serve.py": "graceful draining at shutdown: only the slow rolling-deploy and rollback "
                    "drills observe it (scenarios/drills, run by the gates)",
}


def by_path() -> dict[str, Module]:
    """The catalogue keyed by module path."""
    return {m.path: m for m in MODULES}


def select(names: list[str]) -> list[Module]:
    """Modules named by path (``memory.py``) or subsystem key (``ledger``); all if empty.
    Raises ``KeyError`` naming an unknown name."""
    if not names:
        return list(MODULES)
    chosen: dict[str, Module] = {}
    for name in names:
        matched = [m for m in MODULES if name in (m.path, m.subsystem)
                   or m.path == f"{name}.py" or m.path.removesuffix(".py") == name]
        if not matched:
            raise KeyError(name)
        chosen.update({m.path: m for m in matched})
    return [m for m in MODULES if m.path in chosen]


def rotation(day: int, days: int = 7) -> list[Module]:
    """The modules of day ``day`` (0-based) of a ``days``-day rotation: every module once per
    rotation, dealt in catalogue order so each day gets a spread of subsystems."""
    return [m for index, m in enumerate(MODULES) if index % days == day % days]

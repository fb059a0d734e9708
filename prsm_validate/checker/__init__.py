"""checker role of prsm-validate (DESIGN.md section 8): verdicts from histories and node state.

Every checker returns a :class:`Verdict` (``valid`` True, False or "unknown", a reason, a
minimal witness and figures); :func:`compose` merges verdicts by priority false > unknown > true.
"""

from prsm_validate.checker.agreement import CommittedEntry, NodeLog, check_agreement
from prsm_validate.checker.base import Compose, HistoryChecker, Linearizable, SetFull, TotalQueue
from prsm_validate.checker.ledger import LedgerState, Transfer, check_ledger, transfers_from_history
from prsm_validate.checker.linear import MODELS, check_linearizable
from prsm_validate.checker.liveness import (
    FaultWindow,
    check_recovery,
    fault_windows,
    faults_from_history,
    progress_from_history,
)
from prsm_validate.checker.ops import HistoryError, Op, pair_operations
from prsm_validate.checker.sets import check_set, check_total_queue
from prsm_validate.checker.verdict import UNKNOWN, Verdict, compose, merge_validity

__all__ = [
    "MODELS", "UNKNOWN", "CommittedEntry", "Compose", "FaultWindow", "HistoryChecker",
    "HistoryError", "LedgerState", "Linearizable", "NodeLog", "Op", "SetFull", "TotalQueue",
    "Transfer", "Verdict", "check_agreement", "check_ledger", "check_linearizable",
    "check_recovery", "check_set", "check_total_queue", "compose", "fault_windows",
    "faults_from_history", "merge_validity", "pair_operations", "progress_from_history",
    "transfers_from_history",
]

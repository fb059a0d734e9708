"""Consensus agreement across honest nodes (PBFT safety, checked from the nodes' own logs).

Input per node is what its ``/log`` endpoint returns::

    {"entries": [{"seq": 1, "view": 0, "digest": "ab..", "request_ids": ["client/0@1"],
                  "operation_ids": ["t-1"]}],
     "checkpoints": {"128": "<state digest>"}}

Honest nodes must commit the same digest at every sequence number (whatever the view, so a
sequence number is never reassigned across view changes), hold the same state digest at every
checkpoint they share, and never execute one request (PBFT's ``client@timestamp``) at two
different sequence numbers. Nodes that executed one sequence number under one digest must have
executed the same requests there, in the same order: a digest names one batch, so two
different request lists under it mean a node executed a batch its certificate does not
certify (compared only where both nodes list request ids). Operation ids are the client's
business: it may order one twice (a retry), and the state machine decides what the repeat does.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from prsm_validate.checker.verdict import UNKNOWN, Verdict

WITNESS_LIMIT = 20


@dataclass(frozen=True)
class CommittedEntry:
    """One committed log entry of one node."""

    seq: int
    view: int
    digest: str
    request_ids: tuple[str, ...] = ()
    ids_listed: bool = True  # False: the node's /log gave no request ids for it

    def to_json(self) -> dict[str, Any]:
        """JSON form (as in ``/log``)."""
        return {"seq": self.seq, "view": self.view, "digest": self.digest,
                "request_ids": list(self.request_ids)}


@dataclass
class NodeLog:
    """A node's committed entries and checkpoint state digests."""

    node: str
    entries: list[CommittedEntry]
    checkpoints: dict[int, str] = field(default_factory=dict)
    installs: list[tuple[int, int]] | None = None  # (snapshot seq, entries executed before)

    @classmethod
    def from_json(cls, node: str, data: Mapping[str, Any]) -> NodeLog:
        """Build from a node's ``/log`` response body."""
        entries = [CommittedEntry(int(e["seq"]), int(e.get("view", 0)), str(e["digest"]),
                                  tuple(str(r) for r in e.get("request_ids", ())
                                        if r is not None), "request_ids" in e)
                   for e in data.get("entries", [])]
        checkpoints = {int(seq): str(d) for seq, d in (data.get("checkpoints") or {}).items()}
        installs = data.get("installs")
        return cls(node, entries, checkpoints, None if installs is None else
                   [(int(i["seq"]), int(i["after_entries"])) for i in installs])


def check_agreement(logs: Sequence[NodeLog], honest: Collection[str] | None = None) -> Verdict:
    """Agreement of the ``honest`` nodes' logs (all given nodes when None)."""
    chosen = [log for log in logs if honest is None or log.node in honest]
    figures = {"nodes": len(chosen), "entries": sum(len(log.entries) for log in chosen),
               "checkpoints": sum(len(log.checkpoints) for log in chosen)}
    if not chosen or figures["entries"] == 0:
        return Verdict("agreement", UNKNOWN, "no committed entries to compare", figures=figures)
    problems = {
        "conflicting digests": _digest_conflicts(chosen),
        "different requests under one digest": _batch_conflicts(chosen),
        "conflicting checkpoints": _checkpoint_conflicts(chosen),
        "request executed at two sequence numbers": _double_execution(chosen),
        "sequence numbers skipped in execution": _skipped(chosen),
    }
    problems = {k: v[:WITNESS_LIMIT] for k, v in problems.items() if v}
    figures["common_prefix"] = _common_prefix(chosen)
    if not problems:
        return Verdict("agreement", True, f"{len(chosen)} honest nodes agree on every "
                       f"sequence number and checkpoint", figures=figures)
    reason = ", ".join(f"{len(v)} {k}" for k, v in problems.items())
    return Verdict("agreement", False, reason, witness=problems, figures=figures)


def _digest_conflicts(logs: Sequence[NodeLog]) -> list[dict[str, Any]]:
    by_seq: dict[int, list[tuple[str, CommittedEntry]]] = defaultdict(list)
    for log in logs:
        for entry in log.entries:
            by_seq[entry.seq].append((log.node, entry))
    return [{"seq": seq, "entries": [{"node": node, **e.to_json()} for node, e in found]}
            for seq, found in sorted(by_seq.items())
            if len({e.digest for _, e in found}) > 1]


def _batch_conflicts(logs: Sequence[NodeLog]) -> list[dict[str, Any]]:
    """Sequence numbers where nodes executed one digest with different request lists."""
    by_slot: dict[tuple[int, str], dict[tuple[str, ...], list[str]]] = defaultdict(
        lambda: defaultdict(list))
    for log in logs:
        for entry in log.entries:
            if entry.ids_listed:
                by_slot[(entry.seq, entry.digest)][entry.request_ids].append(log.node)
    return [{"seq": seq, "digest": digest,
             "request_ids": [{"nodes": nodes, "request_ids": list(ids)}
                             for ids, nodes in lists.items()]}
            for (seq, digest), lists in sorted(by_slot.items()) if len(lists) > 1]


def _checkpoint_conflicts(logs: Sequence[NodeLog]) -> list[dict[str, Any]]:
    by_seq: dict[int, dict[str, str]] = defaultdict(dict)
    for log in logs:
        for seq, digest in log.checkpoints.items():
            by_seq[seq][log.node] = digest
    return [{"seq": seq, "state_digests": digests} for seq, digests in sorted(by_seq.items())
            if len(set(digests.values())) > 1]


def _double_execution(logs: Sequence[NodeLog]) -> list[dict[str, Any]]:
    seqs: dict[str, dict[int, list[str]]] = defaultdict(lambda: defaultdict(list))
    for log in logs:
        for entry in log.entries:
            for request in entry.request_ids:
                seqs[request][entry.seq].append(log.node)
    return [{"request_id": request, "executed_at": {seq: nodes for seq, nodes in at.items()}}
            for request, at in sorted(seqs.items()) if len(at) > 1]


def _skipped(logs: Sequence[NodeLog]) -> list[dict[str, Any]]:
    """Execution must go 1, 2, 3...: a node may jump only to a snapshot state transfer
    installed. Logs without install records (a partial /log) are not judged."""
    found = []
    for log in logs:
        if log.installs is None:
            continue
        jumps = dict((after, seq) for seq, after in log.installs)
        previous = 0
        for position, entry in enumerate(log.entries):
            previous = max(previous, jumps.get(position, previous))
            if entry.seq > previous + 1:
                found.append({"node": log.node, "executed": entry.seq, "after": previous})
            previous = max(previous, entry.seq)
    return found


def _common_prefix(logs: Sequence[NodeLog]) -> int:
    """The highest sequence number every node has committed (0 if none)."""
    return min((max((e.seq for e in log.entries), default=0) for log in logs), default=0)

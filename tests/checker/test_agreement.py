"""Consensus agreement across honest nodes, from their /log payloads."""

from __future__ import annotations

from prsm_validate.checker import NodeLog, check_agreement


def node(name: str, entries: list[tuple[int, int, str, list[str]]],
         checkpoints: dict[str, str] | None = None) -> NodeLog:
    return NodeLog.from_json(name, {
        "entries": [{"seq": s, "view": v, "digest": d, "request_ids": r}
                    for s, v, d, r in entries],
        "checkpoints": checkpoints or {}})


GOOD = [(1, 0, "d1", ["r1"]), (2, 0, "d2", ["r2", "r3"]), (3, 1, "d3", [])]


def test_agreeing_nodes_with_a_lagging_one_are_valid() -> None:
    logs = [node("n0", GOOD, {"2": "s2"}), node("n1", GOOD, {"2": "s2"}), node("n2", GOOD[:2])]
    verdict = check_agreement(logs)
    assert verdict.valid is True
    assert verdict.figures["common_prefix"] == 2


def test_different_digest_at_a_sequence_number_across_views() -> None:
    forked = [*GOOD[:2], (3, 2, "evil", ["r9"])]
    verdict = check_agreement([node("n0", GOOD), node("n1", forked)])
    assert verdict.valid is False
    conflict = verdict.witness["conflicting digests"][0]
    assert conflict["seq"] == 3
    assert {(e["node"], e["view"], e["digest"]) for e in conflict["entries"]} == {
        ("n0", 1, "d3"), ("n1", 2, "evil")}


def test_checkpoint_state_digests_must_match() -> None:
    verdict = check_agreement([node("n0", GOOD, {"2": "s2"}), node("n1", GOOD, {"2": "bad"})])
    assert verdict.valid is False
    assert verdict.witness["conflicting checkpoints"] == [
        {"seq": 2, "state_digests": {"n0": "s2", "n1": "bad"}}]


def test_request_executed_twice() -> None:
    twice = [*GOOD, (4, 1, "d4", ["r1"])]
    verdict = check_agreement([node("n0", twice), node("n1", twice)])
    assert verdict.valid is False
    assert verdict.witness["request executed at two sequence numbers"] == [
        {"request_id": "r1", "executed_at": {1: ["n0", "n1"], 4: ["n0", "n1"]}}]


def test_byzantine_nodes_are_left_out() -> None:
    liar = node("n3", [(1, 0, "forged", ["r1"])])
    logs = [node("n0", GOOD), node("n1", GOOD), liar]
    assert check_agreement(logs).valid is False
    assert check_agreement(logs, honest={"n0", "n1"}).valid is True


def test_nothing_committed_is_unknown() -> None:
    verdict = check_agreement([node("n0", []), node("n1", [])])
    assert verdict.valid == "unknown"


def test_a_skipped_sequence_number_is_caught_unless_state_transfer_jumped_there() -> None:
    from prsm_validate.checker.agreement import NodeLog, check_agreement

    def log(node: str, seqs: list[int], installs: list[dict] | None) -> NodeLog:
        data = {"entries": [{"seq": s, "view": 0, "digest": f"d{s}"} for s in seqs]}
        if installs is not None:
            data["installs"] = installs
        return NodeLog.from_json(node, data)

    jumped = log("n0", [1, 2, 9, 10], [{"seq": 8, "after_entries": 2}])
    skipped = log("n1", [1, 2, 4, 3], [])
    unknown = log("n2", [1, 5], None)  # a partial /log: not judged
    verdict = check_agreement([jumped, skipped, unknown])
    assert verdict.valid is False
    assert verdict.witness["sequence numbers skipped in execution"] == [
        {"node": "n1", "executed": 4, "after": 2}]
    assert check_agreement([jumped, unknown]).valid is True


def test_different_requests_executed_under_one_digest() -> None:
    # A node that installed a catch-up entry whose batch is not the one its digest names.
    short = [GOOD[0], (2, 0, "d2", ["r2"]), GOOD[2]]
    verdict = check_agreement([node("n0", GOOD), node("n1", GOOD), node("n2", short)])
    assert verdict.valid is False
    assert "conflicting digests" not in verdict.witness
    assert verdict.witness["different requests under one digest"] == [
        {"seq": 2, "digest": "d2", "request_ids": [
            {"nodes": ["n0", "n1"], "request_ids": ["r2", "r3"]},
            {"nodes": ["n2"], "request_ids": ["r2"]}]}]
    reordered = [GOOD[0], (2, 0, "d2", ["r3", "r2"]), GOOD[2]]
    assert check_agreement([node("n0", GOOD), node("n1", reordered)]).valid is False


def test_request_lists_are_compared_only_where_a_node_gives_them() -> None:
    listed = node("n0", GOOD)
    unlisted = NodeLog.from_json("n1", {"entries": [
        {"seq": s, "view": v, "digest": d} for s, v, d, _ in GOOD]})
    assert check_agreement([listed, unlisted]).valid is True

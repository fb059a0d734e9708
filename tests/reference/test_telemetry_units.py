"""Telemetry message validation and the no-loss accounting (pure logic)."""

from __future__ import annotations

import random

import pytest

from prsm_validate.client.telemetry import PublishRun, account, reading
from reference_system.telemetry import PoisonMessage, decode


def test_valid_reading_round_trips():
    original = reading("dev-1", 7, random.Random(1))
    assert decode(original.encode()) == original
    assert original.msg_id == "dev-1/7" and original.subject == "telemetry.dev-1"


@pytest.mark.parametrize(("payload", "reason"), [
    (b"\xff\xfe", "not JSON"), (b"[1]", "not a JSON object"), (b'{"device": "d"}', "missing"),
    (b'{"device": "", "seq": 1, "published_at": 1, "cpu": 1, "memory": 1, "disk": 1,'
     b' "battery": 1, "temperature": 1, "inference_count": 1}', "bad field"),
    (b'{"device": "d", "seq": "x", "published_at": 1, "cpu": 1, "memory": 1, "disk": 1,'
     b' "battery": 1, "temperature": 1, "inference_count": 1}', "bad field"),
])
def test_poison_messages_are_rejected_with_a_reason(payload, reason):
    with pytest.raises(PoisonMessage, match=reason):
        decode(payload)


def test_accounting_finds_lost_and_duplicated_readings():
    run = PublishRun("d", attempted=5, acknowledged=[1, 2, 3, 4, 5])
    result = account(run, rows={1: 1, 2: 2, 4: 1, 5: 1}, broker_copies=6)
    assert result.lost == [3]
    assert result.duplicates == 2  # one extra row for seq 2, one extra copy in the broker
    assert result.landed == 4


def test_accounting_of_a_clean_run():
    run = PublishRun("d", attempted=3, acknowledged=[1, 2, 3])
    result = account(run, rows={1: 1, 2: 1, 3: 1}, broker_copies=3)
    assert (result.lost, result.duplicates, result.landed) == ([], 0, 3)

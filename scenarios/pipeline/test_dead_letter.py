"""Malformed telemetry goes to the dead-letter stream and never blocks the stream."""

from __future__ import annotations

import asyncio
import random
import uuid

import pytest

from prsm_validate import telemetry as tel
from reference_system import telemetry

pytestmark = [pytest.mark.pipeline, pytest.mark.requires("db", "broker", "pipeline")]

POISON = [b"not json at all", b'{"device": "x"}', b"[1, 2, 3]", b'{"device": "", "seq": 1}']


async def _publish_poison_then_valid(nats_url: str, device: str) -> None:
    import nats

    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        for index, payload in enumerate(POISON):
            await js.publish(f"telemetry.{device}", payload,
                             headers={"Nats-Msg-Id": f"{device}/poison-{index}"})
        rng = random.Random(1)
        for seq in (1, 2, 3):
            await js.publish(f"telemetry.{device}", tel.reading(device, seq, rng).encode(),
                             headers={"Nats-Msg-Id": f"{device}/{seq}"})
    finally:
        await nc.close()


async def _dead_letters_for(nats_url: str, device: str) -> list[tuple[bytes, str]]:
    import nats

    nc = await nats.connect(nats_url)
    found = []
    try:
        sub = await nc.jetstream().subscribe(telemetry.DLQ_SUBJECTS, ordered_consumer=True)
        while True:
            try:
                msg = await sub.next_msg(timeout=0.5)
            except (TimeoutError, nats.errors.TimeoutError):
                return found
            if (msg.headers or {}).get("Prsm-Original-Subject") == f"telemetry.{device}":
                found.append((msg.data, msg.headers["Prsm-Dlq-Reason"]))
    finally:
        await nc.close()


def test_poison_messages_are_dead_lettered_and_valid_ones_still_land(prsm_deployment):
    device = f"scn-poison-{uuid.uuid4().hex[:8]}"
    asyncio.run(_publish_poison_then_valid(prsm_deployment.nats_url, device))
    rows = tel.wait_landed(prsm_deployment.postgres_dsn, device, {1, 2, 3}, 20)
    assert set(rows) == {1, 2, 3}, "valid readings behind poison ones did not land"
    dead = asyncio.run(_dead_letters_for(prsm_deployment.nats_url, device))
    assert sorted(payload for payload, _ in dead) == sorted(POISON)
    assert all(reason for _, reason in dead)

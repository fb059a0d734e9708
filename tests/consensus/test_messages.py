"""Messages: wire round trips, digests recomputed by the receiver, signatures."""

from __future__ import annotations

import dataclasses

import pytest

from reference_system.consensus.crypto import (
    ClientMacs,
    Ed25519Keyring,
    ReplicaMacs,
    new_seed,
    public_key,
    sign_message,
    verify_message,
)
from reference_system.consensus.messages import (
    Checkpoint,
    Commit,
    CommittedEntry,
    MessageError,
    NewView,
    Prepare,
    PreparedCert,
    PrePrepare,
    Request,
    State,
    ViewChange,
    batch_digest,
    decode,
    encode,
)


@pytest.fixture(scope="module")
def keyrings() -> list[Ed25519Keyring]:
    seeds = [new_seed() for _ in range(4)]
    publics = {i: public_key(s) for i, s in enumerate(seeds)}
    return [Ed25519Keyring(i, s, publics) for i, s in enumerate(seeds)]


def _request(ts: int = 1) -> Request:
    return Request("c", ts, {"op": "transfer", "id": f"t{ts}", "from": "a", "to": "b",
                             "amount": 3})


def test_request_digest_excludes_authenticator_and_depends_on_operation() -> None:
    plain = _request()
    macs = ClientMacs({0: b"k0", 1: b"k1"})
    assert macs.authenticate(plain).digest == plain.digest
    assert _request(2).digest != plain.digest


def test_every_message_round_trips_through_the_wire(keyrings: list[Ed25519Keyring]) -> None:
    batch = (_request(1), _request(2))
    pp = sign_message(PrePrepare(0, 1, batch_digest(batch), 0, batch), keyrings[0])
    prepares = tuple(sign_message(Prepare(0, 1, pp.digest, i), keyrings[i]) for i in (1, 2))
    commit = sign_message(Commit(0, 1, pp.digest, 3), keyrings[3])
    cp = sign_message(Checkpoint(2, "d" * 64, 1), keyrings[1])
    vc = sign_message(ViewChange(1, 0, (cp,), (PreparedCert(pp, prepares),), 2), keyrings[2])
    nv = sign_message(NewView(1, (vc,), (pp,), 1), keyrings[1])
    state = State(2, b'{"x":1}', (cp,), (CommittedEntry(pp, (commit,)),), nv, 3)
    for message in (pp, prepares[0], commit, cp, vc, nv, state, batch[0]):
        again = decode(encode(message))
        assert type(again) is type(message)
        assert encode(again) == encode(message)
    assert verify_message(decode(encode(vc)), keyrings[0])


def test_receiver_recomputes_request_digests() -> None:
    wire = encode(_request()).replace(b'\\"amount\\":3', b'\\"amount\\":300')
    assert wire != encode(_request())  # the request's body travels as a JSON string
    assert decode(wire).digest != _request().digest


def test_malformed_frames_raise_message_error() -> None:
    for frame in (b"not json", b'{"type":"PREPARE"}', b'{"type":"NOPE"}', b"[1]"):
        with pytest.raises(MessageError):
            decode(frame)


def test_signatures_bind_sender_and_content(keyrings: list[Ed25519Keyring]) -> None:
    prepare = sign_message(Prepare(0, 1, "d", 1), keyrings[1])
    assert verify_message(prepare, keyrings[0])
    assert not verify_message(dataclasses.replace(prepare, seq=2), keyrings[0])
    assert not verify_message(dataclasses.replace(prepare, replica=2), keyrings[0])
    forged = sign_message(Prepare(0, 1, "d", 1), keyrings[2])  # replica 2 posing as 1
    assert not verify_message(forged, keyrings[0])


def test_request_macs_are_per_replica() -> None:
    client = ClientMacs({0: b"k0", 1: b"k1"})
    request = client.authenticate(_request())
    assert ReplicaMacs(0, b"k0").request_ok(request)
    assert not ReplicaMacs(0, b"wrong").request_ok(request)
    stripped = dataclasses.replace(request, auth={1: request.auth[1]})
    assert not ReplicaMacs(0, b"k0").request_ok(stripped)

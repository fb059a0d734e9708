"""Authentication: ed25519 signatures between replicas, MACs between clients and replicas.

Replica messages (PRE-PREPARE, PREPARE, COMMIT, CHECKPOINT, VIEW-CHANGE, NEW-VIEW, FETCH)
carry ed25519 signatures (PyNaCl) so they can be forwarded inside certificates. Client
requests and replies use HMAC-SHA256, as PBFT itself does with authenticators: a request
carries one MAC per replica, keyed by that replica's client secret, so a faulty replica cannot
forge a request that other replicas accept. Per-request ed25519 verification on every replica
would cost ~55 us x n of CPU per request (measured by ``prsm-validate bench consensus``).

:class:`FastKeyring` is a keyed-BLAKE2b stand-in with the same interface for the simulated
network, where thousands of schedules must run in seconds; it still detects corrupted or
mis-attributed signatures, which is all the protocol logic relies on.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
from typing import Any, Protocol

import nacl.exceptions
import nacl.signing

from reference_system.consensus.messages import Reply, Request


class Keyring(Protocol):
    """Signs as one replica and verifies any replica's signature."""

    replica_id: int

    def sign(self, payload: bytes) -> bytes:
        """Signature of ``payload`` by this replica."""
        ...

    def verify(self, replica: int, payload: bytes, sig: bytes) -> bool:
        """Whether ``sig`` is ``replica``'s signature of ``payload``."""
        ...


class Ed25519Keyring:
    """ed25519 keys: this replica's signing seed and every replica's public key."""

    def __init__(self, replica_id: int, seed: bytes, public_keys: dict[int, bytes]) -> None:
        self.replica_id = replica_id
        self._signing = nacl.signing.SigningKey(seed)
        self._verify = {i: nacl.signing.VerifyKey(k) for i, k in public_keys.items()}

    def sign(self, payload: bytes) -> bytes:
        """Detached ed25519 signature."""
        return self._signing.sign(payload).signature

    def verify(self, replica: int, payload: bytes, sig: bytes) -> bool:
        """Verify a detached signature; unknown replicas never verify."""
        key = self._verify.get(replica)
        if key is None or len(sig) != 64:
            return False
        try:
            key.verify(payload, sig)
        except nacl.exceptions.BadSignatureError:
            return False
        return True


def new_seed() -> bytes:
    """A fresh random ed25519 seed (32 bytes)."""
    return bytes(nacl.signing.SigningKey.generate())


def public_key(seed: bytes) -> bytes:
    """The public key of an ed25519 seed."""
    return bytes(nacl.signing.SigningKey(seed).verify_key)


class FastKeyring:
    """Keyed BLAKE2b 'signatures' for simulation: unforgeable without the replica's secret."""

    def __init__(self, replica_id: int, secrets: dict[int, bytes]) -> None:
        self.replica_id = replica_id
        self._secrets = secrets

    def sign(self, payload: bytes) -> bytes:
        """Tag of ``payload`` under this replica's secret."""
        return hashlib.blake2b(payload, key=self._secrets[self.replica_id],
                               digest_size=16).digest()

    def verify(self, replica: int, payload: bytes, sig: bytes) -> bool:
        """Recompute the tag under ``replica``'s secret."""
        secret = self._secrets.get(replica)
        if secret is None:
            return False
        expected = hashlib.blake2b(payload, key=secret, digest_size=16).digest()
        return hmac.compare_digest(expected, sig)


def sign_message(message: Any, keyring: Keyring) -> Any:
    """A copy of a signed-message dataclass with its ``sig`` filled in."""
    return dataclasses.replace(message, sig=keyring.sign(message.payload()))


def verify_message(message: Any, keyring: Keyring) -> bool:
    """Whether a signed message carries a valid signature of the replica it names."""
    return keyring.verify(message.replica, message.payload(), message.sig)


def _mac(secret: bytes, data: bytes) -> str:
    return hmac.digest(secret, data, "sha256")[:16].hex()  # one call, no HMAC object


class ReplicaMacs:
    """A replica's side of client authentication: checks request MACs, MACs replies."""

    def __init__(self, replica_id: int, secret: bytes) -> None:
        self.replica_id = replica_id
        self._secret = secret

    def request_ok(self, request: Request) -> bool:
        """Whether the request's MAC for this replica is valid."""
        mac = request.auth.get(self.replica_id)
        return mac is not None and hmac.compare_digest(mac, _mac(self._secret,
                                                                 request.digest.encode()))

    def mac_reply(self, reply: Reply) -> Reply:
        """The reply with its MAC filled in (and its payload bytes kept for the wire)."""
        body = reply.payload()
        return Reply(reply.view, reply.timestamp, reply.client, reply.replica, reply.result,
                     _mac(self._secret, body), body)


class ClientMacs:
    """A client's side: an authenticator per request, verification of each reply."""

    def __init__(self, secrets: dict[int, bytes]) -> None:
        self._secrets = secrets

    def authenticate(self, request: Request) -> Request:
        """The request with one MAC per replica."""
        data = request.digest.encode()
        return request.with_auth({i: _mac(s, data) for i, s in self._secrets.items()})

    def reply_ok(self, reply: Reply) -> bool:
        """Whether the reply's MAC is valid for the replica it names."""
        secret = self._secrets.get(reply.replica)
        return secret is not None and hmac.compare_digest(reply.mac,
                                                          _mac(secret, reply.payload()))

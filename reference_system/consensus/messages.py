"""PBFT messages, their canonical encoding, digests and wire form.

Every replica message is signed over a canonical encoding of its protocol fields: a compact
JSON array ``[TYPE, field, ...]`` (``canonical``). Requests and replies travel as their
canonical text (``body``), so they are encoded once, by their author. A PRE-PREPARE's
signature covers ``(view, seq, digest)`` only; its batch travels beside it and is checked
against ``digest`` (Castro & Liskov piggyback requests the same way). Requests are digested over
``[client, timestamp, operation]`` with sorted keys, so the client's authenticator (a MAC per
replica) is not part of the digest. A batch digest is the sha256 of the concatenated request
digests; the empty batch is the null request of a NEW-VIEW.

On the wire a message is a JSON object with ``"type"``; ``from_wire`` rebuilds the object and
recomputes every digest itself, never trusting one sent by the peer.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any


class MessageError(ValueError):
    """A frame that is not a well-formed protocol message."""


# One encoder each, made once: ``json.dumps`` with options builds a new encoder per call.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
_COMPACT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def canonical(value: Any) -> bytes:
    """Compact, sorted-key JSON: the byte string digests and signatures are computed over."""
    return _CANONICAL.encode(value).encode()


def sha256_hex(data: bytes) -> str:
    """Hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


NULL_DIGEST = sha256_hex(b"")


@dataclass(frozen=True, slots=True, eq=False)
class Request:
    """A client REQUEST ``<op, t, c>``; ``auth`` maps replica id to the client's MAC for it.

    ``body`` is the canonical encoding ``["REQUEST", c, t, op]`` the client made; it travels
    as it is (in the REQUEST and inside PRE-PREPAREs) and the digest is its sha256, so no
    replica re-encodes a request: each parses the same bytes, so all execute the same op.
    """

    client: str
    timestamp: int
    operation: dict[str, Any]
    auth: dict[int, str] = field(default_factory=dict)
    body: str = ""
    digest: str = field(init=False)

    def __post_init__(self) -> None:
        if not self.body:
            object.__setattr__(self, "body", _CANONICAL.encode(
                ["REQUEST", self.client, self.timestamp, self.operation]))
        object.__setattr__(self, "digest", sha256_hex(self.body.encode()))

    def with_auth(self, auth: dict[int, str]) -> Request:
        """The same request with the client's authenticator ``auth``."""
        return Request(self.client, self.timestamp, self.operation, auth, self.body)

    @property
    def key(self) -> tuple[str, int]:
        """The deduplication key (client, timestamp)."""
        return (self.client, self.timestamp)

    @property
    def request_id(self) -> str:
        """PBFT's identity of the request, ``client@timestamp``: it must execute once."""
        return f"{self.client}@{self.timestamp}"

    @property
    def operation_id(self) -> Any:
        """The client-chosen operation id, so checkers can match acknowledgements (a client
        may order one operation id twice: the state machine decides what a repeat does)."""
        return self.operation.get("id")


def batch_digest(batch: tuple[Request, ...]) -> str:
    """Digest of an ordered batch of requests (the empty batch is the null request)."""
    return sha256_hex("".join(r.digest for r in batch).encode())


@dataclass(frozen=True, slots=True, eq=False)
class Reply:
    """REPLY ``<v, t, c, i, r>`` authenticated by a MAC for the client.

    ``body`` caches :meth:`payload` (made once by the replica, sent as it is, MAC-checked by
    the client over the bytes received).
    """

    view: int
    timestamp: int
    client: str
    replica: int
    result: Any
    mac: str = ""
    body: bytes = b""

    def payload(self) -> bytes:
        """The bytes the MAC covers."""
        return self.body or canonical(["REPLY", self.view, self.timestamp, self.client,
                                       self.replica, self.result])


@dataclass(frozen=True, slots=True, eq=False)
class PrePrepare:
    """PRE-PREPARE ``<v, n, d>`` signed by the primary, with the batch piggybacked."""

    view: int
    seq: int
    digest: str
    replica: int
    batch: tuple[Request, ...] = ()
    sig: bytes = b""

    def payload(self) -> bytes:
        """Signed fields (the batch is bound through ``digest``)."""
        return canonical(["PRE-PREPARE", self.view, self.seq, self.digest, self.replica])


@dataclass(frozen=True, slots=True, eq=False)
class Prepare:
    """PREPARE ``<v, n, d, i>``."""

    view: int
    seq: int
    digest: str
    replica: int
    sig: bytes = b""

    def payload(self) -> bytes:
        """Signed fields."""
        return canonical(["PREPARE", self.view, self.seq, self.digest, self.replica])


@dataclass(frozen=True, slots=True, eq=False)
class Commit:
    """COMMIT ``<v, n, d, i>``."""

    view: int
    seq: int
    digest: str
    replica: int
    sig: bytes = b""

    def payload(self) -> bytes:
        """Signed fields."""
        return canonical(["COMMIT", self.view, self.seq, self.digest, self.replica])


@dataclass(frozen=True, slots=True, eq=False)
class Checkpoint:
    """CHECKPOINT ``<n, d, i>``: replica i's state digest after executing sequence n."""

    seq: int
    state_digest: str
    replica: int
    sig: bytes = b""

    def payload(self) -> bytes:
        """Signed fields."""
        return canonical(["CHECKPOINT", self.seq, self.state_digest, self.replica])


@dataclass(frozen=True, slots=True, eq=False)
class PreparedCert:
    """A prepared certificate: a PRE-PREPARE and 2f matching PREPAREs from other replicas."""

    pre_prepare: PrePrepare
    prepares: tuple[Prepare, ...]


@dataclass(frozen=True, slots=True, eq=False)
class CommittedEntry:
    """A committed certificate: the PRE-PREPARE (with batch) and 2f+1 matching COMMITs."""

    pre_prepare: PrePrepare
    commits: tuple[Commit, ...]


@dataclass(frozen=True, slots=True, eq=False)
class ViewChange:
    """VIEW-CHANGE ``<v+1, n, C, P, i>``: stable checkpoint proof C, prepared certificates P."""

    view: int
    stable_seq: int
    checkpoint_proof: tuple[Checkpoint, ...]
    prepared: tuple[PreparedCert, ...]
    replica: int
    sig: bytes = b""

    def payload(self) -> bytes:
        """Signed fields: everything but the signature."""
        return canonical(["VIEW-CHANGE", self.view, self.stable_seq,
                          [to_wire(c) for c in self.checkpoint_proof],
                          [_cert_wire(p) for p in self.prepared], self.replica])


@dataclass(frozen=True, slots=True, eq=False)
class NewView:
    """NEW-VIEW ``<v+1, V, O>`` from the new primary."""

    view: int
    view_changes: tuple[ViewChange, ...]
    pre_prepares: tuple[PrePrepare, ...]
    replica: int
    sig: bytes = b""

    def payload(self) -> bytes:
        """Signed fields: the view changes (by their signatures) and the new pre-prepares."""
        return canonical(["NEW-VIEW", self.view, [v.sig.hex() for v in self.view_changes],
                          [[p.seq, p.digest] for p in self.pre_prepares], self.replica])


@dataclass(frozen=True, slots=True, eq=False)
class Fetch:
    """FETCH-STATE: replica asks a peer for everything it executed from ``from_seq`` on."""

    from_seq: int
    view: int
    replica: int
    sig: bytes = b""

    def payload(self) -> bytes:
        """Signed fields."""
        return canonical(["FETCH", self.from_seq, self.view, self.replica])


@dataclass(frozen=True, slots=True, eq=False)
class State:
    """STATE: a checkpoint snapshot with its 2f+1 proof and/or committed entries after it.

    Not signed: every part carries its own certificate (checkpoint proof, commit certificates,
    the NEW-VIEW's view changes), so a faulty sender can withhold but not forge.
    """

    seq: int
    snapshot: bytes | None
    checkpoint_proof: tuple[Checkpoint, ...]
    entries: tuple[CommittedEntry, ...]
    new_view: NewView | None
    replica: int


Message = (Request | Reply | PrePrepare | Prepare | Commit | Checkpoint | ViewChange | NewView
           | Fetch | State)
SIGNED = (PrePrepare, Prepare, Commit, Checkpoint, ViewChange, NewView, Fetch)


def _request_wire(r: Request) -> dict[str, Any]:
    return {"q": r.body, "a": {str(k): v for k, v in r.auth.items()}}


def _request_from(d: dict[str, Any]) -> Request:
    auth = {int(k): str(v) for k, v in d.get("a", {}).items()}
    if "q" not in d:  # the older form, field by field (durable logs written before)
        return _checked_request(["REQUEST", d["c"], d["t"], d["o"]], auth, "")
    body = d["q"]
    if not isinstance(body, str):
        raise MessageError("malformed request")
    return _checked_request(json.loads(body), auth, body)


def _checked_request(fields: Any, auth: dict[int, str], body: str) -> Request:
    if not isinstance(fields, list) or len(fields) != 4 or fields[0] != "REQUEST":
        raise MessageError("malformed request")
    _, client, ts, operation = fields
    if type(ts) is not int or not isinstance(operation, dict) or not isinstance(client, str):
        raise MessageError("malformed request")
    return Request(client, ts, operation, auth, body)


def _reply_from(d: dict[str, Any]) -> Reply:
    body = str(d["p"]).encode()
    fields = json.loads(body)
    if not isinstance(fields, list) or len(fields) != 6 or fields[0] != "REPLY":
        raise MessageError("malformed reply")
    _, view, timestamp, client, replica, result = fields
    return Reply(int(view), int(timestamp), str(client), int(replica), result, str(d["mac"]),
                 body)


def _cert_wire(p: PreparedCert) -> dict[str, Any]:
    return {"pp": to_wire(p.pre_prepare), "p": [to_wire(x) for x in p.prepares]}


def _entry_wire(e: CommittedEntry) -> dict[str, Any]:
    return {"pp": to_wire(e.pre_prepare), "c": [to_wire(x) for x in e.commits]}


def to_wire(m: Message) -> dict[str, Any]:
    """The JSON-ready form of a message."""
    return _ENCODERS[type(m)](m)


_ENCODERS: dict[type, Any] = {
    Request: lambda m: {"type": "REQUEST", **_request_wire(m)},
    # "c" and "t" repeat the client and timestamp outside the MAC'd payload so that a client
    # can drop a reply it no longer waits for (beyond the f+1 it needs) without parsing it.
    Reply: lambda m: {"type": "REPLY", "c": m.client, "t": m.timestamp,
                      "p": m.payload().decode(), "mac": m.mac},
    PrePrepare: lambda m: {"type": "PRE-PREPARE", "v": m.view, "n": m.seq, "d": m.digest,
                           "i": m.replica, "b": [_request_wire(r) for r in m.batch],
                           "s": m.sig.hex()},
    Prepare: lambda m: {"type": "PREPARE", "v": m.view, "n": m.seq, "d": m.digest,
                        "i": m.replica, "s": m.sig.hex()},
    Commit: lambda m: {"type": "COMMIT", "v": m.view, "n": m.seq, "d": m.digest,
                       "i": m.replica, "s": m.sig.hex()},
    Checkpoint: lambda m: {"type": "CHECKPOINT", "n": m.seq, "d": m.state_digest,
                           "i": m.replica, "s": m.sig.hex()},
    ViewChange: lambda m: {"type": "VIEW-CHANGE", "v": m.view, "n": m.stable_seq,
                           "C": [to_wire(c) for c in m.checkpoint_proof],
                           "P": [_cert_wire(p) for p in m.prepared], "i": m.replica,
                           "s": m.sig.hex()},
    NewView: lambda m: {"type": "NEW-VIEW", "v": m.view,
                        "V": [to_wire(x) for x in m.view_changes],
                        "O": [to_wire(x) for x in m.pre_prepares], "i": m.replica,
                        "s": m.sig.hex()},
    Fetch: lambda m: {"type": "FETCH", "n": m.from_seq, "v": m.view, "i": m.replica,
                      "s": m.sig.hex()},
    State: lambda m: {"type": "STATE", "n": m.seq,
                      "snap": None if m.snapshot is None else m.snapshot.decode(),
                      "C": [to_wire(c) for c in m.checkpoint_proof],
                      "E": [_entry_wire(e) for e in m.entries],
                      "nv": None if m.new_view is None else to_wire(m.new_view),
                      "i": m.replica},
}


def _sig(d: dict[str, Any]) -> bytes:
    return bytes.fromhex(d["s"])


def _typed(d: dict[str, Any], kind: type) -> Any:
    message = from_wire(d)
    if not isinstance(message, kind):
        raise MessageError(f"expected {kind.__name__}")
    return message


def _decode_view_change(d: dict[str, Any]) -> ViewChange:
    certs = tuple(PreparedCert(_typed(p["pp"], PrePrepare),
                               tuple(_typed(x, Prepare) for x in p["p"])) for p in d["P"])
    return ViewChange(int(d["v"]), int(d["n"]), tuple(_typed(c, Checkpoint) for c in d["C"]),
                      certs, int(d["i"]), _sig(d))


def _decode_state(d: dict[str, Any]) -> State:
    entries = tuple(CommittedEntry(_typed(e["pp"], PrePrepare),
                                   tuple(_typed(x, Commit) for x in e["c"])) for e in d["E"])
    snap = d["snap"]
    new_view = None if d["nv"] is None else _typed(d["nv"], NewView)
    return State(int(d["n"]), None if snap is None else str(snap).encode(),
                 tuple(_typed(c, Checkpoint) for c in d["C"]), entries, new_view, int(d["i"]))


_DECODERS: dict[str, Any] = {
    "REQUEST": _request_from,
    "REPLY": _reply_from,
    "PRE-PREPARE": lambda d: PrePrepare(int(d["v"]), int(d["n"]), str(d["d"]), int(d["i"]),
                                        tuple(_request_from(r) for r in d["b"]), _sig(d)),
    "PREPARE": lambda d: Prepare(int(d["v"]), int(d["n"]), str(d["d"]), int(d["i"]), _sig(d)),
    "COMMIT": lambda d: Commit(int(d["v"]), int(d["n"]), str(d["d"]), int(d["i"]), _sig(d)),
    "CHECKPOINT": lambda d: Checkpoint(int(d["n"]), str(d["d"]), int(d["i"]), _sig(d)),
    "VIEW-CHANGE": _decode_view_change,
    "NEW-VIEW": lambda d: NewView(int(d["v"]), tuple(_typed(x, ViewChange) for x in d["V"]),
                                  tuple(_typed(x, PrePrepare) for x in d["O"]), int(d["i"]),
                                  _sig(d)),
    "FETCH": lambda d: Fetch(int(d["n"]), int(d["v"]), int(d["i"]), _sig(d)),
    "STATE": _decode_state,
}


def from_wire(d: Any) -> Message:
    """Rebuild a message from its wire form; raises :class:`MessageError` if malformed."""
    try:
        return _DECODERS[d["type"]](d)
    except MessageError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise MessageError(f"malformed message: {exc!r}") from exc


def encode(m: Message) -> bytes:
    """Wire bytes of a message (compact JSON)."""
    return _COMPACT.encode(to_wire(m)).encode()


def decode(data: bytes) -> Message:
    """Parse wire bytes; raises :class:`MessageError` if malformed."""
    try:
        return from_wire(json.loads(data.decode()))  # str: json skips sniffing the encoding
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise MessageError(f"not JSON: {exc}") from exc

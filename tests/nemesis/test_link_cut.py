"""A cut link (the partition mechanism every link of the local target goes through, on the
fault proxy): traffic flows; a cut passes nothing and keeps the connection open (a blackhole,
as a partition looks to the endpoints); the heal closes a connection whose bytes were dropped
(Toxiproxy's timeout toxic does the same: what would follow is not the stream the peer sent),
and new connections flow again."""

from __future__ import annotations

from prsm_validate.nemesis.partitions import Partition, heal_link

from .conftest import Proxied, closed_by_peer, nothing_arrives, round_trip


def _cut(proxied: Proxied) -> Partition:
    return Partition(proxied.client, {"upstream": ["client"]},
                     naming=lambda src, dst: proxied.name).apply()


def test_cut_passes_nothing_and_the_heal_ends_the_broken_stream(proxied: Proxied):
    sock = proxied.connect()
    round_trip(sock, b"before")
    partition = _cut(proxied)
    sock.sendall(b"during")
    assert nothing_arrives(sock, 0.3), "a cut link carried data (or closed the connection)"
    partition.heal()
    assert closed_by_peer(sock, 2), "a stream with dropped bytes was left open after the heal"
    round_trip(proxied.connect(), b"after")


def test_new_connections_work_through_a_healed_link(proxied: Proxied):
    _cut(proxied)
    heal_link(proxied.client, proxied.name)
    for _ in range(3):
        round_trip(proxied.connect(timeout_s=5), b"x" * 100_000)

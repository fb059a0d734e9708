"""Every toxic and the enabled flag, observed on real traffic through the proxy to an echo server.

Timing bounds are wide on the slow side (a shared 2-core machine) and tight where the effect
must show: a toxic's delay is a lower bound, the baseline an upper one.
"""

from __future__ import annotations

import socket
import statistics
import time

import pytest

from prsm_validate.waiting import eventually
from tests.nemesis.conftest import (
    EchoServer,
    Proxied,
    address_of,
    closed_by_peer,
    nothing_arrives,
    read_until_closed,
    round_trip,
    start_echo,
)


def test_pass_through_keeps_every_byte(proxied: Proxied):
    sock = proxied.connect()
    payload = bytes(range(256)) * 4096  # 1 MiB
    assert round_trip(sock, payload) < 2
    assert round_trip(sock, b"x") < 0.05


def test_latency_delays_each_round_trip(proxied: Proxied):
    sock = proxied.connect()
    assert round_trip(sock) < 0.05
    proxied.toxic("latency", latency=120)  # on a live connection
    assert 0.12 <= round_trip(sock) < 0.5
    proxied.toxic("latency", stream="upstream", latency=60)
    assert 0.18 <= round_trip(sock) < 0.6, "upstream and downstream latency add up"


def test_latency_jitter_spreads_delays_within_bounds(proxied: Proxied):
    proxied.toxic("latency", latency=40, jitter=30)
    sock = proxied.connect()
    delays = [round_trip(sock) for _ in range(12)]
    assert min(delays) >= 0.010 - 0.001
    assert max(delays) < 0.070 + 0.1
    assert max(delays) - min(delays) > 0.010, f"no jitter seen in {delays}"


def test_latency_is_pipelined_not_per_chunk(proxied: Proxied):
    proxied.toxic("latency", latency=100)
    sock = proxied.connect()
    # 2 MiB arrives in many chunks; each is delayed by 100 ms, but not one after the other.
    assert 0.1 <= round_trip(sock, b"z" * (2 * 1024 * 1024)) < 1.0


def test_updating_a_toxic_changes_live_connections(proxied: Proxied):
    proxied.toxic("latency", latency=30)
    sock = proxied.connect()
    assert 0.03 <= round_trip(sock) < 0.2
    proxied.client.update_toxic("echo", "latency_downstream", {"latency": 150})
    assert 0.15 <= round_trip(sock) < 0.5
    proxied.client.remove_toxic("echo", "latency_downstream")
    assert round_trip(sock) < 0.05


def test_bandwidth_limits_the_rate(proxied: Proxied):
    proxied.toxic("bandwidth", rate=200)  # KB/s
    sock = proxied.connect()
    payload = b"b" * 60_000  # 0.3 s at 200 KB/s
    elapsed = round_trip(sock, payload)
    assert 0.27 <= elapsed < 0.9, f"60 KB at 200 KB/s took {elapsed:.3f}s"
    proxied.client.remove_toxic("echo", "bandwidth_downstream")
    assert round_trip(sock, payload) < 0.1


def test_slow_close_delays_the_close(proxied: Proxied):
    sock = proxied.connect()
    sock.shutdown(socket.SHUT_WR)  # the echo server ends, the proxy passes its close on
    _, elapsed = read_until_closed(sock, 2)
    assert elapsed < 0.1
    proxied.toxic("slow_close", delay=300)
    sock = proxied.connect()
    assert round_trip(sock) < 0.05, "slow_close delays the close, not the data"
    sock.shutdown(socket.SHUT_WR)
    _, elapsed = read_until_closed(sock, 2)
    assert 0.3 <= elapsed < 1.0


def test_timeout_zero_is_a_blackhole_that_holds_the_connection(proxied: Proxied,
                                                               echo: EchoServer):
    sock = proxied.connect()
    proxied.toxic("timeout", stream="upstream", timeout=0)
    sock.sendall(b"lost")
    assert nothing_arrives(sock, 0.3), "data passed a blackhole, or the connection closed"
    assert b"lost" not in echo.received
    proxied.client.remove_toxic("echo", "timeout_upstream")
    # Removing it closes the connection (bytes were dropped mid-stream), as Toxiproxy does.
    assert read_until_closed(sock, 2)[0] == b""
    assert round_trip(proxied.connect()) < 0.05


def test_timeout_closes_after_its_timeout(proxied: Proxied):
    proxied.toxic("timeout", timeout=200)
    sock = proxied.connect()
    sock.sendall(b"dropped")
    received, elapsed = read_until_closed(sock, 2)
    assert received == b""
    assert 0.19 <= elapsed < 0.8


def test_stream_direction_is_respected(proxied: Proxied, echo: EchoServer):
    proxied.toxic("timeout", stream="downstream", timeout=0)
    sock = proxied.connect()
    sock.sendall(b"goes-up")
    eventually(lambda: b"goes-up" in echo.received, 2, what="upstream bytes at the server")
    assert nothing_arrives(sock, 0.2), "the downstream blackhole let the echo through"


def test_reset_peer_resets_the_connection(proxied: Proxied):
    proxied.toxic("reset_peer", stream="upstream", timeout=0)
    sock = proxied.connect()
    sock.sendall(b"trigger")
    with pytest.raises(ConnectionResetError):
        read_until_closed(sock, 2)


def test_reset_peer_waits_for_its_timeout(proxied: Proxied):
    proxied.toxic("reset_peer", stream="upstream", timeout=250)
    sock = proxied.connect()
    started = time.perf_counter()
    sock.sendall(b"trigger")
    with pytest.raises(ConnectionResetError):
        read_until_closed(sock, 2)
    assert time.perf_counter() - started >= 0.24


def test_slicer_cuts_data_into_small_delayed_pieces(proxied: Proxied):
    proxied.toxic("slicer", average_size=20, size_variation=4, delay=15_000)
    sock = proxied.connect()
    payload = bytes(range(120))
    sock.sendall(payload)
    pieces, started = [], time.perf_counter()
    while sum(map(len, pieces)) < len(payload):
        pieces.append(sock.recv(65536))
        assert pieces[-1], "closed early"
    elapsed = time.perf_counter() - started
    assert b"".join(pieces) == payload
    assert len(pieces) >= 4, f"not sliced: {list(map(len, pieces))}"
    small = [len(piece) <= 24 for piece in pieces]
    assert sum(small) >= len(pieces) / 2, f"pieces too big: {list(map(len, pieces))}"
    assert elapsed >= 0.015 * 3, "pieces were not delayed"


def test_limit_data_closes_after_the_limit(proxied: Proxied):
    proxied.toxic("limit_data", bytes=100)
    sock = proxied.connect()
    sock.sendall(b"L" * 300)
    received, _ = read_until_closed(sock, 2)
    assert received == b"L" * 100


def test_toxicity_decides_per_connection(proxied: Proxied):
    proxied.client.add_toxic("echo", "latency", {"latency": 200}, toxicity=0.0)
    assert all(round_trip(proxied.connect()) < 0.1 for _ in range(5))
    proxied.client.update_toxic("echo", "latency_downstream", toxicity=1.0)
    assert all(round_trip(proxied.connect()) >= 0.2 for _ in range(3))


def test_toxicity_half_hits_some_connections(proxied: Proxied):
    proxied.client.add_toxic("echo", "latency", {"latency": 50}, toxicity=0.5)
    slow = [round_trip(proxied.connect()) >= 0.05 for _ in range(12)]
    assert 0 < sum(slow) < 12, f"toxicity 0.5 hit {sum(slow)} of 12 connections"


def test_disabled_proxy_drops_connections_and_refuses_new_ones(proxied: Proxied):
    sock = proxied.connect()
    assert round_trip(sock) < 0.05
    proxied.client.disable("echo")
    assert closed_by_peer(sock, 2)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(address_of(proxied.listen), timeout=1).close()
    again = proxied.client.enable("echo")
    assert again["listen"] == proxied.listen, "re-enabled on another port"
    assert round_trip(proxied.connect()) < 0.05


def test_changing_upstream_redirects_new_connections(proxied: Proxied):
    other = start_echo()
    try:
        proxied.client.update_proxy("echo", upstream=other.address)
        round_trip(proxied.connect(), b"to-other")
        assert b"to-other" in other.received
    finally:
        other.shutdown()
        other.server_close()


def test_many_connections_at_once(proxied: Proxied):
    socks = [proxied.connect() for _ in range(20)]
    delays = [round_trip(sock, f"n{i}".encode()) for i, sock in enumerate(socks)]
    assert statistics.median(delays) < 0.05


def test_unreachable_upstream_closes_the_client(toxiproxy):
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{free.getsockname()[1]}"  # bound, not listening: refused
        listen = toxiproxy.create_proxy("dead", dead)["listen"]
        with socket.create_connection(address_of(listen), timeout=2) as sock:
            assert read_until_closed(sock, 2)[0] == b""


def test_deleting_a_proxy_drops_its_connections(proxied: Proxied):
    sock = proxied.connect()
    assert round_trip(sock) < 0.05
    proxied.client.delete_proxy("echo")
    assert closed_by_peer(sock, 2)

"""``prsm-validate bench proxy``: the fault proxy's cost on a pass-through link, vs a direct one.

An upstream process (uvloop protocols: an echo port and a sink port) and the proxy as users run
it standalone (``prsm-validate proxy``, its own process) serve a client in this process:
- added latency: a 64-byte request/response round trip, direct and through the proxy, in
  alternating blocks over one connection each; added = proxied quantile - direct quantile;
- throughput: ``--mbytes`` MB sent to the sink, direct and through the proxy (median of
  ``--runs``); MB = 10^6 bytes.
The same figures for the proxy embedded in this process (a thread, sharing the GIL with the
client, as in the harness) are reported with the ``embedded_`` prefix. Toxiproxy documents
< 100 us added latency and ~1000 MB/s; the JSON gives our ratios to those figures.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

NAME = "proxy"
HELP = "Fault proxy added latency (p50/p99) and throughput vs direct; JSON on the last line."
TOXIPROXY_ADDED_LATENCY_US, TOXIPROXY_THROUGHPUT_MB_S = 100.0, 1000.0
UPSTREAM = """
import asyncio, struct, uvloop
class Echo(asyncio.Protocol):
    def connection_made(self, transport): self.t = transport
    def data_received(self, data): self.t.write(data)
class Sink(asyncio.Protocol):
    def connection_made(self, transport): self.t, self.want, self.got = transport, None, 0
    def data_received(self, data):
        if self.want is None:
            self.want, data = struct.unpack("!Q", data[:8])[0], data[8:]
        self.got += len(data)
        if self.got >= self.want:
            self.t.write(b"k"); self.want, self.got = None, self.got - self.want
async def main():
    loop = asyncio.get_running_loop()
    echo = await loop.create_server(Echo, "127.0.0.1", 0)
    sink = await loop.create_server(Sink, "127.0.0.1", 0)
    print(echo.sockets[0].getsockname()[1], sink.sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()
uvloop.run(main())
"""


def configure(parser: argparse.ArgumentParser) -> None:
    """Options of the proxy benchmark."""
    parser.add_argument("--samples", type=int, default=4000,
                        help="round trips per path for the latency figures (default 4000)")
    parser.add_argument("--mbytes", type=int, default=200,
                        help="MB per throughput run (default 200)")
    parser.add_argument("--runs", type=int, default=3, help="throughput runs per path")


@contextmanager
def _process(argv: list[str]) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """A child in its own session, its first output line; killed (its group) on exit."""
    child = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        yield child, child.stdout.readline()  # type: ignore[union-attr]
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGTERM)
            try:
                child.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait(5)
        child.stdout.close()  # type: ignore[union-attr]


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def round_trips(sock: socket.socket, count: int, budget_s: float | None = None) -> list[float]:
    """Seconds per 64-byte echo round trip on ``sock``: ``count`` of them, or (with a budget)
    as many as fit in ``budget_s`` once 50 are taken."""
    payload, samples = b"p" * 64, []
    deadline = None if budget_s is None else time.perf_counter() + budget_s
    for _ in range(count):
        if deadline is not None and len(samples) >= 50 and time.perf_counter() > deadline:
            break
        started = time.perf_counter()
        sock.sendall(payload)
        received = 0
        while received < len(payload):
            received += len(sock.recv(4096))
        samples.append(time.perf_counter() - started)
    return samples


def _latency(direct_port: int, proxied_port: int, samples: int) -> dict[str, list[float]]:
    """Alternating blocks of round trips, so drift on a shared machine hits both paths."""
    result: dict[str, list[float]] = {"direct": [], "proxied": []}
    with _connect(direct_port) as direct, _connect(proxied_port) as proxied:
        round_trips(direct, 200), round_trips(proxied, 200)  # warm-up
        block = max(samples // 10, 1)
        for _ in range(max(samples // block, 1)):
            result["direct"] += round_trips(direct, block)
            result["proxied"] += round_trips(proxied, block)
    return result


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)]


def _throughput(port: int, mbytes: int) -> float:
    """MB/s sending ``mbytes`` MB to the sink until it acknowledges the last byte."""
    total, block = mbytes * 1_000_000, b"t" * (1 << 20)
    with _connect(port) as sock:
        started = time.perf_counter()
        sock.sendall(struct.pack("!Q", total))
        for offset in range(0, total, len(block)):
            sock.sendall(block[:min(len(block), total - offset)])
        assert sock.recv(1) == b"k", "the sink did not acknowledge"
        return mbytes / (time.perf_counter() - started)


def _measure(ports: dict[str, int], args: argparse.Namespace, prefix: str = "") -> dict:
    rtt = _latency(ports["echo"], ports["proxied_echo"], args.samples)
    direct = [_throughput(ports["sink"], args.mbytes) for _ in range(args.runs)]
    proxied = [_throughput(ports["proxied_sink"], args.mbytes) for _ in range(args.runs)]
    figures = {
        "added_latency_p50_us": (_quantile(rtt["proxied"], .5) - _quantile(rtt["direct"], .5)),
        "added_latency_p99_us": (_quantile(rtt["proxied"], .99)
                                 - _quantile(rtt["direct"], .99)),
        "direct_rtt_p50_us": _quantile(rtt["direct"], .5),
        "proxied_rtt_p50_us": _quantile(rtt["proxied"], .5),
        "proxied_rtt_p99_us": _quantile(rtt["proxied"], .99),
    }
    result = {key: round(value * 1e6, 1) for key, value in figures.items()}
    result["throughput_mb_s"] = round(statistics.median(proxied), 1)
    result["direct_throughput_mb_s"] = round(statistics.median(direct), 1)
    result["throughput_ratio_to_direct"] = round(statistics.median(proxied)
                                                 / statistics.median(direct), 3)
    return {prefix + key: value for key, value in result.items()}


def _proxy_ports(url: str, upstream: dict[str, int]) -> dict[str, int]:
    from prsm_validate.faultproxy import ProxyClient

    ports = dict(upstream)
    with ProxyClient(url) as client:
        for name in ("echo", "sink"):
            listen = client.create_proxy(f"bench_{name}", f"127.0.0.1:{upstream[name]}")
            ports[f"proxied_{name}"] = int(listen["listen"].rsplit(":", 1)[1])
    return ports


def _standalone(upstream: dict[str, int], args: argparse.Namespace) -> dict:
    argv = [sys.executable, "-m", "prsm_validate.cli", "proxy", "--port", "0"]
    with _process(argv) as (_, ready):
        if "http://" not in ready:
            raise RuntimeError(f"the proxy did not start: {ready!r}")
        return _measure(_proxy_ports(ready.rsplit(" ", 1)[1].strip(), upstream), args)


def _embedded(upstream: dict[str, int], args: argparse.Namespace) -> dict:
    from prsm_validate.faultproxy import ProxyServer

    with ProxyServer() as server:
        return _measure(_proxy_ports(server.url, upstream), args, "embedded_")


def _timed(label: str, step: Callable[[], dict]) -> dict:
    started = time.monotonic()
    result = step()
    print(f"{label}: {json.dumps(result)} ({time.monotonic() - started:.1f}s)", flush=True)
    return result


def run(args: argparse.Namespace) -> int:
    """Measure standalone and embedded; JSON with the figures on the last line."""
    with _process([sys.executable, "-c", UPSTREAM]) as (_, ready):
        echo_port, sink_port = map(int, ready.split())
        upstream = {"echo": echo_port, "sink": sink_port}
        result = {"samples": args.samples, "mbytes": args.mbytes, "runs": args.runs,
                  "cpus": os.cpu_count()}
        result |= _timed("standalone proxy", lambda: _standalone(upstream, args))
        result |= _timed("embedded proxy", lambda: _embedded(upstream, args))
    result["added_latency_vs_toxiproxy_doc"] = round(
        result["added_latency_p50_us"] / TOXIPROXY_ADDED_LATENCY_US, 2)
    result["throughput_vs_toxiproxy_doc"] = round(
        result["throughput_mb_s"] / TOXIPROXY_THROUGHPUT_MB_S, 3)
    print(json.dumps(result))
    return 0

"""Real loopback servers and a fault proxy for the nemesis tests."""

from __future__ import annotations

import socket
import socketserver
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from prsm_validate.faultproxy import ProxyClient, ProxyServer


class _EchoHandler(socketserver.BaseRequestHandler):
    server: EchoServer

    def handle(self) -> None:
        while data := self.request.recv(65536):
            self.server.record(data)
            self.request.sendall(data)


class EchoServer(socketserver.ThreadingTCPServer):
    """Echoes every byte back and remembers what it received (to see which direction passed)."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # tests open many connections at once

    def handle_error(self, request: object, client_address: object) -> None:
        """Resets and aborts are what the toxics do: not worth a traceback."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _EchoHandler)
        self.received = bytearray()
        self._lock = threading.Lock()

    def record(self, data: bytes) -> None:
        """Note bytes that reached the server."""
        with self._lock:
            self.received += data

    @property
    def address(self) -> str:
        """``host:port`` as the Toxiproxy API wants it."""
        host, port = self.server_address[:2]
        return f"{host}:{port}"


def start_echo() -> EchoServer:
    """An echo server on a free loopback port, serving in a daemon thread."""
    server = EchoServer()
    threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
    return server


@pytest.fixture
def echo() -> Iterator[EchoServer]:
    """A loopback echo server, shut down after the test."""
    server = start_echo()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def proxy_server() -> Iterator[ProxyServer]:
    """A fault proxy server with a fixed seed (toxicity draws replay)."""
    with ProxyServer(seed=4) as server:
        yield server


@pytest.fixture
def toxiproxy(proxy_server: ProxyServer) -> Iterator[ProxyClient]:
    """A client of the fault proxy server."""
    with ProxyClient(proxy_server.url) as client:
        yield client


def address_of(listen: str) -> tuple[str, int]:
    """``host:port`` (or ``[v6]:port``) -> a socket address."""
    host, _, port = listen.rpartition(":")
    return host.strip("[]"), int(port)


@dataclass
class Proxied:
    """A proxy in front of the echo server, opening client connections through it."""

    client: ProxyClient
    name: str
    listen: str
    sockets: list[socket.socket] = field(default_factory=list)

    def connect(self, timeout_s: float = 2.0) -> socket.socket:
        """A new client connection through the proxy (closed after the test)."""
        sock = socket.create_connection(address_of(self.listen), timeout=timeout_s)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sockets.append(sock)
        return sock

    def toxic(self, type: str, stream: str = "downstream", **attributes: int) -> dict:
        """Add a toxic with these attributes."""
        return self.client.add_toxic(self.name, type, attributes, stream=stream)


@pytest.fixture
def proxied(toxiproxy: ProxyClient, echo: EchoServer) -> Iterator[Proxied]:
    """A proxy ``echo`` from a free loopback port to the echo server."""
    created = toxiproxy.create_proxy("echo", echo.address)
    proxied = Proxied(toxiproxy, "echo", created["listen"])
    try:
        yield proxied
    finally:
        for sock in proxied.sockets:
            sock.close()


def round_trip(sock: socket.socket, payload: bytes = b"ping") -> float:
    """Send ``payload``, read it back whole; seconds taken."""
    started = time.perf_counter()
    # A separate sender: echoing a payload larger than the socket buffers would deadlock a
    # send-then-read loop.
    sender = threading.Thread(target=sock.sendall, args=(payload,), daemon=True)
    sender.start()
    received = bytearray()
    while len(received) < len(payload):
        chunk = sock.recv(1 << 20)
        assert chunk, f"connection closed after {len(received)} of {len(payload)} bytes"
        received += chunk
    sender.join()
    assert received == payload
    return time.perf_counter() - started


def read_until_closed(sock: socket.socket, timeout_s: float) -> tuple[bytes, float]:
    """Read until EOF; the bytes and the seconds until EOF (fails after ``timeout_s``)."""
    started = time.perf_counter()
    sock.settimeout(timeout_s)
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received, time.perf_counter() - started


def nothing_arrives(sock: socket.socket, within_s: float) -> bool:
    """True if no byte and no EOF arrive within ``within_s`` (the connection is held)."""
    sock.settimeout(within_s)
    try:
        sock.recv(1)
    except TimeoutError:
        return True
    return False



def closed_by_peer(sock: socket.socket, within_s: float) -> bool:
    """True if the connection ends (EOF or reset) within ``within_s``, unread bytes aside."""
    try:
        read_until_closed(sock, within_s)
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False
    return True

"""The harness's link proxy: traffic flows, a cut holds it, a heal lets it through."""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Iterator

import pytest

from prsm_validate.nemesis.link import LinkProxy


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(4096):
            self.request.sendall(data)


@pytest.fixture
def link() -> Iterator[tuple[LinkProxy, tuple[str, int]]]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    proxy = LinkProxy(server.server_address)
    address = proxy.start()
    try:
        yield proxy, address
    finally:
        proxy.stop()
        server.shutdown()
        server.server_close()


def _echo(sock: socket.socket, payload: bytes, timeout_s: float) -> bytes:
    sock.settimeout(timeout_s)
    sock.sendall(payload)
    received = b""
    try:
        while len(received) < len(payload):
            chunk = sock.recv(4096)
            if not chunk:
                break
            received += chunk
    except TimeoutError:
        pass
    return received


def test_cut_holds_traffic_and_heal_delivers_it(link):
    proxy, address = link
    with socket.create_connection(address) as sock:
        assert _echo(sock, b"before", 2) == b"before"
        proxy.cut()
        assert _echo(sock, b"during", 0.3) == b"", "a cut link carried data"
        proxy.heal()
        sock.settimeout(2)
        assert sock.recv(64) == b"during", "held bytes did not arrive after the heal"
        assert _echo(sock, b"after", 2) == b"after"


def test_new_connections_work_through_the_link(link):
    _, address = link
    for _ in range(3):
        with socket.create_connection(address) as sock:
            assert _echo(sock, b"x" * 100_000, 5) == b"x" * 100_000

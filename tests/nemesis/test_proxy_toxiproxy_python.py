"""The fault proxy driven by the ``toxiproxy-python`` client from PyPI, unchanged."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
from toxiproxy import Toxiproxy
from toxiproxy.api import APIConsumer
from toxiproxy.exceptions import InvalidToxic, NotFound, ProxyExists

from prsm_validate.faultproxy import ProxyServer
from tests.nemesis.conftest import EchoServer, address_of, nothing_arrives, round_trip


@pytest.fixture
def toxiproxy_py(proxy_server: ProxyServer) -> Iterator[Toxiproxy]:
    """toxiproxy-python pointed at our server (its address is class state: restored after)."""
    saved = APIConsumer.host, APIConsumer.port
    server = Toxiproxy()
    server.update_api_consumer(proxy_server.host, proxy_server.port)
    try:
        yield server
    finally:
        APIConsumer.host, APIConsumer.port = saved


def test_running_and_version(toxiproxy_py: Toxiproxy):
    assert toxiproxy_py.running() is True
    assert b'"version"' in toxiproxy_py.version()


def test_create_list_get_destroy(toxiproxy_py: Toxiproxy, echo: EchoServer):
    proxy = toxiproxy_py.create(upstream=echo.address, name="redis")
    assert proxy.enabled is True and address_of(proxy.listen)[1] != 0
    assert set(toxiproxy_py.proxies()) == {"redis"}
    assert toxiproxy_py.get_proxy("redis").listen == proxy.listen
    with socket.create_connection(address_of(proxy.listen), timeout=2) as sock:
        assert round_trip(sock) < 0.1
    with pytest.raises(ProxyExists):
        toxiproxy_py.create(upstream=echo.address, name="redis")
    assert toxiproxy_py.destroy(proxy) is True
    assert toxiproxy_py.get_proxy("redis") is None
    with pytest.raises(NotFound):
        proxy.destroy()


def test_toxics_through_the_client(toxiproxy_py: Toxiproxy, echo: EchoServer):
    proxy = toxiproxy_py.create(upstream=echo.address, name="db")
    sock = socket.create_connection(address_of(proxy.listen), timeout=2)
    try:
        proxy.add_toxic(type="latency", attributes={"latency": 100})
        toxics = proxy.toxics()
        assert set(toxics) == {"latency_downstream"}
        assert toxics["latency_downstream"].attributes["latency"] == 100
        assert round_trip(sock) >= 0.1
        assert proxy.destroy_toxic("latency_downstream") is True
        assert round_trip(sock) < 0.05
        proxy.add_toxic(type="timeout", stream="upstream", name="cut",
                        attributes={"timeout": 0})
        assert proxy.get_toxic("cut").stream == "upstream"
        sock.sendall(b"x")
        assert nothing_arrives(sock, 0.2)
        with pytest.raises(InvalidToxic):
            proxy.add_toxic(type="no-such-toxic")
    finally:
        sock.close()


def test_down_and_reset(toxiproxy_py: Toxiproxy, echo: EchoServer):
    proxy = toxiproxy_py.create(upstream=echo.address, name="db")
    with proxy.down():
        assert toxiproxy_py.get_proxy("db").enabled is False
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(address_of(proxy.listen), timeout=1).close()
    assert toxiproxy_py.get_proxy("db").enabled is True
    proxy.disable()
    proxy.add_toxic(type="latency", attributes={"latency": 500})
    assert toxiproxy_py.reset() is True
    assert toxiproxy_py.get_proxy("db").enabled is True
    assert proxy.toxics() == {}
    with socket.create_connection(address_of(proxy.listen), timeout=2) as sock:
        started = time.perf_counter()
        round_trip(sock)
        assert time.perf_counter() - started < 0.1


def test_populate(toxiproxy_py: Toxiproxy, echo: EchoServer):
    created = toxiproxy_py.populate([
        {"name": "one", "upstream": echo.address, "listen": "127.0.0.1:0"},
        {"name": "two", "upstream": echo.address, "listen": "127.0.0.1:0"},
    ])
    assert sorted(p.name for p in created) == ["one", "two"]
    assert set(toxiproxy_py.proxies()) == {"one", "two"}
    toxiproxy_py.destroy_all()
    assert toxiproxy_py.proxies() == {}

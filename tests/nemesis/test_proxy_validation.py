"""The fault proxy refuses absurd toxics with 400 naming the field, and a failed update
changes nothing: the proxy keeps its address, upstream, toxics and traffic."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import httpx
import pytest

from prsm_validate.faultproxy import ProxyServer
from tests.nemesis.conftest import EchoServer, address_of, round_trip


@pytest.fixture
def api(proxy_server: ProxyServer) -> Iterator[httpx.Client]:
    """Plain HTTP to the proxy server's API."""
    with httpx.Client(base_url=proxy_server.url, trust_env=False, timeout=5) as client:
        yield client


def _raw(api: httpx.Client, method: str, path: str, text: str) -> httpx.Response:
    # NaN and Infinity are not JSON, but Python's and Go's lenient decoders take them.
    return api.request(method, path, content=text.encode(),
                       headers={"Content-Type": "application/json"})


BAD_ATTRIBUTES = [
    ("latency", '{"latency": NaN}', "attribute latency must be a finite integer"),
    ("latency", '{"latency": Infinity}', "attribute latency must be a finite integer"),
    ("latency", '{"jitter": -Infinity}', "attribute jitter must be a finite integer"),
    ("latency", '{"latency": 1e30}', "attribute latency must be at most 3600000"),
    ("latency", '{"latency": -5}', "attribute latency must not be negative"),
    ("latency", '{"latency": true}', "attribute latency must be a finite integer"),
    ("latency", '{"latency": 2.5}', "attribute latency must be an integer"),
    ("bandwidth", '{"rate": 1e300}', "attribute rate must be at most"),
    ("timeout", '{"timeout": 1e12}', "attribute timeout must be at most 3600000"),
    ("limit_data", '{"bytes": 1e40}', "attribute bytes must be at most"),
]


@pytest.mark.parametrize(("kind", "attributes", "message"), BAD_ATTRIBUTES)
def test_absurd_attributes_are_refused_with_400_naming_the_field(
        api: httpx.Client, echo: EchoServer, kind: str, attributes: str, message: str) -> None:
    assert api.post("/proxies", json={"name": "p", "upstream": echo.address}).status_code == 201
    body = f'{{"type": "{kind}", "attributes": {attributes}}}'
    created = _raw(api, "POST", "/proxies/p/toxics", body)
    assert created.status_code == 400, created.text
    assert message in created.json()["error"]
    assert api.get("/proxies/p/toxics").json() == []
    # An update of an existing toxic is refused the same way and changes nothing.
    good = api.post("/proxies/p/toxics", json={"name": "t", "type": kind})
    assert good.status_code == 200
    updated = _raw(api, "POST", "/proxies/p/toxics/t", f'{{"attributes": {attributes}}}')
    assert updated.status_code == 400 and message in updated.json()["error"]
    assert api.get("/proxies/p/toxics/t").json() == good.json()


@pytest.mark.parametrize("toxicity", ["NaN", "Infinity", "-1", "1.5"])
def test_toxicity_outside_0_1_is_refused(api: httpx.Client, echo: EchoServer,
                                         toxicity: str) -> None:
    api.post("/proxies", json={"name": "p", "upstream": echo.address})
    response = _raw(api, "POST", "/proxies/p/toxics",
                    f'{{"type": "latency", "toxicity": {toxicity}}}')
    assert response.status_code == 400
    assert "toxicity must be a number in [0, 1]" in response.json()["error"]


def test_a_failed_update_leaves_the_proxy_exactly_as_it_was(api: httpx.Client,
                                                            echo: EchoServer) -> None:
    proxy = api.post("/proxies", json={"name": "p", "upstream": echo.address}).json()
    api.post("/proxies/p/toxics", json={"name": "slow", "type": "latency",
                                        "attributes": {"latency": 1}})
    before = api.get("/proxies/p").json()
    with socket.create_connection(address_of(proxy["listen"]), timeout=2) as live:
        assert round_trip(live) < 1.0
        taken = echo.address  # the echo server holds this port
        response = api.post("/proxies/p", json={"listen": taken, "upstream": "127.0.0.1:1"})
        assert response.status_code == 500  # as Toxiproxy answers a bind error
        assert "listen" in response.json()["error"]
        assert api.get("/proxies/p").json() == before
        assert round_trip(live) < 1.0  # the live connection was not dropped
    with socket.create_connection(address_of(proxy["listen"]), timeout=2) as fresh:
        assert round_trip(fresh) < 1.0  # and it still accepts, to the old upstream
    bad = api.post("/proxies/p", json={"listen": "10.9.9.9:0"})  # not loopback
    assert bad.status_code == 400 and api.get("/proxies/p").json() == before


def test_a_successful_move_rebinds_and_drops_old_connections(api: httpx.Client,
                                                             echo: EchoServer) -> None:
    proxy = api.post("/proxies", json={"name": "p", "upstream": echo.address}).json()
    moved = api.post("/proxies/p", json={"listen": "127.0.0.1:0"}).json()
    assert moved["listen"] != proxy["listen"] and moved["enabled"] is True
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(address_of(proxy["listen"]), timeout=1).close()
    with socket.create_connection(address_of(moved["listen"]), timeout=2) as sock:
        assert round_trip(sock) < 1.0

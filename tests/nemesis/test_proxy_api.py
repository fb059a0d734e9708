"""The fault proxy's HTTP API, driven with plain HTTP as Toxiproxy documents it: routes,
fields, defaults, status codes and error bodies."""

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


def _error(response: httpx.Response, status: int, message: str) -> None:
    assert response.status_code == status, response.text
    assert response.json() == {"error": message, "status": status}


def test_version(api: httpx.Client):
    response = api.get("/version")
    assert response.status_code == 200
    assert response.json()["version"].startswith("2.")


def test_create_show_list_delete_proxy(api: httpx.Client, echo: EchoServer):
    created = api.post("/proxies", json={"name": "db", "listen": "127.0.0.1:0",
                                         "upstream": echo.address})
    assert created.status_code == 201
    body = created.json()
    assert body["name"] == "db" and body["upstream"] == echo.address
    assert body["enabled"] is True and body["toxics"] == []
    host, port = address_of(body["listen"])
    assert host == "127.0.0.1" and port != 0, "port 0 must come back as the bound port"
    with socket.create_connection((host, port), timeout=2) as sock:
        assert round_trip(sock) < 0.1
    assert api.get("/proxies/db").json() == body
    assert api.get("/proxies").json() == {"db": body}
    assert api.delete("/proxies/db").status_code == 204
    _error(api.get("/proxies/db"), 404, "proxy not found")
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((host, port), timeout=1).close()


def test_proxy_errors(api: httpx.Client, echo: EchoServer):
    proxy = {"name": "db", "listen": "127.0.0.1:0", "upstream": echo.address}
    assert api.post("/proxies", json=proxy).status_code == 201
    _error(api.post("/proxies", json=proxy), 409, "proxy already exists")
    _error(api.post("/proxies", json={"upstream": echo.address}), 400,
           "missing required field: name")
    _error(api.post("/proxies", json={"name": "x"}), 400, "missing required field: upstream")
    assert api.post("/proxies", content=b"{not json").status_code == 400
    assert api.post("/proxies", json={"name": "y", "listen": "10.1.2.3:0",
                                      "upstream": echo.address}).status_code == 400
    _error(api.delete("/proxies/nope"), 404, "proxy not found")
    _error(api.post("/proxies/nope", json={"enabled": False}), 404, "proxy not found")
    _error(api.get("/proxies/nope/toxics"), 404, "proxy not found")


def test_listen_on_a_taken_port_fails(api: httpx.Client, echo: EchoServer):
    taken = echo.address  # the echo server holds this port
    response = api.post("/proxies", json={"name": "clash", "listen": taken,
                                          "upstream": echo.address})
    assert response.status_code == 500
    assert "clash" not in api.get("/proxies").json()


def test_update_proxy_enabled_and_patch(api: httpx.Client, echo: EchoServer):
    body = api.post("/proxies", json={"name": "db", "upstream": echo.address}).json()
    disabled = api.post("/proxies/db", json={"enabled": False})
    assert disabled.status_code == 200 and disabled.json()["enabled"] is False
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(address_of(body["listen"]), timeout=1).close()
    enabled = api.patch("/proxies/db", json={"enabled": True})
    assert enabled.json() == body
    with socket.create_connection(address_of(body["listen"]), timeout=2) as sock:
        assert round_trip(sock) < 0.1


def test_toxic_lifecycle_and_defaults(api: httpx.Client, echo: EchoServer):
    api.post("/proxies", json={"name": "db", "upstream": echo.address})
    created = api.post("/proxies/db/toxics", json={"type": "latency",
                                                   "attributes": {"latency": 10}})
    assert created.status_code == 200  # Toxiproxy answers 200 here, not 201
    assert created.json() == {"name": "latency_downstream", "type": "latency",
                              "stream": "downstream", "toxicity": 1.0,
                              "attributes": {"latency": 10, "jitter": 0}}
    assert api.get("/proxies/db/toxics").json() == [created.json()]
    assert api.get("/proxies/db").json()["toxics"] == [created.json()]
    updated = api.post("/proxies/db/toxics/latency_downstream",
                       json={"attributes": {"jitter": 5}, "toxicity": 0.5})
    assert updated.status_code == 200
    assert updated.json()["attributes"] == {"latency": 10, "jitter": 5}
    assert updated.json()["toxicity"] == 0.5
    assert api.get("/proxies/db/toxics/latency_downstream").json() == updated.json()
    assert api.delete("/proxies/db/toxics/latency_downstream").status_code == 204
    _error(api.get("/proxies/db/toxics/latency_downstream"), 404, "toxic not found")
    _error(api.delete("/proxies/db/toxics/latency_downstream"), 404, "toxic not found")


@pytest.mark.parametrize("toxic, attributes", [
    ("latency", {"latency": 0, "jitter": 0}),
    ("bandwidth", {"rate": 0}),
    ("slow_close", {"delay": 0}),
    ("timeout", {"timeout": 0}),
    ("reset_peer", {"timeout": 0}),
    ("slicer", {"average_size": 1, "size_variation": 0, "delay": 0}),
    ("limit_data", {"bytes": 0}),
])
def test_every_toxic_type_is_accepted_with_its_attributes(api: httpx.Client, echo: EchoServer,
                                                          toxic: str, attributes: dict):
    api.post("/proxies", json={"name": "db", "upstream": echo.address})
    given = {"average_size": 1} if toxic == "slicer" else {}
    body = api.post("/proxies/db/toxics", json={"type": toxic, "stream": "upstream",
                                                "attributes": given}).json()
    assert body["attributes"] == attributes
    assert body["name"] == f"{toxic}_upstream" and body["stream"] == "upstream"


def test_toxic_errors(api: httpx.Client, echo: EchoServer):
    api.post("/proxies", json={"name": "db", "upstream": echo.address})
    toxic = {"type": "latency", "attributes": {"latency": 1}}
    api.post("/proxies/db/toxics", json=toxic)
    _error(api.post("/proxies/db/toxics", json=toxic), 409, "toxic already exists")
    _error(api.post("/proxies/db/toxics", json={"type": "nope"}), 400, "invalid toxic type")
    _error(api.post("/proxies/db/toxics", json={"type": "latency", "stream": "sideways"}), 400,
           "stream was invalid, can be either upstream or downstream")
    bad = api.post("/proxies/db/toxics", json={"type": "latency", "name": "x",
                                               "attributes": {"latency": "slow"}})
    assert bad.status_code == 400 and bad.json()["error"].startswith("bad request body")
    assert api.post("/proxies/db/toxics", json={"type": "latency", "name": "y",
                                                "toxicity": 2}).status_code == 400
    _error(api.post("/proxies/nope/toxics", json=toxic), 404, "proxy not found")
    _error(api.post("/proxies/db/toxics/ghost", json={}), 404, "toxic not found")


def test_populate_creates_keeps_and_replaces(api: httpx.Client, echo: EchoServer):
    first = api.post("/populate", json=[
        {"name": "a", "listen": "127.0.0.1:0", "upstream": echo.address},
        {"name": "b", "listen": "127.0.0.1:0", "upstream": echo.address, "enabled": False},
    ])
    assert first.status_code == 201
    proxies = {p["name"]: p for p in first.json()["proxies"]}
    assert proxies["a"]["enabled"] is True and proxies["b"]["enabled"] is False
    again = api.post("/populate", json=[{"name": "a", "listen": proxies["a"]["listen"],
                                         "upstream": echo.address}])
    assert again.json()["proxies"][0]["listen"] == proxies["a"]["listen"], "identical: kept"
    moved = api.post("/populate", json=[{"name": "a", "listen": "127.0.0.1:0",
                                         "upstream": echo.address}])
    assert moved.json()["proxies"][0]["listen"] != proxies["a"]["listen"], "changed: replaced"
    invalid = api.post("/populate", json=[{"name": "c", "upstream": echo.address},
                                          {"listen": "127.0.0.1:0"}])
    assert invalid.status_code == 400
    assert "c" not in api.get("/proxies").json(), "an invalid list must change nothing"


def test_reset_enables_everything_and_removes_toxics(api: httpx.Client, echo: EchoServer):
    api.post("/proxies", json={"name": "a", "upstream": echo.address})
    api.post("/proxies", json={"name": "b", "upstream": echo.address})
    api.post("/proxies/a/toxics", json={"type": "timeout", "attributes": {"timeout": 0}})
    api.post("/proxies/b", json={"enabled": False})
    assert api.post("/reset").status_code == 204
    state = api.get("/proxies").json()
    assert [state[n]["enabled"] for n in "ab"] == [True, True]
    assert state["a"]["toxics"] == [] and state["b"]["toxics"] == []
    with socket.create_connection(address_of(state["a"]["listen"]), timeout=2) as sock:
        assert round_trip(sock) < 0.1, "the blackhole is gone"


def test_unknown_route_and_method(api: httpx.Client):
    assert api.get("/nothing").status_code == 404
    assert api.put("/proxies").status_code == 405


def test_keep_alive_serves_many_requests_on_one_connection(api: httpx.Client):
    for _ in range(50):
        assert api.get("/proxies").status_code == 200

"""PRSM_TOXIPROXY_URL: the local target puts its link proxies on a given Toxiproxy server
(here our standalone server, which speaks the same API) and removes them when it stops."""

from __future__ import annotations

import pytest

from prsm_validate.faultproxy.client import ProxyClient
from prsm_validate.faultproxy.server import ProxyServer
from prsm_validate.targets.local import TOXIPROXY_ENV, LocalTarget

pytestmark = pytest.mark.slow


def test_link_proxies_live_on_the_given_server_and_are_removed(monkeypatch) -> None:
    with ProxyServer() as server, ProxyClient(server.url) as client:
        client.create_proxy("someone-elses", "127.0.0.1:9")
        monkeypatch.setenv(TOXIPROXY_ENV, server.url)
        target = LocalTarget()
        try:
            deployment = target.start()
            assert "faults" not in target.components()
            assert deployment.services["fault_proxy"] == server.url
            names = set(client.proxies())
            assert {"node-0-to-node-1", "api-to-node-3"} <= names
        finally:
            target.stop()
        assert set(client.proxies()) == {"someone-elses"}

"""Partition shapes: their properties (Hypothesis), and each shape observed on real traffic
through one fault proxy per directed link between four loopback "nodes"."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from prsm_validate.faultproxy import ProxyApiError, ProxyClient
from prsm_validate.nemesis import partitions as p
from tests.nemesis.conftest import EchoServer, address_of, start_echo

node_lists = st.lists(st.text("abcdefgh", min_size=1, max_size=3), min_size=3, max_size=9,
                      unique=True)


def _hears(grudge: p.Grudge, node: str) -> set[str]:
    return set(grudge) - grudge[node]


def _symmetric(grudge: p.Grudge) -> bool:
    return all((a in grudge[b]) == (b in grudge[a]) for a in grudge for b in grudge)


@given(node_lists)
def test_every_shape_covers_the_nodes_and_cuts_what_it_grudges(nodes):
    for name in ("halves", "majority-minority", "majorities-ring", "bridge"):
        grudge = p.shape(name, nodes)
        assert set(grudge) == set(nodes)
        assert all(node not in grudge[node] for node in nodes)
        links = p.links_to_cut(grudge)
        assert links == {(src, dst) for dst in nodes for src in grudge[dst]}
        assert links, f"{name} cut nothing among {nodes}"


@given(node_lists, st.data())
def test_isolate_cuts_one_node_both_ways(nodes, data):
    node = data.draw(st.sampled_from(nodes))
    grudge = p.isolate_primary(nodes, node)
    assert grudge[node] == set(nodes) - {node}
    assert all(grudge[other] == {node} for other in nodes if other != node)
    assert len(p.links_to_cut(grudge)) == 2 * (len(nodes) - 1)


@given(node_lists)
def test_halves_and_majority_minority_are_two_symmetric_components(nodes):
    halves = p.halves(nodes)
    assert _symmetric(halves)
    assert sorted({len(_hears(halves, n)) for n in nodes}) == sorted(
        {len(nodes) // 2, len(nodes) - len(nodes) // 2})
    split = p.majority_minority(nodes)
    assert _symmetric(split)
    sizes = sorted(len(_hears(split, n)) for n in nodes)
    assert sizes[0] == (len(nodes) - 1) // 2 and sizes[-1] > len(nodes) / 2


@given(node_lists)
def test_majorities_ring_each_node_sees_a_distinct_majority(nodes):
    grudge = p.majorities_ring(nodes)
    seen = [frozenset(_hears(grudge, node)) for node in nodes]
    assert all(len(view) > len(nodes) / 2 for view in seen)
    assert all(node in view for node, view in zip(nodes, seen, strict=True))
    assert len(set(seen)) == len(nodes), "two nodes see the same majority"


@given(node_lists)
def test_bridge_joins_two_halves_through_one_node(nodes):
    grudge = p.bridge(nodes)
    assert _symmetric(grudge)
    bridges = [node for node in nodes if not grudge[node]]
    assert len(bridges) == 1
    others = [node for node in nodes if node != bridges[0]]
    assert all(bridges[0] in _hears(grudge, node) for node in others)
    assert all(grudge[node] for node in others), "only the bridge hears everyone"


def test_explicit_grudge_is_checked_and_completed():
    assert p.explicit(["a", "b", "c"], {"a": ["b"]}) == {
        "a": frozenset({"b"}), "b": frozenset(), "c": frozenset()}
    assert p.links_to_cut(p.explicit(["a", "b"], {"a": {"b"}})) == {("b", "a")}
    with pytest.raises(ValueError, match="unknown nodes"):
        p.explicit(["a", "b"], {"a": ["z"]})
    with pytest.raises(ValueError, match="unknown partition shape"):
        p.shape("triangle", ["a", "b", "c"])
    with pytest.raises(ValueError, match="minority"):
        p.majority_minority(["a", "b", "c", "d"], minority=2)


NODES = ["n1", "n2", "n3", "n4"]


@pytest.fixture
def cluster(toxiproxy: ProxyClient) -> Iterator[dict[p.Link, str]]:
    """Four echo "nodes" and a proxy for every directed link: link -> its listen address."""
    servers = {node: start_echo() for node in NODES}
    links = {}
    try:
        for src in NODES:
            for dst in NODES:
                if src != dst:
                    created = toxiproxy.create_proxy(p.link_name(src, dst),
                                                     servers[dst].address)
                    links[(src, dst)] = created["listen"]
        yield links
    finally:
        for server in servers.values():
            server.shutdown()
            server.server_close()


def _links_carrying_data(links: dict[p.Link, str], expect_open: set[p.Link],
                         timeout_s: float = 2.0, quiet_s: float = 0.2) -> set[p.Link]:
    """Send on every link at once; the links whose echo came back. Waits until every link in
    ``expect_open`` answered (or ``timeout_s``), then ``quiet_s`` more for stragglers."""
    socks = {}
    try:
        for link, listen in links.items():
            try:
                sock = socket.create_connection(address_of(listen), timeout=2)
            except ConnectionRefusedError:
                continue  # a disabled proxy carries nothing
            socks[link] = sock
            sock.sendall(b"hello")
            sock.setblocking(False)
        answered: set[p.Link] = set()
        deadline, quiet_until = time.monotonic() + timeout_s, None
        while time.monotonic() < (quiet_until or deadline):
            for link, sock in socks.items():
                try:
                    if sock.recv(16) == b"hello":
                        answered.add(link)
                except BlockingIOError:
                    pass
            if quiet_until is None and expect_open <= answered:
                quiet_until = time.monotonic() + quiet_s
            time.sleep(0.005)
        return answered
    finally:
        for sock in socks.values():
            sock.close()


@pytest.mark.parametrize("shape, options", [
    ("isolate", {"node": "n2"}), ("isolate-primary", {"primary": "n1"}), ("halves", {}),
    ("majority-minority", {}), ("majorities-ring", {}), ("bridge", {}),
])
def test_shape_on_real_traffic_then_heal(toxiproxy: ProxyClient, cluster, shape, options):
    grudge = p.shape(shape, NODES, **options)
    cut = p.links_to_cut(grudge)
    with p.apply_grudge(toxiproxy, grudge):
        carried = _links_carrying_data(cluster, set(cluster) - cut)
        assert carried == set(cluster) - cut, f"{shape}: cut {sorted(cut)}"
    assert _links_carrying_data(cluster, set(cluster)) == set(cluster), "heal left a cut"
    assert all(proxy["toxics"] == [] for proxy in toxiproxy.proxies().values())


def test_explicit_grudge_by_disabling_proxies(toxiproxy: ProxyClient, cluster):
    grudge = p.explicit(NODES, {"n3": ["n1"]})
    partition = p.apply_grudge(toxiproxy, grudge, mode="disable")
    assert toxiproxy.proxy("n1-to-n3")["enabled"] is False
    assert _links_carrying_data(cluster, set(cluster) - {("n1", "n3")}) == set(cluster) - {
        ("n1", "n3")}
    partition.heal()
    assert _links_carrying_data(cluster, set(cluster)) == set(cluster)


def test_a_failed_apply_heals_what_it_cut(toxiproxy: ProxyClient, cluster):
    toxiproxy.delete_proxy("n4-to-n1")  # the grudge needs it: apply must fail and roll back
    with pytest.raises(ProxyApiError):
        p.apply_grudge(toxiproxy, p.isolate(NODES, "n1"))
    assert all(proxy["toxics"] == [] for proxy in toxiproxy.proxies().values())


def test_heal_clears_partitions_applied_elsewhere(toxiproxy: ProxyClient, cluster):
    p.apply_grudge(toxiproxy, p.halves(NODES))
    p.apply_grudge(toxiproxy, p.explicit(NODES, {"n1": ["n2"]}), mode="disable")
    p.heal(toxiproxy, [p.link_name(a, b) for a, b in cluster])
    state = toxiproxy.proxies().values()
    assert all(proxy["enabled"] and proxy["toxics"] == [] for proxy in state)


def test_echo_server_fixture_is_real(echo: EchoServer):
    with socket.create_connection(address_of(echo.address), timeout=2) as sock:
        sock.sendall(b"direct")
        assert sock.recv(16) == b"direct"

"""An embedded fault proxy speaking Toxiproxy's HTTP API, and a client for it.

``ProxyServer`` (background thread, context manager) and ``prsm-validate proxy`` (foreground)
serve proxies with toxics latency, bandwidth, slow_close, timeout, reset_peer, slicer and
limit_data; ``ProxyClient`` drives it, or a real Toxiproxy.
"""

from prsm_validate.nemesis.proxy.client import ProxyApiError, ProxyClient
from prsm_validate.nemesis.proxy.server import DEFAULT_HOST, DEFAULT_PORT, ProxyServer

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "ProxyApiError", "ProxyClient", "ProxyServer"]

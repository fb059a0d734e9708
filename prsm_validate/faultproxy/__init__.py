"""An embedded fault proxy speaking Toxiproxy's HTTP API, and a client for it.

``ProxyServer`` (background thread, context manager) and ``prsm-validate proxy`` (foreground)
serve proxies with toxics latency, bandwidth, slow_close, timeout, reset_peer, slicer and
limit_data; ``ProxyClient`` drives it, or a real Toxiproxy.

The names are loaded on first use: the proxy process (and the gateway, which shares a helper)
need not import the client's HTTP library to start.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {"ProxyApiError": "client", "ProxyClient": "client", "DEFAULT_HOST": "server",
          "DEFAULT_PORT": "server", "ProxyServer": "server"}
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)

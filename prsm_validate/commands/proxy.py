"""``prsm-validate proxy``: the Toxiproxy-compatible fault proxy in the foreground.

Serves the Toxiproxy HTTP API (default 127.0.0.1:8474, as Toxiproxy) until SIGINT or SIGTERM,
then closes every proxy and connection. Any Toxiproxy client can drive it.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

NAME = "proxy"
HELP = ("Run the Toxiproxy-compatible fault proxy (HTTP API on loopback, default "
        "127.0.0.1:8474) until SIGINT/SIGTERM.")


def configure(parser: argparse.ArgumentParser) -> None:
    """Options of ``proxy``."""
    from prsm_validate.faultproxy.server import DEFAULT_HOST, DEFAULT_PORT

    parser.add_argument("--host", default=DEFAULT_HOST,
                        help=f"API host, loopback only (default {DEFAULT_HOST})")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help=f"API port, 0 = a free one (default {DEFAULT_PORT})")
    parser.add_argument("--seed", type=int, default=None,
                        help="seed of toxicity draws and jitter, for replayable runs")
    parser.add_argument("--container-network", action="store_true",
                        help="inside a container on a private Docker network: listen on any "
                        "interface and forward to other containers (not only loopback)")


async def _main(args: argparse.Namespace) -> None:
    from prsm_validate.faultproxy.server import serve_forever

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    def ready(host: str, port: int) -> None:
        shown = f"[{host}]" if ":" in host else host
        print(f"fault proxy API listening on http://{shown}:{port}", flush=True)

    await serve_forever(args.host, args.port, stop, ready, seed=args.seed,
                        loopback_only=not args.container_network)


def run(args: argparse.Namespace) -> int:
    """Serve until a signal; 1 if the API address cannot be used."""
    from prsm_validate.faultproxy.server import new_event_loop

    loop = new_event_loop()
    try:
        loop.run_until_complete(_main(args))
    except (OSError, ValueError) as exc:
        print(f"prsm-validate proxy: {exc}", file=sys.stderr)
        return 1
    finally:
        loop.close()
    print("fault proxy stopped", flush=True)
    return 0

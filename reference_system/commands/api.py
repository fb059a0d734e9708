"""``prsm-ref api``: serve the reference HTTP API (configuration from PRSM_REF_* variables)."""

from __future__ import annotations

import argparse
import logging
import sys

NAME = "api"
HELP = "Serve the reference HTTP API; settings from PRSM_REF_* environment variables."


def configure(parser: argparse.ArgumentParser) -> None:
    """Options override PRSM_REF_HOST / PRSM_REF_PORT."""
    parser.add_argument("--host", help="listen address (default PRSM_REF_HOST or 127.0.0.1)")
    parser.add_argument("--port", type=int, help="listen port (default PRSM_REF_PORT or 8000)")
    parser.add_argument("--log-level", default="warning", help="uvicorn log level")


def run(args: argparse.Namespace) -> int:
    """Start uvicorn with uvloop and httptools; exit 2 on bad configuration."""
    import uvicorn

    from reference_system.api.app import create_app
    from reference_system.api.serve import DrainingServer
    from reference_system.settings import Settings, SettingsError

    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"prsm-ref api: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(message)s")
    app = create_app(settings)
    config = uvicorn.Config(app, host=args.host or settings.host,
                            port=args.port or settings.port, loop="uvloop", http="httptools",
                            log_level=args.log_level, access_log=False, server_header=False)
    DrainingServer(config, app.state, settings.drain_s).run()
    return 0


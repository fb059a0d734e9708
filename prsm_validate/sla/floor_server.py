"""The machine's floor for HTTP latency: a no-op endpoint on this machine's usual server stack.

A minimal ASGI app (no routing, no middleware, no work) served by uvicorn with uvloop and
httptools, as Python services of this kind are; any request gets ``200 {"status":"ok"}``.
Whatever latency a client measures against it is the machine's, not a system's.

Run as ``python -m prsm_validate.sla.floor_server --port N --parent PID``; it exits by itself
when the process that started it is gone (no orphan outlives a killed pytest).
"""

from __future__ import annotations

import argparse
import asyncio
import os
from typing import Any

BODY = b'{"status":"ok"}'
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answer every HTTP request at once; ignore lifespan events."""
    if scope["type"] != "http":
        return
    message = await receive()
    while message.get("more_body"):
        message = await receive()
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})


async def _watch_parent(parent: int, server: Any) -> None:
    while os.getppid() == parent:
        await asyncio.sleep(1.0)
    server.should_exit = True


def main() -> None:
    """Serve until the parent process goes away or SIGTERM."""
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--parent", type=int, required=True)
    args = parser.parse_args()
    config = uvicorn.Config(app, host="127.0.0.1", port=args.port, loop="uvloop",
                            http="httptools", lifespan="off", log_level="warning",
                            access_log=False)
    server = uvicorn.Server(config)

    async def serve() -> None:
        watcher = asyncio.create_task(_watch_parent(args.parent, server))
        await server.serve()
        watcher.cancel()

    asyncio.run(serve())


if __name__ == "__main__":
    main()

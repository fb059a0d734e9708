"""A small real HTTP server for load-engine tests and the coordinated-omission demo.

``/fast`` answers at once, ``/missing`` answers 404, ``/sleep/<ms>`` answers after ``ms``
milliseconds (a known latency, so merged percentiles can be checked). With ``stall=True`` the
server stops answering once, from 1 s to 2 s after its first request (a stalled server, for the
coordinated-omission test). ``served`` counts the requests answered, per path; ``clients``
lists the addresses they came from.
Run it alone with ``python -m prsm_validate.load.demo_server HOST PORT`` (until SIGTERM).
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as separate writes
    stall = False
    first_request: float | None = None
    served: dict[str, int] = {}
    clients: set[str] = set()
    lock = threading.Lock()

    def do_GET(self) -> None:
        cls = type(self)
        now = time.monotonic()
        cls.first_request = cls.first_request or now
        if cls.stall:
            stall_ends = cls.first_request + 2.0
            while cls.first_request + 1.0 <= time.monotonic() < stall_ends:
                time.sleep(0.005)
        if self.path.startswith("/sleep/"):
            time.sleep(int(self.path.rsplit("/", 1)[1]) / 1000)
        status = 404 if self.path == "/missing" else 200
        with cls.lock:
            cls.served[self.path] = cls.served.get(self.path, 0) + 1
            cls.clients.add(self.client_address[0])
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


class SmallServer:
    """Start/stop the server in a thread; ``url`` is its base URL."""

    def __init__(self, stall: bool = False, host: str = "127.0.0.1", port: int = 0) -> None:
        self.handler = type("Handler", (_Handler,), {"stall": stall, "first_request": None,
                                                     "served": {}, "clients": set(),
                                                     "lock": threading.Lock()})
        self.httpd = ThreadingHTTPServer((host, port), self.handler)
        self.httpd.daemon_threads = True
        self.url = f"http://{host}:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> SmallServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    @property
    def served(self) -> dict[str, int]:
        """Requests answered so far, per path."""
        with self.handler.lock:
            return dict(self.handler.served)

    @property
    def clients(self) -> list[str]:
        """The addresses requests came from."""
        with self.handler.lock:
            return sorted(self.handler.clients)


def main(argv: list[str]) -> int:
    """Serve on ``HOST PORT`` until SIGTERM/SIGINT; print the URL, then the counts (JSON)."""
    import json
    import signal

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    with SmallServer(host=argv[0], port=int(argv[1])) as server:
        print(server.url, flush=True)
        stop.wait()
        print(json.dumps({"served": server.served, "clients": server.clients}), flush=True)
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))

"""A small real HTTP server for load-engine tests and the coordinated-omission demo.

``/fast`` answers at once, ``/missing`` answers 404. With ``stall=True`` the server stops
answering once, from 1 s to 2 s after its first request (a stalled server, for the
coordinated-omission test).
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

    def do_GET(self) -> None:
        cls = type(self)
        now = time.monotonic()
        cls.first_request = cls.first_request or now
        if cls.stall:
            stall_ends = cls.first_request + 2.0
            while cls.first_request + 1.0 <= time.monotonic() < stall_ends:
                time.sleep(0.005)
        status = 404 if self.path == "/missing" else 200
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


class SmallServer:
    """Start/stop the server in a thread; ``url`` is its base URL."""

    def __init__(self, stall: bool = False) -> None:
        handler = type("Handler", (_Handler,), {"stall": stall, "first_request": None})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> SmallServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

"""The controller over HTTP: ``prsm-validate up`` serves it on loopback, the provider calls it.

One endpoint, ``POST /call`` with ``{"method": name, "args": {...}}``, answers
``{"result": ...}``, or ``{"error": message}`` with status 400 (a request the controller
refuses) or 500 (anything else, its message only). Every call needs the bearer token that
``up`` writes, with the control URL, to its private state file (mode 0600); the token is
never printed. Written on the standard library's threading HTTP server: it handles a handful
of requests per experiment.
"""

from __future__ import annotations

import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from prsm_validate.chaostoolkit.controller import ControlError, Controller

METHODS = ("health", "consensus", "telemetry_lag", "sla_snapshot", "fault", "heal", "active",
           "describe")


class ControlServer:
    """Serves a :class:`Controller` on ``host:port`` (port 0: a free one) in a thread."""

    def __init__(self, controller: Controller, host: str = "127.0.0.1", port: int = 0) -> None:
        self.controller = controller
        self.token = secrets.token_urlsafe(24)
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                status, body = server.handle(self.path, self.headers.get("Authorization"),
                                             self.rfile.read(int(self.headers.get(
                                                 "Content-Length") or 0)))
                data = json.dumps(body, default=str).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_: Any) -> None:  # quiet: up prints its own lines
                return

        self.httpd = ThreadingHTTPServer((host, port), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True,
                                       name="prsm-control")

    @property
    def url(self) -> str:
        """Where the controller listens."""
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> ControlServer:
        """Serve in the background."""
        self.thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and heal what experiments left in force."""
        self.httpd.shutdown()
        self.httpd.server_close()
        self.controller.heal()

    def handle(self, path: str, authorization: str | None, raw: bytes
               ) -> tuple[int, dict[str, Any]]:
        """One request: ``(status, body)``."""
        if path != "/call":
            return 404, {"error": f"no such endpoint {path}; use POST /call"}
        if not secrets.compare_digest(authorization or "", f"Bearer {self.token}"):
            return 401, {"error": "missing or wrong bearer token (see the up state file)"}
        try:
            request = json.loads(raw or b"{}")
            method, args = request["method"], dict(request.get("args") or {})
        except (ValueError, KeyError, TypeError):
            return 400, {"error": 'body must be {"method": name, "args": {...}}'}
        if method not in METHODS:
            return 400, {"error": f"unknown method {method!r}; known: {', '.join(METHODS)}"}
        try:
            return 200, {"result": getattr(self.controller, method)(**args)}
        except (ControlError, TypeError) as exc:
            return 400, {"error": str(exc)}
        except Exception as exc:
            return 500, {"error": f"{type(exc).__name__}: {exc}"}

    def write_state(self, path: Path) -> Path:
        """The private state file the provider reads: control URL, token, deployment."""
        import os

        data = {"control_url": self.url, "token": self.token,
                "deployment": self.controller.deployment.describe()}
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(data, out)
        return path


class RemoteController:
    """The client side: the same methods as :class:`Controller`, over HTTP."""

    def __init__(self, state_file: Path, timeout_s: float = 120.0) -> None:
        try:
            state = json.loads(Path(state_file).read_text())
            self.url, token = state["control_url"], state["token"]
        except (OSError, ValueError, KeyError) as exc:
            raise ControlError(f"{state_file}: not a prsm-validate up state file ({exc}); "
                               "start the system with prsm-validate up and use the path it "
                               "prints") from None
        self.http = httpx.Client(timeout=timeout_s, trust_env=False,
                                 headers={"Authorization": f"Bearer {token}"})

    def call(self, method: str, **args: Any) -> Any:
        """Call ``method`` in the up process; a refusal raises :class:`ControlError`."""
        try:
            response = self.http.post(self.url + "/call", json={"method": method,
                                                                 "args": args})
        except httpx.HTTPError as exc:
            raise ControlError(f"the up process at {self.url} does not answer "
                               f"({type(exc).__name__}); is prsm-validate up running?") from None
        body = response.json()
        if response.status_code != 200:
            raise ControlError(body.get("error", f"HTTP {response.status_code}"))
        return body["result"]

    def fault(self, kind: str, **params: Any) -> Any:
        """Start a fault in the up process (see :meth:`Controller.fault`)."""
        return self.call("fault", kind=kind, **params)

    def __getattr__(self, method: str) -> Any:
        if method not in METHODS:
            raise AttributeError(method)
        return lambda **args: self.call(method, **args)

"""A protected remote target receives no fault unless BOTH opt-ins are given.

The target is a real HTTP server on loopback that records every request. A chaos scenario
would send it a fault request; the server's log proves whether any fault was received.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest

from tests.plugin.test_options import _targets

SCENARIO = """
import urllib.request
import pytest

@pytest.mark.chaos
def test_inject_fault(prsm_deployment):
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    opener.open(urllib.request.Request(prsm_deployment.api_url + "/fault", method="POST",
                                       data=b"kill"), timeout=5)

@pytest.mark.requires("kill")
def test_needs_kill(): pass
"""


class _Recorder(http.server.BaseHTTPRequestHandler):
    received: list[str] = []

    def do_POST(self) -> None:
        self.received.append(self.path)
        self.send_response(204)
        self.end_headers()

    def do_GET(self) -> None:  # a remote target must answer /health (the first healthy answer)
        healthy = self.path == "/health"
        body = b'{"status": "ok"}' if healthy else b'{"detail": "not found"}'
        self.send_response(200 if healthy else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[tuple[str, list[str]]]:
    received: list[str] = []
    handler = type("Handler", (_Recorder,), {"received": received})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(("allow_chaos", "flag", "faulted"), [
    (False, False, False), (True, False, False), (False, True, False), (True, True, True),
])
def test_fault_only_with_both_opt_ins(pytester, monkeypatch, recorder, allow_chaos, flag,
                                      faulted):
    url, received = recorder
    monkeypatch.setenv("T_USER", "u")
    monkeypatch.setenv("T_PASS", "p")
    _targets(pytester, url=url, protected=True, allow_chaos=allow_chaos)
    pytester.makepyfile(SCENARIO)
    args = ["--prsm-target=staging", "-rs", "-p", "no:cacheprovider"]
    result = pytester.runpytest(*args, *(["--prsm-allow-destructive"] if flag else []))
    assert (received == ["/fault"]) is faulted, received
    if faulted:
        result.assert_outcomes(passed=1, skipped=1)
    else:
        result.assert_outcomes(skipped=2)
        result.stdout.fnmatch_lines(["*target 'staging' is protected: faults need*"])


def test_unprotected_target_may_receive_faults_without_opt_in(pytester, monkeypatch, recorder):
    url, received = recorder
    monkeypatch.setenv("T_USER", "u")
    monkeypatch.setenv("T_PASS", "p")
    _targets(pytester, url=url, protected=False, allow_chaos=False)
    pytester.makepyfile(SCENARIO)
    pytester.runpytest("--prsm-target=staging", "-p", "no:cacheprovider")
    assert received == ["/fault"]

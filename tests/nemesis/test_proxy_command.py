"""``prsm-validate proxy`` in the foreground: serves the API, stops cleanly on SIGTERM."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys

import pytest

from prsm_validate.faultproxy import ProxyClient
from tests.nemesis.conftest import EchoServer, address_of, round_trip


def test_standalone_proxy_serves_and_stops_on_sigterm(echo: EchoServer):
    process = subprocess.Popen(
        [sys.executable, "-m", "prsm_validate.cli", "proxy", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        ready = process.stdout.readline()  # type: ignore[union-attr]
        assert ready.startswith("fault proxy API listening on http://127.0.0.1:"), ready
        url = ready.rsplit(" ", 1)[1].strip()
        with ProxyClient(url) as client:
            listen = client.create_proxy("echo", echo.address)["listen"]
        with socket.create_connection(address_of(listen), timeout=2) as sock:
            assert round_trip(sock) < 0.1
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0
        assert "fault proxy stopped" in process.stdout.read()  # type: ignore[union-attr]
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(address_of(listen), timeout=1).close()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(5)
        process.stdout.close()  # type: ignore[union-attr]
        process.stderr.close()  # type: ignore[union-attr]


def test_non_loopback_api_host_is_refused():
    result = subprocess.run(
        [sys.executable, "-m", "prsm_validate.cli", "proxy", "--host", "192.0.2.1",
         "--port", "0"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert "not a loopback address" in result.stderr

"""Failures people can read, black-box with pytester: a workload whose every client timed out
fails with "workload did not run"; a timeout is one line naming operation, method, path,
timeout and elapsed time (library internals only with -vv); every failure has a class."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest


@pytest.fixture
def silent_server() -> Iterator[str]:
    """Accepts connections and never answers (every request times out)."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(2)
        for conn in held:
            conn.close()
        listener.close()


WORKLOAD = """
from prsm_validate.client.api import ApiClient, Unavailable
from prsm_validate.client.workload import run_clients

def test_every_client_times_out():
    def work(number, log):
        api = ApiClient("{url}", "prime-spark", timeout_s=0.2)
        for _ in range(3):
            try:
                api.call("memory_get", {{"key": "k"}})
                log.outcome(number, "ok")
            except Unavailable as exc:
                log.outcome(number, "info", exc)
    log = run_clients(work, 6)
    log.require(1)

def test_one_timeout():
    ApiClient("{url}", "prime-spark", timeout_s=0.2).call("memory_get", {{"key": "k"}})
"""


UNEXPECTED = """

def test_500():
    import httpx
    from prsm_validate.client.api import Response
    Response(500, "Internal Server Error", httpx.Headers(), 1.0, "generate", "POST",
             "/api/llm/generate").expect(200)

def test_missing_field():
    from prsm_validate.client.api import Body
    Body({"key": "k"}, "memory_get (HTTP 200)")["value"]
"""


def test_failures_are_one_line_with_their_class(pytester, silent_server):
    pytester.makepyfile(WORKLOAD.format(url=silent_server) + UNEXPECTED)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=4)
    result.stdout.fnmatch_lines([
        "*[[]availability[]] workload did not run: 0 of 6 clients completed an operation; "
        "first error: timeout on memory_get after *s (POST /api/memory/get, timeout 0.2 s)",
        "*[[]availability[]] timeout on memory_get after *s (POST /api/memory/get, timeout "
        "0.2 s)",
        "*[[]availability[]] generate (POST /api/llm/generate): expected HTTP 200, got 500; "
        "body: Internal Server Error",
        "*[[]contract[]] memory_get (HTTP 200): no field 'value' in {\"key\": \"k\"}",
    ])
    assert "httpcore" not in result.stdout.str()  # library internals only with -vv
    verbose = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-k", "one_timeout",
                                            "-vv")
    assert "httpcore" in verbose.stdout.str()

"""``prsm-validate load`` / ``load-worker``: option errors are one line; a local run merges."""

from __future__ import annotations

import json

import pytest

from prsm_validate.cli import main
from prsm_validate.load.demo_server import SmallServer


@pytest.mark.parametrize(("argv", "message"), [
    (["load", "http://127.0.0.1:9", "--endpoint", "health"], "NAME=METHOD:/path"),
    (["load", "http://127.0.0.1:9", "--endpoint", "h=GET:/x:heavy"], "NAME=METHOD:/path"),
    (["load-worker", "--master", "nowhere"], "give HOST:PORT"),
])
def test_bad_options_are_one_line_status_2(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


@pytest.mark.slow
def test_a_run_with_local_workers_prints_merged_figures(capsys):
    with SmallServer() as server:
        assert main(["load", server.url, "--endpoint", "fast=GET:/fast", "--rate", "50",
                     "--duration", "2", "--workers", "2"]) == 0
        served = server.served
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert figures["requests"] == 100 == sum(figures["sources"].values())
    assert len(figures["sources"]) == 2
    assert 100 - figures["interrupted"] - figures["failures"] <= served["/fast"] <= 100

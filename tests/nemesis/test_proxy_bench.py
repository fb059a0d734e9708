"""``prsm-validate bench proxy`` runs end to end and prints its figures as JSON last."""

from __future__ import annotations

import json
import subprocess
import sys


def test_bench_proxy_prints_json_with_the_figures():
    result = subprocess.run(
        [sys.executable, "-m", "prsm_validate.cli", "bench", "proxy", "--samples", "200",
         "--mbytes", "5", "--runs", "1"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    for key in ("added_latency_p50_us", "added_latency_p99_us", "throughput_mb_s",
                "direct_throughput_mb_s", "embedded_added_latency_p50_us"):
        assert isinstance(figures[key], float), key
    assert figures["throughput_mb_s"] > 0 and figures["direct_throughput_mb_s"] > 0
    assert figures["proxied_rtt_p50_us"] > 0 and figures["direct_rtt_p50_us"] > 0

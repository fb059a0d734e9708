"""Rate limiting (OWASP API4): when the target declares a user's plan limit (``per_second``
sustained, ``burst`` at once: the local and docker targets' metered user; a remote entry's
``rate_limit: {per_second, burst, user}``), a bounded burst of cheap authenticated requests is
refused with 429, a ``Retry-After`` header (seconds or an HTTP date) and an error body of the
target's declared shape, and once Retry-After has passed the requests are served again.

The burst stops at the first 429, or after ``BURST_FACTOR`` times what the limit allows in
``BURST_S`` seconds: a limit anywhere near its declaration is exceeded many times over, on a
busy machine too. Skips with the reason when the target declares no rate limit."""

from __future__ import annotations

import time

import pytest

from prsm_validate import (
    SecurityViolation,
    error_body,
    excerpt,
    rate_burst,
    retry_after_seconds,
)

pytestmark = [pytest.mark.security]
BURST_S = 5.0
BURST_FACTOR = 4
MAX_WAIT_S = 30.0  # a longer Retry-After is not waited for


def test_a_burst_over_the_plan_limit_meets_429_with_retry_after_then_is_served_again(
        prsm_deployment, prsm_client, record_property):
    limit = prsm_deployment.rate_limit
    if limit is None:
        pytest.skip(prsm_deployment.rate_limit_note)
    client, creds = prsm_client(), limit.credentials or prsm_deployment.credentials
    client.login(creds).expect(200)
    cap = int(BURST_FACTOR * (limit.burst + limit.per_second * BURST_S)) + 1
    seen = rate_burst(lambda: client.call("me"), cap, BURST_S)
    allowed = seen.allowance(limit.per_second, limit.burst)
    record_property("rate_limit", {"sent": seen.sent, "served": seen.served,
                                   "seconds": round(seen.elapsed_s, 3),
                                   "allowed": round(allowed, 1)})
    refused = seen.refused
    if refused is None or refused.status != 429:
        got = "no refusal" if refused is None else f"HTTP {refused.status}"
        raise SecurityViolation(
            f"{seen.sent} requests as {creds.username!r} in {seen.elapsed_s:.2f} s against a "
            f"declared limit of {limit.per_second:g}/s (burst {limit.burst:g}): expected 429, "
            f"got {got}")
    if seen.served > allowed + 1:
        raise SecurityViolation(f"{seen.served} requests served before the first 429; the "
                                f"declared limit allows {allowed:.1f} in {seen.elapsed_s:.2f} s")
    wait = retry_after_seconds(refused.headers.get("retry-after"))
    if wait is None:
        raise SecurityViolation(f"429 without a Retry-After of seconds or an HTTP date "
                                f"(got {refused.headers.get('retry-after')!r}); body: "
                                f"{excerpt(refused.body)}")
    error_body(refused, client)
    if wait > MAX_WAIT_S:
        pytest.skip(f"Retry-After {wait:g} s is longer than this scenario waits "
                    f"({MAX_WAIT_S:g} s)")
    time.sleep(wait + 0.05)
    client.call("me").expect(200)

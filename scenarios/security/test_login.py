"""Login (OWASP API2, API4): the answer does not tell an unknown username from a wrong password
by its time, and brute force meets a lockout.

Enumeration timing: unknown-user and wrong-password logins alternate in one run, and the ratio
of their median latencies must stay under ``RATIO_BOUND`` (both medians come from the same
minute on the same machine, so its load cancels out; a difference under ``FLOOR_MS`` is below
what the network would let an attacker see and is not judged). A correct login after each
wrong password keeps a lockout counter from building up on a real user."""

from __future__ import annotations

import statistics
import time
import uuid

import pytest

from prsm_validate import SecurityViolation

pytestmark = [pytest.mark.security]
ROUNDS = 7
RATIO_BOUND = 3.0
FLOOR_MS = 10.0
LOCKOUT_AFTER = 5


def _login_ms(client, username: str, password: str) -> tuple[float, int]:
    started = time.perf_counter()
    response = client.call("login", {"username": username, "password": password})
    return (time.perf_counter() - started) * 1000, response.status


def test_an_unknown_user_and_a_wrong_password_take_the_same_time(prsm_client, prsm_deployment,
                                                                 record_property):
    client, creds = prsm_client(), prsm_deployment.credentials
    unknown, wrong = [], []
    for _ in range(ROUNDS):
        ms, status = _login_ms(client, f"nobody-{uuid.uuid4().hex[:10]}", "not-it")
        assert status == 401, status
        unknown.append(ms)
        ms, status = _login_ms(client, creds.username, "not-it-" + uuid.uuid4().hex[:6])
        assert status == 401, status
        wrong.append(ms)
        client.login(creds).expect(200)
    med_unknown, med_wrong = statistics.median(unknown), statistics.median(wrong)
    ratio = max(med_unknown, med_wrong) / max(min(med_unknown, med_wrong), 1e-3)
    record_property("login_timing", {"unknown_user_median_ms": round(med_unknown, 2),
                                     "wrong_password_median_ms": round(med_wrong, 2),
                                     "ratio": round(ratio, 2), "bound": RATIO_BOUND})
    if ratio > RATIO_BOUND and abs(med_unknown - med_wrong) > FLOOR_MS:
        raise SecurityViolation(
            f"login time tells users apart: unknown user median {med_unknown:.1f} ms, wrong "
            f"password median {med_wrong:.1f} ms (ratio {ratio:.1f}, bound {RATIO_BOUND:g})")


@pytest.mark.requires("login_lockout")
def test_repeated_failed_logins_meet_a_lockout(prsm_client, prsm_deployment):
    client, victim = prsm_client(), f"brute-{uuid.uuid4().hex[:10]}"
    statuses = [_login_ms(client, victim, f"guess-{i}")[1] for i in range(LOCKOUT_AFTER)]
    assert statuses == [401] * LOCKOUT_AFTER, statuses
    locked = client.call("login", {"username": victim, "password": "guess-last"})
    if locked.status != 429 or not locked.headers.get("retry-after", "").isdigit():
        raise SecurityViolation(f"{LOCKOUT_AFTER + 1}th failed login for {victim!r}: expected "
                                f"429 with Retry-After, got {locked.status} "
                                f"(Retry-After {locked.headers.get('retry-after')!r})")
    client.login(prsm_deployment.credentials).expect(200)  # other users are not locked out

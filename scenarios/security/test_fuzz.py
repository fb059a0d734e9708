"""Input fuzzing with schemathesis over the target's own OpenAPI document (OWASP API8): every
operation gets ``EXAMPLES`` generated requests per mode (positive and negative), authenticated,
judged by all of schemathesis's checks (negative data rejection only where the target
declares strict input: any other may coerce what its schema does not allow); Hypothesis is
seeded from ``--prsm-seed``. Each failure
is reported with schemathesis's curl reproduction (the token shown as ``$TOKEN``); the whole
result is recorded on the test as ``fuzz``.

Left out: the FTNS transfer (generated transfers would spend the run's own funds, which other
scenarios rely on; its hostile inputs are in test_hostile_input.py)."""

from __future__ import annotations

import pytest

from prsm_validate import (
    ContractViolation,
    SecurityViolation,
    Unavailable,
    derive_seed,
    fuzz_openapi,
    fuzz_severity,
)

pytestmark = [pytest.mark.security]
EXAMPLES = 8
BUDGET_S = 30.0
NOT_FUZZED = ("POST /api/v1/ftns/transfer",)


def test_schemathesis_finds_no_failure_with_all_checks(prsm_api, prsm_deployment, prsm_seed,
                                                       record_property):
    if prsm_deployment.contract is None:
        pytest.skip(f"target declares no OpenAPI document ({prsm_deployment.contract_note})")
    seed = derive_seed(prsm_seed, "schemathesis")
    strict = "strict_input" in prsm_deployment.api_profile.features
    report = fuzz_openapi(prsm_deployment.contract.document, prsm_deployment.api_url,
                          prsm_api.token, seed, EXAMPLES, NOT_FUZZED, BUDGET_S, strict)
    record_property("fuzz", report.to_json())
    print(f"schemathesis: {len(report.operations)} operations, {report.cases} cases, "
          f"{EXAMPLES} examples per operation and mode, seed {seed}, "
          f"{len(report.failures)} failures, {report.seconds:.1f} s; checks not run: "
          f"{', '.join(report.to_json()['checks_not_run'])}")
    for failure in report.failures:
        print(f"  {failure['operation']} ({failure['mode']}): {failure['failure']} -> "
              f"{failure['response']}\n"
              f"    {failure['curl']}")
    assert report.cases > 0 and report.operations, report.to_json()
    if report.failures:
        first = min(report.failures, key=lambda f: fuzz_severity(f["failure"]))
        failure = {"security": SecurityViolation, "availability": Unavailable,
                   "contract": ContractViolation}[fuzz_severity(first["failure"])[1]]
        raise failure(
            f"schemathesis: {len(report.failures)} failure(s) (seed {seed}); first: "
            f"{first['operation']} ({first['mode']}): {first['failure']}; reproduce: "
            f"{first['curl']}")

"""Authentication sweep (OWASP API2): every operation of the target's OpenAPI document (else of
its profile), called with no token, a garbage token, an expired token, ``alg: none``, a wrong
audience and a wrong issuer, answers 401 with a ``WWW-Authenticate: Bearer`` challenge
(RFC 6750 3), unless the profile declares it public. Each call has its own short timeout; the
table (route x variant) is recorded on the test as ``auth_sweep``."""

from __future__ import annotations

import pytest

from prsm_validate import SecurityViolation, auth_sweep, bad_tokens

pytestmark = [pytest.mark.security]
CALL_TIMEOUT_S = 3.0


def test_every_protected_operation_refuses_every_bad_token(prsm_api, prsm_deployment,
                                                           record_property):
    ops = auth_sweep.operations(prsm_deployment.contract, prsm_api.api)
    assert any(not op.public for op in ops), "no protected operation to sweep"
    tokens = bad_tokens(prsm_api.token, prsm_deployment.token_signer)
    cells = auth_sweep.sweep(prsm_deployment.api_url, ops, tokens, CALL_TIMEOUT_S)
    record_property("auth_sweep", auth_sweep.table(cells))
    print(auth_sweep.render(cells))  # the table, in the test's captured output
    record_property("auth_sweep_signed", prsm_deployment.token_signer is not None)
    failed = [c for c in cells if c.problem is not None]
    if failed:
        shown = "; ".join(f"{c.operation} [{c.variant}]: {c.problem}" for c in failed[:6])
        more = f" (and {len(failed) - 6} more)" if len(failed) > 6 else ""
        raise SecurityViolation(f"{len(failed)} of {len(cells)} sweep calls not refused as "
                                f"RFC 6750 says: {shown}{more}")


def test_the_sweep_token_is_itself_accepted(prsm_api):
    # The variants are derived from this token: were it refused, the sweep would prove nothing.
    prsm_api.call("me").expect(200)


def test_the_document_declares_401_and_the_403_of_admin_only_operations(prsm_api,
                                                                        prsm_deployment):
    # 401 for every protected operation; 403 too for those only an admin may call (OWASP API5)
    contract = prsm_deployment.contract
    if contract is None:
        pytest.skip(f"target declares no OpenAPI document ({prsm_deployment.contract_note})")
    paths = contract.document["paths"]
    undeclared = []
    for op in auth_sweep.operations(contract, prsm_api.api):
        declared = set(map(str, paths[op.path][op.method.lower()]["responses"]))
        needed = set() if op.public else {"401", "403"} if op.admin else {"401"}
        undeclared += [f"{op.name} ({status})" for status in sorted(needed - declared)]
    if undeclared:
        raise SecurityViolation(f"{len(undeclared)} refusal(s) of protected operations not "
                                f"declared in the OpenAPI document: {', '.join(undeclared[:8])}")

"""The target's own contract: its OpenAPI document (read once per session from
``openapi_url``, default ``<api_url>/openapi.json``) is valid and declares the operations the
profile uses. Every response of every scenario is checked against it by the client."""

from __future__ import annotations

import pytest

from prsm_validate import ContractViolation, document_problem

pytestmark = pytest.mark.integration


def test_openapi_document_is_valid_and_declares_the_profile(prsm_deployment):
    contract = prsm_deployment.contract
    if contract is None and "invalid OpenAPI document" in (prsm_deployment.contract_note or ""):
        raise ContractViolation(prsm_deployment.contract_note)
    if contract is None:
        pytest.skip(f"target {prsm_deployment.target!r}: {prsm_deployment.contract_note}")
    problem = document_problem(contract.document)
    if problem:
        raise ContractViolation(f"OpenAPI document {contract.url} is invalid: {problem}")
    api = prsm_deployment.api_profile
    missing = [op for op, r in api.routes.items()
               if r.path.startswith("/") and op != "metrics" and not contract.declares(
                   r.method, r.path)]
    if missing:
        raise ContractViolation(f"OpenAPI document {contract.url} lacks operations of profile "
                                f"{api.name}: {', '.join(missing)}")

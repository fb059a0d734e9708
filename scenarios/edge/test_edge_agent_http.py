"""The edge agent's own HTTP endpoint answers every request it cannot serve with an error
status and a JSON reason (never a dropped connection), and keeps serving the next one; the
API's inference through the edge names the edge as its location. (Reference edge agent: its
URL comes from the target's ``services``.)"""

from __future__ import annotations

import httpx
import pytest

pytestmark = [pytest.mark.edge, pytest.mark.requires("edge")]
BAD_BODIES = [b"[]", b'{"prompt": "x", "max_tokens": null}', b'{"prompt": 5}', b"{not json"]


@pytest.fixture
def edge_url(prsm_deployment) -> str:
    url = prsm_deployment.services.get("edge")
    if not url:
        pytest.skip(f"target {prsm_deployment.target!r} does not expose the edge agent's URL")
    return url


@pytest.mark.parametrize("body", BAD_BODIES, ids=["list", "null-tokens", "number", "not-json"])
def test_a_request_the_edge_cannot_serve_gets_an_error_answer(edge_url, body):
    with httpx.Client(base_url=edge_url, timeout=5.0, trust_env=False) as http:
        try:
            refused = http.post("/infer", content=body,
                                headers={"Content-Type": "application/json"})
        except httpx.HTTPError as exc:
            pytest.fail(f"POST /infer {body!r}: no answer ({type(exc).__name__})",
                        pytrace=False)
        assert refused.status_code >= 400, (body, refused.status_code, refused.text)
        assert refused.json().get("error"), (body, refused.text)
        served = http.post("/infer", json={"prompt": "after a bad request", "max_tokens": 3})
        assert served.status_code == 200 and served.json()["location"] == "edge", served.text
        assert len(served.json()["response"].split()) == 3, served.text

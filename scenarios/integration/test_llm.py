"""LLM generation, including the response cache."""

from __future__ import annotations

import uuid

import pytest

pytestmark = pytest.mark.integration

SHAPE = {"response", "model", "location", "latency_ms", "cached"}


def test_generate_answers_the_contract_shape(prsm_api):
    body = {"prompt": f"hello {uuid.uuid4()}", "model": "prsm-tiny", "max_tokens": 16}
    response = prsm_api.call("generate", body)
    assert response.status == 200, response.body
    assert set(response.body) >= SHAPE
    assert response.body["response"] and response.body["cached"] is False


def test_identical_repeat_is_a_cache_hit_with_the_same_shape(prsm_api):
    body = {"prompt": f"repeat {uuid.uuid4()}", "model": "prsm-tiny", "max_tokens": 16}
    first = prsm_api.call("generate", body).body
    second = prsm_api.call("generate", body).body
    assert set(second) == set(first)
    assert second["cached"] is True
    assert second["response"] == first["response"] and second["model"] == first["model"]


def test_cache_can_be_bypassed(prsm_api):
    body = {"prompt": f"nocache {uuid.uuid4()}", "model": "prsm-tiny", "use_cache": False}
    prsm_api.call("generate", body)
    assert prsm_api.call("generate", body).body["cached"] is False


@pytest.mark.parametrize("bad", [{"prompt": ""}, {"prompt": "x", "max_tokens": 0},
                                 {"prompt": "x", "temperature": 9}, {"model": "prsm-tiny"}])
def test_invalid_generation_request_is_422(prsm_api, bad):
    response = prsm_api.call("generate", bad)
    assert response.status == 422
    assert response.body["error"]["code"] == "validation_error"

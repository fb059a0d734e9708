"""LLM generation (prime-spark contract: {response, model, location, latency_ms, cached}),
including the response cache."""

from __future__ import annotations

import uuid

import pytest

from prsm_validate import ContractViolation, error_body, llm_model

pytestmark = pytest.mark.integration

SHAPE = {"response", "model", "location", "latency_ms", "cached"}


def _generate(api, prompt: str, **options):
    return api.call("generate", {"prompt": prompt, "model": llm_model(api), **options})


def _shape(body) -> None:
    missing = SHAPE - set(body)
    if missing:
        raise ContractViolation(f"generate: answer lacks {sorted(missing)}: {body}")


def test_generate_answers_the_contract_shape(prsm_api):
    body = _generate(prsm_api, f"hello {uuid.uuid4()}", max_tokens=16).expect(200).body
    _shape(body)
    assert body["response"] and body["cached"] is False


def test_identical_repeat_is_a_cache_hit_with_the_same_shape(prsm_api):
    prompt = f"repeat {uuid.uuid4()}"
    first = _generate(prsm_api, prompt, max_tokens=16).expect(200).body
    second = _generate(prsm_api, prompt, max_tokens=16).expect(200).body
    _shape(second)
    assert second["cached"] is True, second
    assert second["response"] == first["response"] and second["model"] == first["model"]


def test_cache_can_be_bypassed(prsm_api):
    prompt = f"nocache {uuid.uuid4()}"
    _generate(prsm_api, prompt, use_cache=False).expect(200)
    assert _generate(prsm_api, prompt, use_cache=False).expect(200).body["cached"] is False


def test_generation_request_without_prompt_is_422(prsm_api):
    response = prsm_api.call("generate", {"model": llm_model(prsm_api)}).expect(422)
    error_body(response, prsm_api)


@pytest.mark.requires("generation_limits")
@pytest.mark.parametrize("bad", [{"prompt": ""}, {"prompt": "x", "max_tokens": 0},
                                 {"prompt": "x", "temperature": 9}])
def test_generation_outside_the_limits_is_422(prsm_api, bad):
    response = prsm_api.call("generate", {"model": llm_model(prsm_api), **bad}).expect(422)
    error_body(response, prsm_api)

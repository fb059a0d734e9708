"""The API client: secrets-only masking, profiles with overrides, unsupported operations."""

from __future__ import annotations

import pytest

from prsm_validate.client.api import redact
from prsm_validate.client.profiles import (
    PROFILES,
    OperationUnsupported,
    VocabularyError,
    error_shape,
    override,
    validation_details,
)


def test_only_secrets_are_masked():
    value = {"password": "p", "access_token": "t", "refresh_token": "r", "Authorization": "B x",
             "max_tokens": 16, "token_type": "bearer", "expires_in": 60, "client_secret": "s",
             "nested": [{"api_key": "k", "tokens_used": 3}]}
    masked = redact(value)
    assert masked["max_tokens"] == 16 and masked["token_type"] == "bearer"
    assert masked["expires_in"] == 60 and masked["nested"][0]["tokens_used"] == 3
    for key in ("password", "access_token", "refresh_token", "Authorization", "client_secret"):
        assert masked[key] == "***"
    assert masked["nested"][0]["api_key"] == "***"


def test_vocabulary_and_features_override_the_profile():
    api = override(PROFILES["prime-spark"], {
        "task_status": {"done": ["succeeded", "ok"]}, "priority": {"low": "low", "high": "hi"},
        "error_body": "detail", "task_types": {"long": {"type": "wait", "payload": {
            "duration_s": "{seconds}"}}}}, ["task_workers"])
    vocab = api.vocabulary
    assert vocab.role_of("ok") == "done" and vocab.role_of("queued") == "queued"
    assert (vocab.priority_low, vocab.priority_high) == ("low", "hi")
    assert vocab.error_body == ("detail",)
    assert vocab.task_types["long"].body(seconds=3) == {"type": "wait", "payload": {
        "duration_s": 3}}
    assert api.features == frozenset({"task_workers"})


@pytest.mark.parametrize(("vocabulary", "features", "message"), [
    ({"task_status": {"finished": "x"}}, None, "vocabulary.task_status"),
    ({"priority": {"low": 1}}, None, "vocabulary.priority"),
    ({"error_body": "xml"}, None, "vocabulary.error_body"),
    ({"colour": "red"}, None, "vocabulary.colour: unknown key"),
    (None, ["teleport"], "unknown feature 'teleport'"),
])
def test_bad_overrides_name_the_key(vocabulary, features, message):
    with pytest.raises(VocabularyError, match=message):
        override(PROFILES["prime-spark"], vocabulary, features)


def test_every_profile_has_metrics_and_missing_operations_raise_unsupported():
    for api in PROFILES.values():
        assert api.route("metrics").path == "/metrics"
    with pytest.raises(OperationUnsupported, match="'prime-spark' has no operation 'transfer'"):
        PROFILES["prime-spark"].route("transfer")
    assert PROFILES["prime-spark"].with_metrics_url("http://m:9100/x").route(
        "metrics").path == "http://m:9100/x"


def test_error_shapes_and_validation_details():
    structured = {"error": {"code": "validation_error", "message": "m", "details": [
        {"loc": ["body", "key"]}]}}
    detail = {"detail": [{"loc": ["body", "key"], "msg": "Field required"}]}
    assert error_shape(structured) == "structured" and error_shape(detail) == "detail"
    assert error_shape("Internal Server Error") is None and error_shape({"oops": 1}) is None
    assert validation_details(structured)[0]["loc"] == ["body", "key"]
    assert validation_details(detail)[0]["loc"] == ["body", "key"]

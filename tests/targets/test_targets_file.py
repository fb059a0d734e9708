"""The targets file: valid entries load; every mistake names the file, the key and the fix."""

from __future__ import annotations

import re
import types
from pathlib import Path

import pytest

from prsm_validate.targets import base
from prsm_validate.targets.config import TargetConfigError, load_targets_file, resolve_target

GOOD = """
targets:
  staging:
    kind: remote
    api_url: https://staging.example.internal/
    profile: prime-spark
    credentials: {username_env: PRSM_STAGING_USER, password_env: PRSM_STAGING_PASSWORD}
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "targets.yaml"
    path.write_text(text)
    return path


def test_remote_entry_defaults_to_protected_without_chaos(tmp_path):
    spec = load_targets_file(_write(tmp_path, GOOD))["staging"]
    assert spec.protected is True and spec.allow_chaos is False
    assert spec.api_url == "https://staging.example.internal"
    assert spec.capabilities == frozenset()


def test_repo_example_file_is_valid():
    specs = load_targets_file(Path(__file__).parents[2] / "fixtures" / "targets.yaml")
    assert specs["staging"].protected


@pytest.mark.parametrize(("text", "expected"), [
    ("targets: [1, 2]", "top-level key 'targets'"),
    ("targets:\n  s: {api_url: ftp://x, credentials: {username_env: U, password_env: P}}",
     "targets.s.api_url"),
    ("targets:\n  s: {api_url: 'http://x', profile: nope, "
     "credentials: {username_env: U, password_env: P}}", "targets.s.profile"),
    ("targets:\n  s: {api_url: 'http://x', credentials: {username: me, password: pw}}",
     "targets.s.credentials"),
    ("targets:\n  s: {api_url: 'http://x', credentials: {username_env: U, password_env: P}, "
     "alow_chaos: true}", "targets.s.alow_chaos"),
    ("targets:\n  s: {api_url: 'http://x', credentials: {username_env: U, password_env: P}, "
     "protected: 'no'}", "targets.s.protected"),
    ("targets: {s: [", "not valid YAML"),
])
def test_mistakes_name_file_and_key(tmp_path, text, expected):
    path = _write(tmp_path, text)
    with pytest.raises(TargetConfigError) as excinfo:
        load_targets_file(path)
    assert str(path) in str(excinfo.value) and expected in str(excinfo.value)


def test_unknown_target_lists_known_ones(tmp_path):
    path = _write(tmp_path, GOOD)
    with pytest.raises(TargetConfigError, match="known targets: local, staging"):
        resolve_target("prod", path, frozenset())


def test_missing_credential_variables_are_named(tmp_path, monkeypatch):
    monkeypatch.delenv("PRSM_STAGING_USER", raising=False)
    monkeypatch.setenv("PRSM_STAGING_PASSWORD", "s3cret-value")
    spec = load_targets_file(_write(tmp_path, GOOD))["staging"]
    with pytest.raises(TargetConfigError, match="PRSM_STAGING_USER") as excinfo:
        spec.credentials()
    assert "s3cret-value" not in str(excinfo.value)


@pytest.mark.parametrize(("key", "read"), [("second_user", "second_credentials"),
                                           ("admin_user", "admin_credentials")])
def test_another_user_is_read_from_the_variables_it_names(tmp_path, monkeypatch, key, read):
    text = GOOD + f"    {key}: {{username_env: PRSM_B_USER, password_env: PRSM_B_PASSWORD}}\n"
    spec = load_targets_file(_write(tmp_path, text))["staging"]
    monkeypatch.setenv("PRSM_B_USER", "bee")
    monkeypatch.setenv("PRSM_B_PASSWORD", "secret-b")
    other = getattr(spec, read)()
    assert other is not None and (other.username, other.password) == ("bee", "secret-b")
    assert getattr(load_targets_file(_write(tmp_path, GOOD))["staging"], read)() is None
    monkeypatch.delenv("PRSM_B_PASSWORD")
    with pytest.raises(TargetConfigError, match="PRSM_B_PASSWORD"):
        getattr(spec, read)()


@pytest.mark.parametrize("key", ["second_user", "admin_user"])
def test_another_user_with_values_instead_of_variable_names_is_refused(tmp_path, key):
    text = GOOD + f"    {key}: {{username: bee, password: pw}}\n"
    with pytest.raises(TargetConfigError, match=rf"targets\.staging\.{key}: give"):
        load_targets_file(_write(tmp_path, text))


def test_a_rate_limit_is_read_with_its_user(tmp_path, monkeypatch):
    text = GOOD + ("    rate_limit: {per_second: 5, burst: 10, user: {username_env: PRSM_M_USER, "
                   "password_env: PRSM_M_PW}}\n")
    spec = load_targets_file(_write(tmp_path, text))["staging"]
    monkeypatch.setenv("PRSM_M_USER", "meter")
    monkeypatch.setenv("PRSM_M_PW", "secret-m")
    limit = spec.declared_rate_limit()
    assert limit is not None and (limit.per_second, limit.burst) == (5.0, 10.0)
    assert limit.credentials is not None and limit.credentials.username == "meter"
    plain = load_targets_file(_write(tmp_path, GOOD + "    rate_limit: {per_second: 3}\n"))
    assert plain["staging"].declared_rate_limit() == base.RateLimit(3.0, 3.0, None)
    assert load_targets_file(_write(tmp_path, GOOD))["staging"].declared_rate_limit() is None


@pytest.mark.parametrize(("value", "key"), [
    ("5", "rate_limit: give"),
    ("{per_second: 5, window: 1}", "rate_limit: give"),
    ("{burst: 5}", "rate_limit.per_second: None is not a positive number"),
    ("{per_second: 0}", "rate_limit.per_second: 0 is not a positive number"),
    ("{per_second: 2, burst: 0.5}", "rate_limit.burst: 0.5 must be a number >= 1"),
    ("{per_second: 2, user: {username: a, password: b}}", "rate_limit.user: give"),
])
def test_a_malformed_rate_limit_is_refused_naming_the_key_and_the_fix(tmp_path, value, key):
    with pytest.raises(TargetConfigError, match=rf"targets\.staging\.{re.escape(key)}"):
        load_targets_file(_write(tmp_path, GOOD + f"    rate_limit: {value}\n"))


def test_public_routes_are_added_to_the_profile_and_the_sweep_skips_them(tmp_path):
    from prsm_validate.security import sweep

    text = GOOD + '    public_routes: ["GET /api/v1/status", "GET /api/items/{item_id}"]\n'
    api = load_targets_file(_write(tmp_path, text))["staging"].api_profile
    assert {("GET", "/api/v1/status"), ("GET", "/health")} <= api.public()
    document = {"paths": {"/api/v1/status": {"get": {}}, "/api/items/{id}": {"get": {}},
                          "/api/auth/me": {"get": {}}}}
    ops = {o.name: o for o in sweep.operations(types.SimpleNamespace(document=document), api)}
    assert ops["GET /api/v1/status"].public and ops["GET /api/items/{id}"].public
    assert not ops["GET /api/auth/me"].public
    plain = load_targets_file(_write(tmp_path, GOOD))["staging"].api_profile
    assert ("GET", "/api/v1/status") not in plain.public()


@pytest.mark.parametrize(("value", "key"), [
    ('"GET /health"', "public_routes: give a list"),
    ("[5]", "public_routes[0]: 5 is not"),
    ('["GET /a", "FETCH /b"]', "public_routes[1]: 'FETCH /b' is not"),
    ('["GET"]', "public_routes[0]: 'GET' is not"),
    ('["GET /a b"]', "public_routes[0]: 'GET /a b' is not"),
])
def test_a_malformed_public_route_names_its_index_and_the_fix(tmp_path, value, key):
    with pytest.raises(TargetConfigError, match=rf"targets\.staging\.{re.escape(key)}.*e\.g\."):
        load_targets_file(_write(tmp_path, GOOD + f"    public_routes: {value}\n"))

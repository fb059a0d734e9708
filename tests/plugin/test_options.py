"""Plugin surface, black-box with pytester: options, usage errors, capability skips."""

from __future__ import annotations

import pytest

TARGETS = """
targets:
  staging:
    kind: remote
    api_url: {url}
    profile: prime-spark
    credentials: {{username_env: T_USER, password_env: T_PASS}}
    protected: {protected}
    allow_chaos: {allow_chaos}
"""


def _targets(pytester: pytest.Pytester, url: str = "http://127.0.0.1:9",
             protected: bool = True, allow_chaos: bool = False) -> None:
    pytester.makefile(".yaml", **{"prsm-targets": TARGETS.format(
        url=url, protected=str(protected).lower(), allow_chaos=str(allow_chaos).lower())})


def test_unknown_target_is_a_usage_error(pytester):
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest("--prsm-target=nowhere")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--prsm-target=nowhere*no such target*"])


def test_malformed_targets_file_names_file_and_key(pytester):
    pytester.makefile(".yaml", **{"prsm-targets": "targets:\n  staging: {api_url: nope}\n"})
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest("--prsm-target=staging")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*prsm-targets.yaml*targets.staging.api_url*"])


def test_missing_credentials_env_is_a_usage_error_that_hides_values(pytester, monkeypatch):
    _targets(pytester)
    monkeypatch.delenv("T_USER", raising=False)
    monkeypatch.setenv("T_PASS", "hunter2-secret")
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest("--prsm-target=staging")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*T_USER*not set*"])
    assert "hunter2-secret" not in result.stdout.str() + result.stderr.str()


def test_too_few_nodes_is_a_usage_error(pytester):
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest("--prsm-nodes=3")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--prsm-nodes=3*at least 4*"])


def test_missing_capability_skips_naming_capability_and_target(pytester, monkeypatch):
    _targets(pytester)
    monkeypatch.setenv("T_USER", "u")
    monkeypatch.setenv("T_PASS", "p")
    pytester.makepyfile("""
        import pytest
        @pytest.mark.requires("db")
        def test_needs_db(): pass
    """)
    result = pytester.runpytest("--prsm-target=staging", "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*target 'staging' lacks capability db*"])


def test_markers_are_registered(pytester):
    pytester.makepyfile("""
        import pytest
        @pytest.mark.consensus
        @pytest.mark.byzantine
        @pytest.mark.gate("M4")
        def test_x(): pass
    """)
    result = pytester.runpytest("--strict-markers")
    result.assert_outcomes(passed=1)


def test_header_shows_target_and_seed(pytester):
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest("--prsm-seed=1234")
    result.stdout.fnmatch_lines(["prsm: target=local*seed=1234*"])


def test_seed_fixture_replays_the_given_seed(pytester):
    pytester.makepyfile("def test_x(prsm_seed): assert prsm_seed == 77")
    pytester.runpytest("--prsm-seed=77").assert_outcomes(passed=1)


@pytest.mark.parametrize(("kind", "message"), [
    ("directory", "*targets-input is not a file*"),
    ("binary", "*is not a text file*"),
])
def test_directory_or_binary_targets_file_is_a_usage_error(pytester, kind, message):
    path = pytester.path / "targets-input"
    if kind == "directory":
        path.mkdir()
    else:
        path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff\xfe")
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest(f"--prsm-targets-file={path}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])
    assert "INTERNALERROR" not in result.stderr.str() + result.stdout.str()


def test_malformed_targets_file_is_a_usage_error_even_with_the_local_target(pytester):
    pytester.makefile(".yaml", **{"prsm-targets": "targets:\n  staging: {api_url: nope}\n"})
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest("--prsm-target=local")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*prsm-targets.yaml*targets.staging.api_url*"])


def test_bad_vocabulary_or_control_in_an_entry_names_the_key(pytester, monkeypatch):
    monkeypatch.setenv("T_USER", "u")
    monkeypatch.setenv("T_PASS", "p")
    pytester.makefile(".yaml", **{"prsm-targets": TARGETS.format(
        url="http://127.0.0.1:9", protected="true", allow_chaos="false")
        + "    vocabulary: {priority: {low: 1}}\n"})
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest("--prsm-target=staging")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*targets.staging.vocabulary.priority: give {low*"])


def test_a_missing_targets_file_is_a_usage_error(pytester):
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest("--prsm-targets-file=nope.yaml")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--prsm-targets-file=nope.yaml*nope.yaml is not a file*"])


def test_help_lists_only_targets_that_exist(pytester):
    result = pytester.runpytest("--help")
    text = " ".join(result.stdout.str().split())
    assert "target: local (default), docker, or a name from the targets file" in text
    assert "k8s" not in text


def test_a_malformed_public_route_is_a_usage_error_naming_the_entry_and_the_fix(pytester):
    pytester.makefile(".yaml", **{"prsm-targets": TARGETS.format(
        url="http://127.0.0.1:9", protected="true", allow_chaos="false")
        + '    public_routes: ["GET /health", "/api/status"]\n'})
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest("--prsm-target=staging")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*targets.staging.public_routes[[]1[]]: '/api/status' is not "
                                 '"METHOD /path"*e.g.*GET /health*'])

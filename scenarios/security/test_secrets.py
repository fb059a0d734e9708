"""Secrets as a scenario: the run's own secrets (both users' passwords, the JWT signing key,
live bearer tokens) appear nowhere in the run's report folder or the target's logs, except in
a private credentials file (mode 0600). Runs late in the session (the folder holds what the
earlier tests wrote); the report's final files are written after it."""

from __future__ import annotations

from pathlib import Path

import pytest

from prsm_validate import SecurityViolation, find_secrets

pytestmark = [pytest.mark.security]


def test_no_secret_is_written_to_the_report_or_the_logs(prsm_api, prsm_deployment, prsm_run_dir):
    secrets = {"password": prsm_deployment.credentials.password, "token": prsm_api.token,
               **prsm_deployment.secret_values}
    if prsm_deployment.second_credentials is not None:
        secrets["second_password"] = prsm_deployment.second_credentials.password
    prsm_api.call("me").expect(200)  # the token has been used (and could have been logged)
    folders = [Path(prsm_run_dir)]
    if prsm_deployment.log_dir:
        folders.append(Path(prsm_deployment.log_dir))
    hits = find_secrets(folders, secrets)
    if hits:
        raise SecurityViolation(f"{len(hits)} secret(s) written outside a 0600 credentials "
                                f"file: " + "; ".join(map(str, hits[:5])))

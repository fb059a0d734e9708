"""The users the harness configures on the targets it starts (local, docker): a plain user
for every scenario, a second plain user (two-user authorization, OWASP API1) and an admin
(the admin-only operations' positive check, OWASP API5). Fresh random passwords each start;
the reference system receives only their hashes."""

from __future__ import annotations

import json
import secrets
from typing import Any

from prsm_validate.targets import base

USERNAME = "validator"
SECOND_USERNAME = "validator-b"  # the two-user authorization scenarios' other user
ADMIN_USERNAME = "validator-admin"  # has the admin role (PRSM_REF_ADMINS)


def fresh_passwords() -> dict[str, str]:
    """A new random password for each harness user."""
    return {name: secrets.token_urlsafe(18) for name in (USERNAME, SECOND_USERNAME,
                                                         ADMIN_USERNAME)}


def users_env(passwords: dict[str, str]) -> dict[str, str]:
    """The reference API's environment for these users (hashes only, and the admin list)."""
    from reference_system.passwords import hash_password

    return {"PRSM_REF_USERS": json.dumps({u: hash_password(p) for u, p in passwords.items()}),
            "PRSM_REF_ADMINS": json.dumps([u for u in passwords if u == ADMIN_USERNAME])}


def deployment_users(passwords: dict[str, str]) -> dict[str, Any]:
    """The :class:`~prsm_validate.targets.base.Deployment` fields naming these users."""
    def creds(name: str) -> base.Credentials | None:
        return base.Credentials(name, passwords[name]) if name in passwords else None

    return {"credentials": creds(USERNAME), "second_credentials": creds(SECOND_USERNAME),
            "admin_credentials": creds(ADMIN_USERNAME)}

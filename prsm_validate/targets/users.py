"""The users the harness configures on the targets it starts (local, docker): a plain user
for every scenario, a second plain user (two-user authorization, OWASP API1), an admin (the
admin-only operations' positive check, OWASP API5) and a user on a metered plan (the rate
limit scenario, OWASP API4: its own bucket, so no other scenario meets the limit). Fresh
random passwords each start; the reference system receives only their hashes."""

from __future__ import annotations

import json
import secrets
from typing import Any

from prsm_validate.targets import base

USERNAME = "validator"
SECOND_USERNAME = "validator-b"  # the two-user authorization scenarios' other user
ADMIN_USERNAME = "validator-admin"  # has the admin role (PRSM_REF_ADMINS)
METERED_USERNAME = "validator-metered"  # on the metered plan (PRSM_REF_PLANS)
# The metered plan: small, so a burst of a few dozen requests exceeds it many times over.
METERED_PER_S, METERED_BURST = 2.0, 4.0


def fresh_passwords() -> dict[str, str]:
    """A new random password for each harness user."""
    return {name: secrets.token_urlsafe(18) for name in (USERNAME, SECOND_USERNAME,
                                                         ADMIN_USERNAME, METERED_USERNAME)}


def users_env(passwords: dict[str, str]) -> dict[str, str]:
    """The reference API's environment for these users (hashes only, and the admin list)."""
    from reference_system.passwords import hash_password

    metered = [u for u in passwords if u == METERED_USERNAME]
    return {"PRSM_REF_USERS": json.dumps({u: hash_password(p) for u, p in passwords.items()}),
            "PRSM_REF_ADMINS": json.dumps([u for u in passwords if u == ADMIN_USERNAME]),
            "PRSM_REF_PLANS": json.dumps({"metered": {
                "per_second": METERED_PER_S, "burst": METERED_BURST, "users": metered}})}


def deployment_users(passwords: dict[str, str]) -> dict[str, Any]:
    """The :class:`~prsm_validate.targets.base.Deployment` fields naming these users."""
    def creds(name: str) -> base.Credentials | None:
        return base.Credentials(name, passwords[name]) if name in passwords else None

    metered = creds(METERED_USERNAME)
    return {"credentials": creds(USERNAME), "second_credentials": creds(SECOND_USERNAME),
            "admin_credentials": creds(ADMIN_USERNAME),
            "rate_limit": metered and base.RateLimit(METERED_PER_S, METERED_BURST, metered)}

"""Bad bearer tokens: none, garbage, expired, ``alg: none``, wrong audience, wrong issuer.

The claims come from a real token of the target (decoded, not verified), so each variant
differs from a token the target accepts in one defect only. With the target's signing key
(``Deployment.token_signer``) the expired and wrong-claim variants are correctly signed; without
it they keep the real token's signature over changed claims (a correct target refuses those
too, for the signature).
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from typing import Any

VARIANTS = ("no-token", "garbage", "expired", "alg-none", "wrong-audience", "wrong-issuer")


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def claims_of(token: str) -> dict[str, Any]:
    """The payload of a JWT, not verified ({} when it is not one)."""
    try:
        payload = token.split(".")[1]
        return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))
    except (IndexError, ValueError):
        return {}


def bad_tokens(token: str, signer: Callable[[dict[str, Any]], str] | None
               ) -> dict[str, str | None]:
    """Variant name -> the bearer token to send (None: no Authorization header)."""
    now = int(time.time())
    claims = {**claims_of(token), "iat": now, "exp": now + 300}
    header = token.split(".")[0]
    signature = token.rsplit(".", 1)[-1] if token.count(".") == 2 else ""

    def signed(changed: dict[str, Any]) -> str:
        merged = {**claims, **changed}
        if signer is not None:
            return signer(merged)
        return f"{header}.{_b64(merged)}.{signature}"

    return {
        "no-token": None,
        "garbage": "not.a.jwt",
        "expired": signed({"iat": now - 7200, "exp": now - 3600}),
        "alg-none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}.",
        "wrong-audience": signed({"aud": "another-service"}),
        "wrong-issuer": signed({"iss": "someone-else"}),
    }

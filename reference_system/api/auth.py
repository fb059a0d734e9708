"""JWT authentication: fixed algorithm list; exp, iat, iss, aud and sub required and checked;
a token living longer than the server issues them (exp - iat over ``jwt_ttl_s``) is refused,
whoever signed it (a leaked key or an old configuration cannot mint long-lived tokens).

Tokens carry a ``role`` claim: ``admin`` for the users in ``PRSM_REF_ADMINS``, else ``user``.
Admin-only routes depend on :data:`Admin`, which refuses any other role with 403 (OWASP API5,
function-level authorization)."""

from __future__ import annotations

import functools
import time
from typing import Annotated, Any

import jwt
from fastapi import Depends, Request

from reference_system.api.errors import ApiError
from reference_system.passwords import hash_password, verify_password
from reference_system.settings import Settings

ALGORITHMS = ["HS256"]  # fixed: never taken from the token header
_REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "sub"]
ADMIN_ROLE = "admin"


def issue_token(settings: Settings, username: str, now: float | None = None) -> str:
    """A signed access token for ``username``."""
    issued = int(time.time() if now is None else now)
    claims = {"sub": username, "iat": issued, "exp": issued + settings.jwt_ttl_s,
              "iss": settings.jwt_issuer, "aud": settings.jwt_audience,
              "role": ADMIN_ROLE if username in settings.admins else "user"}
    return jwt.encode(claims, settings.jwt_secret, algorithm=ALGORITHMS[0])


def decode_token(settings: Settings, token: str) -> dict[str, Any]:
    """Verified claims of ``token``; raises :class:`ApiError` 401 on any defect."""
    try:
        claims = jwt.decode(
            token, settings.jwt_secret, algorithms=ALGORITHMS, audience=settings.jwt_audience,
            issuer=settings.jwt_issuer, options={"require": _REQUIRED_CLAIMS}, leeway=5,
        )
    except jwt.ExpiredSignatureError:
        raise _unauthorized("token expired") from None
    except jwt.PyJWTError:
        raise _unauthorized("invalid token") from None
    if not _lifetime_within(claims, settings.jwt_ttl_s):
        raise _unauthorized("token lifetime exceeds the server's limit")
    return claims


def _lifetime_within(claims: dict[str, Any], ttl_s: int) -> bool:
    """The token's exp - iat is at most the lifetime this server gives its tokens."""
    exp, iat = claims["exp"], claims["iat"]
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (exp, iat))
    return numbers and exp - iat <= ttl_s


@functools.cache
def _dummy_hash() -> str:
    """A hash no password matches, checked for unknown users so that an unknown username
    costs the same scrypt as a wrong password (no enumeration by login time)."""
    return hash_password("prsm-no-such-user")


def authenticate(settings: Settings, username: str, password: str) -> bool:
    """True when the configured user exists and the password matches its hash; the same work
    either way."""
    encoded = settings.users.get(username)
    matches = verify_password(password, encoded if encoded is not None else _dummy_hash())
    return encoded is not None and matches


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, message, headers={"WWW-Authenticate": "Bearer"})


def verified_subject(settings: Settings, authorization: str) -> str | None:
    """The user a request's ``Authorization`` header proves, or None (no or a bad token: the
    route's own authentication answers that)."""
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    try:
        return str(decode_token(settings, token.strip())["sub"])
    except ApiError:
        return None


def request_claims(request: Request) -> dict[str, Any]:
    """The verified claims of the request's Bearer token (401 when missing or invalid)."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("missing bearer token")
    claims = decode_token(request.app.state.settings, token.strip())
    if claims["sub"] not in request.app.state.settings.users:
        raise _unauthorized("unknown subject")
    return claims


def current_user(request: Request) -> str:
    """FastAPI dependency: the authenticated username from the Bearer token."""
    return str(request_claims(request)["sub"])


def current_admin(request: Request) -> str:
    """FastAPI dependency: the authenticated username, when its token has the admin role;
    403 for any other authenticated user."""
    claims = request_claims(request)
    if claims.get("role") != ADMIN_ROLE:
        raise ApiError(403, "this operation needs the admin role")
    return str(claims["sub"])


User = Annotated[str, Depends(current_user)]
Admin = Annotated[str, Depends(current_admin)]

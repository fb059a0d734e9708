"""Admin-only routes (OWASP API5): only a token with the admin role may call them; any other
authenticated user gets 403 with the structured error body, and nothing changes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import Field

from reference_system.api.auth import Admin
from reference_system.api.errors import COMMON, declared
from reference_system.api.models import Strict
from reference_system.api.strict import StrictRoute

router = APIRouter(prefix="/api/admin", responses=declared(*COMMON, 401, 403),
                   route_class=StrictRoute)


class Unlock(Strict):
    username: str = Field(min_length=1, max_length=128)


@router.get("/users")
async def list_users(admin: Admin, request: Request) -> dict[str, Any]:
    """The configured users and whether each is an admin (never their password hashes)."""
    settings = request.app.state.settings
    return {"users": [{"username": name, "admin": name in settings.admins}
                      for name in sorted(settings.users)]}


@router.post("/lockouts/clear")
async def clear_lockout(body: Unlock, admin: Admin, request: Request) -> dict[str, Any]:
    """Lift a username's login lockout at once (the support desk's unlock); ``cleared`` says
    whether it was locked. Per API process, like the lockout itself."""
    return {"username": body.username,
            "cleared": request.app.state.login_guard.clear(body.username)}

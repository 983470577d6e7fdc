"""Roles, per-camera grants and the 'unmasked' permission, enforced as FastAPI dependencies.

- viewer: sees live views, tracks, search, events, health and media of the cameras granted;
- operator: also acknowledges and resolves events, exports clips, edits zones, lines and rules;
- admin: everything, including users, privacy zones, retention and the audit log.

A camera the user may not see answers exactly like a camera that does not exist (404).
"""

from __future__ import annotations

# FastAPI declares dependencies and parameters in argument defaults:
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from scenewatch.api import auth
from scenewatch.api.context import ServerContext, get_ctx
from scenewatch.api.errors import ApiError, not_found

ROLE_RANK = {"viewer": 0, "operator": 1, "admin": 2}
SESSION_COOKIE = "sw_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


@dataclass(frozen=True)
class Principal:
    """The signed-in user of one request."""

    id: int
    name: str
    role: str
    cameras: frozenset[str] | None  # None: every camera
    unmasked: bool
    session_id: str
    csrf: str
    via_cookie: bool

    def at_least(self, role: str) -> bool:
        return ROLE_RANK[self.role] >= ROLE_RANK[role]

    def can_see(self, camera: str) -> bool:
        return self.role == "admin" or self.cameras is None or camera in self.cameras

    def visible(self, names: list[str]) -> list[str]:
        return [n for n in names if self.can_see(n)]


def _token(request: Request) -> tuple[str | None, bool]:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip(), False
    return request.cookies.get(SESSION_COOKIE), True


async def current_user(request: Request, ctx: ServerContext = Depends(get_ctx)) -> Principal:
    """The signed-in user; 401 when not signed in or the session expired, 403 on a missing CSRF
    token for a state-changing request made with the session cookie. On the event loop: a token
    checked in the last seconds costs no query and no hop to a worker thread."""
    token, via_cookie = _token(request)
    if not token:
        raise ApiError(401, "not signed in")
    found = auth.cached_session(token) or await _lookup(ctx, token)
    if isinstance(found, str):
        message = {"expired": "session expired: sign in again"}.get(found, "not signed in")
        raise ApiError(401, message)
    session, user = found
    if via_cookie and request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not sent or not _same(sent, session.csrf):
            raise ApiError(403, "missing or wrong CSRF token", "X-CSRF-Token")
    cameras = user["cameras"]
    principal = Principal(
        id=user["id"],
        name=user["name"],
        role=user["role"],
        cameras=None if cameras is None else frozenset(cameras),
        unmasked=user["unmasked"] or user["role"] == "admin",
        session_id=session.id,
        csrf=session.csrf,
        via_cookie=via_cookie,
    )
    request.state.principal = principal
    return principal


async def _lookup(ctx: ServerContext, token: str) -> tuple[auth.Session, dict[str, Any]] | str:
    return await run_in_threadpool(auth.lookup_session, ctx.store.engine, token)


def _same(a: str, b: str) -> bool:
    import hmac

    return hmac.compare_digest(a.encode(), b.encode())


def require(role: str):
    """Dependency: the user holds ``role`` or a higher one."""

    async def check(user: Principal = Depends(current_user)) -> Principal:
        if not user.at_least(role):
            raise ApiError(403, f"this needs the {role} role")
        return user

    return check


viewer = require("viewer")
operator = require("operator")
admin = require("admin")


def check_camera(user: Principal, ctx: ServerContext, camera: str) -> None:
    """404 unless the camera exists and the user may see it."""
    if not user.can_see(camera) or camera not in ctx.camera_names():
        raise not_found(f"camera {camera!r}")

"""Sign in and out: cookie sessions for the browser (HttpOnly, SameSite=Strict, Secure over TLS,
plus a CSRF token), bearer tokens for scripts; wrong passwords (at sign-in and at a password
change) rate-limited per address and user and recorded in the audit log."""

from __future__ import annotations

# FastAPI declares dependencies and parameters in argument defaults:
from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from scenewatch.api import audit, auth
from scenewatch.api.context import ServerContext, get_ctx
from scenewatch.api.errors import ApiError, ErrorBody
from scenewatch.api.permissions import SESSION_COOKIE, Principal, current_user
from scenewatch.api.routes.common import UserOut, user_out
from scenewatch.api.routes.users import check_strength

router = APIRouter(prefix="/api/auth", tags=["auth"], responses={429: {"model": ErrorBody}})


class LoginBody(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=512)
    bearer: bool = Field(False, description="Return a bearer token instead of setting a cookie (scripts).")


class LoginAnswer(BaseModel):
    user: UserOut
    csrf_token: str | None = Field(
        description="Send as X-CSRF-Token on POST/PUT/PATCH/DELETE (cookie sessions)."
    )
    token: str | None = Field(None, description="Bearer token (only when asked for with bearer=true).")
    expires_at: float


class MeAnswer(BaseModel):
    user: UserOut
    csrf_token: str | None


class PasswordBody(BaseModel):
    current: str = Field(min_length=1, max_length=512)
    new: str = Field(min_length=auth.MIN_PASSWORD, max_length=auth.MAX_PASSWORD)


def _client(request: Request) -> str:
    """The socket's address; a proxy's X-Forwarded-For only where uvicorn was told to trust it
    (``server.trusted_proxies``)."""
    return request.client.host if request.client else "unknown"


def _begin_try(ctx: ServerContext, client: str, name: str) -> None:
    """429 past the limit; else the try counts as a failure until it turns out right."""
    wait = ctx.limiter.begin(client, name)
    if wait > 0:
        raise ApiError(
            429, "too many wrong passwords: try again later", headers={"Retry-After": str(int(wait) + 1)}
        )


def _audit_wrong_password(ctx: ServerContext, client: str, name: str, **detail: str) -> None:
    audit.append(ctx.store.engine, name, "login_failed", f"user:{name}", {"client": client, **detail})


@router.post("/login", response_model=LoginAnswer)
def login(body: LoginBody, request: Request, response: Response, ctx: ServerContext = Depends(get_ctx)):
    """Sign in. Wrong passwords count against the client address with the user name, the
    address alone and the user name alone (429 past a limit, with Retry-After)."""
    client = _client(request)
    _begin_try(ctx, client, body.username)
    user = auth.authenticate(ctx.store.engine, body.username, body.password)
    if user is None:
        _audit_wrong_password(ctx, client, body.username)
        raise ApiError(401, "wrong user name or password")
    ctx.limiter.succeeded(client, body.username)
    token, session = auth.create_session(ctx.store.engine, user["id"], ctx.options.session_ttl_s)
    audit.append(
        ctx.store.engine,
        user["name"],
        "login",
        f"user:{user['name']}",
        {"client": client, "bearer": body.bearer},
    )
    if body.bearer:
        return LoginAnswer(user=user_out(user), csrf_token=None, token=token, expires_at=session.expires_at)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(ctx.options.session_ttl_s),
        httponly=True,
        samesite="strict",
        secure=ctx.options.secure_cookies or request.url.scheme == "https",
        path="/",
    )
    return LoginAnswer(user=user_out(user), csrf_token=session.csrf, expires_at=session.expires_at)


@router.post("/logout", status_code=204)
def logout(request: Request, user: Principal = Depends(current_user), ctx: ServerContext = Depends(get_ctx)):
    """End this session."""
    token = request.cookies.get(SESSION_COOKIE) if user.via_cookie else request.headers["authorization"][7:]
    auth.end_session(ctx.store.engine, (token or "").strip())
    audit.append(ctx.store.engine, user.name, "logout", f"user:{user.name}")
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/me", response_model=MeAnswer)
def me(user: Principal = Depends(current_user), ctx: ServerContext = Depends(get_ctx)):
    """The signed-in user and the CSRF token of this session (the UI reads it after a reload)."""
    return MeAnswer(
        user=user_out(auth.get_user(ctx.store.engine, user.id)),
        csrf_token=user.csrf if user.via_cookie else None,
    )


@router.post("/password", status_code=204)
def change_password(
    body: PasswordBody,
    request: Request,
    user: Principal = Depends(current_user),
    ctx: ServerContext = Depends(get_ctx),
):
    """Change your own password; every session of yours ends (sign in again). A wrong current
    password counts like a wrong one at sign-in: a stolen session cannot guess it unhindered."""
    client = _client(request)
    _begin_try(ctx, client, user.name)
    if auth.authenticate(ctx.store.engine, user.name, body.current) is None:
        _audit_wrong_password(ctx, client, user.name, during="password change")
        raise ApiError(400, "current password is wrong", "current")
    ctx.limiter.succeeded(client, user.name)
    check_strength(body.new, user.name, "new")
    auth.set_password(ctx.store.engine, user.id, body.new)
    audit.append(ctx.store.engine, user.name, "user_change", f"user:{user.name}", {"change": "password"})
    return Response(status_code=204)

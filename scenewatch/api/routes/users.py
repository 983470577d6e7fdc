"""User management (admins only)."""

from __future__ import annotations

# FastAPI declares dependencies and parameters in argument defaults:
from typing import Literal

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, Field

from scenewatch.api import audit, auth
from scenewatch.api.context import ServerContext, get_ctx
from scenewatch.api.errors import ApiError, ErrorBody
from scenewatch.api.permissions import Principal, admin
from scenewatch.api.routes.common import Id, UserOut, user_out

router = APIRouter(
    prefix="/api/users", tags=["users"], responses={403: {"model": ErrorBody}, 404: {"model": ErrorBody}}
)
Role = Literal["admin", "operator", "viewer"]
Name = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")


class NewUser(BaseModel):
    name: str = Name
    password: str = Field(min_length=auth.MIN_PASSWORD, max_length=auth.MAX_PASSWORD)
    role: Role
    cameras: list[str] | None = Field(
        None, max_length=1000, description="Cameras this user may see; empty: all."
    )
    unmasked: bool = Field(False, description="Sees people unpixelated.")


class UserChange(BaseModel):
    role: Role | None = None
    cameras: list[str] | None = Field(None, max_length=1000)
    all_cameras: bool = Field(False, description="Grant every camera (clears the list).")
    unmasked: bool | None = None
    disabled: bool | None = None


class NewPassword(BaseModel):
    password: str = Field(min_length=auth.MIN_PASSWORD, max_length=auth.MAX_PASSWORD)


def check_strength(password: str, name: str, field: str) -> None:
    """The password strength check as a 422 naming the body field."""
    try:
        auth.check_password_strength(password, name)
    except auth.AccountError as exc:
        raise ApiError(422, str(exc), field) from None


def _get(ctx: ServerContext, user_id: Id) -> dict:
    try:
        return auth.get_user(ctx.store.engine, user_id)
    except auth.AccountError:
        raise ApiError(404, f"user {user_id} not found") from None


@router.get("", response_model=list[UserOut])
def list_users(_user: Principal = Depends(admin), ctx: ServerContext = Depends(get_ctx)):
    return [user_out(u) for u in auth.list_users(ctx.store.engine)]


@router.post("", response_model=UserOut, status_code=201)
def add_user(body: NewUser, user: Principal = Depends(admin), ctx: ServerContext = Depends(get_ctx)):
    if auth.find_user(ctx.store.engine, body.name) is not None:
        raise ApiError(409, f"user {body.name!r} exists already", "name")
    check_strength(body.password, body.name, "password")
    created = auth.create_user(
        ctx.store.engine, body.name, body.password, body.role, body.cameras, body.unmasked
    )
    detail = {"role": body.role, "cameras": body.cameras, "unmasked": body.unmasked}
    audit.append(ctx.store.engine, user.name, "user_change", f"user:{body.name}", {"change": "add", **detail})
    return user_out(created)


@router.patch("/{user_id}", response_model=UserOut)
def change_user(
    user_id: Id, body: UserChange, user: Principal = Depends(admin), ctx: ServerContext = Depends(get_ctx)
):
    target = _get(ctx, user_id)
    values = body.model_dump(exclude_none=True, exclude={"all_cameras"})
    if body.all_cameras:
        values["cameras"] = None
    if user_id == user.id and (values.get("role", "admin") != "admin" or values.get("disabled")):
        raise ApiError(400, "you cannot demote or disable yourself (ask another admin)")
    updated = auth.update_user(ctx.store.engine, user_id, **values)
    audit.append(
        ctx.store.engine, user.name, "user_change", f"user:{target['name']}", {"change": "update", **values}
    )
    return user_out(updated)


@router.post("/{user_id}/password", status_code=204)
def reset_password(
    user_id: Id, body: NewPassword, user: Principal = Depends(admin), ctx: ServerContext = Depends(get_ctx)
):
    target = _get(ctx, user_id)
    check_strength(body.password, target["name"], "password")
    auth.set_password(ctx.store.engine, user_id, body.password)
    audit.append(ctx.store.engine, user.name, "user_change", f"user:{target['name']}", {"change": "password"})
    return Response(status_code=204)


@router.delete("/{user_id}", status_code=204)
def delete_user(user_id: Id, user: Principal = Depends(admin), ctx: ServerContext = Depends(get_ctx)):
    target = _get(ctx, user_id)
    if user_id == user.id:
        raise ApiError(400, "you cannot delete yourself")
    auth.delete_user(ctx.store.engine, user_id)
    audit.append(ctx.store.engine, user.name, "user_change", f"user:{target['name']}", {"change": "delete"})
    return Response(status_code=204)

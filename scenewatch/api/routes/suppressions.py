"""Operator suppressions: mark a tracked object "not a <class>" on its camera, list them, undo.

Made from a stored track (its median box, padded a little); the running camera takes a change at
once. Each add and undo is audited; another camera's operator is answered as for an unknown camera.
"""

from __future__ import annotations

# FastAPI declares dependencies and parameters in argument defaults:
from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from scenewatch.api import audit
from scenewatch.api.context import ServerContext, get_ctx
from scenewatch.api.errors import ApiError, ErrorBody, not_found
from scenewatch.api.permissions import Principal, check_camera, operator, viewer
from scenewatch.api.routes.common import Id, camera_named
from scenewatch.errors import SceneWatchError
from scenewatch.store import suppressions as stored

router = APIRouter(
    prefix="/api/cameras",
    tags=["suppressions"],
    responses={404: {"model": ErrorBody}, 400: {"model": ErrorBody}},
)
MAX_PER_CAMERA = 200  # more than this is a camera to re-aim or a mask to draw, not objects to mark


class SuppressionIn(BaseModel):
    track_id: int = Field(ge=1, le=2**62, description="The stored track that is not what it was taken for.")
    reason: str | None = Field(None, max_length=stored.REASON_MAX, description="Why, for the audit log.")


class SuppressionOut(BaseModel):
    id: int
    camera: str
    class_name: str
    box: list[float] = Field(description="x1, y1, x2, y2 in camera pixels (the track's median box, padded).")
    created_by: str
    created_at: float
    reason: str | None = None
    track_id: int | None = None


def _camera(ctx: ServerContext, user: Principal, name: str) -> str:
    name = camera_named(ctx, user, name)
    check_camera(user, ctx, name)
    return name


def _changed(ctx: ServerContext, camera: str) -> None:
    """The running camera takes the change at once (when this server runs it)."""
    cameras = getattr(ctx.runner, "cameras", None)
    if cameras is not None:
        cameras.suppressions_changed(camera)


@router.get("/{name}/suppressions", response_model=list[SuppressionOut])
def list_suppressions(name: str, user: Principal = Depends(viewer), ctx: ServerContext = Depends(get_ctx)):
    """What operators marked "not a <class>" on this camera, oldest first."""
    camera = _camera(ctx, user, name)
    return [SuppressionOut(**s.as_dict()) for s in stored.list_for(ctx.store.engine, camera)]


@router.post("/{name}/suppressions", response_model=SuppressionOut, status_code=201)
def add_suppression(
    name: str, body: SuppressionIn, user: Principal = Depends(operator), ctx: ServerContext = Depends(get_ctx)
):
    """Mark track ``track_id`` of this camera as not its class: from now on the camera drops
    detections of that class whose box matches the track's (size and place); people passing
    through the area are still tracked."""
    camera = _camera(ctx, user, name)
    engine = ctx.store.engine
    existing = stored.list_for(engine, camera)
    if any(s.track_id == body.track_id for s in existing):
        raise ApiError(400, f"track {body.track_id} is already suppressed on camera {camera!r}", "track_id")
    if len(existing) >= MAX_PER_CAMERA:
        raise ApiError(
            400,
            f"camera {camera!r} has {len(existing)} suppressions, the most it may have; undo some first "
            "or draw an ignore mask for the area",
            "track_id",
        )
    try:
        made = stored.add_from_track(engine, camera, body.track_id, user.name, body.reason)
    except SceneWatchError as exc:
        raise ApiError(400, str(exc), "track_id") from None
    try:
        audit.append(engine, user.name, "suppression_add", f"camera:{camera}", made.audit_detail())
    except audit.AuditUnavailable:
        stored.remove(engine, made.id)  # no record, no action
        raise
    _changed(ctx, camera)
    return SuppressionOut(**made.as_dict())


@router.delete("/{name}/suppressions/{suppression_id}", status_code=204)
def remove_suppression(
    name: str, suppression_id: Id, user: Principal = Depends(operator), ctx: ServerContext = Depends(get_ctx)
):
    """Undo a suppression: the camera treats such detections as before from its next frame."""
    camera = _camera(ctx, user, name)
    engine = ctx.store.engine
    found = stored.get(engine, suppression_id)
    if found is None or found.camera != camera:
        raise not_found(f"suppression {suppression_id}")
    audit.append(engine, user.name, "suppression_remove", f"camera:{camera}", found.audit_detail())
    stored.remove(engine, suppression_id)
    _changed(ctx, camera)

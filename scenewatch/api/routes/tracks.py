"""Tracked objects of the cameras the user may see."""

from __future__ import annotations

# FastAPI declares dependencies and parameters in argument defaults:
from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel

from scenewatch.api.context import ServerContext, get_ctx
from scenewatch.api.errors import ErrorBody, not_found
from scenewatch.api.permissions import Principal, check_camera, viewer
from scenewatch.api.routes.common import Id, Limit, media_url
from scenewatch.api.routes.media import serve_media
from scenewatch.store import repo

router = APIRouter(prefix="/api/tracks", tags=["tracks"], responses={404: {"model": ErrorBody}})


class TrackOut(BaseModel):
    id: int
    camera: str
    run_id: int
    class_name: str
    first_ts: float
    last_ts: float
    first_frame: int
    last_frame: int
    detections: int
    score: float
    finished: bool
    attributes: dict | None = None
    thumbnail_url: str | None = None
    clip_url: str
    path: list | None = None
    boxes: list[dict] | None = None


def _out(ctx: ServerContext, row: dict) -> TrackOut:
    data = {k: v for k, v in row.items() if k in TrackOut.model_fields}
    data["thumbnail_url"] = media_url(ctx.store, row.get("thumbnail"))
    data["clip_url"] = f"/api/clips/track/{row['id']}"
    return TrackOut(**data)


@router.get("", response_model=list[TrackOut])
def list_tracks(
    camera: str | None = Query(None, max_length=64),
    class_name: str | None = Query(None, alias="class", max_length=32),
    since: float | None = Query(None, description="Seen at or after (epoch seconds)."),
    until: float | None = Query(None, description="Seen at or before (epoch seconds)."),
    limit: Limit = 100,
    offset: int = Query(0, ge=0, le=1_000_000),
    user: Principal = Depends(viewer),
    ctx: ServerContext = Depends(get_ctx),
):
    """Tracks in time order, paged with ``limit`` and ``offset``."""
    if camera is not None:
        check_camera(user, ctx, camera)
        names = [camera]
    elif user.cameras is None or user.role == "admin":
        names = [None]
    else:
        names = [n for n in user.visible(ctx.camera_names())]
    rows: list[dict] = []
    for name in names:
        try:
            rows += repo.list_tracks(ctx.store.engine, name, class_name, since, until, limit + offset, 0)
        except repo.NotFound:  # configured but nothing recorded yet
            continue
    rows.sort(key=lambda r: (r["first_ts"], r["id"]))
    return [_out(ctx, r) for r in rows[offset : offset + limit]]


def visible_track(ctx: ServerContext, user: Principal, track_id: Id, with_boxes: bool = False) -> dict:
    try:
        track = repo.get_track(ctx.store.engine, track_id, with_boxes=with_boxes)
    except repo.NotFound:
        raise not_found(f"track {track_id}") from None
    if not user.can_see(track["camera"]):
        raise not_found(f"track {track_id}")
    return track


@router.get("/{track_id}", response_model=TrackOut)
def get_track(
    track_id: Id,
    boxes: bool = Query(False, description="Include every box (can be thousands)."),
    user: Principal = Depends(viewer),
    ctx: ServerContext = Depends(get_ctx),
):
    return _out(ctx, visible_track(ctx, user, track_id, with_boxes=boxes))


@router.get(
    "/{track_id}/thumbnail.jpg", responses={200: {"content": {"image/jpeg": {}}}}, response_class=Response
)
def thumbnail(track_id: Id, user: Principal = Depends(viewer), ctx: ServerContext = Depends(get_ctx)):
    track = visible_track(ctx, user, track_id)
    if not track.get("thumbnail"):
        raise not_found("thumbnail")
    return serve_media(ctx, user, track["thumbnail"])

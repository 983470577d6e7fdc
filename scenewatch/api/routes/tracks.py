"""Tracked objects of the cameras the user may see."""

from __future__ import annotations

import math

# FastAPI declares dependencies and parameters in argument defaults:
from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel

from scenewatch.api import audit
from scenewatch.api.context import ServerContext, get_ctx
from scenewatch.api.errors import ApiError, ErrorBody, not_found
from scenewatch.api.permissions import Principal, check_camera, viewer
from scenewatch.api.routes.common import Id, Limit, media_url
from scenewatch.api.routes.media import serve_media
from scenewatch.store import repo

router = APIRouter(prefix="/api/tracks", tags=["tracks"], responses={404: {"model": ErrorBody}})
MAX_OFFSET = 10_000  # deeper pages go by cursor: an offset costs rows read and skipped per camera
CURSOR = r"^[0-9][0-9.eE+-]{0,31}:[0-9]{1,18}$"  # "<first_ts>:<id>" of a page's last track


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
    request: Request,
    response: Response,
    camera: str | None = Query(None, max_length=64),
    class_name: str | None = Query(None, alias="class", max_length=32),
    since: float | None = Query(None, description="Seen at or after (epoch seconds)."),
    until: float | None = Query(None, description="Seen at or before (epoch seconds)."),
    limit: Limit = 100,
    offset: int = Query(0, ge=0, description=f"Rows to skip, at most {MAX_OFFSET}; page with `after`."),
    after: str | None = Query(
        None,
        pattern=CURSOR,
        description="Continue after this cursor: the X-Next-Cursor header of the previous page.",
    ),
    user: Principal = Depends(viewer),
    ctx: ServerContext = Depends(get_ctx),
):
    """Tracks in time order (first seen, then id). A full page carries ``X-Next-Cursor`` and a
    ``Link: <...>; rel="next"`` header: pass the cursor as ``after`` for the next page."""
    if offset > MAX_OFFSET:
        raise ApiError(
            422, f"offset is at most {MAX_OFFSET}; page with after=<the X-Next-Cursor header>", "offset"
        )
    if camera is not None:
        check_camera(user, ctx, camera)
        names: list[str] | None = [camera]
    elif user.cameras is None or user.role == "admin":
        names = None
    else:
        names = user.visible(ctx.camera_names())
    rows = repo.list_tracks(
        ctx.store.engine,
        None,
        class_name,
        since,
        until,
        limit,
        offset,
        camera_names=names,
        after=_cursor(after),
    )
    if len(rows) == limit:
        cursor = f"{rows[-1]['first_ts']!r}:{rows[-1]['id']}"
        following = request.url.remove_query_params("offset").include_query_params(after=cursor)
        response.headers["x-next-cursor"] = cursor
        response.headers["link"] = f'<{following.path}?{following.query}>; rel="next"'
    return [_out(ctx, r) for r in rows]


def _cursor(text: str | None) -> tuple[float, int] | None:
    if text is None:
        return None
    ts, _, track_id = text.partition(":")
    try:
        cursor = float(ts), int(track_id)
    except ValueError:
        cursor = (math.inf, 0)
    if not math.isfinite(cursor[0]):
        raise ApiError(422, "after is a cursor '<first_ts>:<id>' from X-Next-Cursor", "after")
    return cursor


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
    track = visible_track(ctx, user, track_id, with_boxes=boxes)
    audit.append(ctx.store.engine, user.name, "track_view", f"track:{track_id}", {"boxes": boxes})
    return _out(ctx, track)


@router.get(
    "/{track_id}/thumbnail.jpg", responses={200: {"content": {"image/jpeg": {}}}}, response_class=Response
)
def thumbnail(track_id: Id, user: Principal = Depends(viewer), ctx: ServerContext = Depends(get_ctx)):
    track = visible_track(ctx, user, track_id)
    if not track.get("thumbnail"):
        raise not_found("thumbnail")
    return serve_media(ctx, user, track["thumbnail"])

"""Media files (thumbnails, event and health snapshots), privacy-masked for the user asking.

Only files the database knows are served, by a path whose first parts name the kind and the
camera (``thumbnails/CAM/...``, ``events/CAM/...``, ``health/CAM/...``); anything else is 404 and
any path leaving the media folder is 400. Recordings and cached clips are never served here."""

from __future__ import annotations

# FastAPI declares dependencies and parameters in argument defaults:
from pathlib import PurePosixPath

import numpy as np
from fastapi import APIRouter, Depends, Response

from scenewatch.api import privacy, queries
from scenewatch.api.context import ServerContext, get_ctx
from scenewatch.api.errors import ApiError, ErrorBody, not_found
from scenewatch.api.permissions import Principal, check_camera, viewer
from scenewatch.api.routes.common import Id, jpeg_response, read_image, stored_jpeg

router = APIRouter(
    prefix="/api/media", tags=["media"], responses={400: {"model": ErrorBody}, 404: {"model": ErrorBody}}
)
THUMB_PAD = 0.1  # as scenewatch.tracking.summary crops thumbnails


def _parts(ctx: ServerContext, relative: str) -> list[str]:
    if "\x00" in relative or "\\" in relative or relative.startswith("/"):
        raise ApiError(400, "bad media path", "path")
    try:
        ctx.store.media.absolute(relative)
    except ValueError:
        raise ApiError(400, "media path leaves the media folder", "path") from None
    parts = list(PurePosixPath(relative).parts)
    if len(parts) < 3 or ".." in parts or not parts[-1].endswith(".jpg"):
        raise not_found("media file")
    return parts


def _file_id(text: str) -> int:
    """A database id in a media path; anything else, or a number beyond the database's 64-bit
    integers, names a file that does not exist."""
    if not (text.isascii() and text.isdigit()) or len(text) > 18:
        raise not_found("media file")
    return int(text)


def serve_media(ctx: ServerContext, user: Principal, relative: str) -> Response:
    """The masked image at media path ``relative`` if the user may see its camera."""
    parts = _parts(ctx, relative)
    kind, camera = parts[0], parts[1]
    check_camera(user, ctx, camera)
    engine = ctx.store.engine
    # nothing to hide from this user on this camera: the file as stored (no people to look up)
    plain = user.unmasked and not privacy.privacy_zones(engine, camera)
    if kind == "thumbnails" and len(parts) == 5 and parts[2].startswith("run"):
        track = queries.track_by_tracker(engine, _file_id(parts[2][3:]), _file_id(parts[4][:-4]))
        if track is None:
            raise not_found("media file")
        if plain:
            return stored_jpeg(ctx.store, relative)
        image = read_image(ctx.store, relative)
        return _thumbnail(ctx, user, camera, track, image)
    if kind == "events" and len(parts) == 4:
        row = _event_by_key(engine, parts[3][:-4])
        if row is None or row["snapshot"] != relative:
            raise not_found("media file")
        if plain:
            return stored_jpeg(ctx.store, relative)
        image = read_image(ctx.store, relative)
        people = queries.people_at(engine, camera, row["start_ts"])
        if not queries.tracks_placed(engine, row["run_id"], row["track_ids"]):
            people = None  # the event's tracks are gone (retention): where its people were is not known
        return jpeg_response(
            image, privacy.mask_for(engine, camera, user.unmasked, people), *_scale(ctx, camera, image)
        )
    if kind == "health" and len(parts) == 3:
        row = queries.health_event(engine, _file_id(parts[2][:-4]))
        if row is None or row["snapshot"] != relative:
            raise not_found("media file")
        if plain:
            return stored_jpeg(ctx.store, relative)
        image = read_image(ctx.store, relative)
        people = queries.people_at(engine, camera, row["start_ts"], tolerance=1.0)
        return jpeg_response(
            image, privacy.mask_for(engine, camera, user.unmasked, people), *_scale(ctx, camera, image)
        )
    raise not_found("media file")


def _scale(ctx: ServerContext, camera: str, image: np.ndarray) -> tuple[tuple[float, float]]:
    return frame_scale(ctx.store.engine, camera, image)


def frame_scale(engine, camera: str, image: np.ndarray) -> tuple[tuple[float, float]]:
    """Camera pixels -> image pixels for a (downscaled) full-frame snapshot."""
    row = queries.camera_row(engine, camera) or {}
    if not row.get("width") or not row.get("height"):
        return ((1.0, 1.0),)
    return ((image.shape[1] / row["width"], image.shape[0] / row["height"]),)


def _event_by_key(engine, key: str):
    from sqlalchemy import select

    from scenewatch.store.schema import events

    with engine.connect() as conn:
        row = conn.execute(
            select(events.c.snapshot, events.c.start_ts, events.c.run_id, events.c.track_ids).where(
                events.c.key == key
            )
        ).first()
    return None if row is None else dict(row._mapping)


def _thumbnail(ctx: ServerContext, user: Principal, camera: str, track: dict, image: np.ndarray) -> Response:
    """A thumbnail is a crop of one box: people in it are the track itself (pixelated whole for
    masked users); privacy zones are mapped into the crop by finding the box it was cut from."""
    zones = privacy.privacy_zones(ctx.store.engine, camera)
    pixelate = not user.unmasked and track["class_name"] == "person"
    mask = privacy.Mask(tuple(np.asarray(z, np.float32) for z in zones), pixelate, None)
    if not zones:
        return jpeg_response(image, mask)
    offset = crop_origin(ctx.store.engine, camera, track["id"], image.shape)
    if offset is None:  # cannot place the zones: black it all rather than risk showing them
        return jpeg_response(np.zeros_like(image), privacy.Mask((), False, None))
    return jpeg_response(image, mask, (1.0, 1.0), offset)


def crop_origin(engine, camera: str, track_id: Id, shape) -> tuple[float, float] | None:
    """Where in the camera frame a thumbnail of ``shape`` was cut (its top left), None if unknown."""
    from scenewatch.store import repo

    row = queries.camera_row(engine, camera) or {}
    width, height = row.get("width") or 10**6, row.get("height") or 10**6
    for box in repo.get_track(engine, track_id)["boxes"]:
        x1, y1, x2, y2 = box["x1"], box["y1"], box["x2"], box["y2"]
        px, py = THUMB_PAD * (x2 - x1), THUMB_PAD * (y2 - y1)
        left, top = int(max(x1 - px, 0)), int(max(y1 - py, 0))
        right, bottom = int(min(x2 + px, width)), int(min(y2 + py, height))
        if (bottom - top, right - left) == tuple(shape[:2]):
            return float(left), float(top)
    return None


@router.get("/{path:path}", responses={200: {"content": {"image/jpeg": {}}}}, response_class=Response)
def media_file(path: str, user: Principal = Depends(viewer), ctx: ServerContext = Depends(get_ctx)):
    """A thumbnail or snapshot by its media path (as given in track, event and search answers)."""
    return serve_media(ctx, user, path)

"""One stream per Live page: the newest analysed frame of each camera asked for, with the tracks
the tracker reported on it, so that the overlay draws each box on the frame it was found in
without a request per tile and frame.

``GET /api/live/frames?cameras=a,b,c`` answers a stream of records. Each is one line of JSON (the
``/api/cameras/{name}/objects`` answer for that frame plus ``camera``, and ``jpeg``: the byte length
of the picture) followed by exactly that many bytes: the frame as a privacy-masked JPEG, the same
picture ``snapshot.jpg`` gives the user. A camera's record is sent when it has a new frame, at most
``fps`` times a second; a slow reader skips frames instead of queueing them. An empty line every
15 s keeps proxies from closing a quiet stream. The stream ends when the session ends or a camera
is removed or no longer granted; the client reopens it."""

from __future__ import annotations

# FastAPI declares dependencies and parameters in argument defaults:
import asyncio
import json
import time
from collections.abc import AsyncIterator

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse

from scenewatch.api import privacy
from scenewatch.api.context import ServerContext, get_ctx
from scenewatch.api.errors import ApiError, ErrorBody
from scenewatch.api.live_frames import LiveFrame
from scenewatch.api.permissions import Principal, check_camera, current_user, viewer
from scenewatch.api.routes.live import live_objects

router = APIRouter(prefix="/api/live", tags=["live"], responses={404: {"model": ErrorBody}})
MAX_CAMERAS = 16  # the Live page asks for at most 9 (one grid page)
TICK_S = 0.04  # how often the newest frames are looked at
# session, grants, cameras and privacy zones are read again this often, and the cameras marked as
# watched again: well within live_frames.WATCH_S, so that a pipeline process keeps sending them
RECHECK_S = 2.0
KEEPALIVE_S = 15.0


def _names(cameras: str) -> list[str]:
    names = list(dict.fromkeys(n.strip() for n in cameras.split(",") if n.strip()))
    if not names:
        raise ApiError(400, "name at least one camera, e.g. ?cameras=gate,yard", "cameras")
    if len(names) > MAX_CAMERAS:
        raise ApiError(
            400, f"at most {MAX_CAMERAS} cameras in one stream, not {len(names)}: open another", "cameras"
        )
    return names


def _watch(ctx: ServerContext, user: Principal, names: list[str]) -> dict[str, privacy.Mask]:
    """Each camera checked as its own routes do (404 when unknown or not granted) and marked as
    watched (a pipeline process sends frames of watched cameras only); its mask for ``user`` (the
    people come from each frame). In a worker thread: it reads the database and tells the
    pipeline."""
    for name in names:
        check_camera(user, ctx, name)
        ctx.live.watch(name)
    return {name: privacy.mask_for(ctx.store.engine, name, user.unmasked, None) for name in names}


def _records(ctx: ServerContext, fresh: list[tuple[str, LiveFrame]], masks: dict[str, privacy.Mask]) -> bytes:
    out = []
    for name, frame in fresh:
        jpeg = ctx.live.jpeg(frame, masks[name])  # cached per frame and mask: many viewers, one encode
        head = live_objects(frame).model_dump(mode="json", by_alias=True)
        head.update(camera=name, jpeg=len(jpeg))
        out += [json.dumps(head, separators=(",", ":")).encode(), b"\n", jpeg]
    return b"".join(out)


@router.get(
    "/frames",
    responses={200: {"content": {"application/octet-stream": {}}}, 400: {"model": ErrorBody}},
    response_class=StreamingResponse,
)
async def frames(
    request: Request,
    cameras: str = Query(description="camera names separated by commas (at most 16)", max_length=2000),
    fps: float = Query(5.0, gt=0, le=10, description="at most this many frames a second per camera"),
    user: Principal = Depends(viewer),
    ctx: ServerContext = Depends(get_ctx),
):
    """The newest frame of each camera with the tracks reported on it, as a stream of records: a
    line of JSON (camera, seq, timestamp, width, height, objects, jpeg: the picture's byte length),
    then the privacy-masked JPEG. Positions only, so masked users get them too."""
    names = _names(cameras)
    masks = await asyncio.to_thread(_watch, ctx, user, names)
    period = 1.0 / fps

    async def records() -> AsyncIterator[bytes]:
        nonlocal masks
        sent: dict[str, int] = {}  # camera -> seq of the frame last sent
        due: dict[str, float] = {}  # camera -> when its next frame may go
        checked = quiet_since = time.monotonic()
        while not await request.is_disconnected():
            now = time.monotonic()
            if now - checked > RECHECK_S:
                checked = now
                try:  # the user of now: signed out, a grant withdrawn or a camera removed ends it
                    masks = await asyncio.to_thread(_watch, ctx, await current_user(request, ctx), names)
                except ApiError:
                    return
            fresh = [
                (name, frame)
                for name in names
                if (frame := ctx.live.latest(name)) is not None
                and frame.seq != sent.get(name)
                and now >= due.get(name, 0.0)
            ]
            if fresh:
                body = await asyncio.to_thread(_records, ctx, fresh, masks)
                for name, frame in fresh:
                    sent[name] = frame.seq
                    # a late tick does not lower the rate: the next slot counts from the last one
                    due[name] = max(due.get(name, now), now - period) + period
                quiet_since = now
                yield body
            elif now - quiet_since > KEEPALIVE_S:
                quiet_since = now
                yield b"\n"
            await asyncio.sleep(TICK_S)

    return StreamingResponse(
        records(),
        media_type="application/octet-stream",
        headers={"cache-control": "no-store", "x-accel-buffering": "no"},
    )

"""Live view: the latest frame as a JPEG snapshot, and an MJPEG stream; both privacy-masked. The
tracks the tracker reported on that frame as JSON, for the overlay (positions only, so masked
users get them too). The Live page gets both for all its tiles in one stream (``live_feed.py``).

Frames come from the running pipeline. Without one (``--no-pipeline``, or before the first
frame), a file camera answers with its first frame so that zones can still be drawn, its people
found by the node's detector (``scenewatch.api.file_still``)."""

from __future__ import annotations

# FastAPI declares dependencies and parameters in argument defaults:
import asyncio
import time

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from scenewatch.api import privacy, queries
from scenewatch.api.context import ServerContext, get_ctx
from scenewatch.api.errors import ApiError, ErrorBody
from scenewatch.api.live_frames import FIRST_FRAME_S, LiveFrame
from scenewatch.api.permissions import Principal, check_camera, viewer
from scenewatch.vision.labels import class_name

router = APIRouter(prefix="/api/cameras", tags=["live"], responses={404: {"model": ErrorBody}})


def _still(ctx: ServerContext, name: str, wait_s: float = 0.0):
    """(live frame or None, image, people or None, why people are unknown or None) for ``name``:
    the live frame, else a file camera's first frame. The camera counts as watched; ``wait_s``:
    how long a first viewer waits for a frame. Blocks while a still's people are found."""
    frame = ctx.live.watch(name, wait_s)
    if frame is not None:
        return frame, frame.image, frame.people, None
    camera = next((c for c in ctx.settings.cameras if c.name == name), None)
    if camera is None or camera.source.is_live:
        raise ApiError(503, f"no live frame from camera {name!r} yet: is the pipeline running?")
    row = queries.camera_row(ctx.store.engine, name) or {}
    size = (row["width"], row["height"]) if row.get("width") and row.get("height") else None
    still = ctx.stills.get(ctx.settings, camera, size)
    if still is None:
        raise ApiError(503, f"camera {name!r} gives no picture")
    return None, still.image, still.people, still.note  # people None: masked whole, fail closed


def _masked_jpeg(ctx: ServerContext, user: Principal, name: str, live, image, people) -> bytes:
    mask = privacy.mask_for(ctx.store.engine, name, user.unmasked, people)
    return ctx.live.jpeg(live, mask) if live is not None else privacy.encode_jpeg(privacy.apply(image, mask))


class LiveObject(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    track_id: int
    class_name: str = Field(alias="class")
    box: tuple[float, float, float, float] = Field(description="x1, y1, x2, y2 in frame pixels")


class LiveObjects(BaseModel):
    seq: int | None = Field(description="the live frame's number; null without a live frame")
    timestamp: float | None = Field(description="the frame's wall-clock time, epoch seconds")
    width: int | None = Field(description="the frame's size in pixels: the boxes' coordinate space")
    height: int | None
    objects: list[LiveObject]


@router.get("/{name}/objects", response_model=LiveObjects)
def objects(name: str, user: Principal = Depends(viewer), ctx: ServerContext = Depends(get_ctx)):
    """The tracks the tracker reported on the latest live frame: id, class and box. No objects
    (and a null ``seq``) while the camera sends no live frame."""
    check_camera(user, ctx, name)
    frame = ctx.live.watch(name)  # watched: the pipeline sends its frames
    if frame is None:
        row = queries.camera_row(ctx.store.engine, name) or {}
        return LiveObjects(
            seq=None, timestamp=None, width=row.get("width"), height=row.get("height"), objects=[]
        )
    return live_objects(frame)


def live_objects(frame: LiveFrame) -> LiveObjects:
    """What the tracker reported on ``frame``, in the frame's pixels."""
    found = [
        LiveObject(track_id=int(tid), class_name=class_name(cls), box=tuple(round(float(v), 1) for v in box))
        for box, tid, cls in zip(frame.boxes, frame.track_ids, frame.class_ids, strict=True)
    ]
    return LiveObjects(
        seq=frame.seq, timestamp=frame.timestamp, width=frame.width, height=frame.height, objects=found
    )


@router.get(
    "/{name}/snapshot.jpg",
    responses={200: {"content": {"image/jpeg": {}}}, 503: {"model": ErrorBody}},
    response_class=Response,
)
def snapshot(name: str, user: Principal = Depends(viewer), ctx: ServerContext = Depends(get_ctx)):
    """The latest frame, with privacy zones black and (without 'unmasked') people pixelated. A live
    frame's number is in ``X-Frame-Seq``: the overlay draws that frame's objects on it. Where the
    people of a file camera's still could not be found, the whole picture is pixelated and
    ``X-Mask-Note`` says why."""
    check_camera(user, ctx, name)
    live, image, people, note = _still(ctx, name, FIRST_FRAME_S)
    body = _masked_jpeg(ctx, user, name, live, image, people)
    headers = {"cache-control": "no-store"}
    if live is not None:
        headers["x-frame-seq"] = str(live.seq)
    if note is not None and not user.unmasked:
        headers["x-mask-note"] = note.encode("ascii", "replace").decode()
    return Response(body, media_type="image/jpeg", headers=headers)


@router.get(
    "/{name}/live.mjpeg",
    responses={200: {"content": {"multipart/x-mixed-replace": {}}}, 503: {"model": ErrorBody}},
    response_class=StreamingResponse,
)
async def mjpeg(
    name: str, request: Request, user: Principal = Depends(viewer), ctx: ServerContext = Depends(get_ctx)
):
    """Motion JPEG at a few frames a second; ends when the camera is removed from the config."""
    check_camera(user, ctx, name)
    await asyncio.to_thread(_still, ctx, name, FIRST_FRAME_S)  # 503 now, rather than an empty stream
    period = 1.0 / ctx.options.mjpeg_fps

    async def frames():
        # each part ends with the next boundary, so a browser shows a frame as soon as it arrives
        yield b"--frame\r\n"
        last_seq, last_check, body = -1, time.monotonic(), b""
        while not await request.is_disconnected():
            if time.monotonic() - last_check > 2.0:
                last_check = time.monotonic()
                if name not in ctx.camera_names():
                    return  # camera removed while viewed: the stream ends cleanly
            try:
                live, image, people, _note = await asyncio.to_thread(_still, ctx, name)
            except ApiError:
                await asyncio.sleep(period)
                continue
            seq = live.seq if live is not None else 0
            if seq != last_seq:
                last_seq = seq
                body = await asyncio.to_thread(_masked_jpeg, ctx, user, name, live, image, people)
            head = b"Content-Type: image/jpeg\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n"
            yield head + body + b"\r\n--frame\r\n"
            await asyncio.sleep(period)

    return StreamingResponse(
        frames(),
        media_type="multipart/x-mixed-replace; boundary=frame",
        headers={"cache-control": "no-store"},
    )

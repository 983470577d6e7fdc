"""Clips of a track or an event, privacy-masked for the user; viewing is audited as
``clip_view``, downloading (``?download=true``, operators and admins) as ``export``.

``?part=progress`` answers at once how far the clip's rendering is (starting it in the background,
``api/clip_jobs.py``), so a page can say what is happening and then play the cached result;
``?part=boxes`` gives the boxes of the clip's own tracks over the clip's time, for drawing over
the video. Both are scoped exactly like the clip. Alert clips are also rendered ahead of time
(``api/clip_prerender.py``).

Masking fails closed: a moment whose people are not known (a clip's tracks without boxes, a long
gap in a track) is pixelated whole for a masked user. A central holds no video: clips of rows an
edge shipped are refused, and no path an edge sent (a run's source, an event's clip) is opened.
"""

from __future__ import annotations

# FastAPI declares dependencies and parameters in argument defaults:
import math
import time
from collections.abc import Callable
from enum import StrEnum
from functools import partial
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import FileResponse, JSONResponse
from starlette.concurrency import run_in_threadpool

from scenewatch.api import audit, clip_boxes, clip_jobs, clipper, privacy, queries
from scenewatch.api.clipper import Plan
from scenewatch.api.context import ServerContext, get_ctx
from scenewatch.api.errors import ApiError, ErrorBody
from scenewatch.api.permissions import Principal, viewer
from scenewatch.api.routes.common import Id
from scenewatch.api.routes.events import _visible as visible_event
from scenewatch.api.routes.tracks import visible_track
from scenewatch.api.sightings import Sightings
from scenewatch.sources.file import pass_seconds

router = APIRouter(prefix="/api/clips", tags=["clips"], responses={404: {"model": ErrorBody}})
NOT_READY: dict[int | str, dict[str, Any]] = {
    409: {
        "model": ErrorBody,
        "description": "Not recorded or cut yet: retry after the Retry-After header's seconds.",
    }
}
VIDEO: dict[int | str, dict[str, Any]] = {200: {"content": {"video/webm": {}}}}


def _stays_on_edge(ctx: ServerContext, table: str, row_id: int) -> None:
    """A central holds no video of what an edge shipped, and never opens a path an edge sent
    (a run's source, an event's clip): such clips are refused, naming the edge that has them."""
    edge = queries.owning_edge(ctx.store.engine, table, row_id)
    if edge is not None:
        raise ApiError(404, f"clips stay on edge {edge!r}; open them there (the central holds no video)")


def _masking(
    ctx: ServerContext, unmasked: bool, camera: str, known: bool, seen: Callable[[], Sightings]
) -> tuple[privacy.Mask, Sightings, dict]:
    """The mask of a user with or without ``unmasked``, where the clip's people are, and what the
    two add to the cache key (a masked render's key always differs from an unmasked one's).

    ``known`` False (the clip's own tracks have no boxes: never stored, or deleted by retention):
    nobody's place is known, so a masked user gets every frame pixelated whole."""
    mask = privacy.mask_for(ctx.store.engine, camera, unmasked, None)
    key = {"z": [z.tolist() for z in mask.zones], "p": mask.pixelate}
    if not mask.pixelate:  # people are not asked for
        return mask, Sightings.unknown(), key
    sightings = seen() if known else Sightings.unknown()
    return mask, sightings, {**key, "people": sightings.fingerprint(), "mosaic": privacy.mosaic()}


def _fps(ctx: ServerContext, camera: str) -> float:
    return (queries.camera_row(ctx.store.engine, camera) or {}).get("fps") or 25.0


def _file_clip(
    ctx: ServerContext,
    unmasked: bool,
    camera: str,
    run_id: int,
    source: str,
    window: tuple[float, float],
    known: bool,
) -> Plan:
    """A clip of a file source, seconds [start, end] of its run (decoded frame index / fps);
    people by the run's boxes. A looped file's later passes are cut from the same place in it."""
    start_s, end_s = window
    fps = _fps(ctx, camera)
    people = partial(queries.run_sightings, ctx.store.engine, run_id, fps, start_s, end_s)
    mask, seen, key = _masking(ctx, unmasked, camera, known, people)
    out = clipper.cache_path(
        ctx.store.media.root, {"src": source, "a": round(start_s, 2), "b": round(end_s, 2), **key}
    )
    length = pass_seconds(source)
    shift = length * (start_s // length) if length and start_s >= length else 0.0
    people_for = (lambda t: seen.at(t + shift)) if shift else seen.at  # the file's time to the run's
    return Plan(camera, source, start_s - shift, end_s - shift, out, mask, people_for, start_s, False, fps)


def _at_wall(seen: Sightings, origin: float) -> clipper.PeopleFor:
    """People of a clip whose time zero is wall-clock ``origin``."""
    return lambda t: seen.at(origin + t)


def _not_ready(wait_s: float) -> ApiError:
    seconds = max(2, math.ceil(wait_s))
    return ApiError(409, f"clip not ready yet, retry in {seconds} s", headers={"retry-after": str(seconds)})


def _camera_recorded(ctx, camera: str) -> bool:
    """Whether the config records ``camera`` now (so missing video may still come)."""
    from scenewatch.recording.recorder import is_recorded

    config = next((c for c in ctx.settings.cameras if c.name == camera), None)
    return config is not None and is_recorded(config, ctx.settings.recording)


def _still_coming(ctx, camera: str, end: float, now: float) -> bool:
    """Whether video up to wall-clock ``end`` of ``camera`` may still be recorded or cut."""
    from scenewatch.recording.recorder import stale_after_s

    return now < end + stale_after_s(ctx.settings.recording) and _camera_recorded(ctx, camera)


def _recorded_clip(ctx, unmasked: bool, camera: str, start: float, end: float, known: bool) -> Plan:
    """A clip of a live camera from its recordings; people boxes by wall-clock time.

    A window whose end is not recorded yet (the segment holding it is still open) is refused as
    not ready rather than cut short: what is cut and rendered here is cached."""
    row = queries.camera_row(ctx.store.engine, camera)
    if row is None:
        raise ApiError(404, "camera not found")
    raw, origin = _cut_recorded(ctx, camera, row["id"], start, end)
    people = partial(queries.camera_sightings, ctx.store.engine, camera, origin, end + 1)
    mask, seen, key = _masking(ctx, unmasked, camera, known, people)
    out = clipper.cache_path(ctx.store.media.root, {"raw": raw, "o": origin, **key})
    source = ctx.store.media.absolute(raw)
    return Plan(camera, source, 0.0, end - origin + 1, out, mask, _at_wall(seen, origin), origin, True)


def _cut_recorded(ctx, camera: str, camera_id: int, start: float, end: float) -> tuple[str, float]:
    """The recordings of wall-clock [start, end] cut into the cache: (media path, wall-clock time
    of its first frame). A cut starts at the keyframe at or before ``start``, up to a keyframe
    interval early: people are placed from that time, which is kept beside the cut."""
    from scenewatch.recording.clips import ClipError, cut_recorded
    from scenewatch.recording.index import segments_between

    raw = f"cache/raw/{camera_id}-{int(start * 10)}-{int(end * 10)}.mp4"
    note = ctx.store.media.absolute(raw + ".start")
    try:
        if ctx.store.media.absolute(raw).exists():
            return raw, float(note.read_text())
    except (OSError, ValueError):
        pass  # no note: cut again
    segments = segments_between(ctx.store.engine, camera_id, start, end)
    now = time.time()
    if (not segments or max(s.end for s in segments) < end) and _still_coming(ctx, camera, end, now):
        raise _not_ready(end + ctx.settings.recording.segment_s - now)
    clipper.report("cutting")
    try:
        cut = cut_recorded(ctx.store, camera_id, start, end, raw)
    except ClipError as exc:
        raise ApiError(404, exc.message) from None
    note.write_text(repr(cut.start))
    return raw, cut.start


def _stored_clip(ctx, unmasked: bool, event: dict, clip: dict, known: bool) -> Plan:
    """A live event's own clip file (cut from the recordings when its post-roll was recorded),
    rendered like every clip; people boxes by wall-clock time from the clip's ``start_ts``.

    Not cut yet: refused as not ready (nothing is cached). A clip that never came (the analysing
    process stopped first) or whose file is gone is cut from the segments, if they are still there.
    """
    camera = event["camera"]
    start, end = float(clip["start_ts"]), float(clip["end_ts"])
    limit = ctx.options.clip_max_s
    try:
        media = ctx.store.media.absolute(str(clip["media"]))
    except ValueError:
        raise ApiError(404, "clip not found") from None
    if not clip.get("ready"):
        now = time.time()
        if _still_coming(ctx, camera, end, now):
            raise _not_ready(end + ctx.settings.recording.segment_s - now)
        return _recorded_clip(ctx, unmasked, camera, max(start, end - limit), end, known)
    try:
        stat = media.stat()
    except OSError:
        return _recorded_clip(ctx, unmasked, camera, max(start, end - limit), end, known)
    first = max(0.0, end - start - limit)  # a long clip: its end (what made the rule fire)
    people = partial(queries.camera_sightings, ctx.store.engine, camera, start + first, end + 1)
    mask, seen, key = _masking(ctx, unmasked, camera, known, people)
    out = clipper.cache_path(
        ctx.store.media.root,
        {"media": clip["media"], "m": stat.st_mtime_ns, "n": stat.st_size, "a": round(first, 2), **key},
    )
    people_for = _at_wall(seen, start)
    return Plan(camera, media, first, end - start + 1, out, mask, people_for, start + first, True)


def track_plan(ctx: ServerContext, unmasked: bool, track: dict, before: float, after: float) -> Plan:
    """The clip of a track (from ``before`` seconds before it starts to ``after`` after it ends,
    at most the server's clip length)."""
    run = queries.run_row(ctx.store.engine, track["run_id"]) or {}
    limit = ctx.options.clip_max_s
    known = queries.track_placed(ctx.store.engine, track["id"])
    if run.get("source") and Path(run["source"]).is_file():
        fps = _fps(ctx, track["camera"])
        start = max(0.0, track["first_frame"] / fps - before)
        window = (start, min(track["last_frame"] / fps + after, start + limit))
        return _file_clip(ctx, unmasked, track["camera"], track["run_id"], run["source"], window, known)
    start = track["first_ts"] - before
    end = min(track["last_ts"] + after, start + limit)
    return _recorded_clip(ctx, unmasked, track["camera"], start, end, known)


def event_plan(ctx: ServerContext, unmasked: bool, event: dict) -> Plan:
    """The event's clip: from its source file, or its own clip file (a live camera's event; not
    ready until it is cut), or else from the camera's recordings."""
    clip = event.get("clip") or {}
    limit = ctx.options.clip_max_s
    known = queries.tracks_placed(ctx.store.engine, event["run_id"], event["track_ids"])
    if clip.get("path") and Path(clip["path"]).is_file():
        start = float(clip["start_s"])
        window = (start, min(float(clip["end_s"]), start + limit))
        return _file_clip(ctx, unmasked, event["camera"], event["run_id"], clip["path"], window, known)
    if clip.get("media"):
        return _stored_clip(ctx, unmasked, event, clip, known)
    start = event["start_ts"] - 3
    end = min((event["end_ts"] or event["start_ts"]) + 3, start + limit)
    return _recorded_clip(ctx, unmasked, event["camera"], start, end, known)


def _respond(ctx, user: Principal, path: Path, target: str, download: bool) -> FileResponse:
    audit.append(
        ctx.store.engine,
        user.name,
        "export" if download else "clip_view",
        target,
        {"masked": not user.unmasked},
    )
    headers = {"cache-control": "private, no-store"}
    if download:
        headers["content-disposition"] = f'attachment; filename="{target.replace(":", "-")}.webm"'
    return FileResponse(path, media_type="video/webm", headers=headers)


def _check_download(user: Principal, download: bool) -> None:
    if download and not user.at_least("operator"):
        raise ApiError(403, "exporting clips needs the operator role")


class Part(StrEnum):
    video = "video"
    progress = "progress"
    boxes = "boxes"


PART = Query(
    Part.video,
    description="video: the clip (WebM); progress: how far its rendering is, starting it if need be "
    "(JSON); boxes: the boxes of the clip's own tracks over the clip's time (JSON).",
)


async def _answer(
    ctx,
    user: Principal,
    target: str,
    part: Part,
    download: bool,
    plan: Callable[[], Plan],
    tracks: list[int],
    variant: str = "",
):
    """The clip, its rendering's progress, or its tracks' boxes: one scope and one plan for all.
    Progress is kept per clip, ``variant`` (its window) and mask: another user with the same mask
    asking for the same clip shares it."""
    if part is Part.progress:
        job = f"{target}{variant}:{user.unmasked}"
        return JSONResponse(clip_jobs.follow(job, lambda: plan().render()))
    made = await run_in_threadpool(plan)
    if part is Part.boxes:
        return JSONResponse(await run_in_threadpool(clip_boxes.boxes, ctx, made, tracks))
    path = await run_in_threadpool(made.render)
    # the audit commit may wait on the database: never on the event loop
    return await run_in_threadpool(_respond, ctx, user, path, target, download)


@router.get("/track/{track_id}", response_class=FileResponse, responses={**VIDEO, **NOT_READY})
async def track_clip(
    track_id: Id,
    before: float = Query(2.0, ge=0, le=30, description="Seconds before the track starts."),
    after: float = Query(2.0, ge=0, le=30, description="Seconds after it ends."),
    download: bool = Query(False, description="As an attachment (an export; operators and admins)."),
    part: Part = PART,
    user: Principal = Depends(viewer),
    ctx: ServerContext = Depends(get_ctx),
):
    """The track's video from a little before it starts (at most the server's clip length)."""
    _check_download(user, download)
    track = visible_track(ctx, user, track_id)
    _stays_on_edge(ctx, "tracks", track_id)
    plan = partial(track_plan, ctx, user.unmasked, track, before, after)
    window = f":{before}:{after}"
    return await _answer(ctx, user, f"track:{track_id}", part, download, plan, [track_id], window)


@router.get("/event/{event_id}", response_class=FileResponse, responses={**VIDEO, **NOT_READY})
async def event_clip(
    event_id: Id,
    download: bool = Query(False, description="As an attachment (an export; operators and admins)."),
    part: Part = PART,
    user: Principal = Depends(viewer),
    ctx: ServerContext = Depends(get_ctx),
):
    """The event's clip: from its source file, or its own clip file (a live camera's event; 409
    with Retry-After until it is cut), or else from the camera's recordings."""
    _check_download(user, download)
    event = visible_event(ctx, user, event_id)
    _stays_on_edge(ctx, "events", event_id)
    plan = partial(event_plan, ctx, user.unmasked, event)
    return await _answer(ctx, user, f"event:{event_id}", part, download, plan, event["stored_track_ids"])

"""The review timeline: one camera's tracks, events and recorded footage over a day or a range, in
one request per view (counts per bucket, computed in SQL), and a clip of the footage from any
moment of it, masked and audited as every clip (``clip_view``, or ``export`` with ``download``)."""

from __future__ import annotations

# FastAPI declares dependencies and parameters in argument defaults:
import math
import time
from functools import partial
from typing import Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import FileResponse
from pydantic import BaseModel
from sqlalchemy import select

from scenewatch.api import queries, timeline
from scenewatch.api.context import ServerContext, get_ctx
from scenewatch.api.errors import ApiError, ErrorBody
from scenewatch.api.permissions import Principal, check_camera, viewer
from scenewatch.api.routes.clips import (
    NOT_READY,
    PART,
    VIDEO,
    Part,
    Plan,
    _answer,
    _check_download,
    _file_clip,
    _recorded_clip,
)
from scenewatch.api.routes.common import camera_named
from scenewatch.config import CameraConfig
from scenewatch.store.schema import search_zones

router = APIRouter(prefix="/api/review", tags=["review"], responses={404: {"model": ErrorBody}})
DAY_S = 86400.0
MAX_RANGE_S = 31 * DAY_S
MAX_BUCKETS = 2000
CURSOR = r"^[0-9][0-9.eE+-]{0,31}:[0-9]{1,18}$"  # "<start_ts>:<id>" of a page's last event


class Span(BaseModel):
    start: float
    end: float
    kind: str  # recording (a live camera's segments) or file (an indexed file on disk)


class Mark(BaseModel):
    id: int
    rule: str
    rule_type: str
    start_ts: float
    end_ts: float | None
    state: str
    snapshot_url: str | None
    clip_url: str


class ReviewOut(BaseModel):
    camera: str
    start: float
    end: float
    buckets: int
    bucket_s: float
    track_counts: dict[str, list[int]]  # class -> tracks in view per bucket
    event_counts: dict[str, list[int]]  # rule -> events starting per bucket
    # (bucket, track id) of a track entering the bucket, what hovering shows: its thumbnail is
    # /api/tracks/{id}/thumbnail.jpg (pairs: a day of 2,000 buckets stays small)
    samples: list[tuple[int, int]]
    spans: list[Span]
    events: list[Mark]  # the window's events in time order, a page at a time
    events_next: str | None  # pass as events_after for the next page
    classes: list[str]  # what the class filter takes
    zones: list[str]
    rules: list[str]


def _window(start: float | None, end: float | None, buckets: int) -> timeline.Window:
    end = time.time() if end is None else end
    start = end - DAY_S if start is None else start
    for name, value in (("start", start), ("end", end)):
        if not math.isfinite(value):
            raise ApiError(400, f"{name} must be a finite time (epoch seconds)", name)
    if start >= end:
        raise ApiError(400, "start must be before end", "start")
    if end - start > MAX_RANGE_S:
        raise ApiError(400, "the range is at most 31 days: pick a shorter one", "end")
    if not 1 <= buckets <= MAX_BUCKETS:
        raise ApiError(400, f"buckets must be between 1 and {MAX_BUCKETS}", "buckets")
    return timeline.Window(start, end, buckets)


def _zones(ctx: ServerContext, camera: str, camera_id: int | None) -> list[str]:
    """The camera's configured zones and those its stored tracks were seen in."""
    config = _configured(ctx, camera)
    names = {z.name for z in config.zones} if config is not None else set()
    if camera_id is not None:
        with ctx.store.engine.connect() as conn:
            names.update(
                conn.scalars(select(search_zones.c.name).where(search_zones.c.camera_id == camera_id))
            )
    return sorted(names)


def _rule_names(ctx: ServerContext, camera: str) -> list[str]:
    config = _configured(ctx, camera)
    return [r.name for r in config.rules] if config is not None else []


def _configured(ctx: ServerContext, camera: str) -> CameraConfig | None:
    return next((c for c in ctx.settings.cameras if c.name == camera), None)


def _after(text: str | None) -> tuple[float, int] | None:
    if text is None:
        return None
    ts, _, event_id = text.partition(":")
    try:
        cursor = float(ts), int(event_id)
    except ValueError:
        cursor = (math.inf, 0)
    if not math.isfinite(cursor[0]):
        raise ApiError(400, "events_after is a cursor '<start_ts>:<id>' from events_next", "events_after")
    return cursor


def _mark(row: dict[str, Any]) -> Mark:
    snapshot = f"/api/events/{row['id']}/snapshot.jpg" if row["has_snapshot"] else None
    fields = {k: row[k] for k in ("id", "rule", "rule_type", "start_ts", "end_ts", "state")}
    return Mark(**fields, snapshot_url=snapshot, clip_url=f"/api/clips/event/{row['id']}")


@router.get("/{camera}", response_model=ReviewOut)
def review(
    camera: str,
    start: float | None = Query(None, description="Window start (epoch seconds); default: a day before end."),
    end: float | None = Query(None, description="Window end (epoch seconds); default: now."),
    buckets: int = Query(288, description=f"Buckets the window is cut into (1-{MAX_BUCKETS})."),
    class_name: str | None = Query(None, alias="class", max_length=32, description="Tracks of this class."),
    zone: str | None = Query(None, max_length=64, description="Tracks seen in, and events of, this zone."),
    rule: str | None = Query(None, max_length=64, description="Events of this rule (name or type)."),
    events_limit: int = Query(200, ge=1, le=500, description="Events listed per page (1-500)."),
    events_after: str | None = Query(None, pattern=CURSOR, description="The events_next of the last page."),
    user: Principal = Depends(viewer),
    ctx: ServerContext = Depends(get_ctx),
):
    """Tracks in view per bucket by class, events per bucket by rule, the recorded footage and the
    window's events (a page of them): a whole day in one request, whatever the bucket count.
    A window is at most 31 days."""
    name = camera_named(ctx, user, camera)
    check_camera(user, ctx, name)
    window = _window(start, end, buckets)
    classes = list(ctx.settings.detector.classes)
    if class_name is not None and class_name not in classes:
        raise ApiError(400, f"unknown class {class_name!r}; this server tracks {', '.join(classes)}", "class")
    row = queries.camera_row(ctx.store.engine, name)
    camera_id = None if row is None else row["id"]
    zones = _zones(ctx, name, camera_id)
    if zone is not None and zone.lower() not in {z.lower() for z in zones}:
        raise ApiError(
            400, f"unknown zone {zone!r} on camera {name}; zones: {', '.join(zones) or 'none'}", "zone"
        )
    filters = timeline.Filters(class_name, zone, rule)
    found, page = timeline.Timeline(), []
    if camera_id is not None:  # a configured camera that never ran has nothing yet
        found = timeline.read(ctx.store.engine, camera_id, window, filters)
        page = timeline.events_page(
            ctx.store.engine, camera_id, window, filters, events_limit, _after(events_after)
        )
    more = len(page) > events_limit
    page = page[:events_limit]
    return ReviewOut(
        camera=name,
        start=window.start,
        end=window.end,
        buckets=window.buckets,
        bucket_s=window.width,
        track_counts=found.tracks,
        event_counts=found.events,
        samples=sorted(found.samples.items()),
        spans=[Span(**s) for s in found.spans],
        events=[_mark(r) for r in page],
        events_next=f"{page[-1]['start_ts']!r}:{page[-1]['id']}" if more else None,
        classes=classes,
        zones=zones,
        rules=sorted(set(_rule_names(ctx, name)) | set(found.events)),
    )


def _plan(ctx: ServerContext, unmasked: bool, camera: str, camera_id: int, at: float, seconds: float) -> Plan:
    """From the indexed file that covers ``at`` (its people placed by the run's boxes), else from
    the recordings (people by wall-clock time); a masked user's clip is masked as every clip."""
    with ctx.store.engine.connect() as conn:
        runs = timeline.file_runs(conn, camera_id, at - DAY_S, at + seconds)
    run = next((r for r in runs if r["origin"] - 1 <= at < r["origin"] + r["seconds"]), None)
    if run is None:
        return _recorded_clip(ctx, unmasked, camera, at, at + seconds, True)
    position = max(0.0, at - run["origin"])
    return _file_clip(ctx, unmasked, camera, run["id"], run["source"], (position, position + seconds), True)


@router.get("/{camera}/clip", response_class=FileResponse, responses={**VIDEO, **NOT_READY})
async def clip_at(
    camera: str,
    at: float = Query(description="Wall-clock time the clip starts (epoch seconds)."),
    seconds: float = Query(20.0, gt=0, description="Clip length, at most the server's clip length."),
    download: bool = Query(False, description="As an attachment (an export; operators and admins)."),
    part: Part = PART,
    user: Principal = Depends(viewer),
    ctx: ServerContext = Depends(get_ctx),
):
    """The camera's footage from ``at`` for ``seconds``: from the indexed file that covers it, else
    from the recordings (409 with Retry-After while the time is still being recorded)."""
    _check_download(user, download)
    name = camera_named(ctx, user, camera)
    check_camera(user, ctx, name)
    if not math.isfinite(at):
        raise ApiError(400, "at must be a finite time (epoch seconds)", "at")
    if seconds > ctx.options.clip_max_s:
        raise ApiError(
            400, f"seconds is at most {ctx.options.clip_max_s:g} (the server's clip length)", "seconds"
        )
    row = queries.camera_row(ctx.store.engine, name)
    if row is None:
        raise ApiError(404, f"no footage of camera {name} yet")
    plan = partial(_plan, ctx, user.unmasked, name, row["id"], at, seconds)
    return await _answer(ctx, user, f"review:{name}:{at:.1f}", part, download, plan, [], f":{seconds:g}")

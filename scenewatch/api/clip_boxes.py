"""The boxes of a clip's own tracks over the clip's time, for the player to draw over the video.

Times are seconds from the clip's first frame (``t``), boxes are in camera pixels of a frame
``width`` x ``height`` (the player scales them to the video it shows); boxes the tracker filled
in between detections are marked ``interpolated``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from scenewatch.api import queries
from scenewatch.store.schema import boxes as box_rows
from scenewatch.store.schema import tracks

if TYPE_CHECKING:
    from scenewatch.api.clipper import Plan
    from scenewatch.api.context import ServerContext

MAX_BOXES = 20_000  # per answer: a 60-s clip at 30 fps of a few tracks


def boxes(ctx: ServerContext, plan: Plan, track_ids: list[int]) -> dict:
    """``{"width", "height", "tracks": [{"track_id", "class", "boxes": [[t, x1, y1, x2, y2,
    interpolated], ...]}]}`` of ``track_ids`` (database ids) within the clip's span."""
    span = plan.end_s - plan.start_s
    if plan.wall:  # wall-clock seconds
        clock, lo, hi = box_rows.c.ts, plan.zero, plan.zero + span
    else:  # decoded frame index: seconds from the file's start times fps
        clock, lo, hi = box_rows.c.frame, plan.zero * plan.fps, (plan.zero + span) * plan.fps
    query = (
        select(tracks.c.id, tracks.c.class_name, tracks.c.camera_id, clock, box_rows.c.x1, box_rows.c.y1)
        .add_columns(box_rows.c.x2, box_rows.c.y2, box_rows.c.interpolated)
        .join(box_rows, box_rows.c.track_id == tracks.c.id)
        .where(tracks.c.id.in_([int(i) for i in track_ids]), clock.between(lo, hi))
        .order_by(tracks.c.id, clock)
        .limit(MAX_BOXES)
    )
    per_second = 1.0 if plan.wall else plan.fps
    found: dict[int, dict] = {}
    with ctx.store.engine.connect() as conn:
        for track_id, cls, _camera, at, x1, y1, x2, y2, filled in conn.execute(query):
            entry = found.setdefault(track_id, {"track_id": track_id, "class": cls, "boxes": []})
            t = round(at / per_second - plan.zero, 3)
            entry["boxes"].append([t, round(x1, 1), round(y1, 1), round(x2, 1), round(y2, 1), bool(filled)])
    size = _frame_size(ctx, plan)
    return {"width": size[0], "height": size[1], "tracks": list(found.values())}


def _frame_size(ctx: ServerContext, plan: Plan) -> tuple[int | None, int | None]:
    row = queries.camera_row(ctx.store.engine, plan.camera) or {}
    return row.get("width"), row.get("height")

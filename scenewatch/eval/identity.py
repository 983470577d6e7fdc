"""Event-to-track identity: does the stored track an event names show the object of the event?

An event records where its object was when the rule fired (``detail["box"]``, with
``detail["frame"]``, the decoded frame index). The event names the track as the API shows it
(database ids of stored tracks); the event names its track when that stored track, on the event's
camera, has a box within ``max_frames`` of that frame overlapping the event's box by ``min_iou``.

An event of several objects (a crowd) names everyone it counted, and a counted person need not be
on the frame that raised it (missed by the detector there, or gone from view less than a second
before): its detail records where each named track was last seen (``detail["seen"]``, a frame and
a box per track, in the order of the event's tracks). Each named track must then show its own
object there, the same way; the first is one on the firing frame whenever anyone is. Events
recorded before that detail was kept need, for each track they name, a stored box within
``max_frames`` of the event's frame.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sqlalchemy import Connection, select

from scenewatch.store.schema import boxes, tracks
from scenewatch.tracking.matching import iou_matrix


def names_its_track(
    conn: Connection,
    event: dict[str, Any],
    shown: list[int],
    max_frames: int = 3,
    min_iou: float = 0.5,
    fps: float = 25.0,
) -> bool:
    """Whether ``event`` (an events row with ``camera_id``, ``start_ts``, ``track_ids`` and
    ``detail``) names, as ``shown`` (the stored track ids it is shown with), the stored track its
    box shows; for an event of several objects, each named track its own object.

    Events recorded before the frame was kept in their detail are placed by their start time
    (``max_frames`` frames at ``fps``)."""
    if not shown:
        return False
    detail = event.get("detail") or {}
    seen = detail.get("seen")
    if seen is not None:
        if len(seen) != len(shown) or len(shown) != len(event.get("track_ids", shown)):
            return False  # a named track is not stored: the event cannot show it
        checks = list(zip(shown, seen, strict=True))
    elif detail.get("box") is not None:
        checks = [(shown[0], {"frame": detail.get("frame"), "box": detail["box"]})]
    else:
        checks = [(track_id, {"frame": detail.get("frame"), "box": None}) for track_id in shown]
    for track_id, where in checks:
        near = _boxes_near(conn, track_id, event, where["frame"], max_frames, fps)
        if near is None or len(near) == 0:
            return False
        box = where["box"]
        if box is not None and iou_matrix(near, np.array([box], np.float64)).max() < min_iou:
            return False
    return True


def _boxes_near(
    conn: Connection,
    track_id: int,
    event: dict[str, Any],
    frame: int | None,
    max_frames: int,
    fps: float,
) -> np.ndarray | None:
    camera = conn.scalar(select(tracks.c.camera_id).where(tracks.c.id == track_id))
    if camera is None or camera != event["camera_id"]:
        return None
    if frame is not None:
        near = (boxes.c.frame >= frame - max_frames) & (boxes.c.frame <= frame + max_frames)
    else:
        slack = max_frames / fps
        near = (boxes.c.ts >= event["start_ts"] - slack) & (boxes.c.ts <= event["start_ts"] + slack)
    rows = conn.execute(
        select(boxes.c.x1, boxes.c.y1, boxes.c.x2, boxes.c.y2).where(boxes.c.track_id == track_id, near)
    ).all()
    return np.array(rows, np.float64).reshape(-1, 4)

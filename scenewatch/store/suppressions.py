"""Operator suppressions per camera: "this tracked object is not a <class>".

A suppression is made from a stored track: its box is the track's median detected box, padded a
little so that the detector's jitter stays inside. The camera drops detections of that class
whose box matches it (``scenewatch/flow/suppress.py``).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np
from sqlalchemy import Engine, delete, insert, select

from scenewatch.errors import SceneWatchError
from scenewatch.store import repo
from scenewatch.store.schema import boxes, cameras, suppressions

PAD = 0.1  # of the box's width and height, on each side
PAD_MIN_PX = 2.0
REASON_MAX = 500


@dataclass(frozen=True)
class Suppression:
    id: int
    camera: str
    class_name: str
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 in camera pixels, padded
    created_by: str
    created_at: float
    reason: str | None
    track_id: int | None

    def as_dict(self) -> dict:
        return {**asdict(self), "box": list(self.box)}

    def audit_detail(self) -> dict:
        """What the audit record of adding or removing it holds."""
        return {
            "suppression": self.id,
            "class": self.class_name,
            "track": self.track_id,
            "box": list(self.box),
            "reason": self.reason,
        }


def median_box(engine: Engine, track_id: int) -> tuple[float, float, float, float] | None:
    """The median of the track's detected boxes (interpolated ones are guesses), else of all."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(boxes.c.x1, boxes.c.y1, boxes.c.x2, boxes.c.y2, boxes.c.interpolated).where(
                boxes.c.track_id == track_id
            )
        ).all()
    if not rows:
        return None
    seen = [r[:4] for r in rows if not r.interpolated] or [r[:4] for r in rows]
    x1, y1, x2, y2 = np.median(np.asarray(seen, dtype=np.float64), axis=0)
    return float(x1), float(y1), float(x2), float(y2)


def padded(box: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    x1, y1, x2, y2 = box
    px = max(PAD * (x2 - x1), PAD_MIN_PX)
    py = max(PAD * (y2 - y1), PAD_MIN_PX)
    return (round(x1 - px, 1), round(y1 - py, 1), round(x2 + px, 1), round(y2 + py, 1))


def add_from_track(
    engine: Engine, camera: str, track_id: int, created_by: str, reason: str | None = None
) -> Suppression:
    """Suppress what track ``track_id`` of ``camera`` is; a clear error when the track is not there."""
    if reason is not None and len(reason) > REASON_MAX:
        raise SceneWatchError(f"reason is {len(reason)} characters long", f"keep it under {REASON_MAX}")
    try:
        track = repo.get_track(engine, track_id, with_boxes=False)
    except repo.NotFound:
        track = None
    if track is None or track["camera"] != camera:
        raise SceneWatchError(
            f"no track {track_id} on camera {camera!r}",
            f"list the camera's tracks with `scenewatch tracks list --camera {camera}`",
        )
    box = median_box(engine, track_id)
    if box is None:
        raise SceneWatchError(f"track {track_id} has no boxes to take the area from")
    area = padded(box)
    now = time.time()
    values = dict(
        camera_id=repo.camera_id(engine, camera),
        class_name=track["class_name"],
        x1=area[0],
        y1=area[1],
        x2=area[2],
        y2=area[3],
        created_by=created_by,
        created_at=now,
        reason=reason or None,
        track_id=track_id,
    )
    with engine.begin() as conn:
        new_id = conn.execute(insert(suppressions).values(**values).returning(suppressions.c.id)).scalar_one()
    return Suppression(new_id, camera, track["class_name"], area, created_by, now, reason or None, track_id)


_COLUMNS = (
    suppressions.c.id,
    cameras.c.name,
    suppressions.c.class_name,
    suppressions.c.x1,
    suppressions.c.y1,
    suppressions.c.x2,
    suppressions.c.y2,
    suppressions.c.created_by,
    suppressions.c.created_at,
    suppressions.c.reason,
    suppressions.c.track_id,
)


def _row(row) -> Suppression:
    sid, cam, cls, x1, y1, x2, y2, by, at, reason, track = row
    return Suppression(sid, cam, cls, (x1, y1, x2, y2), by, at, reason, track)


def list_for(engine: Engine, camera: str | None = None) -> list[Suppression]:
    """The suppressions of ``camera`` (of every camera when None), oldest first."""
    query = select(*_COLUMNS).join(cameras, cameras.c.id == suppressions.c.camera_id)
    if camera is not None:
        query = query.where(cameras.c.name == camera)
    with engine.connect() as conn:
        return [_row(r) for r in conn.execute(query.order_by(suppressions.c.id))]


def get(engine: Engine, suppression_id: int) -> Suppression | None:
    query = (
        select(*_COLUMNS)
        .join(cameras, cameras.c.id == suppressions.c.camera_id)
        .where(suppressions.c.id == suppression_id)
    )
    with engine.connect() as conn:
        row = conn.execute(query).first()
    return None if row is None else _row(row)


def remove(engine: Engine, suppression_id: int) -> bool:
    """Delete one suppression (undo); False when there was none."""
    with engine.begin() as conn:
        return conn.execute(delete(suppressions).where(suppressions.c.id == suppression_id)).rowcount > 0

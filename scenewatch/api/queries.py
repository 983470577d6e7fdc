"""The few reads (and settings writes) the API needs that the store modules do not offer yet."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from sqlalchemy import Engine, and_, insert, select, update

from scenewatch.store.schema import boxes, cameras, events, health_events, runs, site_settings, tracks


def database_cameras(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.scalars(select(cameras.c.name).order_by(cameras.c.name)))


def camera_row(engine: Engine, name: str) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(select(cameras).where(cameras.c.name == name)).first()
    return None if row is None else dict(row._mapping)


def run_row(engine: Engine, run_id: int) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(select(runs).where(runs.c.id == run_id)).first()
    return None if row is None else dict(row._mapping)


def track_by_tracker(engine: Engine, run_id: int, tracker_id: int) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(
            select(tracks.c.id, tracks.c.class_name, tracks.c.camera_id)
            .where(tracks.c.run_id == run_id, tracks.c.tracker_id == tracker_id)
            .limit(1)
        ).first()
    return None if row is None else dict(row._mapping)


def people_at(engine: Engine, camera: str, ts: float, tolerance: float = 0.25) -> np.ndarray:
    """Boxes (N x 4, x1 y1 x2 y2) of people on ``camera`` within ``tolerance`` s of ``ts``."""
    query = (
        select(boxes.c.x1, boxes.c.y1, boxes.c.x2, boxes.c.y2)
        .join(tracks, tracks.c.id == boxes.c.track_id)
        .join(cameras, cameras.c.id == tracks.c.camera_id)
        .where(
            cameras.c.name == camera,
            tracks.c.class_name == "person",
            tracks.c.first_ts <= ts + tolerance,
            tracks.c.last_ts >= ts - tolerance,
            boxes.c.ts.between(ts - tolerance, ts + tolerance),
        )
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return np.array(rows, dtype=np.float32).reshape(-1, 4)


def people_by_frame(engine: Engine, run_id: int, first: int, last: int) -> dict[int, np.ndarray]:
    """Person boxes of one run per decoded frame index in [first, last]."""
    query = (
        select(boxes.c.frame, boxes.c.x1, boxes.c.y1, boxes.c.x2, boxes.c.y2)
        .join(tracks, tracks.c.id == boxes.c.track_id)
        .where(tracks.c.run_id == run_id, tracks.c.class_name == "person", boxes.c.frame.between(first, last))
    )
    out: dict[int, list] = {}
    with engine.connect() as conn:
        for frame, *box in conn.execute(query):
            out.setdefault(frame, []).append(box)
    return {k: np.array(v, dtype=np.float32) for k, v in out.items()}


def people_between(engine: Engine, camera: str, start: float, end: float) -> tuple[np.ndarray, np.ndarray]:
    """(times, boxes) of people on ``camera`` in wall-clock [start, end], sorted by time."""
    query = (
        select(boxes.c.ts, boxes.c.x1, boxes.c.y1, boxes.c.x2, boxes.c.y2)
        .join(tracks, tracks.c.id == boxes.c.track_id)
        .join(cameras, cameras.c.id == tracks.c.camera_id)
        .where(
            cameras.c.name == camera,
            tracks.c.class_name == "person",
            tracks.c.first_ts <= end,
            tracks.c.last_ts >= start,
            boxes.c.ts.between(start, end),
        )
        .order_by(boxes.c.ts)
    )
    with engine.connect() as conn:
        rows = np.array(conn.execute(query).all(), dtype=np.float64).reshape(-1, 5)
    return rows[:, 0], rows[:, 1:].astype(np.float32)


def health_history(
    engine: Engine, cameras_allowed: list[str], limit: int = 100, camera: str | None = None
) -> list[dict[str, Any]]:
    """Health fault episodes and records, newest first."""
    query = (
        select(health_events, cameras.c.name.label("camera"))
        .join(cameras, cameras.c.id == health_events.c.camera_id)
        .where(cameras.c.name.in_(cameras_allowed))
        .order_by(health_events.c.start_ts.desc(), health_events.c.id.desc())
        .limit(limit)
    )
    if camera is not None:
        query = query.where(cameras.c.name == camera)
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]


def health_event(engine: Engine, event_id: int) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(
            select(health_events, cameras.c.name.label("camera"))
            .join(cameras, cameras.c.id == health_events.c.camera_id)
            .where(health_events.c.id == event_id)
        ).first()
    return None if row is None else dict(row._mapping)


def event_changes(engine: Engine, after_id: int, changed_since: float, limit: int = 200) -> list[dict]:
    """Events newer than ``after_id`` or whose state changed after ``changed_since`` (for the feed)."""
    query = (
        select(events, cameras.c.name.label("camera"))
        .join(cameras, cameras.c.id == events.c.camera_id)
        .where((events.c.id > after_id) | (events.c.state_changed_at > changed_since))
        .order_by(events.c.id)
        .limit(limit)
    )
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]


def last_event_id(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.scalar(select(events.c.id).order_by(events.c.id.desc()).limit(1)) or 0


def get_setting(engine: Engine, key: str, default: Any) -> Any:
    with engine.connect() as conn:
        value = conn.scalar(select(site_settings.c.value).where(site_settings.c.key == key))
    return default if value is None else value


def set_setting(engine: Engine, key: str, value: Any, user: str) -> None:
    now = time.time()
    with engine.begin() as conn:
        done = conn.execute(
            update(site_settings)
            .where(site_settings.c.key == key)
            .values(value=value, updated_at=now, updated_by=user)
        )
        if done.rowcount == 0:
            conn.execute(insert(site_settings).values(key=key, value=value, updated_at=now, updated_by=user))


def old_tracks(engine: Engine, before: float, limit: int = 1000) -> list[tuple[int, list[str]]]:
    """Up to ``limit`` tracks that ended before ``before``: (id, media files: the thumbnail)."""
    with engine.connect() as conn:
        return [
            (r.id, [r.thumbnail] if r.thumbnail else [])
            for r in conn.execute(
                select(tracks.c.id, tracks.c.thumbnail).where(tracks.c.last_ts < before).limit(limit)
            )
        ]


def old_events(engine: Engine, before: float, limit: int = 1000) -> list[tuple[int, list[str]]]:
    """Up to ``limit`` closed events that started before ``before``: (id, media files: the snapshot
    and a live event's clip file). A file event's clip names its source footage: never listed."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(events.c.id, events.c.snapshot, events.c.clip)
            .where(and_(events.c.start_ts < before, events.c.end_ts.is_not(None)))
            .limit(limit)
        ).all()
    found = []
    for row in rows:
        media = [row.snapshot] if row.snapshot else []
        clip = row.clip if isinstance(row.clip, dict) else {}
        if isinstance(clip.get("media"), str) and clip["media"]:
            media.append(clip["media"])
        found.append((row.id, media))
    return found


def delete_rows(engine: Engine, table: str, ids: list[int]) -> None:
    """Delete tracks (their boxes and search terms cascade) or events by id."""
    from sqlalchemy import delete

    from scenewatch.store.schema import track_terms

    target = {"tracks": tracks, "events": events}[table]
    with engine.begin() as conn:
        if table == "tracks":  # SQLite enforces the cascade; say it anyway for other engines
            conn.execute(delete(boxes).where(boxes.c.track_id.in_(ids)))
            conn.execute(delete(track_terms).where(track_terms.c.track_id.in_(ids)))
        conn.execute(delete(target).where(target.c.id.in_(ids)))

"""The few reads (and settings writes) the API needs that the store modules do not offer yet."""

from __future__ import annotations

from typing import Any

import numpy as np
from sqlalchemy import Engine, Select, and_, func, select

from scenewatch.api.sightings import EXTEND_S, HOLD_S, Sightings
from scenewatch.store.schema import (
    boxes,
    cameras,
    edges,
    events,
    health_events,
    runs,
    tracks,
)

REACH_S = HOLD_S + EXTEND_S  # boxes this far outside a window still place people inside it


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


def people_at(engine: Engine, camera: str, ts: float, tolerance: float = 0.25) -> np.ndarray | None:
    """Boxes (N x 4, x1 y1 x2 y2) of people on ``camera`` within ``tolerance`` s of ``ts``, or
    None when a person track is in view at ``ts`` but its place then is not known."""
    seen = camera_sightings(engine, camera, ts - tolerance, ts + tolerance)
    known = seen.at(ts)
    if known is None:
        return None
    return np.concatenate([known, seen.boxes[np.abs(seen.times - ts) <= tolerance]])


def run_sightings(engine: Engine, run_id: int, fps: float, start_s: float, end_s: float) -> Sightings:
    """People of one run (a file's analysis) around [start_s, end_s], in seconds from the file's
    start (decoded frame index / ``fps``)."""
    lo, hi = (start_s - REACH_S) * fps, (end_s + REACH_S) * fps
    found = [
        tracks.c.run_id == run_id,
        tracks.c.class_name == "person",
        tracks.c.first_frame <= hi,
        tracks.c.last_frame >= lo,
    ]
    spans = select(tracks.c.id, tracks.c.first_frame, tracks.c.last_frame).where(*found)
    placed = (
        select(boxes.c.track_id, boxes.c.frame, boxes.c.x1, boxes.c.y1, boxes.c.x2, boxes.c.y2)
        .join(tracks, tracks.c.id == boxes.c.track_id)
        .where(*found, boxes.c.frame.between(lo, hi))
        .order_by(boxes.c.track_id, boxes.c.frame)
    )
    return _sightings(engine, spans, placed, per_second=fps)


def camera_sightings(engine: Engine, camera: str, start: float, end: float) -> Sightings:
    """People on ``camera`` around wall-clock [start, end] (wall-clock seconds)."""
    lo, hi = start - REACH_S, end + REACH_S
    found = [
        cameras.c.name == camera,
        tracks.c.class_name == "person",
        tracks.c.first_ts <= hi,
        tracks.c.last_ts >= lo,
    ]
    on_camera = tracks.join(cameras, cameras.c.id == tracks.c.camera_id)
    spans = select(tracks.c.id, tracks.c.first_ts, tracks.c.last_ts).select_from(on_camera).where(*found)
    placed = (
        select(boxes.c.track_id, boxes.c.ts, boxes.c.x1, boxes.c.y1, boxes.c.x2, boxes.c.y2)
        .select_from(on_camera.join(boxes, boxes.c.track_id == tracks.c.id))
        .where(*found, boxes.c.ts.between(lo, hi))
        .order_by(boxes.c.track_id, boxes.c.ts)
    )
    return _sightings(engine, spans, placed)


def _sightings(engine: Engine, spans: Select, placed: Select, per_second: float = 1.0) -> Sightings:
    """From (track id, first, last) rows and (track id, time, x1, y1, x2, y2) rows sorted by track
    id; times in units of which ``per_second`` make a second."""
    with engine.connect() as conn:
        span_rows = np.array(conn.execute(spans.order_by(tracks.c.id)).all(), np.float64).reshape(-1, 3)
        box_rows = np.array(conn.execute(placed).all(), np.float64).reshape(-1, 6)
    owner = np.searchsorted(span_rows[:, 0], box_rows[:, 0])
    return Sightings(span_rows[:, 1:] / per_second, owner, box_rows[:, 1] / per_second, box_rows[:, 2:])


def tracks_placed(engine: Engine, run_id: int | None, tracker_ids: list[int]) -> bool:
    """Whether every one of these tracks of a run still has its boxes (where the people were is
    known): False when a track is gone (retention) or never had boxes stored."""
    wanted = {int(i) for i in tracker_ids}
    if run_id is None or not wanted:
        return True
    query = (
        select(func.count(func.distinct(tracks.c.tracker_id)))
        .select_from(tracks.join(boxes, boxes.c.track_id == tracks.c.id))
        .where(tracks.c.run_id == run_id, tracks.c.tracker_id.in_(wanted))
    )
    with engine.connect() as conn:
        return (conn.scalar(query) or 0) == len(wanted)


def track_placed(engine: Engine, track_id: int) -> bool:
    """Whether the track has any boxes stored."""
    with engine.connect() as conn:
        return conn.scalar(select(boxes.c.id).where(boxes.c.track_id == track_id).limit(1)) is not None


def owning_edge(engine: Engine, table: str, row_id: int) -> str | None:
    """The name of the edge that shipped this track or event (or its run or camera) to a central;
    None for a row of this node's own analysis."""
    target = {"tracks": tracks, "events": events}[table]
    owner = func.coalesce(target.c.edge_id, runs.c.edge_id, cameras.c.edge_id)
    query = (
        select(owner, edges.c.name)
        .select_from(
            target.join(cameras, cameras.c.id == target.c.camera_id)
            .outerjoin(runs, runs.c.id == target.c.run_id)
            .outerjoin(edges, edges.c.id == owner)
        )
        .where(target.c.id == row_id)
    )
    with engine.connect() as conn:
        row = conn.execute(query).first()
    if row is None or row[0] is None:
        return None
    return row[1] or f"#{row[0]}"


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

"""Reads and small writes: cameras, runs, gaps, track listings and the MOT export.

Bulk per-frame writes live in ``writer.py``.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Iterator
from typing import Any

from sqlalchemy import Connection, Engine, and_, delete, func, insert, select, update

from scenewatch.errors import SceneWatchError
from scenewatch.store.schema import boxes, cameras, gaps, runs, site_settings, tracks


class NotFound(SceneWatchError):
    """A camera, track or run named by the user does not exist."""


def ensure_camera(
    engine: Engine,
    name: str,
    source: str,
    width: int | None = None,
    height: int | None = None,
    fps: float | None = None,
) -> int:
    """The id of camera ``name``, created on first use; its source and geometry kept current."""
    values = {"source": source, "width": width, "height": height, "fps": fps}
    with engine.begin() as conn:
        camera_id = conn.scalar(select(cameras.c.id).where(cameras.c.name == name))
        if camera_id is None:
            return conn.execute(
                insert(cameras).values(name=name, created_at=time.time(), **values).returning(cameras.c.id)
            ).scalar_one()
        conn.execute(update(cameras).where(cameras.c.id == camera_id).values(**values))
        return camera_id


def camera_id(engine: Engine, name: str) -> int:
    with engine.connect() as conn:
        found = conn.scalar(select(cameras.c.id).where(cameras.c.name == name))
        if found is None:
            known = ", ".join(conn.scalars(select(cameras.c.name).order_by(cameras.c.name))) or "none yet"
            raise NotFound(f"no camera named {name!r} in the database", f"known cameras: {known}")
        return found


def start_run(engine: Engine, camera: int, source: str, mode: str) -> int:
    with engine.begin() as conn:
        return conn.execute(
            insert(runs)
            .values(
                camera_id=camera,
                source=source,
                mode=mode,
                started_at=time.time(),
                status="running",
                frames_decoded=0,
                frames_detected=0,
            )
            .returning(runs.c.id)
        ).scalar_one()


def end_run(
    engine: Engine, run: int, status: str, frames_decoded: int, frames_detected: int, note: str | None = None
) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(runs)
            .where(runs.c.id == run)
            .values(
                status=status,
                ended_at=time.time(),
                frames_decoded=frames_decoded,
                frames_detected=frames_detected,
                note=note,
            )
        )


def delete_run(engine: Engine, run: int) -> None:
    """Remove a run and everything it wrote (a failed start leaves nothing behind)."""
    with engine.begin() as conn:
        track_ids = select(tracks.c.id).where(tracks.c.run_id == run)
        conn.execute(delete(boxes).where(boxes.c.track_id.in_(track_ids)))
        conn.execute(delete(tracks).where(tracks.c.run_id == run))
        conn.execute(delete(gaps).where(gaps.c.run_id == run))
        conn.execute(delete(runs).where(runs.c.id == run))


def mark_interrupted_runs(engine: Engine, camera: int) -> int:
    """Runs still 'running' for a camera we are about to start belong to a process that died."""
    with engine.begin() as conn:
        return conn.execute(
            update(runs)
            .where(and_(runs.c.camera_id == camera, runs.c.status == "running"))
            .values(status="interrupted")
        ).rowcount


def record_gap(
    engine: Engine, camera: int, run: int | None, start: float, end: float | None, reason: str
) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(gaps).values(camera_id=camera, run_id=run, start_ts=start, end_ts=end, reason=reason)
        )


def latest_run(engine: Engine, camera: int) -> int | None:
    with engine.connect() as conn:
        return conn.scalar(
            select(runs.c.id).where(runs.c.camera_id == camera).order_by(runs.c.id.desc()).limit(1)
        )


TRACK_COLUMNS = (
    tracks.c.id,
    cameras.c.name.label("camera"),
    tracks.c.run_id,
    tracks.c.class_name,
    tracks.c.first_ts,
    tracks.c.last_ts,
    tracks.c.first_frame,
    tracks.c.last_frame,
    tracks.c.detections,
    tracks.c.score,
    tracks.c.thumbnail,
    tracks.c.finished,
    tracks.c.attributes,
)


def list_tracks(
    engine: Engine,
    camera: str | None = None,
    class_name: str | None = None,
    since: float | None = None,
    until: float | None = None,
    limit: int = 100,
    offset: int = 0,
    *,
    camera_names: Collection[str] | None = None,
    after: tuple[float, int] | None = None,
) -> list[dict[str, Any]]:
    """Tracks in (first_ts, id) order: of ``camera`` (NotFound when unknown), of ``camera_names``
    (unknown names match nothing), else of every camera; ``after`` is a keyset cursor, the
    (first_ts, id) of the last row of the previous page.

    Each camera is read along its (camera_id, first_ts) index, keys only and at most
    ``limit + offset`` of them, so a page costs the same wherever it starts; the full rows are
    loaded for the page alone.
    """
    filters = []
    if class_name is not None:
        filters.append(tracks.c.class_name == class_name)
    if since is not None:
        filters.append(tracks.c.last_ts >= since)
    if until is not None:
        filters.append(tracks.c.first_ts <= until)
    if after is not None:
        ts, last_id = after
        filters += [tracks.c.first_ts >= ts, (tracks.c.first_ts > ts) | (tracks.c.id > last_id)]
    order = (tracks.c.first_ts, tracks.c.id)
    with engine.connect() as conn:
        keys: list[tuple[float, int]] = []
        for cam in _camera_ids(engine, conn, camera, camera_names):
            query = select(*order).where(tracks.c.camera_id == cam, *filters)
            keys += [tuple(k) for k in conn.execute(query.order_by(*order).limit(limit + offset))]
        page = [track_id for _, track_id in sorted(keys)[offset : offset + limit]]
        query = select(*TRACK_COLUMNS).join(cameras, cameras.c.id == tracks.c.camera_id)
        rows = [dict(row._mapping) for row in conn.execute(query.where(tracks.c.id.in_(page)))]
    return sorted(rows, key=lambda row: (row["first_ts"], row["id"]))


def _camera_ids(
    engine: Engine, conn: Connection, camera: str | None, names: Collection[str] | None
) -> list[int]:
    if camera is not None:
        return [camera_id(engine, camera)]
    query = select(cameras.c.id)
    if names is not None:
        query = query.where(cameras.c.name.in_(list(names)))
    return list(conn.scalars(query))


def get_track(engine: Engine, track_id: int, with_boxes: bool = True) -> dict[str, Any]:
    query = (
        select(*TRACK_COLUMNS, tracks.c.path)
        .join(cameras, cameras.c.id == tracks.c.camera_id)
        .where(tracks.c.id == track_id)
    )
    with engine.connect() as conn:
        row = conn.execute(query).first()
        if row is None:
            raise NotFound(f"no track with id {track_id}", "list tracks with `scenewatch tracks list`")
        track = dict(row._mapping)
        if with_boxes:
            track["boxes"] = [
                dict(b._mapping)
                for b in conn.execute(
                    select(
                        boxes.c.frame,
                        boxes.c.ts,
                        boxes.c.x1,
                        boxes.c.y1,
                        boxes.c.x2,
                        boxes.c.y2,
                        boxes.c.score,
                        boxes.c.interpolated,
                    )
                    .where(boxes.c.track_id == track_id)
                    .order_by(boxes.c.frame)
                )
            ]
        return track


def count_tracks(engine: Engine, camera: str | None = None) -> int:
    query = select(func.count()).select_from(tracks)
    if camera is not None:
        query = query.where(tracks.c.camera_id == camera_id(engine, camera))
    with engine.connect() as conn:
        return conn.scalar(query) or 0


def mot_rows(
    engine: Engine, camera: str, class_name: str | None = "person", run: int | None = None
) -> Iterator[tuple]:
    """MOTChallenge rows ``frame,id,left,top,width,height,score`` for one run of a camera.

    frame = decoded frame index + 1; the id is the track id used everywhere else.
    """
    cam = camera_id(engine, camera)
    run = run if run is not None else latest_run(engine, cam)
    query = (
        select(boxes.c.frame, boxes.c.track_id, boxes.c.x1, boxes.c.y1, boxes.c.x2, boxes.c.y2, boxes.c.score)
        .join(tracks, tracks.c.id == boxes.c.track_id)
        .where(tracks.c.run_id == run, tracks.c.camera_id == cam)
        .order_by(boxes.c.frame, boxes.c.track_id)
    )
    if class_name is not None:
        query = query.where(tracks.c.class_name == class_name)
    with engine.connect() as conn:
        for frame, track_id, x1, y1, x2, y2, score in conn.execute(query):
            yield frame + 1, track_id, x1, y1, x2 - x1, y2 - y1, score


def get_setting(engine: Engine, key: str, default: Any) -> Any:
    """A site setting's JSON value (``default`` when it was never set)."""
    with engine.connect() as conn:
        value = conn.scalar(select(site_settings.c.value).where(site_settings.c.key == key))
    return default if value is None else value


def set_setting(engine: Engine, key: str, value: Any, user: str) -> None:
    """Store a site setting's JSON value, recording who set it."""
    now = time.time()
    with engine.begin() as conn:
        done = conn.execute(
            update(site_settings)
            .where(site_settings.c.key == key)
            .values(value=value, updated_at=now, updated_by=user)
        )
        if done.rowcount == 0:
            conn.execute(insert(site_settings).values(key=key, value=value, updated_at=now, updated_by=user))

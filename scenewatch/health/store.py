"""Health in the database: fault episodes and records, and each camera's latest status.

The process watching cameras writes here; ``scenewatch health`` and the UI read from here, so
they see the fleet without being inside that process.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Engine, and_, insert, select, update

from scenewatch.health.events import CameraHealth, HealthEvent
from scenewatch.health.monitor import union_length
from scenewatch.store.media import MediaStore
from scenewatch.store.schema import camera_status, cameras, health_events, runs

# A status older than this belongs to a process that stopped watching the camera.
STALE_AFTER_S = 30.0


class HealthRecorder:
    """Stores the events a monitor returns; a raised fault's row is closed when it clears."""

    def __init__(self, engine: Engine, media: MediaStore, camera_ids: dict[str, int]):
        self.engine = engine
        self.media = media
        self.camera_ids = camera_ids
        self.open_rows: dict[tuple[str, str], int] = {}

    def record(self, events: list[HealthEvent]) -> None:
        for event in events:
            camera_id = self.camera_ids.get(event.camera)
            if camera_id is None:
                continue
            key = (event.camera, event.fault)
            with self.engine.begin() as conn:
                if event.state == "cleared" and key in self.open_rows:
                    conn.execute(
                        update(health_events)
                        .where(health_events.c.id == self.open_rows.pop(key))
                        .values(state="cleared", end_ts=event.end)
                    )
                    continue
                row_id = conn.execute(
                    insert(health_events)
                    .values(
                        camera_id=camera_id,
                        fault=event.fault,
                        state=event.state,
                        severity=event.severity,
                        start_ts=event.start,
                        end_ts=event.end,
                        detail=_jsonable(event.detail),
                    )
                    .returning(health_events.c.id)
                ).scalar_one()
                if event.snapshot is not None:
                    path = f"health/{event.camera}/{row_id}.jpg"
                    self.media.write_jpeg(path, event.snapshot)
                    conn.execute(
                        update(health_events).where(health_events.c.id == row_id).values(snapshot=path)
                    )
            if event.state == "raised":
                self.open_rows[key] = row_id

    def write_status(self, statuses: list[CameraHealth]) -> None:
        now = time.time()
        with self.engine.begin() as conn:
            for status in statuses:
                camera_id = self.camera_ids.get(status.camera)
                if camera_id is None:
                    continue
                values = {
                    "updated_at": now,
                    "online": status.online,
                    "severity": status.severity,
                    "status": _jsonable(status.to_dict()),
                }
                done = conn.execute(
                    update(camera_status).where(camera_status.c.camera_id == camera_id).values(**values)
                )
                if done.rowcount == 0:
                    conn.execute(insert(camera_status).values(camera_id=camera_id, **values))


def fleet_report(engine: Engine, window_s: float = 86400.0, now: float | None = None) -> dict[str, Any]:
    """Every camera's status and online rate over the last ``window_s``, and the site's rate.

    The online rate counts the time the camera was watched (live runs) minus its offline episodes.
    """
    now = now or time.time()
    start = now - window_s
    with engine.connect() as conn:
        names = dict(conn.execute(select(cameras.c.id, cameras.c.name)).all())
        statuses = {row.camera_id: row for row in conn.execute(select(camera_status))}
        watched: dict[int, list[tuple[float, float]]] = {}
        for row in conn.execute(
            select(runs.c.camera_id, runs.c.started_at, runs.c.ended_at).where(
                and_(runs.c.mode == "live", (runs.c.ended_at.is_(None)) | (runs.c.ended_at >= start))
            )
        ):
            end = row.ended_at if row.ended_at is not None else _last_alive(statuses.get(row.camera_id), now)
            watched.setdefault(row.camera_id, []).append((max(row.started_at, start), min(end, now)))
        offline: dict[int, list[tuple[float, float]]] = {}
        for row in conn.execute(
            select(health_events.c.camera_id, health_events.c.start_ts, health_events.c.end_ts).where(
                and_(
                    health_events.c.fault == "offline",
                    (health_events.c.end_ts.is_(None)) | (health_events.c.end_ts >= start),
                )
            )
        ):
            end = row.end_ts if row.end_ts is not None else now
            offline.setdefault(row.camera_id, []).append((max(row.start_ts, start), min(end, now)))
        open_faults = {}
        for row in conn.execute(
            select(health_events).where(
                and_(health_events.c.state == "raised", health_events.c.end_ts.is_(None))
            )
        ):
            open_faults.setdefault(row.camera_id, []).append(
                {
                    "fault": row.fault,
                    "severity": row.severity,
                    "since": row.start_ts,
                    "detail": row.detail,
                    "snapshot": row.snapshot,
                }
            )
    cameras_out = []
    total_watched = total_online = 0.0
    for camera_id, name in sorted(names.items(), key=lambda item: item[1]):
        spans = watched.get(camera_id, [])
        watched_s = union_length(spans, float("-inf"), float("inf"))
        down_s = union_length(
            [(max(a, lo), min(b, hi)) for a, b in offline.get(camera_id, []) for lo, hi in spans],
            float("-inf"),
            float("inf"),
        )
        rate = None if watched_s <= 0 else max(0.0, 1.0 - down_s / watched_s)
        total_watched += watched_s
        total_online += watched_s - down_s
        status = statuses.get(camera_id)
        stale = status is None or now - status.updated_at > STALE_AFTER_S
        cameras_out.append(
            {
                "camera": name,
                "watched": not stale,
                "online": bool(status.online) if status and not stale else None,
                "status": "not watched" if stale else status.severity,
                "updated_at": status.updated_at if status else None,
                "online_rate": rate,
                "faults": open_faults.get(camera_id, []) if not stale else [],
                "detail": status.status if status and not stale else None,
            }
        )
    return {
        "at": now,
        "window_s": window_s,
        "site_online_rate": total_online / total_watched if total_watched > 0 else None,
        "cameras": cameras_out,
    }


def _last_alive(status, now: float) -> float:
    """A run that never ended either still runs (fresh status) or died when its status stopped."""
    if status is None:
        return now
    return now if now - status.updated_at <= STALE_AFTER_S else status.updated_at


def _jsonable(value: Any) -> Any:
    """numpy scalars and tuples into plain JSON types."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item"):
        return value.item()
    return value

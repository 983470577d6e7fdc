"""Health in the database: fault episodes and records, and each camera's latest status.

The process watching cameras writes here; ``scenewatch health`` and the UI read from here, so
they see the fleet without being inside that process.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Engine, and_, insert, select, update

from scenewatch.health.events import FAULTS, CameraHealth, HealthEvent
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
                        .values(state="cleared", end_ts=event.end, detail=_jsonable(event.detail))
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

    def close_stale(self, camera_id: int, now: float) -> None:
        """Close the faults an earlier process left open for the camera (it died watching it):
        they end when that process last wrote the camera's status, else where they began."""
        with self.engine.begin() as conn:
            status = conn.execute(
                select(camera_status.c.updated_at).where(camera_status.c.camera_id == camera_id)
            ).scalar()
            open_rows = conn.execute(
                select(health_events.c.id, health_events.c.start_ts, health_events.c.detail).where(
                    _open_fault(), health_events.c.camera_id == camera_id
                )
            ).all()
            for row in open_rows:
                end = min(now, max(row.start_ts, status or row.start_ts))
                detail = {**(row.detail or {}), "closed": "not watched"}
                conn.execute(
                    update(health_events)
                    .where(health_events.c.id == row.id)
                    .values(state="cleared", end_ts=end, detail=detail)
                )

    def write_status(self, statuses: list[CameraHealth], watched: bool = True) -> None:
        """Store each camera's status; ``watched=False`` says its run has ended (no longer watched)."""
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
                    "status": _jsonable({**status.to_dict(), "watched": watched}),
                }
                done = conn.execute(
                    update(camera_status).where(camera_status.c.camera_id == camera_id).values(**values)
                )
                if done.rowcount == 0:
                    conn.execute(insert(camera_status).values(camera_id=camera_id, **values))


def fleet_report(engine: Engine, window_s: float = 86400.0, now: float | None = None) -> dict[str, Any]:
    """Every camera's status and online rate over the last ``window_s``, and the site's rate.

    One truth for every view (CLI, API, UI): a watched camera's faults are its open fault
    episodes and its status is the worst of their severities; a camera no longer watched has no
    current faults. The online rate counts only the time the camera was watched (live runs)
    minus its offline episodes; an episode never closed ends with the run it began in.
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
            watched.setdefault(row.camera_id, []).append((row.started_at, min(end, now)))
        offline: dict[int, list[tuple[float, float | None]]] = {}
        for row in conn.execute(
            select(health_events.c.camera_id, health_events.c.start_ts, health_events.c.end_ts).where(
                and_(
                    health_events.c.fault == "offline",
                    health_events.c.state != "info",
                    (health_events.c.end_ts.is_(None)) | (health_events.c.end_ts >= start),
                )
            )
        ):
            offline.setdefault(row.camera_id, []).append((row.start_ts, row.end_ts))
        open_faults: dict[int, list[dict]] = {}
        for row in conn.execute(
            select(health_events).where(_open_fault()).order_by(health_events.c.start_ts)
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
    for camera_id, name in sorted(names.items(), key=lambda item: item[1]):
        spans = watched.get(camera_id, [])
        watched_s = union_length(spans, start, now)
        down = [(a, _episode_end(a, b, spans, now)) for a, b in offline.get(camera_id, [])]
        down_s = union_length([(max(a, lo), min(b, hi)) for a, b in down for lo, hi in spans], start, now)
        rate = None if watched_s <= 0 else max(0.0, 1.0 - down_s / watched_s)
        status = statuses.get(camera_id)
        detail = status.status if status is not None else None
        is_watched = (
            status is not None
            and now - status.updated_at <= STALE_AFTER_S
            and (detail or {}).get("watched", True)
        )
        faults = open_faults.get(camera_id, []) if is_watched else []
        for fault in faults:
            if fault["fault"] == "lagging":  # how far behind now, not when it was raised
                fault["lag_s"] = (detail or {}).get("lag_s")
        cameras_out.append(
            {
                "camera": name,
                "watched": is_watched,
                "online": (not any(f["fault"] == "offline" for f in faults)) if is_watched else None,
                "status": _worst(faults) if is_watched else "not watched",
                "updated_at": status.updated_at if status else None,
                "online_rate": rate,
                "watched_s": watched_s,
                "faults": faults,
                "lag_s": (detail or {}).get("lag_s") if is_watched else None,
                "capped": bool((detail or {}).get("capped")) if is_watched else False,
                "learning": bool((detail or {}).get("learning")) if is_watched else False,
                "detail": detail if is_watched else None,
            }
        )
    return {
        "at": now,
        "window_s": window_s,
        "site_online_rate": site_rate(cameras_out),
        "cameras": cameras_out,
    }


def site_rate(cameras_out: list[dict]) -> float | None:
    """Online rate of these cameras together: each camera's rate weighted by its watched time."""
    watched = sum(c["watched_s"] for c in cameras_out if c["online_rate"] is not None)
    online = sum(c["online_rate"] * c["watched_s"] for c in cameras_out if c["online_rate"] is not None)
    return online / watched if watched > 0 else None


def _open_fault():
    """Rows of fault episodes still open (informational records are never faults)."""
    return and_(
        health_events.c.state == "raised",
        health_events.c.end_ts.is_(None),
        health_events.c.fault.in_(FAULTS),
    )


def _episode_end(start: float, end: float | None, spans: list[tuple[float, float]], now: float) -> float:
    """An episode's end; one never closed ends with the watched span (run) it began in."""
    if end is not None:
        return end
    return next((b for a, b in spans if a <= start <= b), min(start, now))


def _worst(faults: list[dict]) -> str:
    levels = {f["severity"] for f in faults}
    return "critical" if "critical" in levels else "warning" if levels else "ok"


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

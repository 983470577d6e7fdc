"""The segment index in the database: add, find by time, list oldest first, remove."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, delete, func, insert, select

from scenewatch.store.schema import recording_segments as T


@dataclass(frozen=True, slots=True)
class Segment:
    id: int
    camera_id: int
    path: str  # relative to the media folder
    start: float  # wall-clock time of its first packet
    end: float  # wall-clock time its last packet ends
    bytes: int
    codec: str

    @property
    def duration(self) -> float:
        return self.end - self.start


def _segment(row) -> Segment:
    return Segment(row.id, row.camera_id, row.path, row.start_ts, row.end_ts, row.bytes, row.codec)


def add_segment(
    engine: Engine, camera_id: int, path: str, start: float, end: float, size: int, codec: str
) -> Segment:
    with engine.begin() as conn:
        new_id = conn.execute(
            insert(T)
            .values(camera_id=camera_id, path=path, start_ts=start, end_ts=end, bytes=size, codec=codec)
            .returning(T.c.id)
        ).scalar_one()
    return Segment(new_id, camera_id, path, start, end, size, codec)


def segments_between(engine: Engine, camera_id: int, start: float, end: float) -> list[Segment]:
    """Segments of a camera overlapping [start, end], in time order."""
    query = (
        select(T)
        .where(T.c.camera_id == camera_id, T.c.start_ts <= end, T.c.end_ts >= start)
        .order_by(T.c.start_ts)
    )
    with engine.connect() as conn:
        return [_segment(r) for r in conn.execute(query)]


def oldest_first(engine: Engine, limit: int = 500) -> list[Segment]:
    with engine.connect() as conn:
        return [_segment(r) for r in conn.execute(select(T).order_by(T.c.start_ts).limit(limit))]


def older_than(engine: Engine, before: float) -> list[Segment]:
    with engine.connect() as conn:
        return [
            _segment(r) for r in conn.execute(select(T).where(T.c.end_ts < before).order_by(T.c.start_ts))
        ]


def total_bytes(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(select(func.coalesce(func.sum(T.c.bytes), 0))) or 0)


def remove(engine: Engine, ids: list[int]) -> None:
    if ids:
        with engine.begin() as conn:
            conn.execute(delete(T).where(T.c.id.in_(ids)))

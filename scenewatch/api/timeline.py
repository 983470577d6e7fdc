"""The review timeline of one camera, read in a few GROUP BY statements whatever the bucket count.

A window [start, end) is cut into ``buckets`` equal buckets. Tracks count in every bucket they
are in view: each track adds +1 at the bucket it enters and -1 after the bucket it leaves, both
grouped in SQL, and a running sum over the buckets gives the counts (so a track of an hour is in
every bucket of that hour, and rows read stay about one per bucket). Events count in the bucket
they start in. Footage spans come from the recording segments (live cameras) and from the runs
over a file that is still on disk (indexed files: the file is the recording).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import ColumnElement, Connection, Engine, Integer, and_, case, cast, func, or_, select

from scenewatch.store.schema import cameras, events, recording_segments, runs, track_terms, tracks

MERGE_GAP_S = 2.0  # segments closer than this draw as one span (segment boundaries, a late keyframe)


@dataclass(frozen=True)
class Window:
    start: float
    end: float
    buckets: int

    @property
    def width(self) -> float:
        return (self.end - self.start) / self.buckets


@dataclass(frozen=True)
class Filters:
    class_name: str | None = None
    zone: str | None = None
    rule: str | None = None  # a rule name or a rule type; events only


@dataclass
class Timeline:
    tracks: dict[str, list[int]] = field(default_factory=dict)  # class -> tracks in view per bucket
    samples: dict[int, int] = field(default_factory=dict)  # bucket -> a track entering it (thumbnail)
    events: dict[str, list[int]] = field(default_factory=dict)  # rule -> events starting per bucket
    spans: list[dict[str, Any]] = field(default_factory=list)  # footage: start, end, kind


def _bucket(column: ColumnElement, window: Window, dialect: str) -> ColumnElement:
    """The bucket index of a time at or after ``window.start``; PostgreSQL rounds a cast, SQLite
    truncates it (the same floor here, the value being positive)."""
    offset = (column - window.start) / window.width
    return cast(func.floor(offset), Integer) if dialect == "postgresql" else cast(offset, Integer)


def read(engine: Engine, camera_id: int, window: Window, filters: Filters) -> Timeline:
    """Counts per bucket, sample tracks and footage spans of ``camera_id`` over ``window``."""
    out = Timeline()
    with engine.connect() as conn:
        _track_counts(conn, camera_id, window, filters, out)
        _event_counts(conn, camera_id, window, filters, out)
        out.spans = _segment_spans(conn, camera_id, window) + _file_spans(conn, camera_id, window)
    out.spans.sort(key=lambda s: s["start"])
    return out


def _track_filters(camera_id: int, window: Window, filters: Filters) -> list[ColumnElement]:
    found = [
        tracks.c.camera_id == camera_id,
        tracks.c.first_ts < window.end,
        tracks.c.last_ts >= window.start,
    ]
    if filters.class_name is not None:
        found.append(tracks.c.class_name == filters.class_name)
    if filters.zone is not None:
        # the search index holds a finished track's zones: one index range, no JSON read per track
        in_zone = select(track_terms.c.track_id).where(
            track_terms.c.term == f"zone:{filters.zone.lower()}",
            track_terms.c.camera_id == camera_id,
            track_terms.c.first_ts < window.end,
            track_terms.c.last_ts >= window.start,
        )
        found.append(tracks.c.id.in_(in_zone))
    return found


def _track_counts(conn: Connection, camera_id: int, window: Window, filters: Filters, out: Timeline) -> None:
    dialect = conn.dialect.name
    n = window.buckets
    enters = case((tracks.c.first_ts < window.start, 0), else_=_bucket(tracks.c.first_ts, window, dialect))
    leaves = case((tracks.c.last_ts >= window.end, n), else_=_bucket(tracks.c.last_ts, window, dialect) + 1)
    with_thumbnail = func.coalesce(func.max(case((tracks.c.thumbnail.is_not(None), tracks.c.id))), 0)
    query = (
        select(tracks.c.class_name, enters, leaves, func.count(), with_thumbnail)
        .where(*_track_filters(camera_id, window, filters))
        .group_by(tracks.c.class_name, enters, leaves)
    )
    rows = conn.execute(query).all()
    if not rows:
        return
    names, *columns = zip(*rows, strict=True)
    numbers = np.array(columns, np.int64).T
    enter = np.clip(numbers[:, 0], 0, n - 1)  # float rounding at the window's edges
    leave = np.clip(np.maximum(numbers[:, 1], enter + 1), 0, n)
    labels = np.array(names)
    for class_name in sorted(set(names)):
        mine = labels == class_name
        steps = np.zeros(n + 1, np.int64)
        np.add.at(steps, enter[mine], numbers[mine, 2])
        np.add.at(steps, leave[mine], -numbers[mine, 2])
        out.tracks[class_name] = np.cumsum(steps[:n]).tolist()
    sample = np.zeros(n, np.int64)
    np.maximum.at(sample, enter, numbers[:, 3])
    out.samples = {int(b): int(sample[b]) for b in np.flatnonzero(sample)}


def event_filters(camera_id: int, window: Window, filters: Filters) -> list[ColumnElement]:
    found = [
        events.c.camera_id == camera_id,
        events.c.start_ts >= window.start,
        events.c.start_ts < window.end,
    ]
    if filters.rule is not None:
        found.append(or_(events.c.rule == filters.rule, events.c.rule_type == filters.rule))
    if filters.zone is not None:
        found.append(func.lower(events.c.detail["zone"].as_string()) == filters.zone.lower())
    return found


def _event_counts(conn: Connection, camera_id: int, window: Window, filters: Filters, out: Timeline) -> None:
    at = _bucket(events.c.start_ts, window, conn.dialect.name)
    query = (
        select(events.c.rule, at, func.count())
        .where(*event_filters(camera_id, window, filters))
        .group_by(events.c.rule, at)
    )
    for rule, bucket, count in conn.execute(query):
        out.events.setdefault(rule, [0] * window.buckets)[min(max(int(bucket), 0), window.buckets - 1)] += (
            count
        )
    out.events = dict(sorted(out.events.items()))


def _segment_spans(conn: Connection, camera_id: int, window: Window) -> list[dict[str, Any]]:
    seg = recording_segments.c
    query = (
        select(seg.start_ts, seg.end_ts)
        .where(seg.camera_id == camera_id, seg.start_ts < window.end, seg.end_ts > window.start)
        .order_by(seg.start_ts)
    )
    merged: list[list[float]] = []
    for start, end in conn.execute(query):
        if merged and start <= merged[-1][1] + MERGE_GAP_S:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [_span(start, end, window, "recording") for start, end in merged]


def _file_spans(conn: Connection, camera_id: int, window: Window) -> list[dict[str, Any]]:
    """Runs over a file still on disk with tracks in the window: the file's wall-clock span."""
    return [
        _span(run["origin"], run["origin"] + run["seconds"], window, "file")
        for run in file_runs(conn, camera_id, window.start, window.end)
    ]


def file_runs(conn: Connection, camera_id: int, start: float, end: float) -> list[dict[str, Any]]:
    """Runs of this node's own analysis of a local file with tracks in [start, end): id, source,
    ``origin`` (the wall-clock time of the file's start) and ``seconds`` of it analysed.

    A track at decoded frame f and time t puts the file's start at t - f / fps, the same relation
    the track clips use; an edge's runs are left out (a central never opens a path an edge sent)."""
    fps = func.coalesce(cameras.c.fps, 25.0)
    origin = func.min(tracks.c.first_ts - tracks.c.first_frame / fps)
    query = (
        select(
            runs.c.id,
            runs.c.source,
            origin,
            func.max(tracks.c.last_ts),
            runs.c.frames_decoded,
            fps,
            runs.c.status,
        )
        .select_from(
            tracks.join(runs, runs.c.id == tracks.c.run_id).join(cameras, cameras.c.id == runs.c.camera_id)
        )
        .where(
            tracks.c.camera_id == camera_id,
            tracks.c.first_ts < end,
            tracks.c.last_ts >= start,
            runs.c.edge_id.is_(None),
            cameras.c.edge_id.is_(None),
        )
        .group_by(runs.c.id, runs.c.source, runs.c.frames_decoded, cameras.c.fps, runs.c.status)
        .order_by(runs.c.id)
    )
    found = []
    for run_id, source, first, last, decoded, rate, status in conn.execute(query):
        if "://" not in source and Path(source).is_file():
            # a running run writes its frame count when it ends: until then its last track tells
            seconds = last - first if status == "running" else (decoded or 0) / rate
            found.append({"id": run_id, "source": source, "origin": float(first), "seconds": float(seconds)})
    return found


def _span(start: float, end: float, window: Window, kind: str) -> dict[str, Any]:
    return {"start": max(start, window.start), "end": min(end, window.end), "kind": kind}


def events_page(
    engine: Engine,
    camera_id: int,
    window: Window,
    filters: Filters,
    limit: int,
    after: tuple[float, int] | None,
) -> list[dict[str, Any]]:
    """Events of the window in (start, id) order, after the keyset cursor ``after``; at most
    ``limit`` + 1 rows (the extra one tells that a next page exists)."""
    found = event_filters(camera_id, window, filters)
    if after is not None:
        ts, last_id = after
        found += [events.c.start_ts >= ts, or_(events.c.start_ts > ts, events.c.id > last_id)]
    query = (
        select(
            events.c.id,
            events.c.rule,
            events.c.rule_type,
            events.c.start_ts,
            events.c.end_ts,
            events.c.state,
            (events.c.snapshot.is_not(None)).label("has_snapshot"),
        )
        .where(and_(*found))
        .order_by(events.c.start_ts, events.c.id)
        .limit(limit + 1)
    )
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]


__all__ = ["Filters", "Timeline", "Window", "events_page", "file_runs", "read"]

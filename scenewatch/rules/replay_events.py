"""A replay's events as the engine would have stored them, put in the order the engine raised
them in (start, run, frame, row): the engine's own, and those of the tracks judged without it
(zone stays, ``replay_alone``; line crossings, ``replay_lines``). The judged ones come as arrays
(tens of thousands on a busy camera): their Python objects are made once, in one pass."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import NamedTuple

import numpy as np

from scenewatch.config.camera import CameraConfig
from scenewatch.rules.events import Event
from scenewatch.rules.replay_load import StoredTracks


@dataclass
class ReplayEvent:
    """An event the rule would have raised, with the stored tracks it names."""

    rule: str
    rule_type: str
    start: float
    end: float | None
    run_id: int
    track_ids: list[int]  # stored tracks' database ids
    thumbnails: list[str | None]  # media-relative, of those tracks (None: the track has none)
    detail: dict

    def as_dict(self) -> dict:
        return asdict(self)


class Fired(NamedTuple):
    """Events decided without the engine, parallel arrays (one an event): the stored track row,
    when the event began, when its object left (stays; crossings: when it crossed), the sighting
    it fired at (time, frame number, box as the engine's ``Detections`` hold it: float32)."""

    row: np.ndarray
    start: np.ndarray
    left: np.ndarray
    fired_at: np.ndarray
    frame: np.ndarray
    box: np.ndarray  # [E, 4]

    @classmethod
    def none(cls) -> Fired:
        empty = np.zeros(0)
        return cls(
            empty.astype(np.int64), empty, empty, empty, empty.astype(np.int64), np.zeros((0, 4), np.float32)
        )

    def take(self, keep: np.ndarray) -> Fired:
        return Fired(*(column[keep] for column in self))


@dataclass
class Ordered:
    """Events with the order the engine raised them in: [E] start, run, frame time, row."""

    start: np.ndarray
    run: np.ndarray
    fired_at: np.ndarray
    row: np.ndarray
    events: list[ReplayEvent]


def in_order(parts: list[Ordered]) -> list[ReplayEvent]:
    """The events of ``parts`` by start; at one start as the engine raised them: by run, then the
    frame, then the row fired (ties keep the parts' order, as a stable sort of them would)."""
    parts = [part for part in parts if part.events]
    if not parts:
        return []
    keys = [
        np.concatenate([getattr(part, name) for part in parts])
        for name in ("row", "fired_at", "run", "start")
    ]
    events = [event for part in parts for event in part.events]
    return [events[i] for i in np.lexsort(keys).tolist()]


def _boxes(box: np.ndarray) -> list[list[float]]:
    """The boxes as ``Rule.fire`` records them, ``round(float(v), 1)`` each: a float32 times ten is
    exact in float64, so NumPy's half-even rounding of it meets Python's on every value."""
    return np.round(box.astype(np.float32).astype(np.float64), 1).tolist()


def _judged(
    camera: CameraConfig,
    run_id: int,
    fired: Fired,
    stored: StoredTracks,
    end: np.ndarray,
    details: Iterable[dict],
) -> Ordered:
    """Events judged without the engine as the engine would have raised them, with their order."""
    config = camera.rules[0]
    rows = fired.row.tolist()
    db_ids = stored.db_ids[fired.row].tolist()
    thumbnails = stored.thumbnails
    events = [
        ReplayEvent(config.name, config.type, start, stop, run_id, [db_id], [thumbnails[row]], detail)
        for row, db_id, start, stop, detail in zip(
            rows, db_ids, fired.start.tolist(), end.tolist(), details, strict=True
        )
    ]
    run = np.full(len(rows), run_id, np.int64)
    return Ordered(fired.start, run, fired.fired_at, fired.row, events)


def stay_events(camera: CameraConfig, run_id: int, stays: Fired, stored: StoredTracks) -> Ordered:
    """The zone stays judged without the engine: each ends where its object left the zone."""
    zone = camera.rules[0].zone_name
    details = (
        {"zone": zone, "frame": frame, "box": box, "dwell_s": round(left - start, 2)}
        for frame, box, left, start in zip(
            stays.frame.tolist(), _boxes(stays.box), stays.left.tolist(), stays.start.tolist(), strict=True
        )
    )
    return _judged(camera, run_id, stays, stored, np.maximum(stays.left, stays.start), details)


def crossing_events(
    camera: CameraConfig,
    run_id: int,
    crossings: Fired,
    positive: np.ndarray,
    counts: np.ndarray,
    stored: StoredTracks,
) -> Ordered:
    """The line crossings judged without the engine: instant events, ``positive`` [E] in the
    line's positive direction, with the [E, 2] counts per direction when each fired."""
    line_name = camera.rules[0].line_name
    line = next(ln for ln in camera.lines if ln.name == line_name)
    names = (line.positive, line.negative)
    details = (
        {
            "line": line_name,
            "direction": names[0] if up else names[1],
            "counts": {names[0]: ups, names[1]: downs},
            "frame": frame,
            "box": box,
        }
        for up, (ups, downs), frame, box in zip(
            positive.tolist(), counts.tolist(), crossings.frame.tolist(), _boxes(crossings.box), strict=True
        )
    )
    return _judged(camera, run_id, crossings, stored, crossings.start, details)


def engine_events(
    events: Iterable[Event],
    fired: dict[str, tuple[float, int]],
    run_id: int,
    by_tracker: dict[tuple[int, int], int],
    thumbs: dict[int, str | None],
) -> Ordered:
    """The events as they would have been stored: one per key, its end merged in; each with the
    order the engine raised it in (start, run, frame, row)."""
    merged: dict[str, ReplayEvent] = {}
    for event in events:
        if event.key in merged:
            merged[event.key].end = event.end
            merged[event.key].detail = event.detail
            continue
        stored_ids = [by_tracker[(run_id, t)] for t in event.track_ids if (run_id, t) in by_tracker]
        merged[event.key] = ReplayEvent(
            rule=event.rule,
            rule_type=event.rule_type,
            start=event.start,
            end=event.end,
            run_id=run_id,
            track_ids=stored_ids,
            thumbnails=[thumbs.get(i) for i in stored_ids],
            detail=event.detail,
        )
    at = [fired[key] for key in merged]
    return Ordered(
        np.array([e.start for e in merged.values()], np.float64),
        np.full(len(merged), run_id, np.int64),
        np.array([t for t, _ in at], np.float64),
        np.array([r for _, r in at], np.int64),
        list(merged.values()),
    )

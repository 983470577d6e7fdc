"""A replay's events as the engine would have stored them, each with the order the engine raised
it in (start, run, frame, row): the engine's own, and those of the tracks judged without it
(zone stays, ``replay_alone``; line crossings, ``replay_lines``)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass

from scenewatch.config.camera import CameraConfig
from scenewatch.rules.events import Event
from scenewatch.rules.replay_alone import Raised
from scenewatch.rules.replay_lines import Crossed
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


def _judged(
    camera: CameraConfig,
    run_id: int,
    stored: StoredTracks,
    row: int,
    fired_at: float,
    span: tuple[float, float],
    detail: dict,
) -> tuple[tuple, ReplayEvent]:
    """One event judged without the engine as the engine would have raised it, with its order
    (start, run, frame, row)."""
    config = camera.rules[0]
    start, end = span
    event = ReplayEvent(
        rule=config.name,
        rule_type=config.type,
        start=start,
        end=end,
        run_id=run_id,
        track_ids=[int(stored.db_ids[row])],
        thumbnails=[stored.thumbnails[row]],
        detail=detail,
    )
    return (start, run_id, fired_at, row), event


def stay_events(
    camera: CameraConfig, run_id: int, raised: list[Raised], stored: StoredTracks
) -> list[tuple[tuple, ReplayEvent]]:
    """The zone stays judged without the engine, each with its order."""
    zone = camera.rules[0].zone_name
    return [
        _judged(
            camera,
            run_id,
            stored,
            stay.row,
            stay.fired_at,
            (stay.start, max(stay.left, stay.start)),
            {"zone": zone, "frame": stay.frame, "box": stay.box, "dwell_s": round(stay.left - stay.start, 2)},
        )
        for stay in raised
    ]


def crossing_events(
    camera: CameraConfig, run_id: int, raised: list[Crossed], stored: StoredTracks
) -> list[tuple[tuple, ReplayEvent]]:
    """The line crossings judged without the engine, each with its order."""
    line = camera.rules[0].line_name
    return [
        _judged(
            camera,
            run_id,
            stored,
            event.row,
            event.fired_at,
            (event.start, event.start),
            {
                "line": line,
                "direction": event.direction,
                "counts": event.counts,
                "frame": event.frame,
                "box": event.box,
            },
        )
        for event in raised
    ]


def engine_events(
    events: Iterable[Event],
    fired: dict[str, tuple[float, int]],
    run_id: int,
    by_tracker: dict[tuple[int, int], int],
    thumbs: dict[int, str | None],
) -> list[tuple[tuple, ReplayEvent]]:
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
    return [((e.start, run_id, *fired[key]), e) for key, e in merged.items()]

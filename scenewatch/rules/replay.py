"""Try a rule on the past: the camera's stored tracks fed, frame by frame, to the real rule engine.

``replay(engine, camera, rule, since)`` answers what ``rule`` would have raised over the stored
tracks since a time: the same :class:`~scenewatch.rules.engine.RuleEngine` the live camera runs,
one engine per stored run (tracker ids, identities and cooldowns belong to a run, as live), fed
the boxes the tracker reported live (the ``boxes`` table, interpolated ones left out) and each
track's end when the tracker would have given it up (``lost_timeout`` after its last sighting).

Speed over days of history comes from feeding only what can matter (``replay_select``): the
tracks whose stored ``path`` (bottom-centre samples) comes near the rule's zone or line, with the
tracks whose identities the engine could join to theirs, and of those only the frames around the
times they change sides of the zone's border or the line (``prefilter=False`` feeds everything).
A track stored without boxes is replayed from its path samples with a box of nominal size (the
path keeps no box size).

Differences from live, by design: no pixels (snapshots are the tracks' stored thumbnails; a
person-down rule judges the box alone, without the pose model), and the engine sees only frames
in which a stored track was seen (live it also counted frames with nothing tracked).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from itertools import chain
from pathlib import Path

import numpy as np
from sqlalchemy import Engine, and_, select

from scenewatch.config import AppConfig
from scenewatch.config.camera import CameraConfig
from scenewatch.config.rules import SearchRule
from scenewatch.config.tracker import TrackerConfig
from scenewatch.errors import SceneWatchError
from scenewatch.rules.engine import RuleEngine
from scenewatch.rules.events import Event
from scenewatch.rules.replay_select import STITCH_GAP_S, Paths, near_tracks, sightings_to_feed, stitch_closure
from scenewatch.store.schema import boxes, cameras, tracks
from scenewatch.tracking import FinishedTrack
from scenewatch.types import Detections, Frame
from scenewatch.vision.labels import class_id

SINCE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
UNIT_S = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
NOMINAL_HEIGHT = 0.2  # of the frame height: the box of a track stored without boxes
CHUNK = 500  # track ids per query of their boxes
PIXEL = np.zeros((1, 1, 3), np.uint8)  # the rules draw their snapshot on it; replays show thumbnails


class ReplayError(SceneWatchError):
    """Bad input to a replay; ``field`` names what to change (the API shows it next to it)."""

    def __init__(self, field_name: str, message: str, hint: str):
        super().__init__(f"{field_name}: {message}", hint)
        self.field = field_name
        self.reason = message


def parse_since(text: str, field_name: str = "since") -> float:
    """Seconds in ``'7d'``, ``'12h'``, ``'30m'``, ``'90s'`` or ``'2w'``.

    >>> parse_since("7d")
    604800.0
    """
    found = SINCE.match(text or "")
    if found is None or float(found.group(1)) <= 0:
        raise ReplayError(
            field_name,
            f"{text!r} is not a duration",
            "give a number and a unit: s, m, h, d or w, e.g. 7d or 12h",
        )
    return float(found.group(1)) * UNIT_S[found.group(2)]


def configured_camera(settings: AppConfig, name: str, field_name: str = "camera") -> CameraConfig:
    """The camera ``name`` of ``settings``; a clear error naming ``field_name`` otherwise."""
    camera = next((c for c in settings.cameras if c.name == name), None)
    if camera is None:
        known = ", ".join(c.name for c in settings.cameras) or "none"
        raise ReplayError(
            field_name,
            f"no camera {name!r} in the config; cameras: {known}",
            "name a configured camera (its rules live in the config)",
        )
    return camera


def find_rule(camera: CameraConfig, name: str) -> CameraConfig:
    """``camera`` with ``name`` as its only rule; a clear error for an unknown or untestable rule."""
    rule = next((r for r in camera.rules if r.name == name), None)
    if rule is None:
        known = ", ".join(r.name for r in camera.rules) or "none"
        raise ReplayError(
            "rule",
            f"camera {camera.name!r} has no rule {name!r}; its rules: {known}",
            "name one of its rules, or add the rule to the camera first",
        )
    if isinstance(rule, SearchRule):
        raise ReplayError(
            "rule",
            f"{name!r} is a standing search, which judges described tracks, not frames",
            f"run the search instead: scenewatch search {rule.query!r} --camera {camera.name}",
        )
    # Only the rule's own zone or line: the others cost every frame and change nothing it judges.
    zones = [z for z in camera.zones if z.name == rule.zone_name]
    lines = [ln for ln in camera.lines if ln.name == rule.line_name]
    return camera.model_copy(update={"rules": [rule], "zones": zones, "lines": lines})


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


@dataclass
class ReplayResult:
    """What a rule would have raised on a camera between ``start`` and ``until``."""

    camera: str
    rule: str
    start: float
    until: float
    tracks: int  # stored tracks in the window, of the rule's classes
    replayed: int  # of those, the ones near the rule's zone or line, with those sharing their identities
    frames: int
    seconds: float
    events: list[ReplayEvent] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {**asdict(self), "seconds": round(self.seconds, 3), "count": len(self.events)}


@dataclass
class _Tracks:
    """The stored tracks of the window, parallel arrays (one row a track)."""

    db_ids: np.ndarray
    run_ids: np.ndarray
    tracker_ids: np.ndarray
    class_ids: np.ndarray
    last_ts: np.ndarray
    paths: list[np.ndarray]  # [K, 3] time, x, y
    thumbnails: list[str | None]


def replay(
    engine: Engine,
    camera: CameraConfig,
    rule: str,
    start: float,
    until: float | None = None,
    tracker: TrackerConfig | None = None,
    prefilter: bool = True,
) -> ReplayResult:
    """Run ``rule`` of ``camera`` over its stored tracks seen between ``start`` and ``until``;
    ``prefilter=False`` feeds every stored sighting (the reference the chosen ones must match)."""
    clock = time.perf_counter()
    until = time.time() if until is None else until
    single = find_rule(camera, rule)
    config = single.rules[0]
    lost_timeout = (tracker or TrackerConfig()).lost_timeout
    with engine.connect() as conn:
        row = conn.execute(
            select(cameras.c.id, cameras.c.width, cameras.c.height).where(cameras.c.name == camera.name)
        ).first()
    if row is None:
        raise ReplayError(
            "camera",
            f"{camera.name!r} has no stored tracks",
            "let the camera run (or `scenewatch index` a file as it) before trying a rule on its past",
        )
    size = (int(row.width or 0), int(row.height or 0))
    stored = _load_tracks(engine, row.id, config.classes, start, until)
    if stored is None:
        raise ReplayError(
            "camera",
            f"{camera.name!r} has no stored tracks of {', '.join(config.classes)} from "
            f"{_clock(start)} to {_clock(until)} UTC",
            "try a longer --since, or let the camera run first",
        )
    result = ReplayResult(camera.name, rule, start, until, len(stored.db_ids), 0, 0, 0.0)
    if not size[0] or not size[1]:
        size = _size_from_paths(stored.paths)
    paths = Paths.of(stored.paths)
    chosen = (
        stitch_closure(paths, near_tracks(paths, single, size), max(STITCH_GAP_S, lost_timeout))
        if prefilter
        else np.ones(len(stored.db_ids), bool)
    )
    result.replayed = int(chosen.sum())
    samples = _samples(engine, stored, np.flatnonzero(chosen), size)
    samples["tracked"] = np.ones(len(samples["run"]), bool)
    if prefilter and len(samples["run"]):
        keep, samples["tracked"] = sightings_to_feed(
            single, samples["row"], samples["ts"], samples["xyxy"], samples["frame"]
        )
        samples = {k: v[keep] for k, v in samples.items()}
    thumbs = dict(zip(stored.db_ids.tolist(), stored.thumbnails, strict=True))
    by_tracker = {
        (int(r), int(t)): int(d)
        for r, t, d in zip(stored.run_ids, stored.tracker_ids, stored.db_ids, strict=True)
    }
    for run_id in np.unique(samples["run"]).tolist():
        mine = samples["run"] == run_id
        rows = np.flatnonzero(chosen & (stored.run_ids == run_id))
        events, frames = _replay_run(
            single, size, {k: v[mine] for k, v in samples.items()}, stored, rows, lost_timeout
        )
        result.frames += frames
        result.events.extend(_described(events, run_id, by_tracker, thumbs))
    result.events.sort(key=lambda e: e.start)
    result.seconds = time.perf_counter() - clock
    return result


def _load_tracks(
    engine: Engine, camera_id: int, names: list[str], start: float, until: float
) -> _Tracks | None:
    query = (
        select(
            tracks.c.id,
            tracks.c.run_id,
            tracks.c.tracker_id,
            tracks.c.class_name,
            tracks.c.last_ts,
            tracks.c.path,
            tracks.c.thumbnail,
        )
        .where(
            tracks.c.camera_id == camera_id,
            tracks.c.last_ts >= start,
            tracks.c.first_ts <= until,
            tracks.c.class_name.in_(names),
        )
        .order_by(tracks.c.id)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    if not rows:
        return None
    return _Tracks(
        db_ids=np.array([r.id for r in rows], np.int64),
        run_ids=np.array([r.run_id for r in rows], np.int64),
        tracker_ids=np.array([r.tracker_id for r in rows], np.int64),
        class_ids=np.array([class_id(r.class_name) for r in rows], np.int32),
        last_ts=np.array([r.last_ts for r in rows], np.float64),
        paths=[np.asarray(r.path, np.float64).reshape(-1, 3) for r in rows],
        thumbnails=[r.thumbnail for r in rows],
    )


def _size_from_paths(paths: list[np.ndarray]) -> tuple[int, int]:
    """A frame size that holds every path point (a camera row without its size)."""
    points = np.concatenate([p[:, 1:] for p in paths])
    return int(points[:, 0].max()) + 1, int(points[:, 1].max()) + 1


def _samples(
    engine: Engine, stored: _Tracks, rows: np.ndarray, size: tuple[int, int]
) -> dict[str, np.ndarray]:
    """Every sighting of the tracks at ``rows``: their live boxes, else their path samples."""
    parts: list[tuple[np.ndarray, ...]] = []
    with_boxes: set[int] = set()
    db_ids = stored.db_ids[rows].tolist()
    with engine.connect() as conn:
        for i in range(0, len(db_ids), CHUNK):
            query = select(
                boxes.c.track_id,
                boxes.c.frame,
                boxes.c.ts,
                boxes.c.x1,
                boxes.c.y1,
                boxes.c.x2,
                boxes.c.y2,
                boxes.c.score,
                boxes.c.id,
            ).where(and_(boxes.c.track_id.in_(db_ids[i : i + CHUNK]), boxes.c.interpolated.is_(False)))
            fetched = conn.execute(query).all()
            # flat, not row by row (numpy probes each row object for array interfaces)
            flat = np.fromiter(chain.from_iterable(fetched), np.float64, 9 * len(fetched))
            found = _reported(flat.reshape(-1, 9))
            if len(found):
                track_rows = np.searchsorted(stored.db_ids, found[:, 0].astype(np.int64))  # ids ascend
                with_boxes.update(track_rows.tolist())
                parts.append(
                    (track_rows, found[:, 1].astype(np.int64), found[:, 2], found[:, 3:7], found[:, 7])
                )
    height = NOMINAL_HEIGHT * size[1]
    for row in rows.tolist():
        if row in with_boxes:
            continue
        path = stored.paths[row]
        x, y = path[:, 1], path[:, 2]
        xyxy = np.stack([x - 0.2 * height, y - height, x + 0.2 * height, y], axis=1)
        parts.append(
            (np.full(len(path), row), np.full(len(path), -1, np.int64), path[:, 0], xyxy, np.ones(len(path)))
        )
    if not parts:
        return {"run": np.zeros(0, np.int64)}
    track_rows, frames, ts, xyxy, scores = (np.concatenate(p) for p in zip(*parts, strict=True))
    order = np.lexsort((ts, track_rows))  # each track's sightings together, in time order
    return {
        "row": track_rows[order],
        "run": stored.run_ids[track_rows[order]],
        "frame": frames[order],
        "ts": ts[order],
        "xyxy": xyxy[order],
        "score": scores[order],
    }


def _reported(found: np.ndarray) -> np.ndarray:
    """The rows of ``found`` (track, frame, ..., box id) the tracker reported live: the sightings
    before a track was confirmed are stored when it ends, after its live rows (higher ids), and
    the rules never saw them."""
    by_id = found[np.lexsort((found[:, 8], found[:, 0]))]
    tracks_, first = np.unique(by_id[:, 0], return_index=True)
    first_frame = by_id[first, 1]
    return by_id[by_id[:, 1] >= first_frame[np.searchsorted(tracks_, by_id[:, 0])]]


def _replay_run(
    camera: CameraConfig,
    size: tuple[int, int],
    samples: dict[str, np.ndarray],
    stored: _Tracks,
    rows: np.ndarray,
    lost_timeout: float,
) -> tuple[list[Event], int]:
    """One run's sightings through a fresh engine, in time order; returns its events and frames."""
    engine = RuleEngine(camera, size)
    order = np.lexsort((samples["row"], samples["ts"]))
    ts, row, shown = samples["ts"][order], samples["row"][order], samples["tracked"][order]
    xyxy, score, frame_no = samples["xyxy"][order], samples["score"][order], samples["frame"][order]
    ids, classes = stored.tracker_ids[row], stored.class_ids[row]
    bounds = np.flatnonzero(np.r_[True, ts[1:] != ts[:-1], True])
    # A track ends for the rules when the tracker gives it up: lost_timeout after its last sighting.
    rows = np.intersect1d(rows, row[shown])
    ending = rows[np.argsort(stored.last_ts[rows], kind="stable")]
    ends = stored.last_ts[ending] + lost_timeout
    next_end = 0
    events: list[Event] = []
    named: set[str] = set()
    for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
        now = float(ts[a])
        finished: list[FinishedTrack] = []
        while next_end < len(ending) and ends[next_end] < now:
            finished.append(_ended(stored, int(ending[next_end])))
            next_end += 1
        on = np.flatnonzero(shown[a:b]) + a  # the others' sightings only make the frame count
        tracked = Detections(xyxy[on], score[on], classes[on], ids[on])
        frame = Frame(PIXEL, camera.name, int(frame_no[a]), now, 0.0)
        for event in engine.observe(frame, tracked, finished):
            if event.key not in named:
                # as live: an event names the tracks on view (an identity carried on is an old id)
                event.track_ids = [engine.stitcher.holder.get(i, i) for i in event.track_ids]
                named.add(event.key)
            events.append(event)
    events.extend(engine.close())
    return events, len(bounds) - 1


def _ended(stored: _Tracks, row: int) -> FinishedTrack:
    """What the rules read of an ended track: its id and when it was last seen."""
    last = np.array([stored.last_ts[row]])
    empty = np.zeros(0)
    return FinishedTrack(int(stored.tracker_ids[row]), int(stored.class_ids[row]), last, empty, empty, empty)


def _described(
    events: Iterable[Event],
    run_id: int,
    by_tracker: dict[tuple[int, int], int],
    thumbs: dict[int, str | None],
) -> list[ReplayEvent]:
    """The events as they would have been stored: one per key, its end merged in."""
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
    return list(merged.values())


def describe(result: ReplayResult, media_file: Callable[[str], Path]) -> list[str]:
    """The result as lines for a terminal: the count, then one line per event."""
    lines = [
        f"rule {result.rule} on camera {result.camera}: {len(result.events)} event(s) would have been raised "
        f"from {_clock(result.start)} to {_clock(result.until)} UTC ({result.replayed} of {result.tracks} "
        f"tracks could matter; {result.frames} frames replayed in {result.seconds:.2f} s)"
    ]
    for event in result.events:
        length = f"{event.end - event.start:6.1f} s" if event.end is not None else "    open"
        thumbs = " ".join(str(media_file(t)) for t in event.thumbnails[:1] if t)
        tracks_ = ",".join(map(str, event.track_ids)) or "-"
        lines.append(f"  {_clock(event.start)}  {length}  tracks {tracks_}  {thumbs}")
    return lines


def _clock(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")

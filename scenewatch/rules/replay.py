"""Try a rule on the past: the camera's stored tracks fed, frame by frame, to the real rule engine.

``replay(engine, camera, rule, since)`` answers what ``rule`` would have raised over the stored
tracks since a time: the same :class:`~scenewatch.rules.engine.RuleEngine` the live camera runs,
one engine per stored run (tracker ids, identities and cooldowns belong to a run, as live), fed
the boxes the tracker reported live (packed per finished track, ``replay_load``) and each
track's end when the tracker would have given it up (``lost_timeout`` after its last sighting).

Zone stay rules (intrusion, loitering) are judged a whole track at a time where that gives the
engine's events (``replay_alone``: the identities the stitcher would give, ``replay_identity``;
each identity's stays, ``replay_solo``), line crossing and wrong way a whole run at a time
(``replay_lines``: each identity's side changes, then the checks that need order over the
crossings alone), crowd rules a whole run at a time (``replay_crowd``: the count at every frame
from the identities' zone states, then the engine's crowd rule at the frames where it can
matter); the others go through the engine, fed only what can matter (``replay_select``): tracks
whose stored ``path`` comes near the rule's zone or line, the tracks the stitcher could join to
theirs and those on view meanwhile (only their boxes are read: ``replay_closure``), and of those
the ones that change sides or pass an identity on, whole, with their frames (``prefilter=False``
feeds all).
A track stored without boxes is replayed from its path samples with a box of nominal size.

Differences from live, by design: no pixels (snapshots are the tracks' stored thumbnails; a
person-down rule judges the box alone, without the pose model), and the engine sees only frames
in which a stored track was seen (live it also counted frames with nothing tracked).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from sqlalchemy import Engine, select

from scenewatch.config import AppConfig
from scenewatch.config.camera import CameraConfig
from scenewatch.config.rules import SearchRule
from scenewatch.config.tracker import TrackerConfig
from scenewatch.errors import SceneWatchError
from scenewatch.rules.collector import collector_paused
from scenewatch.rules.engine import RuleEngine
from scenewatch.rules.events import Event
from scenewatch.rules.replay_alone import judge_alone
from scenewatch.rules.replay_closure import load_closure
from scenewatch.rules.replay_crowd import can_judge_crowd, judge_crowd
from scenewatch.rules.replay_events import (
    Ordered,
    ReplayEvent,
    crossing_events,
    engine_events,
    in_order,
    stay_events,
)
from scenewatch.rules.replay_lines import can_judge_line, judge_lines
from scenewatch.rules.replay_load import StoredTracks, load_sightings, load_tracks, size_from_paths
from scenewatch.rules.replay_select import STITCH_GAP_S, Paths, near_tracks, sightings_to_feed
from scenewatch.rules.replay_solo import can_judge
from scenewatch.store.schema import cameras
from scenewatch.tracking import FinishedTrack
from scenewatch.types import Detections, Frame

SINCE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
UNIT_S = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
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
class ReplayResult:
    """What a rule would have raised on a camera between ``start`` and ``until``."""

    camera: str
    rule: str
    start: float
    until: float
    tracks: int  # stored tracks in the window, of the rule's classes
    replayed: int  # of those, the ones read: near the zone or line, their identities', and on view
    frames: int
    seconds: float
    events: list[ReplayEvent] = field(default_factory=list)
    alone: int = 0  # of the replayed, the tracks judged without the engine (replay_solo)

    def as_dict(self) -> dict:
        return {**asdict(self), "seconds": round(self.seconds, 3), "count": len(self.events)}


def replay(
    engine: Engine,
    camera: CameraConfig,
    rule: str,
    start: float,
    until: float | None = None,
    tracker: TrackerConfig | None = None,
    prefilter: bool = True,
    packed: bool = True,
    alone: bool = True,
) -> ReplayResult:
    """Run ``rule`` of ``camera`` over its stored tracks seen between ``start`` and ``until``;
    ``prefilter=False`` feeds every stored sighting (the reference the chosen ones must match);
    ``packed=False`` reads the ``boxes`` table instead of the packed sightings (the old way);
    ``alone=False`` sends every chosen sighting through the engine (no whole-identity judging)."""
    clock = time.perf_counter()
    with collector_paused():
        result = _replay(engine, camera, rule, start, until, tracker, prefilter, packed, alone)
    result.seconds = time.perf_counter() - clock
    return result


def _replay(
    engine: Engine,
    camera: CameraConfig,
    rule: str,
    start: float,
    until: float | None,
    tracker: TrackerConfig | None,
    prefilter: bool,
    packed: bool,
    alone: bool,
) -> ReplayResult:
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
    stored = load_tracks(engine, row.id, config.classes, start, until)
    if stored is None:
        raise ReplayError(
            "camera",
            f"{camera.name!r} has no stored tracks of {', '.join(config.classes)} from "
            f"{_clock(start)} to {_clock(until)} UTC",
            "try a longer --since, or let the camera run first",
        )
    result = ReplayResult(camera.name, rule, start, until, len(stored.db_ids), 0, 0, 0.0)
    if not size[0] or not size[1]:
        size = size_from_paths(stored.points)
    paths = Paths.of(stored.points, stored.path_ends)
    if prefilter:
        # each run's last frame, as the engine fed every sighting would have seen it
        last = np.zeros(len(stored.db_ids), bool)
        for run in np.unique(stored.run_ids).tolist():
            mine = stored.run_ids == run
            last |= mine & (stored.last_ts == stored.last_ts[mine].max())
        chosen, samples, known = load_closure(
            paths,
            near_tracks(paths, single, size),
            max(STITCH_GAP_S, lost_timeout),
            lambda rows: load_sightings(engine, stored, rows, size, packed),
            last,
        )
    else:
        chosen = np.ones(len(stored.db_ids), bool)
        samples = load_sightings(engine, stored, np.flatnonzero(chosen), size, packed)
        known = np.array([[-np.inf, np.inf]])
    result.replayed = int(chosen.sum())
    samples["tracked"] = np.ones(len(samples["run"]), bool)
    described: list[Ordered] = []
    last_frames = _last_frames(samples, stored)
    if prefilter and alone and can_judge_line(single) and len(samples["run"]):
        judged, crossed = judge_lines(single, samples, stored, lost_timeout)
        result.alone = _tracks_in(samples["row"][judged])
        described = [crossing_events(single, run_id, *found, stored) for run_id, found in crossed.items()]
        samples = {k: v[~judged] for k, v in samples.items()}  # whole runs: the engine needs none of them
    thumbs = dict(zip(stored.db_ids.tolist(), stored.thumbnails, strict=True))
    by_tracker = {
        (r, t): d
        for r, t, d in zip(
            stored.run_ids.tolist(), stored.tracker_ids.tolist(), stored.db_ids.tolist(), strict=True
        )
    }
    if prefilter and can_judge_crowd(single) and len(samples["run"]):
        if alone:
            ends = {run: at for run, (at, _) in last_frames.items()}
            judged, counted = judge_crowd(single, samples, stored, lost_timeout, size, known, ends)
            result.alone = _tracks_in(samples["row"][judged])
            described = [
                engine_events(*found, run_id, by_tracker, thumbs) for run_id, found in counted.items()
            ]
            samples = {k: v[~judged] for k, v in samples.items()}  # whole runs, as for lines
        # The engine counts a crowd at every frame, and when one ends may hang on frames of far
        # tracks: the runs it judges get every sighting, as unfiltered.
        rest = np.flatnonzero(np.isin(stored.run_ids, np.unique(samples["run"])) & ~chosen)
        if len(rest):
            more = load_sightings(engine, stored, rest, size, packed)
            more["tracked"] = np.ones(len(more["run"]), bool)
            samples = {k: np.concatenate([v, more[k]]) for k, v in samples.items()}
            order = np.argsort(samples["row"], kind="stable")  # each track's sightings in time order
            samples = {k: v[order] for k, v in samples.items()}
            chosen[rest] = True
            result.replayed = int(chosen.sum())
            last_frames = _last_frames(samples, stored)
    if prefilter and len(samples["run"]):
        judged = np.zeros(len(samples["run"]), bool)
        links = None
        if alone and can_judge(single):
            ends = {run: at for run, (at, _) in last_frames.items()}
            judged, raised, links = judge_alone(single, samples, stored, lost_timeout, ends)
            result.alone = _tracks_in(samples["row"][judged])
            described = [stay_events(single, run_id, found, stored) for run_id, found in raised.items()]
        keep, samples["tracked"] = sightings_to_feed(
            single, samples["row"], samples["ts"], samples["xyxy"], samples["frame"], judged, links
        )
        samples = {k: v[keep] for k, v in samples.items()}
    for run_id in np.unique(samples["run"]).tolist():
        mine = samples["run"] == run_id
        rows = np.flatnonzero(chosen & (stored.run_ids == run_id))
        events, fired, frames = _replay_run(
            single,
            size,
            {k: v[mine] for k, v in samples.items()},
            stored,
            rows,
            lost_timeout,
            last_frames[run_id],
        )
        result.frames += frames
        described.append(engine_events(events, fired, run_id, by_tracker, thumbs))
    result.events = in_order(described)
    return result


def _replay_run(
    camera: CameraConfig,
    size: tuple[int, int],
    samples: dict[str, np.ndarray],
    stored: StoredTracks,
    rows: np.ndarray,
    lost_timeout: float,
    last_frame: tuple[float, int],
) -> tuple[list[Event], dict[str, tuple[float, int]], int]:
    """One run's sightings through a fresh engine, in time order, up to the run's ``last_frame``
    (time, number; an empty frame then if nothing fed was seen in it: the tracks that ended
    before it end, as they did live); returns its events, where each fired (time, row), and the
    frames fed."""
    engine = RuleEngine(camera, size)
    order = np.lexsort((samples["row"], samples["ts"]))
    ts, row, shown = samples["ts"][order], samples["row"][order], samples["tracked"][order]
    xyxy, score, frame_no = samples["xyxy"][order], samples["score"][order], samples["frame"][order]
    if ts[-1] < last_frame[0]:
        ts, frame_no = np.r_[ts, last_frame[0]], np.r_[frame_no, last_frame[1]]
        row, shown = np.r_[row, -1], np.r_[shown, False]
        xyxy, score = np.r_[xyxy, np.zeros((1, 4))], np.r_[score, 0.0]
    ids, classes = stored.tracker_ids[row], stored.class_ids[row]
    bounds = np.flatnonzero(np.r_[True, ts[1:] != ts[:-1], True])
    # A track ends for the rules when the tracker gives it up: lost_timeout after its last sighting.
    rows = np.intersect1d(rows, row[shown])
    ending = rows[np.argsort(stored.last_ts[rows], kind="stable")]
    ends = stored.last_ts[ending] + lost_timeout
    next_end = 0
    events: list[Event] = []
    fired: dict[str, tuple[float, int]] = {}  # event key -> the frame's time and row it fired at
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
            if event.key not in fired:
                # as live: an event names the tracks on view (an identity carried on is an old id)
                event.track_ids = [engine.stitcher.holder.get(i, i) for i in event.track_ids]
                at = on[ids[on] == event.track_ids[0]] if event.track_ids else on[:0]
                fired[event.key] = (now, int(row[at[0]]) if len(at) else -1)
            events.append(event)
    events.extend(engine.close())
    return events, fired, len(bounds) - 1


def _tracks_in(rows: np.ndarray) -> int:
    """How many tracks these sightings (sorted by row) are of: counted without a sort."""
    return int(np.count_nonzero(rows[1:] != rows[:-1])) + 1 if len(rows) else 0


def _last_frames(samples: dict[str, np.ndarray], stored: StoredTracks) -> dict[int, tuple[float, int]]:
    """Each run's last frame with a sighting of any stored track of the window (the engine fed
    every sighting would have seen it): its time, and its number where a loaded sighting has it."""
    out = {}
    for run in np.unique(samples["run"]).tolist():
        at = float(stored.last_ts[stored.run_ids == run].max())
        there = (samples["run"] == run) & (samples["ts"] == at)
        rows = np.flatnonzero(there)
        out[run] = (at, int(samples["frame"][rows[np.argmin(samples["row"][rows])]]) if len(rows) else -1)
    return out


def _ended(stored: StoredTracks, row: int) -> FinishedTrack:
    """What the rules read of an ended track: its id and when it was last seen."""
    last = np.array([stored.last_ts[row]])
    empty = np.zeros(0)
    return FinishedTrack(int(stored.tracker_ids[row]), int(stored.class_ids[row]), last, empty, empty, empty)


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

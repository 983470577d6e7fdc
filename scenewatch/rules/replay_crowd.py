"""Crowd rules judged a whole run at a time: the count in the zone at every frame worked out with
NumPy, then the engine's own crowd rule stepped over the frames where it can matter.

The engine counts an identity (``replay_alone.run_identities``) at a frame while its zone state
after its latest sighting is inside (``replay_solo.membership``, as ``ZoneMembership`` settles
it), that sighting is at most ``CROWD_SEEN_S`` old and the identity has not ended. So each inside
sighting adds one to the count of the frames from its own up to its identity's next sighting,
``CROWD_SEEN_S`` later or the identity's end, whichever comes first: a histogram of intervals.
An identity whose border crossing the engine would date at a sighting itself (the vectorised
debounce cannot follow it) is settled by a ``ZoneMembership`` fed its sightings alone.

Then an engine's :class:`~scenewatch.rules.zone_rules.Crowd` takes its steps (``Crowd.step``,
``Rule.fire``, ``Rule.end``, ``Rule.close``) at the frames where the count reaches the rule's,
and while an event is open at the frames after them until it ends; at the frames between nothing
changes (the count below, no event open). An event names everyone counted, the ones on the
firing frame first, as ``Crowd.update`` does.

The frames known are those of the tracks read (``replay_closure``): every frame from a chosen
track's first sighting to ``gap_s`` after its last. An open event whose end falls outside them
(the frames of tracks far from the zone would then decide when it ends), or a tracker id used
twice, sends the run through the engine.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scenewatch.config.camera import CameraConfig
from scenewatch.config.geometry import ZoneConfig
from scenewatch.config.rules import CrowdRule
from scenewatch.geometry import bottom_centres
from scenewatch.rules.base import Context
from scenewatch.rules.engine import RuleEngine
from scenewatch.rules.events import Event
from scenewatch.rules.replay_alone import RunIdentities, identity_range, run_identities, runs_of
from scenewatch.rules.replay_load import StoredTracks
from scenewatch.rules.replay_select import by_key_then_time
from scenewatch.rules.replay_solo import membership
from scenewatch.rules.stitch import FRESH
from scenewatch.rules.zone_rules import CROWD_SEEN_S, Crowd
from scenewatch.rules.zones import ZoneMembership
from scenewatch.types import Detections, Frame
from scenewatch.vision.labels import class_id

PIXEL = np.zeros((1, 1, 3), np.uint8)  # the rule draws its snapshot on it; replays show thumbnails
# What an engine run gives: its events, and where each key fired (time, stored track row).
EngineRun = tuple[list[Event], dict[str, tuple[float, int]]]


def can_judge_crowd(camera: CameraConfig) -> bool:
    """Whether the rule of ``camera`` (its only one) is one ``judge_crowd`` decides."""
    return type(camera.rules[0]) is CrowdRule


def judge_crowd(
    camera: CameraConfig,
    samples: dict[str, np.ndarray],
    stored: StoredTracks,
    lost_timeout: float,
    size: tuple[int, int],
    known: np.ndarray,
    run_ends: dict[int, float],
) -> tuple[np.ndarray, dict[int, EngineRun]]:
    """[S] the sightings (of ``samples``, sorted by row then time) judged without the engine
    (whole runs), and per judged run its events as the engine gives them. ``known`` [K, 2]:
    sorted disjoint time spans in which every frame of the window was read; ``run_ends``: each
    run's last frame."""
    judged = np.zeros(len(samples["run"]), bool)
    out: dict[int, EngineRun] = {}
    for run_id, mine, run in runs_of(samples):
        found = _judge_run(camera, run, stored, lost_timeout, size, known, run_ends[run_id])
        if found is not None:
            judged[mine] = True
            out[run_id] = found
    return judged, out


def _judge_run(
    camera: CameraConfig,
    run: dict[str, np.ndarray],
    stored: StoredTracks,
    lost_timeout: float,
    size: tuple[int, int],
    known: np.ndarray,
    run_end: float,
) -> EngineRun | None:
    ids = run_identities(run, stored, lost_timeout)
    if ids.unfit.any():
        return None
    engine = RuleEngine(camera, size)
    rule = engine.rules[0]
    assert isinstance(rule, Crowd)
    counted = _Counted.of(camera, run, stored, ids, lost_timeout)
    frames, count = ids.frames, counted.count
    key, need, hold = rule.config.zone, rule.config.count, rule.config.time_s
    if not len(frames):
        return [], {}
    events: list[Event] = []
    fired: dict[str, tuple[float, int]] = {}
    above = np.flatnonzero(count >= need)
    following_above = np.r_[above[1:], len(frames)][: len(above)]  # none where nothing reaches it
    for f, following in zip(above.tolist(), following_above.tolist(), strict=True):
        now = float(frames[f])
        if rule.step(int(count[f]), now) == "fire" and key not in rule.active:
            event = rule.fire(*counted.firing(engine, rule, f, ids))
            if event is not None:
                fired[event.key] = (now, counted.first_row(f, event.track_ids[0]))
                events.append(event)
        if following == f + 1 or f + 1 == len(frames):
            continue
        # Below from the next frame to the following one at or over the count: the first frame
        # below starts the wait (or resets the count's start), and an open event ends the first
        # frame time_s after it, if that comes first; the frames between change nothing.
        below = [f + 1]
        if key in rule.active:
            wait = np.flatnonzero(frames[f + 1 : following] - frames[f + 1] >= hold)
            below += [f + 1 + int(wait[0])] if len(wait) else []
            until = (
                frames[below[-1]] if len(wait) else frames[following] if following < len(frames) else run_end
            )
            if not _within(known, now, float(until)):
                return None  # unread frames of far tracks would decide when it ends
        for g in dict.fromkeys(below):
            if rule.step(int(count[g]), float(frames[g])) == "end":
                assert rule.below_since is not None
                closed = rule.end(key, rule.below_since, {"peak": rule.peak})
                events.extend([closed] if closed is not None else [])
    if key in rule.active and not _within(known, float(frames[-1]), run_end):
        return None  # the open event may have ended at an unread frame
    events.extend(rule.close(run_end))
    return events, fired


def _within(known: np.ndarray, start: float, end: float) -> bool:
    """Whether the time span from ``start`` to ``end`` lies in one of the ``known`` spans."""
    at = int(np.searchsorted(known[:, 0], start, "right")) - 1
    return at >= 0 and known[at, 1] >= end


@dataclass
class _Counted:
    """A run's sightings by identity then time: each one's identity, box (float32, as the
    engine's), frame (index), the frame up to which it is counted (``hi``, exclusive; its own
    where it is outside), zone state, track (tracker id, stored row), class and score; the count
    at each frame, and each identity's place in the engine's table of them (``rank``)."""

    identity: np.ndarray
    box: np.ndarray
    frame: np.ndarray
    hi: np.ndarray
    inside: np.ndarray
    tracker: np.ndarray
    row: np.ndarray
    classes: np.ndarray
    scores: np.ndarray
    count: np.ndarray
    rank: np.ndarray

    @classmethod
    def of(
        cls,
        camera: CameraConfig,
        run: dict[str, np.ndarray],
        stored: StoredTracks,
        ids: RunIdentities,
        lost_timeout: float,
    ) -> _Counted:
        config = camera.rules[0]
        zone = next(z for z in camera.zones if z.name == config.zone_name)
        row, ts, xyxy, frames = run["row"], run["ts"], run["xyxy"], ids.frames
        order = by_key_then_time(ids.identity, ts)
        identity, at, box = ids.identity[order], ts[order], xyxy[order].astype(np.float32)
        classes = stored.class_ids[row[order]]
        # an identity never within the zone's bounds is never in it: its states without a look
        polygon = np.asarray(zone.polygon, np.float64)
        feet = bottom_centres(box)
        near = np.all((feet >= polygon.min(axis=0) - 1.0) & (feet <= polygon.max(axis=0) + 1.0), axis=1)
        look = np.flatnonzero(identity_range(identity, identity, near.astype(np.int8))[1] > 0)
        inside = np.zeros(len(identity), bool)
        frame = ids.at[order]
        state = membership(zone, identity[look], at[look], box[look], classes[look], frames, frame[look])
        inside[look] = state.inside
        for a, b in _stretches(state.unsure):
            mine = look[a:b]
            inside[mine] = _replayed(zone, identity[mine], at[mine], box[mine], classes[mine], frames)
        last = np.r_[identity[1:] != identity[:-1], True]
        # counted up to the identity's next sighting, CROWD_SEEN_S on, or its end (the engine
        # hears of it at the first frame lost_timeout after the last sighting of its track)
        ending = np.repeat(np.flatnonzero(last), np.diff(np.r_[0, np.flatnonzero(last) + 1]))
        ins = np.flatnonzero(inside)  # an outside sighting counts nowhere: searched for the others only
        gone = np.searchsorted(frames, stored.last_ts[row[order[ending[ins]]]] + lost_timeout, "right")
        stale = np.searchsorted(frames - CROWD_SEEN_S, at[ins], "right")
        following = np.where(last[ins], len(frames), frame[np.minimum(ins + 1, len(frame) - 1)])
        hi = frame.copy()
        hi[ins] = np.minimum(np.minimum(following, stale), gone)
        marks = np.bincount(frame, minlength=len(frames) + 1) - np.bincount(hi, minlength=len(frames) + 1)
        return cls(
            identity=identity,
            box=box,
            frame=frame,
            hi=hi,
            inside=inside,
            tracker=stored.tracker_ids[row[order]],
            row=row[order],
            classes=classes,
            scores=run["score"][order],
            count=np.cumsum(marks[:-1]),
            # the engine's identities are ordered so, fresh ones after every tracker id
            rank=np.where(identity < 0, FRESH - identity - 1, identity),
        )

    def firing(self, engine: RuleEngine, rule: Crowd, f: int, ids: RunIdentities) -> tuple:
        """``Rule.fire``'s arguments at frame ``f`` as ``Crowd.update`` passes them: the rows on
        the frame in the zone (by stored track), then the others counted (by identity), each named
        by the track holding its identity, and where each was last seen."""
        now = float(ids.frames[f])
        on = np.flatnonzero((self.frame == f) & self.inside)
        on = on[np.argsort(self.row[on], kind="stable")]
        rest = np.flatnonzero((self.frame <= f) & (self.hi > f))
        rest = rest[~np.isin(rest, on)]
        rest = rest[np.argsort(self.rank[rest], kind="stable")]
        named = np.r_[on, rest]
        seen = [
            {"frame": int(ids.frame_no[self.frame[s]]), "box": [round(float(v), 1) for v in self.box[s]]}
            for s in named.tolist()
        ]
        tracked = Detections(self.box[on], self.scores[on], self.classes[on], self.identity[on])
        frame = Frame(PIXEL, engine.camera.name, int(ids.frame_no[f]), now, 0.0)
        ctx = Context(frame, tracked, {}, {}, {}, {}, engine.scene)
        detail = {"zone": rule.config.zone, "count": int(self.count[f]), "seen": seen}
        return (
            ctx,
            rule.config.zone,
            rule.above_since,
            self.tracker[named].tolist(),
            np.arange(len(on)),
            detail,
        )

    def first_row(self, f: int, tracker_id: int) -> int:
        """The stored track row of ``tracker_id`` on frame ``f``, -1 where it is not on it."""
        there = np.flatnonzero((self.frame == f) & (self.tracker == tracker_id))
        return int(self.row[there[0]]) if len(there) else -1


def _stretches(unsure: np.ndarray) -> list[tuple[int, int]]:
    """The [lo, hi) stretches of consecutive marked sightings (one identity's each, or several
    identities' one after another: their states are worked out one identity at a time)."""
    edges = np.flatnonzero(np.diff(np.r_[0, unsure.astype(np.int8), 0]))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def _replayed(
    zone: ZoneConfig,
    identity: np.ndarray,
    ts: np.ndarray,
    box: np.ndarray,
    classes: np.ndarray,
    frames: np.ndarray,
) -> np.ndarray:
    """[K] the zone state after each of these sightings (by ``identity`` then time), from a
    ``ZoneMembership`` per identity fed its sightings at their frames, and the frames between
    (they count towards its debounce after a gap)."""
    out = np.zeros(len(ts), bool)
    starts = np.flatnonzero(np.r_[True, identity[1:] != identity[:-1]])
    class_ids = None if zone.classes is None else np.array([class_id(c) for c in zone.classes])
    for lo, hi in zip(starts.tolist(), np.r_[starts[1:], len(ts)].tolist(), strict=True):
        member = ZoneMembership(np.asarray(zone.polygon, np.float64), zone.inertia, class_ids)
        at = np.searchsorted(frames, ts[lo:hi]).tolist()
        mine = iter(range(lo, hi))
        k = next(mine)
        for f in range(at[0], at[-1] + 1):
            now = float(frames[f])
            if f != at[k - lo]:
                member.frames.add(now)  # a frame without the identity: trigger logs it alone
                continue
            seen = Detections(box[k : k + 1], np.ones(1), classes[k : k + 1], np.zeros(1))
            out[k] = member.trigger(seen, now)[0]
            k = next(mine, k)
    return out

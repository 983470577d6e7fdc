"""Zone stays judged a whole track at a time: what the engine decides for a track no other can touch.

An intrusion or loitering rule keys its events by the track's identity, and a zone's debounce
reads one identity's sightings and the frames between them; so once the identities are known
(``replay_identity``), the engine's decisions follow from each identity's sightings and the run's
frame times alone. ``judge_stays`` makes them for all identities at once with whole-array NumPy,
step for step as :class:`~scenewatch.rules.zones.ZoneMembership` and
:class:`~scenewatch.rules.zone_rules.StayRule` do frame by frame:

- the raw side (bottom-centre in the polygon) splits a track's sightings into runs; a run on the
  other side than the settled state flips it at the sighting where its steps reach ``inertia``
  (a step is one sighting, or after frames without the track the frames since it crossed the
  border), and its first sighting dates the change (where the straight path met the border);
- a stay raises at its first sighting past ``min_stay`` (inside the schedule, out of cooldown)
  and ends where the track leaves, or at its last sighting when the tracker gives it up.

The engine stays the reference: ``tests/test_rule_replay.py`` compares the two on random
histories, and every track this module cannot judge alone goes through the engine.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scenewatch.config.camera import CameraConfig
from scenewatch.config.geometry import ZoneConfig
from scenewatch.config.rules import IntrusionRule, LoiteringRule
from scenewatch.geometry import bottom_centres, points_in_polygon, segment_fraction_into_polygon
from scenewatch.rules.zones import FRAME_LOG
from scenewatch.vision.labels import class_id


@dataclass
class Stays:
    """The events stays raised, parallel arrays: where each fired (a sighting), when its stay
    began and when the track left (or was last seen in the zone)."""

    sighting: np.ndarray
    start: np.ndarray
    left: np.ndarray


def can_judge(camera: CameraConfig) -> bool:
    """Whether the rule of ``camera`` (its only one) is one ``judge_stays`` decides."""
    return isinstance(camera.rules[0], IntrusionRule | LoiteringRule)


def judge_stays(
    camera: CameraConfig,
    row: np.ndarray,
    ts: np.ndarray,
    xyxy: np.ndarray,
    classes: np.ndarray,
    last_ts: np.ndarray,
    frames: np.ndarray,
    at: np.ndarray | None = None,
) -> tuple[Stays, np.ndarray]:
    """The events of the zone rule of ``camera`` for the identities whose sightings these are
    (identity ``row``, time, box, class; sorted by identity then time), each ending at its
    ``last_ts`` (per sighting), among the run's sorted ``frames`` (times; ``at``: each sighting's
    frame where known; ``xyxy`` may be the float32 bottom-centres, as ``membership``). Returns the events and
    [S] which sightings belong to identities it could not judge alone (a border crossing dated at
    a sighting itself after a gap: the engine restarts its count there), to hand to the engine."""
    config = camera.rules[0]
    assert isinstance(config, IntrusionRule | LoiteringRule), "only stay rules are judged alone"
    zone = next(z for z in camera.zones if z.name == config.zone)
    n = len(row)
    if not n:
        return Stays(np.zeros(0, np.int64), np.zeros(0), np.zeros(0)), np.zeros(0, bool)
    state = membership(zone, row, ts, xyxy, classes, frames, at)
    first, track_start, run_start, crossed = state.first, state.track_start, state.run_start, state.crossed
    inside, toggle, index = state.inside, state.toggle, np.arange(n)
    was = np.r_[False, inside[:-1]] & ~first
    entering = toggle & inside & ~was
    leaving = toggle & ~inside & was
    # each stay: from its entry to its leaving sighting, or the track's end
    stay_of = np.maximum.accumulate(np.where(entering, index, -1))
    since = np.where(inside, crossed[run_start[np.maximum(stay_of, 0)]], np.nan)
    ends_at = np.full(n, np.nan)
    ends_at[leaving] = crossed[run_start[leaving]]
    last_one = np.r_[first[1:], True]
    ends_at[last_one & inside] = last_ts[last_one & inside]
    stay_end = np.where(leaving | (last_one & inside), stay_of, -1)
    min_stay = config.time_s if isinstance(config, LoiteringRule) else 0.0
    eligible = inside & (ts - since >= min_stay)
    events = _fire(config, ts, eligible & ~state.unsure, stay_of, stay_end, ends_at, since, track_start)
    return events, state.unsure


@dataclass
class Membership:
    """Sightings' zone state as :class:`~scenewatch.rules.zones.ZoneMembership` settles it, per
    sighting: whether it is an identity's first, where its identity's and its run of one raw side
    begin, when its run crossed the border, whether the debounce toggles at it and the state
    after it; ``unsure``: its identity has a border crossing dated at a sighting itself after a
    gap (the engine restarts its count there)."""

    first: np.ndarray
    track_start: np.ndarray
    run_start: np.ndarray
    crossed: np.ndarray
    toggle: np.ndarray
    inside: np.ndarray
    unsure: np.ndarray


def membership(
    zone: ZoneConfig,
    row: np.ndarray,
    ts: np.ndarray,
    xyxy: np.ndarray,
    classes: np.ndarray,
    frames: np.ndarray,
    at: np.ndarray | None = None,
) -> Membership:
    """The zone state of the sightings of identities (identity ``row``, time, box, class; sorted
    by identity then time) among the run's sorted ``frames`` (times; ``at``: each sighting's
    frame, where known). ``xyxy`` may be the boxes' float32 bottom-centres instead ([S, 2])."""
    polygon = np.asarray(zone.polygon, np.float64)
    n = len(row)
    # as Detections has them: bottom-centres of float32 boxes (given as such, [S, 2], or worked out)
    feet32 = xyxy if xyxy.shape[1] == 2 else bottom_centres(xyxy.astype(np.float32))
    feet = feet32.astype(np.float64)
    # outside the polygon's bounds is outside it: the ray test only for the points within them
    bounds = np.all((feet >= polygon.min(axis=0)) & (feet <= polygon.max(axis=0)), axis=1)
    raw = np.zeros(n, bool)
    raw[bounds] = points_in_polygon(feet[bounds], polygon)
    if zone.classes is not None:
        raw &= np.isin(classes, [class_id(c) for c in zone.classes])
    first = np.r_[True, row[1:] != row[:-1]]
    index = np.arange(n)
    track_start = np.maximum.accumulate(np.where(first, index, 0))
    # the frame before each sighting's: unseen in between is a gap
    at = np.searchsorted(frames, ts) if at is None else at
    previous_frame = np.where(at > 0, frames[np.maximum(at - 1, 0)], -np.inf)
    last = np.where(first, -np.inf, np.r_[-np.inf, ts[:-1]])
    gap = ~first & (last < previous_frame)
    # where the path from the last sighting met the border: read after a gap only
    where = np.full(n, 0.5)
    back = np.flatnonzero(gap)
    where[back] = segment_fraction_into_polygon(feet[back - 1], feet[back], polygon)
    seen = np.where(gap, last, ts)
    crossed = seen + where * (ts - seen)
    # runs of one raw side; a run's first sighting starts its count and dates it
    run_first = first | np.r_[True, raw[1:] != raw[:-1]]
    run_start = np.maximum.accumulate(np.where(run_first, index, 0))
    # a step is one sighting; after a gap, the frames since it crossed (or was last seen)
    steps = np.ones(n, np.int64)
    there = at[back] + 1
    kept = np.minimum(there, FRAME_LOG)  # frames in the engine's log, this one included
    since_t = np.where(run_first[back], crossed[back], seen[back])
    steps[back] = there - np.maximum(np.searchsorted(frames, since_t, "right"), there - kept)
    unsure = np.zeros(n, bool)
    unsure[track_start[run_first & (steps == 0)]] = True
    count = np.cumsum(steps)
    count -= (count - steps)[run_start]  # within the run
    reach = count >= zone.inertia
    toggle = reach & (run_first | ~np.r_[False, reach[:-1]])
    latest = np.maximum.accumulate(np.where(toggle, index, -1))
    inside = (latest >= track_start) & raw[np.maximum(latest, 0)]
    return Membership(first, track_start, run_start, crossed, toggle, inside, unsure[track_start])


def _fire(
    config: IntrusionRule | LoiteringRule,
    ts: np.ndarray,
    eligible: np.ndarray,
    stay_of: np.ndarray,
    stay_end: np.ndarray,
    ends_at: np.ndarray,
    since: np.ndarray,
    track_start: np.ndarray,
) -> Stays:
    """The rule's ``fire`` and ``end`` per key: a stay fires at its first eligible sighting; the
    cooldown (after an event, or a held-back attempt, of the same track) and the schedule are
    followed sighting by sighting for the tracks they can touch."""
    left = np.full(len(ts), np.nan)
    left[stay_end[stay_end >= 0]] = ends_at[stay_end >= 0]  # by the stay's entering sighting
    candidates = np.flatnonzero(eligible)
    first_of_stay = candidates[
        np.r_[True, stay_of[candidates[1:]] != stay_of[candidates[:-1]]][: len(candidates)]
    ]
    tracks, stays_in = np.unique(track_start[first_of_stay], return_counts=True)
    if config.schedule is not None:
        involved = tracks
    else:
        involved = tracks[stays_in > 1] if config.cooldown_s > 0 else tracks[:0]
    fired = first_of_stay[~np.isin(track_start[first_of_stay], involved)]
    turns = candidates[np.isin(track_start[candidates], involved)]
    split = np.flatnonzero(np.diff(track_start[turns])) + 1
    in_turn = [
        i
        for here in np.split(turns, split)
        if len(here)
        for i in _fire_in_turn(config, ts, here, stay_of, left)
    ]
    fired = np.sort(np.r_[fired, np.array(in_turn, np.int64)])
    return Stays(fired, since[fired], left[stay_of[fired]])


def _fire_in_turn(
    config: IntrusionRule | LoiteringRule, ts: np.ndarray, candidates: np.ndarray, stay_of, left
) -> list[int]:
    """One track's eligible sightings in time order as ``Rule.fire`` and ``Rule.end`` meet them:
    the ones that fire."""
    fired: list[int] = []
    last, open_stay = -np.inf, -1
    for i in candidates.tolist():
        stay, now = int(stay_of[i]), float(ts[i])
        if stay == open_stay:
            continue
        if open_stay >= 0:  # the open one ended before this stay began
            last = max(last, float(left[open_stay]))
            open_stay = -1
        if config.schedule is not None and not config.schedule.active(now):
            continue
        if now - last < config.cooldown_s:
            last = now
            continue
        last, open_stay = now, stay
        fired.append(i)
    return fired

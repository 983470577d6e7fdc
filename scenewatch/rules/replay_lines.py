"""Line rules judged a whole identity at a time: the crossings the engine's
:class:`~scenewatch.rules.lines.LineCounter` counts, found with whole-array NumPy, then the steps
that need order taken over those crossings alone, in the engine's order, with the engine's own
checks (``RecentCrossings`` for an id split, ``Rule.admit`` for schedule and cooldown).

Per identity (``replay_alone.run_identities``), step for step as ``LineCounter.trigger`` does
frame by frame:

- the raw side of the bottom-centre (sign of the cross product) splits its sightings off the
  line into runs; the first one settles the side; a run on the other side counts its steps (a
  sighting, or after frames without the identity the frames since it crossed, dated where the
  straight path from the last point on the settled side meets the line) and flips the side at
  the sighting where they reach ``inertia``; sightings on the line change nothing but when the
  identity was last seen;
- a flip is a crossing when the step from the last point on the settled side to the run's first
  point passes between the line's ends and is no longer than the box.

Then, in frame order (a frame's rows by stored track): the id-split check, the counts per
direction, and the rule: a line crossing fires for the reported directions; a wrong-way crossing
waits for its identity to get ``min_travel`` box heights past the line within ``window_s``
(found per crossing with NumPy), until the identity crosses again.

A run with an identity this cannot be sure of (``unfit`` tracks, or a run start with no frame to
count) goes through the engine whole: the counts and the id-split check join every identity of
a run. ``tests/test_rule_replay.py`` compares both ways on random histories.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from scenewatch.config.camera import CameraConfig
from scenewatch.config.rules import LineCrossingRule, WrongWayRule
from scenewatch.geometry import bottom_centres, segment_fraction_on_line, segments_intersect, side_of_line
from scenewatch.rules.line_rules import LineCrossing, WrongWay
from scenewatch.rules.lines import LineCounter
from scenewatch.rules.replay_alone import RunIdentities, identity_range, run_identities, runs_of
from scenewatch.rules.replay_events import Fired
from scenewatch.rules.replay_load import StoredTracks
from scenewatch.rules.zones import FRAME_LOG
from scenewatch.vision.labels import class_id


class Crossed(NamedTuple):
    """A run's events of a line rule: where each fired (``Fired``; ``left``: when it crossed),
    [E] whether in the line's positive direction, and [E, 2] the counts per direction then."""

    fired: Fired
    positive: np.ndarray
    counts: np.ndarray


@dataclass
class SideChanges:
    """The side flips of identities (parallel arrays, one a flip): the sighting it happened at,
    the last point on the settled side ``p``, the run's first point ``q``, when it crossed, and
    whether it passed between the line's ends within a box (before the id-split check)."""

    sighting: np.ndarray
    p: np.ndarray
    q: np.ndarray
    when: np.ndarray
    side: np.ndarray
    through: np.ndarray


def can_judge_line(camera: CameraConfig) -> bool:
    """Whether the rule of ``camera`` (its only one) is one ``judge_lines`` decides."""
    return isinstance(camera.rules[0], LineCrossingRule | WrongWayRule)


def judge_lines(
    camera: CameraConfig, samples: dict[str, np.ndarray], stored: StoredTracks, lost_timeout: float
) -> tuple[np.ndarray, dict[int, Crossed]]:
    """[S] the sightings (of ``samples``, sorted by row then time) judged without the engine
    (whole runs), and per judged run the events."""
    judged = np.zeros(len(samples["run"]), bool)
    raised: dict[int, Crossed] = {}
    for run_id, mine, run in runs_of(samples):
        found = _judge_run(camera, run, stored, lost_timeout)
        if found is not None:
            judged[mine] = True
            raised[run_id] = found
    return judged, raised


def side_changes(
    key: np.ndarray,
    ts: np.ndarray,
    xyxy: np.ndarray,
    frames: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    inertia: int,
) -> SideChanges | None:
    """The side flips of the identities whose sightings these are (identity ``key``, time, box;
    sorted by identity then time) among the run's sorted ``frames``; None where a run's start
    counts no frame (the engine would start it again at the next sighting)."""
    box = xyxy.astype(np.float32)  # as the engine's Detections hold them
    feet = bottom_centres(box).astype(np.float64)
    raw = np.sign(side_of_line(feet, a, b)).astype(np.int64)
    first = np.r_[True, key[1:] != key[:-1]]
    at = np.searchsorted(frames, ts)
    previous_frame = np.where(at > 0, frames[np.maximum(at - 1, 0)], -np.inf)
    before = np.r_[-np.inf, ts[:-1]]  # the identity's last sighting, on the line or not
    gap = ~first & (before < previous_frame)
    # the sightings off the line carry the debounce; the first of an identity's settles its side
    off = np.flatnonzero(raw != 0)
    k, s = key[off], raw[off]
    settles = np.r_[True, k[1:] != k[:-1]]
    run_first = settles | np.r_[True, s[1:] != s[:-1]]
    index = np.arange(len(off))
    run_start = np.maximum.accumulate(np.where(run_first, index, 0))
    # after frames without the identity: a run's start crossed where the straight path from the
    # last point on the settled side (the sighting before) met the line, and counts the frames
    # since then; any other sighting the frames since the identity's last sighting
    now = ts[off]
    crossed = now.copy()
    steps = np.ones(len(off), np.int64)
    late = np.flatnonzero(gap[off] & ~settles)
    starting = late[run_first[late]]
    where = segment_fraction_on_line(feet[off[starting - 1]], feet[off[starting]], a, b)
    seen = ts[off[starting - 1]]
    crossed[starting] = seen + np.where(np.isfinite(where), where, 0.5) * (now[starting] - seen)
    since = np.where(run_first[late], crossed[late], before[off[late]])
    there = at[off[late]]
    kept = np.minimum(there + 1, FRAME_LOG)  # frames in the engine's log, this one included
    steps[late] = (there + 1) - np.maximum(np.searchsorted(frames, since, "right"), there + 1 - kept)
    if np.any(run_first & ~settles & (steps == 0)):
        return None
    count = np.cumsum(steps)
    count -= (count - steps)[run_start]  # within the run
    reach = count >= inertia
    toggle = settles | (reach & (run_first | ~np.r_[False, reach[:-1]]))
    latest = np.maximum.accumulate(np.where(toggle, index, -1))
    state = s[latest]
    flip = toggle & ~settles & (s != np.r_[0, state[:-1]])
    at_flip = np.flatnonzero(flip)
    start = run_start[at_flip]
    p, q = feet[off[start - 1]], feet[off[start]]
    size = np.max(box[off[at_flip], 2:] - box[off[at_flip], :2], axis=1)
    through = segments_intersect(p, q, a, b) & (np.linalg.norm(q - p, axis=1) <= size)
    return SideChanges(off[at_flip], p, q, crossed[start], s[at_flip], through)


def _judge_run(
    camera: CameraConfig, run: dict[str, np.ndarray], stored: StoredTracks, lost_timeout: float
) -> Crossed | None:
    config = camera.rules[0]
    if not isinstance(config, LineCrossingRule | WrongWayRule):
        return None  # only the line rules are judged here
    line = next(ln for ln in camera.lines if ln.name == config.line)
    known = run_identities(run, stored, lost_timeout)
    if known.unfit.any():
        return None
    row, ts, xyxy = run["row"], run["ts"], run["xyxy"]
    # the engine's own counter for the line: its ends, which side is positive, its id-split check
    counter = LineCounter(line.a, line.b, line.positive_side, line.inertia)
    a, b, recent = counter.a, counter.b, counter.recent
    use = _both_sides(row, known.identity, xyxy, a, b)
    if line.classes is not None:
        use &= np.isin(stored.class_ids[row], [class_id(c) for c in line.classes])
    order = np.flatnonzero(use)[np.lexsort((ts[use], known.identity[use]))]
    changes = side_changes(known.identity[order], ts[order], xyxy[order], known.frames, a, b, line.inertia)
    if changes is None:
        return None
    at = order[changes.sighting]
    # the engine's order: by frame, a frame's rows by stored track
    turn = np.lexsort((row[at], ts[at]))
    at = at[turn]
    box = xyxy.astype(np.float32)
    ids, when = known.identity[at].tolist(), changes.when[turn].tolist()
    points = recent.on_line(changes.p[turn], changes.q[turn]).tolist()
    widths = np.maximum(box[at, 2] - box[at, 0], 1.0).astype(np.float64).tolist()
    sides = changes.side[turn].tolist()
    through = changes.through[turn].copy()
    bounds = np.flatnonzero(np.r_[True, ts[at][1:] != ts[at][:-1], True]).tolist()
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):  # a frame's changes at a time
        through[lo:hi] &= recent.first_of(ids[lo:hi], when[lo:hi], points[lo:hi], widths[lo:hi], sides[lo:hi])
    direction = np.where(changes.side[turn] == counter.positive_sign, 1, -1)
    keep = np.flatnonzero(through)
    crossings = _Crossings(
        at[keep],
        changes.when[turn][keep],
        direction[keep],
        changes.side[turn][keep],
        (line.positive, line.negative),
    )
    if isinstance(config, WrongWayRule):
        return _wrong_way(config, crossings, known, run, a, b)
    return _line_crossing(config, crossings, known, run)


def _both_sides(
    row: np.ndarray, identity: np.ndarray, xyxy: np.ndarray, a: np.ndarray, b: np.ndarray
) -> np.ndarray:
    """[S] the sightings of identities seen on both sides of the line (sorted by track then
    time): an identity seen on one side only never flips."""
    box = xyxy.astype(np.float32)  # as the engine's Detections hold them
    feet = bottom_centres(box)
    lowest, highest = identity_range(row, identity, np.sign(side_of_line(feet, a, b)))
    return (lowest < 0) & (highest > 0)


@dataclass
class _Crossings:
    """A run's counted crossings in the engine's order: sighting, when, direction (+1 / -1)."""

    at: np.ndarray
    when: np.ndarray
    direction: np.ndarray
    side: np.ndarray  # the side crossed to: the sign of the cross product
    names: tuple[str, str]  # positive, negative

    def counts(self) -> tuple[np.ndarray, np.ndarray]:
        """[C] each direction's count with each crossing (the engine counts them as it meets them)."""
        return np.cumsum(self.direction > 0), np.cumsum(self.direction < 0)

    def name(self, k: int) -> str:
        return self.names[0] if self.direction[k] > 0 else self.names[1]


def _line_crossing(
    config: LineCrossingRule, crossings: _Crossings, known: RunIdentities, run: dict[str, np.ndarray]
) -> Crossed:
    """Each crossing in a reported direction fires when it is counted (schedule, cooldown)."""
    rule = LineCrossing(config)
    identity, now = known.identity[crossings.at].tolist(), run["ts"][crossings.at].tolist()
    fired = np.array(
        [
            k
            for k in range(len(now))
            if rule.reported(name := crossings.name(k)) and rule.admit((identity[k], name), now[k])
        ],
        np.int64,
    )
    return _events(run, known, crossings, fired, crossings.at[fired], fired)


def _wrong_way(
    config: WrongWayRule,
    crossings: _Crossings,
    known: RunIdentities,
    run: dict[str, np.ndarray],
    a: np.ndarray,
    b: np.ndarray,
) -> Crossed:
    """A crossing against the allowed direction waits, from its own frame on, for a sighting of
    its identity ``min_travel`` box heights past the line on the side it crossed to; it lapses
    after the first frame more than ``window_s`` after the crossing, and when the identity
    crosses again."""
    rule = WrongWay(config)
    ts, identity = run["ts"], known.identity
    order = np.lexsort((ts, identity))  # each identity's sightings in time order
    place = np.empty(len(order), np.int64)
    place[order] = np.arange(len(order))
    box = run["xyxy"][order].astype(np.float32)  # as the engine's Detections hold them
    feet = bottom_centres(box)
    signed = side_of_line(feet, a, b)
    length = float(np.hypot(*(b - a)))
    need = config.min_travel * (box[:, 3] - box[:, 1]).astype(np.float64)
    # the first sighting from each on that is far enough past the line, per side crossed to
    n = len(order)
    far = {
        side: np.minimum.accumulate(np.where(signed * side / length >= need, np.arange(n), n)[::-1])[::-1]
        for side in (-1, 1)
    }
    # each crossing's identity's next crossing (or its end), in its sightings
    block_end = np.searchsorted(identity[order], identity[order], "right")
    at = place[crossings.at]
    by_identity = np.lexsort((at, identity[crossings.at]))
    following = np.full(len(at), -1)
    same = identity[crossings.at][by_identity][1:] == identity[crossings.at][by_identity][:-1]
    following[by_identity[:-1][same]] = at[by_identity[1:][same]]
    until = np.where(following >= 0, following, block_end[at])
    reported = np.array([rule.reported(crossings.name(k)) for k in range(len(at))], bool)
    waiting = np.flatnonzero(reported)
    first_far = np.where(crossings.side[waiting] > 0, far[1][at[waiting]], far[-1][at[waiting]])
    waiting, first_far = waiting[first_far < until[waiting]], first_far[first_far < until[waiting]]
    there = order[first_far]
    # lapsed at a frame before the one it got far enough in, more than window_s after the crossing
    previous = known.frames[np.maximum(np.searchsorted(known.frames, ts[there]) - 1, 0)]
    kept = (there == crossings.at[waiting]) | (previous - crossings.when[waiting] <= config.window_s)
    waiting, there = waiting[kept], there[kept]
    turn = np.lexsort((run["row"][there], ts[there]))  # the engine's order: by frame, then row
    waiting, there = waiting[turn], there[turn]
    counted = np.searchsorted(ts[crossings.at], ts[there], "right") - 1  # the frame's counts
    fired = np.array(
        [
            n
            for n, (k, i) in enumerate(zip(waiting.tolist(), there.tolist(), strict=True))
            if rule.admit((int(identity[i]), crossings.name(k)), float(ts[i]))
        ],
        np.int64,
    )
    return _events(run, known, crossings, waiting[fired], there[fired], counted[fired])


def _events(
    run: dict[str, np.ndarray],
    known: RunIdentities,
    crossings: _Crossings,
    crossing: np.ndarray,
    fired: np.ndarray,
    counted: np.ndarray,
) -> Crossed:
    """The events of the ``crossing``s that fired at sightings ``fired``, each with the counts
    after crossing ``counted``: as ``Rule.fire`` records them."""
    now = run["ts"][fired]
    frames = known.frame_no[np.searchsorted(known.frames, now)]
    positive, negative = (count[counted] for count in crossings.counts())
    when = crossings.when[crossing]
    return Crossed(
        Fired(run["row"][fired], when, when, now, frames, run["xyxy"][fired]),
        crossings.direction[crossing] > 0,
        np.stack([positive, negative], axis=1),
    )

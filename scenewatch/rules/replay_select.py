"""What a replay feeds the rule engine: the stored tracks and frames that can change what a rule
decides, chosen with whole-array NumPy tests; the engine itself judges them as it does live.

- tracks (``near_tracks``): a track whose path never comes within ``MARGIN`` of the rule's zone or
  line cannot enter, leave, cross or count there;
- identities (``replay_closure``): the engine's ``IdStitcher`` lets a track born while another is
  lost carry that one's identity on, wherever it was; so the tracks it could join with a chosen
  one (``CarryLinks``) are chosen too, in chains;
- frames (``sightings_to_feed``): intrusion and loitering change state only after a track's
  bottom-centre changed sides of the zone's border (or it was born inside), line rules of the
  line, or where a newcomer carries on a lost identity from the other side. The tracks that do,
  and those that may pass an identity to or from one, are fed whole, with every frame of their
  lives and from each loss to each birth that could carry it on: the stitcher judges a lost
  identity by all of it (its last sighting, recent motion and height), and a debounce counts
  frames. The others' sightings in those frames only make the frames count, as live.

Crowd rules count everyone in the zone at every frame and the motion rules judge windows of a
track's history: they get every sighting of the chosen tracks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from scenewatch.config.camera import CameraConfig
from scenewatch.config.rules import IntrusionRule, LineCrossingRule, LoiteringRule, WrongWayRule
from scenewatch.geometry import (
    bottom_centres,
    distance_to_segment,
    points_in_polygon,
    segments_intersect,
    side_of_line,
)

MARGIN = 0.1  # of the frame's larger side: how near a track's path must come to the zone or line
SLACK_S = 0.01  # path times are stored to the millisecond
STITCH_GAP_S = 3.0  # IdStitcher's max_gap_s: how long a lost identity may be carried on
STITCH_MOTION_S = 1.0  # IdStitcher's motion_s: the recent path its prediction reads
STITCH_REACH, STITCH_SPEED = 0.25, 0.5  # IdStitcher's reach and speed, in box heights


@dataclass
class Paths:
    """Every stored track's path, flat: ``points`` [P, 2] with ``owner`` [P] (a track row each),
    and each track's first and last path time (its first and last live sighting)."""

    points: np.ndarray
    owner: np.ndarray
    first: np.ndarray
    last: np.ndarray

    @classmethod
    def of(cls, points: np.ndarray, ends: np.ndarray) -> Paths:
        """Of the paths' [P, 3] (time, x, y) ``points`` one after another, each ending at ``ends``."""
        lengths = np.diff(np.r_[0, ends])
        return cls(
            points[:, 1:],
            np.repeat(np.arange(len(ends)), lengths),
            points[ends - lengths, 0],
            points[ends - 1, 0],
        )


def near_tracks(paths: Paths, camera: CameraConfig, size: tuple[int, int]) -> np.ndarray:
    """[N] the tracks whose path comes within ``MARGIN`` of the rule's zone or crosses or nears its
    line (path samples lie up to a fraction of a box apart); every track for rules that work
    anywhere."""
    config = camera.rules[0]
    near = np.zeros(len(paths.first), bool)
    zone, line = config.zone_name, config.line_name
    if zone is None and line is None:
        return ~near
    margin = MARGIN * max(size)
    points = paths.points
    target = _polygon(camera, zone) if zone is not None else np.stack(_line(camera, str(line)))
    # only a point within the target's bounds (plus the margin) can be near it
    low, high = target.min(axis=0) - margin, target.max(axis=0) + margin
    close = np.zeros(len(points), bool)
    look = np.flatnonzero(np.all((points >= low) & (points <= high), axis=1))
    if zone is not None:
        inside = points_in_polygon(points[look], target)
        close[look[inside]] = True
        out = look[~inside]  # the border's distance for the points outside alone
        close[out] = _border_distance(points[out], target) <= margin
    else:
        a, b = target
        close[look] = distance_to_segment(points[look], a, b) <= margin
        # a step between two samples can cross the line only where its bounds meet the line's
        step = np.flatnonzero(
            (paths.owner[1:] == paths.owner[:-1])
            & np.all(np.maximum(points[:-1], points[1:]) >= low, axis=1)
            & np.all(np.minimum(points[:-1], points[1:]) <= high, axis=1)
        )
        close[step] |= segments_intersect(points[step], points[step + 1], a, b)
    near[paths.owner[close]] = True
    return near


def sightings_to_feed(
    camera: CameraConfig,
    row: np.ndarray,
    ts: np.ndarray,
    xyxy: np.ndarray,
    frame: np.ndarray,
    judged: np.ndarray | None = None,
    links: CarryLinks | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Of the sightings (track ``row``, time, box, frame index; sorted by row then time): [S] the
    frames to feed the engine (every sighting at a chosen time, so the engine counts the frames of
    a debounce as live), and [S] the ones to feed as tracked (those of the tracks that change sides
    or may pass an identity on; the others only make their frames count). ``judged`` [S] marks
    the sightings of tracks decided without the engine (``replay_solo``): they are not fed for
    themselves. ``links``: the sightings' carry links where they are known already."""
    config = camera.rules[0]
    if not len(row) or not isinstance(
        config, IntrusionRule | LoiteringRule | LineCrossingRule | WrongWayRule
    ):
        return np.ones(len(row), bool), np.ones(len(row), bool)
    links = CarryLinks.of(row, ts, xyxy, frame) if links is None else links
    starts, first, resumed, feet, track = links.starts, links.first, links.resumed, links.feet, links.track
    if isinstance(config, IntrusionRule | LoiteringRule):
        zone = next(z for z in camera.zones if z.name == config.zone)
        # the sides that can matter: the sightings fed for themselves, and the losses whose
        # identity such a newcomer may carry on (a week judged alone needs next to none)
        look = np.ones(len(row), bool) if judged is None else ~judged
        look[links.loss[look[links.birth]]] = True
        side = np.zeros(len(row), np.int8)
        side[look] = points_in_polygon(feet[look], np.asarray(zone.polygon, np.float64))
        # a track starts outside every zone (one born inside enters with its first sightings),
        # and one seen again after frames without it may have lost its identity meanwhile
        fresh = (first | resumed) & (side == 1)
    else:
        line = next(ln for ln in camera.lines if ln.name == config.line)
        a, b = np.asarray(line.a, np.float64), np.asarray(line.b, np.float64)
        side = np.sign(side_of_line(feet, a, b)).astype(np.int8)
        fresh = np.zeros(len(row), bool)
    # The zone's or line's state changes only after the raw side changed; a newcomer that carries
    # on a lost identity from the other side changes the identity's side, though neither track
    # changes its own (a line crossed during the hand-over).
    change = np.r_[False, (side[1:] != side[:-1]) & ~first[1:]]
    loss, birth = links.loss, links.birth
    handed = np.zeros(len(row), bool)
    handed[birth[side[loss] != side[birth]]] = True
    # the tracks that change sides, and those that may pass an identity to or from one, in chains;
    # the others change nothing (nor do the ones judged elsewhere, which share no identity)
    group = pair_groups(len(starts), track[loss], track[birth])
    seeds = change | fresh | handed
    seeds = seeds if judged is None else seeds & ~judged
    tracked = np.isin(group, group[track[seeds]])[track]
    loss, birth = loss[tracked[loss]], birth[tracked[birth]]
    # The stitcher weighs every lost identity by its last sighting, its motion in the second
    # before and its height, which follows every sighting under it: fed in part, a track looks
    # lost earlier and elsewhere, and a newcomer may take (or miss) its identity where it would
    # not live. So the tracks that matter are fed whole, with every frame of their lives (the
    # debounces count frames) and from each loss to each birth that could carry it on.
    lo = np.r_[ts[first & tracked], ts[loss]]
    hi = np.r_[ts[np.roll(first, -1) & tracked], ts[birth]]
    order = np.argsort(ts, kind="stable")
    at = ts[order]
    spans = _ranges(len(ts), np.searchsorted(at, lo - SLACK_S), np.searchsorted(at, hi + SLACK_S, "right"))
    keep = np.zeros(len(ts), bool)
    keep[order] = spans
    return keep, keep & tracked


def time_order(row: np.ndarray, ts: np.ndarray) -> np.ndarray:
    """``np.lexsort((row, ts))`` of sightings sorted by row then time: by time, ties by row. A
    stable sort by time alone keeps the rows' order (one sort instead of two)."""
    if len(row) > 1 and not np.all(row[1:] >= row[:-1]):
        return np.lexsort((row, ts))
    return np.argsort(ts, kind="stable")


def by_key_then_time(key: np.ndarray, ts: np.ndarray) -> np.ndarray:
    """``np.lexsort((ts, key))``: by key, ties by time, then place. Sightings by track then time
    are mostly that already (a track keeps its identity): a stable sort by key alone gives it
    where each key's sightings come in time order, checked."""
    order = np.argsort(key, kind="stable")
    k, t = key[order], ts[order]
    if len(k) > 1 and not np.all((k[1:] != k[:-1]) | (t[1:] >= t[:-1])):
        return np.lexsort((ts, key))
    return order


def pair_groups(count: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """[T] the group of each of ``count`` tracks: tracks joined by a pair (``a[k]``, ``b[k]``),
    directly or through others, share one."""
    pairs = coo_matrix((np.ones(len(a)), (a, b)), shape=(count, count))
    return connected_components(pairs, directed=False)[1]


@dataclass
class CarryLinks:
    """Sightings sorted by track then time, with the (last sighting, birth) pairs between which the
    stitcher could carry an identity on."""

    starts: np.ndarray  # each track's first sighting
    first: np.ndarray
    resumed: np.ndarray  # seen again after frames without it
    feet: np.ndarray
    track: np.ndarray  # [S] the track (0..T-1) of each sighting
    loss: np.ndarray
    birth: np.ndarray

    @classmethod
    def of(cls, row: np.ndarray, ts: np.ndarray, xyxy: np.ndarray, frame: np.ndarray) -> CarryLinks:
        starts = np.flatnonzero(np.r_[True, row[1:] != row[:-1]])
        first = np.zeros(len(row), bool)
        first[starts] = True
        feet = bottom_centres(xyxy).astype(np.float64)
        steps = np.r_[0, np.diff(frame)]
        stride = np.minimum.reduceat(np.where(first, np.iinfo(np.int64).max, steps), starts)
        counts = np.diff(np.r_[starts, len(row)])
        resumed = ~first & (steps > np.repeat(stride, counts))
        # a track whose shortest step is longer than any other's may have a gap in each step (two
        # sightings a gap apart): there a step is a gap where another track was seen in between
        odd = np.flatnonzero(~first & np.repeat(stride > stride.min(initial=np.iinfo(np.int64).max), counts))
        if len(odd):
            times = np.sort(ts)
            resumed[odd] |= np.searchsorted(times, ts[odd]) > np.searchsorted(times, ts[odd - 1], "right")
        losses = np.roll(first, -1) | np.roll(resumed, -1)  # last seen before a gap, or at its end
        track = np.repeat(np.arange(len(starts)), counts)
        loss, birth = _carry_pairs(ts, first, losses, feet, xyxy[:, 3] - xyxy[:, 1], track, starts)
        return cls(starts, first, resumed, feet, track, loss, birth)


def _carry_pairs(
    ts: np.ndarray,
    first: np.ndarray,
    losses: np.ndarray,
    feet: np.ndarray,
    heights: np.ndarray,
    track: np.ndarray,
    starts: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """The (last sighting, birth) pairs whose birth the stitcher could let carry the lost track's
    identity on: born within ``STITCH_GAP_S`` after ``losses`` (before a gap or at a track's end,
    until it is seen again), within reach of where its last second of motion would have taken it.
    The reach is bounded above: the identity's height by 1.3 times the lost track's tallest box
    (the stitcher's size ratio, for a height carried over from an earlier id)."""
    born = np.flatnonzero(first)
    born = born[np.argsort(ts[born], kind="stable")]
    at = np.flatnonzero(losses)
    again = np.where(first[(at + 1) % len(ts)], np.inf, ts[(at + 1) % len(ts)])
    until = np.minimum(ts[at] + STITCH_GAP_S, again) + SLACK_S
    lo = np.searchsorted(ts[born], ts[at], "right")
    counts = np.searchsorted(ts[born], until, "right") - lo
    loss = np.repeat(at, counts)
    birth = born[
        np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts) + np.repeat(lo, counts)
    ]
    # the stitcher's prediction: the last point plus the velocity over its last STITCH_MOTION_S
    shift = (ts.max() - ts.min() + 2 * STITCH_MOTION_S + 10.0) * track - ts.min()
    key = ts + shift
    since = np.maximum(np.searchsorted(key, key[loss] - STITCH_MOTION_S - 1e-9), starts[track[loss]])
    span = ts[loss] - ts[since]
    moving = span >= 0.2
    velocity = np.where(
        moving[:, None], (feet[loss] - feet[since]) / np.where(moving, span, 1.0)[:, None], 0.0
    )
    lost_s = ts[birth] - ts[loss]
    predicted = feet[loss] + velocity * lost_s[:, None]
    tallest = 1.3 * np.maximum(np.maximum.reduceat(heights, starts)[track[loss]], 1.0)
    reach = tallest * (STITCH_REACH + STITCH_SPEED * lost_s) + 1.0
    near = np.linalg.norm(feet[birth] - predicted, axis=1) <= reach
    return loss[near], birth[near]


def _ranges(n: int, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """[n] bool: the union of the index ranges [lo, hi)."""
    marks = np.zeros(n + 1, np.int64)
    np.add.at(marks, lo, 1)
    np.add.at(marks, hi, -1)
    return np.cumsum(marks[:-1]) > 0


def _polygon(camera: CameraConfig, name: str) -> np.ndarray:
    return np.asarray(next(z for z in camera.zones if z.name == name).polygon, np.float64)


def _line(camera: CameraConfig, name: str) -> tuple[np.ndarray, np.ndarray]:
    line = next(ln for ln in camera.lines if ln.name == name)
    return np.asarray(line.a, np.float64), np.asarray(line.b, np.float64)


def _border_distance(points: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    edges = zip(polygon, np.roll(polygon, -1, axis=0), strict=True)
    return np.min([distance_to_segment(points, a, b) for a, b in edges], axis=0)

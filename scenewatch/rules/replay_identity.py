"""The identities the engine's :class:`~scenewatch.rules.stitch.IdStitcher` gives stored tracks,
decided once per birth instead of once per sighting.

The stitcher changes a track's identity only where a new tracker id is born (it may carry a lost
identity on) and where an old id is seen again after a newcomer took its identity (it gets a
fresh one); between those, every sighting keeps its identity. ``identities`` walks those moments
in frame order and decides each as ``IdStitcher.map`` does: the lost identities the newcomer
could continue (not on view, of its class, lost at most ``max_gap_s`` and not ended), their
height (the slowly shrinking maximum of their boxes) and recent motion, the nearest within reach.
The candidates come from ``replay_select``'s carry pairs, which hold every pair the stitcher could
join; an identity ends when the track holding it is given up (``lost_timeout`` after its last
sighting, at the next frame), as the engine hears of it.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left, bisect_right
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from scenewatch.geometry import bottom_centres
from scenewatch.rules.stitch import IdStitcher


@dataclass
class _Identity:
    """One identity: the [track, first sighting, end (exclusive)] pieces that held it, in time
    order, and its height as far as it is known (piece, next sighting, value)."""

    order: tuple[float, int]  # when it was made: the stitcher tries its candidates in this order
    pieces: list[list[int]] = field(default_factory=list)
    height: float = 0.0
    height_piece: int = 0
    height_next: int = -1


def identities(
    starts: np.ndarray,
    tracker_ids: np.ndarray,
    ts: np.ndarray,
    xyxy: np.ndarray,
    classes: np.ndarray,
    last_ts: np.ndarray,
    frames: np.ndarray,
    lost_timeout: float,
    loss_track: np.ndarray,
    birth_track: np.ndarray,
) -> np.ndarray:
    """[S] the identity of each sighting (sorted by track then time; track ``k`` has sightings
    ``starts[k]`` to ``starts[k + 1]``, tracker id ``tracker_ids[k]``, stored ``last_ts[k]``),
    given the run's sorted frame times and the (lost track, newborn track) pairs that may join.
    Tracks in no pair keep their tracker id; fresh identities are negative."""
    ends = np.r_[starts[1:], len(ts)]
    identity = np.repeat(tracker_ids, ends - starts)
    joined = loss_track != birth_track
    if not joined.any():
        return identity
    # Only the tracks in a pair change identity: the walk below reads their sightings alone (a
    # few of a week's), renumbered in the same order, so it decides as over all of them.
    paired = np.unique(np.r_[loss_track[joined], birth_track[joined]])
    lengths = (ends - starts)[paired]
    offsets = np.cumsum(lengths) - lengths
    at = np.arange(lengths.sum()) - np.repeat(offsets - starts[paired], lengths)
    identity[at] = _identities(
        offsets,
        tracker_ids[paired],
        ts[at],
        xyxy[at],
        classes[paired],
        last_ts[paired],
        frames,
        lost_timeout,
        np.searchsorted(paired, loss_track[joined]),
        np.searchsorted(paired, birth_track[joined]),
    )
    return identity


def _identities(
    starts: np.ndarray,
    tracker_ids: np.ndarray,
    ts: np.ndarray,
    xyxy: np.ndarray,
    classes: np.ndarray,
    last_ts: np.ndarray,
    frames: np.ndarray,
    lost_timeout: float,
    loss_track: np.ndarray,
    birth_track: np.ndarray,
) -> np.ndarray:
    """``identities`` walking the births and resumptions of tracks in pairs, all of whose
    sightings are given."""
    n = len(ts)
    ends = np.r_[starts[1:], n]
    identity = np.repeat(tracker_ids, ends - starts)
    partners: dict[int, list[int]] = defaultdict(list)
    for lost, born in zip(loss_track.tolist(), birth_track.tolist(), strict=True):
        if lost != born:
            partners[born].append(lost)
    if not partners:
        return identity
    stitch = IdStitcher()
    box = xyxy.astype(np.float32)  # as the engine's Detections hold them
    feet = bottom_centres(box).astype(np.float64)
    heights = (box[:, 3] - box[:, 1]).astype(np.float64).tolist()
    # Python lists: the loop below looks up single values, where NumPy's per-call cost dominates
    times, ends_of, class_of = ts.tolist(), ends.tolist(), classes.tolist()
    # the frame after which each track is given up: its identity ends there (after that frame)
    after = np.searchsorted(frames, last_ts + lost_timeout, "right")
    given_up = np.where(after < len(frames), frames[np.minimum(after, len(frames) - 1)], np.inf).tolist()
    held: dict[int, int] = {}  # track -> the identity it holds now
    table: dict[int, _Identity] = {}
    first_of, id_of = starts.tolist(), tracker_ids.tolist()
    for k in {*partners, *(p for ps in partners.values() for p in ps)}:
        held[k] = id_of[k]
        table[held[k]] = _Identity((times[first_of[k]], k), [[k, first_of[k], ends_of[k]]])
    fresh = -1
    # the moments in frame order, a frame's rows by track (as the engine feeds them)
    queue = [(times[first_of[k]], k, first_of[k]) for k in partners]
    heapq.heapify(queue)
    while queue:
        now, k, at = heapq.heappop(queue)
        if at != first_of[k]:  # an old id seen again after a newcomer took its identity: a fresh one
            held[k] = fresh
            table[fresh] = _Identity((now, k), [[k, at, ends_of[k]]])
            identity[at : ends_of[k]] = fresh
            fresh -= 1
            continue
        best, best_distance = None, np.inf
        foot, height, cls = feet[at], heights[at], class_of[k]
        for key in sorted({held[a] for a in partners[k]}, key=lambda key: table[key].order):
            known = table[key]
            holder, first, _ = known.pieces[-1]
            last = bisect_left(times, now, first, ends_of[holder]) - 1  # its last sighting
            if last < first or class_of[holder] != cls or given_up[holder] < now:
                continue
            lost = now - times[last]
            if not 0 < lost <= stitch.max_gap_s or _on_view(known, now, times, ends_of):
                continue
            h = _height(known, last, heights)
            if max(h, height) > stitch.max_size_ratio * max(min(h, height), 1.0):
                continue
            predicted = _predicted(known, last, now, times, feet, stitch.motion_s)
            distance = float(np.linalg.norm(foot - predicted))
            if distance <= h * (stitch.reach + stitch.speed * lost) and distance < best_distance:
                best, best_distance = key, distance
        if best is None:
            continue
        del table[held[k]]  # the newborn's own identity was never used
        known = table[best]
        previous, first, to = known.pieces[-1]
        known.pieces.append([k, at, ends_of[k]])
        held[k] = best
        identity[at : ends_of[k]] = best
        # the previous holder, seen again (before it is given up), gets a fresh identity then
        again = bisect_right(times, now, first, to)
        if again < to:
            known.pieces[-2][2] = again
            heapq.heappush(queue, (times[again], previous, again))
    return identity


def _on_view(known: _Identity, now: float, times: list[float], ends: list[int]) -> bool:
    """Whether a track still under the identity at the frame's start is in the frame: one that
    holds or held it, up to and with the sighting that gives it a fresh one."""
    for track, first, to in known.pieces:
        stop = to + 1 if to < ends[track] else to
        at = bisect_left(times, now, first, stop)
        if at < stop and times[at] == now:
            return True
    return False


def _height(known: _Identity, last: int, heights: list[float]) -> float:
    """The identity's height after sighting ``last``: the stitcher's running maximum, shrinking
    3 % a sighting, over every sighting under it so far."""
    h, piece, at = known.height, known.height_piece, known.height_next
    while True:
        _, first, to = known.pieces[piece]
        at = max(at, first)
        final = piece == len(known.pieces) - 1
        stop = last + 1 if final else to
        for value in heights[at:stop]:
            shrunk = 0.97 * h
            h = shrunk if shrunk > value else value  # max(value, shrunk), without the call
        at = max(at, stop)
        if final:
            break
        piece, at = piece + 1, -1
    known.height, known.height_piece, known.height_next = h, piece, at
    return h


def _predicted(
    known: _Identity, last: int, now: float, times: list[float], feet: np.ndarray, motion_s: float
) -> np.ndarray:
    """``IdStitcher.predicted``: from the identity's oldest point in its last ``motion_s`` to its
    last, carried on to ``now``."""
    t1, oldest = times[last], last
    for number, (_, first, to) in enumerate(reversed(known.pieces)):
        at = last if number == 0 else to - 1
        while at >= first and times[at] >= t1 - motion_s:
            oldest, at = at, at - 1
        if at >= first:
            break
    t0 = times[oldest]
    x1, y1 = float(feet[last, 0]), float(feet[last, 1])
    x0, y0 = float(feet[oldest, 0]), float(feet[oldest, 1])
    if t1 - t0 < 0.2:
        return np.array([x1, y1])
    v = np.array([x1 - x0, y1 - y0]) / (t1 - t0)
    return np.array([x1, y1]) + v * (now - t1)

"""Line crossing with direction: one verb, ``trigger(detections, now) -> directions``.

>>> import numpy as np
>>> from scenewatch.types import Detections

>>> line = LineCounter((0, 50), (100, 50), positive_side="left", inertia=1)
>>> below, above = Detections([[40, 10, 60, 60]], [1], [0], [3]), Detections([[40, 0, 60, 45]], [1], [0], [3])
>>> [line.trigger(d, t).tolist() for t, d in enumerate([below, above])]
[[0], [1]]
>>> line.positive_count, line.negative_count
(1, 0)
"""

from __future__ import annotations

import numpy as np

from scenewatch.geometry import bottom_centres, segment_fraction_on_line, segments_intersect, side_of_line
from scenewatch.rules.zones import EarlySightings, FrameLog, TrackTable
from scenewatch.types import Detections

# Two ids crossing the same way this close in time and place (box widths) are one object.
DUPLICATE_S = 0.2
DUPLICATE_WIDTHS = 0.25


class LineCounter:
    """Counts bottom-centre crossings of the segment a -> b, per direction.

    ``positive_side`` is the side (on the screen, looking from a to b) an object ends on after a
    positive crossing. A side change counts after ``inertia`` consecutive frames on the new side,
    and only when the step across passes between a and b (not the line's extension) and is no longer
    than the object's box (longer steps are tracker ids jumping between objects). A crossing
    that another id made the same way within ``DUPLICATE_S`` and a quarter box width counts once (the
    tracker split one object into two ids).
    After ``trigger``, ``crossed_at`` holds per row the time of its first frame on the new side.
    A track seen again on the other side after missed frames crossed during the gap: the crossing
    is dated where its straight path from the last sighting meets the line, and the frames since
    count towards the inertia (as for zones).
    """

    def __init__(
        self,
        a: tuple[float, float],
        b: tuple[float, float],
        positive_side: str = "left",
        inertia: int = 2,
        class_ids: np.ndarray | None = None,
    ):
        self.a = np.asarray(a, dtype=np.float64)
        self.b = np.asarray(b, dtype=np.float64)
        # Left of a -> b on the screen has a negative cross product (y grows downwards).
        self.positive_sign = -1 if positive_side == "left" else 1
        self.inertia = int(inertia)
        self.class_ids = None if class_ids is None else np.asarray(class_ids)
        self.table = TrackTable(
            side=0, streak=0, run_start=0.0, px=0.0, py=0.0, pt=0.0, pw=1.0, qx=0.0, qy=0.0, last=-np.inf
        )
        self.frames = FrameLog()
        self.positive_count = 0
        self.negative_count = 0
        self.crossed_at = np.zeros(0)
        self.recent = RecentCrossings(self.a, self.b)

    def trigger(
        self, detections: Detections, now: float = 0.0, born: EarlySightings | None = None
    ) -> np.ndarray:
        """[N] int8: +1 a positive crossing, -1 a negative one, 0 none (untracked rows: 0); ``born``
        as for zones: a line crossed by a track the tracker held before it reported it counts."""
        result = np.zeros(len(detections), dtype=np.int8)
        previous_frame = self.frames.add(now)
        self.crossed_at = np.full(len(detections), np.nan)
        use = detections.track_ids >= 0
        if self.class_ids is not None:
            use &= np.isin(detections.class_ids, self.class_ids)
        idx = np.flatnonzero(use)
        points = detections.bottom_centre[idx].astype(np.float64)
        widths = np.maximum(detections.xyxy[idx, 2] - detections.xyxy[idx, 0], 1.0).astype(np.float64)
        sides = np.sign(side_of_line(points, self.a, self.b)).astype(np.int64)
        t = self.table
        rows = t.rows(detections.track_ids[idx])
        side, streak = t["side"], t["streak"]
        self._start(rows, side[rows] == 0, points, widths, sides, now, born, detections.track_ids[idx])
        other = (sides != 0) & (sides != side[rows])
        same = (sides != 0) & ~other
        # The last point on the settled side, and the first point of a run on the other side.
        t["px"][rows[same]], t["py"][rows[same]], t["pt"][rows[same]] = points[same, 0], points[same, 1], now
        t["pw"][rows[same]] = widths[same]
        starting = other & (streak[rows] == 0)
        t["qx"][rows[starting]], t["qy"][rows[starting]] = points[starting, 0], points[starting, 1]
        last = t["last"][rows]
        gap = np.isfinite(last) & (last < previous_frame)  # unseen in the frame(s) before this one
        p_now = np.stack([t["px"][rows], t["py"][rows]], axis=1)
        where = segment_fraction_on_line(p_now, points, self.a, self.b)
        where = np.where(np.isfinite(where), where, 0.5)
        seen = np.where(gap, t["pt"][rows], now)
        crossed = seen + where * (now - seen)
        t["run_start"][rows[starting]] = crossed[starting]
        steps = np.where(
            gap, self.frames.frames_after(np.where(starting, crossed, np.where(gap, last, now))), 1
        )
        streak[rows] = np.where(other, streak[rows] + steps, np.where(same, 0, streak[rows]))
        t["last"][rows] = now
        done = other & (streak[rows] >= self.inertia)
        r = rows[done]
        p = np.stack([t["px"][r], t["py"][r]], axis=1)
        q = np.stack([t["qx"][r], t["qy"][r]], axis=1)
        through = segments_intersect(p, q, self.a, self.b)
        # A step across longer than the object itself is a tracker id jumping between objects.
        size = np.max(detections.xyxy[idx[done], 2:] - detections.xyxy[idx[done], :2], axis=1)
        through &= np.linalg.norm(q - p, axis=1) <= size
        through &= self.recent.first(
            detections.track_ids[idx[done]], p, q, t["run_start"][r], widths[done], sides[done]
        )
        direction = np.where(sides[done] == self.positive_sign, 1, -1) * through
        result[idx[done]] = direction
        self.crossed_at[idx[done]] = t["run_start"][r]
        side[r] = sides[done]
        streak[r] = 0
        t["px"][r], t["py"][r], t["pt"][r] = points[done, 0], points[done, 1], now
        t["pw"][r] = widths[done]
        self.positive_count += int(np.count_nonzero(direction > 0))
        self.negative_count += int(np.count_nonzero(direction < 0))
        return result

    def _start(
        self,
        rows: np.ndarray,
        first: np.ndarray,
        points: np.ndarray,
        widths: np.ndarray,
        sides: np.ndarray,
        now: float,
        born: EarlySightings | None,
        ids: np.ndarray,
    ) -> None:
        """A new track starts on whatever side it appears; one whose earlier detections (``born``)
        were on the other side starts there, mid-way through the run that crosses."""
        t = self.table
        t["side"][rows[first]] = sides[first]
        t["px"][rows[first]], t["py"][rows[first]] = points[first, 0], points[first, 1]
        t["pt"][rows[first]], t["pw"][rows[first]] = now, widths[first]
        born = born or {}
        for k in np.flatnonzero(first & (sides != 0)).tolist() if born else []:
            times, boxes = born.get(int(ids[k]), (np.zeros(0), np.zeros((0, 4))))
            before = times < now
            times, feet = times[before], bottom_centres(boxes[before])
            held = np.sign(side_of_line(feet, self.a, self.b)).astype(np.int64)
            away = np.flatnonzero((held != 0) & (held != sides[k]))
            if not len(away):
                continue
            j, row = int(away[-1]), rows[k]
            t["side"][row], t["px"][row], t["py"][row], t["pt"][row] = (
                held[j],
                feet[j, 0],
                feet[j, 1],
                times[j],
            )
            t["last"][row] = times[j]
            back = np.flatnonzero(held[j + 1 :] == sides[k])  # detections since, on the new side
            if len(back):
                n = j + 1 + int(back[0])
                where = segment_fraction_on_line(feet[j : j + 1], feet[n : n + 1], self.a, self.b)[0]
                t["qx"][row], t["qy"][row], t["streak"][row] = feet[n, 0], feet[n, 1], 1
                t["run_start"][row] = times[j] + np.nan_to_num(where, nan=0.5) * (times[n] - times[j])
                t["last"][row] = times[n]

    def forget(self, track_ids: np.ndarray) -> None:
        self.table.drop(np.asarray(track_ids, dtype=np.int64))


class RecentCrossings:
    """The side changes a line saw in the last moments, to count an object once when the tracker
    split it into two ids (``DUPLICATE_S``, ``DUPLICATE_WIDTHS``); fed one frame's changes at a
    time, in the frame's row order (the rule replay feeds the same changes to the same check)."""

    def __init__(self, a: np.ndarray, b: np.ndarray):
        self.a, self.b = a, b
        self.recent: list[tuple[int, float, float, float, int]] = []  # (id, time, x, y, side)

    def first(
        self,
        ids: np.ndarray,
        p: np.ndarray,
        q: np.ndarray,
        when: np.ndarray,
        widths: np.ndarray,
        sides: np.ndarray,
    ) -> np.ndarray:
        """[K] bool: not a second count of a crossing another id made here just now (an id split)."""
        points = self.on_line(p, q).tolist()
        return np.array(
            self.first_of(ids.tolist(), when.tolist(), points, widths.tolist(), sides.tolist()), dtype=bool
        )

    def on_line(self, p: np.ndarray, q: np.ndarray) -> np.ndarray:
        """[K, 2] where each step p -> q meets the line (half way where it runs along it)."""
        where = segment_fraction_on_line(p, q, self.a, self.b)
        return p + np.nan_to_num(where, nan=0.5)[:, None] * (q - p)

    def first_of(
        self,
        ids: list[int],
        when: list[float],
        points: list[list[float]],
        widths: list[float],
        sides: list[int],
    ) -> list[bool]:
        """``first`` on one frame's side changes as plain lists, their crossing points given."""
        now = max(when) if when else 0.0
        self.recent = [c for c in self.recent if c[1] >= now - 2 * DUPLICATE_S]
        first = []
        for tid, t, (x, y), w, side in zip(ids, when, points, widths, sides, strict=True):
            first.append(
                not any(
                    other != tid
                    and s == side
                    and abs(t - ot) <= DUPLICATE_S
                    and np.hypot(x - ox, y - oy) <= DUPLICATE_WIDTHS * w
                    for other, ot, ox, oy, s in self.recent
                )
            )
            self.recent.append((tid, t, x, y, side))
        return first

"""Zone membership with inertia: one verb, ``trigger(detections, now) -> mask``.

>>> import numpy as np
>>> from scenewatch.types import Detections
>>> zone = ZoneMembership(np.array([[0, 0], [100, 0], [100, 100], [0, 100]]), inertia=2)
>>> box = Detections([[40, 20, 60, 50]], [0.9], [0], [7])
>>> [zone.trigger(box, t).tolist() for t in (0.0, 0.1)]
[[False], [True]]
>>> zone.since(7)
0.0
"""

from __future__ import annotations

import numpy as np

from scenewatch.geometry import bottom_centres, points_in_polygon, segment_fraction_into_polygon
from scenewatch.types import Detections

# Track id -> times [K] and boxes [K, 4] (xyxy) of its detections so far (those of a new track
# before the tracker reported it: ``Tracker.sightings``).
EarlySightings = dict[int, tuple[np.ndarray, np.ndarray]]

# Frame times kept to count the frames a track spent unseen (more than any sane inertia).
FRAME_LOG = 512


class FrameLog:
    """Times of the recent frames a stateful tool saw: counts the frames between two times."""

    def __init__(self) -> None:
        self.times = np.zeros(0)

    def add(self, now: float) -> float:
        """Log a frame; returns the time of the frame before it (-inf for the first)."""
        previous = float(self.times[-1]) if len(self.times) else -np.inf
        self.times = np.append(self.times[-(FRAME_LOG - 1) :], now)
        return previous

    def frames_after(self, times: np.ndarray) -> np.ndarray:
        """[N] how many logged frames (the current one included) came strictly after each time."""
        return len(self.times) - np.searchsorted(self.times, times, side="right")


class TrackTable:
    """Per-track numeric state in parallel arrays, rows found by id (no per-box Python loops)."""

    def __init__(self, **columns: float | bool) -> None:
        self.ids = np.zeros(0, dtype=np.int64)
        self.defaults = columns
        self.cols = {name: np.zeros(0, dtype=type(v)) for name, v in columns.items()}

    def rows(self, ids: np.ndarray) -> np.ndarray:
        """Row of each id, adding rows (with default values) for ids not seen before."""
        new = np.setdiff1d(ids, self.ids)
        if len(new):
            self.ids = np.concatenate([self.ids, new])
            for name, value in self.defaults.items():
                self.cols[name] = np.concatenate([self.cols[name], np.full(len(new), value)])
            order = np.argsort(self.ids, kind="stable")
            self.ids = self.ids[order]
            self.cols = {name: col[order] for name, col in self.cols.items()}
        return np.searchsorted(self.ids, ids)

    def find(self, ids: np.ndarray) -> np.ndarray:
        """Rows of the ids that are known; -1 where unknown."""
        ids = np.asarray(ids, dtype=np.int64)
        pos = np.searchsorted(self.ids, ids).clip(0, max(len(self.ids) - 1, 0))
        known = (len(self.ids) > 0) & (self.ids[pos] == ids) if len(self.ids) else np.zeros(len(ids), bool)
        return np.where(known, pos, -1)

    def drop(self, ids: np.ndarray) -> None:
        keep = ~np.isin(self.ids, ids)
        self.ids = self.ids[keep]
        self.cols = {name: col[keep] for name, col in self.cols.items()}

    def __getitem__(self, name: str) -> np.ndarray:
        return self.cols[name]


class ZoneMembership:
    """Which tracked objects are in a polygon, debounced by ``inertia`` consecutive frames.

    After each ``trigger``: ``entered`` / ``exited`` hold the track ids that changed state, and
    ``entered_at`` / ``exited_at`` the time of the first frame of the run that changed it (so an
    entry is dated when the object crossed the border, not ``inertia`` frames later). Tracks absent
    from a frame (occluded) keep their state; ``forget`` ends tracks that the tracker finished.

    A track seen again after missed frames (an occlusion the tracker predicted it through) on the
    other side of the border crossed it during the gap: the crossing is dated where the straight
    path from its last sighting meets the border, and the frames since then count towards the
    inertia (the object was on the new side in them), so the change is not held back by the gap.
    """

    def __init__(self, polygon: np.ndarray, inertia: int = 3, class_ids: np.ndarray | None = None):
        self.polygon = np.asarray(polygon, dtype=np.float64).reshape(-1, 2)
        self.inertia = int(inertia)
        self.class_ids = None if class_ids is None else np.asarray(class_ids)
        self.table = TrackTable(
            inside=False,
            streak=0,
            run_start=0.0,
            since=0.0,
            last_seen=-np.inf,
            cls=0,
            px=0.0,
            py=0.0,
            born=False,  # its stay dated from detections made before the rules first saw it
        )
        self.frames = FrameLog()
        self.entered = self.exited = np.zeros(0, dtype=np.int64)
        self.entered_at = self.exited_at = np.zeros(0)

    def raw(self, detections: Detections) -> np.ndarray:
        """Undebounced membership of each row: bottom-centre inside and class allowed."""
        inside = points_in_polygon(detections.bottom_centre, self.polygon)
        if self.class_ids is not None:
            inside &= np.isin(detections.class_ids, self.class_ids)
        return inside

    def trigger(
        self, detections: Detections, now: float = 0.0, born: EarlySightings | None = None
    ) -> np.ndarray:
        """[N] bool: which rows are in the zone (debounced for tracked rows, raw for untracked).

        ``born``: the detections so far of tracks new here (held by the tracker until it had
        evidence): one inside now that was inside since an earlier detection entered then, and
        the frames since count towards the inertia, as after a gap."""
        raw = self.raw(detections)
        previous_frame = self.frames.add(now)
        tracked = detections.track_ids >= 0
        ids = detections.track_ids[tracked]
        points = detections.bottom_centre[tracked].astype(np.float64)
        fresh = self.table.find(ids) < 0
        rows = self.table.rows(ids)
        t = self.table
        born_inside = self._held(rows, ids, fresh, born, raw[tracked], now)
        inside, streak, run_start = t["inside"], t["streak"], t["run_start"]
        last = t["last_seen"][rows]
        gap = np.isfinite(last) & (last < previous_frame)  # unseen in the frame(s) before this one
        flip = raw[tracked] != inside[rows]
        starting = flip & (streak[rows] == 0)
        # After a gap: the border was crossed on the way from the last sighting; count the frames since.
        where = segment_fraction_into_polygon(
            np.stack([t["px"][rows], t["py"][rows]], axis=1), points, self.polygon
        )
        where[born_inside] = 0.0  # inside since it was first detected
        seen = np.where(gap | born_inside, last, now)
        crossed = seen + where * (now - seen)
        steps = np.where(gap, self.frames.frames_after(np.where(starting, crossed, seen)), 1)
        steps += born_inside  # the frame of the first detection inside counts too
        streak[rows] = np.where(flip, streak[rows] + steps, 0)
        run_start[rows] = np.where(starting, crossed, run_start[rows])
        change = flip & (streak[rows] >= self.inertia)
        changed = rows[change]
        inside[changed] = ~inside[changed]
        streak[changed] = 0
        entering = change & raw[tracked]
        leaving = change & ~raw[tracked]
        t["since"][rows[entering]] = run_start[rows[entering]]
        t["last_seen"][rows] = now
        t["px"][rows], t["py"][rows] = points[:, 0], points[:, 1]
        t["cls"][rows] = detections.class_ids[tracked]
        self.entered, self.entered_at = ids[entering], run_start[rows[entering]].copy()
        self.exited, self.exited_at = ids[leaving], run_start[rows[leaving]].copy()
        mask = raw.copy()
        mask[tracked] = inside[rows]
        return mask

    def _held(
        self,
        rows: np.ndarray,
        ids: np.ndarray,
        fresh: np.ndarray,
        born: EarlySightings | None,
        raw: np.ndarray,
        now: float,
    ) -> np.ndarray:
        """For new rows inside now whose earlier detections were inside too: the last sighting is
        the first detection of that stay. Returns those rows."""
        entered = np.zeros(len(rows), dtype=bool)
        born = born or {}
        for k in np.flatnonzero(fresh & raw).tolist() if born else []:
            times, boxes = born.get(int(ids[k]), (np.zeros(0), np.zeros((0, 4))))
            before = times < now
            inside = points_in_polygon(bottom_centres(boxes[before]), self.polygon)
            outside = np.flatnonzero(~inside)
            first = int(outside[-1]) + 1 if len(outside) else 0
            if first >= len(inside):
                continue  # outside until this frame: the entry is now
            row = rows[k]
            self.table["last_seen"][row] = times[before][first]
            self.table["px"][row], self.table["py"][row] = bottom_centres(boxes[before][first : first + 1])[0]
            self.table["born"][row] = entered[k] = True
        return entered

    def forget(self, track_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """End tracks; returns the ids that were inside and the time each was last seen."""
        rows = self.table.find(np.asarray(track_ids, dtype=np.int64))
        rows = rows[rows >= 0]
        was_inside = rows[self.table["inside"][rows]]
        ids, last = self.table.ids[was_inside].copy(), self.table["last_seen"][was_inside].copy()
        self.table.drop(np.asarray(track_ids, dtype=np.int64))
        return ids, last

    def inside_ids(self, seen_after: float = -np.inf, class_ids: np.ndarray | None = None) -> np.ndarray:
        """Ids currently in the zone: optionally only those seen since ``seen_after``, of ``class_ids``."""
        t = self.table
        keep = t["inside"] & (t["last_seen"] >= seen_after)
        if class_ids is not None:
            keep &= np.isin(t["cls"], class_ids)
        return t.ids[keep]

    def together_since(self, track_ids: np.ndarray, count: int) -> float:
        """Since when at least ``count`` of these tracks (inside) have been in the zone, by their
        entries; inf unless one of them was dated from its first detection (the others' entries
        are what the rules saw frame by frame already)."""
        rows = self.table.find(np.asarray(track_ids, dtype=np.int64))
        rows = rows[rows >= 0]
        rows = rows[self.table["inside"][rows]]
        if len(rows) < count or not self.table["born"][rows].any():
            return np.inf
        return float(np.sort(self.table["since"][rows])[count - 1])

    def since(self, track_id: int) -> float | None:
        """When the track's current stay in the zone began; None when it is not inside."""
        row = self.table.find(np.array([track_id]))[0]
        if row < 0 or not self.table["inside"][row]:
            return None
        return float(self.table["since"][row])

"""Id switches: a new track id that takes over a lost track keeps the lost track's identity.

A tracker that loses an object behind an occlusion for long enough (its motion prediction drifts)
starts a new id when the object reappears, while the old id still waits, lost, for its timeout.
To the rules that looks like one object vanishing and another appearing: a false entry, a missed
crossing, a loitering clock reset. ``IdStitcher`` maps such a new id onto the lost one's identity
when the new track is born where the lost one could have walked to in the meantime.

>>> import numpy as np
>>> from scenewatch.types import Detections
>>> stitcher = IdStitcher()
>>> stitcher.map(Detections([[100, 100, 140, 200]], [0.9], [0], [3]), 0.0).tolist()
[3]
>>> stitcher.map(Detections([[0, 0, 10, 20]], [0.9], [0], [4]), 0.5).tolist()  # 3 is lost
[4]
>>> stitcher.map(Detections([[120, 100, 160, 200]], [0.9], [0], [9]), 1.0).tolist()  # 3 reborn as 9
[3]
"""

from __future__ import annotations

import numpy as np

from scenewatch.types import Detections

# Identities handed out beyond any tracker id.
FRESH = 1 << 40


class IdStitcher:
    """Tracker ids -> identities for the rules: ``map(tracked, now) -> ids``; ``end(ids) -> {id: identity}``.

    A track id seen for the first time continues a lost identity (one not in this frame and not
    finished, lost at most ``max_gap_s``) of the same class when its bottom-centre lies within
    ``reach + speed * lost`` box heights of where the lost one's recent motion would have taken it,
    its box height is within a factor ``max_size_ratio`` of the lost one's, and that identity is
    the nearest such; each lost identity is taken by one new id at most. The height of an identity
    shrinks slowly (3 % a sighting at most), so a box cut short by the occluder still compares.
    """

    def __init__(
        self,
        max_gap_s: float = 3.0,
        reach: float = 0.25,
        speed: float = 0.5,
        max_size_ratio: float = 1.3,
        motion_s: float = 1.0,
    ):
        self.max_gap_s = max_gap_s
        self.reach = reach
        self.speed = speed
        self.max_size_ratio = max_size_ratio
        self.motion_s = motion_s
        self.alias: dict[int, int] = {}  # tracker id -> identity
        self.holder: dict[int, int] = {}  # identity -> tracker id now carrying it
        self.height: dict[int, float] = {}
        self.cls: dict[int, int] = {}
        self.path: dict[int, list[tuple[float, float, float]]] = {}  # identity -> recent (t, x, y)
        self._fresh = FRESH  # identities for a retired tracker id that comes back

    def map(self, tracked: Detections, now: float) -> np.ndarray:
        """[N] identity of each row (-1 stays -1 for untracked rows)."""
        ids = tracked.track_ids.tolist()
        out = np.asarray(tracked.track_ids, dtype=np.int64).copy()
        feet = tracked.bottom_centre.astype(np.float64)
        heights = (tracked.xyxy[:, 3] - tracked.xyxy[:, 1]).astype(np.float64)
        present = {self.alias[t] for t in ids if t in self.alias}
        for row, tid in enumerate(ids):
            if tid < 0:
                continue
            cls = int(tracked.class_ids[row])
            if tid not in self.alias:
                identity = self._continued(tid, feet[row], float(heights[row]), cls, now, present)
                self.alias[tid] = identity
                self.holder[identity] = tid  # the new id carries the identity on
                present.add(identity)
            identity = self.alias[tid]
            if self.holder.get(identity, tid) != tid:
                # The tracker found the old id again after its identity went to a new id: a new one.
                identity = self.alias[tid] = self._fresh
                self._fresh += 1
            self.holder[identity] = tid
            self.height[identity] = max(float(heights[row]), 0.97 * self.height.get(identity, 0.0))
            self.cls[identity] = cls
            path = self.path.setdefault(identity, [])
            path.append((now, float(feet[row, 0]), float(feet[row, 1])))
            while path[0][0] < now - self.motion_s:
                path.pop(0)
            out[row] = identity
        return out

    def end(self, track_ids: list[int]) -> dict[int, int]:
        """Finished tracker id -> its identity, for the identities that end (not those carried on)."""
        ended = {}
        for tid in track_ids:
            identity = self.alias.pop(tid, tid)
            if self.holder.get(identity, tid) != tid:
                continue  # a later id carries the identity on
            for table in (self.holder, self.height, self.cls, self.path):
                table.pop(identity, None)
            ended[tid] = identity
        return ended

    def predicted(self, identity: int, now: float) -> np.ndarray:
        """Where the identity's bottom-centre would be now at its recent velocity."""
        path = self.path[identity]
        t1, x1, y1 = path[-1]
        t0, x0, y0 = path[0]
        if t1 - t0 < 0.2:
            return np.array([x1, y1])
        v = np.array([x1 - x0, y1 - y0]) / (t1 - t0)
        return np.array([x1, y1]) + v * (now - t1)

    def _continued(
        self, tid: int, foot: np.ndarray, height: float, cls: int, now: float, present: set[int]
    ) -> int:
        best, best_distance = tid, np.inf
        for identity, path in self.path.items():
            lost = now - path[-1][0]
            if identity in present or self.cls[identity] != cls or not 0 < lost <= self.max_gap_s:
                continue
            h = self.height[identity]
            if max(h, height) > self.max_size_ratio * max(min(h, height), 1.0):
                continue
            distance = float(np.linalg.norm(foot - self.predicted(identity, now)))
            if distance <= h * (self.reach + self.speed * lost) and distance < best_distance:
                best, best_distance = identity, distance
        return best

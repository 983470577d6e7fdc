"""Recent boxes of each track, for rules that look at motion over a time window, and where each
track was last seen (for events that name tracks not on the frame that raised them)."""

from __future__ import annotations

import numpy as np

from scenewatch.types import Detections


class TrackHistory:
    """Per track: times [K] and boxes [K, 4] of the last ``keep_s`` seconds.

    Arrays grow by doubling, so adding a frame costs one write per track.
    """

    def __init__(self, keep_s: float = 10.0):
        self.keep_s = keep_s
        self._times: dict[int, np.ndarray] = {}
        self._boxes: dict[int, np.ndarray] = {}
        self._start: dict[int, int] = {}
        self._len: dict[int, int] = {}
        self._last: dict[int, tuple[int, np.ndarray]] = {}  # track -> (frame index, box) last seen

    def add(self, detections: Detections, now: float, frame: int = -1) -> None:
        """One frame's tracked boxes at time ``now`` (``frame``: its decoded frame index)."""
        for tid, box in zip(detections.track_ids.tolist(), detections.xyxy, strict=True):
            if tid < 0:
                continue
            self._last[tid] = (frame, box.copy())  # the caller's array may be reused
            n = self._len.get(tid, 0)
            times = self._times.get(tid)
            if times is None or n == len(times):
                start = self._start.get(tid, 0)
                old_t = times[start:n] if times is not None else np.zeros(0)
                old_b = self._boxes[tid][start:n] if times is not None else np.zeros((0, 4))
                # Drop what is older than keep_s while we copy anyway.
                keep = old_t >= now - self.keep_s
                old_t, old_b = old_t[keep], old_b[keep]
                size = max(16, 2 * len(old_t))
                self._times[tid] = np.concatenate([old_t, np.zeros(size - len(old_t))])
                self._boxes[tid] = np.concatenate([old_b, np.zeros((size - len(old_b), 4))])
                self._start[tid], n = 0, len(old_t)
            self._times[tid][n] = now
            self._boxes[tid][n] = box
            self._len[tid] = n + 1

    def window(self, track_id: int, seconds: float, now: float) -> tuple[np.ndarray, np.ndarray]:
        """Times and boxes of the track from ``now - seconds`` on (views, do not modify)."""
        n = self._len.get(track_id, 0)
        if n == 0:
            return np.zeros(0), np.zeros((0, 4))
        times = self._times[track_id][self._start[track_id] : n]
        first = int(np.searchsorted(times, now - seconds - 1e-9))
        base = self._start[track_id] + first
        return self._times[track_id][base:n], self._boxes[track_id][base:n]

    def last_seen(self, track_id: int) -> tuple[int, np.ndarray] | None:
        """(frame index, box) of the track's latest sighting; None for a track never seen."""
        return self._last.get(track_id)

    def forget(self, track_ids: list[int]) -> None:
        for tid in track_ids:
            for table in (self._times, self._boxes, self._start, self._len, self._last):
                table.pop(tid, None)

"""Where the people of a stretch of video are, for masking it: each person track's box is carried
across the detector's short misses and a little past the track's ends, and a moment where a track
is in view but its place is not known is answered "unknown" (the caller masks the whole frame).
"""

from __future__ import annotations

import hashlib

import numpy as np

HOLD_S = 1.0  # a track's box bridges gaps between its boxes up to this long (missed detections)
EXTEND_S = 0.4  # and is held this long before its first box and after its last ...
SPREAD = 1.0  # ... growing each side by this many box heights a second (a walker moves ~0.8)


class Sightings:
    """Where the people of a stretch of video are, by time in seconds (any one clock).

    ``spans`` (T x 2) are the first and last times of each person track that may be in view;
    ``owner``, ``times`` and ``boxes`` its boxes (N; N x 4 camera pixels), grouped by track and
    sorted by time within one. :meth:`at` answers for every track at once (one ``searchsorted``).
    ``blind``: the people of the stretch are not known at all (boxes purged, never stored).

    >>> s = Sightings(np.array([[0.0, 2.0]]), np.array([0, 0]), np.array([0.0, 2.0]),
    ...               np.array([[10, 10, 20, 30], [30, 10, 40, 30]], np.float32))
    >>> s.at(1.5) is None  # a 2 s gap inside the track: where the person is, is not known
    True
    >>> s.at(2.3).tolist(), s.at(3.0).tolist()  # held (and grown) after the last box, then gone
    ([[24.0, 4.0, 46.0, 36.0]], [])
    """

    def __init__(
        self,
        spans: np.ndarray,
        owner: np.ndarray,
        times: np.ndarray,
        boxes: np.ndarray,
        blind: bool = False,
    ):
        self.spans = np.asarray(spans, np.float64).reshape(-1, 2)
        self.times = np.asarray(times, np.float64).reshape(-1)
        self.boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        self.blind = blind
        owner = np.asarray(owner, np.int64).reshape(-1)
        tracks = np.arange(len(self.spans))
        self._starts = np.searchsorted(owner, tracks, side="left")
        self._ends = np.searchsorted(owner, tracks, side="right")
        # one sorted key over all tracks: track k's times live in [k * stride, k * stride + width]
        self._t0 = float(self.times.min()) if len(self.times) else 0.0
        self._width = float(self.times.max()) - self._t0 if len(self.times) else 0.0
        self._stride = self._width + 3.0
        self._keys = owner * self._stride + (self.times - self._t0)

    @classmethod
    def unknown(cls) -> Sightings:
        """Nobody's place is known: every frame is masked whole."""
        return cls(np.zeros((0, 2)), np.zeros(0), np.zeros(0), np.zeros((0, 4)), blind=True)

    def fingerprint(self) -> str:
        """Changes whenever what :meth:`at` answers may change (for caching rendered clips)."""
        digest = hashlib.sha256(repr((self.blind, HOLD_S, EXTEND_S, SPREAD)).encode())
        for array in (self.spans, self.times, self.boxes):
            digest.update(np.ascontiguousarray(array).tobytes())
        return digest.hexdigest()[:16]

    def at(self, t: float) -> np.ndarray | None:
        """Person boxes at time ``t`` (M x 4), or None when a track is in view at ``t`` but its
        place is not known (mask the whole frame)."""
        if self.blind:
            return None
        inside = (self.spans[:, 0] <= t) & (t <= self.spans[:, 1])
        if not len(self.times):
            return None if inside.any() else np.zeros((0, 4), np.float32)
        local = min(max(t - self._t0, -1.0), self._width + 1.0)
        right = np.searchsorted(self._keys, np.arange(len(self.spans)) * self._stride + local, "right")
        has_prev, has_next = right > self._starts, right < self._ends
        last = len(self.times) - 1
        prev, nxt = np.clip(right - 1, 0, last), np.clip(right, 0, last)
        t_prev = np.where(has_prev, self.times[prev], -np.inf)
        t_next = np.where(has_next, self.times[nxt], np.inf)
        bridged = t_next - t_prev <= HOLD_S  # both exist and the gap is short
        use_prev = has_prev & (bridged | (t - t_prev <= EXTEND_S))
        use_next = has_next & (bridged | (t_next - t <= EXTEND_S))
        shown = use_prev | use_next
        if (inside & ~shown).any():
            return None
        # a held box grows with the time held (the person walks on); a bridged gap takes both
        # boxes around t, the person being somewhere between them
        before = _grown(self.boxes[prev], np.where(use_prev & ~bridged, t - t_prev, 0.0))
        after = _grown(self.boxes[nxt], np.where(use_next & ~bridged, t_next - t, 0.0))
        a = np.where(use_prev[:, None], before, after)
        b = np.where(use_next[:, None], after, before)
        union = np.concatenate([np.minimum(a[:, :2], b[:, :2]), np.maximum(a[:, 2:], b[:, 2:])], axis=1)
        return union[shown].astype(np.float32)


def _grown(boxes: np.ndarray, held_s: np.ndarray) -> np.ndarray:
    """``boxes`` (N x 4) grown on each side by ``SPREAD`` box heights per second held."""
    by = (SPREAD * held_s * (boxes[:, 3] - boxes[:, 1]))[:, None]
    return boxes + np.concatenate([-by, -by, by, by], axis=1)

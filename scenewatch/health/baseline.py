"""Per-camera learned baselines: robust statistics of recent fault-free measurements.

One ring of samples per time-of-day bucket plus one for all hours, so day and night each learn what
is normal. Medians make the baseline indifferent to the odd passing truck or flash.
"""

from __future__ import annotations

import time

import numpy as np


class _Ring:
    """A fixed-size ring of measurement rows with a cached median."""

    def __init__(self, size: int, dim: int) -> None:
        self.rows = np.zeros((size, dim), dtype=np.float32)
        self.count = 0
        self._median: np.ndarray | None = None

    def add(self, row: np.ndarray) -> None:
        self.rows[self.count % len(self.rows)] = row
        self.count += 1
        self._median = None

    def median(self) -> np.ndarray:
        if self._median is None:
            # nanmedian: 'diff' is NaN on the first frame after a (re)start.
            self._median = np.nanmedian(self.rows[: min(self.count, len(self.rows))], axis=0)
        return self._median


def time_bucket(timestamp: float, buckets: int) -> int:
    """Local time-of-day bucket of a wall-clock timestamp (0 .. buckets-1)."""
    t = time.localtime(timestamp)
    seconds = t.tm_hour * 3600 + t.tm_min * 60 + t.tm_sec
    return seconds * buckets // 86400


class Baseline:
    """Learned normal measurements of one camera.

    >>> import numpy as np
    >>> b = Baseline(dim=2, size=10, min_samples=3, buckets=1)
    >>> for v in (1.0, 2.0, 30.0):
    ...     b.add(0.0, np.array([v, v]))
    >>> row, own_bucket = b.reference(0.0)
    >>> row.tolist(), own_bucket
    ([2.0, 2.0], True)
    """

    def __init__(self, dim: int, size: int, min_samples: int, buckets: int) -> None:
        self.dim, self.size, self.min_samples, self.buckets = dim, size, min_samples, buckets
        self.reset()

    def reset(self) -> None:
        """Forget everything (after a resolution change, the old figures no longer apply)."""
        self._all = _Ring(self.size, self.dim)
        self._by_bucket: dict[int, _Ring] = {}

    @property
    def count(self) -> int:
        return self._all.count

    def add(self, timestamp: float, row: np.ndarray) -> None:
        bucket = time_bucket(timestamp, self.buckets)
        ring = self._by_bucket.get(bucket)
        if ring is None:
            ring = self._by_bucket[bucket] = _Ring(self.size, self.dim)
        ring.add(row)
        self._all.add(row)

    def reference(self, timestamp: float) -> tuple[np.ndarray | None, bool]:
        """Median row for this time of day, else for all hours (None until enough samples).

        The flag says whether it is this time of day's own baseline: exposure and colour differ
        between day and night, so those checks wait for their own bucket.
        """
        ring = self._by_bucket.get(time_bucket(timestamp, self.buckets))
        if ring is not None and ring.count >= self.min_samples:
            return ring.median(), True
        if self._all.count >= self.min_samples:
            return self._all.median(), False
        return None, False

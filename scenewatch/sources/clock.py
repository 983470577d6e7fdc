"""Wall-clock times for live frames, and the wait before reconnecting."""

from __future__ import annotations

import random
from collections.abc import Callable


class LiveClock:
    """Stamps live frames with wall-clock times that follow arrival but keep the stream's spacing.

    Arrival times alone are jittery: decoders and networks hand frames over in bursts, which would
    make speeds computed downstream jump. So a frame is stamped ``pts + offset``, where ``offset``
    is the smallest ``arrival - pts`` seen (the least-delayed frame). The offset is re-taken when a
    frame would be stamped after its arrival (pts jumped forward, or the sender's clock runs fast)
    or more than ``max_lag`` seconds before it (pts jumped back, or the sender's clock runs slow).
    Frames without pts get their arrival time. Stamps never go backwards.

    >>> clock = LiveClock()
    >>> clock.stamp(0.0, 100.30), clock.stamp(0.1, 100.45), clock.stamp(0.2, 100.55)
    (100.3, 100.4, 100.5)
    """

    def __init__(self, max_lag: float = 1.0):
        self.max_lag = max_lag
        self._offset: float | None = None
        self._last = float("-inf")

    def reset(self) -> None:
        """Forget the pts base (after a reconnect pts start again); stamps stay increasing."""
        self._offset = None

    def stamp(self, pts: float | None, arrival: float) -> float:
        if pts is None:
            stamp = arrival
        else:
            offset = arrival - pts
            if self._offset is None or offset < self._offset or offset - self._offset > self.max_lag:
                self._offset = offset
            stamp = pts + self._offset
        stamp = max(stamp, self._last + 1e-6)
        self._last = stamp
        return round(stamp, 6)


class Backoff:
    """Exponential wait with jitter: ``initial``, doubling up to ``maximum``, each scaled by a random
    factor in [1 - jitter, 1] so many cameras behind one dropped link do not retry in step.

    >>> b = Backoff(1.0, 5.0, jitter=0.0)
    >>> [b.next() for _ in range(5)]
    [1.0, 2.0, 4.0, 5.0, 5.0]
    """

    def __init__(
        self,
        initial: float,
        maximum: float,
        jitter: float = 0.2,
        rand: Callable[[], float] = random.random,
    ):
        self.initial, self.maximum, self.jitter, self._rand = initial, maximum, jitter, rand
        self.attempts = 0

    def next(self) -> float:
        """The wait before the next try, in seconds."""
        base = min(self.maximum, self.initial * 2.0 ** min(self.attempts, 60))
        self.attempts += 1
        return base * (1.0 - self.jitter * self._rand())

    def reset(self) -> None:
        self.attempts = 0

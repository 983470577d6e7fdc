"""Wall-clock times for live frames."""

from __future__ import annotations


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
